"""Simulated traffic: demo profiles acting out their hidden tastes on real homepages.

``manage.py simulate_traffic`` calls :func:`traffic_simulate`. Every session
goes through the code a client would reach:

1. the homepage service, :func:`recommendations.services.homepage.homepage_render`,
   at the session's simulated moment (``at``), which builds the page with the
   active models and logs it;
2. the viewer looks at the first rows and the first tiles of each (how many
   depends on the device), and acts by the demo's choice model
   (:func:`~recommendations.demo.tastes.play_logit`, the same one the seeded
   history used): genres, languages, popularity, the artwork theme shown on
   this device, the row type at this hour, the tile's position. A title is
   played with probability softmax(logits + ``NO_PLAY_LOGIT``) over the tiles
   looked at; rows of a disliked genre, and rows of a type the viewer does
   not start from at this hour, are rapidly scrolled past;
3. what happened goes through the signal ingest service as one batch, in the
   wire format (:func:`~recommendations.signal_events.parse_events`, then
   :func:`~recommendations.services.signals.signal_batch_record`): impressions
   of the tiles looked at, with the page id, row, position and artwork
   variant; hovers; the play (with the same page id, row, position and
   variant, so attribution is exact); progress and, for films watched to the
   end, completion and sometimes a thumbs up; scroll-pasts with the row id.

Sessions are spread over the last ``days`` days at each profile's usual hours
(its hidden hour mix, in its region's time zone) and run in time order, so a
later page sees the plays of earlier ones. Every draw comes from the seed:
the viewers' from one generator, and the page ids, which seed each page's
artwork draws, from another (:func:`page_id_at`, UUIDv7s of the simulated
moment). The same database, models and seed give the same behaviour; with
fresh page ids, as before, the artwork drawn and so everything after it
differed from run to run.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from scipy.stats import spearmanr

from artwork.models import ArtworkVariant
from catalog.models import Genre, Title
from profiles.models import Profile
from recommendations.models import PageLog, SignalKind
from recommendations.selectors.signals import signal_clock_skew
from recommendations.services.homepage import homepage_render
from recommendations.services.signals import SignalBatchRejected, signal_batch_record
from recommendations.serving.homepage import Page, PageRow, homepage_build
from recommendations.signal_events import parse_events
from regions.models import Region

from .catalogue import DEMO_PREFIX
from .tastes import (
    NO_PLAY_LOGIT,
    HiddenTaste,
    hour_bucket,
    load_hidden_tastes,
    load_title_popularity,
    play_logit,
    rederive_hidden_tastes,
)
from .vocabulary import HOUR_BUCKETS, ROW_TYPES

logger = logging.getLogger(__name__)

#: Tiles of a row visible without scrolling sideways, per device class.
VISIBLE_TILES: dict[str, int] = {"tv": 6, "web": 6, "tablet": 5, "mobile": 3}
#: Rows always looked at; each further row is looked at with this probability.
FIRST_ROWS_SEEN = 3
NEXT_ROW_PROBABILITY = 0.6
#: A row type wanted less than this (relative to an indifferent viewer) at this
#: hour is scrolled past with :data:`SKIP_PROBABILITY`.
SKIP_BELOW = 0.5
SKIP_PROBABILITY = 0.6
#: Latest start of a session: completions of a long film must still be in the past.
LATEST_START = dt.timedelta(hours=4)
THUMBS_UP_PROBABILITY = 0.2
COMMIT_EVERY = 100


@dataclass(frozen=True, slots=True)
class _TitleFacts:
    genres: tuple[str, ...]
    language: str
    is_film: bool
    runtime_minutes: int


@dataclass(frozen=True, slots=True)
class Session:
    """One visit: a profile opens the app on a device at a moment."""

    profile_id: int
    at: dt.datetime
    device: str


@dataclass(frozen=True, slots=True)
class SimulationReport:
    profiles: int
    pages: int
    signals: int
    impressions: int
    plays: int
    scroll_pasts: int
    seconds: float


def demo_tastes() -> dict[int, HiddenTaste]:
    """The seeded tastes: the file ``seed_demo`` wrote, or rederived from the profiles.

    Rederived tastes are the same tastes, but the file also holds each title's
    latent popularity, which nothing else does: without it the simulated
    viewers ignore popularity (:func:`_popularity`), which is another world
    than the seed's, so that is logged.
    """
    try:
        return load_hidden_tastes()
    except (FileNotFoundError, ValueError) as missing:
        logger.warning("Hidden tastes rederived from the profiles: %s", missing)
        return rederive_hidden_tastes()


def _title_facts() -> dict[int, _TitleFacts]:
    genres: dict[int, list[str]] = defaultdict(list)
    for title_id, slug in Title.genres.through.objects.values_list("title_id", "genre__slug"):
        genres[title_id].append(slug)
    return {
        pk: _TitleFacts(tuple(sorted(genres.get(pk, ()))), language, kind == "film", runtime)
        for pk, language, kind, runtime in Title.objects.values_list(
            "pk", "original_language_id", "kind", "runtime_minutes"
        )
    }


def _variant_themes() -> dict[int, tuple[str, ...]]:
    themes: dict[int, list[str]] = defaultdict(list)
    for variant_id, slug in ArtworkVariant.themes.through.objects.values_list(
        "artworkvariant_id", "artworktheme__slug"
    ):
        themes[variant_id].append(slug)
    return {k: tuple(sorted(v)) for k, v in themes.items()}


def _weighted(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    keys = sorted(weights)
    p = np.array([max(weights[k], 0.0) for k in keys])
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _bucket_hours(bucket: str) -> list[int]:
    start, end = HOUR_BUCKETS[bucket]
    return list(range(start, end)) if start < end else [*range(start, 24), *range(0, end)]


def sessions_plan(
    *,
    tastes: Mapping[int, HiddenTaste],
    profile_zones: Mapping[int, dt.tzinfo],
    sessions: int,
    days: int,
    now: dt.datetime,
    rng: np.random.Generator,
) -> list[Session]:
    """Each profile's sessions at its usual hours and devices over the last ``days`` days.

    Returned in time order; every session starts at least ``LATEST_START`` before ``now``.
    """
    plan = []
    latest = now - LATEST_START
    for profile_id in sorted(profile_zones):
        taste = tastes[profile_id]
        zone = profile_zones[profile_id]
        today = now.astimezone(zone).date()
        for _ in range(sessions):
            bucket = _weighted(rng, taste.hours)
            hours = _bucket_hours(bucket)
            hour = hours[int(rng.integers(len(hours)))]
            day = today - dt.timedelta(days=int(rng.integers(days)))
            local = dt.datetime.combine(day, dt.time(hour), tzinfo=zone) + dt.timedelta(
                seconds=int(rng.integers(3600))
            )
            at = local.astimezone(dt.UTC)
            while at > latest:
                at -= dt.timedelta(days=1)
            plan.append(Session(profile_id, at, _weighted(rng, taste.devices)))
    plan.sort(key=lambda s: (s.at, s.profile_id))
    return plan


class _Viewer:
    """Turns a rendered page into the events one viewer's client would send."""

    def __init__(
        self,
        *,
        facts: Mapping[int, _TitleFacts],
        themes: Mapping[int, tuple[str, ...]],
        popularity: Mapping[int, float],
        rng: np.random.Generator,
        genre_slugs: Mapping[str, str],
    ) -> None:
        self.facts = facts
        self.themes = themes
        # A genre row's id names the genre by id (``genre:12``); tastes name it by slug.
        self.genre_slugs = genre_slugs
        self.popularity = popularity
        self.rng = rng

    @classmethod
    def load(cls, rng: np.random.Generator) -> _Viewer:
        """A viewer of the catalogue as the database holds it now."""
        return cls(
            facts=_title_facts(),
            themes=_variant_themes(),
            popularity=_popularity(),
            rng=rng,
            genre_slugs={str(pk): slug for pk, slug in Genre.objects.values_list("pk", "slug")},
        )

    def _event_id(self) -> str:
        return str(uuid.UUID(bytes=self.rng.bytes(16), version=4))

    def events(
        self, *, taste: HiddenTaste, page: Page, at: dt.datetime, device: str, hour: int
    ) -> list[dict[str, object]]:
        rng = self.rng
        page_id = str(page.page_id)
        bucket = hour_bucket(hour)
        events: list[dict[str, object]] = []

        def event(kind: str, seconds: float, **fields: object) -> None:
            occurred = at + dt.timedelta(seconds=seconds)
            events.append(
                {
                    "kind": kind,
                    "device": device,
                    "occurred_at": occurred.isoformat(),
                    "client_event_id": self._event_id(),
                    **fields,
                }
            )

        n_rows, visible = _looked_at(page, device, rng)
        candidates: list[tuple[float, int, int]] = []  # (logit, row, position)
        clock = 1.0
        for r, row in enumerate(page.rows[:n_rows]):
            for position, item in enumerate(row.items[:visible]):
                fields = {"title": item.title_id, "page_id": page_id, "row": row.id}
                fields["position"] = position
                if item.variant_id is not None:
                    fields["artwork_variant"] = item.variant_id
                event(SignalKind.IMPRESSION, clock, **fields)
            clock += 2.0
            if self._skips(taste, row, bucket, rng.random):
                event(SignalKind.ROW_SCROLL_PAST, clock, row=row.id, page_id=page_id)
                continue
            candidates.extend(
                (logit, r, position)
                for logit, position in self._tile_logits(taste, row, visible, device, hour)
            )
        if not candidates:
            return events

        logits = np.array([c[0] for c in candidates] + [NO_PLAY_LOGIT])
        p = np.exp(logits - logits.max())
        choice = int(rng.choice(p.shape[0], p=p / p.sum()))
        ranked = sorted(range(len(candidates)), key=lambda i: -candidates[i][0])
        for i in ranked[: int(rng.integers(0, 3))]:
            if i == choice:
                continue
            _, r, position = candidates[i]
            item = page.rows[r].items[position]
            event(
                SignalKind.HOVER,
                clock + rng.uniform(1, 20),
                title=item.title_id,
                value=float(int(rng.uniform(400, 4000))),
                page_id=page_id,
                row=page.rows[r].id,
                position=position,
            )
        if choice == len(candidates):
            return events

        logit, r, position = candidates[choice]
        row = page.rows[r]
        item = row.items[position]
        facts = self.facts[item.title_id]
        start = clock + rng.uniform(20, 60)
        play = {"title": item.title_id, "page_id": page_id, "row": row.id, "position": position}
        if item.variant_id is not None:
            play["artwork_variant"] = item.variant_id
        event(SignalKind.PLAY_START, start, **play)
        # How far they watch follows how much they wanted it.
        watched = 1.0 / (1.0 + math.exp(-(logit - NO_PLAY_LOGIT)))
        watched = min(1.0, max(0.03, watched + rng.normal(0.0, 0.15)))
        runtime = 60.0 * facts.runtime_minutes
        if facts.is_film and watched > 0.9:
            event(SignalKind.PROGRESS, start + 0.5 * runtime, title=item.title_id, value=50.0)
            event(SignalKind.COMPLETE, start + runtime, title=item.title_id)
            if rng.random() < THUMBS_UP_PROBABILITY:
                event(SignalKind.THUMBS_UP, start + runtime + 30, title=item.title_id)
        else:
            percent = round(100.0 * min(watched, 0.9), 1)
            event(
                SignalKind.PROGRESS, start + watched * runtime, title=item.title_id, value=percent
            )
        return events

    def _skips(
        self, taste: HiddenTaste, row: PageRow, bucket: str, draw: Callable[[], float]
    ) -> bool:
        """Whether the viewer scrolls past ``row`` (``draw`` is called only when it may)."""
        genre = self.genre_slugs.get(row.id.split(":", 1)[1]) if row.type == "genre" else None
        wanted = taste.row_types[bucket].get(row.type, 0.0) * len(ROW_TYPES)
        return genre in taste.disliked_genres or (wanted < SKIP_BELOW and draw() < SKIP_PROBABILITY)

    def _tile_logits(
        self, taste: HiddenTaste, row: PageRow, visible: int, device: str, hour: int
    ) -> list[tuple[float, int]]:
        """(:func:`play_logit`, position) of each tile of ``row`` the viewer looks at."""
        logits = []
        for position, item in enumerate(row.items[:visible]):
            facts = self.facts.get(item.title_id)
            if facts is None:
                continue
            logit = play_logit(
                taste,
                genre_slugs=facts.genres,
                language=facts.language,
                popularity=self.popularity.get(item.title_id, 0.0),
                device=device,
                themes=self.themes.get(item.variant_id or 0, ()),
                row_type=row.type,
                hour=hour,
                position=position,
            )
            logits.append((logit, position))
        return logits

    def play_probability(
        self,
        *,
        taste: HiddenTaste,
        page: Page,
        device: str,
        hour: int,
        draws: int,
        rng: np.random.Generator,
    ) -> float:
        """The chance this viewer starts a play from ``page``: what a row order is for.

        :meth:`events` draws how many rows and tiles are looked at, which rows
        are scrolled past, and then one choice among the tiles and closing the
        app; this averages the last, exactly, over ``draws`` of the first three.
        Give each page compared the same seed, so orders are compared on the
        same viewers.
        """
        bucket = hour_bucket(hour)
        # Each row's tile logits, computed once: the draws only choose among them.
        rows = [self._tile_logits(taste, row, len(row.items), device, hour) for row in page.rows]
        total = 0.0
        for _ in range(draws):
            n_rows, visible = _looked_at(page, device, rng)
            logits = [
                logit
                for row, tiles in zip(page.rows[:n_rows], rows, strict=False)
                if not self._skips(taste, row, bucket, rng.random)
                for logit, position in tiles
                if position < visible
            ]
            if logits:
                weights = np.exp(np.array([*logits, NO_PLAY_LOGIT]) - max(*logits, NO_PLAY_LOGIT))
                total += 1.0 - weights[-1] / weights.sum()
        return total / draws


