"""Time-based holdouts: each profile's most recent activity, or everything after one instant."""

import itertools

import numpy as np
import pytest

from recommendations.engine.confidence import (
    SignalCode,
    profile_confidence_row,
    signal_confidence,
)
from recommendations.engine.split import (
    Rating,
    global_time_holdout,
    holdout_matrices,
    holdout_relevance,
    latest_rating,
    pair_grouping,
    time_holdout,
)


def test_each_profiles_last_fraction_by_time_is_held_out():
    # given: profile 0 with 10 events in shuffled order, profile 1 with one, profile 2 with three
    rng = np.random.default_rng(0)
    times_0 = rng.permutation(10).astype(float)
    profiles = np.array([0] * 10 + [1] + [2] * 3)
    times = np.concatenate([times_0, [5.0], [3.0, 1.0, 2.0]])

    # when
    split = time_holdout(profile_index=profiles, timestamp=times, test_fraction=0.2)

    # then
    assert sorted(times[split.test & (profiles == 0)]) == [8.0, 9.0]
    assert not split.test[profiles == 1].any()  # a profile keeps training history
    assert times[split.test & (profiles == 2)].tolist() == [3.0]  # ceil(0.6) = 1
    assert (split.train == ~split.test).all()


def test_ties_in_time_keep_the_input_order():
    split = time_holdout(profile_index=np.zeros(4, int), timestamp=np.zeros(4), test_fraction=0.5)

    assert split.test.tolist() == [False, False, True, True]


def test_holdout_relevance_leaves_out_what_was_already_seen():
    profiles = np.array([0, 0, 0, 0, 1, 1])
    titles = np.array([1, 2, 1, 3, 4, 5])
    times = np.array([1, 2, 3, 4, 1, 2])
    split = time_holdout(profile_index=profiles, timestamp=times, test_fraction=0.5)

    relevant = holdout_relevance(
        split, profile_index=profiles, title_index=titles, n_profiles=2, n_titles=6
    )
    with_seen = holdout_relevance(
        split,
        profile_index=profiles,
        title_index=titles,
        n_profiles=2,
        n_titles=6,
        exclude_seen=False,
    )

    assert relevant.dtype == bool
    rows, cols = relevant.nonzero()
    assert (rows.tolist(), cols.tolist()) == ([0, 1], [3, 5])
    assert with_seen[0, 1]


def _reference_test_mask(profiles, times, fraction):
    """The split by definition: a three-key sort, then each profile's last ceil(f * n) events."""
    n = profiles.shape[0]
    order = np.lexsort((np.arange(n), times, profiles))
    ranked = profiles[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    counts = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, counts)
    n_test = np.maximum(np.minimum(np.ceil(fraction * counts).astype(int), counts - 1), 0)
    test = np.zeros(n, dtype=bool)
    test[order] = rank >= np.repeat(counts - n_test, counts)
    return test


def test_the_one_key_sort_splits_like_the_three_key_sort():
    # given: Unix times with microseconds (as the database gives them), times with many ties,
    # integer times, and profile ids too large to share an int64 key with the times
    rng = np.random.default_rng(7)
    cases = []
    for _ in range(10):
        n = int(rng.integers(1, 4000))
        profiles = rng.integers(0, int(rng.integers(1, 400)), n)
        cases.append((profiles, np.round(rng.uniform(1.7e9, 1.73e9, n), 6)))
        cases.append((profiles, rng.integers(0, 20, n).astype(float)))
        cases.append((profiles, rng.integers(0, 10**6, n)))
    huge = rng.integers(2**40, 2**41, 500)
    cases.append((huge, rng.uniform(0, 3e7, 500)))

    for profiles, times in cases:
        # when
        split = time_holdout(profile_index=profiles, timestamp=times, test_fraction=0.3)
        # then
        np.testing.assert_array_equal(split.test, _reference_test_mask(profiles, times, 0.3))


