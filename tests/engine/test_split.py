"""Time-based holdout: each profile's most recent activity is held out."""

import numpy as np

from recommendations.engine.split import holdout_relevance, time_holdout


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
