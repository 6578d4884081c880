"""Reads of the catalogue shared by the API and the staff pages."""

from collections.abc import Iterable

from .models import Title, TitleLocalization


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
