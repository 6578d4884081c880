"""Offline ranking metrics: NDCG@k, Recall@k and catalogue coverage, vectorised over users.

Relevance is binary (a held-out title the profile engaged with is relevant),
as in the evaluation of ``implicit`` and most implicit-feedback literature.
All functions take a recommendation matrix, one row per user, best first,
padded with -1 where a user got fewer than k titles, and a sparse relevance
matrix; users without any relevant title have no defined score (NaN) and are
left out of the means, because counting them as 0 would reward nothing and
punish every model equally, hiding real differences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = [
    "PairedDifference",
    "RankingMetrics",
    "catalogue_coverage",
    "evaluate",
    "hits",
    "ndcg_at_k",
    "paired_difference",
    "recall_at_k",
    "top_k",
]


#: Columns per block of :func:`top_k`'s threshold: the ``k``-th largest block maximum bounds the
#: ``k``-th largest score from below, so only the few scores above it are sorted.
_TOP_K_BLOCK = 32


def top_k(
    scores: npt.ArrayLike,
    k: int,
    *,
    exclude: sp.spmatrix | None = None,
    overwrite: bool = False,
) -> npt.NDArray[np.int32]:
    """The ``k`` best-scored titles per user, best first.

    ``numpy.argpartition`` over every score costs about as much as computing
    the scores; a retrain ranks tens of thousands of held-out profiles against
    the whole catalogue several times. Instead, the maxima of blocks of
    :data:`_TOP_K_BLOCK` columns give each user a threshold that at least ``k``
    scores reach (the ``k``-th largest block maximum), and only the scores at or
    above it, a few dozen per user, are sorted: two vectorised passes over the
    matrix instead of a selection per row. If a user's scores are so tied that
    too many pass the threshold, the selection falls back to a partition per row (ties at
    the k-th score still go to the lowest title index, as in the sorted path).

    Parameters
    ----------
    scores : array of float32, shape (n_users, n_titles)
        One block of users at a time (the caller batches a large population).
    k : int
    exclude : sparse matrix, shape (n_users, n_titles), optional
        Titles never to recommend to that user (e.g. seen in training).
    overwrite : bool
        ``scores`` (a float32 array) may be written over: the caller is done
        with it. Saves copying the block, one of the few passes over it.

    Returns
    -------
    numpy.ndarray of int32, shape (n_users, k)
        -1 pads rows with fewer than ``k`` recommendable titles.
    """
    in_place = (
        overwrite
        and isinstance(scores, np.ndarray)
        and scores.dtype == np.float32
        and scores.ndim == 2
        and scores.flags.c_contiguous
        and scores.flags.writeable
    )
    # Excluded cells are overwritten: a copy unless the caller gave its block away.
    matrix = scores if in_place else np.array(scores, dtype=np.float32, ndmin=2)
    n_users, n_titles = matrix.shape
    if exclude is not None:
        blocked = sp.csr_matrix(exclude)
        if blocked.shape != matrix.shape:
            raise ValueError("exclude must have the shape of scores")
        rows = np.repeat(np.arange(n_users), np.diff(blocked.indptr))
        matrix[rows, blocked.indices] = -np.inf
    result = np.full((n_users, k), -1, dtype=np.int32)
    kept = min(k, n_titles)
    if n_users == 0 or kept == 0:
        return result
    starts = np.arange(0, n_titles, _TOP_K_BLOCK)
    block_max = np.maximum.reduceat(matrix, starts, axis=1) if starts.shape[0] > kept else None
    # NaN and +inf never rank. Both survive into their block's maximum, so the maxima say
    # whether the whole matrix needs the (rare) fix, without a pass of its own.
    suspect = block_max is None or np.isnan(block_max).any() or (block_max == np.inf).any()
    if suspect and not np.isfinite(matrix).all():
        matrix[~np.isfinite(matrix)] = -np.inf
        if block_max is not None:
            block_max = np.maximum.reduceat(matrix, starts, axis=1)
    if block_max is not None:
        cut = starts.shape[0] - kept
        threshold = np.partition(block_max, cut, axis=1)[:, cut]
        passing = np.flatnonzero(matrix >= threshold[:, np.newaxis])
    else:
        passing = np.arange(matrix.size)
    if passing.shape[0] <= 8 * kept * n_users + n_titles:
        rows, cols = np.divmod(passing, n_titles)
    else:  # heavy ties: select per row instead
        # Each row's k-th largest score, then everything above it and, of the titles tied
        # at it, the lowest-numbered: argpartition's own pick among the tied ones depended
        # on the rest of the block, so a user's list changed with the users batched with it.
        kth = np.partition(matrix, n_titles - kept, axis=1)[:, n_titles - kept, np.newaxis]
        above = matrix > kth
        tied = matrix == kth
        room = kept - np.count_nonzero(above, axis=1)
        first_tied = np.cumsum(tied, axis=1, dtype=np.int32) <= room[:, np.newaxis]
        rows, cols = np.nonzero(above | (tied & first_tied))
    values = matrix[rows, cols]
    order = np.lexsort((cols, -values, rows))  # by user, then score descending, then title
    rows, cols, values = rows[order], cols[order], values[order]
    rank = np.arange(rows.shape[0]) - np.searchsorted(rows, rows)
    keep = (rank < kept) & np.isfinite(values)
    result[rows[keep], rank[keep]] = cols[keep]
    return result


def hits(recommended: npt.ArrayLike, relevant: sp.spmatrix) -> npt.NDArray[np.bool_]:
    """Whether each recommended title is relevant to its user.

    A title listed twice for a user is a hit where it first appears only: NDCG and
    recall count it once, as a viewer finds it once. Counted at each place, a list
    repeating a relevant title scored above one that found another (user with one
    relevant title: NDCG@3 of 1.63 for it at ranks 1 and 2), and recall could pass 1.

    Parameters
    ----------
    recommended : array of int, shape (n_users, k)
        Title indices, best first; -1 is padding (never a hit).
    relevant : sparse matrix, shape (n_users, n_titles)
        Non-zero where the title is relevant to the user.

    Returns
    -------
    numpy.ndarray of bool, shape (n_users, k)
    """
    recs = np.array(recommended, dtype=np.int64, ndmin=2)
    truth = sp.coo_matrix(relevant)
    if recs.shape[0] != truth.shape[0]:
        raise ValueError("recommended and relevant must have one row per user")
    n_titles = truth.shape[1]
    nonzero = truth.data != 0
    truth_keys = truth.row[nonzero].astype(np.int64) * n_titles + truth.col[nonzero]
    users = np.arange(recs.shape[0], dtype=np.int64)[:, np.newaxis]
    keys = users * n_titles + recs
    hit = np.isin(keys, truth_keys) & (recs >= 0)
    # A repeat can only matter where it is a hit, and hits are few: the first of each
    # (user, title) among them, row-major, is the leftmost in the user's list.
    at = np.flatnonzero(hit)
    _, first = np.unique(keys.reshape(-1)[at], return_index=True)
    if first.shape[0] < at.shape[0]:
        hit = np.zeros(hit.shape, dtype=bool)
        hit.reshape(-1)[at[first]] = True
    return hit


def _relevant_counts(relevant: sp.spmatrix) -> np.ndarray:
    return np.diff(sp.csr_matrix(relevant != 0).indptr)


def ndcg_at_k(recommended: npt.ArrayLike, relevant: sp.spmatrix, k: int) -> npt.NDArray[np.float64]:
    """Binary-relevance NDCG@k per user.

    ``DCG = sum_{i<k} hit_i / log2(i + 2)``, divided by the DCG of an ideal
    list that puts ``min(k, |relevant|)`` relevant titles first.

    Returns
    -------
    numpy.ndarray of float64, shape (n_users,)
        In [0, 1]; NaN for users without relevant titles.
    """
    hit = hits(np.array(recommended, ndmin=2)[:, :k], relevant)
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = hit.astype(np.float64) @ discounts[: hit.shape[1]]
    n_relevant = _relevant_counts(relevant)
    ideal_cumulative = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cumulative[np.minimum(n_relevant, k)]
    return np.divide(dcg, idcg, out=np.full(dcg.shape, np.nan), where=idcg > 0)


def recall_at_k(
    recommended: npt.ArrayLike, relevant: sp.spmatrix, k: int
) -> npt.NDArray[np.float64]:
    """Recall@k per user: relevant titles found in the top k / all relevant titles.

    Returns
    -------
    numpy.ndarray of float64, shape (n_users,)
        In [0, 1]; NaN for users without relevant titles.
    """
    found = hits(np.array(recommended, ndmin=2)[:, :k], relevant).sum(axis=1).astype(np.float64)
    n_relevant = _relevant_counts(relevant).astype(np.float64)
    return np.divide(found, n_relevant, out=np.full(found.shape, np.nan), where=n_relevant > 0)


def catalogue_coverage(recommended: npt.ArrayLike, n_titles: int, k: int | None = None) -> float:
    """Share of the catalogue recommended to at least one user (in each user's top k).

    Returns
    -------
    float
        In [0, 1].
    """
    recs = np.array(recommended, dtype=np.int64, ndmin=2)
    if k is not None:
        recs = recs[:, :k]
    shown = np.unique(recs[recs >= 0])
    return float(shown.shape[0]) / float(n_titles) if n_titles else 0.0


@dataclass(frozen=True, slots=True)
class RankingMetrics:
    """Means over users with at least one relevant title.

    Attributes
    ----------
    ndcg_at_10, recall_at_10, recall_at_20 : float
    coverage_at_10 : float
        :func:`catalogue_coverage` of everyone's top 10.
    n_users : int
        Users the means are over.
    """

    ndcg_at_10: float
    recall_at_10: float
    recall_at_20: float
    coverage_at_10: float
    n_users: int


def evaluate(recommended: npt.ArrayLike, relevant: sp.spmatrix, n_titles: int) -> RankingMetrics:
    """The figures of ``manage.py evaluate_recommendations`` for one model.

    Parameters
    ----------
    recommended : array of int, shape (n_users, >= 20)
    relevant : sparse matrix, shape (n_users, n_titles)
    n_titles : int
    """
    recs = np.array(recommended, ndmin=2)
    if recs.shape[1] < 20:
        raise ValueError("recommended needs at least 20 titles per user")
    ndcg = ndcg_at_k(recs, relevant, 10)
    evaluated = ~np.isnan(ndcg)
    return RankingMetrics(
        ndcg_at_10=float(np.nanmean(ndcg)) if evaluated.any() else 0.0,
        recall_at_10=float(np.nanmean(recall_at_k(recs, relevant, 10))) if evaluated.any() else 0.0,
        recall_at_20=float(np.nanmean(recall_at_k(recs, relevant, 20))) if evaluated.any() else 0.0,
        coverage_at_10=catalogue_coverage(recs, n_titles, k=10),
        n_users=int(evaluated.sum()),
    )


def critical_value(z: float, n: int | None) -> float:
    """The multiple of a paired standard error that carries the one-sided confidence ``z``
    carries for a normal mean, when the standard error is estimated from ``n`` differences.

    With a few dozen profiles the standard error is itself a noisy estimate: the
    Student t quantile with ``n - 1`` degrees of freedom (1.73 at 19 profiles, 2.35 at
    4, 6.3 at 2 for ``z`` 1.64) widens the doubt as the sample shrinks, where ``z``
    alone claimed its nominal confidence at any size. ``n`` ``None`` (or below 2, or
    ``z`` 0) returns ``z`` itself.
    """
    if z == 0.0 or n is None or n < 2:
        return z
    # Imported here: scipy.stats costs half a second, and admin's import of this module
    # would add it to every manage.py command and probe (compose's healthchecks among them).
    from scipy import stats

    return float(stats.t.ppf(stats.norm.cdf(z), df=n - 1))


@dataclass(frozen=True, slots=True)
class PairedDifference:
    """The mean over users of ``a - scale * b``, two models scored on the same users.

    Pairing removes what the users share (how easy each one's held-out titles
    are to find), which is most of the spread of either model's own figure.

    Attributes
    ----------
    n : int
        Users with both scores defined.
    mean : float
        NaN when ``n`` is 0.
    se : float
        Standard error of ``mean``: the differences' sample standard deviation over
        ``sqrt(n)``. NaN when ``n`` < 2 (one user says nothing about the spread).
    """

    n: int
    mean: float
    se: float


def paired_difference(
    a: npt.ArrayLike, b: npt.ArrayLike, *, scale: float = 1.0
) -> PairedDifference:
    """Mean and standard error of ``a - scale * b`` over users whose two scores are defined.

    Parameters
    ----------
    a, b : array of float, shape (n_users,)
        Per-user scores (e.g. :func:`ndcg_at_k`), NaN where undefined, aligned by user.
    scale : float
        Weight of ``b`` (``1 - margin`` to test "``a`` at least ``1 - margin`` of ``b``").
    """
    first = np.asarray(a, dtype=np.float64)
    second = np.asarray(b, dtype=np.float64)
    if first.shape != second.shape or first.ndim != 1:
        raise ValueError("a and b must be vectors of the same users")
    both = ~(np.isnan(first) | np.isnan(second))
    differences = first[both] - scale * second[both]
    n = int(differences.shape[0])
    mean = float(differences.mean()) if n else float("nan")
    se = float(differences.std(ddof=1) / np.sqrt(n)) if n >= 2 else float("nan")
    return PairedDifference(n=n, mean=mean, se=se)
