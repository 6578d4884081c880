"""What a serving process holds in memory for one model version: estimators and catalogue arrays.

Everything here is catalogue-wide and the same for every profile, so it is
built once per version per process and reused by every request: the item
factors, the content model and its neighbour matrix, the ranker, normalised
trending rows, and the catalogue facts the filters need (maturity, language,
genres, availability windows, arrival dates, the episodes each season brings out
and when, each series' episodes in order), all aligned with the version's title
index. Availability windows and title facts (seasons and episodes among them) are
what staff edit without a retrain, so they are re-read from the database every
``TONIGHT["CATALOGUE_REFRESH_SECONDS"]`` (in the background, while the old
copy serves: :mod:`~recommendations.serving.refresh`), once per title index
however many versions share it; the estimators never change.

Titles added to the catalogue after a version was trained are served by it
too: each read of the catalogue arrays extends the version's title index with
the titles that have an availability window and that it does not know, and
each version is extended onto that index (:meth:`ServingBundle.served`) in the
same background read, before the arrays are swapped in: zero collaborative
factors and trending counts, content vectors in the version's own vocabulary.
A request only picks the extended bundle that goes with the arrays it got.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import weakref
import zoneinfo
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from catalog.models import Title
from recommendations.engine.als import CollaborativeModel
from recommendations.engine.content import ContentModel
from recommendations.engine.popularity import normalise_popularity
from recommendations.engine.ranking import PlayRanker
from recommendations.selectors import training as data
from recommendations.serving import artefacts
from recommendations.serving.model_index import ModelIndex
from recommendations.serving.refresh import RefreshingByKey
from recommendations.serving.title_tables import title_tables_cache
from regions.selectors import region_time_zones


@dataclass(frozen=True)
class CatalogueArrays:
    """Catalogue facts on a version's title index and the titles added since, read at one moment.

    Attributes
    ----------
    title_ids : numpy.ndarray of int64, shape (n_titles,), ascending
        The title index every other array is on: the version's titles and those
        added to the catalogue since that have an availability window somewhere.
        The version's own array when none was added.
    version_at : numpy.ndarray of intp, shape (n_version_titles,)
        Where each of the version's titles is in ``title_ids``.
    added_features : FeatureNames
        The content features, by name, of the titles in ``title_ids`` the version
        does not know, in ascending id order.
    facts : CatalogueFacts
    genre_table : numpy.ndarray of float32, shape (n_titles, n_genres)
        Dense: fancy-indexing it per request is far cheaper than slicing sparse rows.
    episodes : EpisodeTable
        For weighing a profile's completions at fold-in.
    releases : SeasonReleases
        How many episodes of each series are out, for what a profile has left of it.
    series : SeriesEpisodes
        Each series' episodes in order, for where a Continue Watching tile resumes.
    windows : AvailabilityWindows
        Every region's windows.
    time_zones : dict of str to zoneinfo.ZoneInfo
        Each region's time zone (hour of day and weekday are local).
    loaded_at : float
        ``time.monotonic()`` when read.
    """

    title_ids: npt.NDArray[np.int64]
    version_at: npt.NDArray[np.intp]
    added_features: data.FeatureNames
    facts: data.CatalogueFacts
    genre_table: npt.NDArray[np.float32]
    episodes: data.EpisodeTable
    releases: data.SeasonReleases
    series: data.SeriesEpisodes
    windows: data.AvailabilityWindows
    time_zones: dict[str, zoneinfo.ZoneInfo]
    loaded_at: float
    _regions: dict[str, RegionArrays] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def region(self, region_code: str) -> RegionArrays:
        """The windows and arrival times of one region, built on first use."""
        arrays = self._regions.get(region_code)
        if arrays is None:
            with self._lock:
                windows = self.windows.for_region(region_code)
                arrays = RegionArrays(
                    windows=windows, arrival=windows.arrival(self.facts.release_day)
                )
                self._regions[region_code] = arrays
        return arrays


class RegionArrays:
    """One region's availability windows and arrival times, and what requests derive from them.

    Which titles are available changes only at a window's start or end, so the
    mask of the interval between two such moments is computed once and shared
    by every request inside it (read-only: a caller that wants another mask
    makes a copy). Titles arrive in a fixed order, so the few that arrived in
    a recent span are two binary searches away instead of a pass over the
    catalogue.
    """

    def __init__(self, windows: data.AvailabilityWindows, arrival: npt.NDArray[np.float64]):
        self.windows = windows
        self.arrival = arrival
        self._boundaries = np.unique(np.concatenate([windows.starts, windows.ends]))
        self._by_arrival = np.argsort(arrival, kind="stable")
        self._arrivals = arrival[self._by_arrival]
        # (from, until, mask): the mask of every moment in [from, until).
        self._available: tuple[float, float, npt.NDArray[np.bool_]] | None = None

    def available(self, at: float) -> npt.NDArray[np.bool_]:
        """Titles inside one of the region's windows at Unix time ``at``; read-only."""
        cached = self._available
        if cached is not None and cached[0] <= at < cached[1]:
            return cached[2]
        boundaries = self._boundaries
        i = int(np.searchsorted(boundaries, at, side="right"))
        since = float(boundaries[i - 1]) if i > 0 else -np.inf
        until = float(boundaries[i]) if i < boundaries.shape[0] else np.inf
        mask = self.windows.available(at)
        mask.flags.writeable = False
        self._available = (since, until, mask)
        return mask

    def arrived_between(self, since: float, until: float) -> npt.NDArray[np.intp]:
        """Title indices whose arrival is in ``[since, until]``, earliest first."""
        lo = np.searchsorted(self._arrivals, since, side="left")
        hi = np.searchsorted(self._arrivals, until, side="right")
        return self._by_arrival[lo:hi]


