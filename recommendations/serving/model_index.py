"""The index artefact of a model version: its title space and its trending tables.

Stored beside the estimators as ``index.npz`` (no pickle): the title ids the
factor and content matrices are indexed by, and the decayed play-start counts
per region and per taste cluster at training time. Catalogue facts that staff
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
        Decayed play starts at ``trained_at``.
    trained_at : float
        Unix time the signals were read up to.
    """

    title_ids: npt.NDArray[np.int64]
    region_codes: tuple[str, ...]
    cluster_ids: npt.NDArray[np.int64]
    trending: npt.NDArray[np.float32]
    trained_at: float

    def region_row(self, region_code: str) -> npt.NDArray[np.float32] | None:
        if region_code not in self.region_codes:
            return None
        return self.trending[self.region_codes.index(region_code)]

    def cluster_row(self, cluster_id: int | None) -> npt.NDArray[np.float32] | None:
        if cluster_id is None:
            return None
        at = np.flatnonzero(self.cluster_ids == cluster_id)
        if at.size == 0:
            return None
        return self.trending[len(self.region_codes) + int(at[0])]

    def save(self, target: ArtefactTarget) -> None:
        save_artefact(
            target,
            kind=_KIND,
            version=_VERSION,
            title_ids=self.title_ids,
            region_codes=np.array(self.region_codes, dtype=str),
            cluster_ids=self.cluster_ids,
            trending=self.trending,
            trained_at=self.trained_at,
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
        )
