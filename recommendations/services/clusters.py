"""Taste-cluster assignment: recompute every profile's cluster of a region, in bulk.

A profile's cluster is the one its viewing points to (the share of its
positive confidence on titles in each cluster's languages), then the one its
preferred languages point to, then the region's default. Computed for every
profile of the region in one pass over arrays
(:func:`recommendations.engine.clusters.assign_clusters`) and written back with
one ``UPDATE`` per cluster, only for the profiles whose cluster changed. Every
retrain calls it first, so clusters follow tastes as they move.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Account
from config.lookups import AnyOf
from profiles.models import Profile
from recommendations.engine.clusters import assign_clusters
from recommendations.engine.confidence import signal_confidence
from recommendations.selectors import training as data
from regions.models import TasteCluster
from regions.services import taste_cluster_create

logger = logging.getLogger(__name__)

#: Total positive confidence below which a profile's viewing is too little to place it
#: (about two completed films); its languages decide instead.
MIN_VIEWING_WEIGHT = 2.0


@dataclass(frozen=True)
class ClusterAssignmentResult:
    """What an assignment did.

    Attributes
    ----------
    profile_ids : numpy.ndarray of int64, shape (n,)
        Every profile of the region, ascending.
    cluster_ids : numpy.ndarray of int64, shape (n,)
        The cluster each now belongs to.
    counts : dict of str to int
        Profiles per cluster slug.
    changed : int
        Profiles whose cluster changed.
    by_viewing, by_preference, by_default : int
        How many were placed by each rule.
    """

    profile_ids: npt.NDArray[np.int64]
    cluster_ids: npt.NDArray[np.int64]
    counts: dict[str, int]
    changed: int
    by_viewing: int
    by_preference: int
    by_default: int

    def members(self, cluster_id: int) -> npt.NDArray[np.int64]:
        return self.profile_ids[self.cluster_ids == cluster_id]

    def as_metrics(self) -> dict[str, object]:
        return {
            "counts": self.counts,
            "changed": self.changed,
            "by_viewing": self.by_viewing,
            "by_preference": self.by_preference,
            "by_default": self.by_default,
        }


def _default_cluster(region_code: str) -> TasteCluster:
    """The region's "Everyone" cluster, made its default if it is new.

    Two assignments of a region without clusters may both get here: the second waits for
    the first's region lock, then finds its cluster (the slug's constraint refuses it a
    second one)."""
    cluster = TasteCluster.objects.filter(region_id=region_code, slug="default").first()
    if cluster is not None:
        return cluster
    try:
        return taste_cluster_create(
            region=region_code, slug="default", name="Everyone", is_default=True
        )
    except IntegrityError:
        return TasteCluster.objects.get(region_id=region_code, slug="default")


def region_default_cluster_ensure(*, region_code: str) -> None:
    """Give a region with households and no taste cluster at all its default one, "Everyone".

    A region added in admin or by an import has none, and a region's retrain is one
    run per cluster: without this its nightly retrain, and ``retrain --region``, ran
    nothing and said so to no one, and train_models' versions served it for good.
    The first assignment places every profile of the region in this cluster. A
    region with any cluster, a default one or not, is left as it is, and so is one
    with no household yet, which has no one to learn from.
    """
    if TasteCluster.objects.filter(region_id=region_code).exists():
        return
    if Account.objects.filter(home_region_id=region_code).exists():
        _default_cluster(region_code)


def _region_clusters(region_code: str) -> tuple[list[TasteCluster], dict[str, int], int]:
    """The region's clusters (default first), language code -> cluster position, default."""
    clusters = list(
        TasteCluster.objects.filter(region_id=region_code)
        .prefetch_related("languages")
        .order_by("-is_default", "slug")
    )
    if not clusters:
        clusters = [_default_cluster(region_code)]
    default = next((i for i, c in enumerate(clusters) if c.is_default), None)
    if default is None:
        # regions.services keep a default; a write that bypassed them did not.
        default = 0
        logger.warning(
            "Region %s has taste clusters and no default: %s holds everybody no keyed "
            "community holds. Tick the region's default on its page in admin (Regions).",
            region_code,
            clusters[0],
        )
    by_language: dict[str, int] = {}
    for position, cluster in enumerate(clusters):
        for language in cluster.languages.all():
            by_language.setdefault(language.code, position)
    return clusters, by_language, default


def _rows_onto(matrix: sp.csr_matrix, target: npt.NDArray[np.int32], n_rows: int) -> sp.csr_matrix:
    """``matrix``'s row ``i`` as row ``target[i]`` of an (n_rows, n_cols) matrix; rows whose
    target is -1 are dropped, target rows without a source stay empty."""
    matrix = sp.csr_matrix(matrix)
    kept = np.flatnonzero(target >= 0)
    lengths = np.zeros(n_rows, dtype=np.int64)
    lengths[target[kept]] = np.diff(matrix.indptr)[kept]
    order = kept[np.argsort(target[kept], kind="stable")]
    source = matrix[order]
    return sp.csr_matrix(
        (source.data, source.indices, np.r_[0, np.cumsum(lengths)]),
        shape=(n_rows, matrix.shape[1]),
    )