def catalogue_arrays_load(
    title_ids: npt.NDArray[np.int64], *, extend: bool = True
) -> CatalogueArrays:
    """Read the catalogue facts of a title index: a handful of queries, once per refresh.

    The index is extended (unless ``extend`` is false: offline evaluation, on the
    index its models were fitted on) with the titles it lacks that have an
    availability window in some region, added to the catalogue since the version
    was trained; five more queries read their content features, only when there
    are any.
    """
    served = np.union1d(title_ids, data.titles_with_windows()) if extend else title_ids
    if served.shape[0] == title_ids.shape[0]:
        served, version_at = title_ids, np.arange(title_ids.shape[0])
    else:
        version_at = np.searchsorted(served, title_ids)
    added = np.delete(served, version_at)
    n_titles = served.shape[0]
    genre_rows = np.array(
        list(Title.genres.through.objects.values_list("title_id", "genre_id")), dtype=np.int64
    ).reshape(-1, 2)
    genre_ids, genre_col = np.unique(genre_rows[:, 1], return_inverse=True)
    at = data.index_of(served, genre_rows[:, 0])
    genre_table = np.zeros((n_titles, genre_ids.shape[0]), dtype=np.float32)
    genre_table[at[at >= 0], genre_col[at >= 0]] = 1.0
    series = data.series_episodes(served)
    arrays = CatalogueArrays(
        title_ids=served,
        version_at=version_at,
        added_features=data.title_feature_names(added),
        facts=data.catalogue_facts(served),
        genre_table=genre_table,
        episodes=data.episode_table(),
        releases=series.season_releases(),
        series=series,
        windows=data.availability_windows(served),
        time_zones=region_time_zones(),
        loaded_at=time.monotonic(),
    )
    for code in arrays.time_zones:  # here, not in the first request of each region
        arrays.region(code)
    return arrays


logger = logging.getLogger(__name__)

#: The loaded versions on each title index (key), extended onto each catalogue read of it
#: by the thread that reads it, before a request can get the new arrays.
_versions_on_index: dict[str, weakref.WeakSet[ServingBundle]] = {}
_versions_lock = threading.Lock()


