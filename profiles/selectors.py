"""Reads of profiles, always scoped to one account."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import Account

from .models import Profile


def profile_list(*, account: Account) -> QuerySet[Profile]:
    return (
        Profile.objects.filter(account=account)
        .select_related("display_language")
        .prefetch_related("preferred_languages")
        .order_by("slot")
    )


def profile_get(*, account: Account, profile_id: int, for_display: bool = True) -> Profile:
    """The account's profile, or 404 — another household's id is indistinguishable from none.

    ``for_display=False`` skips the language joins that only the profile's own
    representation needs, for hot paths that act on a profile (signals, homepage).
    """
    queryset = (
        profile_list(account=account)
        if for_display
        else Profile.objects.filter(account=account).select_related("account")
    )
    return get_object_or_404(queryset, pk=profile_id)
