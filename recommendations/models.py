"""Behavioural signals: the raw material every model learns from."""

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from artwork.models import ArtworkVariant, DeviceClass
from catalog.models import Episode, Title
from config.fields import PlainJSONField
from profiles.models import Profile


class SignalKind(models.TextChoices):
    """What a profile did. The meaning and the ``value`` unit of each kind:

    - impression: a title was shown (value: none); the bandit's and rankers' denominator.
    - hover: the cursor or focus rested on a title (value: milliseconds).
    - preview: an autoplay preview ran (value: seconds watched).
    - row_scroll_past: a whole row was scrolled past quickly (title empty, ``row`` set).
    - play_start: playback began from a recommendation (value: none).
    - search_play: playback began from search (intentional).
    - external_play: playback began from an outside link (intentional).
    - progress: playback checkpoint (value: percent of the title or episode, 0-100).
    - complete: the film or episode was finished (value: none).
    - thumbs_up / thumbs_down: explicit rating (value: none).
    - thumbs_cleared: the profile removed its rating (value: none); the latest of the three
      by time is the pair's rating, so a clear leaves the title unrated again.
    """

    IMPRESSION = "impression", "Impression"
    HOVER = "hover", "Hover"
    PREVIEW = "preview", "Preview"
    ROW_SCROLL_PAST = "row_scroll_past", "Row scrolled past"
    PLAY_START = "play_start", "Play start"
    SEARCH_PLAY = "search_play", "Play from search"
    EXTERNAL_PLAY = "external_play", "Play from external link"
    PROGRESS = "progress", "Progress"
    COMPLETE = "complete", "Complete"
    THUMBS_UP = "thumbs_up", "Thumbs up"
    THUMBS_DOWN = "thumbs_down", "Thumbs down"
    THUMBS_CLEARED = "thumbs_cleared", "Rating removed"


class PortableBrinIndex(BrinIndex):
    """A BRIN index on PostgreSQL; a plain B-tree on the demo's embedded SQLite."""

    def create_sql(self, model, schema_editor, using="", **kwargs):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "postgresql":
            return models.Index.create_sql(self, model, schema_editor, using="", **kwargs)
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class Signal(models.Model):
    """One thing one profile did, as the client reported it.

    Recorded per profile, never per account, so that a household's profiles do
    not contaminate each other. ``client_event_id`` is unique per profile: a
    retried batch stores nothing twice.
    """

    # The signal log is append-only and the hottest write in the system. Its references
    # are checked for the whole batch at ingest (one query per table), so the database
    # keeps no foreign-key triggers or per-column indexes that every insert would pay
    # for; deleting a profile or title still removes its signals (Django cascades).
    profile = models.ForeignKey(
        Profile,
        on_delete=models.CASCADE,
        related_name="signals",
        db_constraint=False,
        db_index=False,  # the (profile, ...) indexes below serve every lookup by profile
    )
    title = models.ForeignKey(
        Title,
        on_delete=models.CASCADE,
        related_name="signals",
        null=True,
        blank=True,
        db_constraint=False,
    )
    # History is not rewritten: an episode or artwork variant deleted later keeps its id
    # here (variants are meant to be deactivated, not deleted).
    episode = models.ForeignKey(
        Episode,
        on_delete=models.DO_NOTHING,
        related_name="signals",
        null=True,
        blank=True,
        db_constraint=False,
        db_index=False,
    )
    kind = models.CharField(max_length=16, choices=SignalKind.choices)
    value = models.FloatField(null=True, blank=True)
    device = models.CharField(max_length=8, choices=DeviceClass.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    client_event_id = models.UUIDField()
    page_id = models.UUIDField(null=True, blank=True)
    row = models.CharField(max_length=64, blank=True, default="")
    position = models.PositiveSmallIntegerField(null=True, blank=True)
    artwork_variant = models.ForeignKey(
        ArtworkVariant,
        on_delete=models.DO_NOTHING,
        related_name="signals",
        null=True,
        blank=True,
        db_constraint=False,
        db_index=False,
    )
    is_rewatch = models.BooleanField(
        default=False,
        help_text=(
            "Set at ingest: a play of a film or episode this profile had already completed, "
            "whether or not the client said so."
        ),
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "client_event_id"], name="signal_event_unique_per_profile"
            ),
        ]
        indexes = [
            models.Index(fields=["profile", "occurred_at"], name="signal_profile_time"),
            # The history read's two bounded branches (serving.recommend._history_sql):
            # each signal lands in exactly one, and each branch stops at its own bound.
            models.Index(
                fields=["profile", "occurred_at"],
                name="signal_profile_engaged",
                condition=~Q(kind="impression"),
            ),
            models.Index(
                fields=["profile", "occurred_at"],
                name="signal_profile_shown",
                condition=Q(kind="impression"),
            ),
            # Rows arrive roughly in time order, so a BRIN index answers "signals since T"
            # (training windows, trending, attribution's plays) for a tiny fraction of a
            # B-tree's upkeep. Autovacuum summarises each range once ingest starts the next:
            # an unsummarised range is read by every scan, and nothing else summarises it.
            PortableBrinIndex(fields=["occurred_at"], name="signal_time_brin", autosummarize=True),
            # No index on page_id: most impressions carry one, and attribution joins pages
            # to signals in bulk over a time window (BRIN), never one page at a time.
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.title_id} by {self.profile_id}"