def _looked_at(page: Page, device: str, rng: np.random.Generator) -> tuple[int, int]:
    """How many of the page's rows, and tiles of each, one viewer looks at this time."""
    n_rows = FIRST_ROWS_SEEN
    while n_rows < len(page.rows) and rng.random() < NEXT_ROW_PROBABILITY:
        n_rows += 1
    return n_rows, VISIBLE_TILES.get(device, 5) + int(rng.geometric(0.5)) - 1


def _record(profile: Profile, raw: list[dict[str, object]], now: dt.datetime) -> int:
    """Send a batch through the ingest service; drop events it refuses and resend once."""
    limits = settings.TONIGHT
    max_future = signal_clock_skew()
    max_age = dt.timedelta(days=limits["SIGNAL_MAX_AGE_DAYS"])
    events, errors = parse_events(raw, now=now, max_future=max_future, max_age=max_age)
    if errors:  # the simulation wrote something no client may send: a bug here
        raise ValueError(f"simulated events are malformed: {errors.summary()}")
    try:
        return signal_batch_record(profile=profile, events=events).new
    except SignalBatchRejected as rejected:
        # A client's error the simulation may make (a title whose availability ended
        # between the page and the play is not one: the service leaves it out itself).
        refused = set(rejected.errors.by_index)
        events = [e for e in events if e.index not in refused]
        return signal_batch_record(profile=profile, events=events).new if events else 0


