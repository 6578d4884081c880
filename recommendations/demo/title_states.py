"""Per-title viewing state of a seeded profile, derived from its events by ingest's fold.

Signal ingest (``recommendations.services.signals``) keeps a
``ProfileTitleState`` beside the log and flags plays of already-finished films
and episodes as rewatches. The seeder writes the log directly, so it must
derive the same state and flags; doing it through the service would cost a
transaction and several queries per profile. So it calls ingest's own fold
(:func:`~recommendations.services.signals.title_states_fold`), in memory, with
its events' times as epoch seconds and light state objects the writer turns
into rows: one copy of the rules, which a second copy once drifted from. A test
compares both paths on the same events; another replays a seeded profile
through the real service.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from recommendations.services.signals import STATE_KINDS, title_states_fold

from .signal_writer import Event


@dataclass(slots=True)
class TitleState:
    """One ``ProfileTitleState`` row in the making (times in epoch seconds)."""

    title_id: int
    last_event_at: int
    first_played_at: int | None = None
    last_played_at: int | None = None
    play_count: int = 0
    progress: float = 0.0
    last_episode_id: int | None = None
    completed_episodes: list[int] = field(default_factory=list)
    completed_seasons: int = 0
    completed_at: int | None = None
    rewatch_count: int = 0
    thumbs: str = ""
    thumbs_at: int | None = None
    playback_at: int | None = None


class _FoldedEvent(NamedTuple):
    """What the fold reads of a seeded event (its position in the profile's events)."""

    index: int
    kind: str
    title_id: int
    episode_id: int | None
    value: float | None
    occurred_at: int


@dataclass(frozen=True)
class FoldCatalogue:
    """What the fold reads of the catalogue, shaped as ingest reads it, built once.

    Seasons are numbered across the catalogue (the seeder has no season ids yet);
    a season's release is the epoch second of its release date's midnight UTC.
    """

    title_kinds: dict[int, str]
    season_episodes: dict[int, dict[int, frozenset[int]]]
    season_releases: dict[int, int]


def fold_catalogue(
    title_ids: Sequence[int],
    is_series: Sequence[bool],
    episodes: Sequence[Sequence[Sequence[tuple[int, int]]]],
    season_release_ts: Sequence[Sequence[float]],
) -> FoldCatalogue:
    """The catalogue's kinds and seasons (``CatalogueIndex`` columns) for the fold."""
    season_episodes: dict[int, dict[int, frozenset[int]]] = {}
    season_releases: dict[int, int] = {}
    for t, seasons in enumerate(episodes):
        if not seasons:
            continue
        numbered = season_episodes[title_ids[t]] = {}
        for season, released in zip(seasons, season_release_ts[t], strict=True):
            key = len(season_releases)
            numbered[key] = frozenset(e for e, _ in season)
            season_releases[key] = int(released)
    return FoldCatalogue(
        title_kinds={
            tid: "series" if series else "film"
            for tid, series in zip(title_ids, is_series, strict=True)
        },
        season_episodes=season_episodes,
        season_releases=season_releases,
    )


def fold_title_states(
    events: list[Event], catalogue: FoldCatalogue
) -> tuple[dict[int, TitleState], set[int]]:
    """States by title id, and the positions in ``events`` that are rewatches.

    ``events`` must be in time order (same-second events in the order they
    happened: the fold's sort keeps it).
    """
    folded = [
        _FoldedEvent(index, kind, title_id, episode_id, value, ts)
        for index, (title_id, episode_id, kind, value, _device, ts, *_rest) in enumerate(events)
        if title_id is not None and kind in STATE_KINDS
    ]
    states: dict[int, TitleState] = {}
    rewatches = title_states_fold(
        profile_id=0,  # unused: the seeder's states carry no profile, the writer adds it
        states=states,
        events=folded,
        title_kinds=catalogue.title_kinds,
        season_episodes=catalogue.season_episodes,
        season_releases=catalogue.season_releases,
        new_state=TitleState,
    )
    return states, rewatches
