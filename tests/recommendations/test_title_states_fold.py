"""The shared fold (``title_states_fold``) on its own: what it passes over (no database)."""

import datetime as dt
import itertools

import numpy as np
import pytest

from recommendations.engine.split import Rating, latest_rating
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


FEB = MARCH - dt.timedelta(days=20)


def _minutes(n: float) -> dt.datetime:
    return FEB + dt.timedelta(minutes=n)


def _fold_in_batches(plan: list[tuple], batches: list[list[int]]) -> dict[int, ProfileTitleState]:
    """``plan`` folded as ingest folds it: batch after batch (positions in ``plan``, in the
    order they arrive) into the same states."""
    states: dict[int, ProfileTitleState] = {}
    for batch in batches:
        title_states_fold(
            profile_id=1,
            states=states,
            events=[
                logged_event(
                    index=i,
                    kind=plan[i][2],
                    title_id=plan[i][0],
                    episode_id=plan[i][1],
                    value=plan[i][3],
                    occurred_at=plan[i][4],
                )
                for i in batch
            ],
            title_kinds=KINDS,
            season_episodes=SEASONS,
            season_releases=RELEASES,
        )
    return states


def _fields(state: ProfileTitleState) -> dict:
    return {
        "completed_episodes": sorted(state.completed_episodes),
        "completed_seasons": state.completed_seasons,
        "completed_at": state.completed_at,
        "last_episode_id": state.last_episode_id,
        "progress": state.progress,
        "rewatch_count": state.rewatch_count,
        "play_count": state.play_count,
        "playback_at": state.playback_at,
    }


def test_an_episode_left_in_its_credits_is_finished_once_another_is_played():
    # given: S1E1 left in its credits (no complete), then S1E2 played and finished
    plan = [
        (SERIES, 1, "play_start", None, _minutes(0)),
        (SERIES, 1, "progress", 99.0, _minutes(44)),
        (SERIES, 2, "play_start", None, _minutes(50)),
        (SERIES, 2, "complete", None, _minutes(95)),
    ]

    # when: folded up to the credits, then past the next episode's start, then to its end
    in_credits = _fold(plan[:2])[SERIES]
    moved_on = _fold(plan[:3])[SERIES]
    finished = _fold(plan)[SERIES]

    # then: passed while it is the last played (not finished); finished once the next
    # starts, as of its credits; and season 1, all that is out in February, finished with
    # the finale's completion, as two completions would have
    assert (in_credits.completed_episodes, in_credits.progress) == ([], 99.0)
    assert moved_on.completed_episodes == [1]
    assert (moved_on.last_episode_id, moved_on.progress) == (2, 0.0)
    assert (moved_on.completed_seasons, moved_on.completed_at) == (0, None)
    assert finished.completed_episodes == [1, 2]
    assert (finished.completed_seasons, finished.completed_at) == (1, _minutes(95))
    assert finished.rewatch_count == 0


def test_going_back_to_an_earlier_episode_after_passing_one_finishes_it_too():
    # given: the pilot finished, the finale left in its credits, then the pilot played again
    # and stopped midway
    plan = [
        (SERIES, 1, "play_start", None, _minutes(0)),
        (SERIES, 1, "complete", None, _minutes(45)),
        (SERIES, 2, "play_start", None, _minutes(50)),
        (SERIES, 2, "progress", 98.0, _minutes(94)),
        (SERIES, 1, "play_start", None, _minutes(120)),
        (SERIES, 1, "progress", 40.0, _minutes(140)),
    ]

    # when
    state = _fold(plan)[SERIES]

    # then: the finale is finished, as of its credits, and with it the series (all that is
    # out then): the pilot's play after it is a rewatch under way, at its own progress
    assert state.completed_episodes == [1, 2]
    assert (state.completed_seasons, state.completed_at) == (1, _minutes(94))
    assert (state.last_episode_id, state.progress, state.rewatch_count) == (1, 40.0, 1)
    assert state.last_played_at > state.completed_at


