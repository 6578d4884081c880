"""The shared fold (``title_states_fold``) on its own: what it passes over (no database)."""

import datetime as dt

from recommendations.models import ProfileTitleState
from recommendations.services.signals import title_states_fold
from recommendations.signal_events import logged_event

SERIES, OTHER_SERIES = 7, 8
SEASON_1, SEASON_2, OTHER_SEASON = 70, 71, 80
MARCH = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
# Season 2 of the series and the other series' only season come out on 1 March.
SEASONS = {SERIES: {SEASON_1: {1, 2}, SEASON_2: {3, 4}}, OTHER_SERIES: {OTHER_SEASON: {9}}}
RELEASES = {SEASON_2: MARCH, OTHER_SEASON: MARCH}
KINDS = {SERIES: "series", OTHER_SERIES: "series"}


def _fold(plan: list[tuple], **options) -> dict[int, ProfileTitleState]:
    """States by title of ``plan`` (title, episode, kind, value, moment), folded at once."""
    events = [
        logged_event(
            index=i, kind=kind, title_id=title, episode_id=episode, value=value, occurred_at=at
        )
        for i, (title, episode, kind, value, at) in enumerate(plan)
    ]
    states: dict[int, ProfileTitleState] = {}
    title_states_fold(
        profile_id=1,
        states=states,
        events=events,
        title_kinds=KINDS,
        season_episodes=SEASONS,
        season_releases=RELEASES,
        **options,
    )
    return states


def test_a_play_progress_or_completion_of_an_episode_not_out_is_passed_over():
    # given: season 1 finished in February, and S2E1 "played" and "finished" two days
    # before season 2 came out (ingest took such events until December 2026); the other
    # series is only "played" before it was out
    feb = MARCH - dt.timedelta(days=10)
    early = MARCH - dt.timedelta(days=2)
    plan = [
        (SERIES, 1, "play_start", None, feb),
        (SERIES, 1, "complete", None, feb + dt.timedelta(minutes=45)),
        (SERIES, 2, "play_start", None, feb + dt.timedelta(minutes=46)),
        (SERIES, 2, "complete", None, feb + dt.timedelta(minutes=90)),
        (SERIES, 3, "play_start", None, early),
        (SERIES, 3, "progress", 50.0, early + dt.timedelta(minutes=20)),
        (SERIES, 3, "complete", None, early + dt.timedelta(minutes=45)),
        (OTHER_SERIES, 9, "play_start", None, early),
    ]

    # when
    states = _fold(plan)

    # then: S2E1 is not finished nor the episode to resume, the series was finished (for
    # now) with season 1, and the other series has no state: nothing it holds happened
    state = states[SERIES]
    assert state.completed_episodes == [1, 2]
    assert state.completed_at == feb + dt.timedelta(minutes=90)
    assert (state.last_episode_id, state.progress, state.play_count) == (2, 100.0, 2)
    assert state.last_played_at == feb + dt.timedelta(minutes=46)
    assert state.playback_at == state.last_event_at == feb + dt.timedelta(minutes=90)
    assert OTHER_SERIES not in states


def test_an_episode_played_once_out_or_within_the_clock_skew_before_is_folded():
    # given: S2E1 finished a minute before midnight of its release by a clock running
    # behind (ingest keeps it: within the skew), and S2E2 on the release day
    plan = [
        (SERIES, 3, "complete", None, MARCH - dt.timedelta(minutes=1)),
        (SERIES, 4, "complete", None, MARCH + dt.timedelta(hours=20)),
    ]

    # when: folded without the skew, and with ingest's
    strict = _fold(plan)[SERIES]
    skewed = _fold(plan, release_skew=dt.timedelta(minutes=5))[SERIES]

    # then: only the skew keeps the stamp before the release, as ingest does
    assert strict.completed_episodes == [4]
    assert skewed.completed_episodes == [3, 4]
