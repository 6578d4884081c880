"""Collaborative filtering: ``implicit``'s ALS, with a request-time fold-in of one profile.

Training is ``implicit.cpu.als.AlternatingLeastSquares`` unchanged. What this
wrapper adds is what serving needs and ``implicit`` does not give cheaply:

- :meth:`CollaborativeModel.fold_in`, the exact least-squares user factor for
  a profile's *current* history, so tonight's plays count before the next
  retrain. It solves the same system as ``implicit``'s ``recalculate_user``
  (``(YᵀY + λI + Yᵀ(Cᵤ - I)Y) xᵤ = YᵀCᵤpᵤ``) in numpy on the profile's few
  interacted rows only, with ``YᵀY + λI`` cached, so one call costs tens of
  microseconds and needs neither the training matrix nor the ``implicit``
  model object in the web process.
- The availability mask at fold-in: a model fitted with ``unavailable``
  (titles a profile's region does not carry are not negatives) folds a
  profile in against the same system, ``YᵀY`` over the titles its region
  carries, given that region's mask; unmasked, a profile's factor was pulled
  away from what training would have given it (top-10 overlap median 8/10).
- :meth:`save` / :meth:`load` of the factor arrays and parameters with
  ``numpy.savez`` (no pickle), so artefacts in shared storage are inert data.
- :meth:`CollaborativeModel.blend`: one model whose scores are a weighted sum
  of several fitted models' scores (a small taste cluster's own model with its
  region's). Serving needs no change: a blend's :meth:`fold_in` returns the
  components' folded-in factors, each scaled by its weight, side by side, and
  its ``item_factors`` are the components' side by side, so
  ``item_factors @ fold_in(row)`` is exactly ``Σ wᵢ · scoresᵢ``.
- :class:`AlsParams`, :func:`params_for_size` and :func:`params_candidates`:
  hyper-parameters per scope. One setting does not fit a region of 50,000
  profiles and a cluster of 500: the small one overfits where the large one
  does not (see ``docs/recommendations.md``).

Negative confidences follow ``implicit``'s convention (see
:func:`recommendations.engine.confidence.signed_confidence`): ``-c`` means
"preference 0 with confidence c", which is how thumbs downs enter the model.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import threadpoolctl
from scipy.linalg import lapack

from recommendations.engine.persistence import ArtefactTarget, load_artefact, save_artefact

__all__ = ["AlsParams", "CollaborativeModel", "params_candidates", "params_for_size"]

_KIND = "tonight.collaborative_model"
#: Format 2 stores components (a blend has several); format 1 artefacts still load.
_VERSION = 2


@dataclass(frozen=True, slots=True)
class AlsParams:
    """The hyper-parameters of one ALS fit (see :class:`CollaborativeModel`)."""

    factors: int = 64
    regularization: float = 0.05
    alpha: float = 1.0
    iterations: int = 15

    def as_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)

    def replace(self, **changes: float | int) -> AlsParams:
        return dataclasses.replace(self, **changes)


#: Profiles below which a scope gets fewer factors: latent dimensions need data to fill them,
#: and a cluster of a few hundred profiles has only a few directions of taste to learn.
FACTOR_STEPS: tuple[tuple[int, int], ...] = ((2_000, 16), (20_000, 32))


def params_for_size(
    *, n_profiles: int, n_titles: int, n_interactions: int, base: AlsParams | None = None
) -> AlsParams:
    """The size prior of a scope: fewer factors for few profiles, λ growing with the profiles.

    Factors step up with the number of profiles (:data:`FACTOR_STEPS`, capped by
    ``base.factors``). ``implicit``'s loss counts every cell, the unobserved
    ones too, so a title's data term grows with the number of profiles while
    λ stays fixed: the same λ is strong in a cluster of a few hundred profiles
    and negligible in a region of tens of thousands. ``λ = 0.8 · sqrt(profiles)``
    (clipped to [2, 200]) with confidences scaled by ``alpha = 4 · base.alpha``
    keeps the balance: λ/alpha about 5 for a 600-profile cluster, 12 for a
    3,500-profile region, 47 for a 55,000-profile one, the settings the demo's
    validation splits picked at 6,000 and at 100,000 profiles. The region-wide
    λ 0.05 at alpha 1 that every scope used before let clusters overfit.

    Parameters
    ----------
    n_profiles, n_titles : int
        Rows and columns of the scope's matrix.
    n_interactions : int
        Non-zero cells of the scope's matrix (recorded by callers; a scope
        without interactions keeps the smallest setting).
    base : AlsParams, optional
        Alpha, iterations and the factor cap; :class:`AlsParams` defaults otherwise.
    """
    base = base or AlsParams()
    factors = base.factors
    for below, step in FACTOR_STEPS:
        if n_profiles < below:
            factors = min(step, base.factors)
            break
    if n_interactions == 0 or n_titles == 0:
        factors = min(factors, FACTOR_STEPS[0][1])
    regularization = float(np.clip(0.8 * np.sqrt(max(n_profiles, 1)), 2.0, 200.0))
    return base.replace(
        factors=factors, regularization=round(regularization, 3), alpha=4.0 * base.alpha
    )


def params_candidates(prior: AlsParams) -> tuple[AlsParams, ...]:
    """Settings worth trying around a prior, the prior first (it wins ties).

    λ a quarter and four times the prior's, half the factors, and a softer
    confidence scale (alpha and λ a quarter): the directions in which a
    scope's best setting has been seen to move on the demo's validation splits.
    """
    candidates = [
        prior,
        prior.replace(regularization=prior.regularization / 4),
        prior.replace(regularization=prior.regularization * 4),
        prior.replace(factors=max(prior.factors // 2, 4)),
        prior.replace(alpha=prior.alpha / 4, regularization=prior.regularization / 4),
    ]
    unique: list[AlsParams] = []
    for candidate in candidates:
        if candidate not in unique:
            unique.append(candidate)
    return tuple(unique)


def _blas_single_threaded() -> threadpoolctl.threadpool_limits:
    """Limit BLAS to one thread: ``implicit`` parallelises over users itself.

    A multithreaded OpenBLAS inside ``implicit``'s OpenMP loop oversubscribes
    the cores (``implicit`` measures up to 10x slowdowns and warns about it);
    the worker environment also sets ``OPENBLAS_NUM_THREADS=1``.
    """
    return threadpoolctl.threadpool_limits(limits=1, user_api="blas")


#: Confidence given to the "preference 0" of a cell that is not a negative: small enough to
#: be no evidence, non-zero so that the sparse matrix keeps the cell.
_NOT_A_NEGATIVE = 1e-6


def _with_unavailable(matrix: sp.csr_matrix, unavailable: sp.spmatrix) -> sp.csr_matrix:
    """``matrix`` plus ``-ε`` in every unavailable cell that holds no evidence of its own."""
    mask = sp.csr_matrix(unavailable, dtype=np.float32, shape=matrix.shape)
    mask.data[:] = 1.0
    mask = mask - mask.multiply(matrix != 0)
    mask.eliminate_zeros()
    mask.data[:] = -_NOT_A_NEGATIVE
    combined = sp.csr_matrix(matrix + mask, dtype=np.float32)
    combined.sort_indices()
    return combined


class CollaborativeModel:
    """Implicit-feedback matrix factorisation of a (profiles x titles) confidence matrix.

    Parameters
    ----------
    factors : int
        Latent dimensions. 64 keeps scoring 15,000 titles well under a
        millisecond and is enough for a cluster's taste structure.
    regularization : float
        L2 penalty λ on the factors.
    alpha : float
        Multiplies every confidence before training (``implicit``'s alpha);
        the signal weights already set the scale, so 1.0 by default.
    iterations : int
        ALS sweeps.
    use_cg : bool
        Conjugate-gradient inner solver (``implicit``'s default, faster);
        ``False`` solves each user and item exactly.
    num_threads : int
        OpenMP threads for fitting; 0 means all cores.
    random_state : int, numpy.random.Generator or None
        Seeds the factor initialisation.

    Attributes
    ----------
    user_factors : numpy.ndarray of float32, shape (n_profiles, factors) or None
        Factors of the training profiles (``None`` before :meth:`fit`).
    item_factors : numpy.ndarray of float32, shape (n_titles, factors) or None
    fit_seconds : float
        Wall-clock time of the last :meth:`fit` (0.0 for a loaded model).
    availability_masked : bool
        Whether the last :meth:`fit` was given ``unavailable`` cells, so that
        a fold-in given the profile's region mask should remove them too.
    """

    #: Region masks whose ``YᵀY`` over available titles is kept, per model.
    MASKED_GRAMS_KEPT = 16

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 1.0,
        iterations: int = 15,
        use_cg: bool = True,
        num_threads: int = 0,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        if factors < 1 or iterations < 1:
            raise ValueError("factors and iterations must be positive")
        if regularization <= 0:
            raise ValueError("regularization must be positive (it keeps every fold-in solvable)")
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.use_cg = use_cg
        self.num_threads = num_threads
        self.random_state = random_state
        self.user_factors: npt.NDArray[np.float32] | None = None
        self.item_factors: npt.NDArray[np.float32] | None = None
        self.fit_seconds = 0.0
        self.availability_masked = False
        self._gram: npt.NDArray[np.float64] | None = None
        # id(mask) -> (mask, gram): the mask is held so that its id is not reused.
        self._masked_grams: dict[int, tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]] = {}
        self._components: tuple[CollaborativeModel, ...] = ()
        self._weights: npt.NDArray[np.float64] = np.ones(0)

    @classmethod
    def from_params(
        cls,
        params: AlsParams,
        *,
        random_state: int | np.random.Generator | None = None,
        num_threads: int = 0,
    ) -> CollaborativeModel:
        """An unfitted model with these hyper-parameters."""
        return cls(**params.as_dict(), random_state=random_state, num_threads=num_threads)

    @property
    def params(self) -> AlsParams:
        return AlsParams(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
        )

    @classmethod
    def blend(
        cls, models: Sequence[CollaborativeModel], weights: Sequence[float]
    ) -> CollaborativeModel:
        """One model scoring ``Σ weights[i] · models[i]``'s scores, for any profile history.

        The fitted models must share the title index. The blend folds a profile
        in against each model separately (each with its own λ and alpha), so a
        cluster model and its region's model both see tonight's activity.

        Parameters
        ----------
        models : sequence of fitted CollaborativeModel
        weights : sequence of float, same length, non-negative, not all zero

        Returns
        -------
        CollaborativeModel
            Without user factors; ``factors`` is the sum of the models'.
        """
        weight = np.asarray(weights, dtype=np.float64)
        if len(models) == 0 or weight.shape != (len(models),):
            raise ValueError("one weight per model, and at least one model")
        if (weight < 0).any() or weight.sum() <= 0:
            raise ValueError("blend weights must be non-negative and not all zero")
        parts: list[CollaborativeModel] = []
        part_weights: list[float] = []
        for model, w in zip(models, weight, strict=True):
            model._require_fitted()
            inner = model._components or (model,)
            inner_weights = model._weights if model._components else np.ones(1)
            parts.extend(inner)
            part_weights.extend((w * inner_weights).tolist())
        if len({part.n_titles for part in parts}) != 1:
            raise ValueError("blended models must be fitted on the same titles")
        first = parts[0]
        blended = cls(
            factors=sum(part.factors for part in parts),
            regularization=first.regularization,
            alpha=first.alpha,
            iterations=first.iterations,
            use_cg=first.use_cg,
            random_state=first.random_state,
        )
        blended._components = tuple(parts)
        blended._weights = np.asarray(part_weights, dtype=np.float64)
        blended.item_factors = np.ascontiguousarray(
            np.hstack([part.item_factors for part in parts]), dtype=np.float32
        )
        blended.fit_seconds = sum(part.fit_seconds for part in parts)
        return blended

    @property
    def is_blend(self) -> bool:
        return bool(self._components)

    def describe(self) -> list[dict[str, float | int]]:
        """Hyper-parameters (and blend weight) of each component, for a version's metrics."""
        parts = self._components or (self,)
        weights = self._weights if self._components else np.ones(1)
        return [
            {**part.params.as_dict(), "weight": round(float(w), 4)}
            for part, w in zip(parts, weights, strict=True)
        ]

    @property
    def n_titles(self) -> int:
        """Number of titles (columns) the model was trained on."""
        return 0 if self.item_factors is None else int(self.item_factors.shape[0])

    def fit(
        self,
        confidence: sp.spmatrix,
        *,
        unavailable: sp.spmatrix | None = None,
        initial: CollaborativeModel | None = None,
        show_progress: bool = False,
    ) -> Self:
        """Train on a confidence matrix.

        Parameters
        ----------
        confidence : sparse matrix of float32, shape (n_profiles, n_titles)
            Positive entries are confidences that the profile likes the title;
            negative entries (optional) are dislikes, as produced by
            :func:`recommendations.engine.confidence.signed_confidence`.
        unavailable : sparse matrix, shape (n_profiles, n_titles), optional
            Cells that are *not* negatives: titles the profile could not watch
            (not licensed where it lives). Plain implicit ALS treats every
            unobserved cell as "preference 0 with confidence 1"; for these cells
            that weight is removed, so a model trained on several regions does not
            learn that a profile dislikes what it was never offered. Implemented
            with ``implicit``'s own convention for negative entries: a value of
            ``-ε`` means "preference 0 with confidence ε", which subtracts the
            cell's ``y yᵀ`` from the solve (the system stays positive definite,
            since it still holds every available title's term plus ``λI``).
            Costs one sparse entry per masked cell.
        initial : CollaborativeModel, optional
            A model fitted on an earlier matrix of the same shape (the same
            profiles and titles, e.g. the training part of a holdout split):
            its factors start the sweeps instead of random ones, so a few
            ``iterations`` bring it up to date with the newest activity.
        show_progress : bool
            Show ``implicit``'s progress bar (for management commands).

        Returns
        -------
        CollaborativeModel
            ``self``, fitted.
        """
        # Deferred import: the web process loads saved factors and never needs
        # implicit's compiled extension or its BLAS check.
        from implicit.cpu.als import AlternatingLeastSquares

        matrix = sp.csr_matrix(confidence, dtype=np.float32)
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        if unavailable is not None:
            matrix = _with_unavailable(matrix, unavailable)
        started = time.perf_counter()
        with _blas_single_threaded():
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                use_cg=self.use_cg,
                num_threads=self.num_threads,
                random_state=self.random_state,
                dtype=np.float32,
            )
            if initial is not None:
                if (
                    initial.user_factors is None
                    or initial.user_factors.shape != (matrix.shape[0], self.factors)
                    or initial._require_fitted().shape != (matrix.shape[1], self.factors)
                ):
                    raise ValueError("initial factors do not match the matrix and factors")
                model.user_factors = initial.user_factors.copy()
                model.item_factors = initial.item_factors.copy()
            model.fit(matrix, show_progress=show_progress)
        self.fit_seconds = time.perf_counter() - started
        self.user_factors = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self._gram = None
        self._masked_grams = {}
        self.availability_masked = unavailable is not None
        self._components, self._weights = (), np.ones(0)
        return self

    def with_titles(self, *, positions: npt.ArrayLike, n_titles: int) -> CollaborativeModel:
        """This model on a larger title index: its titles at ``positions``, the rest zero.

        A title added after the fit has no co-viewing to learn from: its zero factor
        scores 0 for every profile (what a profile without CF evidence scores every
        title), and adds nothing to ``YᵀY``, so every fold-in solves the system it
        solved before (the regularised Gram matrix is shared, not recomputed). A
        profile's plays of it are evidence the solve cannot use, as for any zero row.

        Parameters
        ----------
        positions : array of int, shape (self.n_titles,), ascending
        n_titles : int

        Returns
        -------
        CollaborativeModel
            A new model without user factors; this one is not changed.
        """
        items = self._require_fitted()
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        if positions.shape[0] != items.shape[0]:
            raise ValueError("positions must place every fitted title")
        model = CollaborativeModel(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            use_cg=self.use_cg,
            num_threads=self.num_threads,
            random_state=self.random_state,
        )
        wider = np.zeros((n_titles, items.shape[1]), dtype=np.float32)
        wider[positions] = items
        model.item_factors = wider
        model.availability_masked = self.availability_masked
        model.fit_seconds = self.fit_seconds
        model._gram = self._gram
        if self._components:
            parts = tuple(
                part.with_titles(positions=positions, n_titles=n_titles)
                for part in self._components
            )
            model._components, model._weights = parts, self._weights
        return model

    def _require_fitted(self) -> npt.NDArray[np.float32]:
        if self.item_factors is None:
            raise RuntimeError("the collaborative model is not fitted")
        return self.item_factors

    def _regularised_gram(self) -> npt.NDArray[np.float64]:
        """``YᵀY + λI`` in float64, computed once per model: the shared part of every fold-in."""
        if self._gram is None:
            items = self._require_fitted().astype(np.float64)
            self._gram = items.T @ items + self.regularization * np.eye(self.factors)
        return self._gram

    def _available_gram(self, available: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        """``YᵀY + λI`` over the titles ``available`` holds: what a masked fit solved against.

        Training gave a profile's unavailable titles (those without evidence of
        their own) confidence ε instead of 1, which takes their ``y yᵀ`` out of
        its system, up to ε. Kept per mask object (a region's mask is shared by
        every request until its availability changes), a few at a time.
        """
        kept = self._masked_grams.get(id(available))
        if kept is not None and kept[0] is available:
            return kept[1]
        missing = self._require_fitted()[~available].astype(np.float64)
        gram = self._regularised_gram() - missing.T @ missing
        if len(self._masked_grams) >= self.MASKED_GRAMS_KEPT:
            self._masked_grams.pop(next(iter(self._masked_grams)))
        self._masked_grams[id(available)] = (available, gram)
        return gram

    def fold_in(self, user_items: sp.spmatrix) -> npt.NDArray[np.float32]:
        """The user factor that best explains one profile's current history, given the items.

        Solves ``(YᵀY + λI + Yᵀ(Cᵤ - I)Y) x = YᵀCᵤpᵤ`` exactly (Cholesky), with
        ``Cᵤ = alpha * |confidence|`` and ``pᵤ = 1`` for positive confidences,
        0 for negative ones: the same system as ``implicit``'s
        ``recalculate_user``. Only the profile's interacted rows of Y are
        touched, so the cost grows with its history, not the catalogue.

        Parameters
        ----------
        user_items : sparse matrix of float32, shape (1, n_titles)
            The profile's confidence row (signed, as in :meth:`fit`).

        Returns
        -------
        numpy.ndarray of float32, shape (factors,)
            All zeros for an empty history (as ``implicit`` does).
        """
        items = self._require_fitted()
        row = user_items
        if not (isinstance(row, sp.csr_matrix) and row.has_canonical_format):
            row = sp.csr_matrix(user_items)
            row.sum_duplicates()
        if row.shape != (1, items.shape[0]):
            raise ValueError(f"user_items must have shape (1, {items.shape[0]}), got {row.shape}")
        return self.fold_in_entries(row.indices, row.data)

    def fold_in_entries(
        self,
        indices: npt.NDArray[np.integer],
        data: npt.NDArray[np.floating],
        *,
        available: npt.NDArray[np.bool_] | None = None,
    ) -> npt.NDArray[np.float32]:
        """:meth:`fold_in` of a confidence row given as its entries (ascending, unique titles).

        The request path has the row as arrays already; a 1 x n_titles CSR
        matrix around them only to be taken apart here cost more than the
        solve. The order of the entries is the order of the sums, so give them
        sorted to get :meth:`fold_in`'s factor bit for bit.

        ``available``, the titles the profile's region carries (a read-only
        mask, recognised by identity), makes a model fitted with
        ``unavailable`` cells solve the system it was trained with; a model
        fitted without them ignores it.
        """
        if self._components:
            return np.concatenate(
                [
                    (w * part._solve(indices, data, available)).astype(np.float32)
                    for part, w in zip(self._components, self._weights, strict=True)
                ]
            )
        return self._solve(indices, data, available)

    def fold_in_many(
        self, user_items: sp.spmatrix, *, available: npt.NDArray[np.bool_] | None = None
    ) -> npt.NDArray[np.float32]:
        """:meth:`fold_in_entries` for each row of a (m x n_titles) matrix.

        ``available`` is one region's mask for every row, as on the request
        path: an offline comparison of a masked model folded in without it
        would judge a system the request no longer solves (its factors a fifth
        smaller), not the model that serves.

        Returns
        -------
        numpy.ndarray of float32, shape (m, factors)
        """
        items = self._require_fitted()
        rows = sp.csr_matrix(user_items)
        if rows.shape[1] != items.shape[0]:
            raise ValueError(f"user_items must have {items.shape[0]} columns")
        rows.sum_duplicates()
        if self._components:
            return np.hstack(
                [
                    (w * part.fold_in_many(rows, available=available)).astype(np.float32)
                    for part, w in zip(self._components, self._weights, strict=True)
                ]
            )
        out = np.zeros((rows.shape[0], self.factors), dtype=np.float32)
        for user in range(rows.shape[0]):
            start, end = rows.indptr[user], rows.indptr[user + 1]
            out[user] = self._solve(rows.indices[start:end], rows.data[start:end], available)
        return out

    def _solve(
        self,
        indices: np.ndarray,
        data: np.ndarray,
        available: npt.NDArray[np.bool_] | None = None,
    ) -> npt.NDArray[np.float32]:
        confidence = self.alpha * data.astype(np.float64)
        keep = confidence != 0
        indices, confidence = indices[keep], confidence[keep]
        if indices.size == 0:
            return np.zeros(self.factors, dtype=np.float32)
        seen = self._require_fitted()[indices].astype(np.float64)
        if available is not None and self.availability_masked:
            # A seen title keeps its own evidence even where it is unavailable now
            # (training masked only cells without any): its y yᵀ is not in the masked
            # Gram matrix, so it takes |c| in full rather than |c| - 1.
            gram = self._available_gram(available)
            unseen_weight = available[indices].astype(np.float64)
        else:
            gram, unseen_weight = self._regularised_gram(), 1.0
        lhs = gram + (seen.T * (np.abs(confidence) - unseen_weight)) @ seen
        rhs = seen.T @ np.maximum(confidence, 0.0)
        # lhs = sum over unseen (available, if masked) titles of y yᵀ + sum over seen of
        # |c| y yᵀ + λI: positive
        # definite for any confidences, so the Cholesky solve cannot fail on valid input.
        # LAPACK's posv directly: scipy.linalg.solve's checks cost 5x the 64x64 solve itself.
        _, solution, info = lapack.dposv(lhs, rhs)
        if info != 0:
            raise np.linalg.LinAlgError(f"fold-in system is not positive definite (info={info})")
        return solution.astype(np.float32)

    def scores(self, user_factor: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Predicted preference of every title: ``item_factors @ user_factor``.

        Parameters
        ----------
        user_factor : array of float32, shape (factors,) or (m, factors)

        Returns
        -------
        numpy.ndarray of float32, shape (n_titles,) or (m, n_titles)
        """
        items = self._require_fitted()
        factor = np.asarray(user_factor, dtype=np.float32)
        return factor @ items.T if factor.ndim == 2 else items @ factor

    def save(self, target: ArtefactTarget, *, include_user_factors: bool = True) -> None:
        """Store the factors and parameters as an ``.npz`` archive (no pickle).

        ``include_user_factors=False`` gives a serving artefact of the item
        factors only: serving folds every profile in from its history anyway.
        A blend stores each component's parameters and weight beside the
        side-by-side item factors.
        """
        items = self._require_fitted()
        users = (
            self.user_factors if include_user_factors and self.user_factors is not None else None
        )
        seed = self.random_state if isinstance(self.random_state, int) else -1
        parts = self._components or (self,)
        save_artefact(
            target,
            kind=_KIND,
            version=_VERSION,
            compressed=False,  # float factors: zlib costs much and saves little
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            use_cg=self.use_cg,
            random_state=seed,
            fit_seconds=self.fit_seconds,
            item_factors=items,
            user_factors=np.zeros((0, self.factors), np.float32) if users is None else users,
            has_user_factors=users is not None,
            component_factors=np.array([part.factors for part in parts], dtype=np.int64),
            component_regularization=np.array([part.regularization for part in parts]),
            component_alpha=np.array([part.alpha for part in parts]),
            component_iterations=np.array([part.iterations for part in parts], dtype=np.int64),
            component_weights=self._weights if self._components else np.ones(1),
            component_availability_masked=np.array([p.availability_masked for p in parts]),
        )

    @classmethod
    def load(cls, source: ArtefactTarget | os.PathLike[str]) -> CollaborativeModel:
        """Read a model written by :meth:`save`; ``user_factors`` is ``None`` if not stored.

        Format 1 artefacts (single models stored before blends existed) still load.
        """
        start = source.tell() if hasattr(source, "tell") else None
        try:
            arrays = load_artefact(source, kind=_KIND, version=_VERSION)
        except ValueError as error:
            if "format version 1," not in str(error):
                raise
            if start is not None:
                source.seek(start)  # type: ignore[union-attr]
            arrays = load_artefact(source, kind=_KIND, version=1)
        seed = int(arrays["random_state"])
        random_state = None if seed < 0 else seed
        items = np.ascontiguousarray(arrays["item_factors"], dtype=np.float32)
        sizes = arrays.get("component_factors", np.array([int(arrays["factors"])]))
        # Older artefacts did not record the mask: they fold in without it, as they always did.
        masked = arrays.get("component_availability_masked", np.zeros(sizes.shape[0], bool))
        if sizes.shape[0] > 1:
            parts = []
            bounds = np.r_[0, np.cumsum(sizes)]
            for i in range(sizes.shape[0]):
                part = cls(
                    factors=int(sizes[i]),
                    regularization=float(arrays["component_regularization"][i]),
                    alpha=float(arrays["component_alpha"][i]),
                    iterations=int(arrays["component_iterations"][i]),
                    use_cg=bool(arrays["use_cg"]),
                    random_state=random_state,
                )
                part.item_factors = np.ascontiguousarray(items[:, bounds[i] : bounds[i + 1]])
                part.availability_masked = bool(masked[i])
                parts.append(part)
            model = cls.blend(parts, arrays["component_weights"].tolist())
            model.fit_seconds = float(arrays["fit_seconds"])
            return model
        model = cls(
            factors=int(arrays["factors"]),
            regularization=float(arrays["regularization"]),
            alpha=float(arrays["alpha"]),
            iterations=int(arrays["iterations"]),
            use_cg=bool(arrays["use_cg"]),
            random_state=random_state,
        )
        model.item_factors = items
        model.availability_masked = bool(masked[0])
        if bool(arrays["has_user_factors"]):
            model.user_factors = np.ascontiguousarray(arrays["user_factors"], dtype=np.float32)
        model.fit_seconds = float(arrays["fit_seconds"])
        return model
