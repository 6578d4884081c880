"""A profile's homepage: rows proposed by generators, chosen and ordered, filled, given artwork.

The request path, after the ranked pool (:func:`~recommendations.serving.scoring.rank_profile`):

1. **Row generators** each propose rows from the *ranked pool* by their own
   rule (continue watching, because you watched X for the titles the profile
   watched most recently (finished, or several episodes or most of a film),
   because you liked X, top picks, trending in the region,
   popular in the taste cluster, new releases, critically acclaimed, the
   profile's strongest genres and languages, watch again). A row's items
   keep the pool's order, i.e. the title ranker's.
2. The **row ranker** (:class:`~recommendations.engine.row_ranking.RowRanker`)
   scores every proposed row from its type, its strength and this profile's
   row engagement in the request's context (hour bucket, weekday, device).
3. Rows are taken best first (:func:`_rows_choose`). In the first screen
   (the first ``FIRST_SCREEN_ROWS`` rows) no title appears twice: a later row
   loses the titles an earlier one shows, and a row left with fewer than its
   minimum by that moves, whole, to just below the first screen, where titles
   may repeat, but each row must bring titles no row above shows; one that
   brings too few first takes them from the tails (past the first 20 titles)
   of the rows above it. A row with fewer than its minimum even whole is dropped,
   never padded. A pool too small to fill the first screen at full row length (a
   Kids profile's few dozen titles) is shared among its rows, so that Top
   Picks does not take it all and leave the page one row.
4. Each title gets its artwork from the contextual bandit
   (:func:`artwork.selection.artwork_choose`: the profile's genre taste, the
   device and the hour choose among the title's variants for the device and
   maturity limit, with the propensity of the choice) and its localised name;
   each shown row its title and reason in the profile's display language
   (:mod:`~recommendations.serving.row_copy`, Django's gettext catalogues).

Queries (beyond the ranked pool's): none for most profiles (the row
engagement is counted from the signals the ranked pool read; one indexed
query when the bound on those cut the window short). Where a Continue
Watching tile resumes (:mod:`~recommendations.serving.resume`) comes from the
same read and the catalogue arrays. Names, artwork and row
labels come from the per-process
:mod:`~recommendations.serving.title_tables`. Nothing here writes: the page
log is written by :func:`recommendations.services.homepage.homepage_render`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import math
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, overload

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from django.db import connection
from django.utils import timezone
from uuid6 import uuid7

from artwork.selection import artwork_choose, page_seed, taste_shares
from profiles.models import Profile
from recommendations.engine.confidence import SignalCode, time_decay
from recommendations.engine.popularity import TRENDING_HALF_LIFE_DAYS, TRENDING_STARTED_DAYS
from recommendations.engine.ranking import DEVICE_CLASSES, hour_bucket, local_hour_and_weekday
from recommendations.engine.row_ranking import (
    ROW_TYPES,
    RowEngagement,
    RowRanker,
    row_features,
    row_type_index,
    seen_counts,
)
from recommendations.models import Signal, SignalKind
from recommendations.selectors.title_viewing import ResumePoint
from recommendations.selectors.training import SECONDS_PER_DAY, signal_weights
from recommendations.serving import artefacts
from recommendations.serving.bundle import CatalogueArrays, ServingBundle
from recommendations.serving.recommend import (
    DEVICE_COLUMN,
    ROW_TYPE_COLUMN,
    HistoryRows,
    profile_scoring_context,
    profile_serving,
)
from recommendations.serving.resume import resume_points
from recommendations.serving.row_copy import RowCopy, row_copy_texts
from recommendations.serving.scoring import (
    ProfileHistory,
    RankedPool,
    ScoringContext,
    member_mask,
    rank_profile,
)
from recommendations.serving.title_tables import TitleTables, title_tables_cache

logger = logging.getLogger(__name__)

ROW_RANKER = artefacts.ROW_RANKER
FIRST_SCREEN_ROWS = 4
#: A row with fewer eligible titles than this is dropped (continue watching and
#: watch again are meaningful with a single title).
ROW_MIN_ITEMS = 4
_SMALL_ROW_TYPES = frozenset({"continue_watching", "watch_again"})
#: A row's head: the titles a viewer browses of it, the API's default row length. A row
#: gives up no title there for a row below it (:func:`_rows_choose`), so a page of rows
#: this long or shorter is filled as if no row ever gave one up.
ROW_HEAD_ITEMS = 20
#: Rows whose point is the reason as much as the titles: kept below the first screen
#: with a single title the rows above them do not show (other rows need a row's minimum).
_EXPLAINING_ROW_TYPES = frozenset({"because_you_watched", "because_you_liked"})
#: "New Releases" holds titles that arrived in the region within this many days...
NEW_RELEASE_DAYS = 90.0
#: ...and were released within this many: a 1995 film licensed last week is new here, but
#: no new release (arrival alone put it in the row).
NEW_RELEASE_MAX_AGE_DAYS = 730.0
ACCLAIMED_MIN_SCORE = 80.0
MAX_BECAUSE_WATCHED_ROWS = 3
#: "Because you watched X" is seeded by what the profile watched, not by what it tried: a
#: title it finished, a series with at least this many episodes finished...
SEED_MIN_EPISODES = 3
#: ...or a film played to at least this percent (a long film left for tomorrow).
SEED_MIN_PROGRESS = 50.0
#: Seeds tried for the "Because you watched/liked" rows, each kind: a seed whose row would be
#: too short to show passes its turn to the next, but a page does not try every title.
MAX_SEEDS_TRIED = 12
#: "Because you watched X" keeps X's neighbours at least this share as similar as its nearest.
NEIGHBOUR_MIN_SHARE = 0.5
MAX_BECAUSE_LIKED_ROWS = 2
MAX_GENRE_ROWS = 4
MAX_LANGUAGE_ROWS = 2
#: Row events (plays from rows, scroll-pasts) read per request for the row ranker.
ROW_EVENTS_MAX = 1000
ROW_EVENTS_DAYS = 180
#: Items whose mean play probability is a row's "strength".
STRENGTH_ITEMS = 5
#: "Trending in <region>" says "what people are starting this week": the row holds only
#: titles the version knows were started there in that week (``TRENDING_STARTED_DAYS``,
#: ``ServingBundle.trending_started``). A version trained before it kept them has only
#: the decayed count of 28 days (the demo's Brazil: half its trending tiles had no start
#: in the week): for it the row asks for at least one start a week ago's worth. Taken in
#: float32, as the tables are stored, so that no title started in the week falls under it.
TRENDING_ROW_MIN = float(np.float32(time_decay(TRENDING_STARTED_DAYS, TRENDING_HALF_LIFE_DAYS)))


class PageItem(NamedTuple):
    """One title of a row, as callers outside the request path read it (``row.items``)."""

    title_id: int
    name: str
    match: int | None
    progress: float | None
    variant_id: int | None
    artwork_path: str
    propensity: float
    #: Where Play starts, on a Continue Watching tile (:mod:`~recommendations.serving.resume`).
    resume: ResumePoint | None = None


@dataclass(frozen=True, slots=True)
class PageItems:
    """Every shown title of a page, column by column, rows one after another.

    The request path writes the response body and the page log from these
    columns (a few list comprehensions over ``zip``) instead of building and
    then reading back an object per title: a 12x20 page has 240 of them, and
    per-item Python was about a tenth of a page's CPU.
    """

    title_id: list[int]
    name: list[str]
    match: list[int | None]
    progress: list[float | None]
    variant_id: list[int | None]
    artwork_path: list[str]
    propensity: list[float]
    resume: list[ResumePoint | None]

    def __len__(self) -> int:
        return len(self.title_id)

    def item(self, k: int) -> PageItem:
        return PageItem(
            self.title_id[k],
            self.name[k],
            self.match[k],
            self.progress[k],
            self.variant_id[k],
            self.artwork_path[k],
            self.propensity[k],
            self.resume[k],
        )

    @classmethod
    def of(cls, items: Iterable[PageItem]) -> PageItems:
        columns = list(zip(*items, strict=True)) or [()] * len(PageItem._fields)
        return cls(*(list(column) for column in columns))


class _RowItems(Sequence[PageItem]):
    """A row's slice of :class:`PageItems`, read as ``PageItem`` tuples made on demand."""

    __slots__ = ("columns", "start", "stop")

    def __init__(self, columns: PageItems, start: int, stop: int) -> None:
        self.columns, self.start, self.stop = columns, start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    @overload
    def __getitem__(self, index: int) -> PageItem: ...

    @overload
    def __getitem__(self, index: slice) -> list[PageItem]: ...

    def __getitem__(self, index: int | slice) -> PageItem | list[PageItem]:
        positions = range(self.start, self.stop)[index]
        if isinstance(positions, range):
            return [self.columns.item(k) for k in positions]
        return self.columns.item(positions)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return repr(list(self))