PLAY_KINDS = frozenset({SignalKind.PLAY_START, SignalKind.SEARCH_PLAY, SignalKind.EXTERNAL_PLAY})


class ProfileTitleState(models.Model):
    """What one profile has done with one title, derived from its signals at ingest.

    Kept in the same transaction as the signals it summarises, so "Continue
    Watching", "Watch Again" and the rewatch flag never disagree with the raw log.
    """

    class Thumbs(models.TextChoices):
        NONE = "", "Not rated"
        UP = "up", "Thumbs up"
        DOWN = "down", "Thumbs down"

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="title_states")
    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="profile_states")
    first_played_at = models.DateTimeField(null=True, blank=True)
    last_played_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_event_at = models.DateTimeField()
    play_count = models.PositiveIntegerField(default=0)
    progress = models.FloatField(
        default=0.0, help_text="Percent (0-100) of the film, or of the last episode played."
    )
    last_episode = models.ForeignKey(
        Episode, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    completed_episodes = models.JSONField(
        default=list, blank=True, help_text="Ids of the episodes this profile has finished."
    )
    completed_seasons = models.PositiveSmallIntegerField(default=0)
    completed_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="When the film, or every episode of the series, was first finished.",
    )
    rewatch_count = models.PositiveIntegerField(default=0)
    thumbs = models.CharField(max_length=4, choices=Thumbs.choices, blank=True, default="")
    thumbs_at = models.DateTimeField(null=True, blank=True)
    playback_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The latest play, progress or completion folded in: an older one arriving "
        "late must not overwrite the progress it left (thumbs have their own time).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["profile", "title"], name="state_profile_title_unique")
        ]
        indexes = [models.Index(fields=["profile", "-last_event_at"], name="state_profile_recent")]

    def __str__(self) -> str:
        return f"{self.profile_id} / {self.title_id}"

    @property
    def is_completed(self) -> bool:
        return self.completed_at is not None


