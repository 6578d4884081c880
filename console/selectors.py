"""Reads for the staff console: households, their profiles, artwork, and training history."""

import datetime as dt
from collections import defaultdict

from django.db.models import Count, F, Prefetch, QuerySet, Sum, Window
from django.db.models.functions import RowNumber
from django.shortcuts import get_object_or_404

from accounts.models import Account
from artwork.models import ArtworkTheme, ArtworkVariant, ArtworkVariantDaily
from catalog.models import Title
from config.admin_lists import count_subquery
from config.ids import id_from_text
from profiles.models import Profile
from recommendations.models import ModelVersion, TrainingRun
from regions.models import Region, TasteCluster

ACCOUNTS_LISTED = 20
RUNS_CHARTED = 30
VERSIONS_CHARTED = 30


def account_search(*, query: str = "", limit: int = ACCOUNTS_LISTED) -> list[Account]:
    """Households by id (digits) or by name, oldest first, with their number of profiles.

    Each household's profiles are counted in a correlated subquery, which PostgreSQL
    evaluates only for the rows the limit keeps: counted through a join and
    ``GROUP BY``, every matching household's profiles were read and counted before
    twenty were kept (21 ms at 739 matches among 100,000 households).
    """
    accounts = Account.objects.select_related("home_region").annotate(
        n_profiles=count_subquery(Profile, "account")
    )
    query = query.strip()
    account_id = id_from_text(query)
    if account_id is not None:
        accounts = accounts.filter(pk=account_id)
    elif query.isdigit():
        return []  # digits, but no household's id ("²", or past every row's)
    elif query:
        # Without accents, as admin's search ("Sao" finds "São"), off the name's index.
        accounts = accounts.filter(name__unaccented__icontains=query)
    return list(accounts.order_by("pk")[:limit])


def account_get(*, account_id: int) -> Account:
    return get_object_or_404(Account.objects.select_related("home_region"), pk=account_id)


def account_exists(*, account_id: int) -> bool:
    return Account.objects.filter(pk=account_id).exists()


def account_profiles(*, account: Account) -> list[Profile]:
    """The household's profiles in slot order, each with what a homepage build reads of it."""
    return list(
        Profile.objects.filter(account=account)
        .select_related("account__home_region", "taste_cluster", "display_language")
        .order_by("slot")
    )


def title_get(*, title_id: int) -> Title:
    return get_object_or_404(
        Title.objects.select_related("original_language").prefetch_related("genres"), pk=title_id
    )


def title_variants(*, title_id: int) -> list[ArtworkVariant]:
    """The title's artwork variants, active first, with their themes."""
    return list(
        ArtworkVariant.objects.filter(title_id=title_id)
        .prefetch_related(Prefetch("themes", queryset=ArtworkTheme.objects.order_by("slug")))
        .order_by("-is_active", "created_at", "pk")
    )


def artwork_variants_most_shown(*, since: dt.date, limit: int) -> list[ArtworkVariant]:
    """The ``limit`` variants with the most impressions on days after ``since``, most first.

    Ranked from the daily roll-ups of those days only, which the index on ``day``
    finds: summed over every day ever rolled up, the ranking read the whole table
    on each view (2.4 s at 1.6 million rows, a month of 13,500 variants), and more
    every day. Two queries: the ranking, then the variants with their titles.
    """
    ranked = list(
        ArtworkVariantDaily.objects.filter(day__gt=since)
        .values("variant_id")
        .annotate(shown=Sum("impressions"))
        .filter(shown__gt=0)
        .order_by("-shown", "variant_id")
        .values_list("variant_id", flat=True)[:limit]
    )
    variants = ArtworkVariant.objects.select_related("title").in_bulk(ranked)
    return [variants[pk] for pk in ranked if pk in variants]


def regions_with_clusters() -> list[Region]:
    """Every region and its taste clusters, each cluster annotated with its number of runs."""
    clusters = TasteCluster.objects.annotate(n_runs=Count("training_runs")).order_by(
        "-is_default", "name"
    )
    return list(
        Region.objects.prefetch_related(Prefetch("taste_clusters", queryset=clusters)).order_by(
            "code"
        )
    )


def region_versions(*, limit: int = VERSIONS_CHARTED) -> dict[str, list[ModelVersion]]:
    """Each region's ``limit`` newest region-scope versions, newest first, by region code.

    One query, ranked per region by a window function: a query per region (of
    :func:`scope_versions`) made the models page cost as many queries as there are regions.
    """
    newest_first = (F("created_at").desc(), F("pk").desc())
    ranked = (
        ModelVersion.objects.filter(scope=ModelVersion.Scope.REGION)
        .select_related("region", "taste_cluster")
        .annotate(rank=Window(RowNumber(), partition_by=F("region_id"), order_by=newest_first))
        .filter(rank__lte=limit)
        .order_by("region_id", *newest_first)
    )
    versions: dict[str, list[ModelVersion]] = defaultdict(list)
    for version in ranked:
        versions[version.region_id].append(version)
    return versions


def serving_versions() -> dict[str | None, ModelVersion]:
    """The active global version (key ``None``) and each region's, by region code.

    The overview lists each scope's few newest versions; after a run of retrains the
    gate refused, the one serving is older than all of them, and a table of
    "Rejected" rows said nothing of what serves. One query for every scope.
    """
    active = ModelVersion.objects.filter(
        status=ModelVersion.Status.ACTIVE,
        scope__in=(ModelVersion.Scope.GLOBAL, ModelVersion.Scope.REGION),
    ).select_related("region", "taste_cluster")
    return {
        (None if version.scope == ModelVersion.Scope.GLOBAL else version.region_id): version
        for version in active
    }


def cluster_get(*, region_code: str, slug: str) -> TasteCluster:
    return get_object_or_404(
        TasteCluster.objects.select_related("region"), region_id=region_code, slug=slug
    )


def cluster_runs(*, cluster: TasteCluster, limit: int = RUNS_CHARTED) -> list[TrainingRun]:
    """The cluster's most recent runs, oldest first (the order a chart reads)."""
    runs = (
        TrainingRun.objects.filter(taste_cluster=cluster)
        .select_related("model_version", "requested_by")
        .order_by("-created_at", "-pk")[:limit]
    )
    return list(runs)[::-1]


def scope_versions(*, scope: str, cluster: TasteCluster | None = None) -> QuerySet[ModelVersion]:
    """Model versions of one scope (global, a cluster), newest first.

    A region's versions are read for every region at once (:func:`region_versions`).
    """
    versions = ModelVersion.objects.filter(scope=scope).select_related("region", "taste_cluster")
    if cluster is not None:
        versions = versions.filter(taste_cluster=cluster)
    return versions.order_by("-created_at", "-pk")


def scope_versions_stored(
    *, scope: str, region_code: str | None, cluster_id: int | None, limit: int = VERSIONS_CHARTED
) -> list[ModelVersion]:
    """The ``limit`` newest versions of one serving scope that may have artefacts, newest first.

    Not ``training`` nor ``failed``: those may have none, or half of them (the retrain gate
    and the ranker's training skip them for the same reason). The caller still checks the
    files, which the nightly prune deletes with their rows but an operator may not.
    """
    versions = ModelVersion.objects.filter(scope=scope).exclude(
        status__in=(ModelVersion.Status.TRAINING, ModelVersion.Status.FAILED)
    )
    if scope == ModelVersion.Scope.CLUSTER:
        versions = versions.filter(taste_cluster_id=cluster_id)
    elif scope == ModelVersion.Scope.REGION:
        versions = versions.filter(region_id=region_code)
    return list(versions.order_by("-created_at", "-pk")[:limit])
