"""The region's and the global versions a batch covering its whole region refreshes:
stored, gated on the region's whole holdout, and activated under the batch's runs' locks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import numpy.typing as npt
from django.db import transaction

from recommendations.models import ModelVersion, TrainingRun
from recommendations.services.retraining.batch import _final_version_store, _Shared
from recommendations.services.retraining.configuration import gate_margin, gate_z
from recommendations.services.retraining.gate import _gate_record, _nothing_judged_reason
from recommendations.services.retraining.incumbents import (
    _active_version_scores,
    _incumbent_measure,
    _incumbent_parts,
    _mean_ndcg,
)
from recommendations.services.retraining.interruptions import (
    _database_interrupted,
    _time_limit_reached,
)
from recommendations.services.retraining.log import logger
from recommendations.services.retraining.runs import _version_reject
from recommendations.services.training import (
    ActiveVersionChanged,
    model_version_activate,
)
from regions.models import TasteCluster


def _covers_region(region_code: str, clusters: dict[int, TasteCluster]) -> bool:
    """Whether the batch judges every taste cluster of the region (so the region's whole
    holdout): only then are its region and global models gated here."""
    every = set(TasteCluster.objects.filter(region_id=region_code).values_list("pk", flat=True))
    return bool(every) and every == set(clusters)


def _fallbacks_refresh(
    *,
    runs: Sequence[TrainingRun],
    clusters: dict[int, TasteCluster],
    shared: _Shared,
    at: dt.datetime,
    random_state: int,
    report: Callable[[str], None] | None = None,
) -> dict[str, dict]:
    """Store and gate the region's model (and the global one when this batch fitted it).

    Each scope's outcome is its own: a failure here is recorded and logged, and
    the clusters' runs go on. ``report`` is told each scope's stage as it begins: the
    two took 4 to 20 s a region in the demo's retrain, under one "fallback models".
    """
    report = report or (lambda _: None)
    outcomes: dict[str, dict] = {}
    for scope in ("region", "global"):
        if scope not in shared.finals.evaluation.models:
            continue
        report(f"fallback models: {scope} model")
        try:
            outcomes[scope] = _fallback_refresh(
                scope=scope,
                runs=runs,
                clusters=clusters,
                shared=shared,
                at=at,
                random_state=random_state,
            )
        except Exception as error:
            if _time_limit_reached(error) or _database_interrupted(error):
                raise  # the whole batch's: it stops (``_execute``)
            logger.exception("Refreshing the %s model of a retrain batch failed", scope)
            outcomes[scope] = {"status": "failed", "error": f"{type(error).__name__}: {error}"}
    return outcomes


@contextlib.contextmanager
def _failed_if_raises(version: ModelVersion) -> Iterator[None]:
    """Fail ``version`` (still ``ready``) with what its gate raised, then raise it again.

    A fallback's version is judged by its own gate, not by a run: the clusters' runs go
    on and none will judge it. ``model_train`` fails the version whose fit raised the
    same way. Not at the time limit, nor when the database went away: the batch stops, and
    its runs' failure (or their return to the queue) fails it (:func:`_execute`).
    """
    try:
        yield
    except Exception as error:
        if not _time_limit_reached(error) and not _database_interrupted(error):
            ModelVersion.objects.filter(
                pk=version.pk,
                status__in=(ModelVersion.Status.TRAINING, ModelVersion.Status.READY),
            ).update(status=ModelVersion.Status.FAILED, error=f"{type(error).__name__}: {error}")
        raise


def _fallback_activate(
    version: ModelVersion, *, runs: list[int], active: ModelVersion | None
) -> str:
    """Activate a fallback version that passed its gate; the refusal's reason, or "".

    As :func:`_conclude` does for a cluster's: under the batch's runs' row locks
    and only while every one is still ``running`` (a batch the reaper failed
    meanwhile activates nothing, though the fit it was in saved its version as
    ready), and only if the active version is still the one the gate compared with.
    """
    with transaction.atomic():
        statuses = list(
            TrainingRun.objects.select_for_update()
            .filter(pk__in=runs)
            .order_by("pk")
            .values_list("status", flat=True)
        )
        if any(status != TrainingRun.Status.RUNNING for status in statuses):
            return "Not activated: the batch's runs were ended (reaped?) before its gate."
        try:
            model_version_activate(version=version, replacing=None if active is None else active.pk)
        except ActiveVersionChanged as changed:
            return f"Not activated: {changed}."
    return ""


def _fallback_refresh(
    *,
    scope: str,
    runs: Sequence[TrainingRun],
    clusters: dict[int, TasteCluster],
    shared: _Shared,
    at: dt.datetime,
    random_state: int,
) -> dict:
    """One fallback scope's version: the batch's final fit of it, stored, then gated.

    The gate is the clusters' gate on the region's whole holdout: the candidate's
    figure and the active version's configuration refitted on the same training
    part (``train_models``' settings for a version it trained; its stored model when it
    recorded none), each pooled over every cluster's judged profiles. A global
    version is judged on this region's holdout only; each region's batch that
    fits it may refresh it.
    """
    training, finals = shared.training, shared.finals
    evaluation = finals.evaluation
    signals = training.signals
    region_code = runs[0].region_id
    if scope == "region":
        profiles = shared.in_region
        active_versions = ModelVersion.objects.filter(
            scope=ModelVersion.Scope.REGION, region_id=region_code
        )
    else:
        profiles = training.groups.region >= 0
        active_versions = ModelVersion.objects.filter(
            scope=ModelVersion.Scope.GLOBAL, region__isnull=True
        )
    judged = {pk: evaluation.judged.get(pk, np.empty(0, np.int64)) for pk in clusters}

    def pooled(figure: Callable[[int], float | None]) -> float | None:
        """The mean over every judged profile of the region, from each cluster's mean."""
        total, count = 0.0, 0
        for pk, rows in judged.items():
            if rows.shape[0] == 0:
                continue
            value = figure(pk)
            if value is None:
                return None
            total += value * rows.shape[0]
            count += rows.shape[0]
        return round(total / count, 4) if count else None

    def pooled_scores(
        scores: Callable[[int], npt.NDArray[np.float64] | None],
    ) -> npt.NDArray[np.float64] | None:
        """Every judged profile's NDCG@10, cluster after cluster, in the order of ``judged``."""
        parts = []
        for pk, rows in judged.items():
            if rows.shape[0] == 0:
                continue
            values = scores(pk)
            if values is None:
                return None
            parts.append(values)
        return np.concatenate(parts) if parts else None

    def row(pk: int) -> dict:
        return evaluation.table[clusters[pk].slug]

    als = finals.get(scope)
    run_ids = [run.pk for run in runs]
    version, _ = _final_version_store(
        shared=shared,
        profiles=profiles,
        als=als,
        region_code=region_code if scope == "region" else None,
        cluster=None,
        # The region's logged pages; the global version reads every region's itself.
        logged=shared.logged if scope == "region" else None,
        random_state=random_state,
        at=at,
        run_ids=run_ids,
    )
    hyper = {
        "recipe": scope,
        "components": als.describe(),
        "tuning": {scope: evaluation.choices[scope].as_metrics()},
    }
    # Stored, it is judged by this gate alone: should the gate raise, nothing else will.
    with _failed_if_raises(version):
        # Its settings at once (it names its runs since it was created): the gate may raise.
        ModelVersion.objects.filter(pk=version.pk).update(
            metrics={**version.metrics, "hyperparameters": hyper}
        )

        candidate = pooled(lambda pk: row(pk).get(f"ndcg@10_{scope}"))
        active = active_versions.filter(status=ModelVersion.Status.ACTIVE).first()
        # Every judged profile, not a gate half: the scope's model is not chosen among others on
        # this holdout (its settings are chosen on validation), so its figure carries no choice.
        gate: dict = {
            "margin": gate_margin(),
            "z": gate_z(),
            "recipe": scope,
            "candidate_ndcg@10": candidate,
            "measured_on": {
                "half": "all",
                "profiles": sum(int(r.shape[0]) for r in judged.values()),
            },
        }
        reason = ""
        if candidate is None:
            reason = _nothing_judged_reason("region", gate)
        elif active is not None:
            gate["active_version"] = active.pk
            candidate_scores = pooled_scores(lambda pk: evaluation.recipe_ndcg(pk, scope))
            parts, how = _incumbent_parts(active, evaluation, -1)
            if parts is not None:
                # Each cluster's figure and per-profile scores: the table's when it has this
                # configuration, else measured once.
                measured: dict[int, tuple[float | None, npt.NDArray[np.float64] | None]] = {}
                for pk, rows in judged.items():
                    if rows.shape[0] == 0:
                        continue
                    measured[pk] = _incumbent_measure(parts, evaluation, pk, row(pk))
                active_ndcg = pooled(lambda pk: measured[pk][0])
                active_scores = pooled_scores(lambda pk: measured[pk][1])
            else:
                how = f"its stored model ({how})"
                # In the order of the candidate's pooled scores: cluster after cluster.
                active_scores = _active_version_scores(
                    version=active,
                    split=evaluation.split,
                    judged=np.concatenate([np.empty(0, np.int64), *judged.values()]),
                    title_ids=signals.title_ids,
                    not_here=evaluation.not_here,
                )
                active_ndcg = _mean_ndcg(active_scores)
            reason = _gate_record(
                gate,
                candidate=candidate,
                active=active,
                active_ndcg=active_ndcg,
                how=how,
                candidate_scores=candidate_scores,
                active_scores=active_scores,
            )
        if not reason:
            reason = _fallback_activate(version, runs=run_ids, active=active)
        gate["passed"] = not reason
        ModelVersion.objects.filter(pk=version.pk).update(
            metrics={
                **version.metrics,
                "hyperparameters": hyper,
                "retrain_runs": run_ids,
                "recipe": scope,
                "gate": gate,
            }
        )
        if reason:
            _version_reject(version, reason)
    status = ModelVersion.objects.values_list("status", flat=True).get(pk=version.pk)
    return {"version": version.pk, "status": status, "reason": reason, "gate": gate}
