"""State changes for artwork: variants switched on and off, and the policy's updates."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from catalog.models import Genre
from recommendations.engine.artwork_bandit import ThemesChanged, artwork_context
from recommendations.engine.ranking import DEVICE_CLASSES
from recommendations.models import PageLog
from recommendations.selectors.attribution import closed_before

from .image_names import ARTWORK_DIR
from .models import ArtworkPolicy, ArtworkTheme, ArtworkVariant, ArtworkVariantDaily
from .policy import bandit_new, policy_delete, policy_read, policy_write
from .selectors import (
    ArtworkImpressions,
    artwork_daily_cut,
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


#: An image file no variant names is deleted only this long after it was written. Serving
#: processes hand out a deleted variant's URL until their next full reload (five minutes),
#: the pages they served stay on screens for a while longer, and an upload is written to
#: storage before the transaction that names it commits.
ORPHAN_GRACE = dt.timedelta(days=1)


def artwork_files_prune(*, now: dt.datetime | None = None) -> int:
    """Delete image files under ``artwork/`` that no variant names, once past the grace.

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
    named = set(ArtworkVariant.objects.exclude(image="").values_list("image", flat=True))
    deleted = 0
    for name in stored:
        if name in named or now - storage.get_modified_time(name) < ORPHAN_GRACE:
            continue
        storage.delete(name)
        deleted += 1
    if deleted:
        logger.info("deleted %d artwork file(s) no variant names", deleted)
    return deleted


#: Daily figures deleted per statement by :func:`artwork_daily_prune`.
DAILY_PRUNE_BATCH = 5000


def artwork_daily_prune(*, now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """Delete the daily figures of days past ``ARTWORK_DAILY_KEEP_DAYS``; how many went.

    A row per variant, device class and day (tens of thousands a day at the demo's
    catalogue) that nothing else deletes. Called outside a transaction, each batch of at
    most ``batch_size`` rows (found through the index on ``day``) commits on its own, as
    the page log's prune does: no long transaction or many row locks, and a stopped run
    keeps what it deleted.
    """
    cut = artwork_daily_cut(now=now)
    size = int(batch_size or DAILY_PRUNE_BATCH)
    expired = ArtworkVariantDaily.objects.filter(day__lt=cut)
    deleted = 0
    while True:
        # No cascade and no receivers: Django deletes this in one statement.
        count, _ = ArtworkVariantDaily.objects.filter(pk__in=expired.values("pk")[:size]).delete()
        deleted += count
        if count < size:
            break
    if deleted:
        logger.info("artwork daily figures before %s pruned: %d deleted", cut, deleted)
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


def _stats_add(impressions: ArtworkImpressions, known: set[int]) -> None:
    """Add impressions and plays per (variant, device, day) to the daily roll-ups."""
    keep = np.isin(impressions.variant, np.fromiter(known, dtype=np.int64, count=len(known)))
    if not keep.any():
        return
    variant = impressions.variant[keep]
    device = impressions.device[keep]
    day = impressions.day[keep].astype(np.int64)
    keys = np.stack([variant, device, day], axis=1)
    unique, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    plays = np.bincount(
        inverse.reshape(-1), weights=impressions.played[keep], minlength=len(unique)
    )
    table = connection.ops.quote_name(ArtworkVariantDaily._meta.db_table)
    # Only the quoted table name is interpolated. Both databases speak ON CONFLICT.
    sql = (
        f"INSERT INTO {table} (variant_id, device, day, impressions, plays) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (variant_id, device, day) DO UPDATE SET "
        f"impressions = {table}.impressions + EXCLUDED.impressions, "
        f"plays = {table}.plays + EXCLUDED.plays"
    )
    epoch = dt.date(1970, 1, 1)
    rows = [
        (int(v), DEVICE_CLASSES[int(d)], epoch + dt.timedelta(days=int(y)), int(c), int(p))
        for (v, d, y), c, p in zip(unique.tolist(), counts.tolist(), plays.tolist(), strict=True)
    ]
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
) -> ArtworkPolicy | None:
    """Fold the impressions whose reward window has closed into a new policy version.

    Incremental (the default, every few minutes from beat): start from the
    newest policy and read only the pages logged since it. Full (``full=True``,
    from a retrain): start from the prior over the last
    ``TONIGHT["ARTWORK_TRAINING_DAYS"]`` days, on today's genres and themes,
    and recompute the daily roll-ups of those days. A page counts once its
    attribution window has closed, so its misses are final, not "not yet".
    Returns ``None`` when there was nothing new to fold, or, without ``wait``, when
    another update holds the policy: beat's five-minute update passes then, as the
    next one folds the same pages, rather than hold a slot of the default queue's
    worker (the reaper's, the fan-outs') for as long as a full refit takes.
    """
    now = now or timezone.now()
    with transaction.atomic():
        if not _policy_lock(wait=wait):
            logger.info("artwork policy update skipped: another update holds the policy")
            return None
        try:
            return _policy_update_locked(full=full, now=now, progress=progress)
        except ThemesChanged:
            if full:
                raise
    # A designer re-tagged a variant the policy has learned: its old impressions are in the
    # shared statistics under the old themes, so only a refit on today's themes is coherent.
    logger.warning("artwork variant themes changed since the last policy: refitting in full")
    return artwork_policy_update(full=True, now=now, progress=progress)


