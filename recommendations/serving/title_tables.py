"""What a homepage shows about titles, as per-process tables: names and facts for rows.

A 12x20 homepage shows 240 titles; reading their names from the database on
every request would be one of the page's most expensive parts. These tables
hold, for every title of a model version's index, what the page needs:
original and localised names, critic scores, genre and language labels, and
the placeholder image for titles without artwork (the artwork itself is
:mod:`artwork.selection`'s). They are re-read when older than
``TONIGHT["TITLE_TABLES_REFRESH_SECONDS"]`` (staff fix names without a
retrain) by a background thread while the old copy keeps serving
(:mod:`~recommendations.serving.refresh`), and shared by every model version
with the same title index. On PostgreSQL a re-read first asks for a
fingerprint of the tables' rows and keeps the old copy when it is unchanged:
rebuilding them is about 0.3 s of Python on the 15,000-title bench catalogue
(40-50 ms for the fingerprint), every minute, on a background thread that holds
the interpreter while the pages of its process wait.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import connection, models
from django.templatetags.static import static

from catalog.models import Genre, Language, Title, TitleLocalization
from recommendations.selectors.training import index_of
from recommendations.serving.refresh import RefreshingByKey
from regions.models import Region, TasteCluster, TasteClusterLocalization

PLACEHOLDER_ARTWORK = "artwork/placeholder.svg"


def placeholder_url() -> str:
    """The placeholder's static URL (relative unless static files live on another host)."""
    try:
        return static(PLACEHOLDER_ARTWORK)
    except ValueError:  # manifest storage before collectstatic
        return f"{settings.STATIC_URL.rstrip('/')}/{PLACEHOLDER_ARTWORK}"


