"""Retraining operations: request a retrain, run it under a lock, gate it, roll back.

A retrain of one (region, taste cluster) is a :class:`TrainingRun`. Requesting
one creates the run ``queued`` and enqueues ``retrain_cluster(run_id)`` on the
region's queue once the transaction commits; a worker then calls
:func:`training_run_execute`, which is idempotent:

- A run already finished is left alone (a redelivered message does nothing).
- Two retrains of one cluster never run at once: the worker holds a
  PostgreSQL session advisory lock on the cluster for the whole run. A
  second run that finds the lock taken is marked ``rejected`` with the reason.
  A worker that dies loses its connection, and PostgreSQL releases the lock.
- A run found ``running`` by the worker that obtained the lock was left by a
  worker that died (``acks_late`` redelivered it): it is restarted until it
  has had :data:`MAX_ATTEMPTS` attempts in all, then failed.
- While running, a heartbeat thread refreshes ``heartbeat_at`` (a database
  error costs one beat, not the thread); the periodic reaper
  (:func:`training_runs_reap`) fails runs whose heartbeat went stale, so no run
  stays "running" forever, and runs still queued ``RETRAIN_QUEUED_SECONDS``
  after they were last queued (their message was lost), so none stays "queued"
  and blocks its cluster. A send the broker refuses fails its runs at once, and so
  does a task's retry that it refuses (``recommendations.tasks.RetrainTask.retry``). It
  also fails the versions a retrain left unjudged once all their runs had ended
  (:func:`_fail_orphaned_versions`); a run that fails through its own error path
  (its gate raised) fails them at once (:func:`_execute`). Staff cannot activate a
  retrain's ``ready`` version (:func:`model_version_staff_activate`).
- A run is finished once: a worker whose run the reaper failed meanwhile
  records what it made, and activates nothing; the versions the reaper failed
  stay failed (:class:`~recommendations.services.training.VersionFailedWhileTraining`),
  and the run's stage and progress stay as it was failed at.
- A batch the database interrupts (a restart, a failover) stops: its unfinished
  runs go back to ``queued`` with the stage they reached in their error, their
  unjudged versions are failed, and the task is retried (:class:`RetrainInterrupted`,
  :func:`_runs_requeue`); the retry restarts them under their cluster locks.

The runs of one region's clusters execute together
(:func:`training_runs_execute`; a region retrain enqueues one task for all its
clusters, a single-cluster request a task of its own): the signals are read
once, the region's taste clusters recomputed once, and the region-wide (and,
when due, the global) comparators fitted once and shared by every cluster of
the batch. Each cluster still has its own run, its own advisory lock, its own
gate and its own outcome.

The pipeline: plan (:func:`_plan`: what the active versions recorded, which
settings can be reused, whether the global comparator is due), read (through
the signal snapshot: only what arrived since the last retrain comes from the
table; every region's signals only when the global comparator is due), one
confidence of the window (for the cluster assignment, the final fits and each
version), assign clusters, evaluate
(:func:`~recommendations.services.cluster_evaluation.region_evaluate`: each
scope's hyper-parameters reused from the last search, or searched when a
search is due, on a validation split carved out of the training part; then the
cluster, region, global and blended models measured on one time-based
holdout), then per cluster the final fit of the recipe that served it best on
the holdout's *choice half* (its own model, the region's, the global one, or
the blend of its own and the region's), started from the holdout fit's factors so that a few
sweeps bring it up to date, stored as the cluster's version
(:func:`~recommendations.services.training.model_train`, artefacts first,
status ``ready``; the content model's artefact is reused while the catalogue's
features are unchanged), then the gate.

The gate compares configurations on equal data. The active version's recipe,
settings and blend weight are fitted on the candidate's own training part (the
evaluation's fit when the settings are the same: :func:`_incumbent_parts`) and
measured on the same held-out profiles: the *gate half*, the cluster's other
judged profiles (:func:`~recommendations.services.cluster_evaluation.holdout_halves`,
split by a stable hash of the profile id). Not the choice half: the best of four
noisy figures is inflated on the profiles it was chosen on (the winner's curse),
so judged there a recipe that won by chance would look better than the active
one (on equal recipes, +0.027 NDCG@10 on average at 60 judged profiles, and
every challenger passed: ``tests/recommendations/test_retraining_recipe_choice.py``).
A choice half of fewer than ``RETRAIN_RECIPE_MIN_PROFILES`` judged profiles
chooses nothing: the cluster keeps the active version's recipe, or its own model
for a first version (:func:`_recipe`, :func:`_default_recipe`; on one or two
profiles the best figure is whichever recipe found that profile's title). A cluster
with a single judged profile has it in its gate half; one with none is gated as one
would be: nothing is shown either way (:func:`_nothing_judged_reason`). The new
version is activated (one transaction, :func:`model_version_activate`, with the
run's finish: :func:`_conclude`) unless the gate shows it worse than the configured margin
allows, by ``RETRAIN_GATE_Z`` paired standard errors of the per-profile NDCG@10
differences (:func:`gate_passes`: a guardrail, since the usual retrain is the
same recipe on fresher data and refusing it leaves the cluster on a staler
model), the run is still running, and the active version is still the one it
was compared with (an operator may have rolled back meanwhile). Otherwise it is
``rejected`` and serving is untouched.

A batch that covers every cluster of its region also stores its region-wide
final fit as the region's version, and its global fit (when due) as the global
one, each gated the same way on the region's whole holdout (every judged
profile: no recipe is chosen for them on it; :func:`_fallbacks_refresh`): they
serve profiles with little history or no cluster yet. Scoring the active
version's stored factors instead would favour it: they were fitted on a window
that holds most of today's holdout.

The package's modules, in the order a retrain meets them:

- :mod:`.configuration`: the ``TONIGHT`` settings a retrain reads, and its queue.
- :mod:`.requesting`: creating runs and sending their task (or running it here).
- :mod:`.execution`: a worker's part: each run started under its lock
  (:mod:`.locks`), reporting as it goes (:mod:`.progress`), the batch run, and each
  run's outcome recorded (:mod:`.outcomes`: the activation and the run's finish).
- :mod:`.pipeline`: the stages of one region batch; what they share, planned, read and
  fitted once, is :mod:`.batch`'s. Then :mod:`.fallbacks` (the region's and global
  versions) and :mod:`.cluster_finish` (each cluster's version), which choose a recipe
  (:mod:`.recipes`), measure the active version on the candidate's data
  (:mod:`.incumbents`), and judge the two (:mod:`.gate`).
- :mod:`.interruptions`: a batch stopped by its time limit or the database, and a task
  that gave up or whose retry the broker refused.
- :mod:`.runs`: ending a run once, and failing the versions it leaves unjudged.
- :mod:`.reaping`: the reaper; :mod:`.staff_activation`: activate and roll back by hand.
- :mod:`.exceptions`: what callers catch; :mod:`.log`: the one logger, named for the package.

Imports, one rule: code outside the package imports from the package
(``from recommendations.services.retraining import training_run_request``), which
re-exports every public name, so that the modules stay free to move. A name a module
keeps private (leading underscore) is imported from that module, by its sibling
modules and by the tests that reach it; a test patches a name in the module that looks
it up (``_incumbent_parts`` in both :mod:`.cluster_finish` and :mod:`.fallbacks`). The
modules import each other by their full names, never through this ``__init__``.
"""

