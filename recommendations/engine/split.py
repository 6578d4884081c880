"""Time-based holdout: each profile's most recent activity is what a model must predict.

A random split leaks the future into training (a model learns next week's
hit from next week's plays) and flatters every model; holding out each
profile's *last* fraction of activity asks the question serving faces:
given everything up to now, what will this profile watch next?
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["HoldoutSplit", "holdout_relevance", "time_holdout"]


@dataclass(frozen=True, slots=True)
class HoldoutSplit:
    """Which events train and which test.

    Attributes
    ----------
    train : numpy.ndarray of bool, shape (n,)
    test : numpy.ndarray of bool, shape (n,)
        Complements of each other.
    """

    train: npt.NDArray[np.bool_]
    test: npt.NDArray[np.bool_]


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
    in time keep the input order.

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
    order = np.lexsort((np.arange(n), times, profiles))  # by profile, then time, then input order
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
    profiles = np.asarray(profile_index, dtype=np.int64).reshape(-1)
    titles = np.asarray(title_index, dtype=np.int64).reshape(-1)
    shape = (n_profiles, n_titles)
    ones = np.ones(int(split.test.sum()), dtype=bool)
    relevant = sp.csr_matrix((ones, (profiles[split.test], titles[split.test])), shape=shape)
    if exclude_seen:
        seen_ones = np.ones(int(split.train.sum()), dtype=bool)
        seen = sp.csr_matrix((seen_ones, (profiles[split.train], titles[split.train])), shape=shape)
        relevant = relevant > seen
    relevant = sp.csr_matrix(relevant, dtype=bool)
    relevant.eliminate_zeros()
    relevant.sort_indices()
    return relevant
