"""The serving process's cache of active model versions.

Each process loads a version's artefacts once (:class:`ServingBundle`) and
keeps them until another version becomes active. Which versions are active
(every scope's at once) is asked of the database with one small indexed
query, at most every ``TONIGHT["MODEL_VERSION_CHECK_SECONDS"]`` (0 asks on
every request), so an activation or a rollback reaches every process within a few
seconds without a restart. Only versions whose status is ``active`` are ever
loaded, and a version becomes active only after all its artefacts are
stored, so a process never reads a half-written version. The same check
notices catalogue edits (:class:`catalog.models.CatalogueRevision`).

The cache is per process and thread-safe; loading happens under a lock so
concurrent requests of a freshly started worker load a version once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings

from catalog.selectors import catalogue_revision
from recommendations.models import ModelVersion
from recommendations.serving.bundle import ServingBundle, catalogue_cache


@dataclass(frozen=True, slots=True)
class ActiveVersion:
    pk: int
    artefact_key: str
    serving_mode: str


class NoActiveModel(Exception):
    """Neither the region nor the global scope has an active model version.

    Its message is the operator's (what to run); an API client is told to retry instead.
    """

    def __init__(self, message: str, *, region_code: str) -> None:
        super().__init__(message)
        self.region_code = region_code


@dataclass(frozen=True, slots=True)
class ActiveVersions:
    """Every scope's active version at one moment: one query, however many scopes are served.

    A process serving a region's clusters asks for many (region, cluster)
    pairs; reading all active versions at once (a few dozen rows at most)
    costs one small query per check interval instead of one per pair.
    """

    global_version: ActiveVersion | None
    by_region: dict[str, ActiveVersion]
    by_cluster: dict[int, ActiveVersion]
    read_at: float

    def serving(self, region_code: str, cluster_id: int | None) -> ActiveVersion | None:
        """The cluster's active version, else the region's, else the global one."""
        if cluster_id is not None and cluster_id in self.by_cluster:
            return self.by_cluster[cluster_id]
        return self.by_region.get(region_code, self.global_version)

    @property
    def pks(self) -> set[int]:
        versions = [*self.by_region.values(), *self.by_cluster.values(), self.global_version]
        return {v.pk for v in versions if v is not None}


def active_versions_read() -> ActiveVersions:
    """Read every active version: one query on the indexed status column."""
    global_version = None
    by_region: dict[str, ActiveVersion] = {}
    by_cluster: dict[int, ActiveVersion] = {}
    rows = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).values_list(
        "pk", "scope", "region_id", "taste_cluster_id", "artefact_key", "serving_mode"
    )
    for pk, scope, region_code, cluster_id, key, mode in rows:
        version = ActiveVersion(pk=pk, artefact_key=key, serving_mode=mode)
        if scope == ModelVersion.Scope.CLUSTER:
            by_cluster[cluster_id] = version
        elif scope == ModelVersion.Scope.REGION:
            by_region[region_code] = version
        else:
            global_version = version
    return ActiveVersions(global_version, by_region, by_cluster, time.monotonic())


class _ModelCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bundles: dict[int, ServingBundle] = {}
        self._versions: ActiveVersions | None = None
        self._catalogue_revision: int | None = None

    def clear(self) -> None:
        with self._lock:
            self._bundles.clear()
            self._versions = None
            self._catalogue_revision = None

    def versions(self) -> ActiveVersions:
        """The active versions, asked of the database at most every check interval.

        The same check reads the catalogue's revision and, when it moved, has
        the catalogue arrays re-read in the background: a title re-rated or
        withdrawn reaches every process within the interval and one re-read,
        not the arrays' own timer. A request reaches the catalogue arrays only
        through a bundle handed out after this check, so the first revision a
        process reads is older than its first catalogue read, and no change
        committed after it is missed.
        """
        ttl = float(settings.TONIGHT.get("MODEL_VERSION_CHECK_SECONDS", 2.0))
        versions = self._versions
        if versions is None or ttl <= 0 or time.monotonic() - versions.read_at >= ttl:
            revision = catalogue_revision()
            if self._catalogue_revision is not None and revision != self._catalogue_revision:
                catalogue_cache.expire()
            self._catalogue_revision = revision
            versions = self._versions = active_versions_read()
        return versions

    def loaded(self, version_id: int) -> ServingBundle | None:
        """The version's bundle if this process serves it now and has loaded it; never loads."""
        return self._bundles.get(version_id)

    def active(self, region_code: str, cluster_id: int | None = None) -> ActiveVersion | None:
        return self.versions().serving(region_code, cluster_id)

    def bundle(self, region_code: str, cluster_id: int | None = None) -> ServingBundle:
        """The loaded bundle of the version that serves the cluster (or ``region_code``) now."""
        versions = self.versions()
        version = versions.serving(region_code, cluster_id)
        if version is None:
            raise NoActiveModel(
                f"No active model for region {region_code} and no global one: "
                "run `manage.py train_models`.",
                region_code=region_code,
            )
        bundle = self._bundles.get(version.pk)
        if bundle is None:
            with self._lock:
                bundle = self._bundles.get(version.pk)
                if bundle is None:
                    bundle = ServingBundle.load(
                        version_id=version.pk, artefact_key=version.artefact_key
                    )
                    # Forget versions that serve nobody any more.
                    for stale in set(self._bundles) - versions.pks:
                        del self._bundles[stale]
                    self._bundles[version.pk] = bundle
        return bundle


model_cache = _ModelCache()


#: Chosen versions kept loaded beside the serving ones: a staff preview pages back and forth
#: between a version and the active one, and loading a version takes a second or more.
CHOSEN_VERSIONS_KEPT = 2


class _ChosenVersions:
    """Versions loaded because staff chose them (any status with stored artefacts), not because
    they serve: the console's preview of a retired, ready or rejected version.

    Apart from :data:`model_cache` on purpose: that cache forgets every version that serves
    nobody whenever it loads one, and holds exactly what real traffic is served with, so a
    preview of another version must neither evict an active bundle nor be handed to a
    request. A version loaded there already is reused, not loaded twice. Kept least recently
    used first, at most :data:`CHOSEN_VERSIONS_KEPT`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bundles: dict[int, ServingBundle] = {}

    def clear(self) -> None:
        with self._lock:
            self._bundles.clear()

    def bundle(self, *, version_id: int, artefact_key: str) -> ServingBundle:
        serving = model_cache.loaded(version_id)
        if serving is not None:
            return serving
        with self._lock:
            bundle = self._bundles.pop(version_id, None)
            if bundle is None:
                bundle = ServingBundle.load(version_id=version_id, artefact_key=artefact_key)
            self._bundles[version_id] = bundle  # last: the most recently used
            while len(self._bundles) > CHOSEN_VERSIONS_KEPT:
                del self._bundles[next(iter(self._bundles))]
        return bundle


chosen_versions = _ChosenVersions()


def version_bundle(*, version_id: int, artefact_key: str) -> ServingBundle:
    """A stored version loaded whatever its status, without touching what serves traffic.

    For building a page with a version that does not (or no longer) serve the profile;
    the caller makes sure its artefacts are stored (a ``training`` or ``failed`` version's
    may be missing or partial). Its catalogue arrays and title tables are the ones shared
    per title index, as every version's: a version on the index of a serving one reads
    nothing more, one on another index is read like a freshly activated version's.

    Raises
    ------
    OSError, ValueError, KeyError
        Artefacts missing or unreadable (as :func:`ServingBundle.load` raises them).
    """
    return chosen_versions.bundle(version_id=version_id, artefact_key=artefact_key)


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
