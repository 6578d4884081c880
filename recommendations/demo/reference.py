"""Reference data every demo needs: languages, regions, taste clusters, genres, tags, themes.

Reference rows are shared with whatever else lives in the database (staff may
have added a genre), so they are upserted by natural key and never deleted by
``--flush``; only their display names are brought in line with the vocabulary.
"""

from dataclasses import dataclass

from artwork.models import ArtworkTheme
from catalog.models import Genre, Language, Tag
from regions.models import Region, TasteCluster
from regions.services import taste_cluster_create, taste_cluster_default_set

from .vocabulary import (
    ARTWORK_THEMES,
    CLUSTERS,
    DEFAULT_CLUSTER_NAME,
    DEFAULT_CLUSTER_SLUG,
    GENRE_NAMES,
    GENRES,
    LANGUAGES,
    REGIONS,
    TAGS,
)


@dataclass(frozen=True)
class ReferenceIds:
    """Primary keys of the reference rows, by natural key, for the bulk phases."""

    genres: dict[str, int]
    tags: dict[str, int]
    themes: dict[str, int]
    # region -> language -> cluster id; "" maps to the region's default cluster.
    clusters: dict[str, dict[str, int]]
    # cluster id -> "IN-tamil", the parameter of a ``popular_in`` row id.
    cluster_labels: dict[int, str]

    def cluster_for(self, region: str, language: str) -> int:
        """The cluster a viewer of ``language`` belongs to in ``region`` (else the default)."""
        by_language = self.clusters[region]
        return by_language.get(language, by_language[""])


def _sync(model: type, key: str, wanted: dict[str, dict[str, object]]) -> dict[str, object]:
    """Create missing rows and fix changed fields in bulk; returns key -> instance."""
    existing = {getattr(o, key): o for o in model.objects.filter(**{f"{key}__in": list(wanted)})}
    to_create, to_update, fields = [], [], set()
    for natural_key, values in wanted.items():
        obj = existing.get(natural_key)
        if obj is None:
            to_create.append(model(**{key: natural_key}, **values))
            continue
        changed = [f for f, v in values.items() if getattr(obj, f) != v]
        if changed:
            for f in changed:
                setattr(obj, f, values[f])
            fields.update(changed)
            to_update.append(obj)
    for obj in model.objects.bulk_create(to_create):
        existing[getattr(obj, key)] = obj
    if to_update:
        model.objects.bulk_update(to_update, sorted(fields))
    return existing


def ensure_reference_data() -> ReferenceIds:
    """Upsert the reference rows; the caller holds the transaction."""
    _sync(
        Language,
        "code",
        {code: {"name": name, "native_name": native} for code, (name, native) in LANGUAGES.items()},
    )
    _sync(
        Region,
        "code",
        {
            r.code: {
                "name": r.name,
                "default_language_id": r.default_language,
                "time_zone": r.time_zone,
            }
            for r in REGIONS
        },
    )
    genres = _sync(
        Genre,
        "slug",
        {g: {"name": GENRE_NAMES.get(g, g.replace("-", " ").title())} for g in GENRES},
    )
    tags = _sync(Tag, "slug", {slug: {"name": name} for slug, name in TAGS.items()})
    themes = _sync(ArtworkTheme, "slug", {s: {"name": name} for s, name in ARTWORK_THEMES.items()})

    clusters: dict[str, dict[str, int]] = {}
    labels: dict[int, str] = {}
    for region in REGIONS:
        # One default per region: reuse whichever exists (staff may have made one). Made
        # before the keyed clusters: a region's first cluster is made its default
        # (taste_cluster_create), and added after them, this found the first keyed one ticked.
        default = TasteCluster.objects.filter(region_id=region.code, is_default=True).first()
        if default is None:
            default = TasteCluster.objects.filter(
                region_id=region.code, slug=DEFAULT_CLUSTER_SLUG
            ).first()
            if default is None:
                default = taste_cluster_create(
                    region=region.code,
                    slug=DEFAULT_CLUSTER_SLUG,
                    name=DEFAULT_CLUSTER_NAME,
                    is_default=True,
                )
            elif not default.is_default:
                taste_cluster_default_set(cluster=default)
        by_language: dict[str, int] = {}
        for slug, (name, languages) in CLUSTERS.get(region.code, {}).items():
            cluster = TasteCluster.objects.filter(region_id=region.code, slug=slug).first()
            if cluster is None:
                cluster = taste_cluster_create(region=region.code, slug=slug, name=name)
            cluster.languages.add(*languages)
            for code in languages:
                by_language[code] = cluster.pk
            labels[cluster.pk] = f"{region.code}-{cluster.slug}"
        by_language[""] = default.pk
        labels[default.pk] = f"{region.code}-{default.slug}"
        clusters[region.code] = by_language
    return ReferenceIds(
        genres={slug: g.pk for slug, g in genres.items()},
        tags={slug: t.pk for slug, t in tags.items()},
        themes={slug: t.pk for slug, t in themes.items()},
        clusters=clusters,
        cluster_labels=labels,
    )
