"""Learning the title ranker and the row ranker from logged homepages.

:func:`logged_examples_load` reads the pages logged over the last
``TONIGHT["RANKER_LOG_DAYS"]`` days (of a region, or all), labels them with
:func:`~recommendations.selectors.attribution.page_impressions_attributed`,
and builds both rankers' training rows **the way serving builds its inputs**:

- Title ranker: for each logged page, the profile's history as of the page's
  moment goes through the same
  :func:`~recommendations.serving.scoring.ranking_inputs` /
  :func:`~recommendations.serving.scoring.ranking_features` as a request,
  with the model version that served the page, in the hour and weekday it was
  served for (logged: a client may ask for another moment's) and the taste cluster it
  was served in (logged by name: :class:`_ServedClusters`); the rows of the shown
  titles get their logged row and slot positions (serving leaves those at 0). Of the
  impressions the viewer saw (attribution's ``exposed``: the tiles the client reported
  on screen, a play naming the page among them, or every tile of a page whose client
  reports none), all played ones are kept, and up to :data:`NEGATIVES_PER_PAGE` unplayed
  ones per page, weighted by the inverse of their sampling rate. A title the page
  showed twice is one example (attribution's ``repeat``), not a play and a miss. "As of the
  page" holds for the title states too: serving reads them from the state
  table, which holds today's, so a page's training rows fold them from the
  profile's signals before the page instead
  (:func:`~recommendations.services.signals.title_states_fold`, the rule the
  table is kept by). Otherwise a title started *because of* the page would be
  "continue watching" in its own row, and a later thumbs-down would penalise
  it on a page where it was not disliked yet: the label leaking into features.
  "Before the page" stops at the page's first credited play when that is stamped
  earlier (see :func:`_history_moments`), and leaves out the signals naming the
  page or a later one, whatever their stamp (see :func:`_pages_of_profiles`).
- Row ranker: for each logged row, the profile's row engagement (plays started
  from rows and rapid scroll-pasts, counted as
  :func:`~recommendations.serving.homepage.profile_row_engagement` counts them)
  as of the page's moment, in the page's context (hour bucket, weekday,
  device), the row's logged strength and its index on the page. Labelled
  played if any of its impressions was. Only the rows the viewer reached are samples
  (attribution's ``row_exposed``: a tile of the row reported on screen, the row
  scrolled past, or a play of a seen tile credited to it; every row of a page whose
  client reports no tile). What a client sent naming the page (or a later one) is left out
  whatever its stamp: a slow clock stamps the page's own impressions and scroll-pasts
  before it (see :func:`_newest_before`).

Pages are learned from only once their attribution window and the clock skew
have passed (:func:`~recommendations.selectors.attribution.closed_before`, the
artwork policy's moment too): a page logged in the last
``ATTRIBUTION_WINDOW_SECONDS`` would have its misses counted before its plays
could happen, and one a few minutes older its play from a client clock up to
the skew behind the server's. At most ``RANKER_MAX_PAGES`` of
them are sampled uniformly over the whole window (seeded by ``random_state``)
rather than the newest, which at scale were the last minutes of traffic.

Rows are in page time order, which the title ranker's calibration split needs.
Too few of them and each ranker stays on its documented prior
(``PlayRanker.min_rows`` / ``RowRanker.min_rows``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db.models import CharField, F, Value
from django.db.models.functions import MD5, Cast, Concat, Least

from config.lookups import AnyOf
from profiles.models import Profile
from recommendations.engine.ranking import (
    DEVICE_CLASSES,
    FEATURE_NAMES,
    hour_bucket,
    local_hour_and_weekday,
)
from recommendations.engine.row_ranking import (
    ROW_FEATURE_NAMES,
    RowEngagement,
    RowRanker,
    RowRankerChoice,
    row_features,
    row_ranker_select,
    row_type_index,
    seen_counts,
)
from recommendations.models import ModelVersion, PageLog, ProfileTitleState, Signal, SignalKind
from recommendations.selectors.attribution import (
    AttributedImpressions,
    closed_before,
    page_impressions_attributed,
    ranker_log_days,
)
from recommendations.selectors.signals import (
    last_episode_passed,
    signal_clock_skew,
    signal_references_get,
)
from recommendations.selectors.training import index_of, signal_weights
from recommendations.services.signals import STATE_KINDS, title_states_fold
from recommendations.serving import artefacts, recommend
from recommendations.serving.bundle import ServingBundle
from recommendations.serving.homepage import (
    ROW_EVENTS_DAYS,
    ROW_EVENTS_MAX,
    ROW_RANKER,
    row_type_of,
)
from recommendations.serving.recommend import (
    HistoryAsOf,
    HistoryRows,
    history_on_index,
    profiles_history_rows,
)
from recommendations.serving.scoring import ScoringContext, ranking_features, ranking_inputs
from recommendations.signal_events import SignalEvent, logged_event
from regions.models import TasteCluster
from regions.selectors import region_time_zones

logger = logging.getLogger(__name__)

#: Unplayed impressions kept per page for the title ranker; the rest are sampled away.
NEGATIVES_PER_PAGE = 60

#: The steps of :func:`logged_examples_load`, as its ``stage`` callback names them: what
#: ``train_models``'s bar and a retrain's run (its ``stage`` and ``timings``) show. Rebuilding
#: the title ranker's rows is most of the time (each page's history and scores as served).
READ_PAGE_LOGS = "read page logs"
TITLE_RANKER_ROWS = "page logs: title ranker rows"
ROW_RANKER_ROWS = "page logs: row ranker rows"
PAGE_LOG_STAGES = (READ_PAGE_LOGS, TITLE_RANKER_ROWS, ROW_RANKER_ROWS)

#: Told (pages done, pages to do) while the title ranker's rows are rebuilt.
PagesDone = Callable[[int, int], object]


@dataclass(frozen=True)
class LoggedExamples:
    """Both rankers' training rows from logged pages, in page time order.

    Attributes
    ----------
    pages : int
    title_features : numpy.ndarray of float32, shape (n, len(FEATURE_NAMES))
    title_labels : numpy.ndarray of bool, shape (n,)
    title_weights : numpy.ndarray of float32, shape (n,)
        Inverse sampling rate of the impression (1 for plays).
    title_pages : numpy.ndarray of int64, shape (n,)
        Each title row's page, numbered by the page's time: the title ranker's
        newest part is cut between pages, not through one.
    row_features : numpy.ndarray of float32, shape (m, len(ROW_FEATURE_NAMES))
    row_labels : numpy.ndarray of bool, shape (m,)
    row_pages : numpy.ndarray of int64, shape (m,)
        Each row's page, numbered by the page's time (the row ranker holds
        the newest out).
    pages_version_pruned : int
        Of ``pages``, those whose model version the prune has deleted since: the title
        ranker's features need the version that served the page, so they give no title
        rows (their rows still give row-ranker rows). A reader whose window lies further
        back than the versions are kept (``evaluate_recommendations``) says how many.
    pages_version_unloadable : int
        Of ``pages``, those whose version is stored but cannot be loaded (failed, still
        training, its files gone) or that name none: no title rows either.
    """

    pages: int
    title_features: npt.NDArray[np.float32]
    title_labels: npt.NDArray[np.bool_]
    title_weights: npt.NDArray[np.float32]
    title_pages: npt.NDArray[np.int64]
    row_features: npt.NDArray[np.float32]
    row_labels: npt.NDArray[np.bool_]
    row_pages: npt.NDArray[np.int64]
    pages_version_pruned: int = 0
    pages_version_unloadable: int = 0

    @classmethod
    def empty(cls) -> LoggedExamples:
        return cls(
            pages=0,
            title_features=np.empty((0, len(FEATURE_NAMES)), np.float32),
            title_labels=np.empty(0, bool),
            title_weights=np.empty(0, np.float32),
            title_pages=np.empty(0, np.int64),
            row_features=np.empty((0, len(ROW_FEATURE_NAMES)), np.float32),
            row_labels=np.empty(0, bool),
            row_pages=np.empty(0, np.int64),
        )


def _pages_sample(
    *, since: dt.datetime, until: dt.datetime, region_code: str | None, limit: int, seed: int
) -> tuple[list[uuid.UUID], list[int]]:
    """Up to ``limit`` pages of ``[since, until)`` (of the region, or all), uniformly.

    The database orders the pages by a hash of their id and the seed and keeps the
    first ``limit``: the same pages for the same seed, spread over the whole window,
    and no page of the window read into Python.
    """
    pages = PageLog.objects.filter(generated_at__gte=since, generated_at__lt=until)
    if region_code is not None:
        pages = pages.filter(region=region_code)
    if limit:
        key = MD5(Concat(Cast("id", output_field=CharField()), Value(f":{seed}")))
        pages = pages.annotate(sample_key=key).order_by("sample_key")[:limit]
    chosen = list(pages.values_list("id", "profile_id"))
    return [page_id for page_id, _ in chosen], sorted({profile for _, profile in chosen})


class _StatesAsOf:
    """Profiles' title states as of a moment, folded from their signals, moving forward.

    Read once for all the profiles (their state-changing signals before the last
    page) and folded by the signals service's own rule, a page at a time: ask
    for a profile's moments in increasing order. An event is placed as ingest
    folded it: at its stamp, or at its receipt when the client's clock stamped it
    later (``_store`` orders such an event as of now; the log keeps the stamp). By
    the stamp, a thumbs down from a fast clock outranked the thumbs up given after
    it, and the page learned from a dislike its request had not seen.
    """

    def __init__(self, *, profile_ids: list[int], until: dt.datetime) -> None:
        skew = signal_clock_skew()
        rows = (
            Signal.objects.filter(
                AnyOf(F("profile_id"), profile_ids),
                kind__in=list(STATE_KINDS),
                title__isnull=False,
                occurred_at__lt=until + skew,  # stamped at most the skew after its receipt
            )
            .annotate(folded_at=Least("occurred_at", "received_at"))
            .filter(folded_at__lt=until)
            .order_by("profile_id", "folded_at", "id")
            .values_list("profile_id", "title_id", "episode_id", "kind", "value", "folded_at")
        )
        self.events: dict[int, list[SignalEvent]] = {}
        season_titles = set()
        for index, (profile_id, title_id, episode_id, kind, value, occurred_at) in enumerate(
            rows.iterator(chunk_size=20_000)
        ):
            self.events.setdefault(profile_id, []).append(
                logged_event(
                    index=index,
                    kind=kind,
                    title_id=title_id,
                    episode_id=episode_id,
                    value=value,
                    occurred_at=occurred_at,
                )
            )
            # Seasons of every title with an episode played: the fold passes over a play of
            # one not out at the time, as ingest refuses it now (the log keeps older ones).
            if episode_id:
                season_titles.add(title_id)
        references = signal_references_get(
            region_id="",  # kinds and seasons only: no licence is asked for
            title_ids={e.title_id for events in self.events.values() for e in events},
            episode_ids=(),
            variant_ids=(),
            season_titles=season_titles,
        )
        self.title_kinds = {pk: kind for pk, (kind, _) in references.titles.items()}
        # The titles are read after the signals, not in their snapshot: a title deleted
        # in between (its signals with it) is left out, as one deleted before the read.
        for profile_id, events in self.events.items():
            if any(e.title_id not in self.title_kinds for e in events):
                self.events[profile_id] = [e for e in events if e.title_id in self.title_kinds]
        self.season_episodes = references.season_episodes
        self.season_releases = references.season_releases
        self.skew = skew
        self.states: dict[int, dict[int, ProfileTitleState]] = {}
        self.folded: dict[int, int] = {}

    def at(self, profile_id: int, moment: dt.datetime) -> npt.NDArray[np.float64]:
        """:attr:`HistoryRows.states` of the profile from its signals before ``moment``."""
        events = self.events.get(profile_id, [])
        start = self.folded.get(profile_id, 0)
        end = start
        while end < len(events) and events[end].occurred_at < moment:
            end += 1
        states = self.states.setdefault(profile_id, {})
        if end > start:
            title_states_fold(
                profile_id=profile_id,
                states=states,
                events=events[start:end],
                title_kinds=self.title_kinds,
                season_episodes=self.season_episodes,
                season_releases=self.season_releases,
                release_skew=self.skew,
            )
            self.folded[profile_id] = end
        return np.array([_state_row(s) for s in states.values()], dtype=np.float64).reshape(-1, 8)


_THUMBS = {ProfileTitleState.Thumbs.UP: 1.0, ProfileTitleState.Thumbs.DOWN: -1.0}


def _state_row(state: ProfileTitleState) -> tuple[float, ...]:
    """One row of :attr:`HistoryRows.states`, by the rules of the statement serving reads.

    :func:`~recommendations.serving.recommend._history_read_sql_over` computes these in
    SQL: "completed" is 2 for a title played again since its completion (a rewatch under
    way), and a series' progress is that of the episode it resumes on (0 after a finished
    one). Read as the raw fields, a rewatch was never in the offline Continue Watching (nor
    eligible to rank) and a series resumed at 100%, so the ranker learnt from pages unlike
    the ones served.
    """
    episode = state.last_episode_id
    finished = state.completed_episodes
    # Left in its credits, the last episode is passed, not resumed (last_episode_passed).
    passed = last_episode_passed(state)
    resumed = episode is not None and episode not in finished and not passed
    if state.completed_at is None:
        completed = 0.0
    elif state.last_played_at is not None and state.last_played_at > state.completed_at:
        completed = 2.0
    else:
        completed = 1.0
    if episode is not None and (resumed or state.completed_at is not None):
        progress = state.progress
    elif episode is not None or finished:
        progress = 0.0
    else:
        progress = state.progress
    return (
        state.title_id,
        completed,
        state.rewatch_count,
        _THUMBS.get(state.thumbs, 0.0),
        np.nan if state.last_played_at is None else state.last_played_at.timestamp(),
        progress,
        float(resumed),
        len(finished) + passed,
    )


def _history_moments(logged: AttributedImpressions) -> npt.NDArray[np.float64]:
    """Each page's history cut (Unix seconds): its moment, or just before a credited play
    stamped earlier.

    A play naming its page may be stamped up to the clock skew before the page
    (:func:`~recommendations.selectors.signals.signal_clock_skew`: the client's clock
    is behind the server's), yet it came after the page: cut at the page's moment, the
    history would hold the page's own label (the title "played" seconds ago, continue
    watching). So a page's history stops before the earliest play credited to it, and
    to any later page of its profile (that play came after that page, so after this
    one too). The signals dropped are those of a few seconds, most of them sent by
    the slow clock after the page. A cut never decreases along a profile's pages, so
    the title states still fold forward. Only the pages read are seen: a play credited
    to a later page the sample left out stays in this page's history when it is stamped
    before this page, which needs two of the profile's pages within the skew.
    """
    moments = logged.page_time.copy()
    credited = logged.played & np.isfinite(logged.played_at)
    np.fmin.at(moments, logged.page[credited], logged.played_at[credited])
    later: dict[int, float] = {}
    for p in range(moments.shape[0] - 1, -1, -1):  # pages are in time order
        profile = int(logged.page_profile[p])
        moments[p] = min(moments[p], later.get(profile, np.inf))
        later[profile] = float(moments[p])
    return moments


def _pages_of_profiles(logged: AttributedImpressions) -> dict[int, npt.NDArray[np.int64]]:
    """Each profile's pages among ``logged``'s, as their indices in time order.

    A page's history leaves out the signals naming it or any later one of these: a
    client knows a page's id only once it has the page, whatever the stamp a clock
    behind the server's puts on them (see :func:`_newest_before`, the row ranker's
    counterpart). Its impressions stamped before it were otherwise the page's own tiles
    "shown and not played" (impression fatigue) when the page chose them.
    """
    profiles = logged.page_profile.astype(np.int64)
    order = np.argsort(profiles, kind="stable")  # pages are in time order: kept within one
    starts = np.flatnonzero(np.r_[True, np.diff(profiles[order]) != 0])
    return {
        int(profiles[order[start]]): order[start:end]
        for start, end in zip(starts.tolist(), [*starts[1:].tolist(), order.shape[0]], strict=True)
    }


class _ServedClusters:
    """The taste cluster a logged page was served in, from the name its log keeps.

    Scoring reads the cluster's trending row (the ``cluster_popularity`` features), and
    a profile's cluster changes: a new profile has none until a retrain assigns it one,
    and every retrain reassigns them. Training a page with the profile's cluster of
    today would give its rows another cluster's popularity than the one it was served
    with. The log keeps the cluster's name (cut to the column's length), which is
    unique within a region in practice; a name that matches no cluster of the page's
    region, or several, falls back to the profile's cluster of today (kept if it is
    among those several).
    """

    def __init__(self) -> None:
        length = PageLog._meta.get_field("cluster").max_length
        self._by_name: dict[tuple[str, str], list[int]] = {}
        for pk, region, name in TasteCluster.objects.values_list("pk", "region_id", "name"):
            self._by_name.setdefault((region, name[:length]), []).append(pk)

    def of(self, *, region: str, logged: str, current: int | None) -> int | None:
        if not logged:
            return None
        found = self._by_name.get((region, logged), [])
        if len(found) == 1:
            return found[0]
        return current


def _context_moment(at: dt.datetime, zone: dt.tzinfo, *, hour: int, weekday: int) -> dt.datetime:
    """The moment nearest ``at`` whose local hour and weekday in ``zone`` are a page's logged ones.

    A page's context (its hour and weekday) is the client's to choose (the homepage API's
    ``at``), while its ``generated_at`` is the server's now: the title ranker's hour and
    weekday features must be those the page was served with, which only the page log
    holds, as the row ranker's are.
    """
    local = at.astimezone(zone)
    shift = (weekday - local.weekday() + 3) % 7 - 3
    return dt.datetime.combine(local.date() + dt.timedelta(days=shift), dt.time(hour), tzinfo=zone)


def _bundles(version_ids: set[int]) -> tuple[dict[int, ServingBundle], set[int]]:
    """The stored versions that served the pages (a failed one is skipped), and apart the
    ids of those no longer stored (pruned)."""
    bundles = {}
    rows = list(
        ModelVersion.objects.filter(pk__in=version_ids).values_list("pk", "status", "artefact_key")
    )
    gone = version_ids - {pk for pk, _, _ in rows}
    unusable = {ModelVersion.Status.FAILED, ModelVersion.Status.TRAINING}
    for pk, key in [(pk, key) for pk, status, key in rows if status not in unusable]:
        try:
            bundles[pk] = ServingBundle.load(version_id=pk, artefact_key=key)
        except (OSError, ValueError, KeyError):
            logger.warning("Model version %s cannot be loaded; its pages are skipped", pk)
    return bundles, gone


class _PageHistories:
    """The pages' history reads (:func:`profiles_history_rows`), a batch of pages at a time.

    A statement a page was a round trip a page, most of the reads' cost; all the pages
    in one would hold every page's rows at once. Pages are asked for in ``pages``'
    order (a page may be passed over); each miss reads it and the next ones.
    """

    BATCH = 200

    def __init__(self, pages: list[int], read: Callable[[int], HistoryAsOf]) -> None:
        self._pages = pages
        self._position = {p: i for i, p in enumerate(pages)}
        self._read = read
        self._rows: dict[int, HistoryRows] = {}

    def of(self, page: int) -> HistoryRows:
        rows = self._rows.pop(page, None)
        if rows is None:
            start = self._position[page]
            batch = self._pages[start : start + self.BATCH]
            self._rows = dict(
                zip(batch, profiles_history_rows([self._read(p) for p in batch]), strict=True)
            )
            rows = self._rows.pop(page)
        return rows


def _title_examples(
    logged: AttributedImpressions,
    pages: np.ndarray,
    profiles: dict[int, Profile],
    rng: np.random.Generator,
    bundles: dict[int, ServingBundle],
    progress: PagesDone | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Title features of the shown titles with each page's history as of its moment, their
    labels, weights and pages (each row's page, numbered by time); ``bundles``: the
    versions that served them (a page whose version is not among them gives none).
    ``progress`` is told (pages done, pages to do) as each page is done."""
    refresh = float(settings.TONIGHT.get("CATALOGUE_REFRESH_SECONDS", 300.0))
    weights = signal_weights()
    order = np.argsort(logged.page, kind="stable")
    bounds = np.searchsorted(logged.page[order], np.arange(len(logged.page_ids) + 1))
    last = float(logged.page_time[pages].max()) if pages.shape[0] else 0.0
    history_at = _history_moments(logged)
    profile_pages = _pages_of_profiles(logged)
    exposed = logged.exposed()
    states = _StatesAsOf(  # a second past the last page: each page takes what precedes it
        profile_ids=sorted(profiles), until=dt.datetime.fromtimestamp(last + 1.0, tz=dt.UTC)
    )
    clusters = _ServedClusters()

    def history_read(p: int) -> HistoryAsOf:
        # What a client sent naming this page or a later one, its request never read.
        own = profile_pages[int(logged.page_profile[p])]
        return HistoryAsOf(
            profile_id=int(logged.page_profile[p]),
            at=dt.datetime.fromtimestamp(float(history_at[p]), tz=dt.UTC),
            unread_pages=[logged.page_ids[q] for q in own[np.searchsorted(own, p) :].tolist()],
        )

    # A page whose version is not among ``bundles``, or whose profile is gone, gives none.
    learnable = [
        p
        for p in pages.tolist()
        if int(logged.page_model_version[p]) in bundles and int(logged.page_profile[p]) in profiles
    ]
    histories = _PageHistories(learnable, history_read)
    features, labels, sample_weight, page_of = [], [], [], []
    progress = progress or (lambda done, total: None)
    for done, p in enumerate(learnable):
        progress(done, len(learnable))  # the pages before this one (a page may give no row)
        # The version on the catalogue now: a tile of a title added after its training
        # (served by extending it) is found, as a title of its own index is.
        bundle, catalogue = bundles[int(logged.page_model_version[p])].served(refresh)
        profile = profiles[int(logged.page_profile[p])]
        items = order[bounds[p] : bounds[p + 1]]
        # A title shown twice is one example; a tile the viewer never saw is none.
        items = items[~logged.repeat[items] & exposed[items]]
        titles = index_of(bundle.index.title_ids, logged.title_id[items])
        items, titles = items[titles >= 0], titles[titles >= 0]
        played = logged.played[items]
        negatives = np.flatnonzero(~played)
        rate = min(1.0, NEGATIVES_PER_PAGE / max(negatives.shape[0], 1))
        if rate < 1.0:
            negatives = np.sort(rng.choice(negatives, NEGATIVES_PER_PAGE, replace=False))
        keep = np.sort(np.concatenate([np.flatnonzero(played), negatives]))
        if keep.shape[0] == 0:
            continue
        at = dt.datetime.fromtimestamp(float(logged.page_time[p]), tz=dt.UTC)
        cut = dt.datetime.fromtimestamp(float(history_at[p]), tz=dt.UTC)
        zone = catalogue.time_zones.get(logged.page_region[p], dt.UTC)
        rows = dataclasses.replace(histories.of(p), states=states.at(profile.pk, cut))
        history = history_on_index(rows, profile_id=profile.pk, bundle=bundle, catalogue=catalogue)
        codes = {lang.code for lang in profile.preferred_languages.all()}
        if profile.display_language_id:
            codes.add(profile.display_language_id)
        context = ScoringContext(
            region_code=logged.page_region[p],
            cluster_id=clusters.of(
                region=logged.page_region[p],
                logged=logged.page_cluster[p],
                current=profile.taste_cluster_id,
            ),
            maturity_limit=profile.maturity_limit,
            language_index=np.array(
                [i for i, c in enumerate(catalogue.facts.language_codes) if c in codes], np.int16
            ),
            device=DEVICE_CLASSES[int(logged.page_device[p])],
            at=at,
            context_at=_context_moment(
                at, zone, hour=int(logged.page_hour[p]), weekday=int(logged.page_weekday[p])
            ),
        )
        inputs = ranking_inputs(
            bundle=bundle, catalogue=catalogue, history=history, context=context, weights=weights
        )
        features.append(
            ranking_features(
                inputs,
                catalogue=catalogue,
                titles=titles[keep],
                row_position=logged.row[items[keep]],
                slot_position=logged.position[items[keep]],
            )
        )
        labels.append(played[keep])
        sample_weight.append(np.where(played[keep], 1.0, 1.0 / rate).astype(np.float32))
        page_of.append(np.full(keep.shape[0], p, dtype=np.int64))  # pages in time order
    progress(len(learnable), len(learnable))
    if not features:
        return (
            np.empty((0, len(FEATURE_NAMES)), np.float32),
            np.empty(0, bool),
            np.empty(0, np.float32),
            np.empty(0, np.int64),
        )
    return (
        np.concatenate(features),
        np.concatenate(labels),
        np.concatenate(sample_weight),
        np.concatenate(page_of),
    )