@pytest.mark.parametrize("grouped", [False, True], ids=["sorted here", "caller's pair grouping"])
def test_holdout_matrices_give_unseen_counted_test_titles_and_the_seen_ones(grouped):
    profiles = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    titles = np.array([1, 2, 1, 3, 4, 5, 6, 7])
    times = np.array([1, 2, 3, 4, 5, 1, 2, 3])
    counts = np.array([True, True, True, True, False, True, True, True])  # title 4: a hover
    split = time_holdout(profile_index=profiles, timestamp=times, test_fraction=0.5)
    pairs = pair_grouping(profiles, titles, n_titles=8) if grouped else None

    relevant, seen = holdout_matrices(
        split,
        profile_index=profiles,
        title_index=titles,
        n_profiles=3,
        n_titles=8,
        counts=counts,
        pairs=pairs,
    )

    assert relevant.has_canonical_format
    assert seen.has_canonical_format
    assert relevant.dtype == bool
    assert relevant.shape == (3, 8)
    assert [relevant[0].indices.tolist(), relevant[1].indices.tolist()] == [[3], [6, 7]]
    assert [seen[0].indices.tolist(), seen[1].indices.tolist()] == [[1, 2], [5]]
    assert relevant[2].nnz == seen[2].nnz == 0


def test_a_global_cut_trains_on_everything_before_one_instant_and_tests_the_rest():
    # given: profile 0 active early, profile 1 late, events out of time order
    profiles = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    times = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])[::-1]

    # when
    split = global_time_holdout(timestamp=times, test_fraction=0.3)

    # then: the three latest events test, whoever they belong to, and no training event is
    # as late as any test event (a per-profile split gives neither)
    assert split.cut == 8.0
    assert sorted(times[split.test]) == [8.0, 9.0, 10.0]
    assert times[split.train].max() < split.cut <= times[split.test].min()
    assert (split.train == ~split.test).all()
    per_profile = time_holdout(profile_index=profiles, timestamp=times, test_fraction=0.3)
    assert times[per_profile.train].max() > times[per_profile.test].min()


def test_a_global_cut_sends_every_event_at_the_cut_to_test():
    split = global_time_holdout(timestamp=np.array([1.0, 2.0, 2.0, 2.0]), test_fraction=0.25)

    assert split.cut == 2.0
    assert split.test.tolist() == [False, True, True, True]
    with pytest.raises(ValueError, match="test_fraction"):
        global_time_holdout(timestamp=np.zeros(3), test_fraction=1.0)


def test_latest_rating_marks_every_event_of_a_pair_whose_last_thumbs_is_down():
    # given: pair (0, 1) thumbed up then down; pair (0, 2) down then up; pair (1, 1) never
    # thumbed; the events arrive out of time order
    profiles = np.array([0, 0, 0, 0, 0, 1])
    titles = np.array([1, 1, 1, 2, 2, 1])
    times = np.array([3.0, 1.0, 2.0, 2.0, 1.0, 5.0])
    up = np.array([False, True, False, True, False, False])
    down = np.array([True, False, False, False, True, False])

    marked = (
        latest_rating(
            profile_index=profiles,
            title_index=titles,
            timestamp=times,
            thumbs_up=up,
            thumbs_down=down,
            n_titles=3,
        )
        == Rating.DOWN
    )

    assert marked.tolist() == [True, True, True, False, False, False]


def test_a_thumbs_down_cleared_since_is_not_the_latest_thumbs():
    # given: pair (0, 1) thumbed down then cleared; pair (0, 2) cleared then thumbed down
    profiles = np.zeros(4, int)
    titles = np.array([1, 1, 2, 2])
    times = np.array([1.0, 2.0, 1.0, 2.0])
    down = np.array([True, False, False, True])
    cleared = np.array([False, True, True, False])

    marked = (
        latest_rating(
            profile_index=profiles,
            title_index=titles,
            timestamp=times,
            thumbs_up=np.zeros(4, bool),
            thumbs_down=down,
            thumbs_cleared=cleared,
            n_titles=3,
        )
        == Rating.DOWN
    )

    assert marked.tolist() == [False, False, True, True]


@pytest.mark.parametrize("grouped", [False, True], ids=["sorted here", "caller's pair grouping"])
def test_a_thumbs_downed_held_out_title_is_not_relevant(grouped):
    # given: profile 0 trains on title 1, then in the test period plays titles 2 and 3 and
    # thumbs title 3 down
    profiles = np.array([0, 0, 0, 0])
    titles = np.array([1, 2, 3, 3])
    times = np.array([1.0, 2.0, 3.0, 4.0])
    down = np.array([False, False, False, True])
    split = global_time_holdout(timestamp=times, test_fraction=0.75)
    disliked = (
        latest_rating(
            profile_index=profiles,
            title_index=titles,
            timestamp=times,
            thumbs_up=np.zeros(4, dtype=bool),
            thumbs_down=down,
            n_titles=4,
        )
        == Rating.DOWN
    )

    relevant, _ = holdout_matrices(
        split,
        profile_index=profiles,
        title_index=titles,
        n_profiles=1,
        n_titles=4,
        counts=~down,  # the plays count, as the evaluation counts them
        disliked=disliked,
        pairs=pair_grouping(profiles, titles, n_titles=4) if grouped else None,
    )

    assert relevant[0].indices.tolist() == [2]


