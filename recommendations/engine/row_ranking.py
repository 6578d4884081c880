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
    - ``share_all`` / ``share_hour`` / ``share_device`` / ``share_daypart``:
      the profile's own share of row-attributed plays that came from rows of
      this type, overall, in the current hour bucket, on the current device
      and on this part of the week (weekday or weekend). Each share is
      smoothed towards the uniform share with :data:`SHARE_SMOOTHING`
      pseudo-plays, so a profile with two plays does not look like a habit,
      and a new profile's shares are all uniform (the prior then decides).
    - ``scroll_past_rate``: rapid scroll-pasts of rows of this type over
      (scroll-pasts + plays + 1): a row the profile keeps skipping sinks.
    - ``strength``: mean play probability (title ranker) of the row's first
      items: an empty-looking row of a favourite type should not lead.
    - ``type_x_hour_*`` / ``type_x_device_*``: row type x context one-hots,
      so the learned model can find population-wide habits (resume in the
      morning, discover new releases in the evening, lean back on TV).
    - ``row_position``: where the row was shown, ``log1p(index) / log1p(40)``;
      learned so that position bias (row 1 gets played because it is row 1)
      is explained by it, and 0 at serving.

Model
    :class:`RowRanker` mirrors :class:`~recommendations.engine.ranking.PlayRanker`:
    a logistic regression on standardised features once ``min_rows`` logged
    row impressions with enough plays exist, the documented
    :class:`RowPrior` before that. One scoring path for both: the prior is
    expressed as coefficients. Saved as ``.npz`` without pickle.

Prior
    Before any page is logged the order is: the product's base preference per
    row type (:data:`PRIOR_TYPE_BIAS`: resume first, then top picks and
    "because you watched"), plus the profile's own context shares (the hour
    share weighs most: a profile that resumes shows in the morning sees
    Continue Watching first in the morning), minus scroll-past, plus the
    row's strength. So even the prior reorders rows by time of day and device
    for a profile whose signals carry row ids.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from recommendations.engine.persistence import ArtefactTarget, load_artefact, save_artefact
from recommendations.engine.ranking import DEVICE_CLASSES, HOUR_BUCKETS

__all__ = [
    "PRIOR_TYPE_BIAS",
    "ROW_FEATURE_NAMES",
    "ROW_TYPES",
    "RowEngagement",
    "RowPrior",
    "RowRanker",
    "row_features",
]

_KIND = "tonight.row_ranker"
_VERSION = 1

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

#: Pseudo-plays spread uniformly over the row types before a profile's shares are taken.
SHARE_SMOOTHING = 4.0

