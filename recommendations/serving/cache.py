"""The serving process's cache of active model versions.

Each process loads a version's artefacts once (:class:`ServingBundle`) and
keeps them until another version becomes active. Which version is active is
asked of the database with one small indexed query, at most every
``TONIGHT["MODEL_VERSION_CHECK_SECONDS"]`` per region (0 asks on every
request), so an activation or a rollback reaches every process within a few
seconds without a restart. Only versions whose status is ``active`` are ever
loaded, and a version becomes active only after all its artefacts are
stored, so a process never reads a half-written version.

The cache is per process and thread-safe; loading happens under a lock so
concurrent requests of a freshly started worker load a version once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from recommendations.models import ModelVersion
from recommendations.serving.bundle import ServingBundle


@dataclass(frozen=True, slots=True)
class ActiveVersion:
    pk: int
    artefact_key: str
    serving_mode: str


_SCOPE_PREFERENCE = {
    ModelVersion.Scope.CLUSTER: 0,
    ModelVersion.Scope.REGION: 1,
    ModelVersion.Scope.GLOBAL: 2,
}


class NoActiveModel(Exception):
    """Neither the region nor the global scope has an active model version."""


class _ModelCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bundles: dict[int, ServingBundle] = {}
        self._active: dict[tuple[str, int | None], tuple[float, ActiveVersion | None]] = {}

    def clear(self) -> None:
        with self._lock:
            self._bundles.clear()
            self._active.clear()

    def _lookup(self, region_code: str, cluster_id: int | None = None) -> ActiveVersion | None:
        """The cluster's active version, else the region's, else the global one: one query."""
        scopes = Q(scope=ModelVersion.Scope.REGION, region_id=region_code) | Q(
            scope=ModelVersion.Scope.GLOBAL
        )
        if cluster_id is not None:
            scopes |= Q(scope=ModelVersion.Scope.CLUSTER, taste_cluster_id=cluster_id)
        rows = list(
            ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE)
            .filter(scopes)
            .values_list("pk", "scope", "artefact_key", "serving_mode")
        )
        rows.sort(key=lambda row: _SCOPE_PREFERENCE[row[1]])
        if not rows:
            return None
        pk, _, key, mode = rows[0]
        return ActiveVersion(pk=pk, artefact_key=key, serving_mode=mode)

    def active(self, region_code: str, cluster_id: int | None = None) -> ActiveVersion | None:
        ttl = float(settings.TONIGHT.get("MODEL_VERSION_CHECK_SECONDS", 2.0))
        now = time.monotonic()
        cache_key = (region_code, cluster_id)
        cached = self._active.get(cache_key)
        if cached is not None and ttl > 0 and now - cached[0] < ttl:
            return cached[1]
        version = self._lookup(region_code, cluster_id)
        self._active[cache_key] = (now, version)
        return version

    def bundle(self, region_code: str, cluster_id: int | None = None) -> ServingBundle:
        """The loaded bundle of the version that serves the cluster (or ``region_code``) now."""
        version = self.active(region_code, cluster_id)
        if version is None:
            raise NoActiveModel(
                f"No active model for region {region_code} and no global one: "
                "run `manage.py train_models`."
            )
        bundle = self._bundles.get(version.pk)
        if bundle is None:
            with self._lock:
                bundle = self._bundles.get(version.pk)
                if bundle is None:
                    bundle = ServingBundle.load(
                        version_id=version.pk, artefact_key=version.artefact_key
                    )
                    # Forget versions no region is served by any more.
                    in_use = {v.pk for _, v in self._active.values() if v is not None}
                    for stale in set(self._bundles) - in_use:
                        del self._bundles[stale]
                    self._bundles[version.pk] = bundle
        return bundle


model_cache = _ModelCache()


def serving_bundle(region_code: str, cluster_id: int | None = None) -> ServingBundle:
    """The loaded model version serving a cluster of ``region_code``.

    The cluster's model, else the region's, else the global one: whichever
    exists and is active (a cluster whose model lost to the region model on
    the holdout has no active version, so the region's serves it).

    Raises
    ------
    NoActiveModel
    """
    return model_cache.bundle(region_code, cluster_id)
