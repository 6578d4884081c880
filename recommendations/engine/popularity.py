"""Popularity: trending per region and taste cluster, new releases, and the most-popular baseline.

Popularity is what a profile without history is served (with its cluster's,
then its region's trending list), one of the candidate generators for
everyone, a ranking feature, and the baseline every model must beat offline.
"""

from __future__ import annotations

import os
from typing import Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recommendations.engine.confidence import time_decay
from recommendations.engine.persistence import ArtefactTarget, load_artefact, save_artefact

__all__ = [
    "NEW_RELEASE_WINDOW_DAYS",
    "TRENDING_HALF_LIFE_DAYS",
    "TRENDING_STARTED_DAYS",
    "MostPopular",
    "new_release_scores",
    "normalise_popularity",
    "trending_scores",
    "trending_started",
]

_KIND = "tonight.most_popular"
_VERSION = 1


#: A play start's weight halves every 3 days in trending: "trending" means *now*.
TRENDING_HALF_LIFE_DAYS = 3.0
#: A title trends only with a play start this recent: "Trending in <region>" says "what
#: people there are starting this week". A floor on the decayed count cannot say it: a few
#: 8- and 9-day-old starts add up past one start a week ago.
TRENDING_STARTED_DAYS = 7.0


def _cells(
    group_index: npt.ArrayLike, title_index: npt.ArrayLike, n_groups: int, n_titles: int
) -> npt.NDArray[np.int64]:
    """Each play's flat (group, title) cell, the groups and titles checked in range."""
    groups = np.asarray(group_index, dtype=np.int64).reshape(-1)
    titles = np.asarray(title_index, dtype=np.int64).reshape(-1)
    if titles.shape != groups.shape:
        raise ValueError("group_index and title_index must have the same length")
    if groups.size and (groups.min() < 0 or groups.max() >= n_groups):
        raise ValueError("group_index out of range")
    if titles.size and (titles.min() < 0 or titles.max() >= n_titles):
        raise ValueError("title_index out of range")
    return groups * n_titles + titles


def trending_scores(
    *,
    group_index: npt.ArrayLike,
    title_index: npt.ArrayLike,
    age_days: npt.ArrayLike,
    n_groups: int,
    n_titles: int,
    half_life_days: float = TRENDING_HALF_LIFE_DAYS,
    weight: npt.ArrayLike | None = None,
) -> npt.NDArray[np.float32]:
    """Decayed play-start counts per group (a region or a taste cluster) and title.

    A short half-life (3 days) makes "trending" mean *now*: last week's hit
    fades unless people keep starting it. Pass each play once per group it
    belongs to (a play in IN-Tamil counts for the cluster and for IN). Every
    start counts, however old: this is the popularity the ranker reads and a
    short pool is filled by. Which titles may be *called* trending is
    :func:`trending_started`'s.

    Parameters
    ----------
    group_index : array of int32, shape (n,)
        Group of each play start, in [0, n_groups).
    title_index : array of int32, shape (n,)
        Title of each play start, in [0, n_titles).
    age_days : array of float64, shape (n,)
        Age of each play start, in days.
    n_groups, n_titles : int
    half_life_days : float
    weight : array of float32, shape (n,), optional
        Per-play weight (e.g. 2 for intentional plays); 1 by default.

    Returns
    -------
    numpy.ndarray of float32, shape (n_groups, n_titles)
    """
    cells = _cells(group_index, title_index, n_groups, n_titles)
    amount = time_decay(np.asarray(age_days).reshape(-1), half_life_days)
    if amount.shape != cells.shape:
        raise ValueError("age_days must have one entry per play")
    if weight is not None:
        amount = amount * np.asarray(weight, dtype=np.float64).reshape(-1)
    counts = np.bincount(cells, weights=amount, minlength=n_groups * n_titles)
    return counts.reshape(n_groups, n_titles).astype(np.float32)


