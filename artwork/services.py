"""State changes for artwork: variants switched on and off, and the policy's updates."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from PIL import Image

from catalog.models import Genre
from recommendations.engine.artwork_bandit import ThemesChanged, artwork_context
from recommendations.engine.ranking import DEVICE_CLASSES
from recommendations.models import PageLog

from .image_names import ARTWORK_DIR
from .models import ArtworkPolicy, ArtworkTheme, ArtworkVariant, ArtworkVariantDaily
from .policy import PolicyParams, bandit_new, policy_delete, policy_read, policy_write
from .renditions import WIDTHS, rendition_names, renditions_render
from .selectors import (
    ArtworkImpressions,
    VariantThemes,
    artwork_daily_cut,
    artwork_files_named,
    artwork_folded_before,
    artwork_impressions,
    variant_themes,
)

logger = logging.getLogger(__name__)


def artwork_variants_set_active(*, variants: QuerySet[ArtworkVariant], active: bool) -> int:
    """Switch variants on or off; returns how many changed.

    A deactivated variant leaves the choices at the next page build; its logged
    impressions stay, so it can be reactivated without losing history.
    """
    # ``update`` skips ``auto_now``: stamp the change so serving processes notice it.
    return variants.exclude(is_active=active).update(is_active=active, updated_at=timezone.now())


def artwork_variants_lock(*, variants: QuerySet[ArtworkVariant]) -> list[int]:
    """Lock variants about to be deleted, in the caller's transaction; their ids.

    For every deletion that reaches variants, theirs or their title's, before it
    deletes anything. A policy update writes a day's figures under ``FOR KEY SHARE`` on
    their variants (:func:`_variants_kept`), and Django's deletion deletes a variant's
    figures before the variant: figures written before that ``DELETE`` and committed
    before the variant's made the deletion fail its commit on their foreign key (a
    server error in admin). Locked first, an update that holds a variant is waited for
    and its figures deleted with the rest; one that comes after waits for the deletion
    and leaves the variant out. In id order, as the update, a refit and the prune lock
    them (also those of the figures they only delete): none can deadlock with it.
    """
    return list(
        ArtworkVariant.objects.filter(pk__in=variants.values("pk"))
        .order_by("pk")
        .select_for_update()
        .values_list("pk", flat=True)
    )


@transaction.atomic
def artwork_variants_delete(*, variants: QuerySet[ArtworkVariant]) -> int:
    """Delete variants with their daily figures, locked first (:func:`artwork_variants_lock`);
    how many went."""
    locked = artwork_variants_lock(variants=variants)
    _, deleted = ArtworkVariant.objects.filter(pk__in=locked).delete()
    return deleted.get(ArtworkVariant._meta.label, 0)


#: An image file no variant names is deleted only this long after it was written. Serving
#: processes hand out a deleted variant's URL until their next full reload (five minutes),
#: the pages they served stay on screens for a while longer, and an upload is written to
#: storage before the transaction that names it commits.
ORPHAN_GRACE = dt.timedelta(days=1)


def artwork_files_prune(*, now: dt.datetime | None = None) -> int:
    """Delete image files under ``artwork/`` that no variant names, once past the grace.

    A variant names its image and that image's copies per device class
    (:func:`artwork_image_renditions_store`).

    Deleting a variant (or its title) deletes its row, not its file: the file
    stayed in storage for good, still served at its URL, and its space never
    came back. Storage is listed before the variants are read, so a file whose
    variant is created meanwhile is seen as named; files outside the artwork
    folder (model and policy artefacts) are never looked at. Returns how many
    files went.
    """
    now = now or timezone.now()
    storage = default_storage
    try:
        folders, files = storage.listdir(ARTWORK_DIR)
    except FileNotFoundError:
        return 0
    stored = [f"{ARTWORK_DIR}/{name}" for name in files]
    for folder in folders:
        stored.extend(
            f"{ARTWORK_DIR}/{folder}/{name}"
            for name in storage.listdir(f"{ARTWORK_DIR}/{folder}")[1]
        )
    named = artwork_files_named(variants=ArtworkVariant.objects.all())
    deleted = 0
    for name in stored:
        if name in named or now - storage.get_modified_time(name) < ORPHAN_GRACE:
            continue
        storage.delete(name)
        deleted += 1
    if deleted:
        logger.info("deleted %d artwork file(s) no variant names", deleted)
    return deleted


def artwork_image_renditions_store(*, image: str, width: int) -> list[str]:
    """Store each device class's copy of the stored image ``image`` (``width`` wide) that
    it needs and storage does not hold yet; the names written.

    A copy's name is fixed by its image's and its device class (``artwork.renditions``),
    and its bytes by the image's: one already stored is that copy, and is left as it is.
    Two processes making the same copy at once both render it; storage then gives the
    second a suffixed name, which is deleted, keeping the first (the same bytes).
    """
    names = rendition_names(image=image, width=width)
    if not names:
        return []
    missing = {
        name: WIDTHS[device] for device, name in names.items() if not default_storage.exists(name)
    }
    if not missing:
        return []
    with default_storage.open(image, "rb") as stored:
        data = stored.read()
    written = []
    for name, (copy, _) in renditions_render(data, widths=missing).items():
        saved = default_storage.save(name, ContentFile(copy))
        if saved != name:
            default_storage.delete(saved)
            continue
        written.append(saved)
    return written


def artwork_variant_renditions_make(*, variant: ArtworkVariant) -> list[str]:
    """Store the variant image's copies per device class and mark them made; the names
    written (none when they were all there: safe to run again).

    ``renditions_made`` is set without stamping ``updated_at``: serving needs no hurry
    (until its next full reload, within five minutes, it sends the image itself, which
    every device class was sent before), and a stamp makes the variant leave every
    process's choices until a background re-read; a backfill stamping thousands would
    have done so to all of them. A variant created in the same transaction (admin's
    upload) is read with its flag from the start.
    """
    if not variant.image:
        return []
    written = artwork_image_renditions_store(image=variant.image.name, width=variant.width)
    if not variant.renditions_made:
        ArtworkVariant.objects.filter(pk=variant.pk).update(renditions_made=True)
        variant.renditions_made = True
    return written


@dataclass(frozen=True)
class RenditionsBackfilled:
    """What :func:`artwork_renditions_backfill` did."""

    variants: int  # marked made
    files: int  # copies written
    failed: int  # variants whose image could not be read (left unmarked: sent the image)


def artwork_renditions_backfill(
    *,
    batch_size: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> RenditionsBackfilled:
    """Make the copies of every variant with an image whose copies are not made yet.

    Variants are read a batch at a time by id, so a run over 70,000 variants holds no
    long transaction and can be stopped and started again: what is done stays done.
    An image shared by several variants (the demo's pool) is rendered once. A variant
    whose image cannot be read (missing from storage, damaged) is logged and left as
    it was: it goes on being sent its image, and the next run tries it again.
    ``progress(done, total)`` is called after each variant.
    """
    pending = ArtworkVariant.objects.exclude(image="").filter(renditions_made=False)
    total = pending.count()
    done = files = 0
    failed: list[int] = []
    after = 0
    stored: set[str] = set()
    while True:
        batch = list(
            pending.filter(pk__gt=after).order_by("pk").only("pk", "image", "width")[:batch_size]
        )
        if not batch:
            break
        made = []
        for variant in batch:
            name = variant.image.name
            try:
                if name not in stored:
                    files += len(artwork_image_renditions_store(image=name, width=variant.width))
                    stored.add(name)
                made.append(variant.pk)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
                logger.warning("artwork variant %d: its image %s cannot be read", variant.pk, name)
                failed.append(variant.pk)
            done += 1
            if progress is not None:
                progress(done, total)
        ArtworkVariant.objects.filter(pk__in=made).update(renditions_made=True)
        after = batch[-1].pk
    if files or failed:
        logger.info(
            "stored %d artwork rendition file(s); %d variant(s) done, %d failed",
            files,
            done - len(failed),
            len(failed),
        )
    return RenditionsBackfilled(variants=done - len(failed), files=files, failed=len(failed))


#: Daily figures deleted per statement by :func:`artwork_daily_prune` and a full refit.
DAILY_PRUNE_BATCH = 5000


def artwork_daily_prune(*, now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """Delete the daily figures of days past ``ARTWORK_DAILY_KEEP_DAYS``; how many went.

    A row per variant, device class and day (tens of thousands a day at the demo's
    catalogue) that nothing else deletes. Called outside a transaction, each batch of at
    most ``batch_size`` rows (found through the index on ``day``) commits on its own, as
    the page log's prune does: no long transaction or many row locks, and a stopped run
    keeps what it deleted.

    A batch locks its figures' variants first (:func:`_variants_locked`), as a policy
    update does: a ``DELETE`` of figures locks their rows, not their variant's, and takes
    them in its plan's order (a large table's scan may start anywhere in it; an index's
    is its own), a variant's deletion in its own. A deletion that took one of the
    variant's figures, then waited on another the batch held, deadlocked with the batch
    coming for the first (PostgreSQL aborted one: a server error in admin or a failed
    prune).
    """
    cut = artwork_daily_cut(now=now)
    size = int(batch_size or DAILY_PRUNE_BATCH)
    old = ArtworkVariantDaily.objects.filter(day__lt=cut)
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(old.values_list("pk", flat=True)[:size])
            if batch:
                _variants_locked(
                    "{pk} IN (SELECT variant_id FROM {figures} WHERE id = ANY(%s))", [batch]
                )
            # No cascade and no receivers: Django deletes this in one statement.
            count, _ = ArtworkVariantDaily.objects.filter(pk__in=batch).delete()
        deleted += count
        if len(batch) < size:
            break
    if deleted:
        logger.info("artwork daily figures before %s pruned: %d deleted", cut, deleted)
    return deleted


def _daily_delete(figures: QuerySet[ArtworkVariantDaily], *, size: int) -> int:
    """Delete ``figures`` at most ``size`` a statement (found through an index on ``day``);
    how many went."""
    deleted = 0
    while True:
        # No cascade and no receivers: Django deletes this in one statement.
        count, _ = ArtworkVariantDaily.objects.filter(pk__in=figures.values("pk")[:size]).delete()
        deleted += count
        if count < size:
            return deleted


# --- The artwork policy ----------------------------------------------------------------------

#: Advisory-lock key of policy updates: two never fold the same impressions.
POLICY_LOCK_KEY = 0x41525457  # "ARTW"
#: Pages are read a day at a time, so a full refit's memory does not grow with the window.
CHUNK = dt.timedelta(days=1)


def _policy_lock(*, wait: bool) -> bool:
    """Take the policy's lock for the transaction; ``False`` if another holds it and
    ``wait`` is off."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [POLICY_LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [POLICY_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def artwork_policy_lock(*, wait: bool) -> bool:
    """Hold the policy's lock until the caller's transaction ends; ``False`` if an update
    or a refit holds it and ``wait`` is off.

    For what deletes the policies and what they are folded from (``seed_demo --flush``):
    an update running meanwhile would store a policy of what was deleted, or one whose
    parent was, and deadlock with the deletion on the variants whose figures it wrote.
    A no-op outside PostgreSQL, as the updates' own lock is.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("artwork_policy_lock is held until a transaction ends: open one")
    return _policy_lock(wait=wait)


#: One daily figure to add: variant id, device class, day, impressions, plays.
_DailyRow = tuple[int, str, dt.date, int, int]


def _stats_rows(impressions: ArtworkImpressions, known: set[int]) -> list[_DailyRow]:
    """Impressions and plays per (variant, device, day), for the daily roll-ups."""
    keep = np.isin(impressions.variant, np.fromiter(known, dtype=np.int64, count=len(known)))
    if not keep.any():
        return []
    variant = impressions.variant[keep]
    device = impressions.device[keep]
    day = impressions.day[keep].astype(np.int64)
    keys = np.stack([variant, device, day], axis=1)
    unique, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    plays = np.bincount(
        inverse.reshape(-1), weights=impressions.played[keep], minlength=len(unique)
    )
    epoch = dt.date(1970, 1, 1)
    return [
        (int(v), DEVICE_CLASSES[int(d)], epoch + dt.timedelta(days=int(y)), int(c), int(p))
        for (v, d, y), c, p in zip(unique.tolist(), counts.tolist(), plays.tolist(), strict=True)
    ]


def _variants_kept(
    ids: list[int], *, replacing: Sequence[dt.date] = (), after: dt.date | None = None
) -> set[int]:
    """Which of ``ids`` are variants still, each kept from deletion until the transaction ends,
    with the variants of the figures of the days ``replacing`` and after ``after``.

    ``FOR KEY SHARE``, the lock the daily figures' foreign key check takes anyway, in id
    order and in one statement: a deletion that came first is waited for and its variant
    left out, one that comes after waits for the figures' commit; edits of the variants
    are not held up. The variants of figures only deleted are locked too: a ``DELETE`` of
    figures locks their rows, not their variant's, and a deletion of a variant that took
    one of its figures, then waited on another this transaction had deleted, deadlocked
    with this transaction coming for the first.
    """
    if not ids and not replacing and after is None:
        return set()
    if connection.vendor != "postgresql":
        return set(ArtworkVariant.objects.filter(pk__in=ids).values_list("pk", flat=True))
    where, params = "{pk} = ANY(%s)", [ids]
    if replacing or after is not None:
        # ``day > NULL`` is no day.
        where += " OR {pk} IN (SELECT variant_id FROM {figures} WHERE day = ANY(%s) OR day > %s)"
        params += [list(replacing), after]
    locked = _variants_locked(where, params)
    return locked.intersection(ids)


def _variants_locked(where: str, params: list[object]) -> set[int]:
    """The variants ``where`` picks (SQL; ``{pk}`` names their key, ``{figures}`` the daily
    figures' table), locked ``FOR KEY SHARE`` in id order in one statement; their ids.

    The one way figures' writers and deleters lock variants, so that all of them, and a
    variant's deletion (:func:`artwork_variants_lock`), take variants in the same order.
    """
    if connection.vendor != "postgresql":
        return set()
    table = connection.ops.quote_name(ArtworkVariant._meta.db_table)
    pk = connection.ops.quote_name(ArtworkVariant._meta.pk.column)
    figures = connection.ops.quote_name(ArtworkVariantDaily._meta.db_table)
    condition = where.format(pk=pk, figures=figures)
    with connection.cursor() as cursor:
        # Only quoted identifiers of the models are interpolated.
        cursor.execute(
            f"SELECT {pk} FROM {table} WHERE {condition} ORDER BY {pk} FOR KEY SHARE",  # noqa: S608
            params,
        )
        return {row[0] for row in cursor.fetchall()}


def _stats_write(
    rows: list[_DailyRow],
    *,
    replacing: Sequence[dt.date] = (),
    after: dt.date | None = None,
    size: int = DAILY_PRUNE_BATCH,
) -> None:
    """Add ``rows`` to the daily roll-ups, once the figures of the days ``replacing`` and of
    those after ``after`` are deleted (at most ``size`` a statement); those of variants
    deleted meanwhile are dropped.

    Which variants exist is read once, when an update or refit begins; a refit takes
    minutes, and a variant staff deleted since then failed its day's commit on the
    figures' foreign key (the deletion took the variant's figures with it; these
    would be a deleted variant's).

    Every variant written for, and every variant whose figures are deleted, is locked
    (:func:`_variants_kept`) before any figure is deleted or written, and only here, once
    a transaction: a deletion locks its variants
    in id order before it deletes their figures (:func:`artwork_variants_lock`), so the
    two lock in the same order and cannot deadlock. An update that locked each day's
    variants as it wrote that day, in a transaction of several days, locked them out of
    order (the first day's variants {5, 9}, the next day's {3}), and so did a refit's
    day that deleted a variant's old figures before locking it: PostgreSQL aborted the
    deletion (a server error in admin) or the update.
    """
    ids = sorted({row[0] for row in rows})
    kept = _variants_kept(ids, replacing=replacing, after=after)
    if len(kept) < len(ids):
        gone = [variant for variant in ids if variant not in kept]
        logger.info(
            "artwork daily figures of %d variant(s) deleted meanwhile dropped: %s",
            len(gone),
            ", ".join(map(str, gone)),
        )
        rows = [row for row in rows if row[0] in kept]
    for day in replacing:
        _daily_delete(ArtworkVariantDaily.objects.filter(day=day), size=size)
    if after is not None:
        _daily_delete(ArtworkVariantDaily.objects.filter(day__gt=after), size=size)
    if not rows:
        return
    table = connection.ops.quote_name(ArtworkVariantDaily._meta.db_table)
    # Only the quoted table name is interpolated. Both databases speak ON CONFLICT.
    sql = (
        f"INSERT INTO {table} (variant_id, device, day, impressions, plays) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (variant_id, device, day) DO UPDATE SET "
        f"impressions = {table}.impressions + EXCLUDED.impressions, "
        f"plays = {table}.plays + EXCLUDED.plays"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _prune_policies() -> None:
    kept = int(settings.TONIGHT.get("ARTWORK_POLICIES_KEPT", 48))
    old = list(ArtworkPolicy.objects.order_by("-pk")[max(kept, 1) :].values_list("pk", "artefact"))
    if not old:
        return
    ArtworkPolicy.objects.filter(pk__in=[pk for pk, _ in old]).delete()
    paths = [path for _, path in old]
    transaction.on_commit(lambda: [policy_delete(path) for path in paths])


def artwork_policy_update(
    *,
    full: bool = False,
    now: dt.datetime | None = None,
    progress: Callable[[float], None] | None = None,
    wait: bool = True,
    batch_size: int | None = None,
) -> ArtworkPolicy | None:
    """Fold the impressions whose reward window has closed into a new policy version.

    Incremental (the default, every few minutes from beat): start from the
    newest policy and read only the pages logged since it. Full (``full=True``,
    from a retrain): start from the prior over the last
    ``TONIGHT["ARTWORK_TRAINING_DAYS"]`` days, on today's genres and themes,
    and recompute the daily roll-ups of those days (:func:`_policy_refit`; its old
    roll-ups are deleted at most ``batch_size`` per statement). A page is folded once
    its attribution window, the clock skew and the upload grace have passed
    (:func:`~artwork.selectors.artwork_folded_before`), and by the updates only once: a
    play uploaded later than that (an offline device's) stays a miss in the policy and
    the daily figures until the next full refit, which folds its window's pages again.
    Returns ``None`` when there was nothing new to fold, or, without ``wait``, when
    another update holds the policy: beat's five-minute update passes then, as the
    next one folds the same pages, rather than hold a slot of the default queue's
    worker (the reaper's, the fan-outs') for as long as a full refit takes.
    """
    now = now or timezone.now()
    if not full:
        with transaction.atomic():
            if not _policy_lock(wait=wait):
                logger.info("artwork policy update skipped: another update holds the policy")
                return None
            try:
                return _policy_update_locked(now=now, progress=progress)
            except _NoPolicyYet:
                pass
            except ThemesChanged:
                # A designer re-tagged a variant the policy has learned: its old impressions
                # are in the shared statistics under the old themes, so only a refit on
                # today's themes is coherent.
                logger.warning(
                    "artwork variant themes changed since the last policy: refitting in full"
                )
                wait = True
    with _policy_held(wait=wait) as held:
        if not held:
            logger.info("artwork policy refit skipped: another update holds the policy")
            return None
        return _policy_refit(now=now, progress=progress, batch_size=batch_size)


class _NoPolicyYet(Exception):
    """No policy to update incrementally: the first one is a full refit."""


@contextmanager
def _policy_held(*, wait: bool) -> Iterator[bool]:
    """The policy's lock for the session, across a refit's transactions; whether it is held.

    The same lock as :func:`_policy_lock`'s (an update waits for a refit, and a refit
    for an update), held at session level: a refit commits a day at a time. Released at
    the end, or with the session if the process dies.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [POLICY_LOCK_KEY])
            held = True
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [POLICY_LOCK_KEY])
            held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [POLICY_LOCK_KEY])
            except DatabaseError as error:
                # A connection that went away took its session's lock with it.
                logger.warning("artwork policy lock not released: %s", error)


