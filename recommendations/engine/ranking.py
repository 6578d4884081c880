"""Ranking: P(play | shown, context) per candidate, and the "% match" shown to the profile.

Features
    :func:`build_features` turns per-candidate arrays and per-request context
    into a float32 matrix whose columns are :data:`FEATURE_NAMES`. Every
    column is scaled to roughly [0, 1] by the builder (documented per name),
    so the fixed prior blend can weigh them directly and a logistic model's
    coefficients stay comparable. The same builder serves requests (one
    context, hundreds of candidates) and training (one row per logged
    impression, context per row): scalars and arrays both broadcast.

    ``row_position_*`` / ``slot_position_*`` describe where a logged title
    was shown, one-hot per bucket of the row's and the slot's index
    (:data:`ROW_POSITION_BUCKETS`, :data:`SLOT_POSITION_BUCKETS`; the first
    row and slot are in none). They are learned so that position bias (the
    top-left tile gets played because it is top-left) is explained by them
    and not credited to the title's other features; at serving they are all
    0, scoring every candidate as if it were shown first. Buckets, not a
    curve: a client shows a screen of rows and a few tiles of each, and
    what lies past the edge is seen much less, a step that one ``log1p``
    term per index could only fit by bending the features that fall along
    a row (every row is sorted by score) the other way.

Model
    :class:`PlayRanker` is a logistic model with explicit interaction
    columns (hour x genre,
    weekend x hour-genre, CF x activity, device x popularity/continue) for
    the non-linearities that matter. Chosen over gradient boosting because:
    it persists as a few arrays in ``.npz`` without pickle (boosted trees have
    no public pickle-free format); scoring is one matrix-vector product,
    microseconds for 500 candidates; its log-loss fit gives probabilities that
    need only a light calibration; and its coefficients can be read and
    checked by a person. Until ``min_rows`` training rows (tiles seen or
    played, not every logged tile) with enough plays exist, a fixed,
    documented :class:`PriorBlend` is used and :attr:`PlayRanker.mode` says
    ``"prior"``. After that the coefficients
    start at the prior blend and move as far as the older logs justify (the
    maximum a posteriori fit of :mod:`~recommendations.engine.logistic`, in
    the features' own units), and the learned model replaces the prior only
    if it predicts the newest logs at least as well.

Calibration and "% match"
    ``predict_proba`` of the learned model is Platt-calibrated on the most
    recent ``calibration_fraction`` of the logged impressions (held out from
    the logistic fit): ``sigmoid(a * z + b)`` with ``a > 0``, so it is
    strictly increasing in the model's score and never ties titles the model
    tells apart (isotonic regression would, with its plateaus).

    Serving scores every candidate at ``row_position = slot_position = 0``
    (:data:`SERVING_POSITION`), so the probability it reports is P(play |
    shown, context, in the first row and slot): a title's appeal with the
    position effect taken out, which is what ranking needs. The held-out
    impressions' take rates at their logged positions are lower.

    The match is ``round(99 * F(p))`` where F is the (sample-weighted) empirical
    distribution of the calibrated probabilities of those held-out impressions **re-scored at
    the serving position** (:func:`at_serving_position`; 101 stored quantiles,
    linearly interpolated): "87% match" means the title is more likely to be
    played than 87% of the titles we showed, all compared as if shown first.
    Served probabilities and the reference are thus the same quantity, and a
    served title's match is its percentile among them; quantiles of the
    probabilities at the logged (lower) positions would put most served titles
    above 90%. F is non-decreasing, so a higher probability never gives a
    lower match.

    The prior is given the same scale: when :meth:`PlayRanker.fit` stays on
    the prior but has at least :data:`MIN_REFERENCE_ROWS` training rows (seen or played),
    F is the distribution of the prior's probabilities of all of them at the
    serving position. With fewer (a new installation, nothing shown yet) there
    is no population of shown titles to be a percentile of, and F(p) = p: the
    match is then the prior's P(play) in percent, lower than a percentile
    (the prior's probabilities are mostly 3-30%), until the first retrain
    with logged pages.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.special import expit

from recommendations.engine.logistic import held_out_log_losses, map_logistic_fit, training_arrays
from recommendations.engine.persistence import ArtefactTarget, load_artefact, save_artefact

__all__ = [
    "DEVICE_CLASSES",
    "FEATURE_NAMES",
    "HOUR_BUCKETS",
    "MIN_HOLDOUT_PLAYS",
    "MIN_REFERENCE_ROWS",
    "SERVING_POSITION",
    "PlayRanker",
    "PriorBlend",
    "at_serving_position",
    "build_features",
    "hour_bucket",
    "hour_genre_affinity",
    "local_hour_and_weekday",
    "weighted_quantiles",
]

_KIND = "tonight.play_ranker"
_VERSION = 1

#: Device classes, in the order of the one-hot columns.
DEVICE_CLASSES: tuple[str, ...] = ("tv", "mobile", "tablet", "web")

#: Number of 4-hour buckets of the local day (night, early, morning, afternoon, evening, prime).
HOUR_BUCKETS = 6

#: Buckets (first, last) of a row's index on its page, the last open-ended; the first row
#: (the serving position) is in none. Both rankers use them.
ROW_POSITION_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (1, 1),
    (2, 2),
    (3, 3),
    (4, 4),
    (5, 5),
    (6, 7),
    (8, 11),
    (12, None),
)
#: The same for a tile's index in its row: a TV shows six, a phone three.
SLOT_POSITION_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (1, 1),
    (2, 2),
    (3, 3),
    (4, 4),
    (5, 5),
    (6, 6),
    (7, 7),
    (8, 9),
    (10, 12),
    (13, None),
)


def position_feature_names(
    prefix: str, buckets: tuple[tuple[int, int | None], ...]
) -> tuple[str, ...]:
    """``{prefix}_3``, ``{prefix}_6_7``, ``{prefix}_12_plus``: one name per bucket."""
    return tuple(
        f"{prefix}_{first}" if first == last else f"{prefix}_{first}_{last or 'plus'}"
        for first, last in buckets
    )


def position_one_hots(
    index: npt.ArrayLike, n: int, buckets: tuple[tuple[int, int | None], ...]
) -> npt.NDArray[np.float32]:
    """Shape (n, len(buckets)): 1 where ``index`` (scalar or shape (n,)) falls in a bucket.

    A scalar (serving: every candidate at the first row and slot) is one row
    broadcast, not n rows compared: this runs on every request.
    """
    first, last = _bucket_bounds(buckets)
    shown = np.asarray(index, dtype=np.int64)
    if shown.ndim == 0:
        return np.broadcast_to(
            ((shown >= first) & (shown <= last)).astype(np.float32), (n, len(buckets))
        )
    shown = np.broadcast_to(shown, (n,))[:, np.newaxis]
    return ((shown >= first) & (shown <= last)).astype(np.float32)


@functools.cache
def _bucket_bounds(
    buckets: tuple[tuple[int, int | None], ...],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    first = np.array([b[0] for b in buckets], dtype=np.int64)
    last = np.array([np.iinfo(np.int64).max if b[1] is None else b[1] for b in buckets])
    return first, last


ROW_POSITION_FEATURES = position_feature_names("row_position", ROW_POSITION_BUCKETS)
SLOT_POSITION_FEATURES = position_feature_names("slot_position", SLOT_POSITION_BUCKETS)

#: The position columns of the first layout (``log1p(index) / log1p(40)``), 0 at serving.
LEGACY_POSITION_FEATURES: tuple[str, ...] = ("row_position", "slot_position")


@dataclass(frozen=True, slots=True)
class LegacyLayout:
    """How a stored model's columns map onto this layout (:func:`legacy_layout`).

    Attributes
    ----------
    stored : numpy.ndarray of int64, shape (len(names),)
        The stored column of each current column; -1 for a current position term.
    dropped : numpy.ndarray of int64
        The stored columns of the first layout's position terms.
    n_stored : int
        How many columns the stored model has.
    """

    stored: npt.NDArray[np.int64]
    dropped: npt.NDArray[np.int64]
    n_stored: int

    def carry(self, values: npt.ArrayLike, fill: float) -> npt.NDArray[np.float64]:
        """Per-feature ``values`` in the current order, ``fill`` for the new position terms."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (self.n_stored,):
            raise ValueError("stored per-feature values do not match the stored feature names")
        return np.where(self.stored >= 0, values[np.maximum(self.stored, 0)], fill)


