"""Build (or replace) the demo world, phase by phase, all of it in one transaction.

Phases: flush of the previous demo (when replacing), reference data,
catalogue, artwork, households, history, hidden tastes file. The demo commits
whole or not at all: a run that fails, however late (an error, Ctrl-C, the
database refusing the commit), leaves the database, the image files and the
hidden-tastes file as they were before it, the previous demo included.
"""

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from django.apps import apps
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account
from artwork.models import ArtworkPolicy, ArtworkVariant, ArtworkVariantDaily
from artwork.policy import policy_delete
from artwork.selectors import artwork_files_named
from artwork.services import artwork_policy_lock, artwork_variants_lock
from catalog.models import Person, Title
from profiles.models import Profile
from recommendations.models import ModelVersion, PageLog, Signal, TrainingRun
from recommendations.serving.artefacts import artefact_delete
from recommendations.signal_events import EARLIEST_SIGNAL_TIME

from .artwork_variants import create_artwork, delete_artwork_files
from .catalogue import DEMO_PREFIX, plan_catalogue, write_catalogue
from .history import HISTORY_DAYS, HistoryBuilder
from .households import create_households
from .progress import Progress, silent_progress
from .reference import ensure_reference_data
from .tastes import SHOWCASE_ACCOUNT_NAME, hidden_tastes_path, write_hidden_tastes

ARTWORK_MODES = ("auto", "full", "shared")
# Apps whose tables the demo fills (and whose statistics it refreshes).
DEMO_APPS = ("catalog", "regions", "artwork", "accounts", "profiles", "recommendations", "auth")
# The earliest day the history can end on: it runs HISTORY_DAYS before, and no signal can
# be earlier than EARLIEST_SIGNAL_TIME (the signals API and the imports refuse one).
EARLIEST_AS_OF = (EARLIEST_SIGNAL_TIME + dt.timedelta(days=HISTORY_DAYS)).date()


@dataclass(frozen=True)
class DemoOptions:
    """The command's options, as the builder takes them."""

    seed: int = 42
    titles: int = 600
    profiles: int = 800
    history: int = 60
    artwork_images: str = "auto"
    as_of: dt.date | None = None  # the history ends at this date's midnight UTC; default today

    def anchor(self) -> dt.datetime:
        """The instant the history ends at; release dates and licences are relative to it."""
        day = self.as_of or timezone.now().astimezone(dt.UTC).date()
        return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@dataclass
class DemoReport:
    """What a run created, for the command to print."""

    counts: dict[str, int] = field(default_factory=dict)
    flushed: dict[str, int] = field(default_factory=dict)  # the previous demo's, when replaced
    signals_by_kind: Counter[str] = field(default_factory=Counter)
    sessions: Counter[str] = field(default_factory=Counter)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    showcase_account_id: int | None = None
    showcase_profiles: list[tuple[int, str]] = field(default_factory=list)
    hidden_tastes_path: str = ""


def demo_data_counts() -> dict[str, int]:
    """How much demo data the database holds (zero everywhere means none)."""
    return {
        "titles": Title.objects.filter(external_id__startswith=DEMO_PREFIX).count(),
        "accounts": Account.objects.filter(external_id__startswith=DEMO_PREFIX).count(),
    }


def demo_data_exists() -> bool:
    """Whether any demo title or household is in the database."""
    return (
        Title.objects.filter(external_id__startswith=DEMO_PREFIX).exists()
        or Account.objects.filter(external_id__startswith=DEMO_PREFIX).exists()
    )


def _flush_demo_rows(progress: Progress) -> tuple[dict[str, int], set[str]]:
    """Delete every demo row; returns the counts and the image files the rows named.

    The caller holds the transaction and deletes the image files once it commits.
    Reference data and the admin user stay. What was learned from the previous
    demo goes too (:func:`_flush_learned_state`), so that nothing serves until
    ``train_models``, as on a fresh database. First it takes the artwork policy's lock
    (:func:`_wait_for_artwork_policy`), so that no update folds the previous demo meanwhile.

    Signals go first, as one set-based DELETE per filter (Signal has no
    dependents, so the ORM deletes without loading rows); left to the account
    and title cascades they would be collected object by object. The rest goes
    through the ORM's cascades in chunks, so that tables other apps add later
    are cleaned too.
    """
    deleted: dict[str, int] = {}
    _wait_for_artwork_policy(progress)
    accounts = Account.objects.filter(external_id__startswith=DEMO_PREFIX)
    titles = Title.objects.filter(external_id__startswith=DEMO_PREFIX)
    with progress("Flush: previous demo data", 5, "steps") as advance:
        deleted.update(_flush_learned_state())
        advance(1)
        image_names = artwork_files_named(variants=ArtworkVariant.objects.filter(title__in=titles))
        advance(1)
        # Filtering on the foreign-key columns themselves (not through a join) keeps
        # each DELETE single-table: a join makes Django delete "WHERE id IN (SELECT
        # id FROM signal JOIN ...)", ten million index probes at benchmark size.
        profiles = Profile.objects.filter(account__in=accounts).values("pk")
        by_profile = Signal.objects.filter(profile_id__in=profiles)
        by_title = Signal.objects.filter(title_id__in=titles.values("pk"))
        deleted["signals"] = by_profile.delete()[0] + by_title.delete()[0]
        advance(1)
        deleted["accounts"] = _delete_in_chunks(accounts, 2000)
        advance(1)
        # A policy update may be writing their figures: artwork_variants_lock says why.
        artwork_variants_lock(variants=ArtworkVariant.objects.filter(title__in=titles))
        deleted["titles"] = _delete_in_chunks(titles, 1000)
        _delete_in_chunks(Person.objects.filter(external_id__startswith=DEMO_PREFIX), 10_000)
        advance(1)
    return deleted, image_names