@dataclass(frozen=True, slots=True)
class PageRow:
    id: str
    type: str
    title: str
    reason: str
    items: Sequence[PageItem]
    strength: float = 0.0  # the row ranker's input, logged so training sees what serving saw


@dataclass(frozen=True, slots=True)
class PageContext:
    device: str
    region: str
    cluster: str | None
    hour: int
    weekday: int


@dataclass(frozen=True, slots=True)
class Page:
    """A rendered homepage, before (and as) it is logged.

    ``artwork_path`` of an item is what storage returned (usually relative to
    the site); the API makes it absolute.
    """

    page_id: uuid.UUID
    generated_at: dt.datetime
    context: PageContext
    model_version: int
    ranker: str
    row_ranker: str
    rows: list[PageRow]
    #: The profile's genre shares: the artwork policy's context, logged with the page.
    taste: dict[str, float] = field(default_factory=dict)
    #: The rows' items as columns, when the builder made them so (see :meth:`item_columns`).
    columns: PageItems | None = None

    def item_columns(self) -> PageItems:
        """Every shown item as columns, rows in order: the builder's, or made from the rows."""
        if self.columns is not None:
            return self.columns
        return PageItems.of(item for row in self.rows for item in row.items)


@dataclass(slots=True)
class RowTrace:
    """What the row ranker saw and decided for one page, when a caller asks (the console).

    :func:`homepage_build` fills it from the very arrays it orders the page by, so
    "why is this row here" is answered from the served decision, not a rebuild of it.
    The API never passes one: it costs a row copy per candidate and a dict of reasons.

    Attributes
    ----------
    ranker : RowRanker
        The row ranker that scored the page (its ``mode``: prior or learned).
    row_ids, row_types, titles, reasons : list of str
        Every candidate row the generators proposed, in proposal order; the
        titles and reasons in the profile's display language.
    features : numpy.ndarray of float32, shape (n, len(ROW_FEATURE_NAMES))
    scores : numpy.ndarray of float32, shape (n,)
    order : list of int
        Candidate indices, best score first (the order rows were taken in).
    placed : list of int
        Candidate indices of the page's rows, top to bottom.
    dropped : dict of int to str
        Why each candidate not on the page is not: "too few titles ...",
        "below the page's N rows", ...
    engagement : RowEngagement
        The profile's row counts the features were computed from.
    hour_bucket, device, daypart : int
        The request's context as the features index it.
    """

    ranker: RowRanker | None = None
    row_ids: list[str] = field(default_factory=list)
    row_types: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    features: npt.NDArray[np.float32] | None = None
    scores: npt.NDArray[np.float32] | None = None
    order: list[int] = field(default_factory=list)
    placed: list[int] = field(default_factory=list)
    dropped: dict[int, str] = field(default_factory=dict)
    engagement: RowEngagement | None = None
    hour_bucket: int = 0
    device: int = 0
    daypart: int = 0


@dataclass(slots=True)
class _Proposal:
    id: str
    type: str
    copy: RowCopy  # made text (title, reason) only if the row is shown
    positions: npt.NDArray[np.intp]  # into the ranked pool, best first


# --- Row ranker artefact ------------------------------------------------------------------