def legacy_layout(
    stored_names: Sequence[str],
    names: Sequence[str],
    positions: Sequence[str],
    legacy: Sequence[str],
) -> LegacyLayout | None:
    """The map from a stored model's layout onto ``names``, if the two differ exactly in how
    positions are encoded (``legacy`` then, ``positions`` now); None for anything else.

    Both encodings are 0 at serving (the first row and slot), so what a model
    serves never depended on its position terms beyond a constant (a
    standardised model's ``coef * (0 - mean) / scale``, which the caller
    moves into the intercept): its other terms carry over exactly, and a
    version trained before the change serves as it did until the next retrain.
    """
    stored_names = list(stored_names)
    kept = [name for name in stored_names if name not in legacy]
    if (
        len(set(stored_names)) != len(stored_names)
        or sorted(set(stored_names) - set(kept)) != sorted(legacy)
        or kept != [name for name in names if name not in positions]
    ):
        return None
    column = {name: i for i, name in enumerate(stored_names)}
    return LegacyLayout(
        stored=np.array([column.get(name, -1) for name in names], dtype=np.int64),
        dropped=np.array([column[name] for name in legacy], dtype=np.int64),
        n_stored=len(stored_names),
    )


#: Columns of the feature matrix, in order. Scaling per column:
#:
#: - ``cf_score``: ALS predicted preference, clipped to [-1, 2] (mostly 0-1).
#: - ``content_affinity``: cosine to the profile's content centroid, [0, 1].
#: - ``cluster_popularity`` / ``region_popularity``: trending, log-normalised to [0, 1].
#: - ``release_recency``: ``0.5 ** (days since release / 180)``; 0 if unknown or unreleased.
#: - ``language_match``: 1 if the title's language is one of the profile's.
#: - ``continue_watching``: 1 if the profile has the title in progress.
#: - ``dislike_penalty``: thumbs-down penalty of similar content, [0, 1).
#: - ``impression_fatigue``: ``min(1, log1p(times shown without a play) / log1p(20))``.
#: - ``recent_activity``: ``min(1, log1p(plays in the last 7 days) / log1p(50))``.
#: - ``hour_genre_affinity``: the profile's affinity at this hour for the title's genres, [0, 1].
#: - ``weekend``: 1 on Saturday and Sunday (local).
#: - ``weekend_x_hour_genre``, ``cf_x_recent_activity``: products of the named columns.
#: - ``device_*``: one-hot device class.
#: - ``tv_x_cluster_popularity``, ``mobile_x_continue_watching``: device interactions
#:   (lean-back TV viewing follows the crowd; phones resume what is in progress).
#: - ``row_position_*`` / ``slot_position_*``: 1 in the bucket of the row's and the slot's
#:   index where the title was shown (:func:`position_one_hots`); all 0 at serving.
FEATURE_NAMES: tuple[str, ...] = (
    "cf_score",
    "content_affinity",
    "cluster_popularity",
    "region_popularity",
    "release_recency",
    "language_match",
    "continue_watching",
    "dislike_penalty",
    "impression_fatigue",
    "recent_activity",
    "hour_genre_affinity",
    "weekend",
    "weekend_x_hour_genre",
    "cf_x_recent_activity",
    "device_tv",
    "device_mobile",
    "device_tablet",
    "device_web",
    "tv_x_cluster_popularity",
    "mobile_x_continue_watching",
    *ROW_POSITION_FEATURES,
    *SLOT_POSITION_FEATURES,
)
_COLUMN = {name: index for index, name in enumerate(FEATURE_NAMES)}
_ROW_POSITIONS = slice(_COLUMN[ROW_POSITION_FEATURES[0]], _COLUMN[ROW_POSITION_FEATURES[-1]] + 1)
_SLOT_POSITIONS = slice(_COLUMN[SLOT_POSITION_FEATURES[0]], _COLUMN[SLOT_POSITION_FEATURES[-1]] + 1)
#: The position columns: nuisance terms, fitted freely and never ordering anything served.
POSITION_FEATURE_NAMES = ROW_POSITION_FEATURES + SLOT_POSITION_FEATURES
POSITION_TERMS = np.isin(FEATURE_NAMES, POSITION_FEATURE_NAMES)

