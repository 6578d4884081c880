"""What a cluster's part of a batch came to, and its run's conclusion: the activation of a
version that passed its gate and the run's finish, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from recommendations.models import ModelVersion, TrainingRun
from recommendations.services.retraining.runs import _finish, _version_reject
from recommendations.services.training import (
    ActiveVersionChanged,
    model_version_activate,
)


@dataclass
class RetrainOutcome:
    """What a cluster's part of a batch came to; ``succeeded`` means its version passed the gate
    (it is activated when the run is concluded: :func:`_conclude`)."""

    status: str
    reason: str
    version: ModelVersion | None
    metrics: dict
    data_sizes: dict
    #: The active version the gate compared with (``None``: there was none).
    replacing: int | None = None


def _conclude(run: TrainingRun, outcome: RetrainOutcome, *, timings: dict) -> None:
    """Activate a version that passed the gate and finish its run, in one transaction.

    Under the run's row lock, and only while it is still ``running``: a run the
    reaper failed meanwhile keeps its failure, and its version is not served.
    Under the scope's row lock, and only while the active version is still the
    one the gate compared with: otherwise an operator's rollback made during the
    run would be silently undone by a version judged against what they rolled back from.
    """
    version = outcome.version
    status, reason = outcome.status, outcome.reason
    fields = {
        "timings": timings,
        "metrics": outcome.metrics,
        "data_sizes": outcome.data_sizes,
        "model_version": version,
    }
    with transaction.atomic():
        current = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if current.status != TrainingRun.Status.RUNNING:
            note = f" The worker finished later ({status}); " + (
                f"its version #{version.pk} was not activated." if version else ""
            )
            if version is not None:
                _version_reject(
                    version, f"Run #{run.pk} was {current.status} before it could activate it."
                )
            TrainingRun.objects.filter(pk=run.pk).update(
                error=f"{current.error}{note}".strip(), **fields
            )
            return
        if status == TrainingRun.Status.SUCCEEDED and version is not None:
            try:
                model_version_activate(version=version, replacing=outcome.replacing)
            except ActiveVersionChanged as changed:
                status = TrainingRun.Status.REJECTED
                reason = f"Not activated: {changed}."
                _version_reject(version, reason)
                gate = {**outcome.metrics.get("gate", {}), "activated": False, "refused": reason}
                fields["metrics"] = {**outcome.metrics, "gate": gate}
        _finish(run, status, error=reason, stage="done", progress=100, **fields)