def _fold(
    *,
    params: PolicyParams,
    since: dt.datetime,
    until: dt.datetime,
    known: set[int],
    report: Callable[[float], None],
    store: Callable[[dt.datetime, list[_DailyRow]], None],
) -> tuple[int, int]:
    """Fold the closed impressions of ``[since, until)`` into ``params``, a day of pages at a
    time, handing each day's figures to ``store``; how many impressions and plays."""
    themes_of = variant_themes(params.themes)
    existing = np.fromiter(known, dtype=np.int64, count=len(known))
    added = added_plays = 0
    chunk_start = since
    total = (until - since).total_seconds()
    while chunk_start < until:
        chunk_end = min(chunk_start + CHUNK, until)
        impressions = artwork_impressions(since=chunk_start, until=chunk_end, genres=params.genres)
        if len(impressions):
            params.bandit.partial_fit(
                context=artwork_context(
                    taste=impressions.taste,
                    device=impressions.device,
                    hour_bucket=impressions.hour_bucket,
                ),
                themes=_themes_folded(params, themes_of, impressions.variant, existing),
                variant=impressions.variant,
                reward=impressions.played.astype(np.float64),
            )
            added += len(impressions)
            added_plays += int(impressions.played.sum())
        store(chunk_start, _stats_rows(impressions, known) if len(impressions) else [])
        chunk_start = chunk_end
        report((chunk_start - since).total_seconds() / total)
    return added, added_plays