#: The row and slot index every candidate is scored at when serving (as if shown first).
SERVING_POSITION = 0

#: Logged impressions the prior needs for a percentile "% match" (see the module docstring).
MIN_REFERENCE_ROWS = 1000

#: Plays the newest rows (the calibration part) must hold before the learned model may replace
#: the prior: on a handful of plays the log-loss comparison is decided by which model rates
#: those few tiles higher, and the Platt scaling fitted on them rescales every served
#: probability. The row ranker's gate asks for as many (``row_ranking.MIN_HOLDOUT_PLAYS``).
MIN_HOLDOUT_PLAYS = 30


def _calibration_start(n: int, fraction: float, pages: npt.ArrayLike | None) -> int:
    """First row of the newest ``fraction`` of ``n`` rows: where the fraction falls, moved
    back to the first row of its page when ``pages`` (non-decreasing) are given."""
    split = round(n * (1.0 - fraction))
    if pages is None or split >= n:
        return split
    page = np.asarray(pages).reshape(-1)
    if page.shape[0] != n:
        raise ValueError("pages must have one entry per row")
    if np.any(np.diff(page) < 0):
        raise ValueError("pages must be numbered in time order, as the rows are")
    return int(np.searchsorted(page, page[split], side="left"))


def weighted_quantiles(
    values: npt.ArrayLike, levels: npt.ArrayLike, weights: npt.ArrayLike | None = None
) -> npt.NDArray[np.float64]:
    """Quantiles of ``values`` at ``levels`` where each value counts ``weights`` times.

    Without weights, or with equal ones, the same as ``numpy.quantile`` (linear
    interpolation): the sorted values sit at the levels ``(S_i - w_i) / (S - w_last)``
    of their cumulative weights ``S_i`` (``i / (n - 1)`` for equal weights), and a
    level between two of them is interpolated.
    """
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    at = np.asarray(levels, dtype=np.float64)
    if weights is None:
        return np.quantile(data, at)
    weight = np.asarray(weights, dtype=np.float64).reshape(-1)
    if weight.shape != data.shape or np.any(~np.isfinite(weight) | (weight <= 0)):
        raise ValueError("weights must be positive and finite, one per value")
    order = np.argsort(data, kind="stable")
    data, weight = data[order], weight[order]
    if data.shape[0] == 1:
        return np.full(at.shape, data[0])
    cumulative = np.cumsum(weight)
    position = (cumulative - weight) / (cumulative[-1] - weight[-1])
    return np.interp(at, position, data)