def _policy_update_locked(
    *, full: bool, now: dt.datetime, progress: Callable[[float], None] | None
) -> ArtworkPolicy | None:
    started = time.perf_counter()
    until = closed_before(now)
    report = progress or (lambda fraction: None)
    with transaction.atomic():
        parent = ArtworkPolicy.objects.order_by("-pk").first()
        if full or parent is None:
            days = int(settings.TONIGHT["ARTWORK_TRAINING_DAYS"])
            midnight = until.replace(hour=0, minute=0, second=0, microsecond=0)
            since = midnight - dt.timedelta(days=days)
            first = PageLog.objects.filter(generated_at__gte=since).order_by("generated_at")
            first_at = first.values_list("generated_at", flat=True).first()
            if first_at is None or first_at >= until:
                return None
            since = max(since, first_at.replace(hour=0, minute=0, second=0, microsecond=0))
            params = bandit_new(
                genres=tuple(Genre.objects.order_by("slug").values_list("slug", flat=True)),
                themes=tuple(ArtworkTheme.objects.order_by("slug").values_list("slug", flat=True)),
            )
            ArtworkVariantDaily.objects.filter(day__gte=since.date()).delete()
            seen, plays, base = 0, 0, None
        else:
            since = parent.trained_through
            if since >= until:
                return None
            params = policy_read(parent.artefact)
            seen, plays, base = parent.n_impressions, parent.n_plays, parent
        known = set(ArtworkVariant.objects.values_list("pk", flat=True))
        themes_of = variant_themes(params.themes)
        added = added_plays = 0
        chunk_start = since
        total = (until - since).total_seconds()
        while chunk_start < until:
            chunk_end = min(chunk_start + CHUNK, until)
            impressions = artwork_impressions(
                since=chunk_start, until=chunk_end, genres=params.genres
            )
            if len(impressions):
                params.bandit.partial_fit(
                    context=artwork_context(
                        taste=impressions.taste,
                        device=impressions.device,
                        hour_bucket=impressions.hour_bucket,
                    ),
                    themes=themes_of.of(impressions.variant),
                    variant=impressions.variant,
                    reward=impressions.played.astype(np.float64),
                )
                _stats_add(impressions, known)
                added += len(impressions)
                added_plays += int(impressions.played.sum())
            chunk_start = chunk_end
            report((chunk_start - since).total_seconds() / total)
        if not full and parent is not None and added == 0:
            # Nothing closed in the window: move the watermark without a new file.
            ArtworkPolicy.objects.filter(pk=parent.pk).update(trained_through=until)
            return None
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