def demo_profiles_exist() -> bool:
    """Whether the database holds the demo's profiles, the only ones the simulation drives
    (it acts out the tastes ``seed_demo`` planted in them)."""
    return Profile.objects.filter(account__external_id__startswith=DEMO_PREFIX).exists()


def demo_pages_logged() -> bool:
    """Whether the demo's own profiles have logged pages: ``simulate_traffic --if-empty``'s test.

    Pages of households outside the demo (an API test's, a staff member's) are not
    the demo's traffic and must not make ``make demo`` skip it. The demo's profiles
    are renumbered by every ``seed_demo --flush``, which deletes their pages and
    the models: none can be logged for them again before ``train_models``.
    """
    demo_profiles = Profile.objects.filter(account__external_id__startswith=DEMO_PREFIX)
    return PageLog.objects.filter(profile_id__in=demo_profiles.values("pk")).exists()


def traffic_simulate(
    *,
    profiles: int = 200,
    sessions: int = 10,
    days: int = 5,
    seed: int = 0,
    rows: int = 12,
    items: int = 20,
    tastes: Mapping[int, HiddenTaste] | None = None,
    now: dt.datetime | None = None,
    progress: Callable[[int], object] | None = None,
    on_start: Callable[[int], object] | None = None,
) -> SimulationReport:
    """Drive ``profiles`` demo profiles through ``sessions`` homepage visits each.

    Parameters
    ----------
    profiles : int
        How many of the demo profiles (those with a hidden taste) take part;
        the showcase household always does, the others are drawn with ``seed``.
    sessions : int
        Visits per profile, spread over the last ``days`` days (at most the
        signals' age horizon).
    tastes : mapping, optional
        Profile id -> hidden taste; the seeded demo's by default (:func:`demo_tastes`).
    progress, on_start : callable, optional
        Called with 1 per page rendered, and once with the number of sessions planned.

    Raises
    ------
    recommendations.serving.cache.NoActiveModel
        Without a trained model (run ``train_models`` first).
    """
    started = time.perf_counter()
    now = now or timezone.now()
    rng = np.random.default_rng([seed, 5])
    # Page ids seed each page's artwork draws: from a generator of their own, so the
    # viewers' draws are what they were, and a seed gives the same pages.
    page_ids = np.random.default_rng([seed, 7])
    tastes = tastes if tastes is not None else demo_tastes()
    days = max(1, min(days, int(settings.TONIGHT["SIGNAL_MAX_AGE_DAYS"]) - 1))

    available = sorted(
        Profile.objects.filter(pk__in=list(tastes)).values_list("pk", "account__home_region_id")
    )
    showcase = [pk for pk, _ in available if tastes[pk].profile_index < 3]
    others = [pk for pk, _ in available if pk not in set(showcase)]
    wanted = max(0, profiles - len(showcase))
    drawn = rng.choice(len(others), size=min(wanted, len(others)), replace=False)
    chosen = set(showcase[:profiles]) | {others[int(i)] for i in drawn}
    zones = {
        code: zoneinfo.ZoneInfo(zone)
        for code, zone in Region.objects.values_list("code", "time_zone")
    }
    profile_zones = {pk: zones.get(region, dt.UTC) for pk, region in available if pk in chosen}
    plan = sessions_plan(
        tastes=tastes,
        profile_zones=profile_zones,
        sessions=sessions,
        days=days,
        now=now,
        rng=rng,
    )
    if on_start is not None:
        on_start(len(plan))

    viewer = _Viewer.load(rng)
    loaded = {
        p.pk: p
        for p in Profile.objects.filter(pk__in=chosen).select_related("account").iterator(2000)
    }
    pages = signals = impressions = plays = scroll_pasts = 0
    for chunk_start in range(0, len(plan), COMMIT_EVERY):
        # One commit per chunk of sessions, not two per page: the simulation's own
        # bookkeeping; each page and batch still goes through its service unchanged.
        with transaction.atomic():
            for session in plan[chunk_start : chunk_start + COMMIT_EVERY]:
                counts = _session_run(
                    session=session,
                    profile=loaded[session.profile_id],
                    zone=profile_zones[session.profile_id],
                    taste=tastes[session.profile_id],
                    viewer=viewer,
                    rows=rows,
                    items=items,
                    now=now,
                    page_id=page_id_at(session.at, page_ids),
                )
                pages += 1
                signals += counts[0]
                impressions += counts[1]
                plays += counts[2]
                scroll_pasts += counts[3]
                if progress is not None:
                    progress(1)
    return SimulationReport(
        profiles=len(profile_zones),
        pages=pages,
        signals=signals,
        impressions=impressions,
        plays=plays,
        scroll_pasts=scroll_pasts,
        seconds=time.perf_counter() - started,
    )


