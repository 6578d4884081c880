"""The seeded signal history: each profile acts out its hidden taste over the last 60 days.

A profile's history is a sequence of sessions at local times drawn from its
hour habits, on devices drawn from its device habits. Most sessions browse a
homepage laid out by a naive prior policy (rows in random order, artwork
variants picked uniformly, which is what makes the history usable to learn
from: every variant has a known, equal chance of being shown). The profile
then plays at most one item, chosen by :func:`recommendations.demo.tastes.play_logit`
(vectorised here), scrolls quickly past rows of genres it dislikes, hovers and
previews a few, and watches: films to the end or not, series episode by
episode in order, finishing seasons, rating with thumbs, rewatching favourites.
Some sessions start from search or an outside link instead.

Only titles available in the profile's region at the moment of the event and
within its maturity limit are ever shown or played.

Each profile draws from its own generator seeded by (seed, profile index), so
one profile's history does not depend on how many profiles come before it.
"""

import bisect
import datetime as dt
import math
import random
import zoneinfo
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .artwork_variants import DEVICE_BITS, VariantInfo
from .catalogue import CatalogueIndex
from .households import ProfileRecord
from .progress import Progress
from .reference import ReferenceIds
from .signal_writer import Event, SignalWriter
from .tastes import (
    GENRE_FLOOR,
    LANGUAGE_EXPONENT,
    LANGUAGE_FLOOR,
    NO_PLAY_LOGIT,
    POPULARITY_WEIGHT,
    POSITION_DECAY,
    ROW_WEIGHT,
    SHOWCASE_PROFILES,
    STREAM_HISTORY,
    THEME_WEIGHT,
    HiddenTaste,
    hour_bucket,
)
from .title_states import fold_catalogue, fold_title_states
from .vocabulary import (
    GENRES,
    HOUR_BUCKETS,
    LANGUAGE_CODES,
    REGION_BY_CODE,
    ROW_TYPES,
)

HISTORY_DAYS = 60
EVENTS_PER_SESSION = 14.2  # measured average; turns an event budget into a session count
PERSONAL_POOL = 80
POOL_DEPTH = 250
SHOWCASE_MIN_EVENTS = 150
PROFILE_BATCH = 256
NEW_RELEASE_DAYS = 120
ACCLAIMED_SCORE = 75


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass
class _RegionPools:
    """Ranked lists of title positions a row generator draws from, per region and limit."""

    trending: list[int]
    new_releases: list[int]
    acclaimed: list[int]
    by_genre: dict[str, list[int]]
    by_language: dict[str, list[int]]


def _region_pools(
    catalogue: CatalogueIndex, region: str, limit: int, start: float, end: float
) -> _RegionPools:
    avail_from, avail_until = catalogue.availability[region]
    eligible = (avail_from < end) & (avail_until > start) & (catalogue.maturity <= limit)
    pop = catalogue.popularity

    def ranked(mask: np.ndarray, key: np.ndarray) -> list[int]:
        idx = np.flatnonzero(mask & eligible)
        return idx[np.argsort(-key[idx], kind="stable")][:POOL_DEPTH].tolist()

    everything = np.ones_like(eligible)
    return _RegionPools(
        trending=ranked(everything, pop),
        new_releases=ranked(
            catalogue.release_ts >= end - NEW_RELEASE_DAYS * 86_400, catalogue.release_ts
        ),
        acclaimed=ranked(catalogue.critic >= ACCLAIMED_SCORE, catalogue.critic.astype(float)),
        by_genre={g: ranked(catalogue.genre_matrix[:, k] > 0, pop) for k, g in enumerate(GENRES)},
        by_language={
            code: ranked(catalogue.language_index == k, pop)
            for k, code in enumerate(LANGUAGE_CODES)
        },
    )