def trending_started(
    *,
    group_index: npt.ArrayLike,
    title_index: npt.ArrayLike,
    age_days: npt.ArrayLike,
    n_groups: int,
    n_titles: int,
    within_days: float = TRENDING_STARTED_DAYS,
) -> npt.NDArray[np.bool_]:
    """Whether each title had a play start in each group in the last ``within_days``.

    The trending candidates and the "Trending in <region>" row hold only these
    titles ("what people there are starting this week"), ranked by
    :func:`trending_scores`; the decayed count itself keeps the older starts.
    Takes the same plays as :func:`trending_scores`, and counts them exactly.

    Parameters
    ----------
    group_index, title_index, age_days : arrays of shape (n,)
        As for :func:`trending_scores`.
    n_groups, n_titles : int
    within_days : float
        The window in days, inclusive; negative ages (clock skew) count as 0,
        as in the decay.

    Returns
    -------
    numpy.ndarray of bool, shape (n_groups, n_titles)
    """
    cells = _cells(group_index, title_index, n_groups, n_titles)
    ages = np.asarray(age_days, dtype=np.float64).reshape(-1)
    if ages.shape != cells.shape:
        raise ValueError("age_days must have one entry per play")
    recent = np.maximum(ages, 0.0) <= within_days
    starts = np.bincount(cells[recent], minlength=n_groups * n_titles)
    return (starts > 0).reshape(n_groups, n_titles)


def normalise_popularity(scores: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Map raw popularity to [0, 1] per row: ``log1p(x) / log1p(row max)``.

    Popularity is heavy-tailed; the log keeps the 100th title distinguishable
    from the 10,000th, and the per-row maximum makes a small cluster's list
    comparable to a big region's as a ranking feature.

    Parameters
    ----------
    scores : array of float32, shape (n_titles,) or (n_groups, n_titles)

    Returns
    -------
    numpy.ndarray of float32, same shape
    """
    logged = np.log1p(np.maximum(np.asarray(scores, dtype=np.float64), 0.0))
    top = logged.max(axis=-1, keepdims=True) if logged.size else logged
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = np.where(top > 0, logged / np.where(top > 0, top, 1.0), 0.0)
    return normalised.astype(np.float32)


#: Titles older than this (days in the region) are not new releases.
NEW_RELEASE_WINDOW_DAYS = 90.0


def new_release_scores(
    release_age_days: npt.ArrayLike,
    *,
    window_days: float = NEW_RELEASE_WINDOW_DAYS,
    half_life_days: float = 30.0,
) -> npt.NDArray[np.float32]:
    """Freshness of each title for the "new releases" generator.

    Parameters
    ----------
    release_age_days : array of float32, shape (n_titles,)
        Days since the title became available in the region (negative: not
        yet released; NaN: unknown).
    window_days : float
        Older titles are not new (score 0).
    half_life_days : float
        Within the window, newer titles score higher.

    Returns
    -------
    numpy.ndarray of float32, shape (n_titles,)
        In (0, 1] for titles released within the window, 0 otherwise.
    """
    age = np.asarray(release_age_days, dtype=np.float64)
    fresh = np.isfinite(age) & (age >= 0) & (age <= window_days)
    return np.where(fresh, time_decay(np.where(fresh, age, 0.0), half_life_days), 0.0).astype(
        np.float32
    )


class MostPopular:
    """The most-popular baseline: titles ranked by how many profiles engaged with them.

    Counting profiles (not confidence) keeps one binge-watcher from making a
    title "popular". This is the offline evaluation baseline and the last
    fallback for a region without data.

    Parameters
    ----------
    random_state : int, numpy.random.Generator or None
        Accepted for the common estimator interface; fitting is deterministic.

    Attributes
    ----------
    popularity : numpy.ndarray of float32, shape (n_titles,) or None
        Number of profiles with positive confidence per title.
    """

    def __init__(self, *, random_state: int | np.random.Generator | None = None) -> None:
        self.random_state = random_state
        self.popularity: npt.NDArray[np.float32] | None = None

    def fit(self, user_items: sp.spmatrix) -> Self:
        """Count profiles with positive confidence per title.

        Parameters
        ----------
        user_items : sparse matrix, shape (n_profiles, n_titles)
        """
        matrix = sp.csr_matrix(user_items)
        self.popularity = np.asarray((matrix > 0).sum(axis=0), dtype=np.float32).ravel()
        return self

    def scores(self) -> npt.NDArray[np.float32]:
        """Popularity of every title (the same for every profile)."""
        if self.popularity is None:
            raise RuntimeError("the popularity model is not fitted")
        return self.popularity

    def save(self, target: ArtefactTarget) -> None:
        """Store the counts as ``.npz`` (no pickle)."""
        save_artefact(target, kind=_KIND, version=_VERSION, popularity=self.scores())

    @classmethod
    def load(cls, source: ArtefactTarget | os.PathLike[str]) -> MostPopular:
        """Read a model written by :meth:`save`."""
        model = cls()
        model.popularity = load_artefact(source, kind=_KIND, version=_VERSION)["popularity"]
        return model
