"""The ``TONIGHT`` settings a retrain reads, each with its default, and the queue it is sent on.

Read at each call, not at import, so that an operator's (or a test's) change applies to
the next retrain without a restart.
"""

from __future__ import annotations

from django.conf import settings

from recommendations.services import cluster_evaluation


def _setting(name: str, default: float) -> float:
    return float(settings.TONIGHT.get(name, default))


def gate_margin() -> float:
    """Relative NDCG@10 drop against the active version that still activates (0.02 = 2%)."""
    return _setting("RETRAIN_GATE_MARGIN", 0.02)


def gate_z() -> float:
    """Standard errors of the paired NDCG@10 difference the gate must see before it refuses
    (1.64: one-sided 95%); 0 compares the two figures alone (:func:`gate_passes`)."""
    return _setting("RETRAIN_GATE_Z", 1.64)


def heartbeat_seconds() -> float:
    return _setting("RETRAIN_HEARTBEAT_SECONDS", 10.0)


def stale_seconds() -> float:
    """A running run whose heartbeat is older than this has lost its worker."""
    return _setting("RETRAIN_STALE_SECONDS", 120.0)


def queued_seconds() -> float:
    """A run still queued this long after it was last queued (``queued_at``: its request, or
    its task's retry) will never start: its message was lost (a broker restart, a purge) or
    no worker listens to its region's queue."""
    return _setting("RETRAIN_QUEUED_SECONDS", 6 * 3600.0)


def recipe_min_profiles() -> int:
    """Judged profiles a cluster's choice half needs before its figures choose the recipe;
    with fewer, the cluster keeps its default (:func:`_default_recipe`: the active version's
    recipe, else its own model). On one or two profiles the best of four figures is mostly
    which recipe happened to find that profile's title, and served that way it lowered
    NDCG@10 on the planted worlds (docs/recommendations.md, "Too few profiles to choose on")."""
    return int(_setting("RETRAIN_RECIPE_MIN_PROFILES", 8))


def compared_with() -> tuple[str, ...]:
    """The models a cluster's model must beat on the holdout to serve its cluster.

    ``blend`` (the cluster's model with the region's) counts as the cluster's own
    handling; without ``region`` it is not tried either, since it needs the region's model.
    """
    names = settings.TONIGHT.get("RETRAIN_COMPARE_WITH", ("region", "global"))
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    return tuple(names)


def tune_scopes() -> bool:
    """Choose small scopes' ALS hyper-parameters by a search on a validation split, when one is
    due (:func:`tune_schedule`), and reuse its choice in between; else size priors only."""
    return bool(settings.TONIGHT.get("RETRAIN_TUNE", True))


def tune_schedule(now: float) -> cluster_evaluation.TuneSchedule:
    """When a scope's stored settings are searched again: after ``RETRAIN_TUNE_EVERY_DAYS``,
    or when its interactions moved by more than ``RETRAIN_TUNE_GROWTH`` since."""
    return cluster_evaluation.TuneSchedule(
        every_days=_setting("RETRAIN_TUNE_EVERY_DAYS", 7.0),
        growth=_setting("RETRAIN_TUNE_GROWTH", 0.25),
        now=now,
    )


def global_every_days() -> float:
    """Days between fits of the global comparator in a region's retrains (0: every retrain)."""
    return _setting("RETRAIN_GLOBAL_EVERY_DAYS", 7.0)


def retrain_queue(region_code: str) -> str:
    """The Celery queue of a region's retrains: workers per region listen to their own.

    Without ``RETRAIN_QUEUE_PER_REGION`` every region shares ``<prefix>default``: a
    deployment whose one worker serves every region then serves a region added after the
    worker started, whose own queue that worker would not know to listen to.
    """
    prefix = settings.TONIGHT.get("RETRAIN_QUEUE_PREFIX", "retrain.")
    if not settings.TONIGHT.get("RETRAIN_QUEUE_PER_REGION", True):
        return f"{prefix}default"
    return f"{prefix}{region_code}"
