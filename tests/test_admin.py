"""The admin staff use all day: every page opens, changelists cost a fixed number of
queries, and the pages with behaviour of their own (tokens, profiles, artwork,
signals) do what they promise."""

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import BooleanField, Model, Sum
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_init
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, ApiToken, hash_token_key
from accounts.services import api_token_create, api_token_revoke
from artwork.models import ArtworkPolicy, ArtworkTheme, ArtworkVariant, ArtworkVariantDaily
from catalog.models import Language, MaturityLevel, Person, Season, Title
from profiles.models import MAX_PROFILES_PER_ACCOUNT, Profile
from profiles.services import LIMIT_MESSAGE, profile_create
from recommendations import admin as signal_admin
from recommendations.models import (
    ModelVersion,
    PageLog,
    ProfileTitleState,
    Signal,
    SignalKind,
    TrainingRun,
)
from recommendations.services.deliveries import task_abandon
from regions.admin import window_status
from regions.models import Availability, Region, TasteCluster, TasteClusterLocalization
from tests.db_plans import plan_nodes, table_scans_run
from tests.factories import (
    AccountFactory,
    ArtworkThemeFactory,
    ArtworkVariantFactory,
    AvailabilityFactory,
    CreditFactory,
    EpisodeFactory,
    GenreFactory,
    LanguageFactory,
    PersonFactory,
    RegionFactory,
    SeasonFactory,
    SignalFactory,
    TagFactory,
    TasteClusterFactory,
    TitleFactory,
    TitleLocalizationFactory,
)

OUR_APPS = ("catalog", "regions", "accounts", "profiles", "artwork", "recommendations")
# Every changelist of ours, whatever it shows: session, user, count, page, prefetches,
# filter choices. Measured at 5-10; the bound leaves room, not for a query per row.
MAX_CHANGELIST_QUERIES = 14
# The data below puts at least this many rows in every changelist, so that a query
# per row would show as a difference between a one-row page and a full one.
MIN_ROWS = 3

# Only services write these: signal ingestion, training for model versions, workers for
# abandoned tasks.
WRITTEN_BY_INGESTION = {
    "recommendations.PageLog",
    "recommendations.Signal",
    "recommendations.ProfileTitleState",
    "recommendations.ModelVersion",
    "recommendations.TrainingRun",
    "recommendations.AbandonedTask",
    "artwork.ArtworkPolicy",
    "artwork.ArtworkVariantDaily",
}

MODEL_ADMINS = sorted(
    (
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in OUR_APPS
    ),
    key=lambda pair: pair[0]._meta.label,
)
ADMIN_IDS = [model._meta.label for model, _ in MODEL_ADMINS]