def _themes_folded(
    params: PolicyParams,
    themes_of: VariantThemes,
    variant: np.ndarray,
    existing: np.ndarray,
) -> np.ndarray:
    """Each impression's variant themes: today's, or for a variant deleted since its page was
    logged, those the policy learned it with.

    A deleted variant has no themes left to read. Folded as themeless, one the policy had
    learned with themes counted as re-tagged, and every update within a session window of
    its deletion became a full refit of the training window (minutes, in beat's worker).
    One the policy never learned stays themeless, as a full refit folds it.
    """
    themes = themes_of.of(variant)
    gone = ~np.isin(variant, existing)
    if gone.any():
        learned, known = params.bandit.learned_themes(variant[gone])
        rows = themes[gone]
        rows[known] = learned[known]
        themes[gone] = rows
    return themes


def _policy_store(
    *,
    params: PolicyParams,
    base: ArtworkPolicy | None,
    since: dt.datetime,
    until: dt.datetime,
    seen: int,
    plays: int,
    added: int,
    added_plays: int,
    started: float,
) -> ArtworkPolicy:
    """Write the parameters, then the row that names them; in the caller's transaction."""
    path = policy_write(params)
    try:
        policy = ArtworkPolicy.objects.create(
            kind=ArtworkPolicy.Kind.FULL if base is None else ArtworkPolicy.Kind.INCREMENTAL,
            parent=base,
            trained_since=since if base is None else base.trained_since,
            trained_through=until,
            n_impressions=seen + added,
            n_new=added,
            n_plays=plays + added_plays,
            artefact=path,
            seconds=time.perf_counter() - started,
        )
        _prune_policies()
    except BaseException:
        policy_delete(path)
        raise
    return policy


