"""What a homepage shows about titles, as per-process tables: names, artwork, facts for rows.

A 12x20 homepage shows 240 titles; reading their names and artwork from the
database on every request would be the page's most expensive part. These
tables hold, for every title of a model version's index, what the page needs:
original and localised names, critic scores, genre and language labels, and
the default artwork variant per (device class, maturity limit). They are
re-read when older than ``TONIGHT["TITLE_TABLES_REFRESH_SECONDS"]`` (short:
staff deactivate artwork and fix names without a retrain) by a background
thread while the old copy keeps serving (:mod:`~recommendations.serving.refresh`),
and shared by every model version with the same title index.

Until the artwork bandit lands, a title's artwork is its *default* variant:
the oldest active variant meant for the device class within the profile's
maturity limit; else the oldest active variant for any device within the
limit; else a neutral placeholder. Every title therefore always has artwork,
and a kids profile never gets a frame rated above its limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.core.files.storage import default_storage
from django.templatetags.static import static

from artwork.models import ArtworkVariant
from catalog.models import Genre, Language, MaturityLevel, Title, TitleLocalization
from recommendations.engine.ranking import DEVICE_CLASSES
from recommendations.selectors.training import index_of
from recommendations.serving.refresh import RefreshingByKey
from regions.models import Region, TasteCluster

MATURITY_LEVELS: tuple[int, ...] = tuple(sorted(MaturityLevel.values))
PLACEHOLDER_ARTWORK = "artwork/placeholder.svg"


def placeholder_url() -> str:
    """The placeholder's static URL (relative unless static files live on another host)."""
    try:
        return static(PLACEHOLDER_ARTWORK)
    except ValueError:  # manifest storage before collectstatic
        return f"{settings.STATIC_URL.rstrip('/')}/{PLACEHOLDER_ARTWORK}"