def admin_url(model: type[Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def build_catalogue() -> None:
    """A small catalogue with several rows of every model and every relation filled in."""
    english = LanguageFactory(code="en", name="English", native_name="English")
    hindi = LanguageFactory(code="hi", name="Hindi", native_name="हिन्दी")
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    telugu = LanguageFactory(code="te", name="Telugu", native_name="తెలుగు")
    india = RegionFactory(code="IN", name="India", default_language=hindi)
    usa = RegionFactory(
        code="US", name="United States", default_language=english, time_zone="America/New_York"
    )
    RegionFactory(
        code="GB", name="United Kingdom", default_language=english, time_zone="Europe/London"
    )
    clusters = [
        TasteClusterFactory(region=india, slug="in-default", name="India", is_default=True),
        TasteClusterFactory(region=india, slug="in-tamil", name="Tamil"),
        TasteClusterFactory(region=india, slug="in-hindi", name="Hindi"),
    ]
    clusters[1].languages.set([tamil])
    clusters[2].languages.set([hindi, english])
    family = TasteClusterFactory(region=usa, slug="us-family", name="Family")
    for language, name in ((hindi, "पारिवारिक"), (tamil, "குடும்ப"), (telugu, "కుటుంబ")):
        TasteClusterLocalization.objects.create(cluster=family, language=language, name=name)
    ModelVersion.objects.create(scope=ModelVersion.Scope.GLOBAL, status=ModelVersion.Status.ACTIVE)
    ModelVersion.objects.create(scope=ModelVersion.Scope.GLOBAL, status=ModelVersion.Status.RETIRED)
    ModelVersion.objects.create(
        scope=ModelVersion.Scope.REGION, region=india, status=ModelVersion.Status.FAILED
    )
    # A version per cluster, which the runs made and the pages were built with: a version's
    # label names its cluster, so the lists that show one must join that too.
    cluster_versions = [
        ModelVersion.objects.create(
            scope=ModelVersion.Scope.CLUSTER,
            region=india,
            taste_cluster=cluster,
            status=ModelVersion.Status.RETIRED,
        )
        for cluster in clusters
    ]
    for cluster, version, status in zip(
        clusters,
        cluster_versions,
        (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED, TrainingRun.Status.RUNNING),
        strict=True,
    ):
        TrainingRun.objects.create(
            region=india, taste_cluster=cluster, status=status, model_version=version
        )
    for name in (
        "recommendations.prune_logs",
        "recommendations.prune_logs",
        "artwork.update_policy",
    ):
        task_abandon(name=name, task_id=str(uuid.uuid4()), args=[], kwargs={}, deliveries=3)

    for k, kind in enumerate(
        [ArtworkPolicy.Kind.FULL, ArtworkPolicy.Kind.INCREMENTAL, ArtworkPolicy.Kind.INCREMENTAL]
    ):
        ArtworkPolicy.objects.create(
            kind=kind,
            trained_through=dt.datetime(2025, 5, 10 + k, tzinfo=dt.UTC),
            n_impressions=100 * (k + 1),
            n_new=100,
            n_plays=7 * (k + 1),
            artefact=f"artwork-policies/{k}.npz",
        )
    genres = [GenreFactory(slug=s) for s in ("drama", "thriller", "comedy", "family")]
    tags = [TagFactory(slug=s) for s in ("slow-burn", "cricket", "heist")]
    themes = [ArtworkThemeFactory(slug=s) for s in ("action", "romance", "moody")]
    people = [PersonFactory() for _ in range(5)]
    now = timezone.now()
    titles = []
    for i, language in enumerate([english, hindi, tamil, telugu, tamil, hindi]):
        title = TitleFactory(
            kind=Title.Kind.SERIES if i % 2 else Title.Kind.FILM,
            original_language=language,
            release_date=dt.date(2015 + i, 1 + i, 1),
            maturity=[MaturityLevel.ALL, MaturityLevel.THIRTEEN, MaturityLevel.EIGHTEEN][i % 3],
            critic_score=60 + i,
            is_original=bool(i % 3 == 0),
        )
        title.genres.set(genres[i % 3 : i % 3 + 2])
        title.tags.set(tags[: 1 + i % 3])
        title.audio_languages.set([language, english])
        title.subtitle_languages.set([english, hindi])
        for order, person in enumerate(people[:3]):
            CreditFactory(title=title, person=person, order=order)
        CreditFactory(title=title, person=people[3 + i % 2], role="director")
        TitleLocalizationFactory(title=title, language=hindi if language != hindi else english)
        AvailabilityFactory(title=title, region=india)
        AvailabilityFactory(title=title, region=usa, ends_at=now - dt.timedelta(days=1))
        for theme in themes[:2]:
            variant = ArtworkVariantFactory(
                title=title, for_tv=bool(i % 2), maturity=title.maturity
            )
            variant.themes.set([theme, themes[2]])
            for d, device in enumerate(("tv", "mobile")):
                ArtworkVariantDaily.objects.create(
                    variant=variant,
                    device=device,
                    day=dt.date(2025, 5, 10 + d),
                    impressions=20 + i,
                    plays=i + d,
                )
        titles.append(title)
    seasons = []
    for title in titles[1::2]:
        for number in (1, 2):
            season = SeasonFactory(title=title, number=number)
            seasons.append(season)
            for episode_number in (1, 2, 3):
                EpisodeFactory(season=season, number=episode_number)

    user_model = get_user_model()
    for i in range(4):
        account = AccountFactory(home_region=india if i % 2 else usa)
        account.users.add(user_model.objects.create_user(f"member{i}", f"member{i}@example.com"))
        for j in range(2):
            profile = profile_create(
                account=account,
                name=f"Member {i}.{j}",
                is_kids=j == 1,
                display_language=hindi,
                preferred_languages=[hindi, tamil],
                pin="1234" if j == 0 else None,
            )
            profile.taste_cluster = clusters[j]
            profile.save(update_fields=["taste_cluster"])
            PageLog.objects.create(
                id=uuid.uuid4(),
                profile=profile,
                generated_at=dt.datetime(2025, 5, 10 + i, 20, tzinfo=dt.UTC),
                device="tv",
                region="IN",
                hour=20,
                weekday=i % 7,
                rows=[["trending:IN", "trending", 0.1]],
                items=[[t.pk, 0, n, None, 1.0] for n, t in enumerate(titles[:3])],
                model_version=cluster_versions[j],
            )
            for k, title in enumerate(titles[:3]):
                SignalFactory(
                    profile=profile,
                    title=title,
                    kind=[SignalKind.IMPRESSION, SignalKind.PLAY_START, SignalKind.COMPLETE][k],
                    episode=seasons[0].episodes.first() if title == seasons[0].title else None,
                    artwork_variant=title.artwork_variants.first(),
                    occurred_at=dt.datetime(2025, 5 + k, 10 + i, 20, tzinfo=dt.UTC),
                    page_id=uuid.uuid4(),
                    row="trending",
                    position=k,
                )
                ProfileTitleState.objects.create(
                    profile=profile,
                    title=title,
                    last_event_at=now,
                    last_played_at=now if k else None,
                    play_count=k,
                    progress=50.0 * k,
                    completed_at=now if k == 2 else None,
                    thumbs=ProfileTitleState.Thumbs.UP if k == 2 else "",
                )
        token, _ = api_token_create(account=account, name=f"TV {i}")
        if i == 0:
            api_token_revoke(token=token)


@pytest.fixture(scope="module")
def catalogue(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Model]:
    """One catalogue for the whole module, in a transaction rolled back at its end.

    Each test still runs in its own savepoint inside it (pytest-django's ``db``),
    so what a test writes is gone before the next one.
    """
    media = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media), transaction.atomic():
        build_catalogue()
        # No password: hashing one per test would be most of this module's run time.
        yield get_user_model().objects.create_superuser("staff", "staff@example.com", None)
        transaction.set_rollback(True)


@pytest.fixture
def staff(catalogue: Model, db, client: Client) -> Client:
    """A superuser's browser on the seeded catalogue."""
    client.force_login(catalogue)
    return client


def changelist_queries(client: Client, model: type[Model]) -> list[str]:
    """The statements of one view of the changelist.

    Read out at once: a context's ``captured_queries`` slices the connection's log
    when it is read, and the next request clears that log (``request_started``), so
    a context kept across a second request read that request's first statements.
    """
    with CaptureQueriesContext(connection) as queries:
        response = client.get(admin_url(model, "changelist"))
    assert response.status_code == 200, response.content[:500]
    return [q["sql"] for q in queries.captured_queries]


# --- Every page opens, and no changelist pays per row -------------------------------------


# A one-row counter the catalogue's services raise (serving's cue to re-read): nothing
# for staff to browse or edit.
NOT_ADMINISTERED = {"catalog.CatalogueRevision"}


def test_every_model_of_ours_is_registered() -> None:
    ours = {m for label in OUR_APPS for m in apps.get_app_config(label).get_models()}
    missing = ours - {model for model, _ in MODEL_ADMINS}
    assert {m._meta.label for m in missing} == NOT_ADMINISTERED


@pytest.mark.parametrize(("model", "model_admin"), MODEL_ADMINS, ids=ADMIN_IDS)
def test_changelist_costs_the_same_for_one_row_and_a_full_page(
    staff: Client,
    model: type[Model],
    model_admin: admin.ModelAdmin,
    monkeypatch,
    django_assert_max_num_queries,
) -> None:
    # when: the whole list on one page, then one row per page
    with django_assert_max_num_queries(MAX_CHANGELIST_QUERIES):
        response = staff.get(admin_url(model, "changelist"))
    full_page = changelist_queries(staff, model)
    monkeypatch.setattr(model_admin, "list_per_page", 1)
    one_row = changelist_queries(staff, model)

    # then: several rows were shown, and they cost nothing more than one
    assert response.status_code == 200
    assert response.context["cl"].result_count >= MIN_ROWS
    assert len(full_page) == len(one_row), "\n".join(full_page)


@pytest.mark.parametrize(("model", "model_admin"), MODEL_ADMINS, ids=ADMIN_IDS)
def test_add_page_opens_unless_the_table_is_read_only(
    staff: Client, model: type[Model], model_admin: admin.ModelAdmin
) -> None:
    response = staff.get(admin_url(model, "add"))

    assert response.status_code == (403 if model._meta.label in WRITTEN_BY_INGESTION else 200)


@pytest.mark.parametrize(("model", "model_admin"), MODEL_ADMINS, ids=ADMIN_IDS)
def test_change_page_opens(
    staff: Client, model: type[Model], model_admin: admin.ModelAdmin
) -> None:
    obj = model._default_manager.order_by("pk").first()

    response = staff.get(admin_url(model, "change", quote(obj.pk)))

    assert response.status_code == 200


@pytest.mark.parametrize(("model", "model_admin"), MODEL_ADMINS, ids=ADMIN_IDS)
def test_changelist_search_and_filters_work(
    staff: Client, model: type[Model], model_admin: admin.ModelAdmin
) -> None:
    """Each list filter's first choice, and a search, render and narrow the list."""
    page = staff.get(admin_url(model, "changelist"))
    cl = page.context["cl"]
    everything = cl.result_count
    exercised = 0
    for spec in cl.filter_specs:
        choices = [c for c in spec.choices(cl) if not c["selected"]]
        if choices:
            url = admin_url(model, "changelist") + choices[0]["query_string"]
            filtered = staff.get(url)
            assert filtered.status_code == 200, url
            assert filtered.context["cl"].result_count <= everything, url
            exercised += 1
    if model_admin.list_filter:
        assert exercised, "no list filter offered a choice to try"
    if cl.search_fields:
        searched = staff.get(admin_url(model, "changelist"), {"q": "a"})
        assert searched.status_code == 200
        assert searched.context["cl"].query == "a"
        assert searched.context["cl"].result_count <= everything
        nothing = staff.get(admin_url(model, "changelist"), {"q": "zqxjzqxj"})
        assert nothing.context["cl"].result_count == 0, "the search term was not applied"


def filtered_pks(staff: Client, model: type[Model], parameter: str, value: str) -> set[Any]:
    """The primary keys a changelist lists with one list filter set to ``value``."""
    response = staff.get(admin_url(model, "changelist"), {parameter: value})
    assert response.status_code == 200
    cl = response.context["cl"]
    assert cl.get_filters_params() == {parameter: [value]}, "the filter did not take the value"
    assert len(cl.result_list) == cl.result_count, "more than one page: compare all rows"
    return {obj.pk for obj in cl.result_list}


def split(model: type[Model], keep: Callable[[Any], bool]) -> set[Any]:
    """The primary keys of the rows ``keep`` accepts; some rows on either side."""
    everything = list(model._default_manager.all())
    kept = {obj.pk for obj in everything if keep(obj)}
    assert 0 < len(kept) < len(everything), "the data must have rows on both sides"
    return kept


@pytest.mark.parametrize("value", ["yes", "no"])
def test_the_completed_filter_lists_exactly_the_titles_finished_or_not(
    staff: Client, value: str
) -> None:
    expected = split(ProfileTitleState, lambda s: (s.completed_at is not None) == (value == "yes"))

    assert filtered_pks(staff, ProfileTitleState, "completed", value) == expected


def test_a_title_state_without_a_rating_reads_not_rated(staff: Client) -> None:
    # Its label was "None": a column of them read as Python's None leaking into the page.
    page = staff.get(reverse("admin:recommendations_profiletitlestate_changelist")).content

    cells = re.findall(rb'<td class="field-thumbs">([^<]*)</td>', page)
    assert b"Not rated" in cells
    assert b"None" not in cells


@pytest.mark.parametrize("value", ["active", "revoked"])
def test_the_token_state_filter_lists_exactly_the_active_or_revoked_tokens(
    staff: Client, value: str
) -> None:
    expected = split(ApiToken, lambda token: token.is_active == (value == "active"))

    assert filtered_pks(staff, ApiToken, "state", value) == expected


@pytest.mark.parametrize("value", ["current", "upcoming", "ended"])
def test_the_window_filter_lists_exactly_the_windows_in_that_status(
    staff: Client, value: str
) -> None:
    # given: besides the catalogue's open and ended windows, bounded ones of every status
    now = timezone.now()
    title, region = Title.objects.first(), Region.objects.get(code="GB")
    day = dt.timedelta(days=1)
    for starts_at, ends_at in [
        (now + day, now + 30 * day),  # upcoming
        (now + day, None),  # upcoming, open-ended
        (now - day, now + day),  # current
        (now - 30 * day, now - day),  # ended
    ]:
        AvailabilityFactory(title=title, region=region, starts_at=starts_at, ends_at=ends_at)
    expected = split(Availability, lambda window: window_status(window) == value)

    assert filtered_pks(staff, Availability, "window", value) == expected


@pytest.mark.parametrize("value", ["XX", "in"])
@pytest.mark.parametrize(
    ("model", "parameter"), [(Title, "available_in"), (PageLog, "region")], ids=["title", "page"]
)
def test_a_region_filter_given_no_regions_code_is_refused_as_admin_refuses_a_bad_filter(
    staff: Client, model: type[Model], parameter: str, value: str
) -> None:
    """A NUL reached the filter's query, which PostgreSQL refuses: a 500 (a NUL is now
    refused before any page, below). Any value that is not one of the filter's regions
    is what any bad filter value is in admin."""
    url = admin_url(model, "changelist")

    response = staff.get(url, {parameter: value})

    assert response.status_code == 302
    assert response["Location"] == f"{url}?e=1"
    assert staff.get(url, {parameter: "IN"}).status_code == 200
    assert staff.get(url, {parameter: ""}).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"kind__exact": "\x00"},  # Django's own field filter
        {"q": "a\x00b"},  # the search box
        {"o": "\x00"},  # the ordering
    ],
    ids=["filter", "search", "ordering"],
)
def test_a_nul_in_any_staff_page_query_is_a_400_not_a_500(
    staff: Client, query: dict[str, str]
) -> None:
    """PostgreSQL refuses a NUL in a string, and Django's own filters pass one through:
    a 500 (and an error report) for a hand-typed URL. The API names the parameter
    itself; every other page answers 400."""
    staff.raise_request_exception = False

    response = staff.get(admin_url(Title, "changelist"), query)

    assert response.status_code == 400
    assert b"NUL" in response.content