class HistoryBuilder:
    """Generates and writes the history of many profiles against one catalogue."""

    def __init__(
        self,
        *,
        catalogue: CatalogueIndex,
        variants: list[list[VariantInfo]],
        ref: ReferenceIds,
        seed: int,
        events_per_profile: int,
        as_of: dt.datetime,
    ) -> None:
        self.catalogue = catalogue
        self.variants = variants
        self.ref = ref
        self.seed = seed
        self.events_per_profile = events_per_profile
        self.end = int(as_of.timestamp())
        self.start = self.end - HISTORY_DAYS * 86_400
        self.title_ids = catalogue.title_ids
        self.avail = {
            region: (a.tolist(), b.tolist()) for region, (a, b) in catalogue.availability.items()
        }
        self.fold_catalogue = fold_catalogue(
            self.title_ids,
            catalogue.is_series,
            catalogue.episodes,
            catalogue.season_release_ts,
        )
        self._pools: dict[tuple[str, int], _RegionPools] = {}
        self.stats: Counter[str] = Counter()  # sessions, pages, pages with a play
        self.title_states = 0
        self._eligible: dict[tuple[str, int], np.ndarray] = {}
        self._midnights: dict[str, list[int]] = {}
        self.genre_sets = [frozenset(g) for g in catalogue.genres]

    # --- precomputation ---------------------------------------------------------------

    def eligible(self, region: str, limit: int) -> np.ndarray:
        """Positions of the titles a profile of this region and limit could ever be shown."""
        key = (region, limit)
        if key not in self._eligible:
            avail_from, avail_until = self.catalogue.availability[region]
            mask = (
                (self.catalogue.maturity <= limit)
                & (avail_from < self.end)
                & (avail_until > self.start)
            )
            self._eligible[key] = np.flatnonzero(mask)
        return self._eligible[key]

    def pools(self, region: str, limit: int) -> _RegionPools:
        """The row sources for profiles of this region and maturity limit, built once."""
        key = (region, limit)
        if key not in self._pools:
            self._pools[key] = _region_pools(self.catalogue, region, limit, self.start, self.end)
        return self._pools[key]

    def midnights(self, region: str) -> list[int]:
        """Epoch seconds of local midnight for each day of the history, in the region's zone."""
        if region not in self._midnights:
            zone = zoneinfo.ZoneInfo(REGION_BY_CODE[region].time_zone)
            first = dt.datetime.fromtimestamp(self.start, tz=zone).date()
            self._midnights[region] = [
                int(
                    dt.datetime.combine(
                        first + dt.timedelta(days=d), dt.time(), tzinfo=zone
                    ).timestamp()
                )
                for d in range(HISTORY_DAYS + 1)
            ]
        return self._midnights[region]

    def base_scores(self, tastes: list[HiddenTaste]) -> np.ndarray:
        """(profiles, titles) log-preferences before artwork, row and position: the
        vectorised genre, language and popularity terms of ``play_logit``."""
        genre_w = np.array(
            [[t.genres.get(g, 0.0) * len(GENRES) for g in GENRES] for t in tastes], dtype=np.float32
        )
        lang_w = np.array(
            [[t.languages.get(c, 0.0) for c in LANGUAGE_CODES] for t in tastes], dtype=np.float32
        )
        genre_term = np.log(genre_w @ self.catalogue.genre_matrix.T + GENRE_FLOOR)
        lang_term = LANGUAGE_EXPONENT * np.log(
            lang_w[:, self.catalogue.language_index] + LANGUAGE_FLOOR
        )
        return genre_term + lang_term + POPULARITY_WEIGHT * self.catalogue.popularity[None, :]

    # --- the run -----------------------------------------------------------------------

    def run(self, profiles: list[ProfileRecord], progress: Progress) -> Counter[str]:
        """Generate and write every profile's history; returns rows written per kind."""
        with (
            SignalWriter() as writer,
            progress("History: signals", len(profiles), "profiles") as advance,
        ):
            for start in range(0, len(profiles), PROFILE_BATCH):
                batch = profiles[start : start + PROFILE_BATCH]
                scores = self.base_scores([p.taste for p in batch])
                for row, record in enumerate(batch):
                    rng = np.random.default_rng([self.seed, STREAM_HISTORY, record.profile_index])
                    events = _ProfileHistory(self, record, scores[row], rng).generate()
                    events.sort(key=_event_time)  # stable: same-second events keep their order
                    states, rewatches = fold_title_states(events, self.fold_catalogue)
                    writer.add(
                        record.profile_id,
                        events,
                        rng.bytes(16 * len(events)),
                        rewatches,
                        list(states.values()),
                    )
                advance(len(batch))
        self.title_states = writer.states
        return writer.counts