@pytest.mark.parametrize("grouped", [False, True], ids=["sorted here", "caller's pair grouping"])
def test_a_title_only_hovered_in_training_is_still_evaluated(grouped):
    # given: in training, title 1 played and title 2 only hovered; both played in the test period
    profiles = np.zeros(4, dtype=int)
    titles = np.array([1, 2, 1, 2])
    times = np.array([1.0, 2.0, 3.0, 4.0])
    engaged = np.array([True, False, True, True])  # event 1 is the hover
    split = global_time_holdout(timestamp=times, test_fraction=0.5)

    relevant, seen = holdout_matrices(
        split,
        profile_index=profiles,
        title_index=titles,
        n_profiles=1,
        n_titles=3,
        engaged=engaged,
        pairs=pair_grouping(profiles, titles, n_titles=3) if grouped else None,
    )

    assert relevant[0].indices.tolist() == [2]
    assert seen[0].indices.tolist() == [1]


def _standing(kinds: list[str], times: list[float]) -> tuple[bool, bool]:
    """Whether one pair's ratings, by the split's functions, leave it disliked, and cleared."""
    n = len(kinds)
    ratings = {
        "profile_index": np.zeros(n, int),
        "title_index": np.ones(n, int),
        "timestamp": np.array(times, dtype=float),
        "thumbs_up": np.array([k == "up" for k in kinds]),
        "thumbs_down": np.array([k == "down" for k in kinds]),
        "thumbs_cleared": np.array([k == "cleared" for k in kinds]),
        "n_titles": 2,
    }
    rating = latest_rating(**ratings)[0]
    return bool(rating == Rating.DOWN), bool(rating == Rating.CLEARED)


@pytest.mark.parametrize(
    ("kinds", "disliked", "cleared"),
    [
        (["up", "down"], True, False),
        (["down", "up"], True, False),
        (["cleared", "down"], True, False),
        (["down", "cleared"], True, False),
        (["up", "cleared"], False, True),
        (["cleared", "up"], False, True),
        (["up", "cleared", "down"], True, False),
    ],
)
def test_ratings_at_the_same_instant_leave_the_dislike_standing_whatever_their_order(
    kinds, disliked, cleared
):
    # given: one pair rated several ways at the very same occurred_at (two devices, one
    # moment), in either order of arrival
    times = [5.0] * len(kinds)

    # when / then: a thumbs down wins the tie, then a clear, as in confidence
    assert _standing(kinds, times) == (disliked, cleared)


def test_the_holdouts_standing_rating_is_confidences_for_every_order_and_tie():
    # given: every set of up to three ratings of one pair, at every pattern of equal and
    # different times, in every order of arrival
    cases = 0
    for n in (1, 2, 3):
        for kinds in itertools.product(("up", "down", "cleared"), repeat=n):
            for times in itertools.product((1.0, 2.0), repeat=n):
                # when: the split's reading (evaluation), confidence's batch (training) and
                # its one-profile row (a homepage's fold-in)
                disliked, cleared = _standing(list(kinds), list(times))
                signals = {
                    "title_index": np.ones(n, int),
                    "kind": np.array([SignalCode[f"THUMBS_{k.upper()}"] for k in kinds], np.int8),
                    "value": np.zeros(n, dtype=np.float32),
                    "age_days": 3.0 - np.array(times),
                    "n_titles": 2,
                }
                batch = signal_confidence(profile_index=np.zeros(n, int), n_profiles=1, **signals)
                row = profile_confidence_row(**signals)

                # then: they agree on what stands
                case = (kinds, times)
                liked = not disliked and not cleared and "up" in kinds
                assert disliked == (batch.negative[0, 1] > 0) == (row.negative[0] > 0), case
                assert liked == (batch.positive[0, 1] > 0) == (row.positive[0] > 0), case
                cases += 1
    assert cases == 3 * 2 + 9 * 4 + 27 * 8