@pytest.mark.parametrize(
    ("model", "key"),
    [(Region, "%00"), (Region, "I%00N"), (Language, "%00")],
    ids=["region", "region-inside", "language"],
)
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_a_nul_in_a_staff_pages_path_is_a_400_not_a_500(
    staff: Client, model: type[Model], key: str, view: str
) -> None:
    """A region's or a language's key is text: admin handed a NUL in the URL's object id
    to the database, which refuses it, and a mistyped change URL was a 500 as a NUL in
    the query string was."""
    staff.raise_request_exception = False
    url = admin_url(model, view, "KEY").replace("KEY", key)

    response = staff.get(url)

    assert response.status_code == 400
    assert b"NUL" in response.content


# --- Titles and artwork -------------------------------------------------------------------


def test_title_page_shows_each_variant_as_a_small_lazy_image(staff: Client) -> None:
    title = Title.objects.filter(artwork_variants__isnull=False).first()

    html = staff.get(admin_url(Title, "change", title.pk)).content.decode()

    images = re.findall(r"<img [^>]*>", html)
    artwork = [tag for tag in images if "/media/artwork/" in tag]
    assert len(artwork) == title.artwork_variants.count()
    assert all('loading="lazy"' in tag and 'width="96"' in tag for tag in artwork)


def test_title_list_counts_variants_and_filters_by_region(staff: Client) -> None:
    title = Title.objects.first()
    ArtworkVariantFactory(title=title)
    only_in_gb = TitleFactory(original_name="Only in Britain")
    AvailabilityFactory(title=only_in_gb, region_id="GB")
    AvailabilityFactory(
        title=TitleFactory(original_name="Ended in Britain"),
        region_id="GB",
        ends_at=timezone.now() - dt.timedelta(hours=1),
    )

    listed = staff.get(admin_url(Title, "changelist")).context["cl"].result_list
    in_gb = staff.get(admin_url(Title, "changelist"), {"available_in": "GB"}).context["cl"]

    assert {t.pk: t.variant_count for t in listed}[title.pk] == title.artwork_variants.count()
    assert list(in_gb.result_list) == [only_in_gb]


def test_variant_actions_activate_and_deactivate(staff: Client) -> None:
    variants = list(ArtworkVariant.objects.order_by("pk")[:3])
    ids = [v.pk for v in variants]
    url = admin_url(ArtworkVariant, "changelist")

    staff.post(url, {"action": "deactivate", "_selected_action": ids})
    deactivated = set(ArtworkVariant.objects.filter(pk__in=ids).values_list("is_active", flat=True))
    staff.post(url, {"action": "activate", "_selected_action": ids[:1]})

    assert deactivated == {False}
    assert ArtworkVariant.objects.get(pk=ids[0]).is_active
    assert not ArtworkVariant.objects.get(pk=ids[1]).is_active


# --- API tokens -----------------------------------------------------------------------------


def test_adding_a_token_shows_its_key_once_and_stores_only_the_digest(staff: Client) -> None:
    # given
    account = Account.objects.first()

    # when
    response = staff.post(
        admin_url(ApiToken, "add"), {"account": account.pk, "name": "Kitchen tablet"}, follow=True
    )

    # then: the key is on the page after saving, once
    assert response.status_code == 200
    html = response.content.decode()
    keys = re.findall(r"The new key is <code>([^<]+)</code>", html)
    assert len(keys) == 1
    key = keys[0]
    assert html.count(key) == 1
    # and only its digest and prefix are stored
    token = ApiToken.objects.get(name="Kitchen tablet")
    assert token.account == account
    assert token.key_hash == hash_token_key(key)
    assert token.key_prefix == key[:8]
    stored = [str(v) for v in ApiToken.objects.filter(pk=token.pk).values().get().values()]
    assert not any(key in value for value in stored)
    # and it is never shown again
    for url in (admin_url(ApiToken, "change", token.pk), admin_url(ApiToken, "changelist")):
        assert key not in staff.get(url).content.decode()


def test_revoke_action_revokes_active_tokens_and_keeps_earlier_revocations(staff: Client) -> None:
    revoked_before = ApiToken.objects.filter(revoked_at__isnull=False).get()
    stamp = revoked_before.revoked_at
    ids = list(ApiToken.objects.values_list("pk", flat=True))

    response = staff.post(
        admin_url(ApiToken, "changelist"),
        {"action": "revoke_tokens", "_selected_action": ids},
        follow=True,
    )

    assert f"{len(ids) - 1} token(s) revoked." in response.content.decode()
    assert not ApiToken.objects.filter(revoked_at__isnull=True).exists()
    revoked_before.refresh_from_db()
    assert revoked_before.revoked_at == stamp


def revoke_queries(client: Client, ids: list[int]) -> int:
    """The statements of one "Revoke selected tokens" post of ``ids``."""
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            admin_url(ApiToken, "changelist"),
            {"action": "revoke_tokens", "_selected_action": ids},
        )
    assert response.status_code == 302
    return len(queries.captured_queries)


def test_revoking_many_tokens_costs_what_revoking_one_does(staff: Client) -> None:
    """Revoking every token of a leak (select all, "Revoke selected tokens") was an
    UPDATE per token, each read into memory first: at 100,000 households, that many
    statements in one request."""
    # given: one active token, and twenty more
    account = Account.objects.order_by("pk").first()
    one = [api_token_create(account=account, name="one")[0].pk]
    many = [api_token_create(account=account, name=f"many {i}")[0].pk for i in range(20)]

    # when / then
    assert revoke_queries(staff, many) == revoke_queries(staff, one)
    assert not ApiToken.objects.filter(pk__in=one + many, revoked_at__isnull=True).exists()


def test_retraining_a_whole_list_of_runs_reads_their_clusters_not_the_runs(
    staff: Client,
) -> None:
    """Selected across every run (a nightly run per cluster, for years), the action read
    each run, its metrics and timings, into memory to learn which clusters they were of."""
    # given: many finished runs of two clusters, the third cluster's run still running
    india = Region.objects.get(code="IN")
    for cluster in india.taste_clusters.order_by("slug")[:2]:
        for _ in range(10):
            TrainingRun.objects.create(
                region=india,
                taste_cluster=cluster,
                status=TrainingRun.Status.SUCCEEDED,
                metrics={"clusters": {cluster.slug: {"ndcg@10_cluster": 0.2}}},
            )
    selected = list(TrainingRun.objects.values_list("pk", flat=True))
    running = set(
        TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).values_list("pk", flat=True)
    )
    read: list[int] = []

    def count(sender, instance, **kwargs):
        read.append(instance.pk)

    # when: every run is selected
    post_init.connect(count, sender=TrainingRun)
    try:
        response = staff.post(
            admin_url(TrainingRun, "changelist"),
            {"action": "retrain_now", "_selected_action": selected},
        )
    finally:
        post_init.disconnect(count, sender=TrainingRun)

    # then: one run per cluster was requested, and of the selected runs only the running
    # one was read (by the request it makes busy, which names it)
    assert response.status_code == 302
    assert TrainingRun.objects.filter(trigger=TrainingRun.Trigger.ADMIN).count() == 3
    assert set(read) & set(selected) == running