ROW_FEATURE_NAMES: tuple[str, ...] = (
    *(f"type_{t}" for t in ROW_TYPES),
    "share_all",
    "share_hour",
    "share_device",
    "share_daypart",
    "scroll_past_rate",
    "strength",
    *(f"type_x_hour_{t}_{b}" for t in ROW_TYPES for b in range(HOUR_BUCKETS)),
    *(f"type_x_device_{t}_{d}" for t in ROW_TYPES for d in DEVICE_CLASSES),
    "row_position",
)
_COLUMN = {name: i for i, name in enumerate(ROW_FEATURE_NAMES)}
_HOUR_BASE = _COLUMN[f"type_x_hour_{ROW_TYPES[0]}_0"]
_DEVICE_BASE = _COLUMN[f"type_x_device_{ROW_TYPES[0]}_{DEVICE_CLASSES[0]}"]

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
    # Shares are about 1/11 for an indifferent profile and approach 1 for a
    # strong habit, so a habit in this hour bucket adds up to ~4 logits.
    ("share_all", 1.5),
    ("share_hour", 4.0),
    ("share_device", 2.0),
    ("share_daypart", 1.0),
    ("scroll_past_rate", -2.0),
    ("strength", 3.0),
    ("row_position", -1.0),
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
    """

    plays: npt.NDArray[np.float64]
    plays_by_hour: npt.NDArray[np.float64]
    plays_by_device: npt.NDArray[np.float64]
    plays_by_daypart: npt.NDArray[np.float64]
    scroll_past: npt.NDArray[np.float64]

    @classmethod
    def empty(cls) -> RowEngagement:
        return cls(
            plays=np.zeros(N_TYPES),
            plays_by_hour=np.zeros((HOUR_BUCKETS, N_TYPES)),
            plays_by_device=np.zeros((len(DEVICE_CLASSES), N_TYPES)),
            plays_by_daypart=np.zeros((2, N_TYPES)),
            scroll_past=np.zeros(N_TYPES),
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
        )


def _shares(counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Smoothed shares over the last axis (row types)."""
    total = counts.sum(axis=-1, keepdims=True)
    return (counts + SHARE_SMOOTHING / N_TYPES) / (total + SHARE_SMOOTHING)


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
    row_position : int or array of int, shape (n,)

    Returns
    -------
    numpy.ndarray of float32, shape (n, len(ROW_FEATURE_NAMES))
    """
    types = np.asarray(row_type, dtype=np.int64).reshape(-1)
    n = types.shape[0]
    if np.any((types < 0) | (types >= N_TYPES)):
        raise ValueError("row_type must index ROW_TYPES")
    rows = np.arange(n)

    def per_row(counts: npt.ArrayLike) -> npt.NDArray[np.float64]:
        array = np.asarray(counts, dtype=np.float64)
        if array.ndim == 1:
            array = np.broadcast_to(array, (n, N_TYPES))
        if array.shape != (n, N_TYPES):
            raise ValueError(f"counts must have shape ({N_TYPES},) or ({n}, {N_TYPES})")
        return array

    def context(value: npt.ArrayLike) -> npt.NDArray[np.int64]:
        return np.broadcast_to(np.asarray(value, dtype=np.int64), (n,))

    play_counts = per_row(plays)
    scrolls = per_row(scroll_past)[rows, types]
    hours = context(hour_bucket)
    devices = context(device)
    features = np.zeros((n, len(ROW_FEATURE_NAMES)), dtype=np.float32)
    features[rows, types] = 1.0
    features[:, _COLUMN["share_all"]] = _shares(play_counts)[rows, types]
    features[:, _COLUMN["share_hour"]] = _shares(per_row(plays_hour))[rows, types]
    features[:, _COLUMN["share_device"]] = _shares(per_row(plays_device))[rows, types]
    features[:, _COLUMN["share_daypart"]] = _shares(per_row(plays_daypart))[rows, types]
    features[:, _COLUMN["scroll_past_rate"]] = scrolls / (scrolls + play_counts[rows, types] + 1.0)
    features[:, _COLUMN["strength"]] = np.broadcast_to(np.asarray(strength, dtype=np.float64), (n,))
    features[rows, _HOUR_BASE + types * HOUR_BUCKETS + hours] = 1.0
    features[rows, _DEVICE_BASE + types * len(DEVICE_CLASSES) + devices] = 1.0
    position = np.broadcast_to(np.asarray(row_position, dtype=np.float64), (n,))
    features[:, _COLUMN["row_position"]] = np.minimum(
        np.log1p(np.maximum(position, 0.0)) / np.log1p(40.0), 1.0
    )
    # Weekday enters through share_daypart only; kept as an argument for symmetry
    # with the title ranker and so that callers state the context they scored in.
    del weekday
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


class RowRanker:
    """P(a play starts from this row | shown, context): learned logistic model or the prior.

    Parameters
    ----------
    C : float
        Inverse L2 strength.
    min_rows : int
        Logged row impressions needed before the learned model replaces the prior.
    min_positives : int
        Rows with a play (and rows without) needed as well.
    max_iter : int
    random_state : int or None

    Attributes
    ----------
    mode : {"prior", "learned"}
    n_training_rows : int
    """

    def __init__(
        self,
        *,
        C: float = 1.0,
        min_rows: int = 2000,
        min_positives: int = 100,
        max_iter: int = 1000,
        random_state: int | None = None,
    ) -> None:
        self.C = C
        self.min_rows = min_rows
        self.min_positives = min_positives
        self.max_iter = max_iter
        self.random_state = random_state
        self.mode: Literal["prior", "learned"] = "prior"
        self.n_training_rows = 0
        self.feature_mean = np.zeros(len(ROW_FEATURE_NAMES))
        self.feature_scale = np.ones(len(ROW_FEATURE_NAMES))
        self.coef = RowPrior().vector()
        self.intercept = RowPrior().bias

    def fit(self, features: npt.ArrayLike, labels: npt.ArrayLike) -> Self:
        """Learn from logged row impressions, or stay on the prior if there are too few.

        Parameters
        ----------
        features : array of float32, shape (n, len(ROW_FEATURE_NAMES))
        labels : array of bool, shape (n,)
            Whether a play was attributed to the row.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        matrix = np.asarray(features, dtype=np.float64)
        target = np.asarray(labels).astype(bool).reshape(-1)
        if matrix.ndim != 2 or matrix.shape[1] != len(ROW_FEATURE_NAMES):
            raise ValueError(f"features must have shape (n, {len(ROW_FEATURE_NAMES)})")
        if matrix.shape[0] != target.shape[0]:
            raise ValueError("features and labels must have the same number of rows")
        self.n_training_rows = int(target.shape[0])
        if (
            target.shape[0] < self.min_rows
            or min(int(target.sum()), int((~target).sum())) < self.min_positives
        ):
            return self
        scaler = StandardScaler().fit(matrix)
        model = LogisticRegression(
            C=self.C, max_iter=self.max_iter, random_state=self.random_state
        ).fit(scaler.transform(matrix), target)
        self.feature_mean = scaler.mean_.astype(np.float64)
        self.feature_scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0).astype(np.float64)
        self.coef = model.coef_.ravel().astype(np.float64)
        self.intercept = float(model.intercept_[0])
        self.mode = "learned"
        return self

    def predict_proba(self, features: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """P(play from the row) per candidate row, shape (n,)."""
        matrix = np.asarray(features, dtype=np.float64)
        score = ((matrix - self.feature_mean) / self.feature_scale) @ self.coef + self.intercept
        return expit(score).astype(np.float32)

    def save(self, target: ArtefactTarget) -> None:
        save_artefact(
            target,
            kind=_KIND,
            version=_VERSION,
            mode=self.mode,
            feature_names=np.array(ROW_FEATURE_NAMES),
            C=self.C,
            min_rows=self.min_rows,
            min_positives=self.min_positives,
            max_iter=self.max_iter,
            n_training_rows=self.n_training_rows,
            feature_mean=self.feature_mean,
            feature_scale=self.feature_scale,
            coef=self.coef,
            intercept=self.intercept,
        )

    @classmethod
    def load(cls, source: ArtefactTarget | os.PathLike[str]) -> RowRanker:
        """Read a row ranker written by :meth:`save`.

        Raises
        ------
        ValueError
            If it was trained on another feature layout.
        """
        arrays = load_artefact(source, kind=_KIND, version=_VERSION)
        if tuple(str(n) for n in arrays["feature_names"]) != ROW_FEATURE_NAMES:
            raise ValueError("row ranker was trained on another feature layout; retrain it")
        ranker = cls(
            C=float(arrays["C"]),
            min_rows=int(arrays["min_rows"]),
            min_positives=int(arrays["min_positives"]),
            max_iter=int(arrays["max_iter"]),
        )
        ranker.mode = "learned" if str(arrays["mode"]) == "learned" else "prior"
        ranker.n_training_rows = int(arrays["n_training_rows"])
        ranker.feature_mean = arrays["feature_mean"]
        ranker.feature_scale = arrays["feature_scale"]
        ranker.coef = arrays["coef"]
        ranker.intercept = float(arrays["intercept"])
        return ranker


def row_type_index(name: str) -> int:
    """Index of a row type in :data:`ROW_TYPES`, -1 for an unknown one."""
    return _TYPE.get(name, -1)
