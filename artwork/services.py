"""State changes for artwork variants."""

from django.db.models import QuerySet

from .models import ArtworkVariant


def artwork_variants_set_active(*, variants: QuerySet[ArtworkVariant], active: bool) -> int:
    """Switch variants on or off; returns how many changed.

    A deactivated variant leaves the choices at the next page build; its logged
    impressions stay, so it can be reactivated without losing history.
    """
    return variants.exclude(is_active=active).update(is_active=active)
