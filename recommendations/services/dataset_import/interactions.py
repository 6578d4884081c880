"""Importing interactions: the file read and checked whole, then, in one transaction, the
households, and the signals and states chunk by chunk.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.db.models import F, Q
from django.utils import timezone

from artwork.models import DeviceClass
from catalog.models import Title
from config.lookups import AnyOf
from profiles.models import MAX_PROFILES_PER_ACCOUNT
from recommendations.services.dataset_import.checks import _quoted, _region_codes
from recommendations.services.dataset_import.exceptions import DatasetImportError
from recommendations.services.dataset_import.files import _file_path
from recommendations.services.dataset_import.households import _households_assign
from recommendations.services.dataset_import.progress import Progress, silent_progress
from recommendations.services.dataset_import.ratings import InteractionColumns, _read_ratings
from recommendations.services.dataset_import.signal_store import (
    _Appender,
    _store_chunk,
    _Tally,
    _user_chunks,
)
from recommendations.services.dataset_import.tables import Layout, _unterminated_warning
from recommendations.services.dataset_import.whereabouts import ImportWhereabouts
from regions.models import Availability


@dataclass(frozen=True)
class InteractionImportResult:
    rows: int
    users: int
    households_created: int
    profiles_created: int
    profiles_existing: int
    signals_stored: int
    duplicates: int  # signals already stored by an earlier import
    signals_by_kind: dict[str, int]
    title_states: int  # per-title states created or brought up to date
    titles_unavailable: int  # rated titles with no licence window in the region now
    region: str
    dry_run: bool
    skipped: int = 0  # rows whose item is not in the catalogue (skip_unknown_items)
    skipped_lines: tuple[str, ...] = ()  # the first of them, as path:LINE: reason
    # path:LINE: ... when no line break ends the file (cut short?), else ""
    unterminated: str = ""


def _titles_unavailable(*, title_ids: np.ndarray, region: str) -> int:
    now = timezone.now()
    rated = np.unique(title_ids).tolist()
    available = (
        Availability.objects.filter(AnyOf(F("title_id"), rated), region_id=region)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .values("title_id")
        .distinct()
        .count()
    )
    return len(rated) - available


def interactions_import(
    *,
    path: Path | str,
    region: str,
    layout: Layout = Layout(),
    columns: InteractionColumns = InteractionColumns(),
    profiles_per_household: int = 1,
    rating_scale: float = 5.0,
    weights: bool = False,
    weight_scale: float = 1.0,
    device: str = DeviceClass.WEB,
    dry_run: bool = False,
    progress: Progress = silent_progress,
    skip_unknown_items: bool = False,
) -> InteractionImportResult:
    """Turn each rating into the signals :func:`rating_signals` says it stands for.

    With ``weights`` the column named ``columns.rating`` holds implicit weights
    (play counts, minutes watched) instead, turned into signals by
    :func:`weight_signals` with ``weight_scale`` the weight of one whole viewing.

    Each source user becomes a profile (``external_id`` = user id) in a household
    account (``external_id`` = ``import:<n>``) of ``profiles_per_household``
    profiles in ``region``; items are matched to titles by ``external_id``, so
    the catalogue is imported first. Each signal's ``client_event_id`` is derived
    from (user, item, kind, time), so re-running an import stores nothing twice,
    and a user's repeated rows for one item are each kept.
    The per-title states are folded by the same function the signals API uses.

    A row whose item is not in the catalogue is a bad line, unless
    ``skip_unknown_items``: then a row with no other problem is left out and
    counted, and the rest is imported (a title deleted since the catalogue
    import must not keep a whole history out). A file with no known item at all
    is refused all the same: it is the wrong file, not a few deleted titles.
    """
    path = _file_path(path)
    if not 1 <= profiles_per_household <= MAX_PROFILES_PER_ACCOUNT:
        raise DatasetImportError(
            f"A household has 1 to {MAX_PROFILES_PER_ACCOUNT} profiles, "
            f"not {profiles_per_household}."
        )
    if not (math.isfinite(rating_scale) and rating_scale > 0):
        raise DatasetImportError(f"The rating scale must be positive, not {rating_scale}.")
    if not (math.isfinite(weight_scale) and weight_scale > 0):
        raise DatasetImportError(f"The weight scale must be positive, not {weight_scale}.")
    if device not in DeviceClass.values:
        raise DatasetImportError(
            f"No device class '{device}'; use one of {_quoted(DeviceClass.values)}."
        )
    if not region.strip():
        raise DatasetImportError("Give the households' region.")
    (region,) = _region_codes([region])

    title_ids: dict[str, int] = {}
    title_kinds: dict[int, str] = {}
    for external_id, pk, kind in Title.objects.exclude(external_id="").values_list(
        "external_id", "pk", "kind"
    ):
        title_ids[external_id] = pk
        title_kinds[pk] = kind
    where = ImportWhereabouts(path)
    progress = where.tracking(progress)
    with where.interruptible(dry_run=dry_run):
        ratings = _read_ratings(
            path,
            layout=layout,
            columns=columns,
            scale=rating_scale,
            title_ids=title_ids,
            progress=progress,
            weights=weights,
            skip_unknown_items=skip_unknown_items,
            where=where,
        )
        items = {pk: external_id for external_id, pk in title_ids.items()}

        tally = _Tally()
        with where.storing(dry_run=dry_run):
            profile_ids, existing, households, created = _households_assign(
                users=ratings.users,
                region=region,
                per_household=profiles_per_household,
                progress=progress,
            )

            sink = _Appender(received_at=timezone.now())
            with progress("Storing signals", len(ratings.line)) as advance:
                for chunk in _user_chunks(ratings):
                    _store_chunk(
                        chunk,
                        ratings=ratings,
                        profile_ids=profile_ids,
                        existing_profiles=existing,
                        items=items,
                        title_kinds=title_kinds,
                        scale=weight_scale if weights else rating_scale,
                        device=device,
                        sink=sink,
                        tally=tally,
                        weights=weights,
                    )
                    advance(sum(len(rows) for _, rows in chunk))
            unavailable = _titles_unavailable(title_ids=ratings.title, region=region)
        unterminated = _unterminated_warning(path)
        return InteractionImportResult(
            rows=len(ratings.line),
            users=len(ratings.users),
            households_created=households,
            profiles_created=created,
            profiles_existing=len(existing),
            signals_stored=tally.stored,
            duplicates=tally.duplicates,
            signals_by_kind=dict(sorted(tally.by_kind.items())),
            title_states=tally.states,
            titles_unavailable=unavailable,
            region=region,
            dry_run=dry_run,
            skipped=ratings.skipped,
            skipped_lines=ratings.skipped_lines,
            unterminated=unterminated,
        )
