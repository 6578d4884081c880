"""Training a model version: read signals, fit the engine, store artefacts, activate.

``model_train`` is the one entry point that a management command, a Celery
task (issue 6) and a test all call. The version row is created first, in
status ``training``; it turns ``ready`` only after every artefact is stored,
and ``active`` only through :func:`model_version_activate`, which swaps it
with the scope's previous active version in one transaction. Any error marks
the version ``failed`` and leaves what is served untouched; so does a version
failed by someone else while it trained (a retrain's run reaped meanwhile): it
is never stored as ``ready`` (:class:`VersionFailedWhileTraining`).

The fitting itself, :func:`models_fit`, takes arrays and returns estimators,
so the offline evaluation trains the very same pipeline on a holdout split.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Concat
from django.utils import timezone

from recommendations.engine.als import CollaborativeModel
from recommendations.engine.confidence import (
    ConfidenceMatrices,
    signal_confidence,
    signed_confidence,
)
from recommendations.engine.content import ContentModel
from recommendations.engine.popularity import (
    TRENDING_HALF_LIFE_DAYS,
    TRENDING_STARTED_DAYS,
    MostPopular,
    trending_scores,
    trending_started,
)
from recommendations.engine.ranking import PlayRanker
from recommendations.models import ModelVersion
from recommendations.selectors import training as data
from recommendations.services.ranker_training import (
    LoggedExamples,
    logged_examples_load,
    row_ranker_fit,
    row_ranker_store,
)
from recommendations.serving import artefacts
from recommendations.serving.model_index import ModelIndex
from regions.models import Region, TasteCluster

logger = logging.getLogger(__name__)

#: ALS hyper-parameters of Tonight's collaborative model. Chosen on an earlier
#: version of the offline evaluation's table, i.e. on its test data, not on a
#: validation split; with ``implicit``'s defaults instead Tonight's NDCG@10 moves
#: 0.2703 -> 0.2674 (docs/recommendations.md, "Offline evaluation"). Retrains
#: search their own per scope on a validation cut of the training part.
ALS_PARAMS: dict[str, float | int] = {
    "factors": 64,
    "regularization": 0.05,
    "alpha": 1.0,
    "iterations": 15,
}
#: Play starts older than this do not count as trending at all (their decayed
#: weight with a 3-day half-life is below 0.2%).
TRENDING_WINDOW_DAYS = 28

Stage = Callable[[str], None]
#: Told (done, to do, unit) by a stage that counts its work, e.g. (340, 1200, "pages").
Count = Callable[[int, int, str], object]


@dataclass(frozen=True, slots=True)
class RankerExamples:
    """Logged impressions to learn the play ranker from (issue 5's page log supplies them).

    Attributes
    ----------
    features : numpy.ndarray of float32, shape (n, len(FEATURE_NAMES))
        :func:`recommendations.engine.ranking.build_features` per impression, in time order.
    labels : numpy.ndarray of bool, shape (n,)
        Played within the session.
    sample_weight : numpy.ndarray of float32, shape (n,), optional
    pages : numpy.ndarray of int64, shape (n,), optional
        Each impression's page, numbered in time order: the ranker holds out whole
        pages (:meth:`PlayRanker.fit`).
    """

    features: npt.NDArray[np.float32]
    labels: npt.NDArray[np.bool_]
    sample_weight: npt.NDArray[np.float32] | None = None
    pages: npt.NDArray[np.int64] | None = None


@dataclass(frozen=True)
class TrainingData:
    """Everything a training run reads from the database, as arrays."""

    signals: data.TrainingSignals
    features: data.TitleFeatures
    groups: data.ProfileGroups
    at: float
    facts: data.CatalogueFacts | None = None
    #: Every profile's region and cluster as read for ``groups`` (the cluster assignment
    #: reads its region's profiles from it).
    profile_rows: data.ProfileRows | None = None
    #: The plays trending is counted from, and their profiles' groups, when they are more
    #: than ``signals``: a taste cluster's own model learns from its members alone, but
    #: its pages' "Trending in India" is what all of India started.
    trending_from: tuple[data.TrainingSignals, data.ProfileGroups] | None = None


@dataclass
class FittedModels:
    """The estimators of one version, before (or instead of) being stored.

    ``content`` is ``None`` when ``content_artefact`` holds the stored bytes of an
    identical content model (a retrain reuses the last one while the catalogue's
    features are unchanged: :func:`content_artefact_reusable`).
    """

    index: ModelIndex
    als: CollaborativeModel
    content: ContentModel | None
    popularity: MostPopular
    ranker: PlayRanker
    confidence: ConfidenceMatrices
    seconds: dict[str, float] = field(default_factory=dict)
    content_artefact: bytes | None = None


def training_data_load(
    *,
    region_code: str | None,
    at: dt.datetime,
    progress: Callable[[int], object] | None = None,
    snapshot: bool = False,
    read_info: dict | None = None,
) -> TrainingData:
    """Read signals of the window ending at ``at``, the catalogue's features and profile groups.

    ``snapshot`` reads the signals through the retrain's signal snapshot (only
    what arrived since the last read comes from the table:
    :func:`~recommendations.selectors.training.signal_columns_snapshot`);
    ``read_info`` is filled with how they were read.
    """
    titles = data.title_ids()
    # The catalogue's features and the profiles' groups do not depend on the signals: read
    # on another connection while this one reads the signals.
    beside = data.read_beside(lambda: (data.title_features(titles), data.profile_rows()))
    facts = data.catalogue_facts(titles)
    window = dt.timedelta(days=settings.TONIGHT.get("TRAINING_WINDOW_DAYS", 365))
    signals = data.training_signals(
        titles=titles,
        episodes=data.episode_table(),
        title_runtime_hours=facts.runtime_hours,
        region_code=region_code,
        since=at - window,
        until=at,
        progress=progress or (lambda _: None),
        snapshot=snapshot,
        read_info=read_info,
    )
    features, profiles = beside()
    return TrainingData(
        signals=signals,
        features=features,
        groups=data.profile_groups(signals.profile_ids, read=profiles),
        at=at.timestamp(),
        facts=facts,
        profile_rows=profiles,
    )


def trending_table(
    signals: data.TrainingSignals, groups: data.ProfileGroups, *, at: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Decayed play starts per region (rows first) and taste cluster at Unix time ``at``,
    and which titles had a start in each in the ``TRENDING_STARTED_DAYS`` before it.

    Each play counts once for its profile's region and once for its cluster. The
    decayed count, every start of the ``TRENDING_WINDOW_DAYS`` included, is the
    ranker's popularity and a short pool's fill; only the titles started in the
    week are trending candidates and trending-row titles, as the row's reason
    ("starting this week") says. Both from the same plays, so no second read.
    Every version's trending comes from here, a cluster's own model's too (from its
    whole region's plays, :attr:`TrainingData.trending_from`).
    """
    age = signals.age_days(at)
    plays = signals.is_play() & (age >= 0) & (age <= TRENDING_WINDOW_DAYS)
    profiles = signals.profile_index[plays]
    titles = signals.title_index[plays]
    ages = age[plays]
    n_regions = len(groups.region_codes)
    region = groups.region[profiles].astype(np.int64)
    cluster = groups.cluster[profiles].astype(np.int64)
    in_region = region >= 0
    in_cluster = cluster >= 0
    group_index = np.concatenate([region[in_region], n_regions + cluster[in_cluster]])
    title_index = np.concatenate([titles[in_region], titles[in_cluster]])
    age_days = np.concatenate([ages[in_region], ages[in_cluster]])
    n_groups = n_regions + groups.cluster_ids.shape[0]
    decayed = trending_scores(
        group_index=group_index,
        title_index=title_index,
        age_days=age_days,
        n_groups=n_groups,
        n_titles=signals.n_titles,
        half_life_days=TRENDING_HALF_LIFE_DAYS,
    )
    started = trending_started(
        group_index=group_index,
        title_index=title_index,
        age_days=age_days,
        n_groups=n_groups,
        n_titles=signals.n_titles,
        within_days=TRENDING_STARTED_DAYS,
    )
    return decayed, started