def test_a_runs_and_a_versions_figures_read_a_key_a_line(staff: Client) -> None:
    # Read-only, Django showed a JSON field on one line: a retrain's metrics (each cluster's
    # holdout table, the gate) filled the run's page, the one README sends newcomers to, with
    # a screen-tall paragraph of braces.
    # given: a finished run and its version, with their figures
    india = Region.objects.get(code="IN")
    metrics = {"gate": {"passed": True, "candidate_ndcg@10": 0.385}}
    run = TrainingRun.objects.create(
        region=india,
        taste_cluster=india.taste_clusters.first(),
        status=TrainingRun.Status.SUCCEEDED,
        timings={"read signals": 0.145, "train": 0.179},
        data_sizes={"signals": 17735},
        metrics=metrics,
    )
    version = ModelVersion.objects.create(
        scope=ModelVersion.Scope.REGION, region=india, status="retired", metrics=metrics
    )
    indented = '<pre class="json">{\n  &quot;gate&quot;: {\n    &quot;passed&quot;: true,\n'

    for obj, help_text in (
        (run, "Holdout figures, the cluster table, the gate."),
        (version, "Stage timings, data sizes and evaluation figures."),
    ):
        # when
        page = staff.get(admin_url(type(obj), "change", obj.pk)).content.decode()

        # then: indented, a key a line, its help text still under it, and read-only still
        assert indented in page
        assert help_text in page
        assert 'name="metrics"' not in page
    # and: the run's timings and data sizes too
    page = staff.get(admin_url(TrainingRun, "change", run.pk)).content.decode()
    assert "\n  &quot;read signals&quot;: 0.145" in page
    assert '<pre class="json">{\n  &quot;signals&quot;: 17735\n}</pre>' in page
    assert "Seconds per stage." in page
    assert 'name="timings"' not in page
    assert 'name="data_sizes"' not in page


def test_renaming_a_token_keeps_a_revocation_committed_meanwhile(
    staff: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a live token whose change page is being saved as another staff member
    # revokes it (committed after the admin read the row, before it writes)
    token, _ = api_token_create(account=Account.objects.first(), name="Hall TV")
    token_admin = admin.site._registry[ApiToken]
    read = token_admin.get_object

    def read_then_revoked_meanwhile(*args: Any, **kwargs: Any) -> Model | None:
        found = read(*args, **kwargs)
        api_token_revoke(token=token)
        return found

    monkeypatch.setattr(token_admin, "get_object", read_then_revoked_meanwhile)

    # when
    response = staff.post(admin_url(ApiToken, "change", token.pk), {"name": "Landing TV"})

    # then: the rename is written, and the revocation is not undone
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.name == "Landing TV"
    assert token.revoked_at is not None


# --- Profiles ------------------------------------------------------------------------------


def test_profile_added_in_admin_takes_the_next_slot_and_a_hashed_pin(staff: Client) -> None:
    account = Account.objects.first()
    tamil = Language.objects.get(code="ta")

    response = staff.post(
        admin_url(Profile, "add"),
        {
            "account": account.pk,
            "name": "Grandma",
            "maturity_limit": MaturityLevel.SIXTEEN,
            "display_language": "ta",
            "preferred_languages": ["ta"],
            "pin": "4321",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    profile = Profile.objects.get(account=account, name="Grandma")
    assert profile.slot == account.profiles.count()
    assert list(profile.preferred_languages.all()) == [tamil]
    assert profile.check_pin("4321")
    page = staff.get(admin_url(Profile, "change", profile.pk)).content.decode()
    assert profile.pin_hash not in page
    assert "4321" not in page


def test_kids_profile_without_a_chosen_limit_is_capped(staff: Client) -> None:
    account = Account.objects.first()

    staff.post(
        admin_url(Profile, "add"),
        {"account": account.pk, "name": "Tiny", "is_kids": "on", "maturity_limit": 18},
    )

    assert Profile.objects.get(name="Tiny").maturity_limit == MaturityLevel.SEVEN


def test_sixth_profile_is_refused_with_the_limit_named(staff: Client) -> None:
    account = AccountFactory()
    for i in range(MAX_PROFILES_PER_ACCOUNT):
        profile_create(account=account, name=f"P{i}")

    response = staff.post(
        admin_url(Profile, "add"),
        {"account": account.pk, "name": "One too many", "maturity_limit": 18},
    )

    assert response.status_code == 200
    assert LIMIT_MESSAGE in response.content.decode()
    assert account.profiles.count() == MAX_PROFILES_PER_ACCOUNT


def test_pin_can_be_replaced_and_removed_but_not_read(staff: Client) -> None:
    profile = Profile.objects.exclude(pin_hash="").first()
    url = admin_url(Profile, "change", profile.pk)

    staff.post(url, {**form_data(staff.get(url)), "pin": "9876"})
    profile.refresh_from_db()
    replaced = profile.check_pin("9876")
    # The page opened again: one opened before the new PIN would be refused.
    staff.post(url, {**form_data(staff.get(url)), "remove_pin": "on"})
    profile.refresh_from_db()

    assert replaced
    assert not profile.has_pin


def form_data(response: Any) -> dict[str, Any]:
    """What the browser would post back for the page, unchanged: the form and its inlines."""
    data: dict[str, Any] = {}

    def add(form: Any) -> None:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue
            if isinstance(value, list | tuple):
                posted: Any = [str(v) for v in value]
            else:
                posted = "on" if value is True else str(value)
            data[field.html_name] = posted
            if field.field.show_hidden_initial:
                # The value as the page showed it, which the browser posts back too.
                data[field.html_initial_name] = posted

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data


def test_account_inline_adds_a_profile_through_the_service(staff: Client) -> None:
    # given: a household with two profiles, and a third typed into the inline
    account = Account.objects.first()
    url = admin_url(Account, "change", account.pk)
    data = form_data(staff.get(url))
    data["profiles-TOTAL_FORMS"] = "3"
    data.update(
        {
            "profiles-2-name": "Guest",
            "profiles-2-maturity_limit": "13",
            "profiles-2-preferred_languages": ["en"],
        }
    )

    # when
    response = staff.post(url, data)

    # then
    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"][0].formset
    ]
    guest = account.profiles.get(name="Guest")
    assert guest.slot == 3
    assert [lang.code for lang in guest.preferred_languages.all()] == ["en"]


def test_account_inline_renames_and_deletes_through_the_services(staff: Client) -> None:
    # given: the first profile renamed, the second marked for deletion
    account = Account.objects.first()
    first, second = account.profiles.order_by("slot")[:2]
    url = admin_url(Account, "change", account.pk)
    data = form_data(staff.get(url))
    data["profiles-0-name"] = "Renamed"
    data["profiles-1-DELETE"] = "on"

    # when
    response = staff.post(url, data)

    # then
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.name == "Renamed"
    assert not Profile.objects.filter(pk=second.pk).exists()
    assert not Signal.objects.filter(profile_id=second.pk).exists()


def test_new_account_is_saved_with_its_first_profile(staff: Client) -> None:
    data = form_data(staff.get(admin_url(Account, "add")))
    data.update(
        {
            "name": "The Iyers",
            "home_region": "IN",
            "profiles-TOTAL_FORMS": "1",
            "profiles-0-name": "Lakshmi",
            "profiles-0-maturity_limit": "18",
        }
    )

    response = staff.post(admin_url(Account, "add"), data)

    assert response.status_code == 302
    account = Account.objects.get(name="The Iyers")
    assert [(p.name, p.slot) for p in account.profiles.all()] == [("Lakshmi", 1)]


def test_a_household_moved_to_another_region_leaves_its_former_regions_taste_clusters(
    staff: Client,
) -> None:
    # given: an Indian household whose profiles are in India's taste clusters
    account = Account.objects.filter(home_region="IN").order_by("pk").first()
    assert set(account.profiles.values_list("taste_cluster__region", flat=True)) == {"IN"}
    url = admin_url(Account, "change", account.pk)
    data = form_data(staff.get(url))

    # when: support moves it to the United States on its page, renaming a profile there too
    data["home_region"] = "US"
    data["profiles-0-name"] = "Renamed"
    response = staff.post(url, data)

    # then: no profile is left in a cluster of India, whose model would serve it and
    # whose page context it would be logged with until a US retrain placed it; each is
    # served by the US region's model until then, as a new profile is (the rename, saved
    # after, writes its name alone)
    assert response.status_code == 302
    assert list(account.profiles.order_by("slot").values_list("name", "taste_cluster")) == [
        ("Renamed", None),
        (data["profiles-1-name"], None),
    ]


def test_saving_a_household_in_its_own_region_keeps_its_profiles_clusters(
    staff: Client,
) -> None:
    # given: an Indian household in India's clusters, renamed on its page
    account = Account.objects.filter(home_region="IN").order_by("pk").first()
    clusters = list(account.profiles.order_by("pk").values_list("taste_cluster", flat=True))
    url = admin_url(Account, "change", account.pk)
    data = form_data(staff.get(url))
    data["name"] = "Renamed household"

    # when
    response = staff.post(url, data)

    # then: its profiles keep the clusters a retrain placed them in
    assert response.status_code == 302
    assert list(account.profiles.order_by("pk").values_list("taste_cluster", flat=True)) == (
        clusters
    )
    assert None not in clusters


def test_account_inline_refuses_a_sixth_profile(staff: Client) -> None:
    account = Account.objects.first()
    for i in range(MAX_PROFILES_PER_ACCOUNT - account.profiles.count()):
        profile_create(account=account, name=f"Extra {i}")
    url = admin_url(Account, "change", account.pk)
    data = form_data(staff.get(url))
    data["profiles-TOTAL_FORMS"] = str(MAX_PROFILES_PER_ACCOUNT + 1)
    data[f"profiles-{MAX_PROFILES_PER_ACCOUNT}-name"] = "Sixth"
    data[f"profiles-{MAX_PROFILES_PER_ACCOUNT}-maturity_limit"] = "18"

    response = staff.post(url, data)

    assert response.status_code == 200
    assert account.profiles.count() == MAX_PROFILES_PER_ACCOUNT
    assert f"Please submit at most {MAX_PROFILES_PER_ACCOUNT} forms." in response.content.decode()


# --- Signals --------------------------------------------------------------------------------


def test_genre_slug_is_prefilled_in_the_names_own_script(staff: Client) -> None:
    # given: the add page of a genre, whose slug admin fills in from the name as staff type
    from catalog.models import Genre

    # when
    response = staff.get(admin_url(Genre, "add"))

    # then: the script keeps the name's letters ("Драма" -> "драма", as an import files
    # it), rather than transliterating Cyrillic ("drama": a second genre at the next
    # import) or dropping Korean and Hindi altogether
    assert response.status_code == 200
    fields = response.context["prepopulated_fields_json"]
    assert '"allowUnicode": true' in fields, fields
    # and: the slug keeps its vowel signs, and a space is still refused
    url = admin_url(Genre, "add")
    assert staff.post(url, {"name": "नाटक", "slug": "ना टक"}).status_code == 200
    assert staff.post(url, {"name": "नाटक", "slug": "नाटक"}).status_code == 302
    assert Genre.objects.filter(slug="नाटक", name="नाटक").exists()


def test_signal_dates_are_navigated_without_listing_distinct_dates(staff: Client) -> None:
    url = admin_url(Signal, "changelist")

    with CaptureQueriesContext(connection) as queries:
        top = staff.get(url).content.decode()
        june = staff.get(url, {"occurred_at__year": "2025", "occurred_at__month": "6"})

    # all signals are in 2025, May to July: the bar starts at months
    assert "occurred_at__month=5" in top
    assert "occurred_at__month=7" in top
    assert "occurred_at__month=4" not in top
    june_rows = list(june.context["cl"].result_list)
    assert june_rows  # all() of nothing would pass
    assert all(s.occurred_at.month == 6 for s in june_rows)
    assert "occurred_at__day=10" in june.content.decode()
    assert not [q for q in queries.captured_queries if "DATE_TRUNC" in q["sql"].upper()]


def test_a_signal_page_asks_the_planner_for_its_row_estimate_once(staff: Client) -> None:
    # the count and the date bar both need the result's estimated size: one EXPLAIN
    with CaptureQueriesContext(connection) as queries:
        page = staff.get(admin_url(Signal, "changelist")).content.decode()

    assert "occurred_at__month=5" in page  # the date bar was drawn
    explains = [q for q in queries.captured_queries if q["sql"].startswith("EXPLAIN")]
    assert len(explains) == 1, explains


def test_signal_search_uses_exact_keys(staff: Client) -> None:
    signal = Signal.objects.exclude(page_id=None).first()
    url = admin_url(Signal, "changelist")

    by_page = staff.get(url, {"q": str(signal.page_id)}).context["cl"].result_list
    by_profile = staff.get(url, {"q": f"profile:{signal.profile_id}"}).context["cl"].result_list
    by_account = staff.get(url, {"q": f"account:{signal.profile.account_id}"}).context["cl"]
    nonsense = staff.get(url, {"q": "drama"})

    assert list(by_page) == [signal]
    assert {s.profile_id for s in by_profile} == {signal.profile_id}
    assert (
        by_account.result_count
        == Signal.objects.filter(profile__account=signal.profile.account).count()
    )
    assert nonsense.status_code == 200
    assert nonsense.context["cl"].result_count == 0
    # and: a key whose value only looks like an id ("²" is a digit to Python) finds nothing
    for term in ("profile:²", "profile:99999999999999999999"):
        looks_like = staff.get(url, {"q": term})
        assert looks_like.status_code == 200, term
        assert looks_like.context["cl"].result_count == 0, term


@pytest.mark.parametrize("model", [Signal, ProfileTitleState])
def test_ingested_tables_are_read_only_but_leave_with_their_profile(
    staff: Client, model: type[Model]
) -> None:
    # given
    row = model.objects.first()
    profile = row.profile

    # when
    view = staff.get(admin_url(model, "change", row.pk))
    delete_one = staff.get(admin_url(model, "delete", row.pk))
    delete_profile = staff.post(admin_url(Profile, "delete", profile.pk), {"post": "yes"})

    # then
    assert view.status_code == 200
    assert view.context["adminform"].form.fields == {}
    assert admin_url(model, "delete", row.pk) not in view.content.decode()
    assert delete_one.status_code == 403
    assert delete_profile.status_code == 302
    assert not model.objects.filter(profile=profile).exists()


def whole_table_reads(sql: str, params: tuple, table: str) -> list[str]:
    """The plan's sorts, and its scans of ``table`` that read it whole."""
    return [
        f"{n['Node Type']} {n.get('Relation Name', '')}".strip()
        for n in plan_nodes(sql, params)
        if "Sort" in n["Node Type"]
        or (n.get("Relation Name") == table and n["Node Type"] in ("Seq Scan", "Bitmap Heap Scan"))
    ]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"kind__exact": SignalKind.PLAY_START},
        {"device__exact": "tv"},
        {"p": "2"},
        {"o": "1"},
        {"o": "-3"},
    ],
    ids=["all", "kind", "device", "page 2", "sorted by URL", "sorted by URL, descending"],
)
def test_signal_pages_come_off_an_index_in_their_order(staff: Client, query) -> None:
    # given: ten million signals, of which a page shows a hundred
    # when
    response = staff.get(admin_url(Signal, "changelist"), query)

    # then: the page's rows are read in the list's order from an index, not all of
    # them sorted to keep the first hundred (4 to 8 s at ten million rows)
    assert response.status_code == 200
    sql, params = response.context["cl"].result_list.query.sql_with_params()
    assert whole_table_reads(sql, params, Signal._meta.db_table) == []