def _event_time(event: Event) -> int:
    return event[5]


class _ProfileHistory:
    """One profile's sessions, with its viewing state (what is in progress, finished, liked)."""

    def __init__(
        self,
        builder: HistoryBuilder,
        record: ProfileRecord,
        scores: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        self.b = builder
        self.record = record
        self.taste = record.taste
        self.rnd = random.Random(int(rng.integers(2**63)))
        self.rng = rng
        self.limit = record.maturity_limit
        self.avail_from, self.avail_until = builder.avail[record.region]
        self.pools = builder.pools(record.region, record.maturity_limit)
        self.events: list[Event] = []
        self.in_progress: list[int] = []  # most recent first
        self.series_at: dict[int, tuple[int, int]] = {}
        self.completed: list[int] = []
        self.completed_set: set[int] = set()
        self.liked: list[int] = []
        self.disliked: set[int] = set()
        self.started: list[int] = []
        self.page_seen: set[int] = set()

        # The personal pool: a taste-weighted sample without replacement (Gumbel top-k)
        # of what the profile could watch, best first.
        eligible = builder.eligible(record.region, record.maturity_limit)
        count = min(PERSONAL_POOL, len(eligible))
        if count:
            candidate = scores[eligible]
            noisy = candidate + rng.gumbel(size=len(eligible)).astype(np.float32)
            top = np.argpartition(-noisy, count - 1)[:count]
            self.personal = eligible[top[np.argsort(-candidate[top], kind="stable")]].tolist()
        else:
            self.personal = []
        self.scores = scores.tolist()
        favourites = [self.scores[i] for i in self.personal[:20]]
        self.reference = sum(favourites) / len(favourites) if favourites else 0.0

        taste = self.taste
        self.theme_cache: dict[tuple[str, tuple[str, ...]], float] = {}
        self.row_pref = {
            bucket: {
                r: ROW_WEIGHT * math.log(w * len(ROW_TYPES) + 0.02)
                for r, w in taste.row_types[bucket].items()
            }
            for bucket in taste.row_types
        }
        self.devices = list(taste.devices)
        self.device_weights = list(taste.devices.values())
        self.buckets = list(taste.hours)
        self.bucket_weights = list(taste.hours.values())
        self.disliked_genres = set(taste.disliked_genres)
        self.genre_names = list(taste.genres)
        self.genre_weights = list(taste.genres.values())
        self.language_names = list(taste.languages)
        self.language_weights = list(taste.languages.values())
        self.cluster_label = builder.ref.cluster_labels[record.cluster_id]
        cluster_lang = [
            c for c, cid in builder.ref.clusters[record.region].items() if cid == record.cluster_id
        ]
        self.cluster_language = next((c for c in cluster_lang if c), "")

    # --- helpers -----------------------------------------------------------------------

    def available(self, t: int, ts: float) -> bool:
        return self.avail_from[t] <= ts < self.avail_until[t]

    def theme_term(self, device: str, themes: tuple[str, ...]) -> float:
        key = (device, themes)
        value = self.theme_cache.get(key)
        if value is None:
            value = THEME_WEIGHT * self.taste.theme_affinity(device, themes)
            self.theme_cache[key] = value
        return value

    def enjoyment(self, t: int) -> float:
        """How this title compares with the profile's favourites (0 = a favourite)."""
        return self.scores[t] - self.reference

    def emit(
        self,
        t: int | None,
        kind: str,
        device: str,
        ts: int,
        *,
        episode: int | None = None,
        value: float | None = None,
        row: str = "",
        position: int | None = None,
        variant: int | None = None,
    ) -> None:
        title_id = None if t is None else self.b.title_ids[t]
        self.events.append((title_id, episode, kind, value, device, ts, row, position, variant))

    def session_starts(self) -> list[int]:
        """Session start times: a day in the window, an hour from the profile's habits."""
        taste, rnd = self.taste, self.rnd
        budget = self.b.events_per_profile * taste.activity
        if self.record.profile_index < len(SHOWCASE_PROFILES):
            budget = max(budget * 3, SHOWCASE_MIN_EVENTS)  # the showcase household watches a lot
        count = max(2, round(budget / EVENTS_PER_SESSION))
        midnights = self.b.midnights(self.record.region)
        starts = []
        while len(starts) < count:
            day = rnd.randrange(HISTORY_DAYS + 1)
            bucket = rnd.choices(self.buckets, weights=self.bucket_weights)[0]
            first, last = HOUR_BUCKETS[bucket]
            hour = (first + rnd.randrange((last - first) % 24)) % 24
            ts = midnights[day] + hour * 3600 + rnd.randrange(3600)
            if self.b.start <= ts < self.b.end - 4 * 3600:
                starts.append(ts)
        starts.sort()
        return starts

    def local_hour(self, ts: int) -> int:
        """The hour of day (0-23) at ``ts`` in the profile's region."""
        midnights = self.b.midnights(self.record.region)
        day = bisect.bisect_right(midnights, ts) - 1
        return (ts - midnights[day]) // 3600 % 24

    # --- generation --------------------------------------------------------------------

    def generate(self) -> list[Event]:
        """Act out every session; returns the profile's events (nearly in time order)."""
        if not self.personal:
            return self.events
        taste, rnd = self.taste, self.rnd
        for start in self.session_starts():
            # One thing at a time: a session starts after the previous one ended.
            ts = start if not self.events else max(start, self.events[-1][5] + 600)
            if ts >= self.b.end - 3600:
                break
            bucket = hour_bucket(self.local_hour(ts))
            device = rnd.choices(self.devices, weights=self.device_weights)[0]
            roll = rnd.random()
            stats = self.b.stats
            stats["sessions"] += 1
            if roll < taste.search_rate:
                self.intentional("search_play", device, ts)
            elif roll < taste.search_rate + taste.external_rate:
                self.intentional("external_play", device, ts)
            else:
                stats["pages"] += 1
                stats["pages with a play"] += self.browse(device, ts, bucket)
        return self.events

    def intentional(self, kind: str, device: str, ts: int) -> None:
        """A play the profile went looking for: a favourite, sometimes one to see again."""
        rnd = self.rnd
        if self.completed and rnd.random() < 0.25:
            pool = self.completed[-10:]
        elif kind == "external_play":
            pool = self.pools.trending[:60]
        else:
            pool = self.personal[:30]
        choices = [t for t in pool if self.available(t, ts) and t not in self.disliked]
        if not choices:
            return
        weights = [math.exp(min(self.scores[t] - self.reference, 5.0)) for t in choices]
        title = rnd.choices(choices, weights=weights)[0]
        self.watch(title, kind, device, ts)

    def browse(self, device: str, ts: int, bucket: str) -> bool:
        """One homepage visit; True when it led to a play."""
        rnd = self.rnd
        bit = DEVICE_BITS[device]
        rows = self.layout()
        self.page_seen = set()
        # (logit, title, row id, position, variant id, time) of each item a play may come from
        shown: list[tuple[float, int, str, int, int, int]] = []
        now = ts
        row_pref = self.row_pref[bucket]
        events, title_ids, variants = self.events, self.b.title_ids, self.b.variants
        limit = self.limit
        for row_type in rows:
            row_id, items = self.fill(row_type, ts)
            if len(items) < 2:
                continue
            skipped = self.scrolls_past(row_type, row_id)
            row_term = row_pref.get(row_type, 0.0)
            for pos, t in enumerate(items):
                # The prior policy: any frame suitable for the device and the profile, uniformly.
                variant = rnd.choice(
                    [v for v in variants[t] if v.devices & bit and v.maturity <= limit]
                )
                vid = variant.variant_id
                impression = (title_ids[t], None, "impression", None, device, now, row_id, pos, vid)
                events.append(impression)
                if not skipped:
                    logit = (
                        self.scores[t]
                        + self.theme_term(device, variant.themes)
                        + row_term
                        - POSITION_DECAY * pos
                    )
                    shown.append((logit, t, row_id, pos, vid, now))
                now += 1
            if skipped:
                self.emit(None, "row_scroll_past", device, now, row=row_id)
            now += 2
        if not shown:
            return False
        top = max(logit for logit, *_ in shown)
        weights = [math.exp(logit - top) for logit, *_ in shown]
        no_play = math.exp(NO_PLAY_LOGIT - top)
        pick = rnd.random() * (sum(weights) + no_play)
        chosen = None
        for item, w in zip(shown, weights, strict=True):
            pick -= w
            if pick < 0:
                chosen = item
                break
        # Curious about a couple of others: hover, sometimes a preview; mixed signals.
        runners_up = sorted(shown, key=lambda item: -item[0])[:3]
        for _logit, t, row_id, pos, vid, _when in runners_up:
            if chosen is not None and t == chosen[1]:
                continue
            if rnd.random() < 0.3:
                self.glance(t, "hover", device, now, (300, 3000), row_id, pos, vid)
                now += 3
                if rnd.random() < 0.3:
                    self.glance(t, "preview", device, now, (5, 30), row_id, pos, vid)
                    now += 20
        if chosen is None:
            return False
        _, t, row_id, pos, vid, _ = chosen
        if rnd.random() < 0.5:
            self.glance(t, "hover", device, now, (800, 5000), row_id, pos, vid)
            now += 3
        if rnd.random() < 0.25:
            self.glance(t, "preview", device, now, (10, 60), row_id, pos, vid)
            now += 30
        self.watch(t, "play_start", device, now + 5, row=row_id, position=pos, variant=vid)
        return True

    def glance(
        self,
        t: int,
        kind: str,
        device: str,
        ts: int,
        span: tuple[int, int],
        row: str,
        position: int,
        variant: int,
    ) -> None:
        """A hover (milliseconds) or preview (seconds) on a tile; its length drawn from span.

        Interest in a runner-up and in the title finally played differ only in span,
        so both browse outcomes share this one draw.
        """
        value = float(self.rnd.randint(*span))
        self.emit(t, kind, device, ts, value=value, row=row, position=position, variant=variant)

    def scrolls_past(self, row_type: str, row_id: str) -> bool:
        """A row of a disliked genre is skipped outright; one of little interest, often."""
        if row_type == "genre":
            genre = row_id.split(":", 1)[1]
            if genre in self.disliked_genres:
                return self.rnd.random() < 0.9
            return self.taste.genres.get(genre, 0.0) < 0.02 and self.rnd.random() < 0.5
        if row_type == "language":
            code = row_id.split(":", 1)[1]
            return self.taste.languages.get(code, 0.0) < 0.05 and self.rnd.random() < 0.6
        return False

    def layout(self) -> list[str]:
        """The prior policy's page: Continue Watching on top, the rest in random order."""
        rnd = self.rnd
        optional = [
            "top_picks",
            "trending",
            "new_releases",
            "critically_acclaimed",
            "genre",
            "genre",
            "language",
            "popular_in",
        ]
        if self.started:
            optional.append("because_you_watched")
        if self.liked:
            optional.append("because_you_liked")
        if len(self.completed) >= 2:
            optional.append("watch_again")
        rows = rnd.sample(optional, min(len(optional), rnd.randint(2, 4)))
        if self.in_progress:
            rows.insert(0, "continue_watching")
        return rows

    def fill(self, row_type: str, ts: int) -> tuple[str, list[int]]:
        """A row id and its titles, available now, not yet on this page."""
        rnd, pools = self.rnd, self.pools
        size = rnd.randint(3, 5)
        row_id = row_type
        if row_type == "continue_watching":
            source = self.in_progress
        elif row_type == "top_picks":
            done = self.completed_set
            source = (t for t in self.personal if t not in done)
        elif row_type in ("because_you_watched", "because_you_liked"):
            seeds = self.liked if row_type == "because_you_liked" else self.started
            anchor = rnd.choice(seeds[-8:])
            row_id = f"{row_type}:{self.b.title_ids[anchor]}"
            genres, genre_sets = self.b.genre_sets[anchor], self.b.genre_sets
            source = (t for t in self.personal if t != anchor and genres & genre_sets[t])
        elif row_type == "trending":
            row_id = f"trending:{self.record.region}"
            offset = rnd.randrange(10)
            source = pools.trending[offset:]
        elif row_type == "new_releases":
            source = pools.new_releases
        elif row_type == "critically_acclaimed":
            source = pools.acclaimed[rnd.randrange(10) :]
        elif row_type == "genre":
            if rnd.random() < 0.5:
                genre = rnd.choices(self.genre_names, weights=self.genre_weights)[0]
            else:
                genre = rnd.choice(GENRES)
            row_id = f"genre:{genre}"
            source = pools.by_genre[genre][rnd.randrange(5) :]
        elif row_type == "language":
            if rnd.random() < 0.6:
                code = rnd.choices(self.language_names, weights=self.language_weights)[0]
            else:
                code = rnd.choice(LANGUAGE_CODES)
            row_id = f"language:{code}"
            source = pools.by_language[code]
        elif row_type == "popular_in":
            row_id = f"popular_in:{self.cluster_label}"
            code = self.cluster_language
            source = pools.by_language[code] if code else pools.trending[20:]
        else:  # watch_again
            source = reversed(self.completed)
        # Every source holds only titles within the profile's maturity limit (the
        # pools are per limit, the personal pool is drawn from eligible titles).
        items: list[int] = []
        seen, disliked = self.page_seen, self.disliked
        avail_from, avail_until = self.avail_from, self.avail_until
        for t in source:
            if t in seen or t in disliked or not avail_from[t] <= ts < avail_until[t]:
                continue
            items.append(t)
            seen.add(t)
            if len(items) == size:
                break
        return row_id, items

    # --- watching ----------------------------------------------------------------------

    def watch(
        self,
        t: int,
        kind: str,
        device: str,
        ts: int,
        *,
        row: str = "",
        position: int | None = None,
        variant: int | None = None,
    ) -> None:
        if t not in self.started:
            self.started.append(t)
        if self.b.catalogue.is_series[t]:
            self.watch_series(t, kind, device, ts, row, position, variant)
        else:
            self.watch_film(t, kind, device, ts, row, position, variant)

    def _in_window(self, t: int, ts: int) -> bool:
        return ts < self.b.end and ts < self.avail_until[t]

    def _resume(self, t: int) -> None:
        if t in self.in_progress:
            self.in_progress.remove(t)
        self.in_progress.insert(0, t)

    def _finish(self, t: int) -> None:
        if t in self.in_progress:
            self.in_progress.remove(t)
        if t not in self.completed_set:
            self.completed.append(t)
            self.completed_set.add(t)

    def _thumbs_up(self, t: int, device: str, ts: int) -> None:
        self.emit(t, "thumbs_up", device, ts)
        self.liked.append(t)

    def _thumbs_down(self, t: int, device: str, ts: int) -> None:
        """A disliked title is not resumed: it leaves Continue Watching for good."""
        self.emit(t, "thumbs_down", device, ts)
        self.disliked.add(t)
        if t in self.in_progress:
            self.in_progress.remove(t)

    def watch_film(
        self,
        t: int,
        kind: str,
        device: str,
        ts: int,
        row: str,
        position: int | None,
        variant: int | None,
    ) -> None:
        """Start a film; finish it (and maybe rate it) or stop part-way, by enjoyment."""
        rnd = self.rnd
        enjoy = self.enjoyment(t)
        rewatch = t in self.completed_set
        self.emit(t, kind, device, ts, row=row, position=position, variant=variant)
        runtime = self.b.catalogue.runtime[t] * 60
        finishes = rnd.random() < (0.75 if rewatch else _sigmoid(2.0 + 1.5 * enjoy))
        if finishes:
            for pct in (25, 50, 75):
                if rnd.random() < 0.5 and self._in_window(t, ts + runtime * pct // 100):
                    self.emit(t, "progress", device, ts + runtime * pct // 100, value=float(pct))
            end = ts + runtime
            if not self._in_window(t, end):
                return
            self.emit(t, "complete", device, end)
            self._finish(t)
            if not rewatch and enjoy > -0.7 and rnd.random() < 0.3 and t not in self.liked:
                self._thumbs_up(t, device, end + 20)
            return
        pct = rnd.randint(5, 85)
        stop = ts + runtime * pct // 100
        if self._in_window(t, stop):
            self.emit(t, "progress", device, stop, value=float(pct))
        if enjoy < -1.0 and rnd.random() < 0.45:
            self._thumbs_down(t, device, stop + 10)
        elif not rewatch and rnd.random() < 0.6:
            self._resume(t)

    def watch_series(
        self,
        t: int,
        kind: str,
        device: str,
        ts: int,
        row: str,
        position: int | None,
        variant: int | None,
    ) -> None:
        """Watch the next episodes in order (from the start on a rewatch), binge by enjoyment."""
        rnd = self.rnd
        enjoy = self.enjoyment(t)
        seasons = self.b.catalogue.episodes[t]
        releases = self.b.catalogue.season_release_ts[t]
        rewatch = t in self.completed_set
        season, episode = (0, 0) if rewatch else self.series_at.get(t, (0, 0))
        binge = 1
        while binge < 4 and rnd.random() < _sigmoid(enjoy - 0.2):
            binge += 1
        quit_p = _sigmoid(-(2.2 + 1.5 * enjoy))
        first = True
        for _ in range(binge):
            if season >= len(seasons) or releases[season] > ts:
                break
            episode_id, runtime_min = seasons[season][episode]
            runtime = runtime_min * 60
            if not self._in_window(t, ts + runtime):
                break
            if first:
                self.emit(
                    t,
                    kind,
                    device,
                    ts,
                    episode=episode_id,
                    row=row,
                    position=position,
                    variant=variant,
                )
            else:
                self.emit(t, "play_start", device, ts, episode=episode_id)
            if rnd.random() < quit_p:
                pct = rnd.randint(5, 70)
                self.emit(
                    t,
                    "progress",
                    device,
                    ts + runtime * pct // 100,
                    episode=episode_id,
                    value=float(pct),
                )
                if first and enjoy < -1.0 and rnd.random() < 0.45:
                    self._thumbs_down(t, device, ts + runtime * pct // 100 + 10)
                    return
                break
            if rnd.random() < 0.4:
                self.emit(t, "progress", device, ts + runtime // 2, episode=episode_id, value=50.0)
            ts += runtime
            self.emit(t, "complete", device, ts, episode=episode_id)
            first = False
            episode += 1
            if episode == len(seasons[season]):
                season, episode = season + 1, 0
                liked = t in self.liked
                if not rewatch and not liked and enjoy > -0.5 and rnd.random() < 0.35:
                    self._thumbs_up(t, device, ts + 20)
                if season == len(seasons):
                    self._finish(t)
                    self.series_at.pop(t, None)
                    return
            ts += 30
        if not rewatch:
            self.series_at[t] = (season, episode)
            self._resume(t)