def hour_bucket(hour: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """4-hour bucket (0-5) of a local hour (0-23)."""
    hours = np.asarray(hour, dtype=np.int64)
    if np.any((hours < 0) | (hours > 23)):
        raise ValueError("hour must be in 0..23")
    return (hours // (24 // HOUR_BUCKETS)).astype(np.int8)


def local_hour_and_weekday(
    timestamps: npt.ArrayLike, zone: dt.tzinfo
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The local hour (0-23) and weekday (Monday 0) in ``zone`` of each Unix time.

    The same as ``datetime.fromtimestamp(t, zone).hour`` and ``.weekday()``,
    which is what it does for a few hundred times or fewer. A heavy viewer has
    up to a thousand row events on a page's request (and training reads many
    more), and a zone lookup per event then cost 0.6 ms: instead the zone is
    asked once a week across the times' span, and where two weekly offsets
    differ, the change is found by bisection to the second (times within that
    second are asked one by one). Exact as long as a zone never changes its
    offset twice within a week, which no zone has done in this century.
    """
    times = np.asarray(timestamps, dtype=np.float64).reshape(-1)
    if times.shape[0] < _PER_TIME_BELOW:
        moments = [dt.datetime.fromtimestamp(t, zone) for t in times.tolist()]
        return (
            np.fromiter((m.hour for m in moments), dtype=np.int64, count=len(moments)),
            np.fromiter((m.weekday() for m in moments), dtype=np.int64, count=len(moments)),
        )
    local = np.floor(times + _utc_offsets(times, zone))
    days = np.floor_divide(local, 86_400.0)
    hour = ((local - days * 86_400.0) // 3_600.0).astype(np.int64)
    weekday = ((days + 3) % 7).astype(np.int64)  # 1 January 1970 was a Thursday
    return hour, weekday


#: Below this many times a lookup per time is cheaper than the weekly grid and bisections.
_PER_TIME_BELOW = 200
_WEEK = 7 * 86_400.0


def _utc_offset(moment: float, zone: dt.tzinfo) -> float:
    offset = dt.datetime.fromtimestamp(moment, zone).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def _utc_offsets(times: np.ndarray, zone: dt.tzinfo) -> np.ndarray:
    start = float(times.min())
    grid = np.arange(start, float(times.max()) + _WEEK, _WEEK)  # its last point >= the latest
    at_grid = [_utc_offset(t, zone) for t in grid.tolist()]
    week = ((times - start) // _WEEK).astype(np.int64)
    offsets = np.asarray(at_grid)[week]
    for k in np.flatnonzero(np.diff(at_grid)).tolist():
        before, after = float(grid[k]), float(grid[k + 1])  # the offset changes in between
        while after - before > 1.0:
            middle = (before + after) / 2
            if _utc_offset(middle, zone) == at_grid[k]:
                before = middle
            else:
                after = middle
        inside = week == k
        offsets[inside & (times >= after)] = at_grid[k + 1]
        unsure = np.flatnonzero(inside & (times > before) & (times < after))
        offsets[unsure] = [_utc_offset(t, zone) for t in times[unsure].tolist()]
    return offsets


def hour_genre_affinity(
    *,
    hour_buckets: npt.ArrayLike,
    title_index: npt.ArrayLike,
    title_genres: sp.spmatrix,
    weight: npt.ArrayLike | None = None,
    smoothing: float = 5.0,
) -> npt.NDArray[np.float32]:
    """One profile's genre affinity per hour bucket, from its plays.

    Each play spreads its weight over the played title's genres; each hour
    bucket's mix is smoothed towards the profile's all-day mix with
    ``smoothing`` pseudo-plays (a bucket with two plays should not look like
    a strong habit), then divided by its maximum so the favourite genre of
    that hour scores 1.

    Parameters
    ----------
    hour_buckets : array of int8, shape (n,)
        :func:`hour_bucket` of each play's local start time.
    title_index : array of int32, shape (n,)
        Played titles.
    title_genres : sparse matrix, shape (n_titles, n_genres)
        1 where a title has a genre.
    weight : array of float32, shape (n,), optional
        Per-play weight (e.g. decayed confidence); 1 by default.
    smoothing : float

    Returns
    -------
    numpy.ndarray of float32, shape (HOUR_BUCKETS, n_genres)
        Rows in [0, 1]; all zeros without plays.
    """
    genres = sp.csr_matrix(title_genres, dtype=np.float64)
    buckets = np.asarray(hour_buckets, dtype=np.int64).reshape(-1)
    titles = np.asarray(title_index, dtype=np.int64).reshape(-1)
    amount = np.ones(titles.shape[0]) if weight is None else np.asarray(weight, np.float64).ravel()
    if not buckets.shape == titles.shape == amount.shape:
        raise ValueError("hour_buckets, title_index and weight must have the same length")
    # Spread each title's play over its genres: genre shares sum to 1 per title.
    per_title = np.asarray(genres.sum(axis=1)).ravel()
    shares = sp.diags(np.divide(1.0, per_title, out=np.zeros_like(per_title), where=per_title > 0))
    shares = sp.csr_matrix(shares @ genres)
    plays = sp.csr_matrix((amount, (buckets, titles)), shape=(HOUR_BUCKETS, genres.shape[0]))
    counts = np.asarray((plays @ shares).todense())
    overall = counts.sum(axis=0)
    total = overall.sum()
    if total == 0:
        return np.zeros((HOUR_BUCKETS, genres.shape[1]), dtype=np.float32)
    mixes = counts + smoothing * overall / total
    top = mixes.max(axis=1, keepdims=True)
    return (mixes / np.where(top > 0, top, 1.0)).astype(np.float32)


def _column(name: str, value: npt.ArrayLike, n: int) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return np.full(n, float(array))
    array = array.reshape(-1)
    if array.shape[0] != n:
        raise ValueError(f"{name} has {array.shape[0]} entries, expected {n}")
    return array


def _device_codes(device: str | int | npt.ArrayLike, n: int) -> np.ndarray:
    if isinstance(device, str):
        if device not in DEVICE_CLASSES:
            raise ValueError(f"unknown device class {device!r}; expected one of {DEVICE_CLASSES}")
        return np.full(n, DEVICE_CLASSES.index(device))
    codes = _column("device", device, n).astype(np.int64)
    if np.any((codes < 0) | (codes >= len(DEVICE_CLASSES))):
        raise ValueError("device codes must index DEVICE_CLASSES")
    return codes


def _genre_match(
    title_genres: sp.spmatrix | npt.ArrayLike, genre_affinity: npt.ArrayLike, n: int
) -> np.ndarray:
    """Mean of the profile's genre affinity over each title's genres, shape (n,)."""
    affinity = np.asarray(genre_affinity, dtype=np.float64)
    if sp.issparse(title_genres):
        genres = sp.csr_matrix(title_genres, dtype=np.float64)
        per_title = np.asarray(genres.sum(axis=1)).ravel()
        if affinity.ndim == 1:
            weighted = np.asarray(genres @ affinity).ravel()
        else:
            weighted = np.asarray(genres.multiply(affinity).sum(axis=1)).ravel()
    else:
        genres = np.asarray(title_genres, dtype=np.float64)
        per_title = genres.sum(axis=1)
        weighted = genres @ affinity if affinity.ndim == 1 else (genres * affinity).sum(axis=1)
    if genres.shape[0] != n:
        raise ValueError(f"title_genres has {genres.shape[0]} rows, expected {n}")
    return np.divide(weighted, per_title, out=np.zeros(n), where=per_title > 0)


def build_features(
    *,
    cf_score: npt.ArrayLike,
    content_affinity: npt.ArrayLike,
    cluster_popularity: npt.ArrayLike,
    region_popularity: npt.ArrayLike,
    release_age_days: npt.ArrayLike,
    language_match: npt.ArrayLike,
    continue_watching: npt.ArrayLike,
    dislike_penalty: npt.ArrayLike,
    impressions_without_play: npt.ArrayLike,
    title_genres: sp.spmatrix | npt.ArrayLike,
    genre_affinity: npt.ArrayLike,
    recent_plays: npt.ArrayLike,
    weekday: npt.ArrayLike,
    device: str | int | npt.ArrayLike,
    row_position: npt.ArrayLike = 0,
    slot_position: npt.ArrayLike = 0,
) -> npt.NDArray[np.float32]:
    """The ranking feature matrix, columns :data:`FEATURE_NAMES`.

    Per-candidate inputs are arrays of shape (n,); context inputs
    (``recent_plays``, ``weekday``, ``device``, positions) are scalars for a
    request or arrays of shape (n,) for training rows.

    Parameters
    ----------
    cf_score, content_affinity : array of float32, shape (n,)
    cluster_popularity, region_popularity : array of float32, shape (n,)
        Already in [0, 1] (:func:`~recommendations.engine.popularity.normalise_popularity`).
    release_age_days : array of float32, shape (n,)
        Days since the title's release in the region; NaN if unknown.
    language_match, continue_watching : array of bool, shape (n,)
    dislike_penalty : array of float32, shape (n,)
    impressions_without_play : array of float32, shape (n,)
        How often the title was shown to the profile without being played.
    title_genres : sparse matrix or array, shape (n, n_genres)
        The candidates' genre rows (1 per genre). On the request path, keep
        the catalogue's genre table as a dense array (genres are few: 15,000
        x 30 is 1.8 MB) and pass ``table[candidates]``: fancy-indexing a
        dense array is far cheaper than slicing a sparse matrix.
    genre_affinity : array of float32, shape (n_genres,) or (n, n_genres)
        The profile's row of :func:`hour_genre_affinity` for the current hour
        bucket (per training row: the bucket of that impression).
    recent_plays : float or array of float32, shape (n,)
        The profile's plays in the last 7 days.
    weekday : int or array of int, shape (n,)
        Local weekday, Monday = 0.
    device : str, int or array of int, shape (n,)
        Device class name or index into :data:`DEVICE_CLASSES`.
    row_position, slot_position : int or array of int, shape (n,)
        Where the title was shown (0-based); leave 0 at serving.

    Returns
    -------
    numpy.ndarray of float32, shape (n, len(FEATURE_NAMES))
    """
    cf = np.clip(np.asarray(cf_score, dtype=np.float64).reshape(-1), -1.0, 2.0)
    n = cf.shape[0]
    hour_genre = _genre_match(title_genres, genre_affinity, n)
    age = _column("release_age_days", release_age_days, n)
    known = np.isfinite(age) & (age >= 0)
    recency = np.where(known, np.exp2(-np.where(known, age, 0.0) / 180.0), 0.0)
    ignored = _column("impressions_without_play", impressions_without_play, n)
    fatigue = np.log1p(np.maximum(ignored, 0.0))
    activity = np.log1p(np.maximum(_column("recent_plays", recent_plays, n), 0.0)) / np.log1p(50.0)
    activity = np.minimum(activity, 1.0)
    weekend = (_column("weekday", weekday, n).astype(np.int64) % 7 >= 5).astype(np.float64)
    devices = _device_codes(device, n)
    cluster = _column("cluster_popularity", cluster_popularity, n)
    resuming = _column("continue_watching", continue_watching, n).astype(bool).astype(np.float64)

    features = np.empty((n, len(FEATURE_NAMES)), dtype=np.float32)
    features[:, _COLUMN["cf_score"]] = cf
    features[:, _COLUMN["content_affinity"]] = _column("content_affinity", content_affinity, n)
    features[:, _COLUMN["cluster_popularity"]] = cluster
    features[:, _COLUMN["region_popularity"]] = _column("region_popularity", region_popularity, n)
    features[:, _COLUMN["release_recency"]] = recency
    features[:, _COLUMN["language_match"]] = _column("language_match", language_match, n) != 0
    features[:, _COLUMN["continue_watching"]] = resuming
    features[:, _COLUMN["dislike_penalty"]] = _column("dislike_penalty", dislike_penalty, n)
    features[:, _COLUMN["impression_fatigue"]] = np.minimum(fatigue / np.log1p(20.0), 1.0)
    features[:, _COLUMN["recent_activity"]] = activity
    features[:, _COLUMN["hour_genre_affinity"]] = hour_genre
    features[:, _COLUMN["weekend"]] = weekend
    features[:, _COLUMN["weekend_x_hour_genre"]] = weekend * hour_genre
    features[:, _COLUMN["cf_x_recent_activity"]] = cf * activity
    for index, name in enumerate(DEVICE_CLASSES):
        features[:, _COLUMN[f"device_{name}"]] = devices == index
    features[:, _COLUMN["tv_x_cluster_popularity"]] = (devices == 0) * cluster
    features[:, _COLUMN["mobile_x_continue_watching"]] = (devices == 1) * resuming
    features[:, _ROW_POSITIONS] = position_one_hots(row_position, n, ROW_POSITION_BUCKETS)
    features[:, _SLOT_POSITIONS] = position_one_hots(slot_position, n, SLOT_POSITION_BUCKETS)
    return features


def at_serving_position(features: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """A copy of ``features`` with the position columns set as serving sets them.

    Logged impressions carry where they were shown; serving scores every
    candidate at :data:`SERVING_POSITION`. The match's reference distribution
    is taken over impressions moved there, so it describes the same quantity
    serving reports.

    Parameters
    ----------
    features : array of float32, shape (n, len(FEATURE_NAMES))

    Returns
    -------
    numpy.ndarray of float32, shape (n, len(FEATURE_NAMES))
    """
    moved = np.array(features, dtype=np.float32)
    n = moved.shape[0]
    moved[:, _ROW_POSITIONS] = position_one_hots(SERVING_POSITION, n, ROW_POSITION_BUCKETS)
    moved[:, _SLOT_POSITIONS] = position_one_hots(SERVING_POSITION, n, SLOT_POSITION_BUCKETS)
    return moved


_PRIOR_WEIGHTS: tuple[tuple[str, float], ...] = (
    # What the product believes before any page was logged: CF and content
    # agreement are the strongest signs, resuming is very likely, the crowd
    # and the profile's language help, a disliked neighbourhood and repeated
    # ignoring hurt, and lower positions get fewer plays.
    ("cf_score", 2.0),
    ("content_affinity", 1.5),
    ("cluster_popularity", 1.0),
    ("region_popularity", 0.5),
    ("release_recency", 0.4),
    ("language_match", 0.5),
    ("continue_watching", 2.0),
    ("dislike_penalty", -4.0),
    ("impression_fatigue", -1.0),
    ("hour_genre_affinity", 0.75),
    ("cf_x_recent_activity", 0.5),
    # Where the fit starts; serving never uses them, and the gate fits them for the prior.
    *zip(ROW_POSITION_FEATURES, (-0.3, -0.6, -0.9, -1.2, -1.5, -1.8, -2.2, -2.6), strict=True),
    *zip(
        SLOT_POSITION_FEATURES,
        (-0.1, -0.2, -0.3, -0.4, -0.5, -0.6, -0.7, -0.9, -1.1, -1.5),
        strict=True,
    ),
)


@dataclass(frozen=True, slots=True)
class PriorBlend:
    """The fixed ranking used until enough pages are logged: ``sigmoid(bias + w · x)``.

    With the default bias of -3.5 a title with nothing going for it gets
    P(play) of about 3%, and one the CF and content models agree on, popular
    in the cluster and in the profile's language, about 30%: plausible
    magnitudes for homepage play rates, so the prior's "% match" is sensible.

    Attributes
    ----------
    bias : float
    weights : tuple of (feature name, weight) pairs
        Features not listed weigh 0.
    """

    bias: float = -3.5
    weights: tuple[tuple[str, float], ...] = _PRIOR_WEIGHTS

    def __post_init__(self) -> None:
        unknown = [name for name, _ in self.weights if name not in _COLUMN]
        if unknown:
            raise ValueError(f"prior weights for unknown features: {unknown}")

    def vector(self) -> npt.NDArray[np.float64]:
        """Weights aligned with :data:`FEATURE_NAMES`, shape (len(FEATURE_NAMES),)."""
        vector = np.zeros(len(FEATURE_NAMES))
        for name, weight in self.weights:
            vector[_COLUMN[name]] = weight
        return vector


_LEVELS = np.linspace(0.0, 1.0, 101)
#: Prior variance of the position terms (both rankers'): free in effect, yet defined where a
#: bucket was never shown (a page of three rows says nothing about the twelfth).
POSITION_VARIANCE = 100.0


class PlayRanker:
    """P(play | shown, context) per candidate: a learned logistic model or the prior blend.

    Parameters
    ----------
    C : float
        Prior variance of each coefficient around the prior blend's value
        (:func:`~recommendations.engine.logistic.map_logistic_fit`), but
        the position terms', which are :data:`POSITION_VARIANCE`. Small
        (0.05) because logged rows are exposure-conditional: every shown
        title was ranked high by the features the serving ranker uses, so
        among them those features have little contrast and their fitted
        weights fall towards zero. At ``C = 1`` the learned ranker kept
        its small edge on the pages it served but ranked the catalogue
        worse offline than the prior (NDCG@10 0.25 against 0.40 in the
        demo's world, 0.35 against 0.45 in a second); at 0.05 it ties or
        beats the prior on both (docs/recommendations.md, "Learning the
        title ranker").
    min_rows : int
        Logged impressions needed before a learned model is tried: played or seen ones
        (a tile its client did not report on screen is no training row). 2,000 since
        only seen tiles count: the 5,000 of all logged tiles it was before took the same
        pages (the demo's pages gave 0.35 as many rows), and kept the demo's smaller
        regions on the prior that their learned rankers beat.
    min_positives : int
        Plays (and non-plays) needed as well: a model that saw ten plays
        would be noise with confident-looking numbers.
    min_holdout_plays : int
        Plays the calibration part (the newest rows) must hold for the learned
        model to replace the prior (:data:`MIN_HOLDOUT_PLAYS`). Fewer, and the
        comparison is recorded but the prior serves: with 100 plays in the older
        part, a steady play rate gives the newest fifth about 25, so a learned
        model needs about 150 plays in all.
    calibration_fraction : float
        Most recent share of the training rows held out for the Platt
        calibration and the match quantiles (the latter at the serving position).
    max_iter : int
        L-BFGS iterations.
    prior : PriorBlend, optional
    random_state : int, numpy.random.Generator or None
        Passed to scikit-learn's Platt scaling (L-BFGS itself is deterministic).

    Attributes
    ----------
    mode : {"prior", "learned"}
        Which model ``predict_proba`` uses; the API reports it.
    n_holdout_rows, n_holdout_plays : int
        Rows, and plays among them, of the calibration part the last :meth:`fit`
        judged on (0 if never fitted; not stored with the model).
    n_training_rows : int
        Rows passed to the last :meth:`fit` (0 if never fitted).
    learned_log_loss, prior_log_loss : float or None
        Mean log loss on the calibration part (the newest rows) of the model
        fitted on the older ones and of the prior, its base rate and
        position terms fitted there too. The learned model is kept only if
        it is no worse and the calibration part holds ``min_holdout_plays``
        plays; None when there were too few rows to try.
    """

    def __init__(
        self,
        *,
        C: float = 0.05,
        min_rows: int = 2000,
        min_positives: int = 100,
        min_holdout_plays: int = MIN_HOLDOUT_PLAYS,
        calibration_fraction: float = 0.2,
        max_iter: int = 1000,
        prior: PriorBlend | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        if not 0.0 < calibration_fraction < 1.0:
            raise ValueError("calibration_fraction must be in (0, 1)")
        self.C = C
        self.min_rows = min_rows
        self.min_positives = min_positives
        self.min_holdout_plays = min_holdout_plays
        self.calibration_fraction = calibration_fraction
        self.max_iter = max_iter
        self.prior = prior or PriorBlend()
        self.random_state = random_state
        self.mode: Literal["prior", "learned"] = "prior"
        self.n_training_rows = 0
        self.n_holdout_rows = 0
        self.n_holdout_plays = 0
        self.learned_log_loss: float | None = None
        self.prior_log_loss: float | None = None
        self.feature_mean: npt.NDArray[np.float64]
        self.feature_scale: npt.NDArray[np.float64]
        self.coef: npt.NDArray[np.float64]
        self.intercept: float
        self.platt_slope: float
        self.platt_intercept: float
        self.match_quantiles: npt.NDArray[np.float64]
        self._use_prior()

    def fit(
        self,
        features: npt.ArrayLike,
        labels: npt.ArrayLike,
        *,
        sample_weight: npt.ArrayLike | None = None,
        pages: npt.ArrayLike | None = None,
    ) -> Self:
        """Learn from logged impressions; stay on the prior with too few, with too few plays
        among the newest to judge by, or if it predicts the newest of them better.

        Parameters
        ----------
        features : array of float32, shape (n, len(FEATURE_NAMES))
            :func:`build_features` of each logged impression, **in time
            order**: the last ``calibration_fraction`` is the calibration set.
        labels : array of bool, shape (n,)
            Whether the impression was played within the session.
        sample_weight : array of float32, shape (n,), optional
            Each row's weight: training gives the inverse rate at which a page's
            negatives were sampled. No propensity of the placement: serving ranks
            deterministically, so there is none to invert (docs/recommendations.md,
            "What the rankers cannot learn").
        pages : array of int, shape (n,), optional
            Each row's page, numbered in time order (non-decreasing): the
            calibration part then starts at a page's first row, so that no page
            has tiles on both sides (the same profile at the same moment would
            be judged with what the model was fitted on). Without it the rows
            are cut where the fraction falls.

        Returns
        -------
        PlayRanker
            ``self``; check :attr:`mode`.
        """
        from sklearn.linear_model import LogisticRegression

        matrix, target = training_arrays(features, labels, len(FEATURE_NAMES))
        weights = None if sample_weight is None else np.asarray(sample_weight, np.float64).ravel()
        n = target.shape[0]
        self.n_training_rows = n
        self.learned_log_loss = self.prior_log_loss = None
        split = _calibration_start(n, self.calibration_fraction, pages)
        fit_part, calibration_part = target[:split], target[split:]
        self.n_holdout_rows = n - split
        self.n_holdout_plays = int(calibration_part.sum())
        enough = (
            n >= self.min_rows
            and min(fit_part.sum(), (~fit_part).sum()) >= self.min_positives
            and min(calibration_part.sum(), (~calibration_part).sum()) > 0
        )
        if not enough:
            self._use_prior()
            if n >= MIN_REFERENCE_ROWS:
                self.match_quantiles = self._reference_quantiles(matrix, weights)
            return self

        # The fit starts from the prior and moves as far as the older logs justify; the
        # newest (the calibration part) then judge it against the prior. Logged pages
        # show what the serving model ranked high, so a feature it ranked by has little
        # contrast in them: a ridge towards zero fitted CF to nothing, and a model that
        # ignored taste replaced the prior unchecked.
        fit_weights = None if weights is None else weights[:split]
        coef, intercept = map_logistic_fit(
            matrix[:split],
            fit_part,
            centre=self.prior.vector(),
            intercept_centre=self.prior.bias,
            variance=np.where(POSITION_TERMS, POSITION_VARIANCE, self.C),
            sample_weight=fit_weights,
            max_iter=self.max_iter,
        )
        self.learned_log_loss, self.prior_log_loss = held_out_log_losses(
            matrix,
            target,
            np.arange(n) >= split,
            coef=coef,
            intercept=intercept,
            prior=self.prior.vector(),
            sample_weight=weights,
            nuisance=POSITION_TERMS,
        )
        # Judged on a handful of plays, the comparison is noise (which model rates those few
        # tiles higher), and the Platt scaling below would rescale every served probability
        # by them: recorded, but the prior serves.
        too_few = self.n_holdout_plays < self.min_holdout_plays
        if too_few or self.learned_log_loss > self.prior_log_loss:
            self._use_prior()
            self.match_quantiles = self._reference_quantiles(matrix, weights)
            return self
        self.feature_mean = np.zeros(len(FEATURE_NAMES))
        self.feature_scale = np.ones(len(FEATURE_NAMES))
        self.coef = coef
        self.intercept = intercept
        self.platt_slope, self.platt_intercept = 1.0, 0.0

        # Platt scaling on the held-out, most recent impressions.
        scores = self._raw_score(matrix[split:])
        platt = LogisticRegression(C=1e4, max_iter=self.max_iter)
        platt.fit(
            scores[:, np.newaxis],
            calibration_part,
            sample_weight=None if weights is None else weights[split:],
        )
        slope = float(platt.coef_[0, 0])
        if slope > 0:  # a non-positive slope means no usable signal; keep the raw model
            self.platt_slope, self.platt_intercept = slope, float(platt.intercept_[0])
        self.match_quantiles = self._reference_quantiles(
            matrix[split:], None if weights is None else weights[split:]
        )
        self.mode = "learned"
        return self

    def _reference_quantiles(
        self, logged: np.ndarray, weights: np.ndarray | None = None
    ) -> npt.NDArray[np.float64]:
        """Quantiles of the probabilities of logged impressions as serving would score them.

        Weighted by ``weights``: training keeps a sample of a page's unplayed tiles,
        each weighted for the ones left out, and the match is a percentile among
        all the titles shown, not among a sample where plays are overrepresented.
        """
        served = self.predict_proba(at_serving_position(logged)).astype(np.float64)
        return weighted_quantiles(served, _LEVELS, weights)

    def _use_prior(self) -> None:
        """Express the prior blend in the learned model's parameters: one scoring path."""
        self.mode = "prior"
        self.feature_mean = np.zeros(len(FEATURE_NAMES))
        self.feature_scale = np.ones(len(FEATURE_NAMES))
        self.coef = self.prior.vector()
        self.intercept = self.prior.bias
        self.platt_slope, self.platt_intercept = 1.0, 0.0
        self.match_quantiles = _LEVELS.copy()

    def _raw_score(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.feature_mean) / self.feature_scale) @ self.coef + self.intercept

    def predict_proba(self, features: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Calibrated P(play | shown, context) per row.

        Parameters
        ----------
        features : array of float32, shape (n, len(FEATURE_NAMES))

        Returns
        -------
        numpy.ndarray of float32, shape (n,)
        """
        matrix = np.asarray(features, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"features must have shape (n, {len(FEATURE_NAMES)})")
        score = self._raw_score(matrix)
        return expit(self.platt_slope * score + self.platt_intercept).astype(np.float32)

    def match(self, probabilities: npt.ArrayLike) -> npt.NDArray[np.uint8]:
        """The "% match" (0-99) of calibrated play probabilities; non-decreasing in them.

        Parameters
        ----------
        probabilities : array of float32, shape (n,)
            :meth:`predict_proba` output.

        Returns
        -------
        numpy.ndarray of uint8, shape (n,)
        """
        p = np.asarray(probabilities, dtype=np.float64)
        # Strictly increasing knots: ties in the quantiles (a point mass of
        # probabilities) would otherwise make interpolation ill-defined.
        knots = self.match_quantiles + np.arange(_LEVELS.shape[0]) * 1e-12
        share = np.interp(p, knots, _LEVELS)
        return np.clip(np.rint(99.0 * share), 0, 99).astype(np.uint8)

    def save(self, target: ArtefactTarget) -> None:
        """Store parameters and calibration as ``.npz`` arrays (no pickle)."""
        save_artefact(
            target,
            kind=_KIND,
            version=_VERSION,
            mode=self.mode,
            feature_names=np.array(FEATURE_NAMES),
            C=self.C,
            min_rows=self.min_rows,
            min_positives=self.min_positives,
            calibration_fraction=self.calibration_fraction,
            max_iter=self.max_iter,
            prior_bias=self.prior.bias,
            prior_names=np.array([name for name, _ in self.prior.weights]),
            prior_weights=np.array([weight for _, weight in self.prior.weights]),
            n_training_rows=self.n_training_rows,
            feature_mean=self.feature_mean,
            feature_scale=self.feature_scale,
            coef=self.coef,
            intercept=self.intercept,
            platt_slope=self.platt_slope,
            platt_intercept=self.platt_intercept,
            match_quantiles=self.match_quantiles,
        )

    @classmethod
    def load(cls, source: ArtefactTarget | os.PathLike[str]) -> PlayRanker:
        """Read a ranker written by :meth:`save`.

        A ranker whose positions were the first layout's two ``log1p``
        columns is read into this one (:func:`legacy_layout`): it serves
        exactly as before.

        Raises
        ------
        ValueError
            If it was trained on another feature layout (retrain it).
        """
        arrays = load_artefact(source, kind=_KIND, version=_VERSION)
        stored = tuple(str(name) for name in arrays["feature_names"])
        prior_weights = [
            (str(name), float(weight))
            for name, weight in zip(arrays["prior_names"], arrays["prior_weights"], strict=True)
        ]
        if stored != FEATURE_NAMES:
            layout = legacy_layout(
                stored, FEATURE_NAMES, POSITION_FEATURE_NAMES, LEGACY_POSITION_FEATURES
            )
            if layout is None:
                raise ValueError("ranker was trained on another feature layout; retrain it")
            coef, mean, scale = (arrays[k] for k in ("coef", "feature_mean", "feature_scale"))
            # What the old position columns added to every served score, where they were 0:
            # nothing on raw features, coef * (0 - mean) / scale on standardised ones.
            dropped = layout.dropped
            shift = float(np.sum(coef[dropped] * -mean[dropped] / scale[dropped]))
            arrays = {
                **arrays,
                "coef": layout.carry(coef, 0.0),
                "feature_mean": layout.carry(mean, 0.0),
                "feature_scale": layout.carry(scale, 1.0),
                "intercept": np.float64(float(arrays["intercept"]) + shift),
            }
            # Its prior weighed the legacy columns: this layout's position weights instead.
            prior_weights = [
                *((n, w) for n, w in prior_weights if n not in LEGACY_POSITION_FEATURES),
                *((n, w) for n, w in _PRIOR_WEIGHTS if n in POSITION_FEATURE_NAMES),
            ]
        prior = PriorBlend(bias=float(arrays["prior_bias"]), weights=tuple(prior_weights))
        ranker = cls(
            C=float(arrays["C"]),
            min_rows=int(arrays["min_rows"]),
            min_positives=int(arrays["min_positives"]),
            calibration_fraction=float(arrays["calibration_fraction"]),
            max_iter=int(arrays["max_iter"]),
            prior=prior,
        )
        ranker.mode = "learned" if str(arrays["mode"]) == "learned" else "prior"
        ranker.n_training_rows = int(arrays["n_training_rows"])
        ranker.feature_mean = arrays["feature_mean"]
        ranker.feature_scale = arrays["feature_scale"]
        ranker.coef = arrays["coef"]
        ranker.intercept = float(arrays["intercept"])
        ranker.platt_slope = float(arrays["platt_slope"])
        ranker.platt_intercept = float(arrays["platt_intercept"])
        ranker.match_quantiles = arrays["match_quantiles"]
        return ranker
