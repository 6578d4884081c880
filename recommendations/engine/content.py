"""Content-based similarity: TF-IDF title vectors over genres, tags, cast, directors, language.

Collaborative filtering knows nothing about a title nobody has watched yet and
cannot say *why* two titles go together; content vectors can. They serve three
purposes: "similar titles" / "Because you watched X" (the precomputed
neighbour table), a profile's content affinity over the whole catalogue
(cosine to its weighted centroid), and the thumbs-down propagation of
:func:`recommendations.engine.confidence.dislike_penalties`.

TF-IDF (scikit-learn's ``TfidfTransformer``, smooth idf, l2-normalised rows)
down-weights features nearly every title has ("Drama", "English") and lets
distinctive ones (a director, a niche tag) decide similarity; optional
per-feature weights let the catalogue side temper whole feature groups (for
example cast, whose rarity would otherwise dominate).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recommendations.engine.csr_gather import gather_rows
from recommendations.engine.persistence import (
    ArtefactTarget,
    csr_from_arrays,
    csr_to_arrays,
    load_artefact,
    save_artefact,
)

__all__ = ["ContentModel"]

_KIND = "tonight.content_model"
_VERSION = 1


class ContentModel:
    """Title-title content similarity from a title x feature indicator matrix.

    Parameters
    ----------
    n_neighbours : int
        Neighbours kept per title in the precomputed table; 50 covers a
        "Because you watched" row and the thumbs-down neighbourhood.
    block_size : int
        Titles per block when computing the neighbour table: bounds memory to
        ``block_size x n_titles`` float32 (60 MB at 1,024 x 15,000).
    random_state : int, numpy.random.Generator or None
        Accepted for the common estimator interface; fitting is deterministic
        (ties between equally similar titles go to the lower title index).

    Attributes
    ----------
    idf : numpy.ndarray of float32, shape (n_features,)
    feature_weights : numpy.ndarray of float32, shape (n_features,)
    title_vectors : scipy.sparse.csr_matrix of float32, shape (n_titles, n_features)
        Weighted TF-IDF rows, l2-normalised (all-zero for a title without features).
    neighbour_index : numpy.ndarray of int32, shape (n_titles, n_neighbours)
        Most similar other titles, best first; -1 pads titles with fewer
        neighbours of positive similarity.
    neighbour_similarity : numpy.ndarray of float32, shape (n_titles, n_neighbours)
        Their cosine similarities (0.0 in padding).
    feature_names : numpy.ndarray of str, shape (n_features,), or None
        What each column is, as the caller named it at :meth:`fit` (``None`` when it
        did not): how a title added after the fit finds its columns
        (:meth:`columns_of`).
    """

    def __init__(
        self,
        *,
        n_neighbours: int = 50,
        block_size: int = 1024,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        if n_neighbours < 1 or block_size < 1:
            raise ValueError("n_neighbours and block_size must be positive")
        self.n_neighbours = n_neighbours
        self.block_size = block_size
        self.random_state = random_state
        self.idf: npt.NDArray[np.float32] | None = None
        self.feature_weights: npt.NDArray[np.float32] | None = None
        self.title_vectors: sp.csr_matrix | None = None
        self.neighbour_index: npt.NDArray[np.int32] | None = None
        self.neighbour_similarity: npt.NDArray[np.float32] | None = None
        self.feature_names: npt.NDArray[np.str_] | None = None
        self._neighbour_matrix: sp.csr_matrix | None = None

    @property
    def n_titles(self) -> int:
        """Number of titles the model was fitted on."""
        return 0 if self.title_vectors is None else int(self.title_vectors.shape[0])

    def fit(
        self,
        title_features: sp.spmatrix,
        *,
        feature_weights: npt.ArrayLike | None = None,
        feature_names: npt.ArrayLike | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> Self:
        """Learn idf from the catalogue, vectorise every title and build the neighbour table.

        Parameters
        ----------
        title_features : sparse matrix, shape (n_titles, n_features)
            1 where a title has a feature (genre, tag, cast member, director,
            language); counts or weights also work.
        feature_weights : array of float32, shape (n_features,), optional
            Multiplies each feature's TF-IDF weight before normalisation, to
            balance feature groups. Defaults to all ones.
        feature_names : array of str, shape (n_features,), optional
            A name per column, unique, kept (and stored) for :meth:`columns_of`.
        progress : callable, optional
            Told (titles done, titles) as each block of the neighbour table is done: the
            table is quadratic in the catalogue (3.5 minutes for 87,000 titles of genres alone).

        Returns
        -------
        ContentModel
            ``self``, fitted.

        Raises
        ------
        ValueError
            For a matrix without a title or a feature column. Only an empty catalogue
            gives one (a region with no titles of its own is fitted over every title,
            and each title has its language's column), and a version fitted on it would
            serve nothing: training fails in words that say so, not scikit-learn's.
        """
        # scikit-learn is imported by the fit, not the module: every Django process imports
        # this module (admin, the retrain tasks), and only fits need it; its import was most
        # of the second a `manage.py` command or a healthcheck took to start.
        from sklearn.feature_extraction.text import TfidfTransformer

        features = sp.csr_matrix(title_features, dtype=np.float32)
        n_features = features.shape[1]
        if features.shape[0] == 0 or n_features == 0:
            raise ValueError(
                "the content model needs at least one title and one feature, got "
                f"{features.shape[0]} titles and {n_features} features: is the catalogue empty?"
            )
        transformer = TfidfTransformer(norm=None, use_idf=True, smooth_idf=True)
        transformer.fit(features)
        self.idf = transformer.idf_.astype(np.float32)
        self.feature_weights = (
            np.ones(n_features, dtype=np.float32)
            if feature_weights is None
            else np.asarray(feature_weights, dtype=np.float32).reshape(n_features)
        )
        self.feature_names = None
        if feature_names is not None:
            names = np.asarray(feature_names, dtype=str).reshape(-1)
            if names.shape[0] != n_features or np.unique(names).shape[0] != n_features:
                raise ValueError("feature_names must name each column once")
            self.feature_names = names
        self.title_vectors = self.transform(features)
        self._build_neighbour_table(progress or (lambda done, total: None))
        return self

    def columns_of(self, names: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The column of each feature name; -1 for a name the fit did not see (or without names).

        A title added after the fit has only the features it shares with the
        fitted vocabulary: an unseen genre or actor has no idf, and no fitted
        title to be similar through.
        """
        names = np.asarray(names, dtype=str).reshape(-1)
        if self.feature_names is None or names.shape[0] == 0:
            return np.full(names.shape[0], -1, dtype=np.int64)
        order = np.argsort(self.feature_names, kind="stable")
        ordered = self.feature_names[order]
        at = np.minimum(np.searchsorted(ordered, names), ordered.shape[0] - 1)
        return np.where(ordered[at] == names, order[at], -1).astype(np.int64)

    def with_titles(
        self,
        *,
        positions: npt.ArrayLike,
        n_titles: int,
        added_features: sp.spmatrix,
    ) -> ContentModel:
        """This model on a larger title index: its titles at ``positions``, others added.

        The added titles (the indices not in ``positions``, ascending, one row of
        ``added_features`` each, in the fitted columns) are vectorised with the fitted
        idf (:meth:`transform`), without a refit; the neighbour table gains their
        rows (best of every title) and each fitted title's list takes an added
        title where it is more similar than its last kept neighbour. Ties go to the
        lower title index, as in :meth:`fit`. The fitted titles' vectors and their
        similarities to one another are unchanged: a new title never moves an old
        one's idf.

        Parameters
        ----------
        positions : array of int, shape (self.n_titles,), ascending
            Where each fitted title goes in the larger index.
        n_titles : int
            The larger index's size.
        added_features : sparse matrix, shape (n_titles - self.n_titles, n_features)

        Returns
        -------
        ContentModel
            A new model; this one is not changed.
        """
        vectors = self._require_fitted()
        if self.neighbour_index is None or self.neighbour_similarity is None:
            raise RuntimeError("the content model is not fitted")
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        if positions.shape[0] != vectors.shape[0]:
            raise ValueError("positions must place every fitted title")
        added = np.setdiff1d(np.arange(n_titles, dtype=np.int64), positions)
        if added_features.shape != (added.shape[0], vectors.shape[1]):
            raise ValueError(
                f"added_features must have shape {(added.shape[0], vectors.shape[1])}, "
                f"got {added_features.shape}"
            )
        new = self.transform(added_features)
        # The larger index's vectors: fitted rows moved to their positions, added rows after.
        stacked = sp.vstack([vectors, new], format="csr", dtype=np.float32)
        order = np.empty(n_titles, dtype=np.int64)
        order[positions] = np.arange(positions.shape[0])
        order[added] = positions.shape[0] + np.arange(added.shape[0])
        title_vectors = sp.csr_matrix(stacked[order], dtype=np.float32)
        title_vectors.sort_indices()

        k = self.n_neighbours
        index = np.full((n_titles, k), -1, dtype=np.int32)
        similarity = np.zeros((n_titles, k), dtype=np.float32)
        old = self.neighbour_index
        index[positions] = np.where(old >= 0, positions[np.maximum(old, 0)], -1)
        similarity[positions] = self.neighbour_similarity
        kept = min(k, n_titles - 1)
        transposed = title_vectors.T.tocsc()
        rows = positions
        # In blocks of added titles, as the fit's table: memory stays block_size x n_titles.
        for start in range(0, added.shape[0] if kept > 0 else 0, self.block_size):
            chunk = added[start : start + self.block_size]
            # Added titles against every title: their own rows, and their column for the rest.
            block = (title_vectors[chunk] @ transposed).toarray()
            block[np.arange(chunk.shape[0]), chunk] = -np.inf
            top = _best_columns(block, kept)
            sims = np.take_along_axis(block, top, axis=1)
            index[chunk, :kept] = np.where(sims > 0, top, -1)
            similarity[chunk, :kept] = np.where(sims > 0, sims, 0.0)
            # Each fitted title's kept list and these added titles, best first, ties by index.
            column = block[:, rows].T  # (n_fitted, len(chunk))
            candidates = np.hstack(
                [index[rows], np.broadcast_to(chunk.astype(np.int32), column.shape)]
            )
            values = np.hstack([similarity[rows], column]).astype(np.float32)
            values[candidates < 0] = -np.inf
            best = np.lexsort((candidates, -values), axis=-1)[:, :k]
            chosen = np.take_along_axis(candidates, best, axis=1)
            chosen_values = np.take_along_axis(values, best, axis=1)
            positive = chosen_values > 0
            index[rows] = np.where(positive, chosen, -1)
            similarity[rows] = np.where(positive, chosen_values, 0.0)

        model = ContentModel(
            n_neighbours=k, block_size=self.block_size, random_state=self.random_state
        )
        model.idf, model.feature_weights = self.idf, self.feature_weights
        model.feature_names = self.feature_names
        model.title_vectors = title_vectors
        model.neighbour_index, model.neighbour_similarity = index, similarity
        return model

    def transform(self, title_features: sp.spmatrix) -> sp.csr_matrix:
        """Vectorise titles with the fitted idf: new titles get vectors without a refit.

        Equal to ``TfidfTransformer(norm="l2")`` fitted on the catalogue when
        ``feature_weights`` is all ones (the l2 norm as scikit-learn's ``normalize``
        takes it, in float64, without importing scikit-learn: serving vectorises the
        titles added after training, and its import held a web process's interpreter
        for seconds).

        Parameters
        ----------
        title_features : sparse matrix, shape (m, n_features)

        Returns
        -------
        scipy.sparse.csr_matrix of float32, shape (m, n_features), l2-normalised rows
        """
        if self.idf is None or self.feature_weights is None:
            raise RuntimeError("the content model is not fitted")
        features = sp.csr_matrix(title_features, dtype=np.float32)
        weighted = features.multiply((self.idf * self.feature_weights)[np.newaxis, :]).tocsr()
        vectors = sp.csr_matrix(weighted, dtype=np.float32)
        vectors.sum_duplicates()
        data = vectors.data.astype(np.float64)
        rows = np.repeat(np.arange(vectors.shape[0]), np.diff(vectors.indptr))
        norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=vectors.shape[0]))
        norms[norms == 0.0] = 1.0  # a title without features stays all zeros
        vectors.data = (data / norms[rows]).astype(np.float32)
        vectors.eliminate_zeros()
        vectors.sort_indices()
        return vectors

    def _require_fitted(self) -> sp.csr_matrix:
        if self.title_vectors is None:
            raise RuntimeError("the content model is not fitted")
        return self.title_vectors

    def _build_neighbour_table(self, progress: Callable[[int, int], object]) -> None:
        vectors = self._require_fitted()
        n_titles = vectors.shape[0]
        k = self.n_neighbours
        index = np.full((n_titles, k), -1, dtype=np.int32)
        similarity = np.zeros((n_titles, k), dtype=np.float32)
        kept = min(k, n_titles - 1)
        transposed = vectors.T.tocsc()
        for start in range(0, n_titles, self.block_size):
            progress(start, n_titles)
            stop = min(start + self.block_size, n_titles)
            block = (vectors[start:stop] @ transposed).toarray()
            rows = np.arange(stop - start)
            block[rows, rows + start] = -np.inf  # a title is not its own neighbour
            if kept <= 0:
                continue
            top = _best_columns(block, kept)
            sims = np.take_along_axis(block, top, axis=1)
            positive = sims > 0
            index[start:stop, :kept] = np.where(positive, top, -1)
            similarity[start:stop, :kept] = np.where(positive, sims, 0.0)
        progress(n_titles, n_titles)
        self.neighbour_index = index
        self.neighbour_similarity = similarity
        self._neighbour_matrix = None

    def similar(
        self, title_index: int, k: int = 10
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """The ``k`` titles most similar to one title, best first.

        Served from the neighbour table when ``k <= n_neighbours`` (a row
        read), otherwise computed against the whole catalogue.

        Returns
        -------
        indices : numpy.ndarray of int32, shape (<= k,)
            Other titles with positive similarity only.
        similarities : numpy.ndarray of float32, shape (<= k,)
            Their cosine similarities, non-increasing.
        """
        vectors = self._require_fitted()
        if not 0 <= title_index < vectors.shape[0]:
            raise IndexError(f"title_index {title_index} out of range")
        if k <= self.n_neighbours and self.neighbour_index is not None:
            indices = self.neighbour_index[title_index, :k]
            sims = self.neighbour_similarity[title_index, :k]
            keep = indices >= 0
            return indices[keep].copy(), sims[keep].copy()
        sims = (vectors @ vectors[title_index].T).toarray().ravel()
        sims[title_index] = -np.inf
        order = np.argsort(-sims, kind="stable")[:k]
        order = order[sims[order] > 0]
        return order.astype(np.int32), sims[order].astype(np.float32)

    def neighbour_matrix(self, min_similarity: float = 0.0) -> sp.csr_matrix:
        """The neighbour table as a sparse (n_titles x n_titles) similarity matrix.

        The input of :func:`recommendations.engine.confidence.dislike_penalties`;
        cached for ``min_similarity == 0``.

        Returns
        -------
        scipy.sparse.csr_matrix of float32, shape (n_titles, n_titles)
            Row t holds t's kept neighbours with similarity > ``min_similarity``.
        """
        if self.neighbour_index is None or self.neighbour_similarity is None:
            raise RuntimeError("the content model is not fitted")
        if min_similarity <= 0 and self._neighbour_matrix is not None:
            return self._neighbour_matrix
        n_titles = self.neighbour_index.shape[0]
        keep = (self.neighbour_index >= 0) & (self.neighbour_similarity > min_similarity)
        rows = np.broadcast_to(np.arange(n_titles)[:, np.newaxis], keep.shape)[keep]
        matrix = sp.csr_matrix(
            (self.neighbour_similarity[keep], (rows, self.neighbour_index[keep])),
            shape=(n_titles, n_titles),
            dtype=np.float32,
        )
        matrix.sort_indices()
        if min_similarity <= 0:
            self._neighbour_matrix = matrix
        return matrix

    def affinity_of(self, titles: npt.ArrayLike, weights: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Cosine of every title to the content centroid of ``titles`` weighted by ``weights``.

        ``titles`` and ``weights`` are a profile's positive evidence as entries
        (:meth:`~recommendations.engine.confidence.ConfidenceRow.liked`), not a
        sparse row: a request has them as arrays, and wrapping them in a 1 x
        n_titles matrix only to unwrap it here cost more than the centroid.
        Non-positive weights are ignored (dislikes act through
        :func:`~recommendations.engine.confidence.dislike_penalties`).

        Returns
        -------
        numpy.ndarray of float32, shape (n_titles,)
            Values in [0, 1]; all zeros without a positive weight.
        """
        vectors = self._require_fitted()
        n_titles = vectors.shape[0]
        titles = np.asarray(titles, dtype=np.int64).reshape(-1)
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if titles.shape != weights.shape:
            raise ValueError("titles and weights must have the same length")
        if titles.size and (titles.min() < 0 or titles.max() >= n_titles):
            raise ValueError(f"titles must be in [0, {n_titles})")
        liked = weights > 0
        titles, weights = titles[liked], weights[liked]
        # The centroid from the liked titles' rows only (a profile's history is small).
        owner, features, values = gather_rows(vectors, titles)
        centroid = np.bincount(
            features, weights=weights[owner] * values, minlength=vectors.shape[1]
        )
        norm = math.sqrt(float(centroid @ centroid))  # np.linalg.norm's own formula
        if norm == 0.0:
            return np.zeros(n_titles, dtype=np.float32)
        affinity = vectors @ (centroid / norm).astype(np.float32)
        return np.clip(np.asarray(affinity, dtype=np.float32).ravel(), 0.0, 1.0)

    def save(self, target: ArtefactTarget) -> None:
        """Store idf, weights, title vectors and the neighbour table as ``.npz`` (no pickle)."""
        vectors = self._require_fitted()
        save_artefact(
            target,
            kind=_KIND,
            version=_VERSION,
            n_neighbours=self.n_neighbours,
            block_size=self.block_size,
            idf=self.idf,
            feature_weights=self.feature_weights,
            neighbour_index=self.neighbour_index,
            neighbour_similarity=self.neighbour_similarity,
            # Without names the archive holds what the format held before them.
            **({} if self.feature_names is None else {"feature_names": self.feature_names}),
            **csr_to_arrays("title_vectors", vectors),
        )

    @classmethod
    def load(cls, source: ArtefactTarget | os.PathLike[str]) -> ContentModel:
        """Read a model written by :meth:`save`."""
        arrays = load_artefact(source, kind=_KIND, version=_VERSION)
        model = cls(n_neighbours=int(arrays["n_neighbours"]), block_size=int(arrays["block_size"]))
        model.idf = arrays["idf"]
        model.feature_weights = arrays["feature_weights"]
        model.title_vectors = csr_from_arrays("title_vectors", arrays)
        model.neighbour_index = arrays["neighbour_index"]
        model.neighbour_similarity = arrays["neighbour_similarity"]
        if "feature_names" in arrays:
            model.feature_names = arrays["feature_names"].astype(str)
        return model


def _best_columns(block: npt.NDArray[np.float32], kept: int) -> npt.NDArray[np.intp]:
    """Each row's ``kept`` largest columns, best first, exact ties to the lowest column.

    ``numpy.argpartition`` alone keeps an arbitrary few of the columns tied at the
    ``kept``-th value: 300 identical titles all got the same five neighbours, the
    partition's pick rather than the lowest-numbered, and a title's list could
    change with the block it was computed in. Partitioning one place further
    tells which rows have such a tie (their next-best column has the ``kept``-th
    value too); only those rows, and only where that value is positive (a tie at
    zero is padding anyway), are selected again, from their columns at or above
    it in column order. Every other row keeps the partition's pick, which is
    then exact, so an untied catalogue pays nothing over the partition.

    Parameters
    ----------
    block : numpy.ndarray of float32, shape (n_rows, n_columns)
        Finite, or ``-inf`` for a column never to pick while others are finite.
    kept : int
        In [1, n_columns).

    Returns
    -------
    numpy.ndarray of intp, shape (n_rows, kept)
        Columns by value descending, then column ascending.
    """
    top = np.argpartition(-block, kept, axis=1)[:, : kept + 1]
    values = np.take_along_axis(block, top, axis=1)
    top = top[:, :kept]
    edge = values[:, :kept].min(axis=1)
    tied = np.flatnonzero((values[:, kept] == edge) & (edge > 0))
    if tied.size:
        rows = block[tied]
        # Row-major, so each row's columns ascend (flatnonzero: a fifth of 2-D nonzero's time).
        owner, columns = np.divmod(np.flatnonzero(rows >= edge[tied, np.newaxis]), rows.shape[1])
        at_edge = rows[owner, columns] == edge[tied][owner]
        # Each column's place among its row's tied columns, and the room the row has for them.
        starts = np.searchsorted(owner, np.arange(tied.size))
        before = np.cumsum(at_edge) - at_edge
        place = before - before[starts][owner]
        room = kept - np.bincount(owner[~at_edge], minlength=tied.size)
        top[tied] = columns[~at_edge | (place < room[owner])].reshape(tied.size, kept)
    # Ascending columns, then a stable sort by value: best first, ties to the lower column.
    top = np.sort(top, axis=1)
    values = np.take_along_axis(block, top, axis=1)
    return np.take_along_axis(top, np.argsort(-values, axis=1, kind="stable"), axis=1)