def _row_examples(
    logged: AttributedImpressions,
    pages: np.ndarray,
    zones: dict[str, dt.tzinfo],
    since: dt.datetime,
    until: dt.datetime,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row features with each profile's engagement as of each page's moment, their labels,
    and each row's page numbered by time.

    Each page's counts are what its request read: the newest ``ROW_EVENTS_MAX``
    row events of ``ROW_EVENTS_DAYS``, and the newest
    ``HISTORY_MAX_IMPRESSIONS`` impressions of the history window for the
    tiles seen (:func:`~recommendations.engine.row_ranking.seen_counts`); the
    events' local hours and weekdays in the time zone of the page's region
    (``zones``, by region code), which the request counted them in, not the
    household's region of today.
    """
    profile_ids = sorted({int(x) for x in logged.page_profile[pages]})
    events = (
        Signal.objects.filter(
            profile_id__in=profile_ids,
            kind__in=[SignalKind.PLAY_START, SignalKind.ROW_SCROLL_PAST],
            occurred_at__gte=since - dt.timedelta(days=ROW_EVENTS_DAYS),
            occurred_at__lt=until,
        )
        .exclude(row="")
        .order_by("profile_id", "occurred_at")
        .values_list("profile_id", "row", "kind", "device", "occurred_at", "page_id")
    )
    named = _named_page_of(logged)
    by_profile: dict[int, list[tuple]] = {}
    for row in events.iterator(chunk_size=10000):
        by_profile.setdefault(row[0], []).append(row)
    arrays: dict[int, tuple[np.ndarray, ...]] = {}
    for profile_id, rows in by_profile.items():
        arrays[profile_id] = (
            np.array([r[4].timestamp() for r in rows]),
            np.array([row_type_index(row_type_of(r[1])) for r in rows], np.int64),
            np.array([r[2] == SignalKind.PLAY_START for r in rows], bool),
            np.array([DEVICE_CLASSES.index(r[3]) if r[3] in DEVICE_CLASSES else 0 for r in rows]),
            np.array([named.get((profile_id, r[5]), -1) for r in rows], np.int64),
        )
    # (profile, region) -> the profile's events' local hour buckets and weekdays there.
    local: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
    shown = _impression_timelines(profile_ids, since=since, until=until, named=named)
    history_window = recommend.history_window().total_seconds()
    max_impressions = recommend.HISTORY_MAX_IMPRESSIONS
    order = np.argsort(logged.row_page, kind="stable")
    bounds = np.searchsorted(logged.row_page[order], np.arange(len(logged.page_ids) + 1))
    window = ROW_EVENTS_DAYS * 86400.0
    time_rank = np.argsort(np.argsort(logged.page_time, kind="stable"), kind="stable")
    history_at = _history_moments(logged)
    row_exposed = logged.row_exposed()
    features, labels, page_of = [], [], []
    for p in pages.tolist():
        rows = order[bounds[p] : bounds[p + 1]]
        # A row the viewer never reached is no sample: not a row never played.
        rows = rows[(logged.row_kind[rows] >= 0) & row_exposed[rows]]
        if rows.shape[0] == 0:
            continue
        at = float(history_at[p])  # the page's moment, or before its first play
        profile_id = int(logged.page_profile[p])
        # What this page's request read: its newest row events and impressions.
        events = arrays.get(profile_id, _NO_EVENTS)
        read, events_cut = _newest_before(events[0], at, window, ROW_EVENTS_MAX, events[4], p)
        impression_time, impression_type, impression_page = shown.get(profile_id, _NO_IMPRESSIONS)
        seen_read, impressions_cut = _newest_before(
            impression_time, at, history_window, max_impressions, impression_page, p
        )
        seen = seen_counts(
            at=at,
            days=ROW_EVENTS_DAYS,
            impression_type=impression_type[seen_read],
            impression_time=impression_time[seen_read],
            impressions_cut=impressions_cut,
            event_type=events[1][read],
            event_is_play=events[2][read],
            event_time=events[0][read],
            events_cut=events_cut,
        )
        if read.shape[0]:
            region = logged.page_region[p]
            if (profile_id, region) not in local:
                hour, day = local_hour_and_weekday(events[0], zones.get(region, dt.UTC))
                local[profile_id, region] = (hour_bucket(hour).astype(np.int64), day)
            hours, days = local[profile_id, region]
            engagement = RowEngagement.from_events(
                row_type=events[1][read],
                is_play=events[2][read],
                hour_bucket=hours[read],
                device=events[3][read],
                weekday=days[read],
                seen=seen,
            )
        else:
            engagement = RowEngagement.empty(seen)
        bucket = int(hour_bucket(int(logged.page_hour[p])))
        device = int(logged.page_device[p])
        weekday = int(logged.page_weekday[p])
        features.append(
            row_features(
                row_type=logged.row_kind[rows],
                strength=logged.row_strength[rows],
                hour_bucket=bucket,
                device=device,
                weekday=weekday,
                plays=engagement.plays,
                plays_hour=engagement.plays_by_hour[bucket],
                plays_device=engagement.plays_by_device[device],
                plays_daypart=engagement.plays_by_daypart[int(weekday >= 5)],
                scroll_past=engagement.scroll_past,
                seen=engagement.seen,
                plays_seen=engagement.plays_seen,
                row_position=logged.row_index[rows],
            )
        )
        labels.append(logged.row_played[rows])
        page_of.append(np.full(rows.shape[0], time_rank[p], np.int64))
    if not features:
        return (
            np.empty((0, len(ROW_FEATURE_NAMES)), np.float32),
            np.empty(0, bool),
            np.empty(0, np.int64),
        )
    return np.concatenate(features), np.concatenate(labels), np.concatenate(page_of)


_NO_IMPRESSIONS = (np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64))
#: A profile without row events, in _row_examples' columns (times, type, play, device,
#: named page).
_NO_EVENTS = (np.empty(0), *(np.empty(0, np.int64),) * 4)


def _named_page_of(logged: AttributedImpressions) -> dict[tuple[int, uuid.UUID], int]:
    """(profile, page id) -> the page's index among ``logged``'s (in time order)."""
    return {
        (int(profile), page_id): p
        for p, (page_id, profile) in enumerate(
            zip(logged.page_ids, logged.page_profile.tolist(), strict=True)
        )
    }


def _newest_before(
    times: np.ndarray, at: float, window: float, limit: int, named: np.ndarray, page: int
) -> tuple[np.ndarray, bool]:
    """The newest ``limit`` of ``times`` (ascending) in ``[at - window, at)`` that page
    ``page``'s request could read, and whether that bound left older ones unread.

    ``named`` is each event's page (its index among the logged pages, -1 for none or
    one not read): an event naming this page or a later one was sent after this page
    was built, whatever its stamp (a client knows a page's id only once it has it), so
    the request never read it. A client clock behind the server's stamps the page's own
    impressions and scroll-pasts before the page: counted, the row it skipped had its
    scroll-past in its features and its miss as its label. Pages the sample left out
    are not known here (as in :func:`_history_moments`).
    """
    hi = int(np.searchsorted(times, at, side="left"))
    first = int(np.searchsorted(times, at - window, side="left"))
    candidates = np.arange(first, hi)
    later = named[first:hi] >= page
    if later.any():
        candidates = candidates[~later]
    return candidates[max(0, candidates.shape[0] - limit) :], candidates.shape[0] >= limit


def _impression_timelines(
    profile_ids: list[int],
    *,
    since: dt.datetime,
    until: dt.datetime,
    named: dict[tuple[int, uuid.UUID], int],
) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each profile's impressions that a page's history read could hold: (times, row types,
    named pages).

    Oldest first; a row type is -1 for an impression without a (known) row, which
    still counts towards the read's bound; a named page is its index in ``named``, -1
    for none (see :func:`_newest_before`). Read in one pass, as numbers.
    """
    start = since - recommend.history_window()
    found = (
        Signal.objects.filter(
            profile_id__in=profile_ids,
            kind=SignalKind.IMPRESSION,
            occurred_at__gte=start,
            occurred_at__lt=until,
        )
        .order_by("profile_id", "occurred_at")
        .values_list("profile_id", "row", "occurred_at", "page_id")
    )
    by_profile: dict[int, tuple[list[float], list[int], list[int]]] = {}
    types: dict[str, int] = {}
    for profile_id, row, occurred, page_id in found.iterator(chunk_size=20000):
        times, kinds, pages = by_profile.setdefault(profile_id, ([], [], []))
        times.append(occurred.timestamp())
        kind = types.get(row)
        if kind is None:
            kind = types[row] = row_type_index(row_type_of(row)) if row else -1
        kinds.append(kind)
        pages.append(named.get((profile_id, page_id), -1) if page_id is not None else -1)
    return {
        pk: (
            np.array(times, dtype=np.float64),
            np.array(kinds, dtype=np.int64),
            np.array(pages, dtype=np.int64),
        )
        for pk, (times, kinds, pages) in by_profile.items()
    }


def logged_examples_load(
    *,
    region_code: str | None,
    at: dt.datetime,
    random_state: int = 0,
    max_pages: int | None = None,
    stage: Callable[[str], object] | None = None,
    progress: PagesDone | None = None,
) -> LoggedExamples:
    """Both rankers' training rows from the pages logged before ``at`` whose attribution
    window and clock skew have passed by ``at`` (see the module doc); ``max_pages`` overrides
    ``TONIGHT["RANKER_MAX_PAGES"]``.

    ``stage`` is told each step as it begins (:data:`PAGE_LOG_STAGES`), and ``progress`` the
    pages done of the title ranker's rows: on the demo they took 5 to 8 seconds of a
    ``train_models`` that showed "read page logs" all along, its clock standing still.
    """
    stage = stage or (lambda _: None)
    stage(READ_PAGE_LOGS)
    days = ranker_log_days()
    limit = int(settings.TONIGHT["RANKER_MAX_PAGES"]) if max_pages is None else max_pages
    since = at - dt.timedelta(days=days)
    until = closed_before(at)
    page_ids, sampled_profiles = _pages_sample(
        since=since, until=until, region_code=region_code, limit=limit, seed=random_state
    )
    if not page_ids:
        return LoggedExamples.empty()
    logged = page_impressions_attributed(
        since=since, until=until, profile_ids=sampled_profiles, page_ids=page_ids
    )
    if not len(logged.page_ids):
        # Every sampled page went with its profile, deleted since the sample: nothing to
        # learn from, as if the deletion had come first (not an IndexError that failed
        # the retrain).
        return LoggedExamples.empty()
    pages = np.arange(len(logged.page_ids))
    profile_ids = {int(x) for x in logged.page_profile[pages]}
    profiles = {
        p.pk: p
        for p in Profile.objects.filter(pk__in=profile_ids)
        .select_related("account")
        .prefetch_related("preferred_languages")
    }
    zones = region_time_zones()
    rng = np.random.default_rng([random_state, 17])
    served = logged.page_model_version[pages]
    bundles, gone = _bundles({int(v) for v in served if v})
    pruned = int(np.isin(served, list(gone)).sum())
    unloadable = int(pages.shape[0]) - pruned - int(np.isin(served, list(bundles)).sum())
    if pruned:
        logger.info(
            "%d of %d logged pages name a model version pruned since: no title ranker rows",
            pruned,
            pages.shape[0],
        )
    stage(TITLE_RANKER_ROWS)
    title_x, title_y, title_w, title_p = _title_examples(
        logged, pages, profiles, rng, bundles, progress=progress
    )
    stage(ROW_RANKER_ROWS)
    row_x, row_y, row_pages = _row_examples(logged, pages, zones, since, until)
    return LoggedExamples(
        pages=int(pages.shape[0]),
        title_features=title_x,
        title_labels=title_y,
        title_weights=title_w,
        title_pages=title_p,
        row_features=row_x,
        row_labels=row_y,
        row_pages=row_pages,
        pages_version_pruned=pruned,
        pages_version_unloadable=unloadable,
    )


def row_ranker_fit(examples: LoggedExamples) -> RowRankerChoice:
    """The row ranker to serve: learned from ``examples`` if it beats the prior on the
    newest of them, the prior otherwise (see :func:`row_ranker_select`; the fit is
    deterministic, so it takes no seed)."""
    return row_ranker_select(
        examples.row_features,
        examples.row_labels,
        examples.row_pages,
        **_row_ranker_thresholds(),
    )


def _row_ranker_thresholds() -> dict[str, int]:
    thresholds = {}
    if (rows := settings.TONIGHT.get("ROW_RANKER_MIN_ROWS")) is not None:
        thresholds["min_rows"] = int(rows)
    if (positives := settings.TONIGHT.get("ROW_RANKER_MIN_POSITIVES")) is not None:
        thresholds["min_positives"] = int(positives)
    return thresholds


def row_ranker_store(*, artefact_key: str, ranker: RowRanker) -> None:
    """Store the row ranker beside the version's other artefacts (serving loads it)."""
    artefacts.artefact_write(artefact_key, ROW_RANKER, ranker.save)


__all__ = [
    "PAGE_LOG_STAGES",
    "LoggedExamples",
    "logged_examples_load",
    "row_ranker_fit",
    "row_ranker_store",
]
