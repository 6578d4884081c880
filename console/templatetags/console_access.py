"""The console's navigation links only the sections the signed-in user may open."""

from django import template

from console.access import console_sections as sections_of

register = template.Library()


@register.simple_tag(takes_context=True)
def console_sections(context: template.Context) -> dict[str, bool]:
    """``{% console_sections as can %}``, then ``{% if can.models %}``: see console.access."""
    request = context.get("request")
    if request is None:
        return dict.fromkeys(("households", "models", "artwork"), False)
    return sections_of(request.user)
