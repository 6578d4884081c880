"""Reads of the regions Tonight serves."""

from .models import Region


def region_codes() -> list[str]:
    """Every region's code, alphabetically: the order ``train_models --all`` trains them in."""
    return list(Region.objects.order_by("code").values_list("code", flat=True))


def region_exists(*, code: str) -> bool:
    return Region.objects.filter(code=code).exists()