def page_id_at(at: dt.datetime, rng: np.random.Generator) -> uuid.UUID:
    """A UUIDv7 of the moment ``at``, its random bits drawn from ``rng``."""
    value = (int(at.timestamp() * 1000) << 80) | int.from_bytes(rng.bytes(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # the RFC 9562 variant
    return uuid.UUID(int=value)


def _session_run(
    *,
    session: Session,
    profile: Profile,
    zone: dt.tzinfo,
    taste: HiddenTaste,
    viewer: _Viewer,
    rows: int,
    items: int,
    now: dt.datetime,
    page_id: uuid.UUID,
) -> tuple[int, int, int, int]:
    """Render one page and send what the viewer did: (signals stored, impressions, plays,
    scroll-pasts)."""
    page = homepage_render(
        profile=profile,
        device=session.device,
        at=session.at,
        n_rows=rows,
        n_items=items,
        page_id=page_id,
    )
    raw = viewer.events(
        taste=taste,
        page=page,
        at=session.at,
        device=session.device,
        hour=session.at.astimezone(zone).hour,
    )
    if not raw:
        return 0, 0, 0, 0
    kinds = [e["kind"] for e in raw]
    return (
        _record(profile, raw, now),
        kinds.count(SignalKind.IMPRESSION),
        kinds.count(SignalKind.PLAY_START),
        kinds.count(SignalKind.ROW_SCROLL_PAST),
    )


def _popularity() -> dict[int, float]:
    try:
        return load_title_popularity()
    except (FileNotFoundError, ValueError) as missing:
        logger.warning(
            "Simulated viewers ignore title popularity (no hidden tastes file for this "
            "database; reseed to restore the seed's world): %s",
            missing,
        )
        return {}


__all__ = [
    "Session",
    "SimulationReport",
    "demo_pages_logged",
    "demo_tastes",
    "sessions_plan",
    "traffic_simulate",
]


#: A moment in each of the hidden tastes' parts of the day (local hours).
PART_OF_DAY_HOURS = {"morning": 9, "afternoon": 14, "evening": 20, "late_night": 23}


@dataclass(frozen=True, slots=True)
class RowOrderOutcomes:
    """What served row orders did for the simulated profiles, one entry per profile-moment.

    Attributes
    ----------
    agreement : numpy.ndarray of float64
        Rank correlation of the page's row types' order with the profile's
        hidden taste for them then (1: the same order, 0: unrelated, -1
        backwards); pages of fewer than three row types, or whose types the
        taste does not tell apart, say nothing and are left out.
    play : numpy.ndarray of float64
        The chance the simulated viewer starts a play from the page
        (:meth:`_Viewer.play_probability`): the outcome a row order is for,
        where the agreement is a proxy that weighs the order of rows nobody
        scrolls to as much as the first screen's.
    """

    agreement: np.ndarray
    play: np.ndarray


def row_order_outcomes(
    *,
    tastes: Mapping[int, HiddenTaste],
    region: str = "IN",
    draws_per_page: int = 32,
    at: dt.datetime | None = None,
) -> RowOrderOutcomes:
    """Build every simulated ``region`` profile's TV homepage at a moment of each part of
    the day before ``at`` (default now), and measure each page against that profile's
    hidden tastes. The pages are built as of ``at``: a world simulated up to a fixed
    moment (``simulate_traffic --until``) measures the same on any day.

    The viewers' draws and the pages' artwork draws (through the page id) are
    seeded by profile and moment, so two row rankers measured by this are
    compared on the same viewers, and a run repeats.
    """
    zone = zoneinfo.ZoneInfo(Region.objects.get(code=region).time_zone)
    simulated = Profile.objects.select_related("account").filter(
        pk__in=PageLog.objects.values("profile_id"), account__home_region=region
    )
    viewer = _Viewer.load(np.random.default_rng(0))
    now = at or timezone.now()
    yesterday = now.astimezone(zone) - dt.timedelta(days=1)
    agreement, play = [], []
    for profile in simulated.order_by("pk"):
        taste = tastes.get(profile.pk)
        if taste is None:
            continue
        for moment, (part, hour) in enumerate(PART_OF_DAY_HOURS.items()):
            moment_at = yesterday.replace(hour=hour, minute=0, second=0, microsecond=0)
            draws = np.random.default_rng([profile.pk, moment])
            page = homepage_build(
                profile=profile,
                device="tv",
                at=now,
                context_at=moment_at,
                page_id=page_id_at(moment_at, draws),
            )
            order = list(dict.fromkeys(row.type for row in page.rows))
            liked = [taste.row_types[part].get(row_type, 0.0) for row_type in order]
            if len(order) >= 3 and len(set(liked)) > 1:
                agreement.append(spearmanr(-np.arange(len(order)), liked).statistic)
            play.append(
                viewer.play_probability(
                    taste=taste,
                    page=page,
                    device="tv",
                    hour=hour,
                    draws=draws_per_page,
                    rng=draws,
                )
            )
    return RowOrderOutcomes(
        agreement=np.array(agreement, dtype=np.float64), play=np.array(play, dtype=np.float64)
    )
