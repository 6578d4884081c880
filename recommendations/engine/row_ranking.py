"""Row ranking: which homepage rows appear, and in what order, for one profile at one moment.

The title ranker (:mod:`~recommendations.engine.ranking`) decides which titles
fill a row; this model decides the rows. Its question is "will this profile
start something from a row of this type, here and now?", asked per candidate
row with the context of the request: the local hour bucket, the weekday, the
device class.

Features
    :func:`row_features` builds, per candidate row, the columns of
    :data:`ROW_FEATURE_NAMES`:

    - ``type_*``: one-hot row type (:data:`ROW_TYPES`).
    - ``affinity``: how much more than an indifferent profile this one
      starts things from rows of this type, ``log(share * N_TYPES)``, its
      share of row-attributed plays shrunk towards uniform with
      :data:`AFFINITY_SMOOTHING` pseudo-plays. A profile needs a habit, not
      one play, to move a row type: one play of eleven types' worth of
      pseudo-plays moves it by about 0.4.
    - ``lift_hour`` / ``lift_device`` / ``lift_week_part``: how this context
      differs from the profile's own overall habit, ``log(context share /
      overall share)``, the context's share shrunk towards the overall one
      with :data:`CONTEXT_SMOOTHING` pseudo-plays. They are 0 when the
      profile behaves here as it does everywhere (so a play is not counted
      four times, as raw shares per context would), and they separate the
      per-profile habit ("resumes in the morning, starts new things in the
      evening") from the overall taste that ``affinity`` carries.
    - ``scroll_past_rate``: rapid scroll-pasts of rows of this type over
      (scroll-pasts + plays + 2): a row the profile keeps skipping sinks.
    - ``seen_rate_lift``: plays started from rows of this type per tile of
      them the profile actually saw (the client's impressions carry their
      row), over the profile's own plays per tile seen, ``log(type rate /
      overall rate)``, the type's rate shrunk towards the overall one with
      :data:`SEEN_SMOOTHING` pseudo-tiles; 0 without impressions. Shares
      alone reward exposure: a row type shown first every day collects
      plays because it is seen most, and its share keeps it first. Per
      tile seen, a type the profile rarely scrolls to but plays from when
      it does climbs, and one it sees daily and ignores sinks. Counted over
      the period both its plays and its impressions were read for
      (:func:`seen_counts`). The prior gives it no weight (measured: no
      better agreement with the simulated tastes); the learned model takes
      what the logs support.
    - ``strength``: mean play probability (title ranker) of the row's first
      items: an empty-looking row of a favourite type should not lead.
    - ``type_x_hour_*`` / ``type_x_device_*`` / ``type_x_weekend_*``: row
      type x context one-hots, so the learned model can find population-wide
      habits (resume in the morning, discover new releases on Friday
      evening, lean back on TV).
    - ``row_position_*``: where the row was shown, one-hot per bucket of its
      index (``ROW_POSITION_BUCKETS``, shared with the title ranker; the top
      row is none of them), learned so that position bias (row 1 gets played
      because it is row 1) is explained by them, and all 0 at serving. Buckets, not a curve: a
      screen's rows are looked at alike and the next screen's much less, a
      step that a single ``log1p(index)`` term could only fit by marking the
      top row's type down and the third row's up.

Model
    :class:`RowRanker` is a logistic model whose coefficients start at the
    documented :class:`RowPrior` and move only as far as logged pages
    justify: the fit is the maximum a posteriori estimate under a Gaussian
    prior centred on the prior's coefficients (variance ``C`` for what is
    read from the profile's own engagement and for the row's strength, the
    smaller ``C_population`` for the row type and row type x context terms,
    the position terms nearly free), not a ridge towards zero. A few hundred
    pages nudge it; a region's month of pages can overturn it. Training also
    holds the newest pages out (:func:`row_ranker_select`) and keeps the
    prior unless the learned model predicts the plays of those pages at
    least as well (log loss), against the prior with its base rate and
    position terms fitted too. Saved as ``.npz`` without pickle.

Prior
    Before any page is logged the order is: the product's base preference per
    row type (:data:`PRIOR_TYPE_BIAS`: resume first, then top picks and
    "because you watched"), plus the profile's affinity and its context
    lifts (the hour weighs most: a profile that resumes shows in the morning
    and starts new releases in the evening sees Continue Watching first in
    the morning and New Releases first in the evening), minus scroll-past,
    plus the row's strength. So even the prior reorders rows by time of day,
    weekday and device for a profile whose signals carry row ids.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from recommendations.engine.logistic import held_out_log_losses, map_logistic_fit, training_arrays
from recommendations.engine.persistence import ArtefactTarget, load_artefact, save_artefact
from recommendations.engine.ranking import (
    DEVICE_CLASSES,
    HOUR_BUCKETS,
    LEGACY_POSITION_FEATURES,
    POSITION_VARIANCE,
    ROW_POSITION_BUCKETS,
    ROW_POSITION_FEATURES,
    legacy_layout,
    position_one_hots,
)

__all__ = [
    "PRIOR_TYPE_BIAS",
    "PROFILE_FEATURES",
    "ROW_FEATURE_NAMES",
    "ROW_TYPES",
    "RowEngagement",
    "RowPrior",
    "RowRanker",
    "RowRankerChoice",
    "RowTerms",
    "row_features",
    "row_ranker_select",
    "seen_counts",
]

_KIND = "tonight.row_ranker"
_VERSION = 2

#: Row types, in the order of the one-hot columns (the demo's vocabulary imports these).
ROW_TYPES: tuple[str, ...] = (
    "continue_watching",
    "top_picks",
    "because_you_watched",
    "because_you_liked",
    "trending",
    "popular_in",
    "new_releases",
    "critically_acclaimed",
    "genre",
    "language",
    "watch_again",
)
_TYPE = {name: i for i, name in enumerate(ROW_TYPES)}
N_TYPES = len(ROW_TYPES)

#: Pseudo-plays spread uniformly over the row types before a profile's affinity is taken.
AFFINITY_SMOOTHING = 20.0
#: Pseudo-plays at the profile's overall shares before a context's shares are taken.
CONTEXT_SMOOTHING = 6.0
#: Plays a profile's overall shares give to a row type it never started anything from,
#: spread uniformly, so a context lift stays finite.
_OVERALL_FLOOR = 0.5
#: Pseudo-tiles seen at the profile's overall play rate before a row type's own rate is
#: taken: about eight rows' worth on a TV, so a few glances do not move a type.
SEEN_SMOOTHING = 40.0
#: The profile's overall rate starts from one play per this many tiles seen (a prior
#: that keeps it finite and positive before any play).
_RATE_PRIOR_TILES = 50.0

#: The features read from the profile's own row engagement (all else is the row's type,
#: the context, the row's strength and where it was shown).
PROFILE_FEATURES: tuple[str, ...] = (
    "affinity",
    "lift_hour",
    "lift_device",
    "lift_week_part",
    "scroll_past_rate",
    "seen_rate_lift",
)
ROW_FEATURE_NAMES: tuple[str, ...] = (
    *(f"type_{t}" for t in ROW_TYPES),
    *PROFILE_FEATURES,
    "strength",
    *(f"type_x_hour_{t}_{b}" for t in ROW_TYPES for b in range(HOUR_BUCKETS)),
    *(f"type_x_device_{t}_{d}" for t in ROW_TYPES for d in DEVICE_CLASSES),
    *(f"type_x_weekend_{t}" for t in ROW_TYPES),
    *ROW_POSITION_FEATURES,
)
_COLUMN = {name: i for i, name in enumerate(ROW_FEATURE_NAMES)}
#: The row type and row type x context one-hots, and where the row was shown.
_POPULATION_TERMS = np.array([name.startswith("type_") for name in ROW_FEATURE_NAMES])
_POSITION_TERMS = np.isin(ROW_FEATURE_NAMES, ROW_POSITION_FEATURES)
_POSITIONS = slice(_COLUMN[ROW_POSITION_FEATURES[0]], _COLUMN[ROW_POSITION_FEATURES[-1]] + 1)
_HOUR_BASE = _COLUMN[f"type_x_hour_{ROW_TYPES[0]}_0"]
_DEVICE_BASE = _COLUMN[f"type_x_device_{ROW_TYPES[0]}_{DEVICE_CLASSES[0]}"]
_WEEKEND_BASE = _COLUMN[f"type_x_weekend_{ROW_TYPES[0]}"]

#: The product's belief before logs: what a typical viewer starts from.
PRIOR_TYPE_BIAS: dict[str, float] = {
    "continue_watching": 1.2,
    "top_picks": 0.9,
    "because_you_watched": 0.7,
    "because_you_liked": 0.6,
    "trending": 0.5,
    "popular_in": 0.4,
    "new_releases": 0.4,
    "watch_again": 0.2,
    "critically_acclaimed": 0.2,
    "genre": 0.1,
    "language": 0.1,
}
_PRIOR_CONTEXT_WEIGHTS: tuple[tuple[str, float], ...] = (
    # Affinity and lifts are log ratios: a weight of 1 reads them as log odds. The hour
    # weighs most (the issue's "resumes in the morning, starts new things in the
    # evening"); an even split of two habits by hour moves each row ~1.5 logits.
    ("affinity", 1.0),
    ("lift_hour", 1.5),
    ("lift_device", 1.0),
    ("lift_week_part", 0.75),
    ("scroll_past_rate", -2.0),
    # Left to the logs: in the simulated households (demo scale, 468 profile-moments) a
    # prior weight of 0.5 or 1 agreed with the hidden row tastes no better than none
    # (0.458 / 0.461 vs 0.470, standard error 0.014); learned, it settles at +0.17-0.24.
    ("seen_rate_lift", 0.0),
    ("strength", 3.0),
    # Where a row was shown never orders a page (all 0 at serving); these are where the
    # fit starts, and the gate fits them for the prior as it fits its base rate.
    *zip(ROW_POSITION_FEATURES, (-0.2, -0.4, -0.6, -0.8, -1.0, -1.3, -1.7, -2.2), strict=True),
)


@dataclass(frozen=True, slots=True)
class RowEngagement:
    """One profile's row-attributed engagement, counted per row type and context.

    Attributes
    ----------
    plays : numpy.ndarray of float64, shape (N_TYPES,)
        Plays started from rows of each type.
    plays_by_hour : numpy.ndarray of float64, shape (HOUR_BUCKETS, N_TYPES)
    plays_by_device : numpy.ndarray of float64, shape (len(DEVICE_CLASSES), N_TYPES)
    plays_by_daypart : numpy.ndarray of float64, shape (2, N_TYPES)
        Weekday (0) and weekend (1).
    scroll_past : numpy.ndarray of float64, shape (N_TYPES,)
    seen, plays_seen : numpy.ndarray of float64, shape (N_TYPES,)
        Tiles of each type seen (impressions) and plays started from each
        type, over the same period (:func:`seen_counts`); zeros without
        impressions.
    """

    plays: npt.NDArray[np.float64]
    plays_by_hour: npt.NDArray[np.float64]
    plays_by_device: npt.NDArray[np.float64]
    plays_by_daypart: npt.NDArray[np.float64]
    scroll_past: npt.NDArray[np.float64]
    seen: npt.NDArray[np.float64]
    plays_seen: npt.NDArray[np.float64]

    @classmethod
    def empty(
        cls, seen: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None
    ) -> RowEngagement:
        """No row events (a profile can still have seen rows: ``seen``, as :meth:`from_events`)."""
        return cls(
            plays=np.zeros(N_TYPES),
            plays_by_hour=np.zeros((HOUR_BUCKETS, N_TYPES)),
            plays_by_device=np.zeros((len(DEVICE_CLASSES), N_TYPES)),
            plays_by_daypart=np.zeros((2, N_TYPES)),
            scroll_past=np.zeros(N_TYPES),
            seen=np.zeros(N_TYPES) if seen is None else seen[0],
            plays_seen=np.zeros(N_TYPES) if seen is None else seen[1],
        )

    @classmethod
    def from_events(
        cls,
        *,
        row_type: npt.ArrayLike,
        is_play: npt.ArrayLike,
        hour_bucket: npt.ArrayLike,
        device: npt.ArrayLike,
        weekday: npt.ArrayLike,
        seen: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
    ) -> RowEngagement:
        """Count a profile's row events.

        Parameters
        ----------
        row_type : array of int, shape (n,)
            Index into :data:`ROW_TYPES`; negative entries are ignored.
        is_play : array of bool, shape (n,)
            Play start (True) or rapid scroll-past (False).
        hour_bucket, device, weekday : array of int, shape (n,)
            Local hour bucket, index into ``DEVICE_CLASSES``, local weekday.
        seen : (seen, plays_seen), optional
            :func:`seen_counts` of the same profile and moment.
        """
        types = np.asarray(row_type, dtype=np.int64).reshape(-1)
        plays = np.asarray(is_play, dtype=bool).reshape(-1)
        keep = types >= 0
        types, plays = types[keep], plays[keep]
        hours = np.asarray(hour_bucket, dtype=np.int64).reshape(-1)[keep]
        devices = np.asarray(device, dtype=np.int64).reshape(-1)[keep]
        daypart = (np.asarray(weekday, dtype=np.int64).reshape(-1)[keep] % 7 >= 5).astype(np.int64)
        t, h, d, w = types[plays], hours[plays], devices[plays], daypart[plays]
        by_hour = np.zeros((HOUR_BUCKETS, N_TYPES))
        np.add.at(by_hour, (h, t), 1.0)
        by_device = np.zeros((len(DEVICE_CLASSES), N_TYPES))
        np.add.at(by_device, (d, t), 1.0)
        by_daypart = np.zeros((2, N_TYPES))
        np.add.at(by_daypart, (w, t), 1.0)
        return cls(
            plays=np.bincount(t, minlength=N_TYPES).astype(np.float64),
            plays_by_hour=by_hour,
            plays_by_device=by_device,
            plays_by_daypart=by_daypart,
            scroll_past=np.bincount(types[~plays], minlength=N_TYPES).astype(np.float64),
            seen=np.zeros(N_TYPES) if seen is None else seen[0],
            plays_seen=np.zeros(N_TYPES) if seen is None else seen[1],
        )


def seen_counts(
    *,
    at: float,
    days: float,
    impression_type: npt.ArrayLike,
    impression_time: npt.ArrayLike,
    impressions_cut: bool,
    event_type: npt.ArrayLike,
    event_is_play: npt.ArrayLike,
    event_time: npt.ArrayLike,
    events_cut: bool,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Tiles seen and plays started per row type, over the period both were read for.

    A request reads a bounded number of each (the newest impressions, the
    newest row events), so a rate over whatever was read would set a heavy
    viewer's plays of one period against impressions of another. The period
    is the last ``days`` before ``at``, shortened to just after the oldest
    impression read when that bound was reached, and to just after the oldest
    row event read when that one was. Serving and training call this with the
    same reads.

    Parameters
    ----------
    at : float
        Unix time of the page.
    days : float
        The longest period (the row events' window).
    impression_type, impression_time : arrays of shape (m,)
        Every impression read (row type index; negative for none or an
        unknown type, which count towards the bound but not as seen rows).
    impressions_cut : bool
        Whether the impression bound was reached (older ones exist).
    event_type, event_is_play, event_time : arrays of shape (n,)
        The row events read (play starts and scroll-pasts).
    events_cut : bool
        Whether the row events' bound was reached.

    Returns
    -------
    seen, plays_seen : numpy.ndarray of float64, shape (N_TYPES,)
    """
    impression_time = np.asarray(impression_time, dtype=np.float64).reshape(-1)
    impression_type = np.asarray(impression_type, dtype=np.int64).reshape(-1)
    event_time = np.asarray(event_time, dtype=np.float64).reshape(-1)
    event_type = np.asarray(event_type, dtype=np.int64).reshape(-1)
    start, cut = at - days * 86400.0, False
    for was_cut, times in ((impressions_cut, impression_time), (events_cut, event_time)):
        if was_cut and times.shape[0] and float(times.min()) >= start:
            start, cut = float(times.min()), True
    # Where a bound cut a read, rows at its oldest instant may have been left out of
    # either read (one client batch shares a timestamp): that instant is not counted.
    after = (lambda t: t > start) if cut else (lambda t: t >= start)
    shown = after(impression_time) & (impression_time < at) & (impression_type >= 0)
    played = (
        np.asarray(event_is_play, dtype=bool).reshape(-1)
        & after(event_time)
        & (event_time < at)
        & (event_type >= 0)
    )
    return (
        np.bincount(impression_type[shown], minlength=N_TYPES).astype(np.float64),
        np.bincount(event_type[played], minlength=N_TYPES).astype(np.float64),
    )