@pytest.mark.parametrize("model", [PageLog, ProfileTitleState, ArtworkVariantDaily])
@pytest.mark.parametrize(
    "query", [{}, {"o": "1"}, {"o": "-3"}], ids=["unsorted", "sorted by URL", "descending"]
)
def test_pages_of_the_other_large_tables_come_off_an_index_in_their_order(
    staff: Client, model: type[Model], query: dict[str, str]
) -> None:
    # given: millions of pages logged, of title states, of daily roll-ups

    # when
    response = staff.get(admin_url(model, "changelist"), query)

    # then: a page is read in the list's order from an index, not every row sorted
    # (page log by generated_at, which has a BRIN index only: 1.5 s at 1.5 million)
    assert response.status_code == 200
    sql, params = response.context["cl"].result_list.query.sql_with_params()
    assert whole_table_reads(sql, params, model._meta.db_table) == []


LARGE_TABLES = [Signal, PageLog, ProfileTitleState, ArtworkVariantDaily]


@pytest.mark.parametrize("model", LARGE_TABLES, ids=[m.__name__ for m in LARGE_TABLES])
def test_large_tables_filters_offer_no_counts(staff: Client, model: type[Model]) -> None:
    # given: a table of millions of rows, and a bookmark of its list with counts shown

    # when
    top = staff.get(admin_url(model, "changelist")).content.decode()
    with CaptureQueriesContext(connection) as queries:
        faceted = staff.get(admin_url(model, "changelist"), {"_facets": "True"})

    # then: no "Show counts", and no count of each filter's choices over every row (0.8 s
    # for the signals' two filters at 850,000; minutes for the page log's regions)
    assert "_facets=True" not in top
    assert faceted.status_code == 200
    table = model._meta.db_table
    facets = [
        q["sql"] for q in queries.captured_queries if table in q["sql"] and "FILTER (" in q["sql"]
    ]
    assert facets == []


def test_signal_search_by_page_reads_only_its_profiles_signals(staff: Client) -> None:
    # given: a page shown to a profile, and the signals clients sent about it
    signal = Signal.objects.exclude(page_id=None).first()
    page = PageLog.objects.create(
        id=signal.page_id,
        profile=signal.profile,
        generated_at=signal.occurred_at,
        device="tv",
        region="IN",
        hour=20,
        weekday=0,
        rows=[],
        items=[],
    )

    # when
    response = staff.get(admin_url(Signal, "changelist"), {"q": str(page.pk)})

    # then: found among the profile's signals, which an index finds (page_id has none: a
    # search by it alone read all ten million signals three times over, 1.1 s)
    cl = response.context["cl"]
    assert list(cl.result_list) == [signal]
    where = cl.result_list.query.where
    assert f'"recommendations_signal"."profile_id" = {signal.profile_id} ' in str(
        cl.result_list.query
    ), where


