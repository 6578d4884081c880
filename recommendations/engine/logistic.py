"""Logistic regression that starts from a stated belief: the fit both rankers share.

Both rankers (:mod:`~recommendations.engine.ranking`'s titles,
:mod:`~recommendations.engine.row_ranking`'s rows) begin with a documented
prior, a set of coefficients the product believes before any page is logged.
Fitting them to logs with an ordinary ridge penalty pulls every coefficient
towards zero, not towards that belief; and logged pages are shown by the
model that served them, so a feature the serving model already ranked by
(everything shown had a high CF score) carries little contrast in the logs
and would be fitted to nothing. The maximum a posteriori fit under a
Gaussian centred on the prior keeps such a coefficient where the prior put
it and moves the others as far as the logs justify.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import expit

__all__ = ["held_out_log_losses", "log_loss", "map_logistic_fit", "training_arrays"]

#: Prior precision of the intercept: nearly free, as the base rate of plays is a
#: property of the logs (how many rows a page has), not a belief worth defending.
_INTERCEPT_PRECISION = 1e-4
#: Prior variance of a nuisance term refitted for the prior (:func:`held_out_log_losses`):
#: free in effect, but defined for a term no fitted row had.
_NUISANCE_VARIANCE = 100.0


def training_arrays(
    features: npt.ArrayLike, labels: npt.ArrayLike, n_features: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Logged features and labels as the fit takes them, or ValueError if they do not pair.

    Both rankers' ``fit`` accept the same input and must refuse the same
    mistakes (a matrix of another layout, labels of another length) before
    anything is fitted.
    """
    matrix = np.asarray(features, dtype=np.float64)
    target = np.asarray(labels).astype(bool).reshape(-1)
    if matrix.ndim != 2 or matrix.shape[1] != n_features:
        raise ValueError(f"features must have shape (n, {n_features})")
    if matrix.shape[0] != target.shape[0]:
        raise ValueError("features and labels must have the same number of rows")
    return matrix, target


def map_logistic_fit(
    features: npt.NDArray[np.float64],
    labels: npt.NDArray[np.bool_],
    *,
    centre: npt.NDArray[np.float64],
    intercept_centre: float,
    variance: float | npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None = None,
    offset: npt.NDArray[np.float64] | None = None,
    max_iter: int = 500,
) -> tuple[npt.NDArray[np.float64], float]:
    """Coefficients and intercept maximising the weighted log likelihood plus the log prior.

    Parameters
    ----------
    features : array of float64, shape (n, d)
        In the units the prior is stated in (not standardised: the penalty
        must be centred where the prior is).
    labels : array of bool, shape (n,)
    centre : array of float64, shape (d,)
        The prior's coefficients.
    intercept_centre : float
    variance : float or array of float64, shape (d,)
        Prior variance of each coefficient around ``centre`` (one for all, or
        one each).
    sample_weight : array of float64, shape (n,), optional
    offset : array of float64, shape (n,), optional
        A fixed part of each row's logit (the rest of a model held where it is).
    max_iter : int
        L-BFGS iterations.
    """
    # Imported by the fit, not the module: serving and every process start import the
    # rankers, and only a fit needs the optimiser (scipy.optimize takes a third of a second).
    from scipy.optimize import minimize

    y = labels.astype(np.float64)
    weight = np.ones_like(y) if sample_weight is None else sample_weight.astype(np.float64)
    start = np.append(centre, intercept_centre)
    precision = np.append(
        np.broadcast_to(1.0 / np.asarray(variance, dtype=np.float64), centre.shape),
        _INTERCEPT_PRECISION,
    )
    fixed = np.zeros_like(y) if offset is None else np.asarray(offset, dtype=np.float64)

    def objective(theta: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        z = features @ theta[:-1] + theta[-1] + fixed
        residual = weight * (expit(z) - y)
        away = theta - start
        loss = float(weight @ (np.logaddexp(0.0, z) - y * z) + 0.5 * away @ (precision * away))
        grad = np.append(features.T @ residual, residual.sum()) + precision * away
        return loss, grad

    result = minimize(objective, start, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return result.x[:-1].copy(), float(result.x[-1])


def log_loss(
    logit: npt.NDArray[np.float64],
    labels: npt.NDArray[np.bool_],
    sample_weight: npt.NDArray[np.float64] | None = None,
) -> float:
    """Mean (weighted) negative log likelihood of ``labels`` under ``sigmoid(logit)``."""
    if labels.shape[0] == 0:
        return 0.0
    losses = np.logaddexp(0.0, logit) - labels * logit
    return float(np.average(losses, weights=sample_weight))


def held_out_log_losses(
    features: npt.NDArray[np.float64],
    labels: npt.NDArray[np.bool_],
    held_out: npt.NDArray[np.bool_],
    *,
    coef: npt.NDArray[np.float64],
    intercept: float,
    prior: npt.NDArray[np.float64],
    sample_weight: npt.NDArray[np.float64] | None = None,
    nuisance: npt.NDArray[np.bool_] | None = None,
) -> tuple[float, float]:
    """Mean log loss on the ``held_out`` rows of a model fitted on the others, and of the prior.

    The prior's base rate is fitted on the same rows the model was, and so
    are its ``nuisance`` coefficients (a mask over the features: terms that
    describe the logs, such as where a row was shown, and never order
    anything at serving; none by default): its intercept was a guess at the
    base rate and its position terms a guess at how far down viewers look,
    so the comparison judges what each ranks, not those guesses. Both
    rankers choose between their learned model and their prior by it.
    """
    fitted = ~held_out

    def weight(rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64] | None:
        return None if sample_weight is None else sample_weight[rows]

    learned = log_loss(features[held_out] @ coef + intercept, labels[held_out], weight(held_out))
    if nuisance is None:
        nuisance = np.zeros(features.shape[1], dtype=bool)
    held = features[:, ~nuisance] @ prior[~nuisance]
    terms, base = map_logistic_fit(
        features[fitted][:, nuisance],
        labels[fitted],
        centre=prior[nuisance],
        intercept_centre=0.0,
        variance=_NUISANCE_VARIANCE,
        sample_weight=weight(fitted),
        offset=held[fitted],
    )
    prior_logit = held[held_out] + features[held_out][:, nuisance] @ terms + base
    return learned, log_loss(prior_logit, labels[held_out], weight(held_out))
