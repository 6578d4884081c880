"""Artwork personalisation: which of a title's variants a profile sees, and with what probability.

Context
    :func:`artwork_context` turns what is known of a request into one vector:
    the profile's taste (L2-normalised, so a heavy viewer's affinities weigh
    as much as a light viewer's), the device class and the hour bucket as
    one-hots, and a constant 1. The constant makes per-theme main effects
    ("close-up faces do well everywhere") part of the same model as the
    interactions.

Features of an arm
    An arm is one active variant of one title, described by its themes
    (multi-hot or weights, shape ``(n_themes,)``). Its features in a context
    ``c`` are the flattened outer product ``[themes, 1] ⊗ c``: every
    (context entry, theme) pair has one shared weight, learned from every
    title, so a title released today is shown the frame its audience is
    likely to take from its first impression. The appended 1 gives every
    context entry a main effect, so "TV viewers play more" is not credited to
    whichever themes TV viewers happen to see. On top of the shared part each
    variant has its own scalar term ``b_v`` (this particular frame of this
    particular title is better or worse than its themes say).

Model
    A Gaussian linear model ``reward = x · w + b_v + noise`` with priors
    ``w ~ N(0, sigma²/λ_w I)`` and ``b_v ~ N(0, sigma²/λ_b)``, updated exactly. The
    variant terms are not approximated by fitting them to residuals: the joint
    precision of ``(w, b)`` is an arrowhead matrix (a dense block for ``w``,
    a diagonal for the ``b_v``), so the marginal posterior of ``w`` is its
    Schur complement and ``b_v | w`` is a one-dimensional Gaussian -- the
    "hybrid" model of Li et al. (2010), in its Bayesian form. Because a
    variant's themes are fixed, its cross term ``Σ x_i`` over its impressions
    is ``themes ⊗ (Σ c_i)``: per variant only a context sum, an impression
    weight and a reward sum are stored (31 + 2 floats), not a ``d``-vector.
    Everything is a sufficient statistic, so :meth:`ArtworkBandit.partial_fit`
    on new impressions gives the same posterior as a refit on all of them.

Policy and propensities
    Thompson sampling with an exploration floor, randomised so that the
    probability of every arm is known exactly. Per call, ``n_draws`` joint
    samples of ``(w, b)`` are drawn from the posterior; the policy is "with
    probability ``floor`` a uniform arm of the title, otherwise the arm that
    wins under one of the draws picked uniformly". Each arm's probability is
    therefore ``floor / k + (1 - floor) * wins / n_draws`` (the first of tied
    arms wins), which is the distribution the choice is then sampled from: the
    logged propensity is the probability of the randomised policy actually
    run, conditional on the draws. The draws are independent of any reward,
    so inverse-propensity estimates with these propensities are unbiased; and
    every arm keeps at least ``floor / k``, so the logs stay usable for
    evaluating the next policy however sure this one becomes.

Persistence
    :meth:`ArtworkBandit.save` returns ``.npz`` bytes of the sufficient
    statistics (no pickle); the posterior is rebuilt on :meth:`~ArtworkBandit.load`.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import Self

import numpy as np
import numpy.typing as npt
import scipy.linalg as sla
import scipy.sparse as sp

from recommendations.engine.persistence import load_artefact, save_artefact
from recommendations.engine.ranking import DEVICE_CLASSES, HOUR_BUCKETS

__all__ = [
    "N_HOUR_BUCKETS",
    "ArtworkBandit",
    "ArtworkChoice",
    "PerTitleThompson",
    "ThemesChanged",
    "artwork_context",
    "context_size",
]

_KIND = "tonight.artwork_bandit"
_PER_TITLE_KIND = "tonight.artwork_per_title_thompson"
_VERSION = 1

#: Hour buckets of the context one-hot (the ranker's 4-hour buckets, see ``ranking.hour_bucket``).
N_HOUR_BUCKETS = HOUR_BUCKETS

# Rows per block when a Gram matrix is accumulated row by row (bounded memory on a full refit).
_CHUNK = 16_384

#: Standard normal draws that choices read at random offsets (4 MB, one per process).
NORMAL_TABLE_SIZE = 1 << 20


@functools.cache
def _normal_table() -> np.ndarray:
    table = np.random.default_rng(0x7A61).standard_normal(NORMAL_TABLE_SIZE, dtype=np.float32)
    table.flags.writeable = False
    return table


def normal_draws(rng: np.random.Generator, size: int) -> npt.NDArray[np.float32]:
    """``size`` standard normal draws (read-only): a slice of a fixed table at a random offset.

    A page's choice needs ~17,000 normals, and drawing them cost about 170 us,
    a fifth of the choice; a slice costs nothing. Within one slice the draws
    are distinct entries of the table, independent N(0, 1). Two choices may
    share some (their offsets are uniform), which takes nothing from what the
    propensities promise: each choice's probabilities are computed from the
    draws it used, and its arm is then sampled from exactly those
    probabilities with fresh uniforms, so inverse-propensity estimates stay
    unbiased. (The shared noise table of Salimans et al., 2017, "Evolution
    Strategies as a Scalable Alternative to Reinforcement Learning".)
    A request for more than a quarter of the table is drawn afresh.
    """
    table = _normal_table()
    if size > table.shape[0] // 4:
        return rng.standard_normal(size, dtype=np.float32)
    start = int(rng.integers(0, table.shape[0] - size + 1))
    return table[start : start + size]


def context_size(n_taste: int) -> int:
    """Length of :func:`artwork_context` rows for a taste vector of ``n_taste`` entries."""
    if n_taste < 0:
        raise ValueError("n_taste must be non-negative")
    return n_taste + len(DEVICE_CLASSES) + N_HOUR_BUCKETS + 1


def artwork_context(
    *,
    taste: npt.ArrayLike,
    device: npt.ArrayLike,
    hour_bucket: npt.ArrayLike,
) -> npt.NDArray[np.float32]:
    """The bandit's context rows: normalised taste, device and hour one-hots, a constant 1.

    Parameters
    ----------
    taste : array of float32, shape (n, n_taste)
        Genre/theme affinities or an embedding. Each row is L2-normalised;
        an all-zero row (no history) stays zero, leaving the device, the
        hour and the population-wide effects to decide.
    device : array of int, shape (n,)
        Index into :data:`~recommendations.engine.ranking.DEVICE_CLASSES`.
    hour_bucket : array of int, shape (n,)
        0 .. ``N_HOUR_BUCKETS - 1`` (:func:`~recommendations.engine.ranking.hour_bucket`).

    Returns
    -------
    numpy.ndarray of float32, shape (n, context_size(n_taste))
        Columns: taste, one per device class, one per hour bucket, constant.
    """
    tastes = np.asarray(taste, dtype=np.float64)
    if tastes.ndim != 2:
        raise ValueError("taste must have shape (n, n_taste)")
    n, n_taste = tastes.shape
    devices = np.asarray(device, dtype=np.int64).reshape(-1)
    hours = np.asarray(hour_bucket, dtype=np.int64).reshape(-1)
    if devices.shape[0] != n or hours.shape[0] != n:
        raise ValueError("taste, device and hour_bucket must have the same number of rows")
    if np.any((devices < 0) | (devices >= len(DEVICE_CLASSES))):
        raise ValueError("device codes must index DEVICE_CLASSES")
    if np.any((hours < 0) | (hours >= N_HOUR_BUCKETS)):
        raise ValueError(f"hour_bucket must be in 0..{N_HOUR_BUCKETS - 1}")
    if not np.all(np.isfinite(tastes)):
        raise ValueError("taste must be finite")
    norms = np.linalg.norm(tastes, axis=1, keepdims=True)
    context = np.zeros((n, context_size(n_taste)), dtype=np.float32)
    context[:, :n_taste] = np.divide(tastes, norms, out=np.zeros_like(tastes), where=norms > 0)
    rows = np.arange(n)
    context[rows, n_taste + devices] = 1.0
    context[rows, n_taste + len(DEVICE_CLASSES) + hours] = 1.0
    context[:, -1] = 1.0
    return context


class ThemesChanged(ValueError):
    """A variant arrived with other themes than it was learned with: refit from scratch.

    Its past impressions are in the shared statistics under its old themes;
    folding new ones under new themes would mix two descriptions of one arm.
    """


@dataclass(frozen=True)
class ArtworkChoice:
    """The artwork chosen for every title of a page, with the probabilities behind it.

    Attributes
    ----------
    arm : numpy.ndarray of intp, shape (n_groups,)
        Index into the arms passed to ``choose`` (not into the group).
    propensity : numpy.ndarray of float64, shape (n_groups,)
        Probability the chosen arm had: log it with the impression.
    probability : numpy.ndarray of float64, shape (n_arms,)
        Every arm's selection probability; sums to 1 within each group.
        Also the traffic share the policy gives each variant in this context.
    estimate : numpy.ndarray of float64, shape (n_arms,)
        Posterior mean reward of each arm, for explanations (not for choosing).
    """

    arm: npt.NDArray[np.intp]
    propensity: npt.NDArray[np.float64]
    probability: npt.NDArray[np.float64]
    estimate: npt.NDArray[np.float64]


def _check_groups(indptr: npt.ArrayLike, n_arms: int) -> npt.NDArray[np.intp]:
    bounds = np.asarray(indptr, dtype=np.intp).reshape(-1)
    if bounds.shape[0] < 1 or bounds[0] != 0 or bounds[-1] != n_arms:
        raise ValueError(f"indptr must start at 0 and end at n_arms ({n_arms})")
    if np.any(np.diff(bounds) < 1):
        raise ValueError("every group (title) needs at least one arm")
    return bounds


def _argmax_wins(scores: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """How many draws (rows of ``scores``) each arm wins in its group; the first of tied arms wins.

    Arms as rows, each group's best per draw from a (groups, slots, draws)
    gather where a short group repeats its last arm (a max over the middle
    axis; ``maximum.reduceat`` and ``argmax`` over small axes were slower);
    an arm wins a draw where it equals that best. Exact ties (which continuous
    posterior draws practically never produce) fall back to a running argmax
    over the arm slots, which keeps the first tied arm.
    """
    n_draws, n_arms = scores.shape
    last = starts + sizes - 1
    slot = np.minimum(starts[:, None] + np.arange(int(sizes.max())), last[:, None])
    by_arm = np.ascontiguousarray(scores.T)
    best = by_arm[slot].max(axis=1)
    wins = np.count_nonzero(by_arm == np.repeat(best, sizes, axis=0), axis=1)
    if int(wins.sum()) == n_draws * starts.shape[0]:
        return wins
    best = scores[:, starts]
    winner = np.broadcast_to(starts, best.shape).copy()
    for slot in range(1, int(sizes.max())):
        column = np.minimum(starts + slot, last)
        candidate = scores[:, column]
        better = candidate > best
        np.copyto(best, candidate, where=better)
        np.copyto(winner, np.broadcast_to(column, winner.shape), where=better)
    return np.bincount(winner.reshape(-1), minlength=n_arms)


def _randomised_argmax(
    scores: np.ndarray,
    indptr: np.ndarray,
    floor: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pick one arm per group from sampled scores; return (arm, propensity, probability).

    ``scores`` has shape (n_draws, n_arms). The policy: with probability
    ``floor`` a uniform arm of the group, otherwise the arm with the highest
    score under one draw picked uniformly (the first of tied arms). So each
    arm's probability is ``floor / k + (1 - floor) * wins / n_draws``, and the
    arm is sampled from exactly that distribution, one uniform number per
    group: the propensity returned is the probability the choice was made with.
    """
    n_groups = indptr.shape[0] - 1
    starts = indptr[:-1]
    sizes = np.diff(indptr)
    n_draws = scores.shape[0]
    wins = _argmax_wins(scores, starts, sizes)
    group = np.repeat(np.arange(n_groups), sizes)
    probability = floor / sizes[group] + (1.0 - floor) / n_draws * wins
    # Inverse CDF per group on the running total: the arm whose interval holds the draw.
    cumulative = np.cumsum(probability)
    before = cumulative[starts] - probability[starts]
    total = cumulative[indptr[1:] - 1] - before
    target = before + rng.random(n_groups) * total
    arm = np.searchsorted(cumulative, target, side="right")
    arm = np.clip(arm, starts, indptr[1:] - 1).astype(np.intp)
    return arm, probability[arm], probability


def _kron_gram(context: np.ndarray, themes: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``Σ_i weight_i (t_i ⊗ c_i)(t_i ⊗ c_i)^T``, shape (T*n_context, T*n_context).

    ``(t ⊗ c)(t ⊗ c)^T = kron(t t^T, c c^T)``: rows sharing a theme vector
    (most do: themes are a few multi-hot tags) are summed in the small
    context space first, costing ``n * n_context²`` instead of ``n * d²``.
    """
    n_context, n_themes = context.shape[1], themes.shape[1]
    d = n_context * n_themes
    gram = np.zeros((d, d))
    if context.shape[0] == 0:
        return gram
    unique, inverse = np.unique(themes, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if unique.shape[0] * 8 > context.shape[0]:
        # Nearly every row has its own themes: accumulate the flattened features directly.
        for start in range(0, context.shape[0], _CHUNK):
            stop = start + _CHUNK
            rows = (themes[start:stop, :, None] * context[start:stop, None, :]).reshape(-1, d)
            gram += rows.T @ (rows * weight[start:stop, None])
        return gram
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(unique.shape[0] + 1))
    for index in range(unique.shape[0]):
        rows = order[bounds[index] : bounds[index + 1]]
        block = context[rows]
        scatter = block.T @ (block * weight[rows, None])
        gram += np.kron(np.outer(unique[index], unique[index]), scatter)
    return gram


def _sum_by(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Row sums of ``values`` grouped by ``index`` (0 .. n-1), shape (n, ...)."""
    matrix = sp.csr_matrix(
        (np.ones(index.shape[0]), (index, np.arange(index.shape[0]))),
        shape=(n, index.shape[0]),
    )
    return np.asarray(matrix @ values)


class _VariantTable:
    """Sorted variant ids and a lookup that tells known from unknown ones."""

    @staticmethod
    def lookup(ids: np.ndarray, variant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        position = np.searchsorted(ids, variant)
        inside = position < ids.shape[0]
        known = np.zeros(variant.shape[0], dtype=bool)
        known[inside] = ids[position[inside]] == variant[inside]
        return np.where(known, position, 0), known


class ArtworkBandit:
    """Linear Thompson sampling over context x theme interactions, with per-variant terms.

    Parameters
    ----------
    n_context : int
        Length of the context rows (:func:`context_size`).
    n_themes : int
        Number of artwork themes describing a variant.
    floor : float
        Share of decisions made uniformly at random over the title's arms, so
        every arm has probability at least ``floor / k``. 0.1 costs at most
        10% of the gap between the best arm and the average one, and caps
        inverse-propensity weights at ``k / floor`` (40 for four variants).
    n_draws : int
        Posterior samples per call; the policy randomises over them, so
        probabilities are multiples of ``(1 - floor) / n_draws`` above the floor.
    prior_precision : float
        ``λ_w``: prior strength of the shared weights, in pseudo-impressions
        (prior standard deviation ``sigma / sqrt(λ_w)``). The default 25 keeps
        a weight nobody has evidence on yet (a context bucket no page has been
        shown in) within about ``sigma / 5`` — a few points of take rate —
        instead of letting its draws swing choices in that context; every
        impression informs the shared weights, so data overrides it fast.
    variant_prior_precision : float
        ``λ_b``: prior strength of each variant's own term, in
        pseudo-impressions: the term is pulled towards 0 (what the variant's
        themes predict) until the variant has about that many impressions.
        The default 50 says a frame's own appeal moves its take rate by about
        ``sigma / 7`` (3-4 points at a 9% take rate) beyond what its themes
        explain. Much weaker priors let an unknown variant's spread swamp
        what the shared weights know, and a new title would learn nothing
        from the others; the floor, not this prior, guarantees new variants
        are shown.
    noise_scale : float or None
        ``sigma``, the reward noise standard deviation; scales the posterior
        spread and so how much the policy explores. ``None`` estimates it as
        the standard deviation of the rewards seen so far (``sqrt(p (1 - p))``
        for plays), starting from 0.5, the largest a 0/1 reward can have.
    random_state : int or None
        Seeds the generator used when ``choose`` is given no ``rng``.

    Attributes
    ----------
    n_updates : int
        Impressions folded in so far.
    """

    def __init__(
        self,
        *,
        n_context: int,
        n_themes: int,
        floor: float = 0.1,
        n_draws: int = 16,
        prior_precision: float = 25.0,
        variant_prior_precision: float = 50.0,
        noise_scale: float | None = None,
        random_state: int | None = None,
    ) -> None:
        # No themes at all is allowed (a catalogue nobody has tagged yet): the constant
        # column of every arm still learns context main effects and per-variant terms.
        if n_context < 1 or n_themes < 0:
            raise ValueError("n_context must be positive and n_themes non-negative")
        if not 0.0 <= floor <= 1.0:
            raise ValueError("floor must be in [0, 1]")
        if n_draws < 1:
            raise ValueError("n_draws must be at least 1")
        if prior_precision <= 0 or variant_prior_precision <= 0 or (noise_scale or 1) <= 0:
            raise ValueError("prior precisions and noise_scale must be positive")
        self.n_context = int(n_context)
        self.n_themes = int(n_themes)
        self.floor = float(floor)
        self.n_draws = int(n_draws)
        self.prior_precision = float(prior_precision)
        self.variant_prior_precision = float(variant_prior_precision)
        self.noise_scale = None if noise_scale is None else float(noise_scale)
        self.random_state = random_state
        self._rng = np.random.default_rng(random_state)
        self.n_updates = 0
        d = self.n_features
        # Sufficient statistics: Σ ω x x^T and Σ ω r x over all impressions ...
        self._gram = np.zeros((d, d))
        self._moment = np.zeros(d)
        self._reward_square = 0.0  # Σ ω r², for the noise scale
        # ... and per variant (sorted by id): Σ ω c, Σ ω, Σ ω r, impressions, themes.
        self._variant_ids = np.zeros(0, dtype=np.int64)
        self._variant_context = np.zeros((0, self.n_context))
        self._variant_weight = np.zeros(0)
        self._variant_reward = np.zeros(0)
        self._variant_impressions = np.zeros(0, dtype=np.int64)
        self._variant_themes = np.zeros((0, self.n_themes))
        self._refresh()

    @property
    def n_features(self) -> int:
        """Length of the shared weight vector: ``n_context * (n_themes + 1)``."""
        return self.n_context * (self.n_themes + 1)

    @property
    def shared_weights(self) -> npt.NDArray[np.float64]:
        """Posterior mean of the shared weights, shape (n_context, n_themes + 1).

        Column ``t`` is theme ``t``'s effect per context entry; the last
        column is the context's main effect. For reading and explaining.
        """
        return self._mean.reshape(self.n_themes + 1, self.n_context).T.copy()

    def _augment(self, themes: np.ndarray) -> np.ndarray:
        return np.hstack([themes, np.ones((themes.shape[0], 1))])

    @property
    def sigma(self) -> float:
        """The reward noise scale in use: ``noise_scale``, or estimated from the rewards.

        The estimate is the rewards' weighted variance with one pseudo-impression
        of variance 0.25 (a coin flip), so it starts at 0.5 and never reaches 0.
        """
        if self.noise_scale is not None:
            return self.noise_scale
        weight = float(self._variant_weight.sum()) + 1.0
        mean = (float(self._variant_reward.sum()) + 0.5) / weight
        square = (self._reward_square + 0.5) / weight
        return float(np.sqrt(max(square - mean**2, 1e-4)))

    def _refresh(self) -> None:
        """Rebuild the marginal posterior of ``w`` from the sufficient statistics.

        Integrating the variant terms out subtracts, per variant,
        ``C_v C_v^T / (λ_b + n_v)`` from the precision and ``C_v g_v / (λ_b + n_v)``
        from the moment, with ``C_v = themes ⊗ (Σ ω c)``. Recomputed from the
        per-variant sums every time rather than updated by differences, so
        rounding never accumulates over months of small updates.
        """
        denominator = self.variant_prior_precision + self._variant_weight
        themes = self._augment(self._variant_themes)
        schur = _kron_gram(self._variant_context, themes, 1.0 / denominator)
        cross = themes.T @ (self._variant_context * (self._variant_reward / denominator)[:, None])
        precision = self._gram - schur
        precision[np.diag_indices_from(precision)] += self.prior_precision
        precision = (precision + precision.T) / 2.0
        moment = self._moment - cross.reshape(-1)
        lower = sla.cholesky(precision, lower=True)
        self._mean = sla.cho_solve((lower, True), moment)
        # w = mean + sigma L^{-T} z has covariance sigma² (L L^T)^{-1}, the posterior's;
        # choose() draws rows, w^T = mean^T + z^T (sigma L^{-1}), in float32.
        inverse = sla.solve_triangular(lower, np.eye(lower.shape[0]), lower=True)
        sigma = self.sigma
        self._draw_factor_t = (sigma * inverse).astype(np.float32)
        # Per-variant terms of the score, looked up by choose(); the extra last
        # row is an unknown variant's: no data, so the prior alone.
        self._serve_shift = np.vstack(
            [self._variant_context / denominator[:, None], np.zeros((1, self.n_context))]
        ).astype(np.float32)
        mass = np.append(denominator, self.variant_prior_precision)
        self._serve_mean = np.append(self._variant_reward, 0.0) / mass
        self._serve_spread = sigma / np.sqrt(mass)

    def partial_fit(
        self,
        *,
        context: npt.ArrayLike,
        themes: npt.ArrayLike,
        variant: npt.ArrayLike,
        reward: npt.ArrayLike,
        weight: npt.ArrayLike | None = None,
    ) -> Self:
        """Fold attributed impressions into the posterior (exact Bayesian update).

        Calling it once on all impressions or many times on consecutive
        batches gives the same posterior (up to rounding).

        Parameters
        ----------
        context : array of float32, shape (n, n_context)
            :func:`artwork_context` of each impression.
        themes : array of float32, shape (n, n_themes)
            Themes of the variant shown. A variant's themes must not change
            between updates: its stored statistics assume them.
        variant : array of int64, shape (n,)
            Variant shown; unknown ids are added with their prior.
        reward : array of float, shape (n,)
            1.0 if the title was played within the session, else 0.0.
        weight : array of float, shape (n,), optional
            Non-negative impression weights (e.g. importance weights); 1 by default.

        Returns
        -------
        ArtworkBandit
            ``self``.

        Raises
        ------
        ValueError
            On inconsistent shapes, non-finite values, negative weights, or a
            known variant arriving with other themes (refit from scratch then).
        """
        contexts = np.asarray(context, dtype=np.float64)
        theme_rows = np.asarray(themes, dtype=np.float64)
        variants = np.asarray(variant, dtype=np.int64).reshape(-1)
        rewards = np.asarray(reward, dtype=np.float64).reshape(-1)
        n = variants.shape[0]
        weights = np.ones(n) if weight is None else np.asarray(weight, np.float64).reshape(-1)
        if contexts.shape != (n, self.n_context):
            raise ValueError(f"context must have shape ({n}, {self.n_context})")
        if theme_rows.shape != (n, self.n_themes):
            raise ValueError(f"themes must have shape ({n}, {self.n_themes})")
        if rewards.shape[0] != n or weights.shape[0] != n:
            raise ValueError("variant, reward and weight must have the same length")
        finite = (contexts, theme_rows, rewards, weights)
        if not all(np.all(np.isfinite(array)) for array in finite):
            raise ValueError("context, themes, reward and weight must be finite")
        if np.any(weights < 0):
            raise ValueError("weights must be non-negative")
        if n == 0:
            return self

        batch_ids, first_row, inverse = np.unique(variants, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        batch_themes = theme_rows[first_row]
        drift = np.any(theme_rows != batch_themes[inverse], axis=1)
        position, known = _VariantTable.lookup(self._variant_ids, batch_ids)
        stored = self._variant_themes[position[known]]
        changed = np.any(stored != batch_themes[known], axis=1)
        if drift.any() or changed.any():
            offenders = np.union1d(variants[drift], batch_ids[known][changed])
            raise ThemesChanged(
                f"variants {offenders[:10].tolist()} arrive with other themes than they were "
                "learned with; refit the policy from scratch on the current themes"
            )

        augmented = self._augment(theme_rows)
        self._gram += _kron_gram(contexts, augmented, weights)
        self._reward_square += float(np.dot(weights, rewards**2))
        self._moment += (augmented.T @ (contexts * (weights * rewards)[:, None])).reshape(-1)

        new_ids = batch_ids[~known]
        if new_ids.shape[0]:
            ids = np.concatenate([self._variant_ids, new_ids])
            order = np.argsort(ids, kind="stable")
            self._variant_ids = ids[order]
            self._variant_context = np.vstack(
                [self._variant_context, np.zeros((new_ids.shape[0], self.n_context))]
            )[order]
            self._variant_weight = np.concatenate([self._variant_weight, np.zeros(len(new_ids))])[
                order
            ]
            self._variant_reward = np.concatenate([self._variant_reward, np.zeros(len(new_ids))])[
                order
            ]
            self._variant_impressions = np.concatenate(
                [self._variant_impressions, np.zeros(len(new_ids), dtype=np.int64)]
            )[order]
            self._variant_themes = np.vstack([self._variant_themes, batch_themes[~known]])[order]
        slot = np.searchsorted(self._variant_ids, batch_ids)
        n_batch = batch_ids.shape[0]
        self._variant_context[slot] += _sum_by(inverse, contexts * weights[:, None], n_batch)
        self._variant_weight[slot] += np.bincount(inverse, weights, minlength=n_batch)
        self._variant_reward[slot] += np.bincount(inverse, weights * rewards, minlength=n_batch)
        self._variant_impressions[slot] += np.bincount(inverse, minlength=n_batch)
        self.n_updates += n
        self._refresh()
        return self

    def _arm_terms(
        self, context: np.ndarray, indptr: np.ndarray, themes: np.ndarray, variant: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per arm: augmented themes and effective context (float32), the variant term's mean
        part and its spread.

        With ``b_v | w ~ N((g_v - C_v · w) / m_v, sigma² / m_v)``, ``m_v = λ_b + n_v``,
        the sampled score ``x · w + b_v`` is
        ``(themes ⊗ (c - s_v / m_v)) · w + g_v / m_v + sigma / sqrt(m_v) * z``; the
        Kronecker product is left to :meth:`choose`, which never materialises it.
        """
        position, known = _VariantTable.lookup(self._variant_ids, variant)
        row = np.where(known, position, self._variant_ids.shape[0])
        own = context.astype(np.float32)
        if own.shape[0] > 1:  # a context per group; one row is every group's
            own = own[np.repeat(np.arange(indptr.shape[0] - 1), np.diff(indptr))]
        effective = own - self._serve_shift[row]
        augmented = np.ones((variant.shape[0], self.n_themes + 1), dtype=np.float32)
        augmented[:, :-1] = themes
        return augmented, effective, self._serve_mean[row], self._serve_spread[row]

    def choose(
        self,
        *,
        context: npt.ArrayLike,
        indptr: npt.ArrayLike,
        arm_themes: npt.ArrayLike,
        arm_variant: npt.ArrayLike,
        rng: np.random.Generator | None = None,
    ) -> ArtworkChoice:
        """Choose one variant per title of a page, with exact probabilities.

        Parameters
        ----------
        context : array of float32, shape (n_groups, n_context) or (1, n_context)
            :func:`artwork_context` per title, or one row for every title (one
            profile's page, the request path's case).
        indptr : array of intp, shape (n_groups + 1,)
            Group ``g``'s arms are ``indptr[g]:indptr[g + 1]``; at least one each.
        arm_themes : array of float32, shape (n_arms, n_themes)
        arm_variant : array of int64, shape (n_arms,)
            Variant ids; unknown ones are sampled from the prior.
        rng : numpy.random.Generator, optional
            Source of randomness; the bandit's own seeded generator if omitted.

        Returns
        -------
        ArtworkChoice
        """
        contexts = np.asarray(context, dtype=np.float64)
        themes = np.asarray(arm_themes, dtype=np.float64)
        variants = np.asarray(arm_variant, dtype=np.int64).reshape(-1)
        n_arms = variants.shape[0]
        bounds = _check_groups(indptr, n_arms)
        n_groups = bounds.shape[0] - 1
        if contexts.shape not in {(n_groups, self.n_context), (1, self.n_context)}:
            raise ValueError(
                f"context must have shape ({n_groups}, {self.n_context}) or (1, {self.n_context})"
            )
        if themes.shape != (n_arms, self.n_themes):
            raise ValueError(f"arm_themes must have shape ({n_arms}, {self.n_themes})")
        generator = self._rng if rng is None else rng
        if n_groups == 0:
            return _empty_choice()

        augmented, effective, variant_mean, variant_spread = self._arm_terms(
            contexts, bounds, themes, variants
        )
        # Joint posterior draws of (w, b): w from its marginal, each b_v given w.
        # Scores only feed an argmax, so they are computed in float32 (half the
        # cost); row 0 is the posterior mean, for the estimates.
        # One slice of draws for both parts, so they never share entries.
        draws = normal_draws(generator, self.n_draws * (self.n_features + n_arms))
        split = self.n_draws * self.n_features
        weights = np.empty((self.n_draws + 1, self.n_features), dtype=np.float32)
        weights[0] = self._mean
        noise = draws[:split].reshape(self.n_draws, self.n_features)
        weights[1:] = np.dot(noise, self._draw_factor_t)
        weights[1:] += self._mean.astype(np.float32)
        # (augmented ⊗ effective) · w per arm and draw, contracting the context first: a
        # (arms x context) by (context x draws·themes) product, then each arm's few themes,
        # instead of building the (arms x themes·context) features (2.5x slower).
        by_theme = np.dot(effective, weights.reshape(-1, self.n_context).T).reshape(
            n_arms, self.n_draws + 1, self.n_themes + 1
        )
        shared = np.matmul(by_theme, augmented[:, :, None])[:, :, 0].T
        estimate = shared[0] + variant_mean
        variant_noise = draws[split:].reshape(self.n_draws, n_arms) * variant_spread.astype(
            np.float32
        )
        variant_noise += variant_mean.astype(np.float32)
        scores = shared[1:]
        scores += variant_noise
        arm, propensity, probability = _randomised_argmax(scores, bounds, self.floor, generator)
        return ArtworkChoice(
            arm=arm, propensity=propensity, probability=probability, estimate=estimate
        )

    def learned_themes(
        self, variant: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """The themes each variant id was folded with, and which ids the bandit knows.

        Returns
        -------
        themes : numpy.ndarray of float64, shape (n, n_themes)
            Zeros for an unknown id.
        known : numpy.ndarray of bool, shape (n,)

        A caller folding impressions of a variant that no longer exists (deleted
        after its page was logged) has no themes to give but these: zeros would be
        other themes than it was learned with, which :meth:`partial_fit` refuses.
        """
        ids = np.asarray(variant, dtype=np.int64).reshape(-1)
        position, known = _VariantTable.lookup(self._variant_ids, ids)
        themes = np.zeros((ids.shape[0], self.n_themes))
        themes[known] = self._variant_themes[position[known]]
        return themes, known

    def variant_impressions(self, variant: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Impressions folded in per variant id (0 for unknown ids), shape (n,)."""
        ids = np.asarray(variant, dtype=np.int64).reshape(-1)
        position, known = _VariantTable.lookup(self._variant_ids, ids)
        return np.where(known, self._variant_impressions[position], 0)

    def save(self) -> bytes:
        """The sufficient statistics and settings as ``.npz`` bytes (no pickle).

        The generator's state is not stored: a loaded bandit restarts from
        ``random_state``. Pass ``rng`` to ``choose`` to replay a decision.
        """
        buffer = io.BytesIO()
        save_artefact(
            buffer,
            kind=_KIND,
            version=_VERSION,
            n_context=self.n_context,
            n_themes=self.n_themes,
            floor=self.floor,
            n_draws=self.n_draws,
            prior_precision=self.prior_precision,
            variant_prior_precision=self.variant_prior_precision,
            noise_scale=-1.0 if self.noise_scale is None else self.noise_scale,
            random_state=-1 if self.random_state is None else int(self.random_state),
            n_updates=self.n_updates,
            gram=self._gram,
            moment=self._moment,
            reward_square=self._reward_square,
            variant_ids=self._variant_ids,
            variant_context=self._variant_context,
            variant_weight=self._variant_weight,
            variant_reward=self._variant_reward,
            variant_impressions=self._variant_impressions,
            variant_themes=self._variant_themes,
        )
        return buffer.getvalue()

    @classmethod
    def load(cls, data: bytes) -> ArtworkBandit:
        """Rebuild a bandit from :meth:`save` bytes."""
        arrays = load_artefact(io.BytesIO(data), kind=_KIND, version=_VERSION)
        seed = int(arrays["random_state"])
        bandit = cls(
            n_context=int(arrays["n_context"]),
            n_themes=int(arrays["n_themes"]),
            floor=float(arrays["floor"]),
            n_draws=int(arrays["n_draws"]),
            prior_precision=float(arrays["prior_precision"]),
            variant_prior_precision=float(arrays["variant_prior_precision"]),
            noise_scale=None if float(arrays["noise_scale"]) < 0 else float(arrays["noise_scale"]),
            random_state=None if seed < 0 else seed,
        )
        bandit.n_updates = int(arrays["n_updates"])
        bandit._gram = arrays["gram"]
        bandit._moment = arrays["moment"]
        bandit._reward_square = float(arrays["reward_square"])
        bandit._variant_ids = arrays["variant_ids"]
        bandit._variant_context = arrays["variant_context"]
        bandit._variant_weight = arrays["variant_weight"]
        bandit._variant_reward = arrays["variant_reward"]
        bandit._variant_impressions = arrays["variant_impressions"]
        bandit._variant_themes = arrays["variant_themes"]
        bandit._refresh()
        return bandit


def _empty_choice() -> ArtworkChoice:
    return ArtworkChoice(
        arm=np.zeros(0, dtype=np.intp),
        propensity=np.zeros(0),
        probability=np.zeros(0),
        estimate=np.zeros(0),
    )


class PerTitleThompson:
    """Beta-Bernoulli Thompson sampling per variant: one global winner per title.

    The comparison baseline for :class:`ArtworkBandit`: it ignores the
    context and the themes, so it can find the variant that is best for
    everyone, but not the best one for this profile on this device, and a
    new title learns from nothing but its own impressions. It uses the same
    floor and the same randomised-argmax rule, so its propensities are exact
    as well and the two are compared under the same constraint.

    Parameters
    ----------
    floor : float
    n_draws : int
    prior_plays, prior_misses : float
        Beta prior pseudo-counts; Beta(1, 1) is uniform on the take rate.
    random_state : int or None
    """

    def __init__(
        self,
        *,
        floor: float = 0.1,
        n_draws: int = 64,
        prior_plays: float = 1.0,
        prior_misses: float = 1.0,
        random_state: int | None = None,
    ) -> None:
        if not 0.0 <= floor <= 1.0:
            raise ValueError("floor must be in [0, 1]")
        if n_draws < 1:
            raise ValueError("n_draws must be at least 1")
        if prior_plays <= 0 or prior_misses <= 0:
            raise ValueError("prior pseudo-counts must be positive")
        self.floor = float(floor)
        self.n_draws = int(n_draws)
        self.prior_plays = float(prior_plays)
        self.prior_misses = float(prior_misses)
        self.random_state = random_state
        self._rng = np.random.default_rng(random_state)
        self.n_updates = 0
        self._variant_ids = np.zeros(0, dtype=np.int64)
        self._plays = np.zeros(0)
        self._misses = np.zeros(0)

    def partial_fit(
        self,
        *,
        variant: npt.ArrayLike,
        reward: npt.ArrayLike,
        weight: npt.ArrayLike | None = None,
        context: npt.ArrayLike | None = None,
        themes: npt.ArrayLike | None = None,
    ) -> Self:
        """Add (weighted) plays and misses per variant; ``context`` and ``themes`` are ignored.

        Parameters
        ----------
        variant : array of int64, shape (n,)
        reward : array of float, shape (n,)
            In [0, 1].
        weight : array of float, shape (n,), optional
        context, themes : ignored
            Accepted so both policies are driven by the same call.
        """
        variants = np.asarray(variant, dtype=np.int64).reshape(-1)
        rewards = np.asarray(reward, dtype=np.float64).reshape(-1)
        n = variants.shape[0]
        weights = np.ones(n) if weight is None else np.asarray(weight, np.float64).reshape(-1)
        if rewards.shape[0] != n or weights.shape[0] != n:
            raise ValueError("variant, reward and weight must have the same length")
        if np.any(~np.isfinite(rewards) | (rewards < 0) | (rewards > 1)):
            raise ValueError("rewards must be in [0, 1]")
        if np.any(~np.isfinite(weights) | (weights < 0)):
            raise ValueError("weights must be finite and non-negative")
        if n == 0:
            return self
        batch_ids, inverse = np.unique(variants, return_inverse=True)
        inverse = inverse.reshape(-1)
        _, known = _VariantTable.lookup(self._variant_ids, batch_ids)
        if not known.all():
            ids = np.concatenate([self._variant_ids, batch_ids[~known]])
            order = np.argsort(ids, kind="stable")
            extra = np.zeros(int((~known).sum()))
            self._variant_ids = ids[order]
            self._plays = np.concatenate([self._plays, extra])[order]
            self._misses = np.concatenate([self._misses, extra])[order]
        slot = np.searchsorted(self._variant_ids, batch_ids)
        size = batch_ids.shape[0]
        self._plays[slot] += np.bincount(inverse, weights * rewards, minlength=size)
        self._misses[slot] += np.bincount(inverse, weights * (1.0 - rewards), minlength=size)
        self.n_updates += n
        return self

    def choose(
        self,
        *,
        indptr: npt.ArrayLike,
        arm_variant: npt.ArrayLike,
        context: npt.ArrayLike | None = None,
        arm_themes: npt.ArrayLike | None = None,
        rng: np.random.Generator | None = None,
    ) -> ArtworkChoice:
        """One variant per group from Beta posterior draws; ``context``/``arm_themes`` ignored.

        Parameters
        ----------
        indptr : array of intp, shape (n_groups + 1,)
        arm_variant : array of int64, shape (n_arms,)
        rng : numpy.random.Generator, optional

        Returns
        -------
        ArtworkChoice
            ``estimate`` is the posterior mean take rate of each variant.
        """
        variants = np.asarray(arm_variant, dtype=np.int64).reshape(-1)
        bounds = _check_groups(indptr, variants.shape[0])
        generator = self._rng if rng is None else rng
        if bounds.shape[0] == 1:
            return _empty_choice()
        position, known = _VariantTable.lookup(self._variant_ids, variants)
        row = np.where(known, position, self._variant_ids.shape[0])  # the last row: no data
        alpha = self.prior_plays + np.append(self._plays, 0.0)[row]
        beta = self.prior_misses + np.append(self._misses, 0.0)[row]
        scores = generator.beta(alpha, beta, (self.n_draws, variants.shape[0]))
        arm, propensity, probability = _randomised_argmax(scores, bounds, self.floor, generator)
        return ArtworkChoice(
            arm=arm, propensity=propensity, probability=probability, estimate=alpha / (alpha + beta)
        )

    def save(self) -> bytes:
        """Counts and settings as ``.npz`` bytes (no pickle)."""
        buffer = io.BytesIO()
        save_artefact(
            buffer,
            kind=_PER_TITLE_KIND,
            version=_VERSION,
            floor=self.floor,
            n_draws=self.n_draws,
            prior_plays=self.prior_plays,
            prior_misses=self.prior_misses,
            random_state=-1 if self.random_state is None else int(self.random_state),
            n_updates=self.n_updates,
            variant_ids=self._variant_ids,
            plays=self._plays,
            misses=self._misses,
        )
        return buffer.getvalue()

    @classmethod
    def load(cls, data: bytes) -> PerTitleThompson:
        """Rebuild a sampler from :meth:`save` bytes."""
        arrays = load_artefact(io.BytesIO(data), kind=_PER_TITLE_KIND, version=_VERSION)
        seed = int(arrays["random_state"])
        sampler = cls(
            floor=float(arrays["floor"]),
            n_draws=int(arrays["n_draws"]),
            prior_plays=float(arrays["prior_plays"]),
            prior_misses=float(arrays["prior_misses"]),
            random_state=None if seed < 0 else seed,
        )
        sampler.n_updates = int(arrays["n_updates"])
        sampler._variant_ids = arrays["variant_ids"]
        sampler._plays = arrays["plays"]
        sampler._misses = arrays["misses"]
        return sampler
