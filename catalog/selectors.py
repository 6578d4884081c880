"""Reads of the catalogue shared by the API and the staff pages."""

import datetime as dt
from collections.abc import Iterable

from django.db.models import Prefetch, Q

from .models import CatalogueRevision, Credit, Episode, Season, Title, TitleLocalization


def title_names(*, title_ids: Iterable[int], language: str | None) -> dict[int, str]:
    """Each title's name in ``language``, falling back to its original name. Two queries."""
    ids = list(set(title_ids))
    names = dict(Title.objects.filter(pk__in=ids).values_list("pk", "original_name"))
    if language:
        names.update(
            TitleLocalization.objects.filter(title_id__in=ids, language_id=language).values_list(
                "title_id", "name"
            )
        )
    return names


def title_detail_get(
    *, title_id: int, region_code: str, maturity_limit: int, at: dt.datetime
) -> Title | None:
    """The title as its detail page draws it, if available in the region at ``at`` and
    within ``maturity_limit``; None otherwise. Five queries, whatever its size.

    Its genres, seasons with their episodes (each with its season at hand) and
    credits with their people come along, each list in an order no two rows tie
    on: credits by role and billing order, then as added, since billing orders tie
    (admin offers 0 for every credit) and PostgreSQL returns tied rows in whatever
    order it read them, which an edit of one row changes: the cast list reshuffled.
    Ordered here rather than by the models' ``Meta.ordering``, which sorts by the
    title's (and the season's) own ordering through a join of the title table.
    """
    available = (
        Q(availabilities__region_id=region_code)
        & (Q(availabilities__starts_at__isnull=True) | Q(availabilities__starts_at__lte=at))
        & (Q(availabilities__ends_at__isnull=True) | Q(availabilities__ends_at__gt=at))
    )
    return (
        Title.objects.filter(available, pk=title_id, maturity__lte=maturity_limit)
        .distinct()
        .select_related("original_language")
        .prefetch_related(
            "genres",
            Prefetch("seasons", queryset=Season.objects.order_by("number")),
            Prefetch("seasons__episodes", queryset=Episode.objects.order_by("number")),
            Prefetch(
                "credits",
                queryset=Credit.objects.select_related("person").order_by("role", "order", "pk"),
            ),
        )
        .first()
    )


def episode_numbers(*, episode_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Each episode's (season number, episode number), the way people name an episode. One query.

    An id with no episode (deleted since it was logged) is left out, for the caller to say so.
    """
    rows = Episode.objects.filter(pk__in=set(episode_ids)).values_list(
        "pk", "season__number", "number"
    )
    return {pk: (season, number) for pk, season, number in rows}


def catalogue_revision() -> int:
    """The catalogue's change counter (0 before the first change): one primary-key read."""
    return CatalogueRevision.objects.filter(pk=1).values_list("revision", flat=True).first() or 0
