"""Reads of the stored model versions: the one a command acts on, and those past their keep."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.utils import timezone

from recommendations.models import ModelVersion
from recommendations.selectors.attribution import attribution_window, ranker_log_days
from recommendations.selectors.signals import signal_clock_skew

#: Statuses the prune may delete: none of them serves, is being trained or awaits a gate
#: (``ready`` is also ``train_models --no-activate``'s, awaiting staff).
PRUNABLE = (
    ModelVersion.Status.RETIRED,
    ModelVersion.Status.REJECTED,
    ModelVersion.Status.FAILED,
)


def model_version_active_exists() -> bool:
    """Whether any scope has an active version: without one, no homepage can be built."""
    return ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists()


def model_version_get(*, pk: int) -> ModelVersion | None:
    return ModelVersion.objects.filter(pk=pk).first()


def served_versions_cut(*, now: dt.datetime | None = None) -> dt.datetime:
    """A version that stopped serving before this moment served no page the rankers learn from.

    The rankers' training reads ``RANKER_LOG_DAYS`` of pages back from now, and pages up to
    an attribution window and a clock skew before those (the page log keep's reader,
    :func:`~recommendations.selectors.retention.page_log_readers`); it loads the version
    that served each page, and leaves out the pages of a version it cannot load.
    """
    now = now or timezone.now()
    reach = dt.timedelta(days=ranker_log_days()) + attribution_window() + signal_clock_skew()
    return now - reach


def unserved_versions_cut(*, now: dt.datetime | None = None) -> dt.datetime:
    """Rejected and failed versions created before this moment are past their keep."""
    now = now or timezone.now()
    return now - dt.timedelta(days=max(0, int(settings.TONIGHT["MODEL_VERSION_KEEP_DAYS"])))


def model_versions_expired(*, now: dt.datetime | None = None) -> list[int]:
    """The versions the prune deletes now, oldest first: those nothing needs any more.

    Kept, per scope (global, a region, a cluster):

    - the active version, and every ``training`` or ``ready`` one (a retrain is fitting
      or gating it, or ``train_models --no-activate`` left it for staff to activate);
    - the ``MODEL_VERSIONS_KEPT`` most recently activated retired ones, which a
      rollback (admin's action, ``rollback_model``) serves again;
    - every retired one that was still serving at :func:`served_versions_cut`: the
      rankers' training loads the version that served each page it learns from;
    - rejected and failed ones created within ``MODEL_VERSION_KEEP_DAYS``.

    ``activated_at`` is a version's last activation (a rollback stamps it again), and
    it stopped serving when the scope's next activation came. When that next version
    was deleted meanwhile, the one after it stands in: later, so more is kept, not less.
    """
    now = now or timezone.now()
    rollback = max(0, int(settings.TONIGHT["MODEL_VERSIONS_KEPT"]))
    served_cut = served_versions_cut(now=now)
    expired = list(
        ModelVersion.objects.filter(
            status__in=(ModelVersion.Status.REJECTED, ModelVersion.Status.FAILED),
            created_at__lt=unserved_versions_cut(now=now),
        ).values_list("pk", flat=True)
    )
    scopes: dict[tuple, list[tuple[int, str, dt.datetime | None]]] = defaultdict(list)
    served = ModelVersion.objects.filter(
        status__in=(ModelVersion.Status.ACTIVE, ModelVersion.Status.RETIRED)
    ).values_list("scope", "region_id", "taste_cluster_id", "pk", "status", "activated_at")
    for scope, region, cluster, pk, status, activated_at in served:
        scopes[scope, region, cluster].append((pk, status, activated_at))
    for versions in scopes.values():
        # Newest activation first; a version never stamped (none is) last.
        versions.sort(key=lambda v: (v[2] is not None, v[2] or now, v[0]), reverse=True)
        stopped: dt.datetime | None = None  # when the version before (newer) was activated
        retired = 0
        for pk, status, activated_at in versions:
            if status == ModelVersion.Status.RETIRED:
                retired += 1
                served_late = activated_at is not None and (
                    stopped is None or stopped >= served_cut
                )
                if retired > rollback and not served_late:
                    expired.append(pk)
            if activated_at is not None:
                stopped = activated_at
    return sorted(expired)


def model_versions_expired_count(*, now: dt.datetime | None = None) -> int:
    """How many versions the prune would delete now (``prune_logs --dry-run``)."""
    return len(model_versions_expired(now=now))


__all__ = [
    "PRUNABLE",
    "model_version_get",
    "model_versions_expired",
    "model_versions_expired_count",
    "served_versions_cut",
    "unserved_versions_cut",
]
