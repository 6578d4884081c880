"""Taste-cluster assignment: which viewing community each profile's history points to.

A cluster is keyed by languages (IN-Tamil, IN-Hindi); a profile belongs to
the cluster whose languages hold the largest share of its viewing, each
title's share weighted by the profile's confidence in it. Profiles with too
little viewing to say fall back to their preferred languages, then to the
region's default cluster. One sparse product over all profiles at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["ClusterAssignment", "assign_clusters"]


@dataclass(frozen=True, slots=True)
class ClusterAssignment:
    """Each profile's cluster and why.

    Attributes
    ----------
    cluster : numpy.ndarray of int32, shape (n_profiles,)
        Index of the chosen cluster.
    share : numpy.ndarray of float32, shape (n_profiles,)
        Share of the profile's viewing in that cluster's languages (0 when not by viewing).
    by_viewing, by_preference : numpy.ndarray of bool, shape (n_profiles,)
        Which rule decided; neither means the default cluster.
    """

    cluster: npt.NDArray[np.int32]
    share: npt.NDArray[np.float32]
    by_viewing: npt.NDArray[np.bool_]
    by_preference: npt.NDArray[np.bool_]


def assign_clusters(
    *,
    confidence: sp.spmatrix,
    title_cluster: npt.ArrayLike,
    preferred_cluster: npt.ArrayLike,
    default_cluster: int,
    n_clusters: int,
    min_weight: float = 2.0,
) -> ClusterAssignment:
    """Assign every profile (row of ``confidence``) to a cluster.

    Parameters
    ----------
    confidence : sparse matrix of float32, shape (n_profiles, n_titles)
        Positive confidence per (profile, title) (what the collaborative model learns from).
    title_cluster : array of int, shape (n_titles,)
        The cluster whose languages include each title's original language;
        ``default_cluster`` for titles of no keyed language.
    preferred_cluster : array of int, shape (n_profiles,)
        The cluster of the profile's first preferred language that keys one; -1 if none.
    default_cluster : int
    n_clusters : int
    min_weight : float
        Total confidence below which viewing is too little to say (a couple of plays).

    Returns
    -------
    ClusterAssignment
    """
    matrix = sp.csr_matrix(confidence, dtype=np.float32)
    n_profiles, n_titles = matrix.shape
    columns = np.asarray(title_cluster, dtype=np.int64).reshape(-1)
    if columns.shape[0] != n_titles:
        raise ValueError("title_cluster must have one entry per title")
    preferred = np.asarray(preferred_cluster, dtype=np.int64).reshape(-1)
    if preferred.shape[0] != n_profiles:
        raise ValueError("preferred_cluster must have one entry per profile")
    membership = sp.csr_matrix(
        (np.ones(n_titles, dtype=np.float32), (np.arange(n_titles), columns)),
        shape=(n_titles, n_clusters),
    )
    weight = np.asarray((matrix @ membership).todense(), dtype=np.float64).reshape(
        n_profiles, n_clusters
    )
    total = weight.sum(axis=1)
    best = weight.argmax(axis=1) if n_clusters else np.zeros(n_profiles, dtype=np.int64)
    share = np.divide(
        weight[np.arange(n_profiles), best], total, out=np.zeros(n_profiles), where=total > 0
    )
    by_viewing = total >= min_weight
    by_preference = ~by_viewing & (preferred >= 0)
    cluster = np.full(n_profiles, default_cluster, dtype=np.int64)
    cluster[by_viewing] = best[by_viewing]
    cluster[by_preference] = preferred[by_preference]
    return ClusterAssignment(
        cluster=cluster.astype(np.int32),
        share=np.where(by_viewing, share, 0.0).astype(np.float32),
        by_viewing=by_viewing,
        by_preference=by_preference,
    )