def models_fit(
    training: TrainingData,
    *,
    random_state: int = 0,
    ranker_examples: RankerExamples | None = None,
    als_params: dict[str, float | int] | None = None,
    stage: Stage | None = None,
    als_unavailable: sp.spmatrix | None = None,
    als_model: CollaborativeModel | None = None,
    content: ContentModel | None = None,
    content_artefact: bytes | None = None,
    confidence: ConfidenceMatrices | None = None,
    count: Count | None = None,
) -> FittedModels:
    """Fit every estimator of a version from arrays (no database access).

    ALS on the signed confidence matrix, the content model on the title
    features, trending per region and cluster, most-popular, and the play
    ranker: learned from ``ranker_examples`` when there are enough of them,
    the documented prior blend otherwise.

    A retrain that has already fitted the collaborative model (its own
    hyper-parameters per scope, or a blend: :mod:`recommendations.services.retraining`)
    passes it as ``als_model``, and the confidence of ``training``'s signals it
    computed for that fit as ``confidence``. The content model depends on the
    catalogue alone, so the clusters of one region retrain share one
    ``content``, or the stored bytes of an identical one (``content_artefact``).
    ``count`` is told the titles done of the content model's neighbour table.
    """
    stage = stage or (lambda _: None)
    count = count or (lambda done, total, unit: None)
    signals = training.signals
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    stage("confidence")
    if confidence is None:
        confidence = training_confidence(training)
    seconds["confidence"] = time.perf_counter() - started

    stage("als")
    als = als_model
    if als is None:
        als = CollaborativeModel(**(als_params or ALS_PARAMS), random_state=random_state)
        als.fit(
            signed_confidence(confidence.positive, confidence.negative),
            unavailable=als_unavailable,
        )
    seconds["als"] = als.fit_seconds

    started = time.perf_counter()
    stage("content")
    if content is None and content_artefact is None:
        content = content_fit(
            training.features,
            random_state=random_state,
            progress=lambda done, total: count(done, total, "titles"),
        )
    seconds["content"] = time.perf_counter() - started

    started = time.perf_counter()
    stage("popularity")
    popularity = MostPopular(random_state=random_state).fit(confidence.positive)
    plays, groups = training.trending_from or (signals, training.groups)
    trending, started_this_week = trending_table(plays, groups, at=training.at)
    index = ModelIndex(
        title_ids=signals.title_ids,
        region_codes=groups.region_codes,
        cluster_ids=groups.cluster_ids,
        trending=trending,
        trained_at=training.at,
        started=started_this_week,
    )
    seconds["popularity"] = time.perf_counter() - started

    started = time.perf_counter()
    stage("ranker")
    ranker = PlayRanker(random_state=random_state)
    if ranker_examples is not None:
        ranker.fit(
            ranker_examples.features,
            ranker_examples.labels,
            sample_weight=ranker_examples.sample_weight,
            pages=ranker_examples.pages,
        )
    seconds["ranker"] = time.perf_counter() - started
    return FittedModels(
        index=index,
        als=als,
        content=content,
        popularity=popularity,
        ranker=ranker,
        confidence=confidence,
        seconds=seconds,
        content_artefact=content_artefact if content is None else None,
    )