def profile_clusters_assign(
    *,
    region_code: str,
    signals: data.TrainingSignals | None = None,
    facts: data.CatalogueFacts | None = None,
    at: dt.datetime | None = None,
    positive: sp.csr_matrix | None = None,
    profiles: data.ProfileRows | None = None,
    languages: data.LanguageLinks | None = None,
) -> ClusterAssignmentResult:
    """Recompute and store the taste cluster of every profile of the region.

    Parameters
    ----------
    region_code : str
    signals : TrainingSignals, optional
        The region's signals, when the caller (a retrain) has already read them.
    facts : CatalogueFacts, optional
        Catalogue facts on the signals' title index (their original languages).
    at : datetime, optional
        Time the signal decay is measured at; now by default.
    positive : scipy.sparse.csr_matrix of float32, shape (signals.n_profiles, signals.n_titles)
        The positive confidence of ``signals`` at ``at``, when the caller has
        computed it already (a retrain needs it for its final fits anyway):
        rows of profiles outside the region are ignored. Computed here otherwise.
    profiles, languages : optional
        Every profile's region and cluster (``data.profile_rows()``) and the region's
        preferred languages (``data.preferred_language_links(region_code)``), when the
        caller read them already (a retrain reads them while it reads the signals). Read
        here otherwise.
    """
    at = at or timezone.now()
    if signals is None:
        from recommendations.services.training import training_data_load

        signals = training_data_load(region_code=region_code, at=at).signals
    if facts is None:
        facts = data.catalogue_facts(signals.title_ids)
    clusters, by_language, default = _region_clusters(region_code)
    cluster_pks = np.array([c.pk for c in clusters], dtype=np.int64)

    profiles = profiles or data.profile_rows()
    if region_code in profiles.region_codes:
        here = profiles.rows[profiles.rows[:, 1] == profiles.region_codes.index(region_code)]
    else:
        here = np.empty((0, 3), dtype=np.int64)
    here = here[np.argsort(here[:, 0])]
    profile_ids = here[:, 0]
    current = here[:, 2]  # -1: none yet

    # Preferred languages: the first added (lowest link id) that keys a cluster wins.
    languages = languages or data.preferred_language_links(region_code)
    links = languages.rows[np.argsort(languages.rows[:, 0])]
    cluster_of_language = np.array(
        [by_language.get(code, -1) for code in (*languages.language_codes, "")], dtype=np.int64
    )  # the last entry: a language position of -1 (none) keys no cluster
    preferred = np.full(profile_ids.shape[0], -1, dtype=np.int64)
    if links.shape[0]:
        position = data.index_of(profile_ids, links[:, 1])
        keyed = cluster_of_language[links[:, 2]]
        usable = (position >= 0) & (keyed >= 0)
        first_profiles, first = np.unique(position[usable], return_index=True)
        preferred[first_profiles] = keyed[usable][first]

    # Viewing: the region's signals on the region's profile index.
    on_profiles = data.index_of(profile_ids, signals.profile_ids)
    if positive is not None:
        confidence = _rows_onto(positive, on_profiles, profile_ids.shape[0])
    else:
        keep = (signals.title_index >= 0) & (on_profiles[signals.profile_index] >= 0)
        confidence = signal_confidence(
            profile_index=on_profiles[signals.profile_index[keep]],
            title_index=signals.title_index[keep],
            kind=signals.kind[keep],
            value=signals.value[keep],
            age_days=signals.age_days(at.timestamp())[keep],
            commitment=signals.commitment_hours[keep],
            rewatch=signals.rewatch[keep],
            n_profiles=profile_ids.shape[0],
            n_titles=signals.n_titles,
            weights=data.signal_weights(),
        ).positive
    codes = np.array((*facts.language_codes, ""), dtype=object)  # -1: unknown
    title_cluster = np.array(
        [by_language.get(code, default) for code in codes[facts.language]], dtype=np.int64
    )
    assignment = assign_clusters(
        confidence=confidence,
        title_cluster=title_cluster,
        preferred_cluster=preferred,
        default_cluster=default,
        n_clusters=len(clusters),
        min_weight=MIN_VIEWING_WEIGHT,
    )
    new = cluster_pks[assignment.cluster]
    changed = new != current
    with transaction.atomic():
        # The moving rows are locked in id order first, as the signal import locks its
        # profiles: moved cluster by cluster, a higher id was locked before a lower one,
        # and a writer holding the lower one while waiting for the higher deadlocked.
        if changed.any():
            list(
                Profile.objects.select_for_update()
                .filter(AnyOf(F("pk"), profile_ids[changed].tolist()))
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        # Only profiles whose household is still in the region: the rows were read with the
        # signals, minutes earlier, and a household moved since (its admin page takes its
        # profiles out of this region's clusters) was put back in one, served by this
        # region's model until its new region's retrain. Read as the statement runs, after
        # the locks above: a move committing meanwhile has cleared the rows it waited for.
        staying = Profile.objects.filter(account__home_region_id=region_code)
        for position, pk in enumerate(cluster_pks.tolist()):
            moving = profile_ids[changed & (assignment.cluster == position)]
            if moving.size:
                staying.filter(AnyOf(F("pk"), moving.tolist())).update(taste_cluster_id=pk)
    by_viewing = int(assignment.by_viewing.sum())
    by_preference = int(assignment.by_preference.sum())
    return ClusterAssignmentResult(
        profile_ids=profile_ids,
        cluster_ids=new,
        counts={c.slug: int((assignment.cluster == i).sum()) for i, c in enumerate(clusters)},
        changed=int(changed.sum()),
        by_viewing=by_viewing,
        by_preference=by_preference,
        by_default=int(profile_ids.shape[0] - by_viewing - by_preference),
    )
