"""The per-cluster evaluation's holdout (retraining's gate and recipe choice): one time cut,
judged by the offline evaluation's rules."""

import numpy as np

from recommendations.engine.confidence import SignalCode, signal_confidence
from recommendations.selectors.training import TrainingSignals, signal_weights
from recommendations.services.cluster_evaluation import holdout_halves, holdout_split
from tests.recommendations.signal_rows import DAY, T0, signals_of_rows

S = SignalCode


def _signals(rows: list[tuple[int, int, SignalCode, float]]) -> TrainingSignals:
    """Signals of (profile index, title index, kind, day) rows: 4 profiles, 8 titles."""
    return signals_of_rows(rows, n_profiles=4, n_titles=8, value=np.nan)


#: 20 title events; the latest 20% (4) start on day 20, the cut.
WORLD = [
    # profile 0 is active early and late: plays title 0, hovers title 1, previews title 2,
    # is shown title 3
    (0, 0, S.PLAY_START, 0),
    (0, 0, S.COMPLETE, 0),
    (0, 1, S.HOVER, 1),
    (0, 2, S.PREVIEW, 2),
    (0, 3, S.IMPRESSION, 2),
    # profile 1 is active early only, so a per-profile split holds out its day-3 play ...
    (1, 4, S.PLAY_START, 1),
    (1, 4, S.COMPLETE, 1),
    (1, 5, S.PLAY_START, 2),
    (1, 6, S.PLAY_START, 3),
    # ... while profile 2's plays of the same title on days 10-15 would train
    (2, 6, S.PLAY_START, 10),
    (2, 6, S.COMPLETE, 10),
    (2, 7, S.PLAY_START, 12),
    (2, 7, S.PLAY_START, 15),
    (3, 6, S.PLAY_START, 14),
    (3, 7, S.PLAY_START, 15),
    (3, 5, S.PLAY_START, 18),
    # after the cut: profile 0 plays the hovered title 1; starts title 5 and thumbs it down;
    # profile 3 only starts title 0 and thumbs it down
    (0, 1, S.PLAY_START, 20),
    (0, 5, S.PLAY_START, 21),
    (0, 5, S.THUMBS_DOWN, 21),
    (3, 0, S.PLAY_START, 22),
    (3, 0, S.THUMBS_DOWN, 22),
]
AT = T0 + 23 * DAY


def test_a_thumbs_downed_held_out_title_is_not_a_hit():
    split = holdout_split(_signals(WORLD), at=AT, validation_fraction=None)

    # then: profile 0's disliked title 5 is not relevant, and profile 3, whose only
    # held-out play ended in a thumbs down, is judged on nothing
    assert 5 not in split.relevant[0].indices.tolist()
    assert split.relevant[3].nnz == 0
    assert split.holdout.judged(np.arange(4)).tolist() == [0]
    assert split.n_test_events == 1


def test_a_title_only_hovered_before_the_cut_is_still_evaluated():
    split = holdout_split(_signals(WORLD), at=AT, validation_fraction=None)

    assert split.relevant[0].indices.tolist() == [1]
    # only engaged titles are "seen" (never recommended back): not hovered, previewed or
    # shown ones
    assert split.seen[0].indices.tolist() == [0]
    assert split.seen[2].indices.tolist() == [6, 7]


def test_nothing_the_models_learn_from_is_later_than_a_held_out_event():
    signals = _signals(WORLD)

    split = holdout_split(signals, at=AT)

    # then: one cut; every training event is before every held-out one, though the profiles
    # are active at different times (a per-profile split would train on profile 2's day-10
    # play of title 6 and hold out profile 1's day-3 play of it)
    assert len(split.train) == 16
    assert split.train.timestamp.max() < T0 + 20 * DAY
    # and the training confidence decays to the cut, not to the window's end: how long the
    # window runs on after the cut changes nothing a model learns from (holdout or validation)
    later = holdout_split(signals, at=AT + 30 * DAY)
    assert (split.confidence != later.confidence).nnz == 0
    assert (split.validation.confidence != later.validation.confidence).nnz == 0
    held_out = signals.timestamp[(signals.title_index >= 0) & (signals.timestamp >= split.cut)]
    assert split.cut == held_out.min() == T0 + 20 * DAY


def test_the_validation_split_cuts_the_training_part_again_before_the_holdout():
    split = holdout_split(_signals(WORLD), at=AT)

    # then: the latest 20% of the 16 training events (4, from day 14) are validation's test:
    # profile 3's plays (days 14-18) are held out there, so its validation row has no
    # training confidence, and it is not judged (no history to fold in); profile 2's day-12
    # play of title 7 trains, so its day-15 replay is not relevant
    validation = split.validation
    assert validation.relevant[3].indices.tolist() == [5, 6, 7]
    assert validation.confidence[3].nnz == 0
    assert validation.confidence[2].indices.tolist() == [6, 7]
    assert validation.relevant[2].nnz == 0
    assert validation.judged(np.arange(4)).tolist() == []


def test_the_window_confidence_for_the_final_fits_is_every_signal_at_the_windows_end():
    signals = _signals(WORLD)

    split = holdout_split(signals, at=AT, validation_fraction=None, window=True)

    expected = signal_confidence(
        profile_index=signals.profile_index,
        title_index=signals.title_index,
        kind=signals.kind,
        value=signals.value,
        age_days=signals.age_days(AT),
        commitment=signals.commitment_hours,
        rewatch=signals.rewatch,
        n_profiles=signals.n_profiles,
        n_titles=signals.n_titles,
        weights=signal_weights(),
    )
    for part in ("positive", "negative", "ignored"):
        assert (getattr(split.window, part) != getattr(expected, part)).nnz == 0, part


def test_the_holdout_halves_are_disjoint_balanced_and_the_same_on_every_run():
    judged = np.arange(0, 301, 3, dtype=np.int64)  # 101 profiles
    ids = judged * 7 + 1000

    choice, gate = holdout_halves(judged, ids)

    # then: every judged profile is in exactly one half, the gate's the larger by at most one
    assert np.intersect1d(choice, gate).size == 0
    assert np.array_equal(np.sort(np.concatenate([choice, gate])), judged)
    assert (gate.size, choice.size) == (51, 50)
    # and: the halves follow the profiles' ids, not the order they are given in
    shuffled = np.random.default_rng(3).permutation(judged.size)
    again = holdout_halves(judged[shuffled], ids[shuffled])
    assert np.array_equal(again[0], choice)
    assert np.array_equal(again[1], gate)
    # and: not the ids' order either (a half is not the oldest or the newest profiles)
    assert not np.array_equal(gate, judged[::2])
    # and: a single judged profile is judged by the gate; nothing is chosen on it
    assert [half.tolist() for half in holdout_halves(judged[:1], ids[:1])] == [[], [0]]
