"""Time-based holdouts: the most recent activity is what a model must predict.

A random split leaks the future into training (a model learns next week's
hit from next week's plays) and flatters every model. Two time-based splits:

- :func:`global_time_holdout` cuts every profile's activity at one instant:
  everything before it trains, everything from it on tests. Nothing a model
  learns from (other profiles' plays, trending, popularity) is later than
  anything it is asked to predict, so it is the split for comparing whole
  pipelines.
- :func:`time_holdout` holds out each profile's *last* fraction of activity.
  Every profile gets a test period, but other profiles' training events can
  be later than a profile's held-out ones: fine for a model that only learns
  from co-occurrence, a leak for anything that reads "what is popular now".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = [
    "HoldoutSplit",
    "PairGrouping",
    "Rating",
    "global_time_holdout",
    "holdout_matrices",
    "holdout_relevance",
    "latest_rating",
    "pair_grouping",
    "pair_matrix",
    "time_holdout",
]


@dataclass(frozen=True, slots=True)
class HoldoutSplit:
    """Which events train and which test.

    Attributes
    ----------
    train : numpy.ndarray of bool, shape (n,)
    test : numpy.ndarray of bool, shape (n,)
        Complements of each other.
    cut : float or None
        For a global time cut: every training event is earlier than ``cut`` and
        every test event at or after it (in the timestamps' units). ``None`` for a
        per-profile split, which has no such instant.
    """

    train: npt.NDArray[np.bool_]
    test: npt.NDArray[np.bool_]
    cut: float | None = None


def global_time_holdout(*, timestamp: npt.ArrayLike, test_fraction: float = 0.2) -> HoldoutSplit:
    """Hold out everything from the instant after which ``test_fraction`` of the events happened.

    The cut is the time of the ``ceil(test_fraction * n)``-th latest event;
    events at exactly that time all test, so the test share can exceed
    ``test_fraction`` by the ties. A profile whose activity all falls on one side
    of the cut has no test (or no training) events: callers evaluate only the
    profiles with both.

    Parameters
    ----------
    timestamp : array of float64 or int64, shape (n,)
        Any monotone time (e.g. Unix seconds).
    test_fraction : float
        In (0, 1).

    Returns
    -------
    HoldoutSplit
        With ``cut`` set; ``train`` is ``timestamp < cut``.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be in (0, 1)")
    times = np.asarray(timestamp).reshape(-1)
    n = times.shape[0]
    if n == 0:
        empty = np.zeros(0, dtype=bool)
        return HoldoutSplit(train=empty, test=empty.copy(), cut=None)
    n_test = min(int(np.ceil(test_fraction * n)), n)
    cut = np.partition(times, n - n_test)[n - n_test]
    test = times >= cut
    return HoldoutSplit(train=~test, test=test, cut=float(cut))


class Rating(IntEnum):
    """What a (profile, title) pair's latest rating says, in the order that wins a tie in time.

    Two ratings at the very same instant (two devices, one moment) are ordered by
    kind, never by arrival: a thumbs down beats a clear and a clear beats a thumbs
    up, so a pair that may be disliked is never counted as liked. It is the rule of
    confidence (:mod:`recommendations.engine.confidence`, whose ``_pair_confidence``
    compares the latest ages of the three kinds), so that training, serving and the
    holdout's judgment read one pair alike (docs/signals.md, "What signals are worth").
    """

    NONE = 0  # never rated
    UP = 1
    CLEARED = 2  # a rating removed: no explicit evidence either way
    DOWN = 3


def latest_rating(
    *,
    profile_index: npt.ArrayLike,
    title_index: npt.ArrayLike,
    timestamp: npt.ArrayLike,
    thumbs_up: npt.ArrayLike,
    thumbs_down: npt.ArrayLike,
    n_titles: int,
    thumbs_cleared: npt.ArrayLike | None = None,
) -> npt.NDArray[np.int8]:
    """Per event: its (profile, title) pair's latest rating, by time, as a :class:`Rating`.

    A title the profile last thumbed down is a dislike however it was played
    before; an evaluation that counted it as a hit would reward a model for
    recommending it. A rating removed since (``thumbs_cleared``) is a rating
    like the others: a thumbs down cleared later is no dislike any more. Ratings
    of one pair at the same time go by :class:`Rating`'s order (a thumbs down
    wins), whatever order they arrive in. One sort of the rating events only.

    Parameters
    ----------
    profile_index, title_index : array of int32, shape (n,)
    timestamp : array of float64, shape (n,)
    thumbs_up, thumbs_down : array of bool, shape (n,)
        Which events are thumbs up and which thumbs down.
    n_titles : int
    thumbs_cleared : array of bool, shape (n,), optional
        Which events removed the rating; none when left out.

    Returns
    -------
    numpy.ndarray of int8, shape (n,)
        ``Rating.NONE`` for the events of a pair never rated.
    """
    keys = _pair_keys(profile_index, title_index, n_titles)
    kind = np.zeros(keys.shape[0], dtype=np.int8)
    kind[np.asarray(thumbs_up, dtype=bool).reshape(-1)] = Rating.UP
    if thumbs_cleared is not None:
        kind[np.asarray(thumbs_cleared, dtype=bool).reshape(-1)] = Rating.CLEARED
    kind[np.asarray(thumbs_down, dtype=bool).reshape(-1)] = Rating.DOWN
    rated = np.flatnonzero(kind)
    if rated.shape[0] == 0:
        return kind
    times = np.asarray(timestamp).reshape(-1)
    # By pair, then time, then kind: each pair's last is its latest, the strongest at a tie.
    order = rated[np.lexsort((kind[rated], times[rated], keys[rated]))]
    ordered_keys = keys[order]
    last = np.r_[ordered_keys[1:] != ordered_keys[:-1], True]
    rated_keys, standing = ordered_keys[last], kind[order[last]]
    at = np.minimum(np.searchsorted(rated_keys, keys), rated_keys.shape[0] - 1)
    return np.where(rated_keys[at] == keys, standing[at], Rating.NONE).astype(np.int8)


def time_holdout(
    *,
    profile_index: npt.ArrayLike,
    timestamp: npt.ArrayLike,
    test_fraction: float = 0.2,
    min_train_events: int = 1,
) -> HoldoutSplit:
    """Hold out each profile's last ``test_fraction`` of events (by time).

    A profile with n events contributes ``ceil(test_fraction * n)`` test
    events, but always keeps at least ``min_train_events`` for training (a
    profile with no training history tests cold start, not the model). Ties
    in time keep the input order; float times are compared to the microsecond
    (a Unix time in seconds from the database has exactly that resolution).

    It is given no kinds, so two ratings of one pair at one instant can fall on
    either side of a profile's cut, by their input order, not by :class:`Rating`'s.
    That is left so: no retrain splits with it (the evaluation cuts with
    :func:`global_time_holdout`, which sends every event at the cut's instant to
    test, so such ratings never straddle it), and a caller that wants the rule
    sorts its events by (time, :class:`Rating`) first, which the kept input order
    then follows.

    Parameters
    ----------
    profile_index : array of int32, shape (n,)
    timestamp : array of float64 or int64, shape (n,)
        Any monotone time (e.g. Unix seconds).
    test_fraction : float
        In (0, 1).
    min_train_events : int

    Returns
    -------
    HoldoutSplit
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be in (0, 1)")
    profiles = np.asarray(profile_index, dtype=np.int64).reshape(-1)
    times = np.asarray(timestamp).reshape(-1)
    if times.shape != profiles.shape:
        raise ValueError("profile_index and timestamp must have the same length")
    n = profiles.shape[0]
    order = _profile_time_order(profiles, times)
    sorted_profiles = profiles[order]
    starts = np.flatnonzero(np.r_[True, sorted_profiles[1:] != sorted_profiles[:-1]]) if n else []
    counts = np.diff(np.r_[starts, n]) if n else np.empty(0, dtype=np.int64)
    group_of = np.repeat(np.arange(len(counts)), counts)
    rank = np.arange(n) - np.repeat(starts, counts)
    n_test = np.minimum(np.ceil(test_fraction * counts).astype(np.int64), counts - min_train_events)
    n_test = np.maximum(n_test, 0)
    is_test_sorted = rank >= (counts - n_test)[group_of]
    test = np.zeros(n, dtype=bool)
    test[order] = is_test_sorted
    return HoldoutSplit(train=~test, test=test)


#: Float times are ordered on a grid this fine (seconds -> microseconds) when one int64 key fits.
_TIME_RESOLUTION = 1e6


def _profile_time_order(
    profiles: npt.NDArray[np.int64], times: npt.NDArray
) -> npt.NDArray[np.intp]:
    """Positions sorted by profile, then time, then input order.

    One stable argsort of a single int64 key (profile in the high bits, time
    relative to the earliest in the low bits) when both fit in 63 bits: three
    times faster than ``numpy.lexsort`` over the three keys, which a retrain
    otherwise pays on millions of signals. Falls back to ``lexsort`` when they
    do not fit (or the times are not finite).
    """
    n = profiles.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.intp)
    if np.issubdtype(times.dtype, np.floating):
        if not np.isfinite(times).all():
            return np.lexsort((np.arange(n), times, profiles))
        ticks = np.rint((times - times.min()) * _TIME_RESOLUTION)
        span = float(ticks.max())
    else:
        ticks = times.astype(np.int64) - int(times.min())
        span = float(ticks.max())
    low = max(int(span).bit_length(), 1)
    high = max(int(profiles.max()).bit_length(), 1) if profiles.min() >= 0 else 64
    if low + high > 63 or span >= 2.0**62:
        return np.lexsort((np.arange(n), times, profiles))
    key = (profiles << low) | ticks.astype(np.int64)
    return np.argsort(key, kind="stable")


def pair_matrix(
    profile_index: npt.ArrayLike, title_index: npt.ArrayLike, *, n_profiles: int, n_titles: int
) -> sp.csr_matrix:
    """(n_profiles, n_titles) bool matrix with True where some event pairs the two.

    Built from the sorted unique pair keys (``profile * n_titles + title``)
    directly, already canonical: no COO conversion, no duplicate summing.
    """
    keys = _pair_keys(profile_index, title_index, n_titles)
    return _keys_matrix(np.unique(keys), n_profiles=n_profiles, n_titles=n_titles)


@dataclass(frozen=True, slots=True)
class PairGrouping:
    """Events grouped by (profile, title) pair.

    Attributes
    ----------
    keys : numpy.ndarray of int64, shape (n_pairs,)
        ``profile * n_titles + title`` of each distinct pair, ascending.
    of : numpy.ndarray of intp, shape (n,)
        Each event's position in ``keys``.
    """

    keys: npt.NDArray[np.int64]
    of: npt.NDArray[np.intp]


def pair_grouping(
    profile_index: npt.ArrayLike, title_index: npt.ArrayLike, *, n_titles: int
) -> PairGrouping:
    """Group events by pair: one sort of their keys, which a retrain then reuses for the
    confidence of every part of a split and for the split's matrices."""
    keys, of = np.unique(_pair_keys(profile_index, title_index, n_titles), return_inverse=True)
    return PairGrouping(keys=keys, of=of.reshape(-1))


def _pair_keys(
    profile_index: npt.ArrayLike, title_index: npt.ArrayLike, n_titles: int
) -> npt.NDArray[np.int64]:
    profiles = np.asarray(profile_index, dtype=np.int64).reshape(-1)
    titles = np.asarray(title_index, dtype=np.int64).reshape(-1)
    return profiles * n_titles + titles


def _keys_matrix(keys: npt.NDArray[np.int64], *, n_profiles: int, n_titles: int) -> sp.csr_matrix:
    """The bool matrix of sorted unique pair keys."""
    rows = keys // max(n_titles, 1)
    indptr = np.searchsorted(rows, np.arange(n_profiles + 1))
    return sp.csr_matrix(
        (np.ones(keys.shape[0], dtype=bool), (keys % max(n_titles, 1)).astype(np.int32), indptr),
        shape=(n_profiles, n_titles),
    )


def holdout_matrices(
    split: HoldoutSplit,
    *,
    profile_index: npt.ArrayLike,
    title_index: npt.ArrayLike,
    n_profiles: int,
    n_titles: int,
    counts: npt.ArrayLike | None = None,
    pairs: PairGrouping | None = None,
    engaged: npt.ArrayLike | None = None,
    disliked: npt.ArrayLike | None = None,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """What each profile went on to watch that it had not seen, and what it had seen.

    Parameters
    ----------
    split : HoldoutSplit
    profile_index, title_index : array of int32, shape (n,)
        The same events the split was made from.
    n_profiles, n_titles : int
    counts : array of bool, shape (n,), optional
        Test events that count as relevant (e.g. plays, not hovers); all by default.
    pairs : PairGrouping, optional
        :func:`pair_grouping` of the same events, when the caller has it: the
        matrices then take two counts over the pairs instead of two sorts.
    engaged : array of bool, shape (n,), optional
        Training events that make a title "seen" (e.g. plays and thumbs, not
        impressions or hovers: a title the profile was only shown is still news
        to it); all by default.
    disliked : array of bool, shape (n,), optional
        Events whose pair is never relevant, whatever else it has (e.g.
        ``latest_rating(...) == Rating.DOWN``); none by default.

    Returns
    -------
    relevant : scipy.sparse.csr_matrix of bool, shape (n_profiles, n_titles)
        Titles of counted test events that no engaged training event of the
        profile names and that are not disliked: recommending what a profile is
        already watching is the continue-watching row's job, and would let every
        model score by repeating history.
    seen : scipy.sparse.csr_matrix of bool, same shape
        Titles of the engaged training events.
    """
    tested = split.test if counts is None else split.test & np.asarray(counts, dtype=bool)
    trains = split.train if engaged is None else split.train & np.asarray(engaged, dtype=bool)
    vetoed = None if disliked is None else np.asarray(disliked, dtype=bool).reshape(-1)
    if pairs is not None:
        n_pairs = pairs.keys.shape[0]
        trained = np.bincount(pairs.of[trains], minlength=n_pairs) > 0
        held_out = np.bincount(pairs.of[tested], minlength=n_pairs) > 0
        if vetoed is not None:
            held_out &= np.bincount(pairs.of[vetoed], minlength=n_pairs) == 0
        seen_keys, relevant_keys = pairs.keys[trained], pairs.keys[held_out & ~trained]
    else:
        keys = _pair_keys(profile_index, title_index, n_titles)
        seen_keys = np.unique(keys[trains])
        relevant_keys = np.setdiff1d(np.unique(keys[tested]), seen_keys, assume_unique=True)
        if vetoed is not None:
            relevant_keys = np.setdiff1d(relevant_keys, keys[vetoed])
    shape = {"n_profiles": n_profiles, "n_titles": n_titles}
    return _keys_matrix(relevant_keys, **shape), _keys_matrix(seen_keys, **shape)


def holdout_relevance(
    split: HoldoutSplit,
    *,
    profile_index: npt.ArrayLike,
    title_index: npt.ArrayLike,
    n_profiles: int,
    n_titles: int,
    exclude_seen: bool = True,
) -> sp.csr_matrix:
    """Relevance matrix of the test events: what each profile went on to watch.

    Parameters
    ----------
    split : HoldoutSplit
    profile_index, title_index : array of int32, shape (n,)
        The same events the split was made from.
    n_profiles, n_titles : int
    exclude_seen : bool
        Drop titles the profile already had in training: recommending what a
        profile is already watching is the continue-watching row's job, and
        would let every model score by repeating history.

    Returns
    -------
    scipy.sparse.csr_matrix of bool, shape (n_profiles, n_titles)
    """
    if exclude_seen:
        return holdout_matrices(
            split,
            profile_index=profile_index,
            title_index=title_index,
            n_profiles=n_profiles,
            n_titles=n_titles,
        )[0]
    keys = _pair_keys(profile_index, title_index, n_titles)
    return _keys_matrix(np.unique(keys[split.test]), n_profiles=n_profiles, n_titles=n_titles)