class _RowRankerCache:
    """The row ranker of each loaded version; the prior for versions trained without one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rankers: dict[int, RowRanker] = {}

    def clear(self) -> None:
        with self._lock:
            self._rankers.clear()

    def get(self, bundle: ServingBundle, *, keep: bool = True) -> RowRanker:
        """The version's row ranker; with ``keep=False`` one not loaded yet is read and not
        kept: a version chosen for a preview must not crowd out (past five, clear) the rankers
        of the versions serving traffic."""
        ranker = self._rankers.get(bundle.version_id)
        if ranker is None and not keep:
            return _row_ranker_load(bundle.version_id)
        if ranker is None:
            with self._lock:
                ranker = self._rankers.get(bundle.version_id)
                if ranker is None:
                    ranker = _row_ranker_load(bundle.version_id)
                    if len(self._rankers) > 4:
                        self._rankers.clear()
                    self._rankers[bundle.version_id] = ranker
        return ranker


def _row_ranker_load(version_id: int) -> RowRanker:
    key = artefacts.artefact_key(version_id)
    if version_id and artefacts.artefact_storage().exists(f"{key}/{ROW_RANKER}"):
        try:
            return RowRanker.load(artefacts.artefact_read(key, ROW_RANKER))
        except ValueError:
            # A version trained by an older release: its rows are ordered by the prior
            # until the next retrain writes a ranker this release can read.
            logger.warning("Version %s has an unreadable row ranker; using the prior", version_id)
    return RowRanker()


row_ranker_cache = _RowRankerCache()


# --- Row engagement -----------------------------------------------------------------------


@functools.cache
def _row_events_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(Signal._meta.db_table)
    # Only quoted identifiers and constants are interpolated.
    return (
        f"SELECT {quote('row')}, kind, device, occurred_at FROM {table} "  # noqa: S608
        f"WHERE profile_id = %s AND occurred_at >= %s AND occurred_at < %s "
        f"AND kind IN (%s, %s) AND {quote('row')} <> '' "
        "ORDER BY occurred_at DESC LIMIT %s"
    )


def row_type_of(row_id: str) -> str:
    """The type of a row id: ``because_you_watched:123`` -> ``because_you_watched``."""
    return row_id.split(":", 1)[0]


def profile_row_engagement(
    *, profile_id: int, at: dt.datetime, zone: dt.tzinfo, history: HistoryRows | None = None
) -> RowEngagement:
    """The profile's plays started from rows and its rapid scroll-pasts, counted.

    The newest ``ROW_EVENTS_MAX`` such events of the last ``ROW_EVENTS_DAYS``
    before ``at``. Counted from ``history`` (the signals the request read
    already) when those hold every signal of that window, which is the case
    for all but the heaviest viewers; otherwise read with one query. Both
    give the same counts, so the row ranker sees what training saw. The
    tiles seen per row type come from the impressions in ``history`` (none
    without it).
    """
    since = at - dt.timedelta(days=ROW_EVENTS_DAYS)
    if history is not None and since.timestamp() > history.complete_after:
        signals = history.signals
        timestamp = signals[:, 5]
        events = np.flatnonzero(
            (signals[:, ROW_TYPE_COLUMN] != -1)
            & np.isin(signals[:, 3], _ROW_EVENT_CODES)
            & (timestamp >= since.timestamp())
            & (timestamp < at.timestamp())
        )[:ROW_EVENTS_MAX]  # newest first, as read
        rows = signals[events]
        return _engagement(
            row_type=np.maximum(rows[:, ROW_TYPE_COLUMN], -1).astype(np.int64),
            is_play=rows[:, 3] == SignalCode.PLAY_START,
            device=rows[:, DEVICE_COLUMN].astype(np.int64),
            timestamp=rows[:, 5],
            zone=zone,
            at=at,
            history=history,
        )
    with connection.cursor() as cursor:
        cursor.execute(
            _row_events_sql(),
            [
                profile_id,
                since,
                at,
                SignalKind.PLAY_START.value,
                SignalKind.ROW_SCROLL_PAST.value,
                ROW_EVENTS_MAX,
            ],
        )
        rows = cursor.fetchall()
    return _engagement(
        row_type=np.array([row_type_index(row_type_of(r[0])) for r in rows], dtype=np.int64),
        is_play=np.array([r[1] == SignalKind.PLAY_START for r in rows], dtype=bool),
        device=np.array(
            [DEVICE_CLASSES.index(r[2]) if r[2] in DEVICE_CLASSES else 0 for r in rows], np.int64
        ),
        timestamp=np.array([_aware(r[3]).timestamp() for r in rows], dtype=np.float64),
        zone=zone,
        at=at,
        history=history,
    )


_ROW_EVENT_CODES = np.array([SignalCode.PLAY_START, SignalCode.ROW_SCROLL_PAST], dtype=np.float64)


def _engagement(
    *,
    row_type: npt.NDArray[np.int64],
    is_play: npt.NDArray[np.bool_],
    device: npt.NDArray[np.int64],
    timestamp: npt.NDArray[np.float64],
    zone: dt.tzinfo,
    at: dt.datetime,
    history: HistoryRows | None,
) -> RowEngagement:
    """Count row events (newest first) in the region's local hour buckets and weekdays,
    and the tiles seen per row type over the period both were read for."""
    seen = None
    if history is not None:
        signals = history.signals
        shown = signals[signals[:, 3] == SignalCode.IMPRESSION]
        seen = seen_counts(
            at=at.timestamp(),
            days=ROW_EVENTS_DAYS,
            impression_type=np.maximum(shown[:, ROW_TYPE_COLUMN], -1),
            impression_time=shown[:, 5],
            impressions_cut=history.impressions_cut,
            event_type=row_type,
            event_is_play=is_play,
            event_time=timestamp,
            events_cut=timestamp.shape[0] >= ROW_EVENTS_MAX,
        )
    if timestamp.shape[0] == 0:
        return RowEngagement.empty(seen)
    hour, weekday = local_hour_and_weekday(timestamp, zone)
    return RowEngagement.from_events(
        row_type=row_type,
        is_play=is_play,
        hour_bucket=hour_bucket(hour),
        device=device,
        weekday=weekday,
        seen=seen,
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# --- Generators ---------------------------------------------------------------------------


def _ordered(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
    """Pool positions where ``mask`` holds, in the pool's (ranker's) order."""
    return np.flatnonzero(mask)


def _language_position(catalogue: CatalogueArrays, code: str | None) -> int:
    """``code``'s index among the catalogue's language codes; -1 for none or one it lacks."""
    codes = catalogue.facts.language_codes
    return codes.index(code) if code in codes else -1


def _watched(history: ProfileHistory, is_series: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The title states that say the profile watched the title, not that it tried it.

    "Because you watched X" (and its reason, "which you watched recently") is
    true of a title finished (a rewatch is of a finished title), of a series
    with ``SEED_MIN_EPISODES`` episodes finished (eight episodes binged last
    night, the series not done; the last one played counts if left in its
    credits, as ``episodes_finished`` counts it), and of a film played to ``SEED_MIN_PROGRESS``
    percent. It is not of a first episode or a film's first minutes (a
    sample), nor of a hover or a preview (no play), which seeded rows when a
    profile had finished nothing. ``is_series`` is per state. Thumbs down are
    the caller's (a seed must be nameable anyway).
    """
    completed = history.completed
    progress = history.progress
    films_far = (
        np.zeros_like(completed)
        if progress is None
        else ~is_series & (np.nan_to_num(progress) >= SEED_MIN_PROGRESS)
    )
    finished = history.episodes_finished
    if finished.shape[0] != completed.shape[0]:  # no states read (offline evaluation)
        finished = np.zeros(completed.shape[0], dtype=np.int32)
    return completed | films_far | (is_series & (finished >= SEED_MIN_EPISODES))


def _seed_order(history: ProfileHistory, wanted: npt.NDArray[np.bool_]) -> list[int]:
    """Title indices of the states in ``wanted``, most recently played first.

    At most ``MAX_SEEDS_TRIED``: a heavy viewer has thousands of title states, and a
    loop over them all was Python per title for the few seeds a page uses.
    """
    last = np.where(wanted & ~np.isnan(history.last_played), history.last_played, -np.inf)
    order = np.argsort(-last, kind="stable")
    order = order[np.isfinite(last[order])][:MAX_SEEDS_TRIED]
    return history.state_title[order].tolist()


def _similar_to(neighbours: sp.csr_matrix, seed: int, n: int) -> npt.NDArray[np.bool_]:
    """Titles close to ``seed``: its content neighbours at least half as similar as its nearest."""
    start, end = neighbours.indptr[seed], neighbours.indptr[seed + 1]
    similarity = neighbours.data[start:end]
    similar = np.zeros(n, dtype=bool)
    if similarity.shape[0]:
        keep = similarity >= NEIGHBOUR_MIN_SHARE * similarity.max()
        similar[neighbours.indices[start:end][keep]] = True
    similar[seed] = False
    return similar


