"""Stored values as the console's menus name them."""

from django import template

from artwork.models import DeviceClass

register = template.Library()


@register.filter
def device_name(value: str) -> str:
    """``tv`` as "TV", as the device menu reads: pages printed the stored value beside it."""
    return DeviceClass(value).label if value in DeviceClass.values else value
