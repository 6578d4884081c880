"""Off-policy evaluation: the take rate a candidate policy would have had, from logged choices.

Every logged impression carries the probability with which the logging policy
picked the variant shown (its propensity). A candidate policy gives the same
impression's variant some probability of its own (its target probability).
Reweighting each logged reward by ``target / propensity`` turns the logged
stream into an estimate of the candidate's take rate, without deploying it.

- :func:`ips_value` (inverse propensity scoring) is unbiased whenever every
  arm the candidate may pick had a positive logged propensity -- which the
  bandit's exploration floor guarantees -- but its variance grows with the
  weights. An impression logged with propensity 1 shows that its other arms
  had none, so both estimators refuse one where the candidate would not make
  that same choice for sure (with other propensities the logs cannot tell).
- :func:`snips_value` (self-normalised IPS) divides by the sum of the weights
  instead of ``n``. Slightly biased (the bias vanishes as ``1/n``), usually far
  less variable, and never outside the range of the rewards; the estimate to
  read first.

Intervals are normal approximations: the sample standard error for IPS, the
delta method for SNIPS. Impressions of one page share a profile and a moment,
so they are not independent; pass ``cluster`` (the page id) and the standard
errors are cluster-robust (sums of per-page residuals), which widens them to
what the data support.

``effective_sample_size`` is Kish's ``(Σ w)² / Σ w²``: how many impressions
logged by the candidate itself the reweighted log is worth. A few dozen out of
hundreds of thousands means the candidate strays where the logs have no data
and the interval, whatever its width, should not be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

__all__ = ["PolicyValue", "ips_value", "snips_value"]


@dataclass(frozen=True)
class PolicyValue:
    """An estimated policy value (take rate) with its confidence interval.

    Attributes
    ----------
    value : float
        Estimated mean reward per impression under the candidate policy.
    low, high : float
        Bounds of the two-sided ``confidence`` interval.
    n : int
        Logged impressions used.
    effective_sample_size : float
        Kish's ``(Σ w)² / Σ w²`` of the importance weights.
    confidence : float
    """

    value: float
    low: float
    high: float
    n: int
    effective_sample_size: float
    confidence: float


#: Tolerance of "probability 1" (stored propensities and computed targets round).
_CERTAIN = 1e-6


def _weights(
    reward: npt.ArrayLike | None,
    logged_propensity: npt.ArrayLike | None,
    target_probability: npt.ArrayLike | None,
    confidence: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Validated rewards and importance weights ``target / propensity``, shape (n,) each."""
    if logged_propensity is None:
        raise ValueError(
            "the logs have no propensities: off-policy estimates need the probability with "
            "which every shown variant was chosen"
        )
    if reward is None or target_probability is None:
        raise ValueError("reward and target_probability are required")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    try:
        propensity = np.asarray(logged_propensity, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(
            "logged propensities are missing for some impressions (None or not a number); "
            "off-policy estimates need the probability of every shown variant"
        ) from None
    rewards = np.asarray(reward, dtype=np.float64).reshape(-1)
    target = np.asarray(target_probability, dtype=np.float64).reshape(-1)
    n = rewards.shape[0]
    if n == 0:
        raise ValueError("no logged impressions to evaluate on")
    if propensity.shape[0] != n or target.shape[0] != n:
        raise ValueError(
            f"reward ({n}), logged_propensity ({propensity.shape[0]}) and "
            f"target_probability ({target.shape[0]}) must have the same length"
        )
    missing = int(np.count_nonzero(np.isnan(propensity)))
    if missing:
        raise ValueError(
            f"{missing} of {n} impressions have no logged propensity (NaN); off-policy "
            "estimates need the probability of every shown variant"
        )
    invalid = int(np.count_nonzero((propensity <= 0.0) | (propensity > 1.0)))
    if invalid:
        raise ValueError(
            f"{invalid} of {n} logged propensities are not in (0, 1]; a variant shown with "
            "probability 0 cannot be reweighted"
        )
    if np.any(~np.isfinite(target) | (target < 0.0) | (target > 1.0)):
        raise ValueError("target probabilities must be in [0, 1]")
    # Logged with probability 1, the shown variant was the only one the logger could pick:
    # its other variants had probability 0. A candidate that gives the shown one less than 1
    # puts the rest where the logs have no support, and IPS would silently score it 0.
    unsupported = int(np.count_nonzero((propensity >= 1.0 - _CERTAIN) & (target < 1.0 - _CERTAIN)))
    if unsupported:
        raise ValueError(
            f"{unsupported} of {n} impressions were logged with propensity 1 (a deterministic "
            "choice among the title's variants) while the candidate would show another variant "
            "there: the logs have no support for it; leave such impressions out (and say how "
            "many), or evaluate logs of a randomised policy"
        )
    if not np.all(np.isfinite(rewards)):
        raise ValueError("rewards must be finite")
    return rewards, target / propensity


def _cluster_sums(values: np.ndarray, cluster: npt.ArrayLike | None) -> np.ndarray:
    """Per-cluster sums of ``values`` (each value its own cluster without ``cluster``)."""
    if cluster is None:
        return values
    labels = np.asarray(cluster).reshape(-1)
    if labels.shape[0] != values.shape[0]:
        raise ValueError("cluster must have one label per impression")
    _, inverse = np.unique(labels, return_inverse=True)
    return np.bincount(inverse.reshape(-1), weights=values)


def _kish(weights: np.ndarray) -> float:
    squares = float(np.sum(weights**2))
    return float(np.sum(weights)) ** 2 / squares if squares > 0 else 0.0


def _with_interval(
    value: float,
    residual_sums: np.ndarray,
    scale: float,
    n: int,
    weights: np.ndarray,
    confidence: float,
) -> PolicyValue:
    """The estimate with its normal interval from per-cluster residual sums.

    ``scale`` divides the summed residuals (n for IPS, the weight total for
    SNIPS); the small-sample factor G / (G - 1) over G clusters is the usual
    cluster-robust correction.
    """
    groups = residual_sums.shape[0]
    correction = groups / (groups - 1) if groups > 1 else 1.0
    standard_error = float(np.sqrt(correction * np.sum(residual_sums**2)) / scale)
    half = NormalDist().inv_cdf(0.5 + confidence / 2.0) * standard_error
    return PolicyValue(
        value=value,
        low=value - half,
        high=value + half,
        n=n,
        effective_sample_size=_kish(weights),
        confidence=confidence,
    )


def ips_value(
    *,
    reward: npt.ArrayLike,
    logged_propensity: npt.ArrayLike,
    target_probability: npt.ArrayLike,
    confidence: float = 0.95,
    cluster: npt.ArrayLike | None = None,
) -> PolicyValue:
    """Inverse-propensity estimate of a candidate policy's mean reward.

    ``mean(reward * target / propensity)``, with the interval from its
    standard error (cluster-robust with ``cluster``).

    Parameters
    ----------
    reward : array of float, shape (n,)
        Logged rewards (1 if the title was played after the impression).
    logged_propensity : array of float, shape (n,)
        Probability the logging policy gave the variant shown, in (0, 1].
    target_probability : array of float, shape (n,)
        Probability the candidate policy gives that same variant in that
        same context, in [0, 1] (a deterministic policy: 1 or 0).
    confidence : float
        Two-sided coverage of the interval.
    cluster : array, shape (n,), optional
        Page (or session) of each impression, for cluster-robust errors.

    Returns
    -------
    PolicyValue

    Raises
    ------
    ValueError
        If propensities are missing, NaN, zero or above 1, or shapes disagree; or an
        impression was logged with propensity 1 (its title's other variants had none)
        and the candidate gives its variant less than 1.
    """
    rewards, weights = _weights(reward, logged_propensity, target_probability, confidence)
    n = rewards.shape[0]
    terms = weights * rewards
    value = float(terms.mean())
    residual_sums = _cluster_sums(terms - value, cluster)
    # Σ over clusters of squared residual sums / n², with the small-sample factor g/(g-1).
    return _with_interval(value, residual_sums, n, n, weights, confidence)


def snips_value(
    *,
    reward: npt.ArrayLike,
    logged_propensity: npt.ArrayLike,
    target_probability: npt.ArrayLike,
    confidence: float = 0.95,
    cluster: npt.ArrayLike | None = None,
) -> PolicyValue:
    """Self-normalised inverse-propensity estimate: ``Σ w r / Σ w``.

    The interval uses the delta method: the estimate is a ratio of two means,
    whose linearised error per impression is ``w (r - value) / mean(w)``.
    Parameters and errors as :func:`ips_value`.

    Returns
    -------
    PolicyValue

    Raises
    ------
    ValueError
        As :func:`ips_value`, and when the candidate gives probability 0 to
        every logged choice (the log says nothing about it).
    """
    rewards, weights = _weights(reward, logged_propensity, target_probability, confidence)
    n = rewards.shape[0]
    total = float(weights.sum())
    if total <= 0:
        raise ValueError(
            "the candidate policy never picks a variant that was logged; the logs cannot "
            "evaluate it"
        )
    value = float(np.dot(weights, rewards) / total)
    residual_sums = _cluster_sums(weights * (rewards - value), cluster)
    return _with_interval(value, residual_sums, total, n, weights, confidence)