def _upper_quartile_cut(values: npt.NDArray[np.floating]) -> float:
    """A threshold that keeps exactly the values ``>= np.quantile(values, 0.75)`` keeps.

    The linear quantile lies between two adjacent order statistics, the
    ``floor`` and ``ceil`` of ``0.75 (n - 1)``, and no value lies strictly
    between those; so the ``ceil`` one (the ``floor`` one when the index is
    whole) selects the same values, from one ``partition`` instead of
    ``np.quantile``'s much slower general path.
    """
    k = math.ceil(0.75 * (values.shape[0] - 1))
    return float(np.partition(values, k)[k])


def _upper_quartile(
    values: npt.NDArray[np.floating], held: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_] | None:
    """The titles of ``held`` in the upper quartile of ``values`` over ``held`` alone.

    ``held`` is what the row can show (nothing resumed or finished). Taken over the
    whole pool, the quartile counted the titles the profile is midway through (often
    the most started of all) and the row kept what those left of it: a profile resuming
    six of the eight most started titles of a 32-title pool got a trending row of two,
    too few to show, where the titles it can show make one of ten. None when no title
    of ``held`` is above 0: no row.
    """
    kept = values[held]
    if kept.max(initial=0.0) <= 0:
        return None
    cut = max(_upper_quartile_cut(kept), 1e-6)
    return (values >= cut) & held


def _language_heads(
    languages: npt.NDArray[np.integer],
    probability: npt.NDArray[np.float32],
    keep: npt.NDArray[np.bool_],
    n_languages: int,
    min_items: int = 1,
) -> npt.NDArray[np.float64]:
    """Each language's play probability summed over its best ``STRENGTH_ITEMS`` titles in ``keep``.

    What its row would lead with (``languages`` and ``probability`` are in the pool's
    best-first order). Summed over the whole pool, the language with the most titles
    won: the demo's Arjun, eight of whose ten titles are Tamil, got rows in Hindi (124
    middling titles of his pool) and English, and none in Tamil (44, twice as likely
    each to be played). A language with fewer than ``min_items`` titles in ``keep``
    weighs 0: its row would be too short to show, and must not take a row's place.
    """
    at = np.flatnonzero(keep & (languages >= 0))
    language = languages[at]
    order = np.argsort(language, kind="stable")  # best first within each language
    grouped = language[order]
    rank = np.arange(grouped.shape[0]) - np.searchsorted(grouped, grouped, side="left")
    head = order[rank < STRENGTH_ITEMS]
    weight = np.bincount(
        language[head], weights=probability[at[head]].astype(np.float64), minlength=n_languages
    )
    if min_items > 1:
        weight[np.bincount(language, minlength=n_languages) < min_items] = 0.0
    return weight


def _row_strength(
    probability: npt.NDArray[np.float32], positions: list[npt.NDArray[np.intp]]
) -> npt.NDArray[np.float64]:
    """Each row's mean play probability over its first ``STRENGTH_ITEMS`` titles, at once.

    Summed in float64 (a per-row float32 ``mean()`` could differ in its last bit).
    """
    heads = [p[:STRENGTH_ITEMS] for p in positions]
    counts = np.fromiter((h.shape[0] for h in heads), dtype=np.intp, count=len(heads))
    starts = np.cumsum(counts) - counts
    values = probability[np.concatenate(heads)].astype(np.float64)
    return np.add.reduceat(values, starts) / counts


