"""The index artefact of a model version: its title space and its trending tables.

Stored beside the estimators as ``index.npz`` (no pickle): the title ids the
factor and content matrices are indexed by, the decayed play-start counts
per region and per taste cluster at training time, and which titles had a
start in each in the week before it (``started``: versions trained before it
was kept have no such array, and load with ``None``). Catalogue facts that staff
edit (availability windows, maturity) are deliberately *not* frozen here:
serving reads them from the database and refreshes them on a timer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recommendations.engine.persistence import ArtefactTarget, load_artefact, save_artefact

_KIND = "tonight.model_index"
_VERSION = 1


@dataclass(frozen=True, slots=True)
class ModelIndex:
    """Title index and trending of one model version.

    Attributes
    ----------
    title_ids : numpy.ndarray of int64, shape (n_titles,), ascending
    region_codes : tuple of str
        Rows ``0 .. len(region_codes) - 1`` of ``trending``.
    cluster_ids : numpy.ndarray of int64, shape (n_clusters,)
        Rows ``len(region_codes) + i`` of ``trending``.
    trending : numpy.ndarray of float32, shape (n_regions + n_clusters, n_titles)
        Decayed play starts at ``trained_at`` (the ranker's popularity, a short
        pool's fill).
    trained_at : float
        Unix time the signals were read up to.
    started : numpy.ndarray of bool, same shape as ``trending``, or None
        Whether the title had a play start in the group in the
        ``TRENDING_STARTED_DAYS`` before ``trained_at``: the titles that may be
        trending candidates and in the trending row. ``None`` for a version
        trained before it was stored (the same format version: an additional
        array, so that either code reads either artefact).
    """

    title_ids: npt.NDArray[np.int64]
    region_codes: tuple[str, ...]
    cluster_ids: npt.NDArray[np.int64]
    trending: npt.NDArray[np.float32]
    trained_at: float
    started: npt.NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        if self.started is not None and self.started.shape != self.trending.shape:
            raise ValueError("started must have the shape of trending")

    def region_row(self, region_code: str) -> npt.NDArray[np.float32] | None:
        if region_code not in self.region_codes:
            return None
        return self.trending[self.region_codes.index(region_code)]

    def region_started(self, region_code: str) -> npt.NDArray[np.bool_] | None:
        """The region's row of ``started``; ``None`` if unknown, or not stored."""
        if self.started is None or region_code not in self.region_codes:
            return None
        return self.started[self.region_codes.index(region_code)]

    def cluster_row(self, cluster_id: int | None) -> npt.NDArray[np.float32] | None:
        if cluster_id is None:
            return None
        at = np.flatnonzero(self.cluster_ids == cluster_id)
        if at.size == 0:
            return None
        return self.trending[len(self.region_codes) + int(at[0])]

    def with_titles(
        self, *, title_ids: npt.NDArray[np.int64], positions: npt.NDArray[np.intp]
    ) -> ModelIndex:
        """This index on a larger title space: its titles at ``positions`` of ``title_ids``.

        The others (added to the catalogue after training) had no play start to
        count: 0 in every trending row, started in none. Trending is what it was
        at training, for every title.
        """
        n_rows = self.trending.shape[0]
        trending = np.zeros((n_rows, title_ids.shape[0]), dtype=np.float32)
        trending[:, positions] = self.trending
        started = None
        if self.started is not None:
            started = np.zeros(trending.shape, dtype=bool)
            started[:, positions] = self.started
        return ModelIndex(
            title_ids=title_ids,
            region_codes=self.region_codes,
            cluster_ids=self.cluster_ids,
            trending=trending,
            trained_at=self.trained_at,
            started=started,
        )

    def save(self, target: ArtefactTarget) -> None:
        # Without ``started`` the archive holds what the format held before it.
        optional = {} if self.started is None else {"started": self.started}
        save_artefact(
            target,
            kind=_KIND,
            version=_VERSION,
            title_ids=self.title_ids,
            region_codes=np.array(self.region_codes, dtype=str),
            cluster_ids=self.cluster_ids,
            trending=self.trending,
            trained_at=self.trained_at,
            **optional,
        )

    @classmethod
    def load(cls, source: ArtefactTarget | os.PathLike[str]) -> ModelIndex:
        arrays = load_artefact(source, kind=_KIND, version=_VERSION)
        return cls(
            title_ids=arrays["title_ids"].astype(np.int64),
            region_codes=tuple(str(code) for code in arrays["region_codes"]),
            cluster_ids=arrays["cluster_ids"].astype(np.int64),
            trending=arrays["trending"].astype(np.float32),
            trained_at=float(arrays["trained_at"]),
            started=arrays["started"].astype(bool) if "started" in arrays else None,
        )