def _catalogue_arrays_served(index_key: str, title_ids: npt.NDArray[np.int64]) -> CatalogueArrays:
    """:func:`catalogue_arrays_load`, and every loaded version on the index extended onto it.

    Extending a version (and reading the extended index's title tables) takes a few
    milliseconds to a second: here it is the re-reading thread's, not a request's.
    A version that fails to extend is extended by its next request instead.
    """
    arrays = catalogue_arrays_load(title_ids)
    with _versions_lock:
        # Not the versions extended onto this index: each has its own loaded version.
        versions = [b for b in _versions_on_index.get(index_key, ()) if b._base is None]
    for bundle in versions:
        try:
            # Its title tables too, where this process shows the version's pages (not in a
            # ranker's fit, which reads no names).
            shows = any(
                title_tables_cache.holds(b.index_key)
                for b in (bundle, *(served for _, served in bundle._served))
            )
            served = bundle.on_catalogue(arrays)
            if served is not bundle and shows:
                title_tables_cache.get(
                    index_key=served.index_key,
                    title_ids=served.index.title_ids,
                    not_before=served.loaded_at,
                )
        except Exception:
            logger.exception("Extending version %s onto the catalogue failed", bundle.version_id)
    return arrays


def title_index_key(title_ids: npt.NDArray[np.int64]) -> str:
    """A digest of a title index, to share what depends only on it between versions."""
    data = np.ascontiguousarray(title_ids, dtype=np.int64)
    return hashlib.blake2b(data.tobytes(), digest_size=16).hexdigest()


#: Catalogue arrays per title index, shared by the versions trained on it.
catalogue_cache = RefreshingByKey[CatalogueArrays](name="catalogue arrays")


#: (trending for the generator, cluster popularity, region popularity), each (n_titles,).
TrendingRows = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]