@dataclass(frozen=True)
class TitleTables:
    """Per-title display facts on a version's title index.

    Attributes
    ----------
    title_ids : numpy.ndarray of int64, shape (n_titles,)
    names : list of str, length n_titles
        Original names.
    critic_score : numpy.ndarray of float32, shape (n_titles,)
        NaN when unknown.
    genre_table : numpy.ndarray of bool, shape (n_titles, n_genres)
    genre_ids : tuple of int, length n_genres
    genre_slugs, genre_names : tuple of str, length n_genres
    language_names : dict of str to str
        Language code -> English name.
    region_names : dict of str to str
    cluster_names : dict of int to str
    language_native_names : dict of str to str
        Language code -> the language's name for itself.
    cluster_languages : dict of int to str
        Cluster id -> its language's code, for clusters keyed by exactly one.
    cluster_localized_names : dict of int to dict of str to str
        Cluster id -> language code -> the cluster's name in that language, for
        the rows that name a cluster keyed by no single language (read with the
        rest, so a page's row copy makes no query).
    whole_region_clusters : frozenset of int
        The default clusters of regions with no other cluster: everybody in
        the region, whose popular row would be the region's trending row.
    remainder_clusters : frozenset of int
        The default clusters of regions that also have keyed clusters: the
        viewers those communities leave, not the whole region.
    placeholder : str
        URL of the image shown for a title without artwork.
    loaded_at : float
    display : dict of (str or None) to numpy.ndarray of object, shape (n_titles,)
        Language code -> every title's name in that language where translated,
        else its original name; ``None`` -> the original names. Built for every
        language at load (translations are read with the rest, one query), so
        a page's 240 names are one fancy index.
    row_copy : dict
        (language, :class:`~recommendations.serving.row_copy.RowCopy`) -> the
        row's title and reason, filled by the pages that show them: these
        tables' names are what the texts are made of, so the texts live and
        are replaced with them.
    """

    title_ids: npt.NDArray[np.int64]
    names: list[str]
    critic_score: npt.NDArray[np.float32]
    genre_table: npt.NDArray[np.bool_]
    genre_ids: tuple[int, ...]
    genre_slugs: tuple[str, ...]
    genre_names: tuple[str, ...]
    language_names: dict[str, str]
    region_names: dict[str, str]
    cluster_names: dict[int, str]
    placeholder: str
    loaded_at: float
    display: dict[str | None, npt.NDArray[np.object_]] = field(default_factory=dict, repr=False)
    language_native_names: dict[str, str] = field(default_factory=dict)
    cluster_languages: dict[int, str] = field(default_factory=dict)
    cluster_localized_names: dict[int, dict[str, str]] = field(default_factory=dict)
    whole_region_clusters: frozenset[int] = frozenset()
    remainder_clusters: frozenset[int] = frozenset()
    row_copy: dict[tuple[str, tuple], tuple[str, str]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def display_names(self, language: str | None) -> npt.NDArray[np.object_]:
        """Every title's name in ``language`` where translated, else its original name."""
        found = self.display.get(language)
        return found if found is not None else self.display[None]


def title_tables_load(title_ids: npt.NDArray[np.int64]) -> TitleTables:
    """Read the tables for a title index: a handful of queries, once per refresh."""
    n = title_ids.shape[0]
    rows = list(Title.objects.values_list("pk", "original_name", "critic_score"))
    at = index_of(title_ids, [r[0] for r in rows])
    names = [""] * n
    critic = np.full(n, np.nan, dtype=np.float32)
    for i, (_, name, score) in zip(at.tolist(), rows, strict=True):
        if i >= 0:
            names[i] = name
            if score is not None:
                critic[i] = score
    genres = list(Genre.objects.order_by("pk").values_list("pk", "slug", "name"))
    genre_ids = np.array([g[0] for g in genres], dtype=np.int64)
    pairs = np.array(
        list(Title.genres.through.objects.values_list("title_id", "genre_id")), dtype=np.int64
    ).reshape(-1, 2)
    genre_table = np.zeros((n, len(genres)), dtype=bool)
    if pairs.shape[0]:
        t = index_of(title_ids, pairs[:, 0])
        g = index_of(genre_ids, pairs[:, 1])
        keep = (t >= 0) & (g >= 0)
        genre_table[t[keep], g[keep]] = True
    display: dict[str | None, npt.NDArray[np.object_]] = {None: np.array(names, dtype=object)}
    translations = list(TitleLocalization.objects.values_list("language_id", "title_id", "name"))
    at = index_of(title_ids, [r[1] for r in translations])
    for i, (language, _, name) in zip(at.tolist(), translations, strict=True):
        if i >= 0 and name:
            if language not in display:
                display[language] = display[None].copy()
            display[language][i] = name
    languages = list(Language.objects.values_list("code", "name", "native_name"))
    cluster_language_pairs: dict[int, list[str]] = {}
    for cluster, language in TasteCluster.languages.through.objects.values_list(
        "tastecluster_id", "language_id"
    ):
        cluster_language_pairs.setdefault(cluster, []).append(language)
    clusters = list(TasteCluster.objects.values_list("pk", "name", "region_id", "is_default"))
    cluster_localized: dict[int, dict[str, str]] = {}
    for cluster, language, name in TasteClusterLocalization.objects.values_list(
        "cluster_id", "language_id", "name"
    ):
        if name:
            cluster_localized.setdefault(cluster, {})[language] = name
    per_region = Counter(region for _, _, region, _ in clusters)
    return TitleTables(
        title_ids=title_ids,
        names=names,
        critic_score=critic,
        genre_table=genre_table,
        genre_ids=tuple(g[0] for g in genres),
        genre_slugs=tuple(g[1] for g in genres),
        genre_names=tuple(g[2] for g in genres),
        language_names={code: name for code, name, _ in languages},
        region_names=dict(Region.objects.values_list("code", "name")),
        cluster_names={pk: name for pk, name, _, _ in clusters},
        placeholder=placeholder_url(),
        loaded_at=time.monotonic(),
        display=display,
        language_native_names={code: native for code, _, native in languages if native},
        cluster_languages={c: ls[0] for c, ls in cluster_language_pairs.items() if len(ls) == 1},
        cluster_localized_names=cluster_localized,
        whole_region_clusters=frozenset(
            pk for pk, _, region, default in clusters if default and per_region[region] == 1
        ),
        remainder_clusters=frozenset(
            pk for pk, _, region, default in clusters if default and per_region[region] > 1
        ),
    )


@functools.cache
def _fingerprint_sql() -> str | None:
    """One text that changes when anything the tables hold changes (PostgreSQL only).

    Row counts and sums of row hashes of every table read: a full scan of each
    (40-50 ms on the 15,000-title bench catalogue), against about 0.3 s of Python
    to rebuild the tables, whose thread then holds the interpreter while pages
    wait.
    """
    if connection.vendor != "postgresql":
        return None
    quote = connection.ops.quote_name

    def part(model: type[models.Model], columns: tuple[str, ...]) -> str:
        text = " || '|' || ".join(f"coalesce({quote(c)}::text, '')" for c in columns)
        # Only quoted identifiers of the models are interpolated.
        return (
            f"(SELECT count(*) || ':' || coalesce(sum(hashtext({text})), 0) "  # noqa: S608
            f"FROM {quote(model._meta.db_table)})"
        )

    genres = Title.genres.through
    parts = [
        part(Title, ("id", "original_name", "critic_score")),
        part(genres, ("title_id", "genre_id")),
        part(Genre, ("id", "slug", "name")),
        part(TitleLocalization, ("language_id", "title_id", "name")),
        part(Language, ("code", "name", "native_name")),
        part(Region, ("code", "name")),
        part(TasteCluster, ("id", "name", "region_id", "is_default")),
        part(TasteCluster.languages.through, ("tastecluster_id", "language_id")),
        part(TasteClusterLocalization, ("cluster_id", "language_id", "name")),
    ]
    return "SELECT " + " || '/' || ".join(parts)


def tables_fingerprint() -> str | None:
    """What :func:`_fingerprint_sql` reads now; None where it cannot be read (SQLite)."""
    sql = _fingerprint_sql()
    if sql is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


class _TitleTablesCache:
    """One :class:`TitleTables` per title index, re-read in the background on a timer.

    Keyed by the index, not the model version: the region, cluster and global
    versions trained on one catalogue share one copy instead of reading the
    same tables once each.
    """

    def __init__(self) -> None:
        self._tables = RefreshingByKey[TitleTables](name="title tables")
        self._read: dict[str, tuple[str, TitleTables]] = {}  # index key -> fingerprint, tables

    def clear(self) -> None:
        self._tables.clear()
        self._read.clear()

    def _load(self, index_key: str, title_ids: npt.NDArray[np.int64]) -> TitleTables:
        """Read the tables, unless nothing they hold changed since the last read."""
        fingerprint = tables_fingerprint()
        previous = self._read.get(index_key)
        if fingerprint is not None and previous is not None and previous[0] == fingerprint:
            return replace(previous[1], loaded_at=time.monotonic())
        tables = title_tables_load(title_ids)
        if fingerprint is not None:
            self._read.pop(index_key, None)
            self._read[index_key] = (fingerprint, tables)
            # As many as the tables kept: each catalogue addition served before a retrain
            # is another index (serving/bundle.py), and a copy for each would pile up.
            while len(self._read) > self._tables.max_keys:
                del self._read[next(iter(self._read))]
        return tables

    def holds(self, index_key: str) -> bool:
        """Whether this process has read (or is reading) the tables of that index."""
        return index_key in self._tables

    def get(
        self, *, index_key: str, title_ids: npt.NDArray[np.int64], not_before: float = 0.0
    ) -> TitleTables:
        """The tables of a title index; read now if older than ``not_before`` (a version's load)."""
        max_age = float(settings.TONIGHT.get("TITLE_TABLES_REFRESH_SECONDS", 60.0))
        return self._tables.get(
            index_key, lambda: self._load(index_key, title_ids), max_age, not_before=not_before
        )


title_tables_cache = _TitleTablesCache()