def content_fit(
    features: data.TitleFeatures,
    *,
    random_state: int = 0,
    progress: Callable[[int, int], object] | None = None,
) -> ContentModel:
    """The content model of the catalogue, neighbours computed (what a version stores);
    ``progress`` is told (titles done, titles) as its neighbour table is built."""
    content = ContentModel(random_state=random_state).fit(
        features.matrix,
        feature_weights=features.feature_weights,
        # Kept so that serving vectorises titles added after training in this vocabulary.
        feature_names=features.feature_names if features.feature_names.shape[0] else None,
        progress=progress,
    )
    content.neighbour_matrix()
    return content


def content_fingerprint(features: data.TitleFeatures, *, random_state: int = 0) -> str:
    """What a content model is a function of: the titles' features, the seed and the engine.

    Two catalogues with the same fingerprint give the same content model, so a
    retrain stores the bytes of the last one instead of fitting it again (its
    neighbour table was the costliest step of a retrain after the fits). The
    engine module's own source is part of it: a changed algorithm is a new model.
    """
    from recommendations.engine import content as content_engine

    digest = hashlib.sha256()
    matrix = features.matrix
    for array in (
        np.asarray(matrix.shape, dtype=np.int64),
        matrix.indptr.astype(np.int64),
        matrix.indices.astype(np.int64),
        matrix.data.astype(np.float32),
        features.feature_weights.astype(np.float32),
        np.asarray([random_state], dtype=np.int64),
    ):
        digest.update(np.ascontiguousarray(array).tobytes())
    # The columns' names are stored with the model: equal matrices of other vocabularies
    # (a genre renumbered) are other models.
    digest.update("\n".join(features.feature_names.tolist()).encode())
    digest.update(Path(content_engine.__file__).read_bytes())
    return digest.hexdigest()