def _same_order(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> bool:
    """Whether ``a`` and ``b`` rank the titles alike, ties included.

    Sorted by ``b`` (then ``a``), each step up or level in one must be the
    same in the other: then a cut at any rank keeps the same titles of either.
    """
    order = np.lexsort((a, b))
    return bool(np.array_equal(np.sign(np.diff(a[order])), np.sign(np.diff(b[order]))))


class ServingBundle:
    """One model version, loaded: estimators from storage, catalogue arrays from the database.

    Attributes
    ----------
    version_id : int
        0 for models evaluated offline, never stored.
    serving_mode : str
        ``"prior"`` or ``"learned"``: which ranker this version serves with.
    index : ModelIndex
    als : CollaborativeModel
    content : ContentModel
    neighbours : scipy.sparse.csr_matrix of float32, shape (n_titles, n_titles)
    ranker : PlayRanker
    popularity : numpy.ndarray of float32, shape (n_regions + n_clusters, n_titles)
        Trending rows normalised to [0, 1] (the ranking features).
    index_key : str
        A digest of the title index: versions with equal keys share catalogue
        arrays and title tables.
    loaded_at : float
        ``time.monotonic()`` when loaded; the shared tables it is served with
        are at least this recent.
    """

    def __init__(
        self,
        *,
        version_id: int,
        index: ModelIndex,
        als: CollaborativeModel,
        content: ContentModel,
        ranker: PlayRanker,
    ) -> None:
        self.version_id = version_id
        self.index = index
        self.als = als
        self.content = content
        self.ranker = ranker
        self.serving_mode = ranker.mode
        self.neighbours: sp.csr_matrix = content.neighbour_matrix()
        self.popularity = normalise_popularity(index.trending)
        self.index_key = title_index_key(index.title_ids)
        self.loaded_at = time.monotonic()
        als.fold_in(sp.csr_matrix((1, self.n_titles), dtype=np.float32))  # warm the Gram matrix
        self._trending: dict[tuple[str, int | None], tuple[TrendingRows, bool]] = {}
        codes = index.region_codes
        # Regions whose viewers started titles in the week before training (see
        # region_trends); for a version that did not keep the week's starts, any start in
        # the trending window, as it was then.
        weekly = index.trending if index.started is None else index.started
        self._trending_regions = frozenset(code for i, code in enumerate(codes) if weekly[i].any())
        # The version as loaded (None), or the one this bundle extends onto a larger index.
        self._base: ServingBundle | None = None
        # The last two (catalogue arrays, bundle on their index) served, newest first: the
        # thread that re-reads the arrays extends the version before they are swapped in,
        # and requests still holding the previous arrays find their own.
        self._served: tuple[tuple[CatalogueArrays, ServingBundle], ...] = ()
        with _versions_lock:
            _versions_on_index.setdefault(self.index_key, weakref.WeakSet()).add(self)

    @classmethod
    def load(cls, *, version_id: int, artefact_key: str) -> ServingBundle:
        """Read a stored version's artefacts (``.npz``, no pickle) from storage."""
        return cls(
            version_id=version_id,
            index=ModelIndex.load(artefacts.artefact_read(artefact_key, artefacts.INDEX)),
            als=CollaborativeModel.load(artefacts.artefact_read(artefact_key, artefacts.ALS)),
            content=ContentModel.load(artefacts.artefact_read(artefact_key, artefacts.CONTENT)),
            ranker=PlayRanker.load(artefacts.artefact_read(artefact_key, artefacts.RANKER)),
        )

    @property
    def n_titles(self) -> int:
        return int(self.index.title_ids.shape[0])

    def served(self, max_age_seconds: float) -> tuple[ServingBundle, CatalogueArrays]:
        """This version on the catalogue as last read, and those catalogue arrays.

        The arrays are re-read when older than ``max_age_seconds`` (in the
        background, :mod:`~recommendations.serving.refresh`). When the catalogue
        holds titles the version was not trained on, the bundle is this version
        extended onto the arrays' larger title index (built when the arrays were
        read, kept while the index stays the same); otherwise it is this one.
        Use the two together: either alone may be another read's.
        """
        if self._base is not None:
            return self._base.served(max_age_seconds)
        title_ids, key = self.index.title_ids, self.index_key
        arrays = catalogue_cache.get(
            key,
            lambda: _catalogue_arrays_served(key, title_ids),
            max_age_seconds,
            not_before=self.loaded_at,
        )
        for seen, bundle in self._served:
            if seen is arrays:
                return bundle, arrays
        return self.on_catalogue(arrays), arrays

    def on_catalogue(self, arrays: CatalogueArrays) -> ServingBundle:
        """This version on ``arrays``' title index: itself, or extended with the titles it lacks.

        The titles added since training get zero collaborative factors (they score
        0 for everyone and change no fold-in), zero trending counts, and content
        vectors from their genres, tags, cast, directors and language in this
        version's fitted vocabulary (a feature it never saw counts for nothing;
        a version stored before the vocabulary was kept gives them none). Their
        recency, availability and other facts are the arrays'.
        """
        if self._base is not None:
            return self._base.on_catalogue(arrays)
        if arrays.title_ids.shape[0] == self.n_titles:
            bundle = self
        else:
            bundle = next(
                (
                    b
                    for _, b in self._served
                    if b is not self and np.array_equal(b.index.title_ids, arrays.title_ids)
                ),
                None,
            ) or self._extended(arrays)
        self._served = ((arrays, bundle), *self._served[:1])
        return bundle

    def _extended(self, arrays: CatalogueArrays) -> ServingBundle:
        n_titles, positions = arrays.title_ids.shape[0], arrays.version_at
        added = arrays.added_features
        columns = self.content.columns_of(added.name)
        known = columns >= 0
        n_features = 0 if self.content.idf is None else self.content.idf.shape[0]
        features = sp.csr_matrix(
            (np.ones(int(known.sum()), np.float32), (added.row[known], columns[known])),
            shape=(added.n_titles, n_features),
        )
        features.sum_duplicates()
        features.data[:] = 1.0
        bundle = ServingBundle(
            version_id=self.version_id,
            index=self.index.with_titles(title_ids=arrays.title_ids, positions=positions),
            als=self.als.with_titles(positions=positions, n_titles=n_titles),
            content=self.content.with_titles(
                positions=positions, n_titles=n_titles, added_features=features
            ),
            ranker=self.ranker,
        )
        bundle._base = self
        bundle.loaded_at = self.loaded_at  # its tables need be no newer than the version's
        for region_code, cluster_id in list(self._trending):  # the scopes served: not a page's
            bundle.trending_rows(region_code=region_code, cluster_id=cluster_id)
        return bundle

    def catalogue(self, max_age_seconds: float) -> CatalogueArrays:
        """The catalogue arrays, when they are on this bundle's title index.

        Raises
        ------
        LookupError
            The catalogue holds titles this bundle does not: use :meth:`served`.
        """
        bundle, arrays = self.served(max_age_seconds)
        if bundle is not self:
            raise LookupError(
                f"the catalogue holds titles version {self.version_id} was not trained on: "
                "serve with ServingBundle.served()"
            )
        return arrays

    def trending_rows(self, *, region_code: str, cluster_id: int | None) -> TrendingRows:
        """(trending for the generator, cluster popularity, region popularity), each (n_titles,).

        A cluster with (almost) no recent plays falls back to its region, and a
        region without any to the whole model's most-played titles. The
        popularity counts every start of the trending window; the generator's
        scores only the titles started in the week before training (the trending
        row's, :meth:`trending_started`), chosen alike from those alone. Worked
        out once per (region, cluster) and kept: trending is fixed at training time.
        """
        return self._trending_entry(region_code, cluster_id)[0]

    def region_trends(self, region_code: str) -> bool:
        """Whether the region's viewers started titles of their own in the week before training.

        A region without (or unknown to the version) has no "Trending in
        <region>" row, which names the region as the place its titles are being
        started. Its popularity is its own plays of the trending window where it
        has any, else every region's (:meth:`trending_rows`): good enough to rank
        and fill a pool with.
        """
        return region_code in self._trending_regions

    def trending_started(self, region_code: str) -> npt.NDArray[np.bool_] | None:
        """Which titles the region's viewers started in the week before training, (n_titles,).

        What the "Trending in <region>" row may hold. ``None`` for a region the
        version does not know, and for a version trained before the week's
        starts were kept (its row guards with a floor on the decayed count).
        """
        return self.index.region_started(region_code)

    def cluster_row_own(self, *, region_code: str, cluster_id: int | None) -> bool:
        """Whether the cluster's popularity can make a row the region's trending row does not.

        Not when it is the region's, fallen back to for a cluster with (almost)
        no recent plays, nor when it ranks the catalogue exactly as the region
        does (the cluster holds every recent viewer there): an upper quartile of
        any pool by either is then the same titles, and a page showed them
        twice, as "Trending in India" and "Popular with Hindi viewers". Decided
        with the rows, once per (region, cluster), so a page reads a flag.
        """
        return self._trending_entry(region_code, cluster_id)[1]

    def _trending_entry(
        self, region_code: str, cluster_id: int | None
    ) -> tuple[TrendingRows, bool]:
        key = (region_code, cluster_id)
        entry = self._trending.get(key)
        if entry is None:
            entry = self._trending[key] = self._trending_rows(region_code, cluster_id)
        return entry

    def _trending_rows(self, region_code: str, cluster_id: int | None) -> tuple[TrendingRows, bool]:
        index = self.index
        codes = index.region_codes
        region_at = codes.index(region_code) if region_code in codes else -1
        cluster_at = (
            np.flatnonzero(index.cluster_ids == cluster_id) if cluster_id is not None else []
        )
        cluster_row = len(codes) + int(cluster_at[0]) if len(cluster_at) else -1
        if region_at >= 0 and index.trending[region_at].any():
            region_raw, region_pop = index.trending[region_at], self.popularity[region_at]
        else:
            region_raw = index.trending[: len(codes)].sum(axis=0)
            region_pop = normalise_popularity(region_raw)
        raw, cluster_pop, own = region_raw, region_pop, False
        if cluster_row >= 0 and index.trending[cluster_row].sum() >= 1.0:
            raw, cluster_pop = index.trending[cluster_row], self.popularity[cluster_row]
            own = not _same_order(cluster_pop, region_pop)
        if index.started is not None:
            raw = self._started_this_week(index.started, region_at, cluster_row)
        return (raw, cluster_pop, region_pop), own

    def _started_this_week(
        self, started: npt.NDArray[np.bool_], region_at: int, cluster_row: int
    ) -> npt.NDArray[np.float32]:
        """The trending generator's scores: the decayed count of the titles started in the week.

        Its scope is chosen as the popularity's is, from those titles alone: a
        cluster whose week's titles add up to under one start is served its
        region's, and a region that started none every region's. So the
        generator proposes what "Trending in <region>" may show, ranked as before.
        """
        trending = self.index.trending
        zero = np.float32(0.0)
        if cluster_row >= 0:
            row = np.where(started[cluster_row], trending[cluster_row], zero)
            if row.sum() >= 1.0:
                return row
        if region_at >= 0 and started[region_at].any():
            return np.where(started[region_at], trending[region_at], zero)
        n_regions = len(self.index.region_codes)
        return np.where(started[:n_regions], trending[:n_regions], zero).sum(axis=0)