def _seen_rate_lift(
    seen: npt.NDArray[np.float64], plays_seen: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``log(type rate / overall rate)`` of plays per tile seen, the type's rate shrunk."""
    tiles = seen.sum(axis=-1, keepdims=True)
    overall = (plays_seen.sum(axis=-1, keepdims=True) + 1.0) / (tiles + _RATE_PRIOR_TILES)
    rate = (plays_seen + SEEN_SMOOTHING * overall) / (seen + SEEN_SMOOTHING)
    return np.where(tiles > 0, np.log(rate / overall), 0.0)


def _affinity(plays: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``log(share * N_TYPES)`` per row type, the share shrunk towards uniform."""
    total = plays.sum(axis=-1, keepdims=True)
    share = (plays + AFFINITY_SMOOTHING / N_TYPES) / (total + AFFINITY_SMOOTHING)
    return np.log(share * N_TYPES)


def _overall_shares(plays: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The profile's own shares, barely smoothed: the anchor each context is compared with."""
    total = plays.sum(axis=-1, keepdims=True)
    return (plays + _OVERALL_FLOOR / N_TYPES) / (total + _OVERALL_FLOOR)


def _lift(
    context: npt.NDArray[np.float64],
    overall: npt.NDArray[np.float64],
    plays: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """``log(context share / overall share)``, the context's share shrunk towards the overall.

    The context's counts get the overall's floor in proportion to the plays
    they hold, so the lift is exactly 0 both when the context has no plays
    (nothing is known about it) and when every play happened in it (that
    evidence is the profile's taste, not a habit of the hour).
    """
    total = context.sum(axis=-1, keepdims=True)
    everything = plays.sum(axis=-1, keepdims=True)
    floor = _OVERALL_FLOOR * np.divide(
        total, everything, out=np.zeros_like(total), where=everything > 0
    )
    share = (context + floor / N_TYPES + CONTEXT_SMOOTHING * overall) / (
        total + floor + CONTEXT_SMOOTHING
    )
    return np.log(share / overall)


def row_features(
    *,
    row_type: npt.ArrayLike,
    strength: npt.ArrayLike,
    hour_bucket: npt.ArrayLike,
    device: npt.ArrayLike,
    weekday: npt.ArrayLike,
    plays: npt.ArrayLike,
    plays_hour: npt.ArrayLike,
    plays_device: npt.ArrayLike,
    plays_daypart: npt.ArrayLike,
    scroll_past: npt.ArrayLike,
    seen: npt.ArrayLike | None = None,
    plays_seen: npt.ArrayLike | None = None,
    row_position: npt.ArrayLike = 0,
) -> npt.NDArray[np.float32]:
    """The row feature matrix, columns :data:`ROW_FEATURE_NAMES`.

    Serving passes one context (scalars) and one profile's counts (shape
    (N_TYPES,)); training passes one row per logged row impression with the
    profile's counts as of that page (shape (n, N_TYPES)).

    Parameters
    ----------
    row_type : array of int, shape (n,)
        Index into :data:`ROW_TYPES`.
    strength : array of float, shape (n,)
        Mean title play probability of the row's first items.
    hour_bucket, device, weekday : int or array of int, shape (n,)
    plays, plays_hour, plays_device, plays_daypart, scroll_past : array of float,
        shape (N_TYPES,) or (n, N_TYPES)
        The profile's counts per row type: overall, in this hour bucket, on
        this device, in this part of the week; scroll-pasts overall.
    seen, plays_seen : array of float, shape (N_TYPES,) or (n, N_TYPES), optional
        Tiles seen and plays per row type over one period (:func:`seen_counts`);
        without them ``seen_rate_lift`` is 0.
    row_position : int or array of int, shape (n,)
        Index of the row on its page; 0 (the top) at serving.

    Returns
    -------
    numpy.ndarray of float32, shape (n, len(ROW_FEATURE_NAMES))
    """
    types = np.asarray(row_type, dtype=np.int64).reshape(-1)
    n = types.shape[0]
    if np.any((types < 0) | (types >= N_TYPES)):
        raise ValueError("row_type must index ROW_TYPES")
    rows = np.arange(n)
    zeros = np.zeros(N_TYPES)
    counts = [
        np.asarray(c, dtype=np.float64)
        for c in (
            plays,
            plays_hour,
            plays_device,
            plays_daypart,
            scroll_past,
            zeros if seen is None else seen,
            zeros if plays_seen is None else plays_seen,
        )
    ]
    for array in counts:
        if array.shape not in ((N_TYPES,), (n, N_TYPES)):
            raise ValueError(f"counts must have shape ({N_TYPES},) or ({n}, {N_TYPES})")
    if all(array.ndim == 1 for array in counts):
        # Serving: one profile's counts for every row. Each feature is computed once per
        # row type (11 values) and then picked per row, not once per row.
        def pick(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            return values[types]
    else:
        counts = [np.broadcast_to(array, (n, N_TYPES)) for array in counts]

        def pick(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            return values[rows, types]

    play_counts, in_hour, on_device, in_week_part, scroll_counts, seen_tiles, seen_plays = counts

    def context(value: npt.ArrayLike) -> npt.NDArray[np.int64]:
        return np.broadcast_to(np.asarray(value, dtype=np.int64), (n,))

    hours = context(hour_bucket)
    devices = context(device)
    weekend = context(weekday) % 7 >= 5
    overall = _overall_shares(play_counts)
    scrolls = pick(scroll_counts)
    features = np.zeros((n, len(ROW_FEATURE_NAMES)), dtype=np.float32)
    features[rows, types] = 1.0
    features[:, _COLUMN["affinity"]] = pick(_affinity(play_counts))
    features[:, _COLUMN["lift_hour"]] = pick(_lift(in_hour, overall, play_counts))
    features[:, _COLUMN["lift_device"]] = pick(_lift(on_device, overall, play_counts))
    features[:, _COLUMN["lift_week_part"]] = pick(_lift(in_week_part, overall, play_counts))
    features[:, _COLUMN["scroll_past_rate"]] = scrolls / (scrolls + pick(play_counts) + 2.0)
    features[:, _COLUMN["seen_rate_lift"]] = pick(_seen_rate_lift(seen_tiles, seen_plays))
    features[:, _COLUMN["strength"]] = np.broadcast_to(np.asarray(strength, dtype=np.float64), (n,))
    features[rows, _HOUR_BASE + types * HOUR_BUCKETS + hours] = 1.0
    features[rows, _DEVICE_BASE + types * len(DEVICE_CLASSES) + devices] = 1.0
    features[rows[weekend], _WEEKEND_BASE + types[weekend]] = 1.0
    features[:, _POSITIONS] = position_one_hots(row_position, n, ROW_POSITION_BUCKETS)
    return features


@dataclass(frozen=True, slots=True)
class RowPrior:
    """The fixed row ordering used until enough pages are logged: ``sigmoid(bias + w · x)``."""

    bias: float = -3.0
    type_bias: tuple[tuple[str, float], ...] = tuple(PRIOR_TYPE_BIAS.items())
    weights: tuple[tuple[str, float], ...] = _PRIOR_CONTEXT_WEIGHTS

    def vector(self) -> npt.NDArray[np.float64]:
        vector = np.zeros(len(ROW_FEATURE_NAMES))
        for name, weight in self.type_bias:
            vector[_COLUMN[f"type_{name}"]] = weight
        for name, weight in self.weights:
            vector[_COLUMN[name]] = weight
        return vector


@dataclass(frozen=True, slots=True)
class RowTerms:
    """Why each candidate row scored what it did (:meth:`RowRanker.terms`).

    Attributes
    ----------
    values, terms : numpy.ndarray of float64, shape (n, len(ROW_FEATURE_NAMES))
        Each feature's value and its term (value x coefficient) per row.
    intercept : float
    logits : numpy.ndarray of float64, shape (n,)
        The scores serving ordered rows by: ``terms`` summed plus ``intercept``
        (to rounding; the sum is taken as a product with the coefficients).
    """

    values: npt.NDArray[np.float64]
    terms: npt.NDArray[np.float64]
    intercept: float
    logits: npt.NDArray[np.float64]


class RowRanker:
    """P(a play starts from this row | shown, context): the prior, or learned from it.

    Parameters
    ----------
    C : float
        Variance of the Gaussian prior on each coefficient around the
        prior's value: how far a logit may move per unit of evidence. The
        intercept and the position terms are left nearly free (the base rate
        of plays per row, and how far down a page viewers look, are
        properties of the logs, not beliefs worth defending).
    C_population : float
        The same for the row type one-hots and the row type x context terms:
        how much everyone starts from a type of row, here and now. Logs tell
        these apart poorly: every page was ordered by the serving model (the
        prior puts Continue Watching first on each), and a viewer starts one
        title from a page, so a row's plays depend on the rows beside it. At
        ``C`` the simulated households' logs moved Continue Watching 1.4
        logits below the prior, and the learned order agreed less with their
        hidden tastes and started fewer plays than the prior's; at 0.02 it
        agrees more and starts as many or more (``bench/row_tastes.py``, two
        simulated worlds; the profile's own terms still move at ``C``).
    min_rows : int
        Logged rows the viewer reached needed before fitting is tried at all. 800
        since rows never reached are no samples: the 2,000 of every logged row it was
        before took the same pages (the demo's pages gave 0.41 as many rows).
    min_positives : int
        Rows with a play (and rows without) needed as well.
    max_iter : int

    Attributes
    ----------
    mode : {"prior", "learned"}
    n_training_rows : int
    """

    def __init__(
        self,
        *,
        C: float = 0.2,
        C_population: float = 0.02,
        min_rows: int = 800,
        min_positives: int = 100,
        max_iter: int = 500,
    ) -> None:
        self.C = C
        self.C_population = C_population
        self.min_rows = min_rows
        self.min_positives = min_positives
        self.max_iter = max_iter
        self.mode: Literal["prior", "learned"] = "prior"
        self.n_training_rows = 0
        self.coef = RowPrior().vector()
        self.intercept = RowPrior().bias

    def enough(self, labels: npt.ArrayLike) -> bool:
        """Whether ``labels`` are enough rows, with enough plays and non-plays, to fit on."""
        target = np.asarray(labels).astype(bool).reshape(-1)
        positives = int(target.sum())
        return (
            target.shape[0] >= self.min_rows
            and min(positives, target.shape[0] - positives) >= self.min_positives
        )

    def fit(self, features: npt.ArrayLike, labels: npt.ArrayLike) -> Self:
        """The maximum a posteriori coefficients given logged row impressions.

        Stays on the prior with too few rows (:meth:`enough`). Features are
        not standardised: the prior is stated in their own units, and the
        penalty must be centred where the prior is.

        Parameters
        ----------
        features : array of float32, shape (n, len(ROW_FEATURE_NAMES))
        labels : array of bool, shape (n,)
            Whether a play was attributed to the row.
        """
        matrix, target = training_arrays(features, labels, len(ROW_FEATURE_NAMES))
        self.n_training_rows = int(target.shape[0])
        if not self.enough(target):
            return self
        self.coef, self.intercept = map_logistic_fit(
            matrix,
            target,
            centre=RowPrior().vector(),
            intercept_centre=RowPrior().bias,
            variance=self.variances(),
            max_iter=self.max_iter,
        )
        self.mode = "learned"
        return self

    def variances(self) -> npt.NDArray[np.float64]:
        """Each coefficient's prior variance around the prior: ``C``, ``C_population`` for the
        row type and row type x context terms, and nearly free for the position terms."""
        variance = np.full(len(ROW_FEATURE_NAMES), self.C)
        variance[_POPULATION_TERMS] = self.C_population
        variance[_POSITION_TERMS] = POSITION_VARIANCE
        return variance

    def logits(self, features: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The score of each candidate row before the sigmoid, shape (n,).

        Serving orders rows by it (:meth:`predict_proba`) and the console explains it
        (:meth:`terms`) from this one computation, so an explanation cannot drift from
        the order served.
        """
        matrix = np.asarray(features, dtype=np.float64)
        return matrix @ self.coef + self.intercept

    def predict_proba(self, features: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """P(play from the row) per candidate row, shape (n,)."""
        return expit(self.logits(features)).astype(np.float32)

    def terms(self, features: npt.ArrayLike) -> RowTerms:
        """Each feature's term in each row's score: the model is linear in its features, so
        the logit splits exactly into ``value x coefficient`` per feature plus the intercept."""
        matrix = np.asarray(features, dtype=np.float64)
        return RowTerms(
            values=matrix,
            terms=matrix * self.coef,
            intercept=float(self.intercept),
            logits=self.logits(matrix),
        )

    def save(self, target: ArtefactTarget) -> None:
        save_artefact(
            target,
            kind=_KIND,
            version=_VERSION,
            mode=self.mode,
            feature_names=np.array(ROW_FEATURE_NAMES),
            C=self.C,
            C_population=self.C_population,
            min_rows=self.min_rows,
            min_positives=self.min_positives,
            max_iter=self.max_iter,
            n_training_rows=self.n_training_rows,
            coef=self.coef,
            intercept=self.intercept,
        )

    @classmethod
    def load(cls, source: ArtefactTarget | os.PathLike[str]) -> RowRanker:
        """Read a row ranker written by :meth:`save`.

        A ranker whose position was the first layout's ``log1p`` column is
        read into this one (:func:`~recommendations.engine.ranking.legacy_layout`):
        it orders rows exactly as before until the next retrain.

        Raises
        ------
        ValueError
            If it was written by another layout (an older release's ranker):
            serving then falls back to the prior until the next retrain.
        """
        arrays = load_artefact(source, kind=_KIND, version=_VERSION)
        stored = tuple(str(n) for n in arrays["feature_names"])
        coef = arrays.get("coef")
        if stored != ROW_FEATURE_NAMES:
            layout = legacy_layout(
                stored, ROW_FEATURE_NAMES, ROW_POSITION_FEATURES, LEGACY_POSITION_FEATURES[:1]
            )
            if layout is None or coef is None:
                raise ValueError("row ranker was trained on another feature layout; retrain it")
            coef = layout.carry(coef, 0.0)
        ranker = cls(
            C=float(arrays["C"]),
            # Rankers stored before the population terms had their own variance used C.
            C_population=float(arrays["C_population"] if "C_population" in arrays else arrays["C"]),
            min_rows=int(arrays["min_rows"]),
            min_positives=int(arrays["min_positives"]),
            max_iter=int(arrays["max_iter"]),
        )
        ranker.mode = "learned" if str(arrays["mode"]) == "learned" else "prior"
        ranker.n_training_rows = int(arrays["n_training_rows"])
        ranker.coef = coef
        ranker.intercept = float(arrays["intercept"])
        return ranker


@dataclass(frozen=True, slots=True)
class RowRankerChoice:
    """The row ranker training keeps, and the held-out figures it was chosen by.

    Attributes
    ----------
    ranker : RowRanker
        Learned from every row when it predicted the held-out pages at least
        as well as the prior; the prior otherwise.
    holdout_rows : int
        Row impressions of the newest pages, held out.
    learned_log_loss, prior_log_loss : float or None
        Mean log loss on those rows of the model fitted on the older pages,
        and of the prior with its base rate and position terms fitted on them
        too; None when there were too few rows to fit.
    """

    ranker: RowRanker
    holdout_rows: int
    learned_log_loss: float | None
    prior_log_loss: float | None

    def describe(self) -> dict[str, object]:
        return {
            "mode": self.ranker.mode,
            "training_rows": self.ranker.n_training_rows,
            "holdout_rows": self.holdout_rows,
            "learned_log_loss": self.learned_log_loss,
            "prior_log_loss": self.prior_log_loss,
        }


#: Share of the newest pages :func:`row_ranker_select` holds out.
HOLDOUT_SHARE = 0.25
#: Held-out plays needed before the comparison is believed.
MIN_HOLDOUT_PLAYS = 30


def row_ranker_select(
    features: npt.ArrayLike,
    labels: npt.ArrayLike,
    pages: npt.ArrayLike,
    *,
    holdout: float = HOLDOUT_SHARE,
    **params: Any,
) -> RowRankerChoice:
    """Fit on the older pages, compare with the prior on the newest, keep the better.

    The learned model replaces the prior only if it predicts the plays of
    unseen, later pages at least as well: a model that fits its own month of
    logs but predicts next week's worse is a regression even though its loss
    went down. The measure is log loss with the shown position as a
    feature, not a ranking of the logged rows: the logged order is the
    serving model's own (rows on top get played because they are on top),
    so ranking figures replayed from logs favour whichever model served the
    pages. The prior's base rate and position terms are fitted on the older
    pages first, so it is not penalised for an intercept nobody believed
    in, nor for how far down the page viewers look, which orders nothing
    at serving: the learned model must win on what it would change.

    Parameters
    ----------
    features, labels :
        As :meth:`RowRanker.fit`.
    pages : array of int, shape (n,)
        Each row's page, numbered in time order (a later page, a larger number).
    holdout : float
        Share of the newest pages held out.
    **params :
        :class:`RowRanker`'s parameters.
    """
    matrix = np.asarray(features, dtype=np.float64)
    target = np.asarray(labels).astype(bool).reshape(-1)
    page = np.asarray(pages, dtype=np.int64).reshape(-1)
    prior = RowRanker(**params)
    prior.n_training_rows = int(target.shape[0])
    if not prior.enough(target):
        return RowRankerChoice(prior, 0, None, None)
    distinct = np.unique(page)
    cut = distinct[min(int(len(distinct) * (1.0 - holdout)), len(distinct) - 1)]
    train, test = page < cut, page >= cut
    candidate = RowRanker(**params).fit(matrix[train], target[train])
    if candidate.mode != "learned":
        # The older pages alone were too few to fit: nothing learned to compare. So fitting
        # needs about min_rows / (1 - holdout) rows in all.
        return RowRankerChoice(prior, int(test.sum()), None, None)
    learned_loss, prior_loss = held_out_log_losses(
        matrix,
        target,
        test,
        coef=candidate.coef,
        intercept=candidate.intercept,
        prior=prior.coef,
        nuisance=_POSITION_TERMS,
    )
    n_test = int(test.sum())
    if int(target[test].sum()) < MIN_HOLDOUT_PLAYS or learned_loss > prior_loss:
        return RowRankerChoice(prior, n_test, learned_loss, prior_loss)
    learned = RowRanker(**params).fit(matrix, target)
    return RowRankerChoice(learned, n_test, learned_loss, prior_loss)


def row_type_index(name: str) -> int:
    """Index of a row type in :data:`ROW_TYPES`, -1 for an unknown one."""
    return _TYPE.get(name, -1)