class ModelVersion(models.Model):
    """One trained set of recommendation artefacts, and whether serving uses it.

    The artefacts (``.npz`` archives written by the engine's ``save``) live in
    Django storage under ``artefact_key``; this row is their metadata and the
    switch that serving reads. A version is written whole while ``training``,
    becomes ``ready`` only after every artefact is stored, and only a ready
    (or, on rollback, a retired) version can become ``active``. So a failed or
    half-finished retrain never changes what is served.

    ``scope`` says whose model it is: one per taste cluster, one per region,
    one global fallback. At most one version is active per scope; the partial
    unique constraints enforce it in the database, and activation swaps the
    old and the new version in one transaction.
    """

    class Scope(models.TextChoices):
        GLOBAL = "global", "Global"
        REGION = "region", "Region"
        CLUSTER = "cluster", "Taste cluster"

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        ACTIVE = "active", "Active"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"
        RETIRED = "retired", "Retired"

    class ServingMode(models.TextChoices):
        PRIOR = "prior", "Prior blend"
        LEARNED = "learned", "Learned ranker"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    region = models.ForeignKey(
        "regions.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="model_versions",
    )
    taste_cluster = models.ForeignKey(
        "regions.TasteCluster",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="model_versions",
    )
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.TRAINING, db_index=True
    )
    serving_mode = models.CharField(
        max_length=8,
        choices=ServingMode.choices,
        default=ServingMode.PRIOR,
        help_text="Whether the title ranker is the documented prior blend or learned from logs.",
    )
    artefact_key = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="Storage directory of the artefacts, e.g. 'models/42'.",
    )
    random_state = models.IntegerField(default=0)
    n_profiles = models.PositiveIntegerField(default=0)
    n_titles = models.PositiveIntegerField(default=0)
    n_signals = models.PositiveBigIntegerField(default=0)
    n_interactions = models.PositiveBigIntegerField(
        default=0, help_text="Non-zero (profile, title) confidences the ALS model was fitted on."
    )
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Stage timings, data sizes and evaluation figures."
    )
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    trained_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(scope="global", region__isnull=True, taste_cluster__isnull=True)
                    | Q(scope="region", region__isnull=False, taste_cluster__isnull=True)
                    | Q(scope="cluster", region__isnull=False, taste_cluster__isnull=False)
                ),
                name="model_version_scope_consistent",
                violation_error_message=(
                    "A global model has no region or cluster, a region model a region only, "
                    "a cluster model both."
                ),
            ),
            # One active version per scope. Three partial indexes rather than one over
            # (scope, region, cluster): NULLs are distinct in unique indexes, which would
            # let two global versions be active at once.
            models.UniqueConstraint(
                fields=["scope"],
                condition=Q(status="active", scope="global"),
                name="model_version_one_active_global",
            ),
            models.UniqueConstraint(
                fields=["region"],
                condition=Q(status="active", scope="region"),
                name="model_version_one_active_per_region",
            ),
            models.UniqueConstraint(
                fields=["taste_cluster"],
                condition=Q(status="active", scope="cluster"),
                name="model_version_one_active_per_cluster",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.scope_label} ({self.status})"

    @property
    def scope_label(self) -> str:
        """The scope as operators know it: "cluster IN-Tamil", as ``retrain`` and admin name
        a cluster, never its id (a cluster version's read loads its cluster, unless joined)."""
        if self.scope == self.Scope.CLUSTER:
            return f"cluster {self.taste_cluster}"
        if self.scope == self.Scope.REGION:
            return f"region {self.region_id}"
        return "global"


class PageLog(models.Model):
    """One rendered homepage: its context and every title shown, written in a single insert.

    The log is what turns a play into a label. Attribution joins later plays to
    the pages that showed their titles (``recommendations.selectors.attribution``),
    which gives the title ranker its positives and negatives, the row ranker its
    row-level engagement and the artwork bandit its rewards with the propensity
    each variant was shown with.

    The shown items are stored compactly, not as one row per impression: a
    12x20 page is one row and two JSON arrays, so serving pays for one insert.

    - ``rows``: ``[[row_id, row_type, strength], ...]`` in display order (strength: the
      row ranker's input, mean play probability of the row's first titles).
    - ``items``: ``[[title_id, row_index, position, variant_id, propensity], ...]``
      where ``row_index`` points into ``rows`` and ``position`` is 0-based in its row.
    - ``taste``: the artwork bandit's context besides device and hour.
    """

    # Time-ordered (UUIDv7, made by homepage_build): inserts append to the key's index.
    id = models.UUIDField(primary_key=True, editable=False)
    # Pages are written on the request path; like signals they keep no FK trigger.
    profile = models.ForeignKey(
        Profile,
        on_delete=models.CASCADE,
        related_name="pages",
        db_constraint=False,
        db_index=False,  # (profile, generated_at) below serves lookups by profile
    )
    generated_at = models.DateTimeField()
    device = models.CharField(max_length=8, choices=DeviceClass.choices)
    region = models.CharField(max_length=2, help_text="Region code the page was served in.")
    cluster = models.CharField(max_length=64, blank=True, default="")
    hour = models.PositiveSmallIntegerField(help_text="Local hour (0-23) in the region.")
    weekday = models.PositiveSmallIntegerField(help_text="Local weekday, Monday 0.")
    model_version = models.ForeignKey(
        ModelVersion,
        # History is not rewritten when old versions are pruned.
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="pages",
        db_constraint=False,
        db_index=False,
    )
    # Plain json, not jsonb: written once per page, read whole, never queried into.
    rows = PlainJSONField(default=list)
    items = PlainJSONField(default=list)
    taste = PlainJSONField(
        default=dict,
        blank=True,
        help_text=(
            "The profile's genre taste the artwork policy saw, {genre slug: share}: "
            "a bandit learns from the context it decided on, not one recomputed later."
        ),
    )

    class Meta:
        indexes = [
            models.Index(fields=["profile", "generated_at"], name="page_profile_time"),
            PortableBrinIndex(fields=["generated_at"], name="page_time_brin", autosummarize=True),
        ]

    def __str__(self) -> str:
        return f"page {self.id} for {self.profile_id}"