def _propose_rows(
    *,
    bundle: ServingBundle,
    catalogue: CatalogueArrays,
    tables: TitleTables,
    history: ProfileHistory,
    pool: RankedPool,
    context: ScoringContext,
    names: npt.NDArray[np.object_],
    display_language: int = -1,
    seed_min_items: int = 1,
    genre_min_items: int = 1,
    language_min_items: int = 1,
) -> list[_Proposal]:
    """The rows each generator proposes, by its own rule, from the ranked pool.

    ``seed_min_items`` is the fewest titles a "Because you watched/liked" row may
    show (:func:`_row_minimum`): a seed whose row holds fewer gives its place to the
    next seed, instead of taking one of the few rows and being dropped.
    ``genre_min_items`` is the same for a genre row and the next genre, and
    ``language_min_items`` for a language row and the next language.
    """
    n = bundle.n_titles
    titles = pool.title_index
    at = context.at.timestamp()
    region = catalogue.region(context.region_code)
    facts = catalogue.facts
    proposals: list[_Proposal] = []

    def add(row_id: str, row_type: str, copy: RowCopy, mask: np.ndarray) -> None:
        positions = _ordered(mask)
        if positions.shape[0]:
            proposals.append(_Proposal(row_id, row_type, copy, positions))

    resuming = pool.resuming
    add(
        "continue_watching",
        "continue_watching",
        RowCopy("continue_watching"),
        resuming,
    )
    # Discovery rows hold neither what the profile is resuming (its own row) nor what it
    # finished: a finished favourite is in the pool for Watch Again alone, not at 98% in
    # Top Picks beside "Because you watched" itself.
    finished = member_mask(titles, history.state_title[history.completed], n)
    fresh = ~resuming & ~finished
    add(
        "top_picks",
        "top_picks",
        RowCopy("top_picks"),
        fresh,
    )

    # Because you watched X: what the profile watched (finished, several episodes of, most
    # of: _watched), most recently played first; never what it only sampled.
    # A row's title names its seed, so the seed must pass the page's own filters: else a
    # favourite since re-rated above a kids profile's limit, or out of the region's
    # catalogue, is shown by name. Checked for the few titles asked about, not the catalogue.
    # Nor is a title the profile now gives a thumbs down a seed, finished or liked before:
    # "more like X" of a title it said it did not want, while the ranking keeps X's nearest
    # neighbours out of the pool for that very reason.
    available = region.available(at)
    disliked = history.state_title[history.thumbs_down]

    def nameable(title_index: npt.NDArray[np.integer]) -> npt.NDArray[np.bool_]:
        may = available[title_index] & (facts.maturity[title_index] <= context.maturity_limit)
        if disliked.shape[0]:  # most profiles have none: no isin on their pages
            may &= ~np.isin(title_index, disliked)
        return may

    may_name = nameable(history.state_title)
    seeds = _seed_order(history, _watched(history, facts.is_series[history.state_title]) & may_name)
    neighbours = bundle.neighbours

    def seeded(row_type: str, candidates: list[int], rows: int) -> set[int]:
        """Rows "more like" the first ``rows`` seeds with enough such titles in the pool.

        A seed like nothing the profile may watch (no content neighbours, or all of them
        finished or out of the pool) made no row, or one too short to show, and took one
        of the few places: a profile that had just finished a documentary unlike anything
        else got two "Because you watched" rows instead of three.
        """
        used: set[int] = set()
        for seed in candidates[:MAX_SEEDS_TRIED]:
            if len(used) >= rows:
                break
            mask = _similar_to(neighbours, seed, n)[titles] & fresh
            if np.count_nonzero(mask) < seed_min_items:
                continue
            used.add(seed)
            add(
                f"{row_type}:{int(bundle.index.title_ids[seed])}",
                row_type,
                RowCopy(row_type, names[seed]),
                mask,
            )
        return used

    used_seeds = seeded("because_you_watched", seeds, MAX_BECAUSE_WATCHED_ROWS)

    # Because you liked X: titles whose latest rating is a thumbs up, newest first, each
    # once (:meth:`~recommendations.serving.scoring.ProfileHistory.liked`). One rated down
    # or cleared since is liked no more (so nameable's dislike test drops none of these;
    # its region and maturity tests may). A title already seeding "Because you watched"
    # seeds no second row about it.
    liked = history.liked()
    liked = liked[nameable(liked)]
    liked_seeds = [int(t) for t in liked.tolist() if t not in used_seeds]
    seeded("because_you_liked", liked_seeds, MAX_BECAUSE_LIKED_ROWS)

    _, cluster_pop, region_pop = bundle.trending_rows(
        region_code=context.region_code, cluster_id=context.cluster_id
    )
    # "Trending in India" is what India started this week: the upper quartile, by the
    # region's popularity, of the pool's titles started there in the week before training,
    # taken over the titles the row can show (none resumed or finished), as is the cluster's.
    # The popularity itself (the ranking's, a short pool's fill) keeps older starts. Not
    # proposed for a region that started nothing that week, whose popularity may be every
    # region's (the fallback the ranking and the fill use).
    if bundle.region_trends(context.region_code):
        weekly = bundle.trending_started(context.region_code)
        if weekly is not None:
            this_week = weekly[titles]
        else:  # a version trained before the week's starts were kept
            this_week = bundle.index.region_row(context.region_code)[titles] >= TRENDING_ROW_MIN
        pool_region = np.where(this_week, region_pop[titles], np.float32(0.0))
        held = _upper_quartile(pool_region, fresh)
        if held is not None:
            add(
                f"trending:{context.region_code}",
                "trending",
                RowCopy("trending", context.region_code),
                held,
            )
    # The cluster's row only where it can hold other titles than the trending row: not for
    # a region's only cluster (everybody there), nor for a cluster whose popularity is, or
    # ranks titles as, the region's (flagged once per region and cluster, with the rows).
    cluster_id = context.cluster_id
    if (
        cluster_id is not None
        and cluster_id in tables.cluster_names
        and cluster_id not in tables.whole_region_clusters
        and bundle.cluster_row_own(region_code=context.region_code, cluster_id=cluster_id)
    ):
        held = _upper_quartile(cluster_pop[titles], fresh)
        if held is not None:
            add(
                f"popular_in:{cluster_id}",
                "popular_in",
                _cluster_copy(tables, cluster_id),
                held,
            )

    # New here (arrived in the region lately) and a new release (released lately): the
    # arrival alone made a 1995 film licensed last week a "New Release". A series is new
    # again when a season came out lately (the pool holds only what the region offers now
    # and no title the profile rated down).
    age_days = (at - region.arrival[titles]) / SECONDS_PER_DAY
    released_days = (at - facts.release_day[titles]) / SECONDS_PER_DAY
    season_days = (at - catalogue.releases.newest_out(at)[titles]) / SECONDS_PER_DAY
    add(
        "new_releases",
        "new_releases",
        RowCopy("new_releases", context.region_code, int(NEW_RELEASE_DAYS)),
        (
            (age_days >= 0)
            & (age_days <= NEW_RELEASE_DAYS)
            & (released_days <= NEW_RELEASE_MAX_AGE_DAYS)
            | (season_days <= NEW_RELEASE_DAYS)
        )
        & fresh,
    )
    critic = tables.critic_score[titles]
    add(
        "critically_acclaimed",
        "critically_acclaimed",
        RowCopy("critically_acclaimed", number=int(ACCLAIMED_MIN_SCORE)),
        (critic >= ACCLAIMED_MIN_SCORE) & fresh,  # False where unrated (NaN)
    )

    # Genre rows: the genres carrying most of the play probability of the titles a genre
    # row holds (none resumed or finished), of those with a row's worth of such titles.
    # Weighed over the whole pool, a genre the profile is midway through six titles of
    # led, proposed a row of the two left and took one of the places: it was dropped as
    # too short, and a genre with a full row was not proposed.
    # Counted for the genres tried only (a few), not for every genre of the catalogue.
    genres = tables.genre_table[titles]
    if genres.shape[1]:
        weight = np.where(fresh, pool.probability, np.float32(0.0)).astype(np.float64) @ genres
        proposed = 0
        for g in np.argsort(-weight, kind="stable").tolist():
            if proposed >= MAX_GENRE_ROWS or weight[g] <= 0:
                break
            held = genres[:, g] & fresh
            if np.count_nonzero(held) < genre_min_items:
                continue
            proposed += 1
            add(
                # The id, not the slug: a slug may be 64 characters, and the row id must
                # fit the signals' `row` (ROW_MAX_LENGTH) when the client echoes it.
                f"genre:{tables.genre_ids[g]}",
                "genre",
                RowCopy("genre", tables.genre_names[g]),
                held,
            )

    # Language rows: the profile's display language, its other languages by how strong a
    # row each would make (not the catalogue's alphabetical order, which gave a Telugu
    # speaker who also picked Hindi and Japanese rows for those two and never Telugu),
    # then the pool's strongest language; of those with a row's worth of titles to discover
    # (a display language the profile is midway through took one of the two places, and
    # its row was dropped as too short).
    languages = facts.language[titles]
    weight = _language_heads(
        languages, pool.probability, fresh, len(facts.language_codes), language_min_items
    )
    own = [int(i) for i in context.language_index.tolist() if weight[i] > 0]
    wanted = sorted(own, key=lambda i: (i != display_language, -weight[i], i))
    wanted += [int(i) for i in np.argsort(-weight, kind="stable")[:1] if weight[i] > 0]
    for language in list(dict.fromkeys(wanted))[:MAX_LANGUAGE_ROWS]:
        code = facts.language_codes[language]
        add(
            f"language:{code}",
            "language",
            RowCopy("language", code),
            (languages == language) & fresh,
        )

    rewatchable = history.state_title[history.completed & history.rewatch_worthy]
    add(
        "watch_again",
        "watch_again",
        RowCopy("watch_again"),
        # A rewatch under way is resumed from Continue Watching, not started again here.
        member_mask(titles, rewatchable, n) & ~resuming,
    )
    return proposals


def _cluster_copy(tables: TitleTables, cluster_id: int) -> RowCopy:
    """How a taste cluster's popular row is named.

    A region's default cluster holds everybody whose viewing points to no keyed
    community (named "Everyone" in the demo), so "Popular with Everyone viewers"
    says nothing. Beside keyed communities it is only the viewers they leave,
    and "Popular in India" would claim the whole region, as "Trending in India"
    above it does: it reads "Popular with viewers like you". (Where it is the
    region's only cluster it is the whole region, and its row is not proposed:
    it would hold the trending row's titles.) A cluster keyed by one language
    is named by that language, in the display language; another ("Family") by
    its name localised in the display language, if staff gave one.
    """
    if cluster_id in tables.remainder_clusters:
        return RowCopy("popular_with_you")
    language = tables.cluster_languages.get(cluster_id)
    if language is not None:
        return RowCopy("popular_with_language", language)
    return RowCopy("popular_with", number=cluster_id)


# --- Assembly -----------------------------------------------------------------------------