from recommendations.services.retraining.batch import WARM_ITERATIONS
from recommendations.services.retraining.configuration import (
    compared_with,
    gate_margin,
    gate_z,
    global_every_days,
    heartbeat_seconds,
    queued_seconds,
    recipe_min_profiles,
    retrain_queue,
    stale_seconds,
    tune_schedule,
    tune_scopes,
)
from recommendations.services.retraining.exceptions import (
    RetrainError,
    RetrainInterrupted,
    RetrainNotQueued,
)
from recommendations.services.retraining.execution import (
    training_run_execute,
    training_runs_execute,
)
from recommendations.services.retraining.gate import GateVerdict, gate_passes
from recommendations.services.retraining.interruptions import (
    training_runs_abandon,
    training_runs_queued_again,
    training_runs_retry_refused,
)
from recommendations.services.retraining.locks import LOCK_NAMESPACE
from recommendations.services.retraining.outcomes import RetrainOutcome
from recommendations.services.retraining.pipeline import region_retrain
from recommendations.services.retraining.reaping import training_runs_reap
from recommendations.services.retraining.recipes import RecipeChoice
from recommendations.services.retraining.requesting import (
    region_retrain_request,
    retrains_run_here,
    training_run_request,
)
from recommendations.services.retraining.runs import ACTIVE_STATUSES, MAX_ATTEMPTS
from recommendations.services.retraining.staff_activation import (
    model_version_rollback,
    model_version_staff_activate,
)

__all__ = [
    "ACTIVE_STATUSES",
    "LOCK_NAMESPACE",
    "MAX_ATTEMPTS",
    "WARM_ITERATIONS",
    "GateVerdict",
    "RecipeChoice",
    "RetrainError",
    "RetrainInterrupted",
    "RetrainNotQueued",
    "RetrainOutcome",
    "compared_with",
    "gate_margin",
    "gate_passes",
    "gate_z",
    "global_every_days",
    "heartbeat_seconds",
    "model_version_rollback",
    "model_version_staff_activate",
    "queued_seconds",
    "recipe_min_profiles",
    "region_retrain",
    "region_retrain_request",
    "retrain_queue",
    "retrains_run_here",
    "stale_seconds",
    "training_run_execute",
    "training_run_request",
    "training_runs_abandon",
    "training_runs_execute",
    "training_runs_queued_again",
    "training_runs_reap",
    "training_runs_retry_refused",
    "tune_schedule",
    "tune_scopes",
]