def _wait_for_artwork_policy(progress: Progress) -> None:
    """Take the artwork policy's lock for the rest of the build, waiting for a running update.

    An update (beat's, every few minutes, or a retrain's refit) running under the flush
    would store, after the reseed, a policy folded from the previous demo, or deadlock
    with the flush. Held until the build commits, it makes beat's updates pass meanwhile
    and a refit wait, then fold the new demo. Waiting rather than refusing: beat's update
    takes seconds, and a reseed that failed whenever one ran would fail at random; a
    refit takes longer, so the wait is shown, and Ctrl-C leaves the previous demo whole.
    """
    if artwork_policy_lock(wait=False):
        return
    with progress("Flush: waiting for the running artwork policy update", 1, "steps") as advance:
        artwork_policy_lock(wait=True)
        advance(1)


def _flush_learned_state() -> dict[str, int]:
    """Delete what was learned from the previous demo; its stored files go once it commits.

    Model versions (global, region and cluster ones) index the previous demo's
    title and profile ids, which the new demo does not reuse: left active they
    would serve the new profiles pages from models that know none of them (a 200
    with no rows, at the default size) instead of the documented "no active
    model", and be loaded at every server start. The page log was
    served by those versions and shows the previous titles; the artwork
    policies and daily roll-ups are folded from it; training runs report on
    versions that are gone. Nothing of it is the previous demo's alone (the
    versions were trained on every signal), so all of it goes, as on a fresh
    database: ``train_models`` serves again. Serving processes notice at their
    next version check (``MODEL_VERSION_CHECK_SECONDS``) and answer 503.

    The files are deleted with the existing cleanup paths (``artefact_delete``,
    as for a failed version; ``policy_delete``, as for pruned policies) after
    the commit: a flush that fails leaves the previous versions serving.
    """
    artefact_keys = [
        key for key in ModelVersion.objects.values_list("artefact_key", flat=True) if key
    ]
    policy_paths = list(ArtworkPolicy.objects.values_list("artefact", flat=True))
    deleted = {
        # No dependents: each is one set-based DELETE.
        "pages": PageLog.objects.all().delete()[0],
        "artwork daily stats": ArtworkVariantDaily.objects.all().delete()[0],
        "training runs": TrainingRun.objects.all().delete()[0],
    }
    deleted["artwork policies"] = (
        ArtworkPolicy.objects.all().delete()[1].get(ArtworkPolicy._meta.label, 0)
    )
    deleted["model versions"] = (
        ModelVersion.objects.all().delete()[1].get(ModelVersion._meta.label, 0)
    )

    def delete_files() -> None:
        for key in artefact_keys:
            artefact_delete(key)
        for path in policy_paths:
            policy_delete(path)

    transaction.on_commit(delete_files)
    return deleted


def _delete_in_chunks(queryset: QuerySet, chunk: int) -> int:
    """Delete through the ORM (so every cascade runs), a chunk of rows at a time.

    Django's delete collector puts all collected ids into one ``IN (...)``, and
    psycopg refuses more than 65,535 parameters: 100,000 demo profiles would
    fail. Chunks keep each statement small; the caller's transaction keeps the
    whole flush atomic.
    """
    pks = list(queryset.values_list("pk", flat=True))
    label = queryset.model._meta.label
    deleted = 0
    for start in range(0, len(pks), chunk):
        rows = queryset.model.objects.filter(pk__in=pks[start : start + chunk])
        deleted += rows.delete()[1].get(label, 0)
    return deleted


