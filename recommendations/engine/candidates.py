"""Candidate generation for one profile: a few hundred titles out of the whole catalogue.

Several generators each propose their best titles: collaborative filtering
(the folded-in ALS scores), content affinity, trending in the profile's
cluster and region, new releases, and continue-watching. The pool is the
union, which the ranker then orders. When they leave the pool short (a new
Kids profile: no history, and few titles within its limit are being watched
now), the rest of the eligible catalogue fills it, so that a page never
comes out empty while the profile may watch titles it has not been offered.

Every step is a vector operation over the catalogue (masks,
``numpy.argpartition``), never a Python loop over titles, so a 15,000-title
catalogue costs well under a millisecond.

The hard filters are applied here, once, for every generator: a title that is
not available in the profile's region now, is above the profile's maturity
limit, was thumbs-downed, is too close to a thumbs-downed title
(``dislike_penalty >= suppress_penalty``) or was completed (unless
rewatch-worthy) never enters the pool. Softer dislike penalties push a title
down inside each generator's list instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = [
    "ALL_SOURCES",
    "SOURCE_ORDER",
    "CandidatePool",
    "CandidateQuotas",
    "Source",
    "eligible_titles",
    "generate_candidates",
]


class Source(IntFlag):
    """Which generators proposed a candidate (bits of :attr:`CandidatePool.sources`)."""

    CF = 1
    CONTENT = 2
    TRENDING = 4
    NEW_RELEASE = 8
    CONTINUE_WATCHING = 16
    #: Not a generator: the fill of a pool the generators left short (no score column).
    CATALOGUE = 32


#: Column order of :attr:`CandidatePool.scores`, and the top-up priority order.
SOURCE_ORDER: tuple[Source, ...] = (
    Source.CF,
    Source.CONTENT,
    Source.TRENDING,
    Source.NEW_RELEASE,
    Source.CONTINUE_WATCHING,
)
#: Every bit of :attr:`CandidatePool.sources`, in the order their names are listed.
ALL_SOURCES: tuple[Source, ...] = (*SOURCE_ORDER, Source.CATALOGUE)


@dataclass(frozen=True, slots=True)
class CandidateQuotas:
    """How many titles each generator proposes; the pool size is a setting (default 500).

    Quotas are relative: they are rescaled over the generators that have
    input for this profile so that they add up to ``pool_size`` (a profile
    unknown to the collaborative model gives CF's share to the others). When
    generators overlap, the pool is topped up from the next-best titles of
    each generator in :data:`SOURCE_ORDER`.
    """

    cf: int = 250
    content: int = 120
    trending: int = 80
    new_release: int = 30
    continue_watching: int = 20
    pool_size: int = 500

    def __post_init__(self) -> None:
        if min(self.cf, self.content, self.trending, self.new_release, self.continue_watching) < 0:
            raise ValueError("quotas must be non-negative")
        if self.pool_size < 1:
            raise ValueError("pool_size must be positive")

    def of(self, source: Source) -> int:
        """The quota of one generator."""
        return {
            Source.CF: self.cf,
            Source.CONTENT: self.content,
            Source.TRENDING: self.trending,
            Source.NEW_RELEASE: self.new_release,
            Source.CONTINUE_WATCHING: self.continue_watching,
        }[source]


@dataclass(frozen=True, slots=True)
class CandidatePool:
    """The candidates of one profile for one request.

    Attributes
    ----------
    indices : numpy.ndarray of int32, shape (m,)
        Candidate title indices, ascending; ``m <= pool_size``.
    sources : numpy.ndarray of uint8, shape (m,)
        Bitmask of :class:`Source` values: which generators proposed each
        (:attr:`Source.CATALOGUE` alone for a title only the fill brought).
    scores : numpy.ndarray of float32, shape (m, 5)
        Each generator's raw score of each candidate, columns in
        :data:`SOURCE_ORDER` (0.0 where a generator had no input). The ranker
        uses these as features whichever generator proposed the title.
    dislike_penalty : numpy.ndarray of float32, shape (m,)
        The thumbs-down penalty of each candidate (below ``suppress_penalty``).
    """

    indices: npt.NDArray[np.int32]
    sources: npt.NDArray[np.uint8]
    scores: npt.NDArray[np.float32]
    dislike_penalty: npt.NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def proposed_by(self, source: Source) -> npt.NDArray[np.bool_]:
        """Mask of the candidates that ``source`` proposed, shape (m,)."""
        return (self.sources & np.uint8(source)) != 0

    def score_of(self, source: Source) -> npt.NDArray[np.float32]:
        """One generator's score column, shape (m,)."""
        return self.scores[:, SOURCE_ORDER.index(source)]

    @staticmethod
    def source_names(bits: int) -> tuple[str, ...]:
        """Lower-case generator names in a bitmask, e.g. ``("cf", "trending")``."""
        return tuple(source.name.lower() for source in ALL_SOURCES if bits & source)


def _dense(
    name: str, vector: npt.ArrayLike | sp.spmatrix, n_titles: int, dtype: type
) -> np.ndarray:
    if sp.issparse(vector):
        # Scatter by hand: a (1 x n) sparse row's toarray() costs ~0.2 ms, this ~10 us.
        row = sp.csr_matrix(vector)
        if row.shape[0] != 1:
            raise ValueError(f"{name} must be a single row, got shape {row.shape}")
        array = np.zeros(row.shape[1], dtype=dtype)
        np.add.at(array, row.indices, row.data.astype(dtype))
    else:
        array = np.asarray(vector).astype(dtype, copy=False).reshape(-1)
    if array.shape[0] != n_titles:
        raise ValueError(f"{name} has {array.shape[0]} entries, expected {n_titles}")
    return array


def eligible_titles(
    *,
    available: npt.ArrayLike,
    within_maturity: npt.ArrayLike,
    disliked: npt.ArrayLike | None = None,
    completed: npt.ArrayLike | None = None,
    rewatch_worthy: npt.ArrayLike | None = None,
    dislike_penalty: npt.ArrayLike | sp.spmatrix | None = None,
    suppress_penalty: float = 0.5,
    in_progress: npt.ArrayLike | None = None,
) -> npt.NDArray[np.bool_]:
    """The titles any generator may propose to this profile now.

    Parameters
    ----------
    available : array of bool, shape (n_titles,)
        Inside an availability window of the profile's region right now.
    within_maturity : array of bool, shape (n_titles,)
        At or below the profile's maturity limit.
    disliked : array of bool, shape (n_titles,), optional
        The profile's latest thumbs on the title is down.
    completed : array of bool, shape (n_titles,), optional
        The profile has completed the title (film, or series).
    rewatch_worthy : array of bool, shape (n_titles,), optional
        Completed titles that may come back ("Watch Again"): e.g. rewatched
        before or thumbed up.
    dislike_penalty : array of float32 or sparse (1, n_titles), optional
        From :func:`recommendations.engine.confidence.dislike_penalty_of`
        (dense, fastest) or a row of :func:`~recommendations.engine.confidence.dislike_penalties`.
    suppress_penalty : float
        Titles at or above this penalty are removed.
    in_progress : array of bool, shape (n_titles,), optional
        Titles the profile is midway through. None is removed for a dislike
        penalty: the profile chose to watch it, and a thumbs down on a similar
        title took a film left at 35% out of Continue Watching (and off the
        page) while ``/continue-watching/`` still listed it. Its own thumbs
        down (``disliked``) still removes it.

    Returns
    -------
    numpy.ndarray of bool, shape (n_titles,)
    """
    eligible = np.asarray(available, dtype=bool).reshape(-1).copy()
    n_titles = eligible.shape[0]
    eligible &= _dense("within_maturity", within_maturity, n_titles, bool)
    if disliked is not None:
        eligible &= ~_dense("disliked", disliked, n_titles, bool)
    if completed is not None:
        done = _dense("completed", completed, n_titles, bool)
        if rewatch_worthy is not None:
            done &= ~_dense("rewatch_worthy", rewatch_worthy, n_titles, bool)
        eligible &= ~done
    if dislike_penalty is not None:
        kept = _dense("dislike_penalty", dislike_penalty, n_titles, np.float32) < suppress_penalty
        if in_progress is not None:
            kept |= _dense("in_progress", in_progress, n_titles, bool)
        eligible &= kept
    return eligible


def _ranked(scores: np.ndarray, proposable: np.ndarray, limit: int) -> np.ndarray:
    """The ``limit`` best ``proposable`` titles by ``scores``, best first, ties by title index.

    One ``argpartition`` over the catalogue (or over the proposable subset
    when it is small, as for new releases), then a sort of the ``limit``
    winners only. ``argpartition`` picks arbitrarily among titles tied at the
    edge, which trending counts and a new region's all-zero fill are full of;
    its pick then depended on the rest of the vector, not on the titles.
    """
    n_proposable = int(np.count_nonzero(proposable))
    if n_proposable <= limit or 4 * n_proposable < proposable.shape[0]:
        subset = np.flatnonzero(proposable)
        if n_proposable > limit:
            subset = subset[_best(scores[subset], limit)]
    else:
        subset = _best(np.where(proposable, scores, -np.inf), limit)
    subset = np.sort(subset)  # the stable sort below then keeps ties in title order
    return subset[np.argsort(-scores[subset], kind="stable")]


def _best(values: np.ndarray, limit: int) -> np.ndarray:
    """Positions of the ``limit`` largest ``values`` (``limit < len(values)``), of those
    tied at the edge the first.

    Telling whether the edge is tied is one comparison over the vector; only a tied edge
    pays another. Measured at 15,000 titles, six generators with heavily tied counts:
    ``generate_candidates`` 223 -> 254 us. Partitioning at two places instead (the edge and
    the one below, ``(cut - 1, cut)``), which needs no comparison, took 491 us there:
    numpy's selection with two places is slow on a vector just made.
    """
    top = np.argpartition(values, values.shape[0] - limit)[-limit:]
    edge = values[top].min()
    if np.count_nonzero(values >= edge) > limit:
        above = top[values[top] > edge]  # all of them: each beats the partition's edge
        top = np.concatenate([above, np.flatnonzero(values == edge)[: limit - above.shape[0]]])
    return top


def generate_candidates(
    *,
    available: npt.ArrayLike,
    within_maturity: npt.ArrayLike,
    disliked: npt.ArrayLike | None = None,
    completed: npt.ArrayLike | None = None,
    rewatch_worthy: npt.ArrayLike | None = None,
    dislike_penalty: npt.ArrayLike | sp.spmatrix | None = None,
    cf: npt.ArrayLike | None = None,
    content: npt.ArrayLike | None = None,
    trending: npt.ArrayLike | None = None,
    new_release: npt.ArrayLike | None = None,
    continue_watching: npt.ArrayLike | None = None,
    fill: npt.ArrayLike | None = None,
    quotas: CandidateQuotas | None = None,
    suppress_penalty: float = 0.5,
) -> CandidatePool:
    """Union of each generator's best eligible titles, for one profile.

    Every score vector covers the whole catalogue, shape (n_titles,);
    ``None`` means the generator has nothing for this profile (a profile
    unknown to the collaborative model has no ``cf``). CF may propose any
    eligible title with a finite score; the other generators only titles
    with a positive score (no affinity, not trending, not new, not in
    progress means "not proposed"). Within each generator, a title's score
    is pushed down by its dislike penalty: ``s - penalty * |s|``.

    Parameters
    ----------
    available, within_maturity, disliked, completed, rewatch_worthy, dislike_penalty
        As for :func:`eligible_titles`.
    cf : array of float32, shape (n_titles,), optional
        Collaborative scores (:meth:`CollaborativeModel.scores` of the folded-in factor).
    content : array of float32, shape (n_titles,), optional
        Content affinity (:meth:`ContentModel.affinity_of`), possibly
        blended with "because you watched" neighbour scores.
    trending : array of float32, shape (n_titles,), optional
        Trending in the profile's cluster (or region when the cluster is thin).
    new_release : array of float32, shape (n_titles,), optional
        :func:`recommendations.engine.popularity.new_release_scores`.
    continue_watching : array of float32 or bool, shape (n_titles,), optional
        > 0 for titles in progress (e.g. recency of the last viewing).
    fill : array of float32, shape (n_titles,), optional
        The order in which the rest of the eligible catalogue fills a pool the
        generators left short of ``pool_size`` (e.g. the region's popularity;
        ties by title index), marked :attr:`Source.CATALOGUE`. The generators
        only propose what some evidence favours, and for a profile with no
        history whose maturity limit leaves few titles being watched now,
        that was a handful of titles and a homepage of one row, or none.
        ``None``: the pool is what the generators proposed.
    quotas : CandidateQuotas, optional
    suppress_penalty : float

    Returns
    -------
    CandidatePool
    """
    quotas = quotas or CandidateQuotas()
    n_titles = np.asarray(available).reshape(-1).shape[0]
    penalty = (
        np.zeros(n_titles, dtype=np.float32)
        if dislike_penalty is None
        else _dense("dislike_penalty", dislike_penalty, n_titles, np.float32)
    )
    eligible = eligible_titles(
        available=available,
        within_maturity=within_maturity,
        disliked=disliked,
        completed=completed,
        rewatch_worthy=rewatch_worthy,
        dislike_penalty=penalty,
        suppress_penalty=suppress_penalty,
        in_progress=(
            None
            if continue_watching is None
            else _dense("continue_watching", continue_watching, n_titles, np.float32) > 0
        ),
    )
    penalised = np.flatnonzero(penalty)  # few titles: push them down in place, not everywhere
    inputs = dict(
        zip(SOURCE_ORDER, (cf, content, trending, new_release, continue_watching), strict=True)
    )

    raw: dict[Source, np.ndarray] = {}
    ordered: dict[Source, np.ndarray] = {}
    for source, vector in inputs.items():
        if vector is None:
            continue
        scores = _dense(source.name.lower(), vector, n_titles, np.float32)
        usable = eligible & np.isfinite(scores)
        if source is not Source.CF:
            usable &= scores > 0
        if not usable.any():
            continue
        raw[source] = scores
        pushed = scores
        if penalised.size:
            pushed = scores.copy()
            pushed[penalised] -= penalty[penalised] * np.abs(scores[penalised])
        # Each generator's list is ranked once, deep enough for its share and any top-up.
        ordered[source] = _ranked(pushed, usable, quotas.pool_size)

    # Rescale the quotas over the generators that have something to propose.
    shares = np.array([quotas.of(source) for source in ordered], dtype=np.float64)
    if shares.sum() > 0:
        shares = np.floor(shares * quotas.pool_size / shares.sum())
    bits = np.zeros(n_titles, dtype=np.uint8)
    for source, share in zip(ordered, shares.astype(np.int64), strict=True):
        bits[ordered[source][:share]] |= np.uint8(source)

    # Overlapping generators leave room: top up with each generator's next best.
    for source, share in zip(ordered, shares.astype(np.int64), strict=True):
        room = quotas.pool_size - int(np.count_nonzero(bits))
        if room <= 0:
            break
        rest = ordered[source][share:]
        rest = rest[bits[rest] == 0][:room]
        bits[rest] |= np.uint8(source)

    room = quotas.pool_size - int(np.count_nonzero(bits)) if fill is not None else 0
    if room > 0:
        unproposed = eligible & (bits == 0)
        if unproposed.any():
            order = _dense("fill", fill, n_titles, np.float32)
            bits[_ranked(order, unproposed, room)] = np.uint8(Source.CATALOGUE)

    indices = np.flatnonzero(bits).astype(np.int32)
    scores = np.zeros((indices.shape[0], len(SOURCE_ORDER)), dtype=np.float32)
    for column, source in enumerate(SOURCE_ORDER):
        if source in raw:
            scores[:, column] = raw[source][indices]
    return CandidatePool(
        indices=indices,
        sources=bits[indices],
        scores=scores,
        dislike_penalty=penalty[indices],
    )
