"""Staff serving a version by hand (admin's activate, ``rollback_model``): a retrain's
version only once its gate passed it, a rollback only to one that served before.
"""

from __future__ import annotations

from recommendations.models import ModelVersion
from recommendations.services.retraining.runs import ACTIVE_STATUSES, _run_statuses, _runs_text
from recommendations.services.training import model_version_activate


def model_version_staff_activate(*, version: ModelVersion) -> ModelVersion:
    """Serve ``version`` at staff's request (admin's action); a retrain's only once gated.

    A ``ready`` version naming no run is ``train_models --no-activate``'s and may be
    served. One a retrain made (it names its runs) serves only by passing its gate:
    while a run of it is queued or running the gate is judging it, and once they
    have all ended unjudged it never passed one (the reaper fails it). Its retired
    or active versions stay activatable: a rollback.
    """
    runs = (version.metrics or {}).get("retrain_runs")
    if not (isinstance(runs, list) and runs):
        return model_version_activate(version=version)
    try:
        # The status is checked under the scope's lock, as the gate's activation checks it.
        return model_version_activate(
            version=version,
            allowed=frozenset({ModelVersion.Status.RETIRED, ModelVersion.Status.ACTIVE}),
        )
    except ValueError:
        if not ModelVersion.objects.filter(
            pk=version.pk, status=ModelVersion.Status.READY
        ).exists():
            raise
    statuses = _run_statuses(runs)
    judging = [run for run in runs if statuses[run] in ACTIVE_STATUSES]
    if judging:
        raise ValueError(
            f"Version #{version.pk} is being judged by its retrain's gate "
            f"({_runs_text(statuses, judging, 'is ')}): it serves if it passes, "
            "and cannot be activated by hand."
        )
    raise ValueError(
        f"Version #{version.pk} never passed its retrain's gate "
        f"({_runs_text(statuses, runs)} without judging it): it cannot be activated."
    )


def model_version_rollback(*, version: ModelVersion) -> ModelVersion:
    """Serve ``version`` again for its scope, atomically.

    Only a ``retired`` version, one that served before: a ``ready`` one never
    passed a gate (a retrain still judging it, or one whose worker died).
    """
    try:
        return model_version_activate(
            version=version,
            allowed=frozenset({ModelVersion.Status.RETIRED, ModelVersion.Status.ACTIVE}),
        )
    except ValueError as refused:
        raise ValueError(
            f"{refused}: only a retired version (one that served before) can be rolled back to"
        ) from refused
