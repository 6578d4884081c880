"""Reads of the catalogue shared by the API and the staff pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Prefetch, Q

from .models import CatalogueRevision, Credit, Episode, Season, Title, TitleLocalization

if TYPE_CHECKING:
    from artwork.models import ArtworkVariant
    from profiles.models import Profile
    from recommendations.selectors.title_viewing import TitleViewing


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


def title_available_get(
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


@dataclass(frozen=True, slots=True)
class EpisodeDetail:
    id: int
    number: int
    name: str
    runtime_minutes: int
    finished: bool  # by the profile the page is drawn for


@dataclass(frozen=True, slots=True)
class SeasonDetail:
    id: int
    number: int
    name: str
    release_date: dt.date | None
    episodes: tuple[EpisodeDetail, ...]


@dataclass(frozen=True, slots=True)
class GenreDetail:
    id: int
    name: str  # in the language the page is drawn in


@dataclass(frozen=True, slots=True)
class TitleDetail:
    """A title's detail page as one profile opens it: what ``TitleDetailSerializer`` reads."""

    id: int
    kind: str
    name: str
    synopsis: str
    original_name: str
    original_language: str
    release_date: dt.date
    runtime_minutes: int
    maturity: int
    maturity_label: str
    critic_score: int | None
    genres: tuple[str, ...]
    localized_genres: tuple[GenreDetail, ...]
    seasons: tuple[SeasonDetail, ...]
    credits: tuple[Credit, ...]
    artwork: tuple[Mapping[str, object], ...]  # each as the caller's ``artwork_body`` made it
    viewing: TitleViewing


def title_detail_get(
    *,
    title_id: int,
    profile: Profile,
    region_code: str,
    language: str | None,
    at: dt.datetime,
    artwork_body: Callable[[ArtworkVariant], Mapping[str, object]],
) -> TitleDetail | None:
    """The title's detail page for ``profile``; None when it may not open it.

    None for a title that does not exist, is not available in ``region_code`` at ``at``
    or is above the profile's maturity limit: the caller answers all three alike, so a
    kids profile learns nothing of what it may not see. ``language`` (a code) is the one
    asked for, else the profile's display language; name and synopsis fall back to the
    original's, a genre's name to English. Only artwork within the profile's limit.

    ``artwork_body`` makes each variant's entry (its themes come prefetched): its URLs are
    absolute on the request's host, which a selector does not know, and are built where
    the API builds its other image URLs.
    """
    # Read here, not at the top: the recommendations' selectors import this module's
    # title_names, and the artwork's selectors import theirs.
    from artwork.selectors import title_artwork_variants
    from recommendations.selectors.title_viewing import title_viewing_get
    from recommendations.serving.row_copy import genre_names_localized

    maturity_limit = profile.maturity_limit
    # A code: the profile's row holds its display language's, and reading the Language
    # behind it (profile.display_language) was a query of its own on every page.
    language = language or profile.display_language_id
    title = title_available_get(
        title_id=title_id, region_code=region_code, maturity_limit=maturity_limit, at=at
    )
    if title is None:
        return None
    localised = (
        TitleLocalization.objects.filter(title=title, language_id=language).first()
        if language
        else None
    )
    variants = title_artwork_variants(title_id=title.pk, maturity_limit=maturity_limit)
    seasons = title.seasons.all()
    genres = title.genres.all()
    viewing = title_viewing_get(
        profile=profile,
        title=title,
        episodes=[e for s in seasons for e in s.episodes.all()],
    )
    genre_names = [g.name for g in genres]
    return TitleDetail(
        id=title.pk,
        kind=title.kind,
        name=localised.name if localised else title.original_name,
        synopsis=localised.synopsis if localised and localised.synopsis else title.synopsis,
        original_name=title.original_name,
        original_language=title.original_language_id,
        release_date=title.release_date,
        runtime_minutes=title.runtime_minutes,
        maturity=title.maturity,
        maturity_label=title.get_maturity_display(),
        critic_score=title.critic_score,
        genres=tuple(genre_names),
        localized_genres=tuple(
            GenreDetail(id=g.pk, name=name)
            for g, name in zip(
                genres,
                genre_names_localized(genre_names, display_language=language),
                strict=True,
            )
        ),
        seasons=tuple(
            SeasonDetail(
                id=s.pk,
                number=s.number,
                name=s.name,
                release_date=s.release_date,
                episodes=tuple(
                    EpisodeDetail(
                        id=e.pk,
                        number=e.number,
                        name=e.name,
                        runtime_minutes=e.runtime_minutes,
                        finished=e.pk in viewing.finished_episodes,
                    )
                    for e in s.episodes.all()
                ),
            )
            for s in seasons
        ),
        credits=tuple(title.credits.all()),
        artwork=tuple(artwork_body(v) for v in variants),
        viewing=viewing,
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