@pytest.fixture
def large_analyzed_signals(staff: Client, monkeypatch) -> None:
    """The signals as a result too large for its exact figures, and their statistics read.

    MIN and MAX of occurred_at read every signal (no B-tree index on it), as COUNT does.
    """
    monkeypatch.setattr(signal_admin, "EXACT_ROWS_MAX", 0)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Signal._meta.db_table}")


def test_signal_date_bar_of_a_large_result_reads_the_planner_statistics(
    staff: Client, large_analyzed_signals
) -> None:
    # given: a result too large for its first and last moment to be read quickly

    # when
    with CaptureQueriesContext(connection) as queries:
        top = staff.get(admin_url(Signal, "changelist")).content.decode()

    # then: the bar still starts at the months the signals are in, from the statistics
    assert "occurred_at__month=5" in top
    assert "occurred_at__month=7" in top
    signal_reads = [
        q["sql"].upper() for q in queries.captured_queries if "pg_stats" not in q["sql"]
    ]
    assert not [sql for sql in signal_reads if "MIN(" in sql]
    # and: nor is every row counted first, to be given up on after COUNT_TIMEOUT_MS
    assert not [sql for sql in signal_reads if "COUNT(" in sql]


def test_signal_date_bar_from_statistics_reaches_the_signals_stored_since_analyze(
    staff: Client, large_analyzed_signals
) -> None:
    # given: statistics read when the signals ended in July, and a signal stored since
    # (autovacuum analyzes a ten-million-row table only after a million more: days of
    # signals, which the statistics do not know of)
    newest = Signal.objects.order_by("-pk").first()
    SignalFactory(
        profile=newest.profile,
        title=newest.title,
        kind=SignalKind.IMPRESSION,
        occurred_at=dt.datetime(2025, 9, 3, 20, tzinfo=dt.UTC),
    )

    # when
    top = staff.get(admin_url(Signal, "changelist")).content.decode()

    # then: the bar still leads to the newest signals (the list shows them first)
    assert "occurred_at__month=5" in top
    assert "occurred_at__month=9" in top
    # and: under a filter too, the stored ends are the table's, two probes of its key: the
    # result's would walk the key back through every row newer than the filter's last
    with CaptureQueriesContext(connection) as queries:
        staff.get(admin_url(Signal, "changelist"), {"occurred_at__year": "2025"})
    probes = [q["sql"] for q in queries.captured_queries if "LIMIT 1" in q["sql"]]
    probes = [sql for sql in probes if Signal._meta.db_table in sql and "ORDER BY" in sql]
    assert len(probes) == 2, probes
    assert not [sql for sql in probes if "WHERE" in sql], probes
    # and: a filter that leaves no row (the estimate is never below one) still opens
    none = staff.get(admin_url(Signal, "changelist"), {"kind__exact": SignalKind.ROW_SCROLL_PAST})
    assert none.status_code == 200
    assert not list(none.context["cl"].result_list)


def test_artwork_variant_list_sums_daily_figures_for_its_page_only(staff: Client) -> None:
    # given: variants with daily figures (a row per variant, device class and day: the
    # table that grows fastest after the signals)
    assert ArtworkVariantDaily.objects.exists()

    # when
    statements = changelist_queries(staff, ArtworkVariant)
    response = staff.get(admin_url(ArtworkVariant, "changelist"))

    # then: the count does not read the daily table, and the page does not group every
    # variant's daily rows before keeping a hundred (0.3 s on the bench with none)
    daily = ArtworkVariantDaily._meta.db_table
    counts = [sql for sql in statements if "COUNT(" in sql.upper()]
    assert counts
    assert not [sql for sql in counts if daily in sql]
    page_sql = str(response.context["cl"].result_list.query)
    assert "GROUP BY" not in page_sql.upper()
    # and: the figures shown are still each variant's sums
    shown = {v.pk: v.shown for v in response.context["cl"].result_list}
    for pk, total in shown.items():
        expected = ArtworkVariantDaily.objects.filter(variant_id=pk).aggregate(n=Sum("impressions"))
        assert total == expected["n"], pk


def test_artwork_variant_list_sums_daily_figures_for_its_page_only_whatever_the_order(
    staff: Client, monkeypatch
) -> None:
    # given: a page of one variant among twelve, asked to sort by impressions
    model_admin = admin.site._registry[ArtworkVariant]
    monkeypatch.setattr(model_admin, "list_per_page", 1)
    column = model_admin.list_display.index("impressions") + 1

    # when
    response = staff.get(admin_url(ArtworkVariant, "changelist"), {"o": f"-{column}"})

    # then: the daily figures are summed for the page's variant (impressions and plays),
    # not for every variant to sort them (0.7 s at 1.6 million roll-ups, more each day)
    assert response.status_code == 200
    sql, params = response.context["cl"].result_list.query.sql_with_params()
    assert table_scans_run(sql, ArtworkVariantDaily._meta.db_table, params) <= 2


def test_a_theme_filter_sums_daily_figures_for_its_page_only(staff: Client, monkeypatch) -> None:
    # given: a page of one variant among those of a theme (a many-to-many filter)
    theme = ArtworkVariant.objects.first().themes.first()
    monkeypatch.setattr(admin.site._registry[ArtworkVariant], "list_per_page", 1)

    # when
    with CaptureQueriesContext(connection) as queries:
        response = staff.get(
            admin_url(ArtworkVariant, "changelist"), {"themes__id__exact": theme.pk}
        )

    # then: neither the page nor its count sums the figures of every variant of the theme
    # (made DISTINCT over its columns, the sums among them: 8 s at 13,500 variants)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1
    daily = ArtworkVariantDaily._meta.db_table
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and ArtworkVariant._meta.db_table in q["sql"]
    ]
    assert sum(table_scans_run(sql, daily) for sql in statements) <= 2


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("admin:artwork_artworkvariant_changelist", {"themes__id__exact": "{theme}"}),
        ("admin:catalog_person_changelist", {"credits__role__exact": "actor"}),
        ("admin:catalog_title_changelist", {"genres__id__exact": "{genre}"}),
        ("admin:catalog_title_changelist", {"q": "a"}),
        ("admin:accounts_account_changelist", {"q": "member"}),
        (
            "admin:autocomplete",
            {"app_label": "catalog", "model_name": "credit", "field_name": "title", "term": "a"},
        ),
    ],
    ids=[
        "variant themes",
        "person roles",
        "title genres",
        "title search",
        "account search",
        "title autocomplete",
    ],
)
def test_lists_that_may_match_a_row_twice_are_not_made_distinct_whole(
    staff: Client, path: str, query: dict[str, str]
) -> None:
    # given: a filter or search through a many-to-many or reverse relation
    values = {
        "theme": ArtworkVariant.objects.first().themes.first().pk,
        "genre": Title.objects.first().genres.first().pk,
    }
    query = {key: value.format(**values) for key, value in query.items()}

    # when
    with CaptureQueriesContext(connection) as queries:
        response = staff.get(reverse(path), query)

    # then: rows matched twice are kept once by key, not by a DISTINCT over every column
    # (annotations included, each computed for every matching row before the page is cut)
    assert response.status_code == 200
    whole = [
        q["sql"]
        for q in queries.captured_queries
        if re.search(r"^SELECT DISTINCT (?!DATE_TRUNC)|FROM \(SELECT DISTINCT", q["sql"])
    ]
    assert whole == []


def test_the_theme_list_counts_variants_per_theme_shown_not_over_a_join(staff: Client) -> None:
    # when
    statements = changelist_queries(staff, ArtworkTheme)
    response = staff.get(admin_url(ArtworkTheme, "changelist"))

    # then: the paginator's count reads the themes alone, and the page groups nothing
    # (grouped over the join, every variant's themes were read twice a view)
    through = ArtworkVariant.themes.through._meta.db_table
    counts = [sql for sql in statements if sql.startswith("SELECT COUNT(*)")]
    assert counts
    assert [sql for sql in counts if through in sql] == []
    page_sql = str(response.context["cl"].result_list.query)
    assert "GROUP BY" not in page_sql.split("(SELECT")[0]
    # and: the counts are still each theme's variants
    for theme in response.context["cl"].result_list:
        assert theme.variant_count == theme.variants.count(), theme
    assert through in page_sql