class VariantUrls:
    """Variant id -> its image's URL, asked of storage the first time a page shows it.

    Storage's ``url()`` costs tens of microseconds (an object store may sign);
    asked for all ~70,000 variants up front it made every table load seconds
    long, though a page shows a few hundred of them.
    """

    def __init__(self, images: dict[int, str]) -> None:
        self._images = images
        self._urls: dict[int, str] = {}

    def get(self, variant_id: int, default: str) -> str:
        url = self._urls.get(variant_id)
        if url is None:
            image = self._images.get(variant_id)
            if not image:
                return default
            url = self._urls[variant_id] = default_storage.url(image)
        return url

    def __contains__(self, variant_id: int) -> bool:
        return bool(self._images.get(variant_id))

    def __len__(self) -> int:
        return len(self._images)


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
    genre_slugs, genre_names : tuple of str, length n_genres
    language_names : dict of str to str
        Language code -> English name.
    region_names : dict of str to str
    cluster_names : dict of int to str
    default_variant : numpy.ndarray of int64, shape (len(DEVICE_CLASSES), len(MATURITY_LEVELS),
        n_titles)
        The default variant id per device class and maturity limit; -1: placeholder.
    variant_urls : VariantUrls
        Variant id -> image URL, asked of storage on first use.
    placeholder : str
    loaded_at : float
    localised : dict of str to dict of int to str
        Language code -> title index -> localised name. Every language is read
        with the rest (one query), so no request waits to read one.
    """

    title_ids: npt.NDArray[np.int64]
    names: list[str]
    critic_score: npt.NDArray[np.float32]
    genre_table: npt.NDArray[np.bool_]
    genre_slugs: tuple[str, ...]
    genre_names: tuple[str, ...]
    language_names: dict[str, str]
    region_names: dict[str, str]
    cluster_names: dict[int, str]
    default_variant: npt.NDArray[np.int64]
    variant_urls: VariantUrls
    placeholder: str
    loaded_at: float
    localised: dict[str, dict[int, str]] = field(default_factory=dict, repr=False)

    def localised_names(self, language: str | None) -> dict[int, str]:
        """Title index -> name in ``language``, for the titles translated into it."""
        return self.localised.get(language, {}) if language else {}

    def variants_for(
        self, *, title_index: npt.NDArray[np.int32], device: str, maturity_limit: int
    ) -> npt.NDArray[np.int64]:
        """Default variant id of each title for this device and limit (-1: placeholder)."""
        level = int(np.searchsorted(MATURITY_LEVELS, maturity_limit, side="right")) - 1
        if level < 0:
            return np.full(title_index.shape[0], -1, dtype=np.int64)
        return self.default_variant[DEVICE_CLASSES.index(device), level][title_index]


def _default_variants(
    title_ids: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], VariantUrls]:
    n = title_ids.shape[0]
    table = np.full((len(DEVICE_CLASSES), len(MATURITY_LEVELS), n), -1, dtype=np.int64)
    rows = list(
        ArtworkVariant.objects.filter(is_active=True)
        .order_by("-created_at", "-pk")  # oldest written last: it wins
        .values_list(
            "pk", "title_id", "maturity", "image", "for_tv", "for_mobile", "for_tablet", "for_web"
        )
    )
    urls = VariantUrls({pk: image for pk, _, _, image, *_ in rows if image})
    if not rows:
        return table, urls
    pk = np.array([r[0] for r in rows], dtype=np.int64)
    at = index_of(title_ids, [r[1] for r in rows])
    maturity = np.array([r[2] for r in rows], dtype=np.int64)
    has_image = np.array([bool(r[3]) for r in rows])
    devices = np.array([r[4:8] for r in rows], dtype=bool).reshape(-1, len(DEVICE_CLASSES))
    usable = (at >= 0) & has_image
    for m, limit in enumerate(MATURITY_LEVELS):
        within = usable & (maturity <= limit)
        # Any-device fallback first, then the device's own variants overwrite it.
        for d in range(len(DEVICE_CLASSES)):
            table[d, m, at[within]] = pk[within]
        for d in range(len(DEVICE_CLASSES)):
            mine = within & devices[:, d]
            table[d, m, at[mine]] = pk[mine]
    return table, urls


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
    default_variant, urls = _default_variants(title_ids)
    localised: dict[str, dict[int, str]] = {}
    translations = list(TitleLocalization.objects.values_list("language_id", "title_id", "name"))
    at = index_of(title_ids, [r[1] for r in translations])
    for i, (language, _, name) in zip(at.tolist(), translations, strict=True):
        if i >= 0:
            localised.setdefault(language, {})[i] = name
    return TitleTables(
        title_ids=title_ids,
        names=names,
        critic_score=critic,
        genre_table=genre_table,
        genre_slugs=tuple(g[1] for g in genres),
        genre_names=tuple(g[2] for g in genres),
        language_names=dict(Language.objects.values_list("code", "name")),
        region_names=dict(Region.objects.values_list("code", "name")),
        cluster_names=dict(TasteCluster.objects.values_list("pk", "name")),
        default_variant=default_variant,
        variant_urls=urls,
        placeholder=placeholder_url(),
        loaded_at=time.monotonic(),
        localised=localised,
    )


class _TitleTablesCache:
    """One :class:`TitleTables` per title index, re-read in the background on a timer.

    Keyed by the index, not the model version: the region, cluster and global
    versions trained on one catalogue share one copy instead of reading the
    same tables once each.
    """

    def __init__(self) -> None:
        self._tables = RefreshingByKey[TitleTables](name="title tables")

    def clear(self) -> None:
        self._tables.clear()

    def get(
        self, *, index_key: str, title_ids: npt.NDArray[np.int64], not_before: float = 0.0
    ) -> TitleTables:
        """The tables of a title index; read now if older than ``not_before`` (a version's load)."""
        max_age = float(settings.TONIGHT.get("TITLE_TABLES_REFRESH_SECONDS", 60.0))
        return self._tables.get(
            index_key, lambda: title_tables_load(title_ids), max_age, not_before=not_before
        )


title_tables_cache = _TitleTablesCache()