def profile_taste(*, history: ProfileHistory, tables: TitleTables) -> dict[str, float]:
    """Genre shares of the titles the profile engaged with: the artwork policy's taste context.

    A finished title says more than a started one and a rewatch-worthy one
    more again; a thumbs-down title says nothing about what draws it in.
    """
    weight = 1.0 + history.completed + history.rewatch_worthy
    weight = np.where(history.thumbs_down, 0.0, weight)
    return taste_shares(
        genre_rows=tables.genre_table[history.state_title],
        weights=weight,
        genre_slugs=tables.genre_slugs,
    )


def homepage_build(
    *,
    profile: Profile,
    device: str,
    at: dt.datetime | None = None,
    context_at: dt.datetime | None = None,
    n_rows: int = 12,
    n_items: int = 20,
    language_codes: set[str] | None = None,
    page_id: uuid.UUID | None = None,
    bundle: ServingBundle | None = None,
    trace: RowTrace | None = None,
) -> Page:
    """Build (not log) a profile's homepage. ``profile`` needs ``account`` loaded.

    Two clocks, because only one of them is the client's to choose:

    - ``at`` (default now) is the moment the page is built as of: the titles
      available then, the history before it, the page's ``generated_at``.
      Only internal callers pass it (simulated traffic, the console, tests),
      to build the page a profile got, or would have got, at a past moment.
    - ``context_at`` (default ``at``) is the moment whose local hour and
      weekday are the page's context (row order, title features, artwork).
      The homepage API passes its ``at`` here and nothing else, so a client
      can ask for "Friday evening's page" but never for titles outside their
      licence window, nor put a page log in the past or future.

    ``trace``, when given, is filled with every candidate row's features, score and
    fate (:class:`RowTrace`); the page is the same with or without it.

    ``page_id`` (default a new UUIDv7) seeds the page's artwork draws; the
    traffic simulation passes ids from its own seeded generator so that a
    seed gives the same pages. A UUIDv7 passed must be of the moment the page
    is shown from: ingest looks for a row's earlier scroll-past and a tile's
    earlier impression of the page only from that moment on
    (``services.signals._skipped_since``, ``_shown_since``).

    ``bundle`` (default: the version serving the profile) builds the page with another
    loaded version, whatever its status
    (:func:`~recommendations.serving.cache.version_bundle`): the console's answer to
    "what would this version show", through this same code. Its row ranker is read
    without being kept among the serving versions'.

    Raises
    ------
    recommendations.serving.cache.NoActiveModel
    """
    now = at or timezone.now()
    clock = context_at or now
    region_code = profile.account.home_region_id
    chosen = bundle is not None
    serving = profile_serving(profile=profile, at=at, bundle=bundle)
    bundle, catalogue, history = serving.bundle, serving.catalogue, serving.history
    tables = title_tables_cache.get(
        index_key=bundle.index_key, title_ids=bundle.index.title_ids, not_before=bundle.loaded_at
    )
    context = profile_scoring_context(
        profile=profile,
        catalogue=catalogue,
        device=device,
        at=now,
        context_at=clock,
        language_codes=language_codes,
    )
    pool = rank_profile(
        bundle=bundle,
        catalogue=catalogue,
        history=history,
        context=context,
        weights=signal_weights(),
    )
    zone = catalogue.time_zones.get(region_code, dt.UTC)
    local = clock.astimezone(zone)
    page_context = PageContext(
        device=device,
        region=region_code,
        cluster=tables.cluster_names.get(profile.taste_cluster_id)
        if profile.taste_cluster_id
        else None,
        hour=local.hour,
        weekday=local.weekday(),
    )
    # A chosen version's ranker is read without being kept (the cache is the serving
    # versions'); the serving path calls the cache as it always has.
    row_ranker = (
        row_ranker_cache.get(bundle, keep=False) if chosen else row_ranker_cache.get(bundle)
    )
    if trace is not None:
        trace.ranker = row_ranker
    page = Page(
        # Time-ordered (UUIDv7): page logs append to their primary key's index instead
        # of landing on a random leaf of it (5.7x less WAL, 2.8x faster inserts into
        # a 5M-row table, docs/recommendations.md).
        page_id=page_id or uuid7(),
        generated_at=now,
        context=page_context,
        model_version=bundle.version_id,
        ranker=bundle.ranker.mode,
        row_ranker=row_ranker.mode,
        rows=[],
        taste=profile_taste(history=history, tables=tables),
    )
    if len(pool) == 0:
        return page

    names = tables.display_names(profile.display_language_id)
    proposals = _propose_rows(
        bundle=bundle,
        catalogue=catalogue,
        tables=tables,
        history=history,
        pool=pool,
        context=context,
        names=names,
        display_language=_language_position(catalogue, profile.display_language_id),
        seed_min_items=_row_minimum("because_you_watched", n_items),
        genre_min_items=_row_minimum("genre", n_items),
        language_min_items=_row_minimum("language", n_items),
    )
    if not proposals:
        return page
    engagement = profile_row_engagement(
        profile_id=profile.pk, at=now, zone=zone, history=serving.rows
    )
    bucket = int(hour_bucket(local.hour))
    device_code = DEVICE_CLASSES.index(device)
    daypart = int(local.weekday() >= 5)
    strength = _row_strength(pool.probability, [p.positions for p in proposals])
    features = row_features(
        row_type=[row_type_index(p.type) for p in proposals],
        strength=strength,
        hour_bucket=bucket,
        device=device_code,
        weekday=local.weekday(),
        plays=engagement.plays,
        plays_hour=engagement.plays_by_hour[bucket],
        plays_device=engagement.plays_by_device[device_code],
        plays_daypart=engagement.plays_by_daypart[daypart],
        scroll_past=engagement.scroll_past,
        seen=engagement.seen,
        plays_seen=engagement.plays_seen,
    )
    scores = row_ranker.predict_proba(features)
    order = np.argsort(-scores, kind="stable")

    chosen = _rows_choose(
        proposals,
        order=order.tolist(),
        strength=strength,
        n_pool=len(pool),
        n_rows=n_rows,
        n_items=n_items,
        dropped=None if trace is None else trace.dropped,
    )
    if trace is not None:
        texts = row_copy_texts(
            [p.copy for p in proposals],
            display_language=profile.display_language_id,
            tables=tables,
        )
        index = {id(p): i for i, p in enumerate(proposals)}
        trace.row_ids = [p.id for p in proposals]
        trace.row_types = [p.type for p in proposals]
        trace.titles = [title for title, _ in texts]
        trace.reasons = [reason for _, reason in texts]
        trace.features, trace.scores, trace.order = features, scores, order.tolist()
        trace.placed = [index[id(proposal)] for proposal, _, _ in chosen]
        trace.engagement = engagement
        trace.hour_bucket, trace.device, trace.daypart = bucket, device_code, daypart

    # Names, match, progress and artwork for every shown title at once, as columns.
    lengths = [len(positions) for _, positions, _ in chosen]
    shown = np.fromiter(
        (p for _, positions, _ in chosen for p in positions), dtype=np.intp, count=sum(lengths)
    )
    shown_titles = pool.title_index[shown]
    shown_ids = bundle.index.title_ids[shown_titles]
    picks = artwork_choose(
        title_ids=shown_ids,
        device=device,
        maturity_limit=profile.maturity_limit,
        taste=page.taste,
        hour=local.hour,
        seed=page_seed(page.page_id),
    )
    variants: list[int | None] = picks.variant.tolist()
    if picks.variant.min(initial=0) < 0:
        variants = [v if v >= 0 else None for v in variants]
    paths = picks.url
    if None in paths:
        placeholder = tables.placeholder
        paths = [path or placeholder for path in paths]
    progress = _progress_of(shown_titles, history)
    columns = PageItems(
        title_id=shown_ids.tolist(),
        name=names[shown_titles].tolist(),
        match=pool.shown_match(shown),
        progress=progress,
        variant_id=variants,
        artwork_path=paths,
        propensity=picks.propensity.tolist(),
        resume=_resume_of(
            chosen, lengths, shown_titles, shown_ids, progress, serving.rows, catalogue
        ),
    )
    # Titles and reasons of the shown rows only, in the display language.
    texts = row_copy_texts(
        [proposal.copy for proposal, _, _ in chosen],
        display_language=profile.display_language_id,
        tables=tables,
    )
    rows = page.rows
    k = 0
    for (proposal, _, row_strength), length, (title, reason) in zip(
        chosen, lengths, texts, strict=True
    ):
        rows.append(
            PageRow(
                id=proposal.id,
                type=proposal.type,
                title=title,
                reason=reason,
                items=_RowItems(columns, k, k + length),
                strength=round(row_strength, 5),
            )
        )
        k += length
    return dataclasses.replace(page, columns=columns)


