"""Reads for the artwork policy: its training impressions and the variants' take rates.

Training data comes from the page log through attribution
(:func:`recommendations.selectors.attribution.page_impressions_attributed`):
each impression is a (context, arm, reward, propensity) record — the taste
the policy saw (logged with the page), the device and hour, the variant
shown, whether the profile started the title within the session window,
and the probability the variant had.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import QuerySet, Sum
from django.utils import timezone

from profiles.models import Profile
from recommendations.engine.ranking import DEVICE_CLASSES, hour_bucket
from recommendations.engine.row_ranking import ROW_TYPES
from recommendations.models import PageLog
from recommendations.selectors.attribution import closed_before, page_impressions_attributed

from .models import ArtworkVariant, ArtworkVariantDaily, DeviceClass
from .renditions import rendition_names, rendition_urls

#: Days over which admin measures a variant's observed share of its title's impressions
#: (what was shown, not the probability the current policy would give it).
SHARE_DAYS = 7


def artwork_upload_grace() -> dt.timedelta:
    """How long after a page's session window (and the clock skew) its late plays are waited
    for (``TONIGHT["ARTWORK_UPLOAD_GRACE_SECONDS"]``)."""
    return dt.timedelta(seconds=float(settings.TONIGHT["ARTWORK_UPLOAD_GRACE_SECONDS"]))


def artwork_folded_before(now: dt.datetime) -> dt.datetime:
    """Pages generated before this moment are folded into the artwork policy and its figures.

    :func:`~recommendations.selectors.attribution.closed_before` waits until no play can
    still be *stamped* inside a page's session window, but a play is stored when its device
    sends it: a phone that batches its signals, or was offline, uploads plays stamped
    inside the window after the window has closed (ingest accepts them up to
    ``SIGNAL_MAX_AGE_DAYS`` old). The incremental updates fold each page once, so a page
    folded at the window's close kept such a play as a miss until the nightly refit, a
    miss counted against the devices that batch. The grace waits out routine upload
    delay; a play later still is credited by the next full refit, which folds every page
    of its window again (policy and daily figures). The updates, the refit and the
    evaluation end their ranges here, so a page is folded by all of them at one moment.
    """
    return closed_before(now) - artwork_upload_grace()


def artwork_daily_cut(*, now: dt.datetime | None = None) -> dt.date:
    """Daily figures of days before this one are past ``ARTWORK_DAILY_KEEP_DAYS``.

    Days are UTC days, as the roll-ups are (a page's day) and as admin's "last 7 days"
    counts them.
    """
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    return today - dt.timedelta(days=int(settings.TONIGHT["ARTWORK_DAILY_KEEP_DAYS"]))


def artwork_daily_expired_count(*, now: dt.datetime | None = None) -> int:
    """How many daily figures the prune would delete now (``prune_logs --dry-run``)."""
    return ArtworkVariantDaily.objects.filter(day__lt=artwork_daily_cut(now=now)).count()


@dataclass(frozen=True)
class ArtworkImpressions:
    """Impressions that showed a real variant, with their labels, as arrays.

    Attributes
    ----------
    taste : numpy.ndarray of float32, shape (n, len(genres))
    device, hour_bucket : numpy.ndarray of int64, shape (n,)
    variant, title_id, profile_id : numpy.ndarray of int64, shape (n,)
    propensity : numpy.ndarray of float64, shape (n,)
        As logged; NaN where the log has none.
    played : numpy.ndarray of bool, shape (n,)
    day : numpy.ndarray of datetime64[D], shape (n,)
        UTC day of the page.
    page : numpy.ndarray of int64, shape (n,)
        The impression's page, numbered within this read (impressions of one page
        share a profile and a moment: off-policy intervals cluster by it).
    page_time : numpy.ndarray of float64, shape (n,)
        When the page was generated, Unix seconds (off-policy evaluation rebuilds the
        arms that existed then).
    """

    taste: npt.NDArray[np.float32]
    device: npt.NDArray[np.int64]
    hour_bucket: npt.NDArray[np.int64]
    variant: npt.NDArray[np.int64]
    title_id: npt.NDArray[np.int64]
    profile_id: npt.NDArray[np.int64]
    propensity: npt.NDArray[np.float64]
    played: npt.NDArray[np.bool_]
    day: npt.NDArray[np.datetime64]
    page: npt.NDArray[np.int64]
    page_time: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.variant.shape[0])

    def take(self, mask: npt.NDArray[np.bool_]) -> ArtworkImpressions:
        return ArtworkImpressions(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})


_CONTINUE_WATCHING = ROW_TYPES.index("continue_watching")


def artwork_impressions(
    *, since: dt.datetime, until: dt.datetime, genres: tuple[str, ...]
) -> ArtworkImpressions:
    """Impressions of the pages generated in ``[since, until)``, with tastes on ``genres``.

    Impressions of the placeholder are left out: there was no choice to learn from.
    A title its page shows twice is one impression (attribution's ``repeat``): its
    frame was drawn once, with one propensity, and the page had one outcome for it.
    A frame the client did not report on screen is no impression of it (attribution's
    ``exposed``: a tile below the rows the viewer reached never had the chance to be
    played, whatever its frame), unless the client reports no tile at all.
    A tile of Continue Watching is no impression either: a resume is the viewer going
    back to what they were watching, which no frame wins or loses, and its plays (the
    most frequent of all) would only add noise to every frame's estimate and inflate
    the take rates of frames that happen to be drawn for titles in progress.
    A fixed handful of queries whatever the volume (attribution's, one for the tastes).
    """
    attributed = page_impressions_attributed(since=since, until=until)
    tastes = dict(
        PageLog.objects.filter(generated_at__gte=since, generated_at__lt=until).values_list(
            "id", "taste"
        )
    )
    column = {g: c for c, g in enumerate(genres)}
    page_taste = np.zeros((len(attributed.page_ids), len(genres)), dtype=np.float32)
    for p, page_id in enumerate(attributed.page_ids):
        for slug, share in (tastes.get(page_id) or {}).items():
            if slug in column:
                page_taste[p, column[slug]] = share
    real = (
        (attributed.variant_id >= 0)
        & ~attributed.repeat
        & attributed.exposed()
        & (attributed.row_type != _CONTINUE_WATCHING)
    )
    page = attributed.page[real]
    propensity = attributed.propensity[real].astype(np.float64)
    seconds = attributed.page_time[page]
    return ArtworkImpressions(
        taste=page_taste[page],
        device=attributed.page_device[page].astype(np.int64),
        hour_bucket=hour_bucket(attributed.page_hour[page]).astype(np.int64),
        variant=attributed.variant_id[real],
        title_id=attributed.title_id[real],
        profile_id=attributed.page_profile[page],
        propensity=propensity,
        played=attributed.played[real],
        day=(seconds // 86400).astype("datetime64[D]"),
        page=page.astype(np.int64),
        page_time=seconds.astype(np.float64),
    )


@dataclass(frozen=True)
class VariantThemes:
    """Every variant's themes (active or not) as a multi-hot table on a theme basis.

    Read once per policy update or evaluation and looked up per chunk of
    impressions, rather than reading the themes table again for every chunk.
    """

    ids: npt.NDArray[np.int64]  # sorted
    table: npt.NDArray[np.float32]  # (len(ids), n_themes)

    def of(self, variant_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """Theme rows (len(variant_ids), n_themes); zeros for an unknown variant."""
        rows = np.zeros((variant_ids.shape[0], self.table.shape[1]), dtype=np.float32)
        if not self.ids.shape[0] or not variant_ids.shape[0]:
            return rows
        at = np.minimum(np.searchsorted(self.ids, variant_ids), self.ids.shape[0] - 1)
        known = self.ids[at] == variant_ids
        rows[known] = self.table[at[known]]
        return rows


def title_artwork_variants(*, title_id: int, maturity_limit: int) -> list[ArtworkVariant]:
    """The title's active variants within ``maturity_limit``, with their themes. Two queries.

    In the order staff added them (the seeder stores a title's variants with one
    ``created_at``, so the primary key breaks the tie: PostgreSQL's order of tied
    rows changes when one is updated). A variant whose upload was removed has no
    URL to give; serving skips it too.
    """
    return list(
        ArtworkVariant.objects.filter(
            title_id=title_id, is_active=True, maturity__lte=maturity_limit
        )
        .exclude(image="")
        .prefetch_related("themes")
        .order_by("created_at", "pk")
    )


def variant_image_urls(*, variant: ArtworkVariant) -> dict[str, str]:
    """The URL each device class is sent for ``variant``'s image (tv, mobile, tablet, web):
    its copy for that class once made (``renditions_made``), else the image as stored.
    No query: from the variant's own columns, as serving builds them."""
    original = variant.image.url
    if not variant.renditions_made:
        return dict.fromkeys(DeviceClass.values, original)
    served = rendition_urls(
        image=variant.image.name, width=variant.width, image_url=original, ask=default_storage.url
    )
    return {device: served[device] for device in DeviceClass.values}


def artwork_files_named(*, variants: QuerySet[ArtworkVariant]) -> set[str]:
    """The stored files ``variants`` name: each image, and its copies per device class
    (``artwork.renditions``), whether made yet or being made. One query."""
    named: set[str] = set()
    for image, width in variants.exclude(image="").values_list("image", "width"):
        named.add(image)
        named.update(rendition_names(image=image, width=width).values())
    return named


def variant_themes(themes: tuple[str, ...]) -> VariantThemes:
    """:class:`VariantThemes` on ``themes``: one query over the variant-theme pairs."""
    column = {t: c for c, t in enumerate(themes)}
    pairs = [
        (variant_id, column[slug])
        for variant_id, slug in ArtworkVariant.themes.through.objects.values_list(
            "artworkvariant_id", "artworktheme__slug"
        ).iterator(chunk_size=20_000)
        if slug in column
    ]
    found = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    ids, row = np.unique(found[:, 0], return_inverse=True)
    table = np.zeros((ids.shape[0], len(themes)), dtype=np.float32)
    table[row.reshape(-1), found[:, 1]] = 1.0
    return VariantThemes(ids=ids, table=table)


def profile_maturity(profile_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each profile's maturity limit today (offline evaluation rebuilds its arms with it).

    The page log records neither the limit a page was built under nor whether the profile
    was a kids profile then: a limit changed since is read as it is now.
    """
    unique, inverse = np.unique(profile_ids, return_inverse=True)
    limits = dict(
        Profile.objects.filter(pk__in=unique.tolist()).values_list("pk", "maturity_limit")
    )
    return np.array([limits.get(int(p), 0) for p in unique], dtype=np.int64)[inverse]


# --- Admin figures -------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantDeviceStats:
    """One variant on one device class: how often it was shown and taken."""

    device: str
    impressions: int
    plays: int
    take_rate: float | None
    low: float | None
    high: float | None
    share: float | None  # of its title's impressions on this device, last SHARE_DAYS days


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion: honest at small counts, unlike p ± z·se."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def artwork_variant_stats(
    *, variant: ArtworkVariant, today: dt.date | None = None
) -> list[VariantDeviceStats]:
    """Per device class: impressions, attributed plays, take rate (95% CI), share of shows."""
    return artwork_variants_stats(variants=[variant], today=today)[variant.pk]


def artwork_variants_stats(
    *, variants: list[ArtworkVariant], today: dt.date | None = None
) -> dict[int, list[VariantDeviceStats]]:
    """:func:`artwork_variant_stats` of several variants in three queries.

    The recent days are read for the titles' variants by id, through the daily
    table's (variant, device, day) index: joined to the variants by title, the
    planner read every variant's rows of those days first (0.2 s for 13,500
    variants' week, and growing with the catalogue) to keep a few dozen.
    """
    today = today or timezone.now().date()
    ids = [v.pk for v in variants]
    totals = {
        (row["variant_id"], row["device"]): row
        for row in ArtworkVariantDaily.objects.filter(variant_id__in=ids)
        .values("variant_id", "device")
        .annotate(impressions=Sum("impressions"), plays=Sum("plays"))
    }
    title_of = dict(
        ArtworkVariant.objects.filter(title_id__in={v.title_id for v in variants}).values_list(
            "pk", "title_id"
        )
    )
    recent = ArtworkVariantDaily.objects.filter(
        variant_id__in=list(title_of), day__gt=today - dt.timedelta(days=SHARE_DAYS)
    )
    title_recent: dict[tuple[int, str], int] = defaultdict(int)
    mine_recent: dict[tuple[int, str], int] = defaultdict(int)
    for variant_id, device, impressions in recent.values_list(
        "variant_id", "device", "impressions"
    ):
        title_recent[title_of[variant_id], device] += impressions
        mine_recent[variant_id, device] += impressions
    stats: dict[int, list[VariantDeviceStats]] = {}
    for variant in variants:
        rows = []
        for device in DEVICE_CLASSES:
            row = totals.get((variant.pk, device), {"impressions": 0, "plays": 0})
            shown, taken = int(row["impressions"]), int(row["plays"])
            low, high = wilson_interval(taken, shown) if shown else (None, None)
            of_title = title_recent[variant.title_id, device]
            rows.append(
                VariantDeviceStats(
                    device=device,
                    impressions=shown,
                    plays=taken,
                    take_rate=taken / shown if shown else None,
                    low=low,
                    high=high,
                    share=mine_recent[variant.pk, device] / of_title if of_title else None,
                )
            )
        stats[variant.pk] = rows
    return stats