def _policy_update_locked(
    *, now: dt.datetime, progress: Callable[[float], None] | None
) -> ArtworkPolicy | None:
    started = time.perf_counter()
    until = artwork_folded_before(now)
    report = progress or (lambda fraction: None)
    with transaction.atomic():
        parent = ArtworkPolicy.objects.order_by("-pk").first()
        if parent is None:
            raise _NoPolicyYet
        since = parent.trained_through
        if since >= until:
            return None
        params = policy_read(parent.artefact)
        known = set(ArtworkVariant.objects.values_list("pk", flat=True))
        # Written together once folded, under one lock of their variants (:func:`_stats_write`):
        # a day's figures, a row per variant and device, are far fewer than its impressions.
        rows: list[_DailyRow] = []
        added, added_plays = _fold(
            params=params,
            since=since,
            until=until,
            known=known,
            report=report,
            store=lambda day, day_rows: rows.extend(day_rows),
        )
        _stats_write(rows)
        if added == 0:
            # Nothing closed in the window: move the watermark without a new file.
            ArtworkPolicy.objects.filter(pk=parent.pk).update(trained_through=until)
            return None
        return _policy_store(
            params=params,
            base=parent,
            since=since,
            until=until,
            seen=parent.n_impressions,
            plays=parent.n_plays,
            added=added,
            added_plays=added_plays,
            started=started,
        )