@pytest.mark.parametrize(
    "batches",
    [
        pytest.param([[0, 1], [2, 3], [4, 5, 6]], id="in order"),
        pytest.param([[i] for i in range(7)], id="one by one"),
        # The credits of S1E1 (an offline device's) arrive after S1E2 was started elsewhere.
        pytest.param([[0], [2, 3], [1], [4, 5, 6]], id="credits reported late"),
        pytest.param([[0], [2, 3, 4, 5, 6], [1]], id="credits reported last"),
    ],
)
def test_ingest_batch_by_batch_finishes_a_passed_episode_as_a_fold_of_the_whole_log(batches):
    # given: S1E1 left in its credits, S1E2 played and left midway, then season 2 (out on
    # 1 March) started: the first episode passed then the next, all in March
    plan = [
        (SERIES, 1, "play_start", None, _minutes(0)),
        (SERIES, 1, "progress", 99.0, _minutes(44)),
        (SERIES, 2, "play_start", None, _minutes(50)),
        (SERIES, 2, "progress", 30.0, _minutes(60)),
        (SERIES, 3, "play_start", None, MARCH + dt.timedelta(hours=1)),
        (SERIES, 3, "progress", 97.0, MARCH + dt.timedelta(hours=2)),
        (SERIES, 4, "play_start", None, MARCH + dt.timedelta(hours=3)),
    ]

    # when: folded as the batches arrive, and as the refold folds the log (all at once)
    ingested = _fold_in_batches(plan, batches)[SERIES]
    refolded = _fold(plan)[SERIES]

    # then: the same state: both passed episodes finished, S1E2 (left midway) not
    assert _fields(ingested) == _fields(refolded)
    assert sorted(refolded.completed_episodes) == [1, 3]
    assert (refolded.last_episode_id, refolded.progress) == (4, 0.0)


def _splits(n: int) -> list[list[list[int]]]:
    """Every way to send events ``0..n-1``, in that order, as consecutive batches."""
    ways = []
    for cuts in itertools.product((False, True), repeat=n - 1):
        batches, batch = [], [0]
        for i, cut in enumerate(cuts, start=1):
            if cut:
                batches.append(batch)
                batch = []
            batch.append(i)
        ways.append([*batches, batch])
    return ways


_STANDING = {"up": Rating.UP, "down": Rating.DOWN, "": Rating.CLEARED}


def test_the_fold_and_latest_rating_agree_for_every_order_tie_and_batching_of_three_ratings():
    # given: every sequence of up to three ratings of one title, at every pattern of equal
    # and different moments, in every order of arrival and every split into batches
    cases = 0
    for n in (1, 2, 3):
        for kinds in itertools.product(("up", "down", "cleared"), repeat=n):
            for minutes in itertools.product((1, 2), repeat=n):
                plan = [
                    (SERIES, None, f"thumbs_{kind}", None, _minutes(m))
                    for kind, m in zip(kinds, minutes, strict=True)
                ]
                # when: the holdout's reading (the engine's rule, confidence's too)
                expected = latest_rating(
                    profile_index=np.zeros(n, int),
                    title_index=np.ones(n, int),
                    timestamp=np.array(minutes, dtype=float),
                    thumbs_up=np.array([k == "up" for k in kinds]),
                    thumbs_down=np.array([k == "down" for k in kinds]),
                    thumbs_cleared=np.array([k == "cleared" for k in kinds]),
                    n_titles=2,
                )[0]
                for batches in _splits(n):
                    # and the state, folded batch by batch as ingest folds them
                    state = _fold_in_batches(plan, batches)[SERIES]

                    # then: both leave the same rating standing, from the same moment
                    case = (kinds, minutes, batches)
                    assert _STANDING[state.thumbs] == expected, case
                    assert state.thumbs_at == _minutes(max(minutes)), case
                    cases += 1
    assert cases == 3 * 2 * 1 + 9 * 4 * 2 + 27 * 8 * 4
