"""Reads of the catalogue shared by the API and the staff pages."""

from collections.abc import Iterable

from .models import CatalogueRevision, Episode, Title, TitleLocalization


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
