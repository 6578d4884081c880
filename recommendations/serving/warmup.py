"""Load, before the first request, everything a serving process would otherwise load on it.

A cold process reads each served version's artefacts, the catalogue arrays,
the title tables and the artwork state on its first requests: seconds of work
that those requests (and every request queued behind them) wait for. Warming
does it ahead: ``config/wsgi.py`` calls :func:`serving_warm` when
``TONIGHT_WARM_ON_START=1``, and ``config/gunicorn.py`` loads the app in the
master before forking, so every worker starts warm and shares the arrays
copy-on-write. Nothing here writes to the database.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation

from artwork.selection import artwork_serving
from profiles.models import Profile
from recommendations.engine.ranking import DEVICE_CLASSES
from recommendations.models import ProfileTitleState
from recommendations.serving.bundle import ServingBundle
from recommendations.serving.cache import NoActiveModel, serving_bundle
from recommendations.serving.homepage import homepage_build, row_ranker_cache
from recommendations.serving.title_tables import title_tables_cache
from regions.models import Region, TasteCluster

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WarmReport:
    """What warming loaded, and how long it took."""

    versions: tuple[int, ...]
    pages: int
    seconds: float


def serving_warm(*, build_pages: bool = True) -> WarmReport:
    """Load every version that serves some (region, cluster), with its tables; build sample pages.

    The sample pages (one profile with history per region, on every device
    class) run the whole request path once, so lazily built parts (trending
    rows per cluster, the artwork state, first-call costs of the libraries)
    are built here too. They are built, not logged. Every usable artwork
    variant's URL is asked of storage too (seconds for ~70,000 variants, which
    pages would otherwise pay for a few hundred at a time).
    """
    started = time.perf_counter()
    refresh = float(settings.TONIGHT.get("CATALOGUE_REFRESH_SECONDS", 300.0))
    scopes: list[tuple[str, int | None]] = []
    for region_code in Region.objects.order_by("code").values_list("code", flat=True):
        scopes.append((region_code, None))
    scopes += list(TasteCluster.objects.order_by("pk").values_list("region_id", "pk"))
    bundles: dict[int, ServingBundle] = {}
    for region_code, cluster_id in scopes:
        try:
            bundle = serving_bundle(region_code, cluster_id)
        except NoActiveModel:
            continue
        bundles[bundle.version_id] = bundle
        bundle.trending_rows(region_code=region_code, cluster_id=cluster_id)
    for version in bundles.values():
        bundle, _ = version.served(refresh)  # with the titles added since it was trained
        title_tables_cache.get(
            index_key=bundle.index_key,
            title_ids=bundle.index.title_ids,
            not_before=bundle.loaded_at,
        )
        row_ranker_cache.get(bundle)
    pages = 0
    if build_pages and bundles:
        for region_code in dict.fromkeys(code for code, _ in scopes):
            profile = _profile_with_history(region_code)
            if profile is None:
                continue
            for device in DEVICE_CLASSES:
                try:
                    homepage_build(profile=profile, device=device)
                except NoActiveModel:
                    break
                pages += 1
    if bundles:
        # Every usable artwork's URL, asked of storage once here rather than on pages.
        artwork_serving.get().arms.fill_urls()
    # Each language's row copy catalogue, read and parsed once here rather than by the
    # first page a profile of that display language asks for: activating a language
    # is what loads it (Django then keeps it for the process).
    for code, _ in settings.LANGUAGES:
        with translation.override(code):
            pass
    report = WarmReport(
        versions=tuple(sorted(bundles)), pages=pages, seconds=time.perf_counter() - started
    )
    logger.info(
        "Serving warmed: versions %s, %d sample pages, %.1fs",
        report.versions,
        report.pages,
        report.seconds,
    )
    return report


def _profile_with_history(region_code: str) -> Profile | None:
    """A profile of the region that has watched something (so every path runs), if any."""
    watched = ProfileTitleState.objects.filter(
        profile__account__home_region_id=region_code
    ).values_list("profile_id", flat=True)[:1]
    return (
        Profile.objects.select_related("account").filter(pk__in=list(watched)).first()
        or Profile.objects.select_related("account")
        .filter(account__home_region_id=region_code)
        .first()
    )