def test_page_log_list_neither_counts_a_large_result_nor_lists_the_regions_stored(
    staff: Client, monkeypatch
) -> None:
    # given: a page log too large to count (millions of pages, as signals)
    monkeypatch.setattr(signal_admin, "EXACT_ROWS_MAX", 0)
    PageLog.objects.filter(pk__in=PageLog.objects.values("pk")[:1]).update(region="US")

    # when
    statements = changelist_queries(staff, PageLog)

    # then: no statement reads the whole log: neither a COUNT (0.2 s at 1.5 million
    # pages) nor the region filter's SELECT DISTINCT of the codes stored (0.5 s)
    table = PageLog._meta.db_table
    whole = [
        sql
        for sql in statements
        if table in sql
        and not sql.startswith("EXPLAIN")
        and ("COUNT(" in sql.upper() or "DISTINCT" in sql.upper())
    ]
    assert whole == []
    # and: the filter offers the regions and keeps a region's pages
    top = staff.get(admin_url(PageLog, "changelist")).content.decode()
    assert "?region=GB" in top
    assert "?region=US" in top
    us = staff.get(admin_url(PageLog, "changelist"), {"region": "US"}).context["cl"]
    assert [page.region for page in us.result_list] == ["US"]


def test_daily_rollup_list_neither_counts_nor_lists_the_dates_of_a_large_result(
    staff: Client, monkeypatch
) -> None:
    # given: daily roll-ups too many to count (a row per variant, device class and day)
    monkeypatch.setattr(signal_admin, "EXACT_ROWS_MAX", 0)
    table = ArtworkVariantDaily._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")

    # when
    with CaptureQueriesContext(connection) as queries:
        response = staff.get(admin_url(ArtworkVariantDaily, "changelist"))

    # then: no statement reads them all: the count (twice, for the "show all" link too)
    # and the date bar's distinct months took 1.2 s at 1.6 million rows
    assert response.status_code == 200
    whole = [
        q["sql"]
        for q in queries.captured_queries
        if table in q["sql"]
        and not q["sql"].startswith("EXPLAIN")
        and ("COUNT(" in q["sql"].upper() or "DISTINCT" in q["sql"].upper())
    ]
    assert whole == []
    # and: the date bar still leads to the days rolled up
    assert "day__month=5" in response.content.decode()


def test_daily_rollups_are_found_by_variant_or_title_key(staff: Client) -> None:
    # given
    variant = ArtworkVariantDaily.objects.first().variant

    # when
    by_variant = staff.get(
        admin_url(ArtworkVariantDaily, "changelist"), {"q": f"variant:{variant.pk}"}
    )
    by_title = staff.get(
        admin_url(ArtworkVariantDaily, "changelist"), {"q": f"title:{variant.title_id}"}
    )
    by_label = staff.get(admin_url(ArtworkVariantDaily, "changelist"), {"q": variant.label})

    # then: keys an index finds; a label would be joined to every row to compare
    assert {row.variant_id for row in by_variant.context["cl"].result_list} == {variant.pk}
    assert {row.variant.title_id for row in by_title.context["cl"].result_list} == {
        variant.title_id
    }
    assert len(by_title.context["cl"].result_list) > len(by_variant.context["cl"].result_list)
    assert list(by_label.context["cl"].result_list) == []
    assert "is not a search this list understands" in by_label.content.decode()


def statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


def test_signal_count_falls_back_to_the_estimate_when_counting_is_slow(
    catalogue, db, monkeypatch
) -> None:
    # given: a count that cannot finish within the paginator's timeout
    monkeypatch.setattr(signal_admin, "COUNT_TIMEOUT_MS", 1)
    slow = Signal.objects.filter(
        RawSQL("pg_sleep(0.01) IS NOT NULL", [], output_field=BooleanField())
    ).order_by("pk")
    before = statement_timeout()

    # when
    count = signal_admin.BoundedCountPaginator(slow, 100).count

    # then: the planner's guess, never below the floor, and the session's timeout untouched
    assert count >= signal_admin.ESTIMATE_FLOOR
    assert statement_timeout() == before


def test_signal_count_is_exact_when_counting_is_quick(catalogue, db) -> None:
    before = statement_timeout()

    count = signal_admin.BoundedCountPaginator(Signal.objects.order_by("pk"), 100).count

    assert count == Signal.objects.count()
    assert statement_timeout() == before


# --- Change pages: an inline's rows cost no query each --------------------------------------


def page_queries(client: Client, url: str) -> int:
    """The statements one view of a change page costs.

    The page is viewed once first: that view fills per-process caches (content
    types, ...), which would otherwise count against whichever page came first.
    """
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(captured)


def change_page_costs(client: Client, few: Model, many: Model) -> tuple[int, int]:
    """:func:`page_queries` of the change pages of two objects of one model."""
    model = type(few)
    return (
        page_queries(client, admin_url(model, "change", few.pk)),
        page_queries(client, admin_url(model, "change", many.pk)),
    )


def extra_languages(count: int) -> list[Language]:
    return [
        LanguageFactory(code=f"x{chr(97 + i // 26)}{chr(97 + i % 26)}", name=f"Extra {i:02}")
        for i in range(count)
    ]


def test_a_seasons_page_costs_the_same_for_two_episodes_and_twelve(staff: Client) -> None:
    # Each episode row's heading names its season: one query a row before the join.
    short, long = SeasonFactory(), SeasonFactory()
    EpisodeFactory.create_batch(2, season=short)
    EpisodeFactory.create_batch(12, season=long)

    assert page_queries(staff, admin_url(Season, "change", long.pk)) == page_queries(
        staff, admin_url(Season, "change", short.pk)
    )


def test_the_season_autocomplete_costs_the_same_for_two_seasons_and_twenty(
    staff: Client,
) -> None:
    # given: the episode page's season picker, for a series of two seasons and one of twenty
    def autocomplete_queries(series: Title) -> int:
        url = "/admin/autocomplete/"
        query = {
            "app_label": "catalog",
            "model_name": "episode",
            "field_name": "season",
            "term": series.original_name,
        }
        staff.get(url, query)
        with CaptureQueriesContext(connection) as captured:
            response = staff.get(url, query)
        assert response.status_code == 200
        results = response.json()["results"]
        assert len(results) == series.seasons.count()
        assert all(series.original_name in result["text"] for result in results)
        return len(captured)

    few = TitleFactory(original_name="Two seasons", kind=Title.Kind.SERIES)
    many = TitleFactory(original_name="Twenty seasons", kind=Title.Kind.SERIES)
    for number in range(1, 3):
        SeasonFactory(title=few, number=number)
    for number in range(1, 21):
        SeasonFactory(title=many, number=number)

    # when / then: each season's label names its title without a query of its own
    assert autocomplete_queries(many) == autocomplete_queries(few)


def title_with_rows(rows: int) -> Title:
    """A series with ``rows`` rows in each inline of its page: credits, localised names,
    seasons, licence windows and artwork variants (each with two themes)."""
    title = TitleFactory(kind=Title.Kind.SERIES, original_language_id="en")
    themes = [ArtworkThemeFactory(slug="action"), ArtworkThemeFactory(slug="moody")]
    for i, language in enumerate(extra_languages(rows)):
        CreditFactory(title=title, person=PersonFactory(), order=i)
        TitleLocalizationFactory(title=title, language=language)
        SeasonFactory(title=title, number=i + 1)
        AvailabilityFactory(
            title=title,
            region_id="IN",
            starts_at=dt.datetime(2020 + i, 1, 1, tzinfo=dt.UTC),
            ends_at=dt.datetime(2020 + i, 6, 1, tzinfo=dt.UTC),
        )
        ArtworkVariantFactory(title=title).themes.set(themes)
    return title


def test_a_titles_page_costs_the_same_for_two_rows_of_each_inline_and_twenty(
    staff: Client,
) -> None:
    # given: two series, one with ten times the other's credits, names, seasons, ...
    few, many = title_with_rows(2), title_with_rows(20)

    # when
    cost_of_few, cost_of_many = change_page_costs(staff, few, many)

    # then: 90 rows more cost nothing more (there were five queries a row)
    assert cost_of_many == cost_of_few


def test_a_persons_page_costs_the_same_for_five_credits_and_sixty(staff: Client) -> None:
    few, many = PersonFactory(), PersonFactory()
    CreditFactory.create_batch(5, person=few)
    CreditFactory.create_batch(60, person=many)

    cost_of_few, cost_of_many = change_page_costs(staff, few, many)

    assert cost_of_many == cost_of_few


def household_with(profiles: int) -> Account:
    """An account with ``profiles`` profiles (languages and a cluster set) and as many tokens."""
    hindi, tamil = Language.objects.get(code="hi"), Language.objects.get(code="ta")
    account = AccountFactory(home_region_id="IN")
    cluster = TasteClusterFactory(region_id="IN")
    for i in range(profiles):
        profile = profile_create(
            account=account,
            name=f"Member {i}",
            display_language=hindi,
            preferred_languages=[hindi, tamil],
        )
        profile.taste_cluster = cluster
        profile.save(update_fields=["taste_cluster"])
        api_token_create(account=account, name=f"Device {i}")
    return account