def content_artefact_reusable(fingerprint: str) -> bytes | None:
    """The stored content artefact of the newest complete version with this fingerprint."""
    complete = (
        ModelVersion.Status.READY,
        ModelVersion.Status.ACTIVE,
        ModelVersion.Status.RETIRED,
    )
    keys = (
        ModelVersion.objects.filter(status__in=complete, metrics__content_fingerprint=fingerprint)
        .exclude(artefact_key="")
        .order_by("-pk")
        .values_list("artefact_key", flat=True)[:3]
    )
    for key in keys:
        try:
            return artefacts.artefact_read(key, artefacts.CONTENT).getvalue()
        except OSError:
            continue
    return None


def model_version_store(*, version: ModelVersion, models: FittedModels) -> None:
    """Write every artefact of ``models`` under the version's storage key."""
    key = version.artefact_key
    artefacts.artefact_write(key, artefacts.INDEX, models.index.save)
    artefacts.artefact_write(
        key, artefacts.ALS, lambda f: models.als.save(f, include_user_factors=False)
    )
    if models.content is not None:
        artefacts.artefact_write(key, artefacts.CONTENT, models.content.save)
    elif models.content_artefact is not None:
        stored = models.content_artefact
        artefacts.artefact_write(key, artefacts.CONTENT, lambda f: f.write(stored))
    else:
        raise ValueError("a version needs a content model or its stored artefact")
    artefacts.artefact_write(key, artefacts.POPULARITY, models.popularity.save)
    artefacts.artefact_write(key, artefacts.RANKER, models.ranker.save)


def training_confidence(training: TrainingData) -> ConfidenceMatrices:
    """What the window's signals are worth per (profile, title), as of ``training.at``.

    One computation serves every consumer of a retrain: the cluster
    assignment's viewing, the collaborative fits and each version's popularity.
    """
    signals = training.signals
    return signal_confidence(
        profile_index=signals.profile_index,
        title_index=signals.title_index,
        kind=signals.kind,
        value=signals.value,
        age_days=signals.age_days(training.at),
        commitment=signals.commitment_hours,
        rewatch=signals.rewatch,
        n_profiles=signals.n_profiles,
        n_titles=signals.n_titles,
        weights=data.signal_weights(),
    )


class VersionFailedWhileTraining(RuntimeError):
    """The version was ended (failed) by someone else before its fit was stored as ready.

    A version, once failed, is never served: what the fit stored is deleted, and the
    caller, a retrain whose run was reaped meanwhile, gates and activates nothing.
    """