def _row_minimum(row_type: str, n_items: int) -> int:
    """The fewest titles a row of ``row_type`` may show: fewer, and it is dropped."""
    return min(1 if row_type in _SMALL_ROW_TYPES else ROW_MIN_ITEMS, n_items)


def _first_screen_share(*, n_pool: int, n_rows: int, n_items: int) -> int:
    """How many titles a first-screen row may show: ``n_items``, unless the pool is too small.

    The first screen repeats no title, so a pool too small to fill it at
    ``n_items`` a row was taken whole by its first row: a Kids profile whose
    region offers 14 titles within its limit got Top Picks with all 14 and
    nothing else, as every other row was left without an unseen title. The
    screen's rows (``min(FIRST_SCREEN_ROWS, n_rows)``) share the pool
    instead, an equal part each, so that the screen could still hold every
    title, and never less than a row's minimum. Smaller parts make more rows
    but a first screen of four-title rows over longer ones below it; parts
    of what the rows above left, fewer rows (docs/recommendations.md has
    the demo's figures). A pool that fills the screen at ``n_items`` a row
    (any profile with a history or an adult limit: hundreds of titles) gets
    ``n_items``: its page is exactly what it was.
    """
    rows = min(FIRST_SCREEN_ROWS, n_rows)
    if n_pool >= rows * n_items:
        return n_items
    return max(min(ROW_MIN_ITEMS, n_items), -(-n_pool // rows))


def _rows_choose(
    proposals: list[_Proposal],
    *,
    order: list[int],
    strength: npt.NDArray[np.float64],
    n_pool: int,
    n_rows: int,
    n_items: int,
    dropped: dict[int, str] | None = None,
) -> list[tuple[_Proposal, list[int], float]]:
    """The page's rows in the row ranker's ``order``: each with its pool positions and strength.

    ``dropped``, when given, is filled with why each proposal (by index) is not on the
    page, in words staff read (:class:`RowTrace`).

    The first screen (``FIRST_SCREEN_ROWS`` rows) never repeats a title: a row
    there loses the titles the rows above it show. A row left with fewer than
    its minimum by that is not lost but deferred: it is placed, whole, right
    after the first screen, where titles may repeat, before any row the ranker
    put below it (deferred rows keep their own order), unless the rule below
    drops it. A row with fewer than its minimum even whole is dropped, never
    padded; so is a deferred row of a page whose first screen never fills, as
    it could only sit in it.

    A pool too small to fill the first screen at ``n_items`` a row is shared
    (:func:`_first_screen_share`): each row there shows its best unseen titles
    up to its share, so a Kids page of 14 titles has three rows, not Top Picks
    alone. Once the rows are chosen, the first screen's rows take back, top
    down and up to ``n_items``, their titles no row on the page shows:
    sharing is to move titles between rows, not off the page (Top Picks
    alone with 4 of 14 titles would be worse than the one row of 14 it
    replaced; Continue Watching, whose titles no other row holds, gets all
    of its own back).

    Below the first screen a row leads with the titles no row above it
    shows, in the ranker's order, and repeats only after them: three
    "Because you watched" rows over one taste share most of their
    neighbours, and each opened with the same six titles. A row there with
    fewer titles the rows above it do not show than its minimum is dropped,
    as a row with too few titles is: its repeats would be padding. "Popular
    in Telugu" after "Top Picks" showed one new title and 19 of Top Picks'
    (in the demo, 643 of 10,260 such rows brought 1-3 new titles, and 215
    more none). Rows that say why their titles are there ("Because you
    watched X", "Because you liked X") need only one: their reason is news,
    but not when every title under it is already on the page (in the demo,
    a third of them, and every pair of rows on a page sharing over 80% of
    their titles had one).

    Before such a row is dropped it takes the new titles it lacks from the
    tails of the rows above it (``take_back``): wide rows placed first (75
    titles a row) held every title of the profile's language, most at slots
    no viewer reaches, and "Films & Series in Tamil", ranked below them or
    moved below the first screen, was dropped as too thin. A row gives up only
    a title it alone shows past its head (``ROW_HEAD_ITEMS``, the default row
    length), lowest-ranked first, for its next title no row shows if it has
    one; a row whose titles are in the heads above it (the Telugu row over Top
    Picks) is still dropped, and a page of rows no longer than a head is
    filled exactly as before. "Because you watched/liked" rows do not take:
    they need a title of their own.
    """
    chosen: list[tuple[_Proposal, list[int], float]] = []
    deferred: list[int] = []
    on_screen = np.zeros(n_pool, dtype=bool)  # by pool position
    on_page = np.zeros(n_pool, dtype=bool)
    holders = np.zeros(n_pool, dtype=np.intp)  # how many rows show each title
    holder = np.full(n_pool, -1, dtype=np.intp)  # the row showing it, where only one does
    share = _first_screen_share(n_pool=n_pool, n_rows=n_rows, n_items=n_items)

    def show(k: int, shown: npt.NDArray[np.intp]) -> None:
        on_page[shown] = True
        holders[shown] += 1
        holder[shown] = k

    def take_back(index: int, need: int) -> bool:
        """Give a row below the first screen the ``need`` new titles it lacks from the tails
        of the rows above it; whether it has them now.

        A title is taken only from a row that alone shows it, past that row's head
        (``ROW_HEAD_ITEMS``, and its minimum), lowest-ranked first: no row loses a title
        a viewer browses it for, falls under its minimum or shows a repeat where it showed
        a new title, and the first screen still repeats nothing. The row gives it up for
        its next title no row shows, when it has one, and is one shorter when not. All
        or nothing: False changes nothing.
        """
        positions = proposals[index].positions
        held = positions[on_page[positions]]
        short = need - (positions.shape[0] - held.shape[0])
        if held.shape[0] < short:
            return False
        spare = ~on_page
        spare[positions] = False  # a replacement must not be one of the row's own titles
        taken: list[tuple[int, int, int | None]] = []  # (row above, title, its replacement)
        for title in held[::-1].tolist():
            if holders[title] != 1:  # shown twice: a repeat below the first screen
                continue
            k = int(holder[title])
            donor, shown, _ = chosen[k]
            if shown.index(title) < max(ROW_HEAD_ITEMS, _row_minimum(donor.type, n_items)):
                continue
            candidates = donor.positions[spare[donor.positions]]
            replacement = int(candidates[0]) if candidates.shape[0] else None
            if replacement is not None:
                spare[replacement] = False
            taken.append((k, title, replacement))
            if len(taken) == short:
                break
        if len(taken) < short:
            return False
        for k, title, replacement in taken:
            donor, shown, row_strength = chosen[k]
            shown = [p for p in shown if p != title]
            if replacement is not None:
                # The donor leads with its best titles no row showed, and a title none shows
                # now ranks below those: appended, it keeps the ranker's order.
                shown.append(replacement)
                show(k, np.array([replacement], dtype=np.intp))
                on_screen[replacement] = k < FIRST_SCREEN_ROWS
            chosen[k] = (donor, shown, row_strength)
            on_page[title] = on_screen[title] = False
            holders[title], holder[title] = 0, -1
        return True

    def place(index: int, positions: npt.NDArray[np.intp]) -> None:
        if len(chosen) >= FIRST_SCREEN_ROWS:
            row_type = proposals[index].type
            need = 1 if row_type in _EXPLAINING_ROW_TYPES else _row_minimum(row_type, n_items)
            repeat = on_page[positions]
            if positions.shape[0] - int(repeat.sum()) < need:
                if row_type in _EXPLAINING_ROW_TYPES or not take_back(index, need):
                    if dropped is not None:
                        fresh = positions.shape[0] - int(repeat.sum())
                        dropped[index] = (
                            f"too few new titles: {fresh} that no row above shows, it needs {need}"
                        )
                    return
                repeat = on_page[positions]
            if repeat.any():
                positions = np.concatenate([positions[~repeat], positions[repeat]])
        shown = positions[:n_items]
        show(len(chosen), shown)
        chosen.append((proposals[index], shown.tolist(), float(strength[index])))

    for index in order:
        if len(chosen) >= n_rows:
            break
        proposal = proposals[index]
        minimum = _row_minimum(proposal.type, n_items)
        positions = proposal.positions
        if positions.shape[0] < minimum:
            if dropped is not None:
                dropped[index] = f"too few titles: {positions.shape[0]}, it needs {minimum}"
            continue
        if len(chosen) < FIRST_SCREEN_ROWS:
            unseen = positions[~on_screen[positions]]
            if unseen.shape[0] < minimum:
                deferred.append(index)
                continue
            shown = unseen[:share]
            place(index, shown)
            on_screen[shown] = True
            if len(chosen) == FIRST_SCREEN_ROWS:
                for waiting in deferred:
                    if len(chosen) >= n_rows:
                        break
                    place(waiting, proposals[waiting].positions)
        else:
            place(index, positions)
    if share < n_items:
        # A shared first screen: its rows take back, top down, their titles no row shows.
        # A row's titles not on the page all rank below the ones it shows (it took its
        # best unseen), so appending them keeps the ranker's order. Each has room: it was
        # placed with at most ``share`` (< n_items) titles, and giving one up to a row
        # below swaps it for another at most (``take_back``).
        for k, (proposal, shown_positions, row_strength) in enumerate(chosen[:FIRST_SCREEN_ROWS]):
            room = n_items - len(shown_positions)
            more = proposal.positions[~on_page[proposal.positions]][:room]
            if more.shape[0]:
                show(k, more)
                chosen[k] = (proposal, shown_positions + more.tolist(), row_strength)
    if dropped is not None:
        on = {id(proposal) for proposal, _, _ in chosen}
        for index in order:
            if id(proposals[index]) in on or index in dropped:
                continue
            if index in deferred and len(chosen) < FIRST_SCREEN_ROWS:
                dropped[index] = (
                    "its titles are on the first screen's rows above it, and the page "
                    "has no rows below the first screen"
                )
            else:
                dropped[index] = f"below the page's {n_rows} rows"
    return chosen


def _resume_of(
    chosen: list[tuple[_Proposal, list[int], float]],
    lengths: list[int],
    shown_titles: npt.NDArray[np.integer],
    shown_ids: npt.NDArray[np.int64],
    progress: list[float | None],
    rows: HistoryRows,
    catalogue: CatalogueArrays,
) -> list[ResumePoint | None]:
    """Where Play starts on each shown title: the Continue Watching row's, None elsewhere.

    Worked out for that row's tiles only (the one row that holds titles being resumed),
    from what the page read (:func:`~recommendations.serving.resume.resume_points`).
    """
    resume: list[ResumePoint | None] = [None] * len(progress)
    k = 0
    for (proposal, _, _), length in zip(chosen, lengths, strict=True):
        if proposal.type == "continue_watching":
            tiles = slice(k, k + length)
            resume[tiles] = resume_points(
                title_ids=shown_ids[tiles].tolist(),
                title_index=shown_titles[tiles],
                progress=progress[tiles],
                rows=rows,
                catalogue=catalogue,
            )
        k += length
    return resume


def _progress_of(titles: npt.NDArray[np.int32], history: ProfileHistory) -> list[float | None]:
    """Percent watched of each title the profile can resume; None for the others.

    From the derived title states, not the signals read for this request: the
    signals are bounded, and a title started long ago must still show how far
    along it is. A series shows its resume episode's, 0 when that is the one
    after a finished episode (:class:`~recommendations.serving.recommend.HistoryRows`),
    as ``/continue-watching/`` does. A finished title shows none (it is not resumed).
    """
    progress: list[float | None] = [None] * titles.shape[0]
    if history.progress is None or not history.in_progress.any():
        return progress
    resumable = history.state_title[history.in_progress]
    at = np.flatnonzero(np.isin(titles, resumable))
    if at.shape[0]:
        percent = dict(
            zip(resumable.tolist(), history.progress[history.in_progress].tolist(), strict=True)
        )
        for k, title in zip(at.tolist(), titles[at].tolist(), strict=True):
            progress[k] = percent[title]
    return progress


__all__ = [
    "FIRST_SCREEN_ROWS",
    "ROW_RANKER",
    "ROW_TYPES",
    "Page",
    "PageContext",
    "PageItem",
    "PageItems",
    "PageRow",
    "RowTrace",
    "homepage_build",
    "profile_row_engagement",
    "row_ranker_cache",
    "row_type_of",
]