def analyze_demo_tables() -> None:
    """Refresh PostgreSQL's planner statistics for every table the demo fills.

    Right after a bulk load the statistics still describe the empty tables, and
    the first queries (a benchmark, a flush) get nested-loop plans meant for a
    few rows. Autovacuum would catch up eventually; a benchmark should not wait.
    It runs after the commit, on the tables as other sessions see them.
    """
    if connection.vendor != "postgresql":
        return
    tables = set()
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in DEMO_APPS and not model._meta.proxy:
            tables.add(model._meta.db_table)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in sorted(tables):
            cursor.execute(f"ANALYZE {quote(table)}")


def build_demo(
    options: DemoOptions,
    progress: Progress = silent_progress,
    *,
    replace: bool = False,
    on_commit: Callable[[], object] | None = None,
) -> DemoReport:
    """Create the demo world described by ``options``, in one transaction.

    With ``replace``, the previous demo's rows are deleted in that transaction
    and its image files once it commits (``on_commit``: until then the previous
    demo may still be the one that stays); without it, the database must hold
    no demo. A build that fails deletes the image files it wrote, and leaves
    the hidden-tastes file alone: the new one is staged, and swapped in once
    the transaction has closed without error (the commit, when ``seed_demo``
    runs it; a caller's own outer transaction, such as a test's, commits later).
    ``on_commit`` is called once the demo is committed: a caller stopped after that (Ctrl-C
    as the tables are analysed) has a demo, one stopped before has what it had.
    """
    report = DemoReport()
    as_of = options.anchor()
    clock = time.perf_counter()
    written: list[str] = []  # image files this build stored, appended as they are
    previous_images: set[str] = set()
    tastes_path = hidden_tastes_path()
    staged_tastes = tastes_path.with_name(f"{tastes_path.stem}.staged{tastes_path.suffix}")

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        report.phase_seconds[phase] = round(now - clock, 2)
        clock = now

    try:
        with transaction.atomic():
            if on_commit is not None:
                transaction.on_commit(on_commit)
            if replace:
                report.flushed, previous_images = _flush_demo_rows(progress)
                lap("flush")

            ref = ensure_reference_data()
            lap("reference")

            plan = plan_catalogue(seed=options.seed, n_titles=options.titles, as_of=as_of)
            catalogue = write_catalogue(plan, ref=ref, as_of=as_of, progress=progress)
            lap("catalogue")

            variants = create_artwork(
                catalogue,
                ref=ref,
                seed=options.seed,
                mode=options.artwork_images,
                progress=progress,
                saved=written,
            )
            lap("artwork")

            profiles = create_households(
                seed=options.seed, n_profiles=options.profiles, ref=ref, progress=progress
            )
            lap("households")

            history = HistoryBuilder(
                catalogue=catalogue,
                variants=variants,
                ref=ref,
                seed=options.seed,
                events_per_profile=options.history,
                as_of=as_of,
            )
            report.signals_by_kind = history.run(profiles, progress)
            report.sessions = history.stats
            lap("history")

            popularity = dict(zip(catalogue.title_ids, catalogue.popularity.tolist(), strict=True))
            write_hidden_tastes(
                [p.taste for p in profiles],
                seed=options.seed,
                title_popularity=popularity,
                path=staged_tastes,
            )
            lap("hidden tastes")

            if previous_images:
                # The shared pool's files keep their names from one demo to the next:
                # delete only what no row (this demo's, or one staff pointed there) shows.
                shown = artwork_files_named(variants=ArtworkVariant.objects.all())
                transaction.on_commit(
                    partial(delete_artwork_files, sorted(previous_images - shown))
                )
    except BaseException:
        # Storage never overwrites, so these are new files; the check is belt and braces.
        delete_artwork_files(name for name in written if name not in previous_images)
        staged_tastes.unlink(missing_ok=True)
        raise
    # Its own phase: the commit checks the deferred foreign keys of every row written,
    # and the on-commit hooks delete the previous demo's image files.
    lap("commit")
    staged_tastes.replace(tastes_path)
    report.hidden_tastes_path = str(tastes_path)

    analyze_demo_tables()
    lap("analyze")

    showcase = Account.objects.filter(
        name=SHOWCASE_ACCOUNT_NAME, external_id__startswith=DEMO_PREFIX
    ).first()
    if showcase is not None:
        report.showcase_account_id = showcase.pk
        report.showcase_profiles = list(
            Profile.objects.filter(account=showcase).order_by("slot").values_list("pk", "name")
        )
    report.counts = {
        "titles": len(catalogue.title_ids),
        "series": sum(catalogue.is_series),
        "episodes": sum(len(s) for seasons in catalogue.episodes for s in seasons),
        "people": len(plan.people),
        "artwork variants": sum(len(v) for v in variants),
        "accounts": Account.objects.filter(external_id__startswith=DEMO_PREFIX).count(),
        "profiles": len(profiles),
        "kids profiles": sum(p.is_kids for p in profiles),
        "signals": sum(report.signals_by_kind.values()),
        "title states": history.title_states,
    }
    return report