def model_train(
    *,
    region_code: str | None,
    random_state: int = 0,
    ranker_examples: RankerExamples | None = None,
    activate: bool = True,
    at: dt.datetime | None = None,
    stage: Stage | None = None,
    progress: Callable[[int], object] | None = None,
    count: Count | None = None,
    cluster: TasteCluster | None = None,
    training: TrainingData | None = None,
    als_unavailable: sp.spmatrix | None = None,
    learn_from_logs: bool = True,
    als_model: CollaborativeModel | None = None,
    content: ContentModel | None = None,
    logged: LoggedExamples | None = None,
    content_artefact: bytes | None = None,
    confidence: ConfidenceMatrices | None = None,
    metrics: dict | None = None,
) -> ModelVersion:
    """Train a region's model (or the global one for ``region_code=None``) as a new version.

    Parameters
    ----------
    region_code : str or None
        Train on the signals of this region's households; ``None`` for all.
    random_state : int
        Seeds ALS (same data, same seed: same factors).
    ranker_examples : RankerExamples, optional
        Logged impressions for the play ranker; without enough of them the
        ranker is the prior blend and the version's ``serving_mode`` says so.
    activate : bool
        Make the new version the scope's active one once it is stored.
    at : datetime, optional
        End of the training window; now by default.
    stage, progress : callable, optional
        Report the current stage name, and signal rows read (for progress bars).
    count : callable, optional
        Told (done, to do, unit) in the stages that count their work: the logged pages
        becoming the title ranker's rows ("pages"), the titles of the content model's
        neighbour table ("titles").
    cluster : TasteCluster, optional
        Store the version as this taste cluster's model (of ``region_code``'s
        region); ``training`` holds the signals its recipe learns from (the
        cluster's, the region's or every region's: :mod:`recommendations.services.retraining`).
    training : TrainingData, optional
        Signals already read by the caller; read here when omitted.
    als_unavailable : sparse matrix, optional
        (profile, title) cells that are not negatives for ALS (titles not
        available to the profile; :meth:`CollaborativeModel.fit`).
    learn_from_logs : bool
        Without ``ranker_examples``, learn the title ranker and the row ranker
        from the pages logged before ``at``
        (:mod:`recommendations.services.ranker_training`).
    als_model, content : optional
        Already fitted by the caller (a region retrain fits the collaborative
        model with the scope's own hyper-parameters, and shares one content
        model among its clusters); fitted here when omitted.
    logged : LoggedExamples, optional
        The logged pages, already read by the caller (shared by a region's clusters).
    content_artefact : bytes, optional
        The stored content model to store again instead of fitting one (the caller
        checked that its fingerprint is this catalogue's: :func:`content_fingerprint`).
    confidence : ConfidenceMatrices, optional
        The confidence of ``training``'s signals, already computed by the caller.
    metrics : dict, optional
        Written on the version as it is created, before anything is fitted, and kept
        in its final metrics: a retrain names its runs here (``retrain_runs``), so
        that a run that fails can tell the versions it left half-written from those
        another region's batch is still training (a global version has no region).

    Returns
    -------
    ModelVersion
        ``active`` (or ``ready`` with ``activate=False``).

    Raises
    ------
    Region.DoesNotExist
        For an unknown region code (before anything is created).
    VersionFailedWhileTraining
        The version was failed while it trained (its retrain's run reaped meanwhile).
    """
    region = Region.objects.get(pk=region_code) if region_code is not None else None
    scope = ModelVersion.Scope.REGION if region else ModelVersion.Scope.GLOBAL
    version = ModelVersion.objects.create(
        scope=ModelVersion.Scope.CLUSTER if cluster is not None else scope,
        region=region,
        taste_cluster=cluster,
        random_state=random_state,
        metrics=dict(metrics or {}),
    )
    version.artefact_key = artefacts.artefact_key(version.pk)
    version.save(update_fields=["artefact_key"])
    stage = stage or (lambda _: None)
    count = count or (lambda done, total, unit: None)
    try:
        started = time.perf_counter()
        stage("read signals")
        if training is None:
            training = training_data_load(
                region_code=region_code, at=at or timezone.now(), progress=progress
            )
        seconds = {"read": time.perf_counter() - started}
        if ranker_examples is None and learn_from_logs:
            if logged is None:
                started = time.perf_counter()
                logged = logged_examples_load(
                    region_code=region_code,
                    at=dt.datetime.fromtimestamp(training.at, tz=dt.UTC),
                    random_state=random_state,
                    stage=stage,
                    progress=lambda done, total: count(done, total, "pages"),
                )
                # Rebuilding the logged pages is often most of a learned version's time:
                # the console's "Training seconds" sums these, so it must count it.
                seconds["page_logs"] = time.perf_counter() - started
            ranker_examples = RankerExamples(
                logged.title_features, logged.title_labels, logged.title_weights, logged.title_pages
            )
        models = models_fit(
            training,
            random_state=random_state,
            ranker_examples=ranker_examples,
            stage=stage,
            als_unavailable=als_unavailable,
            als_model=als_model,
            content=content,
            content_artefact=content_artefact,
            confidence=confidence,
            count=count,
        )
        stage("store")
        started = time.perf_counter()
        model_version_store(version=version, models=models)
        row_ranker: dict[str, object] = {"mode": "prior"}
        if logged is not None and logged.pages:
            choice = row_ranker_fit(logged)
            row_ranker_store(artefact_key=version.artefact_key, ranker=choice.ranker)
            row_ranker = choice.describe()
        seconds.update(models.seconds, store=time.perf_counter() - started)
    except BaseException as error:
        # An interrupt too (Ctrl-C, or SIGTERM as train_models takes it): it left the version
        # "training" for good, listed as such, and no reaper fails a version no run owns.
        interrupted = not isinstance(error, Exception)
        reason = (
            f"Interrupted ({type(error).__name__}) while it trained."
            if interrupted
            else f"{type(error).__name__}: {error}"
        )
        try:
            _version_fail(version, reason=reason)
        except DatabaseError:
            if not interrupted or connection.in_atomic_block:
                raise
            # Ctrl-C in the middle of a query leaves the connection unusable ("another
            # command is already in progress"): a new one records the failure.
            connection.close()
            _version_fail(version, reason=reason)
        artefacts.artefact_delete(version.artefact_key)
        if interrupted:
            # Stopped on purpose: the caller says where; a traceback would read as a fault.
            logger.warning("Training model version %s interrupted", version.pk)
        else:
            logger.exception("Training model version %s failed", version.pk)
        raise

    signals = training.signals
    ready: dict[str, object] = {
        "status": ModelVersion.Status.READY,
        "serving_mode": models.ranker.mode,
        "trained_at": dt.datetime.fromtimestamp(training.at, tz=dt.UTC),
        "n_profiles": signals.n_profiles,
        "n_titles": signals.n_titles,
        "n_signals": len(signals),
        "n_interactions": int(models.confidence.positive.nnz + models.confidence.negative.nnz),
        "metrics": {
            **version.metrics,
            "seconds": seconds,
            "ranker_training_rows": models.ranker.n_training_rows,
            "ranker_selection": {
                "mode": models.ranker.mode,
                "learned_log_loss": models.ranker.learned_log_loss,
                "prior_log_loss": models.ranker.prior_log_loss,
                "holdout_rows": models.ranker.n_holdout_rows,
                "holdout_plays": models.ranker.n_holdout_plays,
            },
            "row_ranker": row_ranker["mode"],
            "row_ranker_selection": row_ranker,
            "logged_pages": logged.pages if logged is not None else 0,
            "als": {
                "components": models.als.describe(),
                "random_state": random_state,
            },
            "content_fingerprint": content_fingerprint(
                training.features, random_state=random_state
            ),
            "content_reused": models.content is None,
        },
    }
    # Only while it is still training. A retrain's version is failed under it when its run is
    # judged dead (the reaper, a stale heartbeat: the worker may be alive after all) or stopped
    # by the batch's time limit; a save of the whole row then brought it back ready, its
    # reason erased, to be gated or activated by staff (``VersionFailedWhileTraining``).
    if not ModelVersion.objects.filter(pk=version.pk, status=ModelVersion.Status.TRAINING).update(
        **ready
    ):
        artefacts.artefact_delete(version.artefact_key)
        now = ModelVersion.objects.filter(pk=version.pk).values_list("status", "error").first()
        status, error = now or ("deleted", "")
        raise VersionFailedWhileTraining(
            f"Model version {version.pk} was {status} while it trained"
            + (f": {error}" if error else ".")
        )
    for name, value in ready.items():
        setattr(version, name, value)
    if activate:
        version = model_version_activate(version=version)
    return version