def _policy_refit(
    *, now: dt.datetime, progress: Callable[[float], None] | None, batch_size: int | None
) -> ArtworkPolicy | None:
    """A policy from the prior over the training window, and that window's daily figures anew.

    Called holding the policy's lock (:func:`_policy_held`), outside a transaction. Each
    day's old figures are deleted, at most ``batch_size`` rows a statement, and its new
    ones written in one transaction of that day's own, as its pages are folded: a reader
    sees a day's figures whole, the old ones or the new, never a day half rewritten or
    missing, and no transaction holds the window's rows (millions at scale) or stays
    open for the refit's minutes, keeping vacuum from reclaiming anything meanwhile.
    Until the refit ends the days before it are new and those after it old, each
    complete.

    Only a day whose pages the policy chain had all folded (before the newest policy's
    watermark) commits on its own. The days from the watermark on (the last day, or the
    few since beat last updated) are rewritten in the transaction that stores the new
    policy: had the refit failed after rewriting them, the next incremental update,
    folding from the old watermark, would count their newest pages a second time.
    """
    started = time.perf_counter()
    until = artwork_folded_before(now)
    size = int(batch_size or DAILY_PRUNE_BATCH)
    report = progress or (lambda fraction: None)
    days = int(settings.TONIGHT["ARTWORK_TRAINING_DAYS"])
    midnight = until.replace(hour=0, minute=0, second=0, microsecond=0)
    since = midnight - dt.timedelta(days=days)
    first = PageLog.objects.filter(generated_at__gte=since).order_by("generated_at")
    first_at = first.values_list("generated_at", flat=True).first()
    if first_at is None or first_at >= until:
        return None
    since = max(since, first_at.replace(hour=0, minute=0, second=0, microsecond=0))
    folded_before = (
        ArtworkPolicy.objects.order_by("-pk").values_list("trained_through", flat=True).first()
    )
    params = bandit_new(
        genres=tuple(Genre.objects.order_by("slug").values_list("slug", flat=True)),
        themes=tuple(ArtworkTheme.objects.order_by("slug").values_list("slug", flat=True)),
    )
    known = set(ArtworkVariant.objects.values_list("pk", flat=True))
    held: list[tuple[dt.date, list[_DailyRow]]] = []

    def store(day_start: dt.datetime, rows: list[_DailyRow]) -> None:
        if folded_before is not None and day_start + CHUNK > folded_before:
            held.append((day_start.date(), rows))
            return
        with transaction.atomic():
            _stats_write(rows, replacing=[day_start.date()], size=size)

    added, added_plays = _fold(
        params=params, since=since, until=until, known=known, report=report, store=store
    )
    with transaction.atomic():
        # Figures of days after the window's last go too (an update run with a later ``now``).
        _stats_write(
            [row for _, rows in held for row in rows],
            replacing=[day for day, _ in held],
            after=(until - dt.timedelta(microseconds=1)).date(),
            size=size,
        )
        return _policy_store(
            params=params,
            base=None,
            since=since,
            until=until,
            seen=0,
            plays=0,
            added=added,
            added_plays=added_plays,
            started=started,
        )