def test_an_accounts_page_costs_the_same_for_one_profile_and_five(staff: Client) -> None:
    one, five = household_with(1), household_with(MAX_PROFILES_PER_ACCOUNT)

    cost_of_one = page_queries(staff, admin_url(Account, "change", one.pk))
    cost_of_five = page_queries(staff, admin_url(Account, "change", five.pk))

    assert cost_of_five == cost_of_one


def region_with_clusters(code: str, clusters: int) -> Region:
    region = RegionFactory(code=code, name=f"Region {code}", default_language_id="en")
    for i, language in enumerate(extra_languages(clusters)):
        cluster = TasteClusterFactory(region=region, slug=f"c{i}", name=f"C{i}")
        cluster.languages.set([language, "en"])
    return region


def test_a_regions_page_costs_the_same_for_two_taste_clusters_and_fifteen(
    staff: Client,
) -> None:
    few, many = region_with_clusters("BR", 2), region_with_clusters("DE", 15)

    cost_of_few, cost_of_many = change_page_costs(staff, few, many)

    assert cost_of_many == cost_of_few


def cluster_named_in(languages: list[Language]) -> TasteCluster:
    cluster = TasteClusterFactory(region_id="IN", name="Family")
    for language in languages:
        TasteClusterLocalization.objects.create(cluster=cluster, language=language, name="x")
    return cluster


def test_a_clusters_page_costs_the_same_for_two_localised_names_and_twelve(
    staff: Client,
) -> None:
    languages = extra_languages(12)
    few, many = cluster_named_in(languages[:2]), cluster_named_in(languages)

    cost_of_few, cost_of_many = change_page_costs(staff, few, many)

    assert cost_of_many == cost_of_few


def test_staff_name_a_cluster_in_another_language_on_its_page(staff: Client) -> None:
    """A cluster keyed by no language ("Family") is named on homepages by its name: in a
    Hindi page by its Hindi name, which staff give on the cluster's page."""
    # given: a staff-named cluster, and its Hindi name typed into the page's inline
    cluster = TasteClusterFactory(region_id="IN", slug="family", name="Family")
    url = admin_url(TasteCluster, "change", cluster.pk)
    data = form_data(staff.get(url))
    data.update(
        {
            "localizations-TOTAL_FORMS": "1",
            "localizations-0-language": "hi",
            "localizations-0-name": "पारिवारिक",
        }
    )

    # when
    response = staff.post(url, data)

    # then
    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"][0].formset
    ]
    assert list(cluster.localizations.values_list("language_id", "name")) == [("hi", "पारिवारिक")]


def test_a_training_runs_page_costs_the_same_for_two_charted_runs_and_thirty(
    staff: Client,
) -> None:
    """The page charts its cluster's recent runs: read in one query, whatever their number."""

    def last_of_runs(count: int) -> TrainingRun:
        cluster = TasteClusterFactory(region_id="IN")
        version = ModelVersion.objects.create(
            scope=ModelVersion.Scope.CLUSTER,
            region_id="IN",
            taste_cluster=cluster,
            status=ModelVersion.Status.RETIRED,
        )
        for i in range(count):
            run = TrainingRun.objects.create(
                region_id="IN",
                taste_cluster=cluster,
                status=TrainingRun.Status.SUCCEEDED,
                model_version=version,
                requested_by=get_user_model().objects.get(username="staff"),
                metrics={"clusters": {cluster.slug: {"ndcg@10_cluster": 0.01 * i}}},
            )
        return run

    few, many = last_of_runs(2), last_of_runs(30)

    cost_of_few, cost_of_many = change_page_costs(staff, few, many)

    assert cost_of_many == cost_of_few


def test_a_page_logs_page_costs_the_same_for_three_items_and_a_full_homepage(
    staff: Client,
) -> None:
    def page_showing(items: int) -> PageLog:
        return PageLog.objects.create(
            id=uuid.uuid4(),
            profile=Profile.objects.first(),
            generated_at=timezone.now(),
            device="tv",
            region="IN",
            hour=20,
            weekday=1,
            model_version=ModelVersion.objects.first(),
            rows=[[f"row:{r}", "genre", 0.1] for r in range(12)],
            items=[[t.pk, n // 20, n % 20, None, 0.5] for n, t in enumerate(titles[:items])],
        )

    titles = [TitleFactory() for _ in range(240)]  # a 12x20 page
    few, many = page_showing(3), page_showing(240)

    cost_of_few, cost_of_many = change_page_costs(staff, few, many)

    assert cost_of_many == cost_of_few


def selected_options(html: str, name_suffix: str) -> list[list[str]]:
    """The selected options' labels in each inline row's select named ``<prefix>-<n><suffix>``
    (the empty template row, ``__prefix__``, left out)."""
    selects = re.findall(
        rf'<select name="[^"]*-\d+{re.escape(name_suffix)}"[^>]*>(.*?)</select>', html, re.S
    )
    return [re.findall(r"<option [^>]*selected[^>]*>([^<]*)</option>", s) for s in selects]


def test_inline_rows_show_their_own_values(staff: Client) -> None:
    person = PersonFactory()
    # Titles named apart whatever the factory's sequence has reached: the inline lists
    # credits by title name, and "Title 100" sorts before "Title 99".
    credits = [
        CreditFactory(person=person, order=i, title=TitleFactory(original_name=f"Credit {i}"))
        for i in range(3)
    ]
    account = household_with(2)
    title = TitleFactory()
    for region in ("US", "IN"):
        AvailabilityFactory(title=title, region_id=region)

    person_html = staff.get(admin_url(Person, "change", person.pk)).content.decode()
    account_html = staff.get(admin_url(Account, "change", account.pk)).content.decode()
    title_html = staff.get(admin_url(Title, "change", title.pk)).content.decode()

    assert selected_options(person_html, "-title") == [[str(c.title)] for c in credits]
    # the regions' select, whose choices all rows share
    assert selected_options(title_html, "-region") == [["India (IN)"], ["United States (US)"]]
    assert selected_options(account_html, "-display_language") == [["Hindi (hi)"]] * 2
    assert (
        selected_options(account_html, "-preferred_languages") == [["Hindi (hi)", "Tamil (ta)"]] * 2
    )


def test_a_row_sent_back_with_another_value_shows_that_value(staff: Client) -> None:
    """A form re-shown with errors names the titles sent, not the ones its rows had loaded."""
    # given: the first credit moved to another title, the second given a bad order
    person = PersonFactory()
    CreditFactory.create_batch(2, person=person)
    other = TitleFactory(original_name="Moved Here")
    url = admin_url(Person, "change", person.pk)
    data = form_data(staff.get(url))
    data["credits-0-title"] = str(other.pk)
    data["credits-1-order"] = "first"

    # when
    response = staff.post(url, data)

    # then
    assert response.status_code == 200
    assert selected_options(response.content.decode(), "-title")[0] == [str(other)]


def test_signal_date_bar_of_a_small_result_slow_to_read_falls_back_to_the_statistics(
    catalogue, db, monkeypatch
) -> None:
    # given: a result the planner expects to be small, but whose first and last moment
    # cannot be read within the timeout (a rare kind: no index finds it, so MIN and MAX
    # read every signal; 1.7 s at 10 million); its signals are July's, the table's May
    # to July
    monkeypatch.setattr(signal_admin, "COUNT_TIMEOUT_MS", 1)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Signal._meta.db_table}")
    slow = Signal.objects.filter(
        RawSQL("pg_sleep(0.01) IS NOT NULL", [], output_field=BooleanField()),
        kind=SignalKind.COMPLETE,
    )
    before = statement_timeout()

    # when
    first, last = signal_admin.date_bounds(slow, "occurred_at", rows=1)

    # then: the table's bounds from its statistics, as for a large result
    assert (first.month, last.month) == (5, 7)
    assert statement_timeout() == before


def test_signal_date_bar_reads_no_exact_bounds_once_counting_the_result_was_given_up(
    staff: Client, monkeypatch
) -> None:
    # given: a filtered list whose count is cancelled (as a rare kind's is at 10 million)
    def count_cancelled(using: str, read: Callable[[], Any]) -> Any:
        return None if getattr(read, "__name__", "") == "count" else read()

    monkeypatch.setattr(signal_admin, "within_timeout", count_cancelled)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Signal._meta.db_table}")

    # when
    with CaptureQueriesContext(connection) as queries:
        response = staff.get(admin_url(Signal, "changelist"), {"kind__exact": SignalKind.COMPLETE})

    # then: the bar comes from the statistics, without trying MIN and MAX first
    assert response.status_code == 200
    assert "occurred_at__month=5" in response.content.decode()
    assert not [q for q in queries.captured_queries if 'MIN("' in q["sql"].upper()]