class TrainingRun(models.Model):
    """One retrain of one (region, taste cluster), from request to outcome.

    Created ``queued`` by whoever asked (an operator, a schedule, a command);
    the worker moves it to ``running`` and keeps ``heartbeat_at`` fresh, with
    the current ``stage`` and ``progress``; it ends ``succeeded`` (its version
    is active), ``rejected`` (the version did not pass the quality gate, or
    another retrain of the cluster was running) or ``failed`` (an error, or a
    worker that died: the reaper fails runs whose heartbeat went stale). Only
    a succeeded run changes what is served.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        ADMIN = "admin", "Admin action"
        API = "api", "Staff API"
        COMMAND = "command", "Management command"
        SCHEDULE = "schedule", "Schedule"
        REGION = "region", "Region retrain"

    region = models.ForeignKey(
        "regions.Region", on_delete=models.PROTECT, related_name="training_runs"
    )
    taste_cluster = models.ForeignKey(
        "regions.TasteCluster", on_delete=models.PROTECT, related_name="training_runs"
    )
    status = models.CharField(
        max_length=9, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    trigger = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.COMMAND)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    stage = models.CharField(max_length=32, blank=True, default="")
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent, while running.")
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per stage.")
    data_sizes = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Holdout figures, the cluster table, the gate."
    )
    error = models.TextField(blank=True, default="")
    model_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="training_runs",
    )
    celery_task_id = models.CharField(max_length=64, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Times a worker started it (a redelivery after a crash adds one)."
    )
    created_at = models.DateTimeField(
        "requested at", auto_now_add=True, db_index=True, help_text="When it was asked for."
    )
    # The reaper's clock for a queued run, not ``created_at``: a run put back to queued for its
    # task's retry (the database interrupted it, perhaps hours after its request) was failed
    # as "never started" as soon as the reaper saw it, and the retry then did nothing.
    # ``db_default``: the release still serving while ``migrate`` runs inserts runs too.
    queued_at = models.DateTimeField(
        "queued at",
        default=timezone.now,
        db_default=Now(),
        help_text=(
            "When it was last handed to the broker: its request, or its task's retry after an "
            "interruption. Still queued RETRAIN_QUEUED_SECONDS after this, the reaper fails it."
        ),
    )
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["taste_cluster", "status"], name="run_cluster_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="training_run_progress_percent"
            ),
        ]

    def __str__(self) -> str:
        return f"run #{self.pk} {self.region_id}/{self.taste_cluster_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_RUN_STATUSES


#: The statuses a retrain run ends in (:attr:`TrainingRun.is_finished`, and as a query).
FINISHED_RUN_STATUSES = (
    TrainingRun.Status.SUCCEEDED,
    TrainingRun.Status.REJECTED,
    TrainingRun.Status.FAILED,
)


class AbandonedTask(models.Model):
    """A Celery task given up after its worker process was lost on every delivery.

    Tasks are acknowledged late and handed on when their worker dies, so a deploy
    loses none; a task that kills its worker itself (out of memory, a crash in
    native code) would come back forever and hold up its queue. After
    ``MAX_DELIVERIES`` it is recorded here instead, for an operator to look into
    (``recommendations.services.deliveries``). Its next scheduled send runs as usual.
    """

    name = models.CharField(max_length=200, db_index=True)
    task_id = models.CharField(max_length=64, db_index=True)
    arguments = models.JSONField(
        default=dict, blank=True, help_text="The task's args and kwargs, as sent."
    )
    deliveries = models.PositiveSmallIntegerField(
        help_text="Deliveries that started and never finished."
    )
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} [{self.task_id}]"
