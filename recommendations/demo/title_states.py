"""Per-title viewing state of a seeded profile, derived from its events as ingest derives it.

Signal ingest (``recommendations.services.signals``) keeps a
``ProfileTitleState`` beside the log and flags plays of already-finished films
and episodes as rewatches. The seeder writes the log directly, so it must
derive the same state and flags; doing it through the service would cost a
transaction and several queries per profile. This is the same fold, in memory,
over one profile's events in the order they happened; a test replays a seeded
profile through the real service and compares.
"""

from dataclasses import dataclass, field

from .signal_writer import Event

PLAY_KINDS = frozenset({"play_start", "search_play", "external_play"})
THUMBS_OF = {"thumbs_up": "up", "thumbs_down": "down", "thumbs_cleared": ""}
STATE_KINDS = PLAY_KINDS | {"progress", "complete", *THUMBS_OF}


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


def fold_title_states(
    events: list[Event],
    *,
    is_film: dict[int, bool],
    seasons: dict[int, list[frozenset[int]]],
    season_releases: dict[int, list[float]] | None = None,
) -> tuple[dict[int, TitleState], set[int]]:
    """States by title id, and the positions in ``events`` that are rewatches.

    ``events`` must be in time order. ``seasons`` maps a series' title id to the
    episode ids of each of its seasons, ``season_releases`` to when each of them
    comes out (epoch seconds of midnight UTC; none given: out). As ingest counts
    them, a season not out at a completion's time does not keep the series from
    being finished, and the series is finished when the last episode out was
    first finished (later again, once a season out since is finished too).
    """
    states: dict[int, TitleState] = {}
    rewatches: set[int] = set()
    first_done: dict[int, int] = {}
    releases_of = season_releases or {}
    for index, (title_id, episode_id, kind, value, _device, ts, *_rest) in enumerate(events):
        if title_id is None or kind not in STATE_KINDS:
            continue
        state = states.get(title_id)
        if state is None:
            state = states[title_id] = TitleState(title_id=title_id, last_event_at=ts)
        state.last_event_at = max(state.last_event_at, ts)
        if kind not in ("thumbs_up", "thumbs_down"):
            state.playback_at = ts  # events come in time order
        if kind in PLAY_KINDS:
            if episode_id:
                already_done = episode_id in state.completed_episodes
            else:
                already_done = is_film[title_id] and state.completed_at is not None
            if already_done:
                state.rewatch_count += 1
                rewatches.add(index)
            if already_done or (episode_id and episode_id != state.last_episode_id):
                state.progress = 0.0  # as ingest: another episode starts at 0
            state.play_count += 1
            if state.first_played_at is None:
                state.first_played_at = ts
            state.last_played_at = ts
            state.last_episode_id = episode_id or state.last_episode_id
        elif kind == "progress":
            state.progress = value
            state.last_episode_id = episode_id or state.last_episode_id
        elif kind == "complete":
            state.progress = 100.0
            state.last_episode_id = episode_id or state.last_episode_id
            if episode_id:
                if episode_id not in state.completed_episodes:
                    state.completed_episodes.append(episode_id)
                    first_done[episode_id] = ts
                done = set(state.completed_episodes)
                title_seasons = seasons.get(title_id, [])
                state.completed_seasons = sum(1 for eps in title_seasons if eps <= done)
                releases = releases_of.get(title_id)
                released = [
                    eps
                    for number, eps in enumerate(title_seasons)
                    if releases is None or releases[number] <= ts
                ]
                if released and all(eps <= done for eps in released):
                    state.completed_at = max(first_done[e] for e in set().union(*released))
            elif is_film[title_id] and state.completed_at is None:
                state.completed_at = ts
        else:  # thumbs_up / thumbs_down / thumbs_cleared
            state.thumbs = THUMBS_OF[kind]
            state.thumbs_at = ts
    return states, rewatches