def _version_fail(version: ModelVersion, *, reason: str) -> None:
    """Fail a version whose training stopped, keeping the reason it was failed for first."""
    mine = ModelVersion.objects.filter(pk=version.pk)
    if not mine.filter(status=ModelVersion.Status.TRAINING).update(
        status=ModelVersion.Status.FAILED, error=reason
    ):
        # Failed under it already (its retrain's run reaped): why it was failed comes
        # first, and is what an operator must read; what the fit then raised follows.
        mine.update(
            status=ModelVersion.Status.FAILED,
            error=Concat(F("error"), Value(f" Then: {reason}"), output_field=TextField()),
        )


class ActiveVersionChanged(ValueError):
    """The scope's active version is no longer the one the caller judged against."""


#: ``model_version_activate(replacing=...)`` unset: whatever is active is retired.
ANY_ACTIVE = object()


def model_version_activate(
    *,
    version: ModelVersion,
    replacing: int | object | None = ANY_ACTIVE,
    allowed: frozenset[str] | None = None,
) -> ModelVersion:
    """Make ``version`` the active one of its scope, retiring the previous one, atomically.

    Every version of the scope is locked first, so two activations of one
    scope run one after the other; the partial unique constraints would
    refuse a second active version even if they did not. Only a complete
    version (``ready``, or ``retired`` for a rollback) can be activated;
    ``allowed`` narrows that (a rollback accepts only versions that served before).

    ``replacing`` is the pk of the version the caller expects to be active (``None``: none),
    checked under the lock: a retrain's gate compared its candidate with one
    version, and if an operator rolled back meanwhile, activating would silently
    undo the rollback with a version never compared with what now serves
    (:class:`ActiveVersionChanged`).
    """
    if allowed is None:
        allowed = frozenset(
            {ModelVersion.Status.READY, ModelVersion.Status.RETIRED, ModelVersion.Status.ACTIVE}
        )
    with transaction.atomic():
        scope = ModelVersion.objects.filter(
            scope=version.scope, region=version.region_id, taste_cluster=version.taste_cluster_id
        )
        locked = {v.pk: v for v in scope.select_for_update().only("pk", "status")}
        current = locked.get(version.pk)
        if current is None or current.status not in allowed:
            status = current.status if current else "missing"
            raise ValueError(f"model version {version.pk} is {status}; it cannot be activated")
        if current.status == ModelVersion.Status.ACTIVE:
            return ModelVersion.objects.get(pk=version.pk)
        if replacing is not ANY_ACTIVE:
            active = next(
                (pk for pk, v in locked.items() if v.status == ModelVersion.Status.ACTIVE), None
            )
            if active != replacing:
                raise ActiveVersionChanged(
                    f"the active version changed during the run (rolled back?): "
                    f"#{active} serves, the gate compared with "
                    f"{'none' if replacing is None else f'#{replacing}'}"
                )
        now = timezone.now()
        scope.filter(status=ModelVersion.Status.ACTIVE).update(status=ModelVersion.Status.RETIRED)
        ModelVersion.objects.filter(pk=version.pk).update(
            status=ModelVersion.Status.ACTIVE, activated_at=now
        )
    return ModelVersion.objects.get(pk=version.pk)
