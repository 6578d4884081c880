"""The stages of one region batch (:func:`region_retrain`): plan, read, split, assign
clusters, evaluate, then the fallbacks and each cluster's finish.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from django.utils import timezone

from recommendations.engine.confidence import signed_confidence
from recommendations.models import TrainingRun
from recommendations.selectors import training as data
from recommendations.services import cluster_evaluation
from recommendations.services.clusters import profile_clusters_assign
from recommendations.services.ranker_training import logged_examples_load
from recommendations.services.retraining.batch import _FinalFits, _plan, _Shared, _stored_cluster_pk
from recommendations.services.retraining.cluster_finish import _cluster_finish
from recommendations.services.retraining.configuration import tune_schedule, tune_scopes
from recommendations.services.retraining.exceptions import RetrainError
from recommendations.services.retraining.fallbacks import _covers_region, _fallbacks_refresh
from recommendations.services.retraining.interruptions import (
    _database_interrupted,
    _time_limit_reached,
)
from recommendations.services.retraining.log import logger
from recommendations.services.retraining.outcomes import RetrainOutcome
from recommendations.services.training import (
    ALS_PARAMS,
    content_artefact_reusable,
    content_fingerprint,
    content_fit,
    training_data_load,
)


def region_retrain(
    *,
    runs: Sequence[TrainingRun],
    report: Callable[..., None] | None = None,
    on_outcome: Callable[[TrainingRun, RetrainOutcome | Exception], None] | None = None,
    random_state: int = 0,
) -> dict[int, RetrainOutcome | Exception]:
    """The pipeline of one region's runs (see the module docstring).

    ``on_outcome`` is called for each run as soon as its cluster is done (its
    outcome, or the exception its own part raised), so that a finished
    cluster's run is recorded while the batch's other clusters still train.

    Returns
    -------
    dict
        Run id -> its outcome, or the exception its own part raised.
    """
    report = report or (lambda stage, progress, **_: None)
    region_code = runs[0].region_id
    clusters = {run.taste_cluster_id: run.taste_cluster for run in runs}
    at = timezone.now()
    plan = _plan(region_code, clusters, at.timestamp())
    sizes: dict[str, int] = {}

    report("read signals", 5)
    # Every region's signals only when the global comparator is fitted in this batch.
    read: dict = {}
    # The region's preferred languages (for the cluster assignment) are read meanwhile.
    languages = data.read_beside(lambda: data.preferred_language_links(region_code))
    training = training_data_load(
        region_code=None if plan.with_global else region_code, at=at, snapshot=True, read_info=read
    )
    signals = training.signals
    groups = training.groups
    if (
        region_code not in groups.region_codes
        or not (groups.region == groups.region_codes.index(region_code)).any()
    ):
        raise RetrainError(f"Region {region_code} has no profiles to learn from.")
    region_index = groups.region_codes.index(region_code)
    in_region = groups.region == region_index
    sizes["signals"] = len(signals)
    sizes["profiles"] = signals.n_profiles
    sizes["titles"] = signals.n_titles
    sizes["read_rows"] = read.get("delta_rows", len(signals))
    sizes["snapshot_rows"] = read.get("snapshot_rows", 0)

    report("confidence and holdout split", 10)
    # One confidence of the whole window (the cluster assignment's viewing, the final fits'
    # input and each version's popularity all read it), computed in the same pass as the
    # holdout's training part: the split depends on the signals alone, not on the clusters.
    split = cluster_evaluation.holdout_split(
        signals, at=training.at, validation_fraction=None, window=True
    )
    matrices = split.window

    report("assign clusters", 15)
    facts = training.facts or data.catalogue_facts(signals.title_ids)
    assignment = profile_clusters_assign(
        region_code=region_code,
        signals=signals,
        facts=facts,
        at=at,
        positive=matrices.positive,
        profiles=training.profile_rows,
        languages=languages(),
    )
    position = data.index_of(assignment.profile_ids, signals.profile_ids)
    profile_cluster = np.where(
        position >= 0, assignment.cluster_ids[np.maximum(position, 0)], -1
    ).astype(np.int64)
    sizes["region_profiles"] = int(assignment.profile_ids.shape[0])

    report("evaluate", 25)
    windows = data.availability_windows(signals.title_ids)
    region_available = np.stack(
        [windows.available(training.at, code) for code in groups.region_codes]
    )
    evaluation = cluster_evaluation.region_evaluate(
        signals=signals,
        profile_region=groups.region.astype(np.int64),
        profile_cluster=profile_cluster,
        region=region_index,
        clusters={pk: cluster.slug for pk, cluster in clusters.items()},
        region_available=region_available,
        at=training.at,
        params=ALS_PARAMS,
        random_state=random_state,
        split=split,
        with_global=plan.with_global,
        tune=tune_scopes(),
        stored=plan.stored,
        schedule=tune_schedule(at.timestamp()),
        report=lambda stage: report(stage, 40),
    )
    table = evaluation.table
    comparator: dict = {"reason": plan.global_reason}
    if plan.with_global:
        comparator["fitted_at"] = at.timestamp()
        comparator["figures"] = {
            slug: {
                "ndcg@10": row["ndcg@10_global"],
                "recall@20": row["recall@20_global"],
                "measured_at": at.timestamp(),
            }
            for slug, row in table.items()
            if "ndcg@10_global" in row
        }
    else:
        comparator["fitted_at"] = plan.global_fitted_at
        comparator["figures"] = plan.global_last
        for slug, row in table.items():
            row["global"] = plan.global_reason
            if slug in plan.global_last:
                row["global_last"] = plan.global_last[slug]

    report("prepare final fits", 60)
    fingerprint = content_fingerprint(training.features, random_state=random_state)
    content_artefact = content_artefact_reusable(fingerprint)
    content = (
        None
        if content_artefact is not None
        else content_fit(training.features, random_state=random_state)
    )
    # Its steps are stages of their own, named as train_models names them.
    logged = logged_examples_load(
        region_code=region_code,
        at=at,
        random_state=random_state,
        stage=lambda stage: report(stage, 62),
    )
    shared = _Shared(
        training=training,
        matrices=matrices,
        finals=_FinalFits(
            confidence=signed_confidence(matrices.positive, matrices.negative),
            evaluation=evaluation,
            random_state=random_state,
            unavailable=evaluation.unavailable,
        ),
        content=content,
        content_artefact=content_artefact,
        logged=logged,
        cluster_pk=np.where(in_region, profile_cluster, _stored_cluster_pk(groups)).astype(
            np.int64
        ),
        in_region=in_region,
        region_available=region_available,
        region_index=region_index,
        plan=plan,
    )
    metrics = {
        "clusters": table,
        "assignment": assignment.as_metrics(),
        "global_comparator": comparator,
        "evaluation_seconds": evaluation.seconds,
        "signal_read": read,
    }

    if _covers_region(region_code, clusters):
        # The fallbacks serve profiles with little history and those no retrain has given a
        # cluster yet; without this only a manual ``train_models`` would ever refresh them.
        report("fallback models", 65)
        metrics["fallbacks"] = _fallbacks_refresh(
            runs=runs,
            clusters=clusters,
            shared=shared,
            at=at,
            random_state=random_state,
            report=lambda stage: report(stage, 65),
        )

    if len(runs) > 1:
        # The clusters' finishes run one after another. Until its turn a run showed the last
        # shared stage ("fallback models 65%") as if busy with it, in admin and the console,
        # and counted its wait in that stage's time.
        report("waiting for its turn", 68)
    outcomes: dict[int, RetrainOutcome | Exception] = {}
    for run in runs:
        cluster = clusters[run.taste_cluster_id]
        try:
            outcomes[run.pk] = _cluster_finish(
                run=run,
                cluster=cluster,
                row=table[cluster.slug],
                shared=shared,
                sizes={
                    **sizes,
                    "cluster_profiles": int((assignment.cluster_ids == cluster.pk).sum()),
                },
                metrics=metrics,
                report=lambda stage, progress, pk=run.pk: report(stage, progress, run_id=pk),
                at=at,
                random_state=random_state,
            )
        except Exception as error:  # one cluster's failure is its run's alone
            if _time_limit_reached(error) or _database_interrupted(error):
                raise  # the whole batch's: it stops (``_execute``)
            logger.exception("Retrain run %s failed", run.pk)
            outcomes[run.pk] = error
        if on_outcome is not None:
            on_outcome(run, outcomes[run.pk])
    return outcomes
