"""What signals are worth: turning a batch of behavioural signals into confidence.

The collaborative model learns from one number per (profile, title): how sure we
are that the profile likes the title (Hu, Koren & Volinsky's "confidence").
This module is the single place that decides that number, so the orderings the
product promises (DESIGN.md, "Signals and what they mean") are stated once, in
:class:`SignalWeights`, and tested rule by rule in ``tests/engine``.

How one (profile, title) pair's positive confidence is built from its signals,
each signal first multiplied by its time decay ``0.5 ** (age_days / half_life)``:

========================  =================================================================
component                 value
========================  =================================================================
plays                     ``log2(1 + sum(kind weight x decay))`` over play_start (1.0),
                          search_play and external_play (2.0 each, intentional) that are
                          not rewatches; sublinear so a binge of episode starts counts
                          more than one start, but not ten times more
progress                  ``progress x max(percent / 100 x decay)``: checkpoints of one
                          viewing must not add up, so the furthest one counts
completion                ``complete x max(commitment_factor(hours) x decay)``; the largest
                          unit finished counts (a season over one of its episodes)
rewatch                   ``rewatch x sum(rewatch_decay)``, a play of something already
                          completed; each is a deliberate choice to spend hours again, so
                          they add up and decay with their own, longer half-life
thumbs up                 ``thumbs_up x explicit_decay`` if the pair's latest rating is up
weak                      ``min(weak_cap, hover x sum(decay) + preview x sum(decay))``:
                          any number of hovers stays below one play
impression                nothing: being shown is not evidence of liking
========================  =================================================================

A pair's rating is its latest thumbs up, thumbs down or thumbs cleared (a
rating removed). A pair whose latest rating is *down* gets no positive
confidence at all (the thumbs down wipes plays and completions) and a
negative-evidence entry ``thumbs_down x explicit_decay`` instead. One whose
latest rating is cleared has no explicit evidence either way: its plays and
completions count as if it had never been rated. A pair that was only shown (at least
``ignored_min_impressions`` times) and never engaged with gets an "ignored"
entry: mild evidence of disinterest, useful to the rankers as impression
fatigue, deliberately kept apart from the thumbs-down matrix so that filters
and propagation only ever act on explicit dislikes.

The commitment factor is ``log1p(hours) / log1p(reference_hours)``: a 2-hour
film is 1.0, a 10-hour season about 2.2, a 50-hour series about 3.6. It grows
with commitment (finishing more hours is stronger evidence) but sublinearly, so
one long series cannot drown a profile's whole film history.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recommendations.engine.csr_gather import gather_rows
from recommendations.engine.split import PairGrouping, pair_grouping

__all__ = [
    "ConfidenceMatrices",
    "ConfidenceRow",
    "ScrollPenalties",
    "SignalCode",
    "SignalWeights",
    "commitment_factor",
    "dislike_penalties",
    "dislike_penalty_of",
    "kind_codes",
    "profile_confidence_row",
    "row_scroll_penalties",
    "signal_confidence",
    "signal_confidence_parts",
    "signed_confidence",
    "time_decay",
]


class SignalCode(IntEnum):
    """Compact ``int8`` codes of the signal kinds (``recommendations.models.SignalKind``).

    The names equal the ``SignalKind`` values upper-cased, so
    ``SignalCode[kind.upper()]`` converts one and :func:`kind_codes` converts many.
    """

    IMPRESSION = 0
    HOVER = 1
    PREVIEW = 2
    ROW_SCROLL_PAST = 3
    PLAY_START = 4
    SEARCH_PLAY = 5
    EXTERNAL_PLAY = 6
    PROGRESS = 7
    COMPLETE = 8
    THUMBS_UP = 9
    THUMBS_DOWN = 10
    THUMBS_CLEARED = 11


_PLAY_CODES = (SignalCode.PLAY_START, SignalCode.SEARCH_PLAY, SignalCode.EXTERNAL_PLAY)
_CODE_BY_KIND = {code.name.lower(): code.value for code in SignalCode}


def kind_codes(kinds: Sequence[str] | npt.ArrayLike) -> npt.NDArray[np.int8]:
    """Convert signal kind strings (``"play_start"``, ...) to :class:`SignalCode` values.

    Parameters
    ----------
    kinds : sequence of str, length n
        ``SignalKind`` values as stored in the database.

    Returns
    -------
    numpy.ndarray of int8, shape (n,)

    Raises
    ------
    ValueError
        If a kind is unknown (a silently dropped signal would bias every model).
    """
    labels = np.asarray(kinds, dtype=str)
    uniques, inverse = np.unique(labels, return_inverse=True)
    unknown = [label for label in uniques if label not in _CODE_BY_KIND]
    if unknown:
        raise ValueError(f"unknown signal kinds: {unknown}")
    table = np.array([_CODE_BY_KIND[label] for label in uniques], dtype=np.int8)
    return table[inverse.reshape(labels.shape)] if labels.size else labels.astype(np.int8)


@dataclass(frozen=True, slots=True)
class SignalWeights:
    """How much each kind of signal is worth; the defaults are Tonight's settings.

    Weights are in confidence units, where one fresh play started from a
    recommendation is 1.0. Django reads overrides from
    ``settings.TONIGHT["SIGNAL_WEIGHTS"]`` with :meth:`from_mapping`.

    Attributes
    ----------
    play_start : float
        A play started from a recommendation or a row: the baseline, 1.0.
    search_play : float
        A play started from search: intentional, so twice a recommended play.
    external_play : float
        A play started from an outside link: as intentional as search.
    progress : float
        Multiplies the furthest progress checkpoint (0-1) of the pair.
    complete : float
        Multiplies :func:`commitment_factor` of the largest unit completed.
    rewatch : float
        Each play of something already completed. Heavier than any single
        play or a film completion: rewatching is the clearest sign of love.
    thumbs_up : float
        Explicit like: stronger than any single play.
    thumbs_down : float
        Explicit dislike: the unit of the negative-evidence matrix.
    hover : float
        Focus rested on the title: weak and ambiguous.
    preview : float
        An autoplay preview ran without a play following: weak, mixed.
    weak_cap : float
        Upper bound of hover + preview confidence per pair, below one play.
    ignored_impression : float
        Per impression of a pair that was never engaged with.
    ignored_min_impressions : int
        Impressions needed before "shown and ignored" counts at all: one
        unnoticed impression says nothing.
    row_scroll_past : float
        Per quick scroll past a row; see :func:`row_scroll_penalties`.
    reference_hours : float
        Runtime with commitment factor 1.0 (a feature film).
    half_life_days : float
        Half-life of ordinary signals: tastes drift over a season.
    rewatch_half_life_days : float
        Half-life of rewatches: long-lived favourites.
    explicit_half_life_days : float
        Half-life of thumbs up/down: a rating stays meant for a long time.
    """

    play_start: float = 1.0
    search_play: float = 2.0
    external_play: float = 2.0
    progress: float = 1.0
    complete: float = 2.0
    rewatch: float = 3.0
    thumbs_up: float = 3.0
    thumbs_down: float = 4.0
    hover: float = 0.05
    preview: float = 0.15
    weak_cap: float = 0.5
    ignored_impression: float = 0.1
    ignored_min_impressions: int = 3
    row_scroll_past: float = 0.3
    reference_hours: float = 2.0
    half_life_days: float = 60.0
    rewatch_half_life_days: float = 365.0
    explicit_half_life_days: float = 365.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{field.name} must be a finite non-negative number")
        for name in (
            "half_life_days",
            "rewatch_half_life_days",
            "explicit_half_life_days",
            "reference_hours",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    @classmethod
    def from_mapping(cls, overrides: Mapping[str, Any] | None) -> SignalWeights:
        """Build weights from a settings mapping; unknown keys are an error, not ignored."""
        overrides = dict(overrides or {})
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown signal weight settings: {unknown}")
        return cls(**overrides)


@dataclass(frozen=True, slots=True)
class ConfidenceMatrices:
    """The evidence a batch of signals gives, per (profile, title).

    All three are ``scipy.sparse.csr_matrix`` of float32, shape
    (n_profiles, n_titles), with canonical (sorted, duplicate-free) indices and
    no explicit zeros: ALS treats every stored entry as observed, so a stored
    zero would be read as "seen and liked".

    Attributes
    ----------
    positive : scipy.sparse.csr_matrix
        Implicit-feedback confidence, > 0; the input of the collaborative model.
    negative : scipy.sparse.csr_matrix
        Explicit dislike strength, > 0 where the latest thumbs is down. Drives
        the thumbs-down filter and :func:`dislike_penalties`.
    ignored : scipy.sparse.csr_matrix
        Mild disinterest: shown repeatedly, never engaged with. A ranking
        feature (impression fatigue), never a filter.
    """

    positive: sp.csr_matrix
    negative: sp.csr_matrix
    ignored: sp.csr_matrix


@dataclass(frozen=True, slots=True)
class ConfidenceRow:
    """One profile's :class:`ConfidenceMatrices` row as plain arrays: the request path's form.

    A request reads one profile's evidence three times (the fold-in, the
    content centroid, the dislike penalties). Building three 1 x ``n_titles``
    CSR matrices and reading them back through scipy's format checks cost
    about as much as computing the evidence; these arrays are what those
    matrices hold, and :meth:`matrices` gives the matrices bit for bit.

    Attributes
    ----------
    title : numpy.ndarray of int64, shape (k,)
        Every title with any evidence, ascending.
    positive, negative, ignored : numpy.ndarray of float64, shape (k,)
        Each kind of evidence per title, 0 where absent (never below 0).
    n_titles : int
    """

    title: npt.NDArray[np.int64]
    positive: npt.NDArray[np.float64]
    negative: npt.NDArray[np.float64]
    ignored: npt.NDArray[np.float64]
    n_titles: int

    @classmethod
    def of_matrices(cls, matrices: ConfidenceMatrices) -> ConfidenceRow:
        """The row of a one-profile :class:`ConfidenceMatrices` (the batch path's result)."""
        parts = (matrices.positive, matrices.negative, matrices.ignored)
        title = np.unique(np.concatenate([part.indices for part in parts])).astype(np.int64)
        values = []
        for part in parts:
            value = np.zeros(title.shape[0], dtype=np.float64)
            value[np.searchsorted(title, part.indices)] = part.data
            values.append(value)
        return cls(title, *values, n_titles=matrices.positive.shape[1])

    def matrices(self) -> ConfidenceMatrices:
        """The evidence as 1 x ``n_titles`` matrices, as :func:`signal_confidence` makes them."""
        rows, shape = np.zeros(self.title.shape[0], dtype=np.int64), (1, self.n_titles)
        return ConfidenceMatrices(
            positive=_csr_from_pairs(rows, self.title, self.positive, shape),
            negative=_csr_from_pairs(rows, self.title, self.negative, shape),
            ignored=_csr_from_pairs(rows, self.title, self.ignored, shape),
        )

    @property
    def personalised(self) -> bool:
        """Whether there is any positive or negative evidence (what the fold-in reads)."""
        return bool((self.positive > 0).any() or (self.negative > 0).any())

    @property
    def foldable(self) -> bool:
        """Whether folding in can place the profile: only positive evidence moves its
        factor off zero (dislikes alone solve to the zero vector, whose scores all tie)."""
        return bool((self.positive > 0).any())

    def liked(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Titles with positive evidence, and its amount as the positive matrix holds it."""
        keep = self.positive > 0
        return self.title[keep], self.positive[keep].astype(np.float32)

    def disliked(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Titles with negative evidence, and its amount as the negative matrix holds it."""
        keep = self.negative > 0
        return self.title[keep], self.negative[keep].astype(np.float32)

    def signed(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """:func:`signed_confidence` of the row: positive entries, and dislikes negated.

        The evidence never gives one title both (see :func:`signal_confidence`),
        so this is the two kinds side by side, in title order.
        """
        liked = self.positive > 0
        keep = liked | (self.negative > 0)
        value = np.where(liked, self.positive.astype(np.float32), -self.negative.astype(np.float32))
        return self.title[keep], value[keep]


@dataclass(frozen=True, slots=True)
class ScrollPenalties:
    """Low interest in row types and genres, from quick scrolls past rows.

    Attributes
    ----------
    row_type : scipy.sparse.csr_matrix of float32, shape (n_profiles, n_row_types)
        Penalty in [0, 1) per row type.
    genre : scipy.sparse.csr_matrix of float32, shape (n_profiles, n_genres)
        Penalty in [0, 1) per genre.
    """

    row_type: sp.csr_matrix
    genre: sp.csr_matrix


def time_decay(age_days: npt.ArrayLike, half_life_days: float) -> npt.NDArray[np.float64]:
    """Exponential decay ``0.5 ** (age / half_life)``; negative ages (clock skew) count as 0.

    Returns
    -------
    numpy.ndarray of float64, same shape as ``age_days``, values in (0, 1].
    """
    age = np.maximum(np.asarray(age_days, dtype=np.float64), 0.0)
    return np.exp2(-age / half_life_days)


def commitment_factor(
    hours: npt.ArrayLike, reference_hours: float = 2.0
) -> npt.NDArray[np.float64]:
    """How much finishing ``hours`` of viewing is worth relative to a film of ``reference_hours``.

    ``log1p(hours) / log1p(reference_hours)``: monotone in the commitment, so a
    whole season outweighs a film, yet sublinear, so very long series do not
    dominate. Unknown (NaN) or non-positive runtimes count as the reference:
    a completion without a known runtime is treated like a film.

    Returns
    -------
    numpy.ndarray of float64, same shape as ``hours``.
    """
    hours = np.asarray(hours, dtype=np.float64)
    hours = np.where(np.isfinite(hours) & (hours > 0), hours, reference_hours)
    return np.log1p(hours) / np.log1p(reference_hours)


def _as_1d(name: str, array: npt.ArrayLike, dtype: npt.DTypeLike, n: int | None) -> np.ndarray:
    result = np.asarray(array, dtype=dtype).reshape(-1)
    if n is not None and result.shape[0] != n:
        raise ValueError(f"{name} has {result.shape[0]} entries, expected {n}")
    return result


def _csr_from_pairs(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """CSR from unique (row, col) pairs sorted by row then col, dropping non-positive values."""
    keep = values > 0
    rows, cols, values = rows[keep], cols[keep], values[keep]
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    index_dtype = np.int32 if max(shape[1], indptr[-1]) < np.iinfo(np.int32).max else np.int64
    return sp.csr_matrix(
        (values.astype(np.float32), cols.astype(index_dtype), indptr.astype(index_dtype)),
        shape=shape,
    )


def _signal_columns(
    *,
    title_index: npt.ArrayLike,
    kind: npt.ArrayLike,
    value: npt.ArrayLike,
    age_days: npt.ArrayLike,
    commitment: npt.ArrayLike | None,
    rewatch: npt.ArrayLike | None,
    n: int,
    n_titles: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Titles, codes, values, ages, hours and rewatch flags of ``n`` signals, checked."""
    titles = _as_1d("title_index", title_index, np.int64, n)
    codes = _as_1d("kind", kind, np.int8, n)
    values = _as_1d("value", value, np.float64, n)
    ages = _as_1d("age_days", age_days, np.float64, n)
    hours = (
        np.full(n, np.nan)
        if commitment is None
        else _as_1d("commitment", commitment, np.float64, n)
    )
    flagged = np.zeros(n, bool) if rewatch is None else _as_1d("rewatch", rewatch, bool, n)
    if n and (codes.min() < 0 or codes.max() > max(SignalCode)):
        raise ValueError("kind holds codes that are not SignalCode values")
    if np.any(titles >= n_titles) or np.any((titles < 0) & (codes != SignalCode.ROW_SCROLL_PAST)):
        raise ValueError("title_index out of range (only row_scroll_past may have no title)")
    return titles, codes, values, ages, hours, flagged


def signal_confidence(
    *,
    profile_index: npt.ArrayLike,
    title_index: npt.ArrayLike,
    kind: npt.ArrayLike,
    value: npt.ArrayLike,
    age_days: npt.ArrayLike,
    commitment: npt.ArrayLike | None = None,
    rewatch: npt.ArrayLike | None = None,
    n_profiles: int,
    n_titles: int,
    weights: SignalWeights | None = None,
) -> ConfidenceMatrices:
    """Turn a batch of signals into positive, negative and "ignored" evidence per pair.

    All per-signal arrays are parallel, length n. The rules are in the module
    docstring; everything is vectorised (``numpy.unique`` over pair keys, then
    ``bincount`` / ``ufunc.at`` reductions), so tens of millions of signals
    take seconds, not minutes.

    Parameters
    ----------
    profile_index : array of int32, shape (n,)
        Row of each signal's profile, in [0, n_profiles).
    title_index : array of int32, shape (n,)
        Column of each signal's title, in [0, n_titles); -1 for signals without
        a title (row_scroll_past), which are ignored here.
    kind : array of int8, shape (n,)
        :class:`SignalCode` of each signal.
    value : array of float32, shape (n,)
        The signal's value; only PROGRESS uses it (percent, 0-100; NaN counts 0).
    age_days : array of float64, shape (n,)
        Age of each signal at the reference time (usually "now"), in days. Float64:
        a pair's latest rating is found by age, and float32 days are seconds apart
        a year back, which would make a rating and its correction a tie.
    commitment : array of float32, shape (n,), optional
        For COMPLETE signals, the runtime in hours of what was completed (the
        episode, the season or the film); NaN or absent means a film.
    rewatch : array of bool, shape (n,), optional
        Plays known to be rewatches (from the derived per-title state, which
        remembers completions older than this batch). Plays of a pair whose
        completion appears earlier in this same batch are rewatches even if
        not flagged.
    n_profiles, n_titles : int
        Matrix shape.
    weights : SignalWeights, optional
        Defaults to ``SignalWeights()``.

    Returns
    -------
    ConfidenceMatrices
        ``positive``, ``negative`` and ``ignored``, each CSR float32
        (n_profiles, n_titles).

    Raises
    ------
    ValueError
        On arrays of different lengths, unknown codes or out-of-range indices.
    """
    return signal_confidence_parts(
        profile_index=profile_index,
        title_index=title_index,
        kind=kind,
        value=value,
        age_days=age_days,
        commitment=commitment,
        rewatch=rewatch,
        n_profiles=n_profiles,
        n_titles=n_titles,
        weights=weights,
    )[0]


def signal_confidence_parts(
    *,
    profile_index: npt.ArrayLike,
    title_index: npt.ArrayLike,
    kind: npt.ArrayLike,
    value: npt.ArrayLike,
    age_days: npt.ArrayLike,
    commitment: npt.ArrayLike | None = None,
    rewatch: npt.ArrayLike | None = None,
    n_profiles: int,
    n_titles: int,
    weights: SignalWeights | None = None,
    parts: Sequence[npt.ArrayLike | None] = (None,),
    pairs: PairGrouping | None = None,
) -> list[ConfidenceMatrices]:
    """:func:`signal_confidence` of several parts of one batch, in one pass.

    A retrain needs the confidence of its whole window (final fits, clusters,
    popularity) and of the holdout's training part (the evaluation's fits).
    Both group the same signals by (profile, title), and that grouping (a sort
    of millions of pair keys) and the per-signal decays are most of the cost;
    here they are computed once and only the per-pair reductions are repeated
    per part. Each result is exactly what :func:`signal_confidence` returns for
    that part's signals alone (same reductions, in the same order).

    Parameters
    ----------
    parts : sequence of (array of bool, shape (n,)) or None
        The signals of each part (e.g. the training part of a split); ``None``
        for every signal.
    pairs : PairGrouping, optional
        :func:`~recommendations.engine.split.pair_grouping` of the signals that
        have a title (``title_index >= 0``), in their order, when the caller has
        grouped them already (the holdout's matrices need the same grouping).
    Others
        As :func:`signal_confidence`.

    Returns
    -------
    list of ConfidenceMatrices
        One per part, in order.
    """
    weights = weights or SignalWeights()
    profiles = _as_1d("profile_index", profile_index, np.int64, None)
    n = profiles.shape[0]
    if n and (profiles.min() < 0 or profiles.max() >= n_profiles):
        raise ValueError("profile_index out of range")
    titles, codes, values, ages, hours, flagged = _signal_columns(
        title_index=title_index,
        kind=kind,
        value=value,
        age_days=age_days,
        commitment=commitment,
        rewatch=rewatch,
        n=n,
        n_titles=n_titles,
    )
    masks = [
        None if part is None else _as_1d(f"parts[{i}]", part, bool, n)
        for i, part in enumerate(parts)
    ]

    on_title = titles >= 0
    if not on_title.all():
        profiles, titles, codes = profiles[on_title], titles[on_title], codes[on_title]
        values, ages, hours, flagged = (
            values[on_title],
            ages[on_title],
            hours[on_title],
            flagged[on_title],
        )
        masks = [None if mask is None else mask[on_title] for mask in masks]

    if pairs is None:
        pairs = pair_grouping(profiles, titles, n_titles=n_titles)
    elif pairs.of.shape[0] != profiles.shape[0]:
        raise ValueError("pairs must group exactly the signals that have a title")
    rows, cols = np.divmod(pairs.keys, n_titles)
    evidence = _SignalEvidence(
        pair_of=pairs.of,
        n_pairs=pairs.keys.shape[0],
        codes=codes,
        ages=ages,
        flagged=flagged,
        values=values,
        hours=hours,
        weights=weights,
    )
    shape = (n_profiles, n_titles)
    return [evidence.matrices(within, rows=rows, cols=cols, shape=shape) for within in masks]


class _SignalEvidence:
    """The per-signal amounts of a batch (decays, play weights, commitment), computed once, and
    their per-pair reductions over any subset of the signals.

    Signals are addressed by kind through index arrays (one stable sort of the codes), so
    each reduction reads only its kind's signals instead of comparing every code again; the
    reductions still visit signals in input order, so sums are bit-for-bit the same.
    """

    def __init__(
        self,
        *,
        pair_of: np.ndarray,
        n_pairs: int,
        codes: np.ndarray,
        ages: np.ndarray,
        flagged: np.ndarray,
        values: np.ndarray,
        hours: np.ndarray,
        weights: SignalWeights,
    ) -> None:
        self.pair_of, self.n_pairs, self.ages = pair_of, n_pairs, ages
        self.flagged, self.weights = flagged, weights
        by_code = np.argsort(codes, kind="stable")
        bounds = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(SignalCode)))]
        self.of_kind = {
            code: by_code[bounds[code] : bounds[code + 1]] for code in SignalCode
        }  # ascending positions of each kind
        self.plays = np.flatnonzero(np.isin(codes, _PLAY_CODES))
        self.engaged = np.flatnonzero(codes != SignalCode.IMPRESSION)
        self.decay = time_decay(ages, weights.half_life_days)
        n = codes.shape[0]
        # Each amount is only ever read at its kind's signals: computed there alone.
        plays, completes = self.plays, self.of_kind[SignalCode.COMPLETE]
        progress = self.of_kind[SignalCode.PROGRESS]
        play_weight = np.where(
            codes[plays] == SignalCode.PLAY_START,
            weights.play_start,
            np.where(
                codes[plays] == SignalCode.SEARCH_PLAY, weights.search_play, weights.external_play
            ),
        )
        self.play_amount = np.zeros(n)
        self.play_amount[plays] = play_weight * self.decay[plays]
        self.rewatch_decay = np.zeros(n)
        self.rewatch_decay[plays] = time_decay(ages[plays], weights.rewatch_half_life_days)
        percent = np.clip(np.nan_to_num(values[progress], nan=0.0), 0.0, 100.0) / 100.0
        self.progress_amount = np.zeros(n)
        self.progress_amount[progress] = percent * self.decay[progress]
        self.completion_amount = np.zeros(n)
        self.completion_amount[completes] = (
            commitment_factor(hours[completes], weights.reference_hours) * self.decay[completes]
        )

    def _total(self, at: np.ndarray, amount: np.ndarray) -> np.ndarray:
        return np.bincount(self.pair_of[at], weights=amount[at], minlength=self.n_pairs)

    def _largest(self, at: np.ndarray, amount: np.ndarray, initial: float = 0.0) -> np.ndarray:
        out = np.full(self.n_pairs, initial)
        np.maximum.at(out, self.pair_of[at], amount[at])
        return out

    def _smallest(self, at: np.ndarray, amount: np.ndarray) -> np.ndarray:
        out = np.full(self.n_pairs, np.inf)
        np.minimum.at(out, self.pair_of[at], amount[at])
        return out

    def matrices(
        self,
        within: np.ndarray | None,
        *,
        rows: np.ndarray,
        cols: np.ndarray,
        shape: tuple[int, int],
    ) -> ConfidenceMatrices:
        """The evidence of the signals where ``within`` holds (all for ``None``)."""
        weights, ages, pair_of = self.weights, self.ages, self.pair_of

        def only(at: np.ndarray) -> np.ndarray:
            return at if within is None else at[within[at]]

        def kind(code: SignalCode) -> np.ndarray:
            return only(self.of_kind[code])

        completes = kind(SignalCode.COMPLETE)
        plays = only(self.plays)
        # A play after the pair's first completion is a rewatch, flagged or not.
        first_completion_age = self._largest(completes, ages, initial=-np.inf)
        again = self.flagged[plays] | (first_completion_age[pair_of[plays]] > ages[plays])
        rewatched, first_plays = plays[again], plays[~again]

        shown = kind(SignalCode.IMPRESSION)
        positive, negative, ignored = _pair_confidence(
            PairReductions(
                play_total=self._total(first_plays, self.play_amount),
                progress_max=self._largest(kind(SignalCode.PROGRESS), self.progress_amount),
                completion_max=self._largest(completes, self.completion_amount),
                rewatch_total=self._total(rewatched, self.rewatch_decay),
                hover_total=self._total(kind(SignalCode.HOVER), self.decay),
                preview_total=self._total(kind(SignalCode.PREVIEW), self.decay),
                up_age=self._smallest(kind(SignalCode.THUMBS_UP), ages),
                down_age=self._smallest(kind(SignalCode.THUMBS_DOWN), ages),
                clear_age=self._smallest(kind(SignalCode.THUMBS_CLEARED), ages),
                impressions=np.bincount(pair_of[shown], minlength=self.n_pairs),
                engaged=np.bincount(pair_of[only(self.engaged)], minlength=self.n_pairs),
                impression_total=self._total(shown, self.decay),
            ),
            weights,
        )
        return ConfidenceMatrices(
            positive=_csr_from_pairs(rows, cols, positive, shape),
            negative=_csr_from_pairs(rows, cols, negative, shape),
            ignored=_csr_from_pairs(rows, cols, ignored, shape),
        )


@dataclass(frozen=True, slots=True)
class PairReductions:
    """Per (profile, title) pair, the reductions of its signals that confidence is made of.

    Two paths compute them: the batch's ``bincount`` / ``ufunc.at`` over
    millions of signals, and :func:`profile_confidence_row`'s loop over one
    profile's few dozen; :func:`_pair_confidence` then turns either into the
    matrices, so the rules of the module docstring are applied in one place.
    Every field is an array of shape (n_pairs,): sums are of float64 amounts
    in signal order, ``*_max`` start at 0.0, ages at +inf where absent.
    """

    play_total: np.ndarray  # kind weight x decay of plays that are not rewatches
    progress_max: np.ndarray  # furthest percent / 100 x decay
    completion_max: np.ndarray  # largest commitment factor x decay
    rewatch_total: np.ndarray  # rewatch decay of rewatches
    hover_total: np.ndarray  # decay of hovers
    preview_total: np.ndarray  # decay of previews
    up_age: np.ndarray  # age of the latest thumbs up
    down_age: np.ndarray  # age of the latest thumbs down
    clear_age: np.ndarray  # age of the latest thumbs cleared (a rating removed)
    impressions: np.ndarray  # how many
    engaged: np.ndarray  # how many signals other than impressions
    impression_total: np.ndarray  # decay of impressions


def _pair_confidence(
    pairs: PairReductions, weights: SignalWeights
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The module docstring's table, applied to each pair's reductions.

    Returns each pair's positive, negative and ignored evidence (float64, zero
    where there is none).
    """
    played = np.log2(1.0 + pairs.play_total)
    progress = weights.progress * pairs.progress_max
    completion = weights.complete * pairs.completion_max
    rewatches = weights.rewatch * pairs.rewatch_total
    weak = np.minimum(
        weights.weak_cap,
        weights.hover * pairs.hover_total + weights.preview * pairs.preview_total,
    )

    # The latest rating decides; on a tie a dislike wins (never push what may be disliked),
    # and a clear wins over a thumbs up. A clear newer than both leaves neither.
    up_age, down_age, clear_age = pairs.up_age, pairs.down_age, pairs.clear_age
    disliked = np.isfinite(down_age) & (down_age <= up_age) & (down_age <= clear_age)
    liked = np.isfinite(up_age) & (up_age < down_age) & (up_age < clear_age)
    explicit = weights.thumbs_up * time_decay(
        np.where(liked, up_age, 0.0), weights.explicit_half_life_days
    )
    thumbs_up = np.where(liked, explicit, 0.0)

    positive = played + progress + completion + rewatches + thumbs_up + weak
    positive[disliked] = 0.0
    negative = np.where(
        disliked,
        weights.thumbs_down
        * time_decay(np.where(disliked, down_age, 0.0), weights.explicit_half_life_days),
        0.0,
    )
    ignored = np.where(
        (pairs.engaged == 0) & (pairs.impressions >= weights.ignored_min_impressions),
        weights.ignored_impression * pairs.impression_total,
        0.0,
    )
    return positive, negative, ignored


#: Above this many signals :func:`profile_confidence_row` hands over to the batch path.
PROFILE_LOOP_MAX_SIGNALS = 400


def profile_confidence_row(
    *,
    title_index: npt.ArrayLike,
    kind: npt.ArrayLike,
    value: npt.ArrayLike,
    age_days: npt.ArrayLike,
    commitment: npt.ArrayLike | None = None,
    rewatch: npt.ArrayLike | None = None,
    n_titles: int,
    weights: SignalWeights | None = None,
) -> ConfidenceRow:
    """:func:`signal_confidence` of one profile's signals, at a request's scale, as a
    :class:`ConfidenceRow`.

    Every homepage turns the profile's current history into confidence, and
    a median history has a few dozen signals. The batch path's fixed cost
    (a key sort, a hundred-odd numpy calls, each sized for millions of
    signals) was over a millisecond of such a page; here the amounts are
    still computed by the same numpy expressions, over all signals at once,
    but grouped by title in a plain loop, in signal order, so the sums and
    maxima are the batch's to the bit (tested on random histories). Longer
    histories than ``PROFILE_LOOP_MAX_SIGNALS`` go through the batch path.
    """
    weights = weights or SignalWeights()
    titles = _as_1d("title_index", title_index, np.int64, None)
    n = titles.shape[0]
    columns = {
        "title_index": titles,
        "kind": kind,
        "value": value,
        "age_days": age_days,
        "commitment": commitment,
        "rewatch": rewatch,
    }
    if n > PROFILE_LOOP_MAX_SIGNALS:
        return ConfidenceRow.of_matrices(
            signal_confidence(
                profile_index=np.zeros(n, dtype=np.int64),
                **columns,
                n_profiles=1,
                n_titles=n_titles,
                weights=weights,
            )
        )
    titles, codes, values, ages, hours, flagged = _signal_columns(**columns, n=n, n_titles=n_titles)

    # Each signal's amount, by the batch path's expressions (it computes them at its
    # kind's signals only; elementwise, the values are the same).
    decay = time_decay(ages, weights.half_life_days)
    play_weight = np.zeros(len(SignalCode))
    play_weight[list(_PLAY_CODES)] = (
        weights.play_start,
        weights.search_play,
        weights.external_play,
    )
    amounts = zip(
        titles.tolist(),
        codes.tolist(),
        ages.tolist(),
        decay.tolist(),
        (play_weight[codes] * decay).tolist(),
        time_decay(ages, weights.rewatch_half_life_days).tolist(),
        (np.clip(np.nan_to_num(values, nan=0.0), 0.0, 100.0) / 100.0 * decay).tolist(),
        (commitment_factor(hours, weights.reference_hours) * decay).tolist(),
        flagged.tolist(),
        strict=True,
    )
    by_title: dict[int, list[tuple]] = {}
    for signal in amounts:
        if signal[0] >= 0:
            by_title.setdefault(signal[0], []).append(signal)

    cols = sorted(by_title)
    reductions = []  # a tuple per title, in PairReductions' field order
    # Plain ints: comparing with the enum's members costs an attribute lookup each.
    impression, complete, progress_code, hover, preview, up_code, down_code, clear_code = map(
        int,
        (
            SignalCode.IMPRESSION,
            SignalCode.COMPLETE,
            SignalCode.PROGRESS,
            SignalCode.HOVER,
            SignalCode.PREVIEW,
            SignalCode.THUMBS_UP,
            SignalCode.THUMBS_DOWN,
            SignalCode.THUMBS_CLEARED,
        ),
    )
    play_codes = frozenset(map(int, _PLAY_CODES))
    for title in cols:
        signals = by_title[title]
        first_completion = max((s[2] for s in signals if s[1] == complete), default=-np.inf)
        played = progress = completion = rewatched = hovered = previewed = shown_decay = 0.0
        up = down = clear = np.inf
        shown = engaged = 0
        for _, code, age, dec, play, rewatch_dec, percent, completed, again in signals:
            if code == impression:
                shown += 1
                shown_decay += dec
                continue
            engaged += 1
            if code in play_codes:
                # A play after the pair's first completion is a rewatch, flagged or not.
                if again or first_completion > age:
                    rewatched += rewatch_dec
                else:
                    played += play
            elif code == progress_code:
                progress = max(progress, percent)
            elif code == complete:
                completion = max(completion, completed)
            elif code == hover:
                hovered += dec
            elif code == preview:
                previewed += dec
            elif code == up_code:
                up = min(up, age)
            elif code == down_code:
                down = min(down, age)
            elif code == clear_code:
                clear = min(clear, age)
        reductions.append(
            (played, progress, completion, rewatched, hovered, previewed,
             up, down, clear, shown, engaged, shown_decay)
        )  # fmt: skip
    per_pair = np.array(reductions, dtype=np.float64).reshape(-1, 12).T
    positive, negative, ignored = _pair_confidence(PairReductions(*per_pair), weights)
    return ConfidenceRow(
        np.array(cols, dtype=np.int64), positive, negative, ignored, n_titles=n_titles
    )


def signed_confidence(positive: sp.spmatrix, negative: sp.spmatrix | None = None) -> sp.csr_matrix:
    """Combine positive and negative evidence into ``implicit``'s signed convention.

    ``implicit``'s ALS reads a negative entry ``-c`` as "preference 0 with
    confidence c": a thumbs down (default strength 4) then pushes the
    prediction towards 0 four times harder than an unobserved title does.
    Positive entries are kept where a pair also has negative evidence only if
    the negative is absent; :func:`signal_confidence` never produces both.

    Parameters
    ----------
    positive, negative : sparse matrix of float32, shape (n_profiles, n_titles)

    Returns
    -------
    scipy.sparse.csr_matrix of float32, shape (n_profiles, n_titles)
        Canonical, without explicit zeros.
    """
    combined = sp.csr_matrix(positive, dtype=np.float32, copy=True)
    if negative is not None:
        negative = sp.csr_matrix(negative, dtype=np.float32)
        if negative.shape != combined.shape:
            raise ValueError("positive and negative must have the same shape")
        # Drop positives that have a dislike, then add the dislikes with a minus sign.
        has_dislike = (negative > 0).astype(np.float32)
        combined = combined - combined.multiply(has_dislike) - negative
    combined = sp.csr_matrix(combined, dtype=np.float32)
    combined.sum_duplicates()
    combined.eliminate_zeros()
    combined.sort_indices()
    return combined


def dislike_penalties(
    negative: sp.spmatrix,
    similarity: sp.spmatrix,
    *,
    strength: float = 0.5,
    min_similarity: float = 0.2,
) -> sp.csr_matrix:
    """ "Thumbs down pushes down similar content": a penalty per (profile, title).

    ``penalty = 1 - exp(-strength * sum_d negative[p, d] * similarity[d, t])``
    over the profile's disliked titles d, counting only similarities of at
    least ``min_similarity`` (loosely related titles are not punished). The
    saturating form keeps penalties in [0, 1), grows with both the strength of
    the dislike and the closeness of the neighbour, and lets several dislikes
    in one genre add up. Disliked titles themselves get penalty 1.0.

    With the defaults, a fresh thumbs down (strength 4) gives a neighbour of
    cosine 0.6 a penalty of 0.70 and one of cosine 0.3 a penalty of 0.45;
    :func:`recommendations.engine.candidates.generate_candidates` removes
    titles at or above its ``suppress_penalty`` (0.5) and pushes the rest down.

    Parameters
    ----------
    negative : sparse matrix of float32, shape (n_profiles, n_titles)
        :attr:`ConfidenceMatrices.negative`, or one profile's row of it.
    similarity : sparse matrix of float32, shape (n_titles, n_titles)
        Title-title content similarity, e.g.
        :meth:`recommendations.engine.content.ContentModel.neighbour_matrix`.

    Returns
    -------
    scipy.sparse.csr_matrix of float32, shape (n_profiles, n_titles)
        Values in (0, 1]; absent means no penalty.
    """
    negative = sp.csr_matrix(negative, dtype=np.float32)
    negative.sum_duplicates()
    negative.eliminate_zeros()
    similarity = sp.csr_matrix(similarity, dtype=np.float32)
    n_profiles, n_titles = negative.shape
    if similarity.shape != (n_titles, n_titles):
        raise ValueError("similarity must be square with one row per title of negative")
    # Only the disliked titles' rows of the similarity matter: slice them first, so one
    # profile's request touches a few hundred entries, not the whole neighbour table.
    disliked_titles, compact = np.unique(negative.indices, return_inverse=True)
    close = similarity[disliked_titles]
    close.data[close.data < min_similarity] = 0.0
    close.eliminate_zeros()
    compact_negative = sp.csr_matrix(
        (negative.data, compact.astype(negative.indices.dtype), negative.indptr),
        shape=(n_profiles, disliked_titles.shape[0]),
    )
    pressure = sp.csr_matrix(compact_negative @ close)
    pressure.data = -np.expm1(-strength * pressure.data)
    # Disliked titles themselves: add 2 and cap at 1 (pressure alone stays below 1).
    own = sp.csr_matrix(
        (np.full(negative.nnz, 2.0, np.float32), negative.indices, negative.indptr),
        shape=negative.shape,
    )
    penalties = sp.csr_matrix(pressure + own, dtype=np.float32)
    np.minimum(penalties.data, 1.0, out=penalties.data)
    penalties.eliminate_zeros()
    penalties.sort_indices()
    return penalties


def dislike_penalty_of(
    titles: npt.ArrayLike,
    amounts: npt.ArrayLike,
    similarity: sp.csr_matrix,
    *,
    strength: float = 0.5,
    min_similarity: float = 0.2,
) -> npt.NDArray[np.float32]:
    """:func:`dislike_penalties` for one profile, as a dense vector, for the request path.

    The same formula, computed with plain numpy on the disliked titles' rows
    of ``similarity`` (tens of microseconds instead of the sparse products'
    few hundred), and dense because candidate generation masks with it.

    Parameters
    ----------
    titles, amounts : array of shape (k,)
        The profile's disliked titles and their negative evidence
        (:meth:`ConfidenceRow.disliked`); entries with ``amounts <= 0`` are ignored.
    similarity : scipy.sparse.csr_matrix of float32, shape (n_titles, n_titles)

    Returns
    -------
    numpy.ndarray of float32, shape (n_titles,)
        In [0, 1]; 1.0 for the disliked titles themselves.
    """
    n_titles = similarity.shape[0]
    if similarity.shape != (n_titles, n_titles):
        raise ValueError("similarity must be (n_titles, n_titles)")
    amount = np.asarray(amounts).reshape(-1)
    disliked = amount > 0
    titles = np.asarray(titles).reshape(-1)[disliked]
    amount = amount[disliked].astype(np.float64)
    pressure = np.zeros(n_titles, dtype=np.float64)
    if titles.size:
        table = similarity if isinstance(similarity, sp.csr_matrix) else sp.csr_matrix(similarity)
        owner, neighbours, sims = gather_rows(table, titles)
        close = sims >= min_similarity
        pressure += np.bincount(
            neighbours[close],
            weights=amount[owner[close]] * sims[close],
            minlength=n_titles,
        )
    penalty = -np.expm1(-strength * pressure)
    penalty[titles] = 1.0
    return penalty.astype(np.float32)


def row_scroll_penalties(
    *,
    profile_index: npt.ArrayLike,
    row_type: npt.ArrayLike,
    genre: npt.ArrayLike,
    age_days: npt.ArrayLike,
    n_profiles: int,
    n_row_types: int,
    n_genres: int,
    weights: SignalWeights | None = None,
) -> ScrollPenalties:
    """Low interest in a row's type and genre from quick scrolls past that row.

    ``penalty = 1 - exp(-row_scroll_past * sum(decay))`` per (profile, row
    type) and per (profile, genre): one scroll is a hint (0.26 with the
    defaults), a habit saturates towards 1, and old scrolls fade with the
    ordinary half-life. The row-ranking model and the rankers consume these.

    Parameters
    ----------
    profile_index : array of int32, shape (n,)
        Profile of each row_scroll_past signal.
    row_type : array of int16, shape (n,)
        Code of the row's type ("trending", "because_you_watched", ...), in
        [0, n_row_types).
    genre : array of int16, shape (n,)
        Code of the row's genre, in [0, n_genres), or -1 when the row is not
        about one genre.
    age_days : array of float64, shape (n,)
    n_profiles, n_row_types, n_genres : int
    weights : SignalWeights, optional

    Returns
    -------
    ScrollPenalties
    """
    weights = weights or SignalWeights()
    profiles = _as_1d("profile_index", profile_index, np.int64, None)
    n = profiles.shape[0]
    row_types = _as_1d("row_type", row_type, np.int64, n)
    genres = _as_1d("genre", genre, np.int64, n)
    decay = time_decay(_as_1d("age_days", age_days, np.float64, n), weights.half_life_days)
    if np.any(row_types < 0) or np.any(row_types >= n_row_types):
        raise ValueError("row_type out of range")
    if np.any(genres < -1) or np.any(genres >= n_genres):
        raise ValueError("genre out of range (-1 means no genre)")

    def saturate(
        rows: np.ndarray, cols: np.ndarray, amount: np.ndarray, n_cols: int
    ) -> sp.csr_matrix:
        matrix = sp.csr_matrix((amount, (rows, cols)), shape=(n_profiles, n_cols), dtype=np.float64)
        matrix.sum_duplicates()
        matrix.data = -np.expm1(-weights.row_scroll_past * matrix.data)
        return sp.csr_matrix(matrix, dtype=np.float32)

    has_genre = genres >= 0
    return ScrollPenalties(
        row_type=saturate(profiles, row_types, decay, n_row_types),
        genre=saturate(profiles[has_genre], genres[has_genre], decay[has_genre], n_genres),
    )
