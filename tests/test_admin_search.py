"""The admin's and the console's free-text searches read their columns' indexes, and
migrate on SQLite too.

A search is ``UPPER(tonight_unaccent(column)) LIKE UPPER(tonight_unaccent('%term%'))``
on each text search field (accents aside, ``config.lookups.Unaccented``); at 15,000
titles or 100,000 profiles a scan of the tables to test them cost a quarter of a
second a statement, several statements a page.
"""

import os
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import Account
from artwork.models import ArtworkVariant
from catalog.models import Credit, Person, Title, TitleLocalization
from config.admin_lists import IndexedSearchAdminMixin
from console.selectors import account_search
from profiles.models import Profile
from recommendations.models import ModelVersion, TrainingRun
from regions.models import Region, TasteCluster
from tests.db_plans import plan_nodes, whole_table_reads
from tests.factories import (
    AccountFactory,
    CreditFactory,
    LanguageFactory,
    PersonFactory,
    ProfileFactory,
    RegionFactory,
    TasteClusterFactory,
    TitleFactory,
    TitleLocalizationFactory,
)
from tests.module_world import module_world, the_module_world
from tests.processes import run_python


@pytest.fixture
def staff(db, client: Client) -> Client:
    client.force_login(get_user_model().objects.create_superuser("staff", "s@example.com", None))
    return client


#: Rows of each searched table in the plan tests.
_ROWS = 3000


def searched_rows_plan(
    client: Client, model: type[Model], term: str, *, analyze: tuple[type[Model], ...]
) -> list[dict]:
    """The plan of the rows a search keeps: the page, its count and its date bar all filter by them.

    Planned with sequential scans off (``plan_nodes``): on a test's few rows a scan
    is always cheapest, and off it is still chosen where no index can give the rows.
    Bitmap scans only: a whole read of a primary key or foreign key index, filtered,
    otherwise costs about what a search index does on so few rows.
    The ``analyze`` tables' statistics are taken from the test's rows first: left as
    earlier tests' worlds made them, a whole read of the primary key cost about what the
    search indexes do, and the planner took it in a whole suite's run.
    """
    with connection.cursor() as cursor:
        for table in analyze:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table._meta.db_table)}")
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = client.get(url, {"q": term})
    assert response.status_code == 200
    matched = response.context["cl"].queryset.order_by().values("pk")
    sql, params = matched.query.sql_with_params()
    return plan_nodes(sql, params, bitmaps_only=True)


def whole_reads(nodes: list[dict], *tables: str) -> list[str]:
    return [
        n["Relation Name"]
        for n in nodes
        if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in tables
    ]


def indexes_read(nodes: list[dict]) -> set[str]:
    return {n["Index Name"] for n in nodes if "Index Name" in n}


def test_a_title_search_reads_the_names_trigram_indexes(staff: Client) -> None:
    # given: titles with localised names, one matching the term by its Spanish name
    # (enough of them that reading either table whole costs more than its index)
    spanish = LanguageFactory(code="es", name="Spanish", native_name="Español")
    others = Title.objects.bulk_create(
        TitleFactory.build(original_name=f"Title {i}", original_language=spanish)
        for i in range(_ROWS)
    )
    TitleLocalization.objects.bulk_create(
        TitleLocalization(title=title, language=spanish, name=f"Título {title.pk}")
        for title in others
    )
    truth = TitleFactory(original_name="The Truth")
    TitleLocalizationFactory(title=truth, language=spanish, name="La Verdad")

    # when
    nodes = searched_rows_plan(staff, Title, "Verdad", analyze=(Title, TitleLocalization))

    # then: the original and the localised names are matched off their trigram indexes,
    # the exact external id off its UPPER index; neither table is read whole
    tables = (Title._meta.db_table, TitleLocalization._meta.db_table)
    assert whole_reads(nodes, *tables) == []
    assert {
        "title_unaccent_search",
        "localization_unaccent_search",
        "title_external_id_search",
    } <= indexes_read(nodes)


def test_a_profile_search_reads_the_profile_and_household_indexes(staff: Client) -> None:
    # given: households of profiles, one profile named for the term
    # (enough of them that reading either table whole costs more than its index)
    region = RegionFactory()
    households = Account.objects.bulk_create(
        Account(name=f"Household {i}", home_region=region) for i in range(_ROWS)
    )
    Profile.objects.bulk_create(
        Profile(account=household, slot=1, name=f"Member {household.pk}")
        for household in households
    )
    ProfileFactory(account=AccountFactory(name="The Sharmas"), name="Priya")

    # when
    nodes = searched_rows_plan(staff, Profile, "Priya", analyze=(Profile, Account))

    # then: each search field is matched on its own table, off that column's index
    assert whole_reads(nodes, Profile._meta.db_table, Account._meta.db_table) == []
    assert {
        "profile_unaccent_search",
        "account_unaccent_search",
        "profile_external_id_search",
        "account_external_id_search",
    } <= indexes_read(nodes)


def test_a_search_still_finds_each_field_and_needs_every_term(staff: Client) -> None:
    # given
    spanish = LanguageFactory(code="es", name="Spanish", native_name="Español")
    by_name = TitleFactory(original_name="Truth and Lies", external_id="tt-1")
    by_localised = TitleFactory(original_name="Other")
    TitleLocalizationFactory(title=by_localised, language=spanish, name="La Verdad")
    TitleLocalizationFactory(title=by_name, language=spanish, name="Verdad y mentiras")
    TitleFactory(original_name="Unrelated", external_id="tt-2")
    url = reverse("admin:catalog_title_changelist")

    def found(term: str) -> set[str]:
        response = staff.get(url, {"q": term})
        assert response.status_code == 200
        return {t.original_name for t in response.context["cl"].result_list}

    # then: any field matches a term, case aside; every term must match; the id is exact
    assert found("verdad") == {"Truth and Lies", "Other"}
    assert found("verdad lies") == {"Truth and Lies"}
    assert found("TT-2") == {"Unrelated"}
    assert found("tt-") == set()
    assert found('"la verdad"') == {"Other"}


def test_a_short_term_is_only_checked_on_the_rows_a_longer_term_found(staff: Client) -> None:
    # given: titles with localised names, all of them holding "La"; one the longer term finds
    spanish = LanguageFactory(code="es", name="Spanish", native_name="Español")
    others = Title.objects.bulk_create(
        TitleFactory.build(original_name=f"Lara {i}", original_language=spanish)
        for i in range(_ROWS)
    )
    TitleLocalization.objects.bulk_create(
        TitleLocalization(title=title, language=spanish, name=f"La Otra {title.pk}")
        for title in others
    )
    truth = TitleFactory(original_name="The Truth")
    TitleLocalizationFactory(title=truth, language=spanish, name="La Verdad")

    # when: "la" has no trigram; "verdad" does
    nodes = searched_rows_plan(staff, Title, "la verdad", analyze=(Title, TitleLocalization))

    # then: no index is asked for "la" (a trigram index would be read whole); it is
    # tested on the row "verdad" found, and neither table is read whole
    tables = (Title._meta.db_table, TitleLocalization._meta.db_table)
    assert whole_reads(nodes, *tables) == []
    assert [n["Index Name"] for n in nodes if "'%LA%'" in n.get("Index Cond", "")] == []
    assert {"title_unaccent_search", "localization_unaccent_search"} <= indexes_read(nodes)


def test_a_short_term_still_has_to_match_on_some_field(staff: Client) -> None:
    # given
    spanish = LanguageFactory(code="es", name="Spanish", native_name="Español")
    named = TitleFactory(original_name="Lamb of Truth", external_id="of")
    localised = TitleFactory(original_name="Truth")
    TitleLocalizationFactory(title=localised, language=spanish, name="La Verdad")
    TitleFactory(original_name="Truth Told")
    url = reverse("admin:catalog_title_changelist")

    def found(term: str) -> set[str]:
        response = staff.get(url, {"q": term})
        assert response.status_code == 200
        return {t.original_name for t in response.context["cl"].result_list}

    # then: each short term matches some field (its own name, a localised name, the
    # exact id) of a row the longer terms found, or the row is left out
    assert found("truth la") == {named.original_name, localised.original_name}
    assert found("la truth of") == {named.original_name}
    assert found("TRUTH zz") == set()
    assert found("la") == {named.original_name, localised.original_name}
    assert found('"la verdad" la') == {localised.original_name}


def test_a_search_of_short_terms_alone_finds_titles_whose_names_begin_with_them(
    staff: Client,
) -> None:
    # given: names that begin with "la" (original, localised, accented) and names that
    # only hold it further in, which a one- or two-letter substring match also listed
    spanish = LanguageFactory(code="es", name="Spanish", native_name="Español")
    original = TitleFactory(original_name="Lamb of Truth", external_id="of")
    localised = TitleFactory(original_name="Truth")
    TitleLocalizationFactory(title=localised, language=spanish, name="La Verdad")
    accented = TitleFactory(original_name="Là-bas")
    inside = TitleFactory(original_name="Island Atlas")
    inside_localised = TitleFactory(original_name="Outside")
    TitleLocalizationFactory(title=inside_localised, language=spanish, name="Fuera la casa")

    # when / then: each short term begins some name, or is the exact external id
    assert _listed(staff, Title, "la") == {original.pk, localised.pk, accented.pk}
    assert _listed(staff, Title, "LÁ") == {original.pk, localised.pk, accented.pk}
    assert _listed(staff, Title, "of") == {original.pk}  # its external id
    assert _listed(staff, Title, "la tr") == {localised.pk}  # two names of one title
    assert _listed(staff, TitleLocalization, "la") == {
        *TitleLocalization.objects.filter(title=localised).values_list("pk", flat=True)
    }
    # a longer term still matches anywhere in a name, and a short one beside it too
    assert _listed(staff, Title, "land") == {inside.pk}
    assert _listed(staff, Title, "casa la") == {inside_localised.pk}


def test_a_search_of_short_terms_alone_reads_the_names_prefix_indexes(staff: Client) -> None:
    # given: titles with localised names, all holding "la" inside, few beginning with it
    # (enough of them that reading either table or a trigram index whole costs more)
    spanish = LanguageFactory(code="es", name="Spanish", native_name="Español")
    others = Title.objects.bulk_create(
        TitleFactory.build(original_name=f"Title Island {i}", original_language=spanish)
        for i in range(_ROWS)
    )
    TitleLocalization.objects.bulk_create(
        TitleLocalization(title=title, language=spanish, name=f"Isla {title.pk}")
        for title in others
    )
    truth = TitleFactory(original_name="The Truth")
    TitleLocalizationFactory(title=truth, language=spanish, name="La Verdad")

    # when
    nodes = searched_rows_plan(staff, Title, "la", analyze=(Title, TitleLocalization))

    # then: the names' prefix B-trees find the rows by a range; no index is asked for "la"
    # anywhere in a name, which has no trigram (its index was read whole, or the tables)
    tables = (Title._meta.db_table, TitleLocalization._meta.db_table)
    assert whole_reads(nodes, *tables) == []
    assert {"title_unaccent_prefix", "localization_unaccent_prefix"} <= indexes_read(nodes)
    assert [n["Index Name"] for n in nodes if "'%LA%'" in n.get("Index Cond", "")] == []
    for table in tables:
        assert whole_table_reads(nodes, table) == []


def test_the_console_household_search_reads_the_name_index(db) -> None:
    # given: households (enough that reading the table whole costs more than its index)
    region = RegionFactory()
    Account.objects.bulk_create(
        Account(name=f"Household {i}", home_region=region) for i in range(_ROWS)
    )
    sharmas = AccountFactory(name="The Sharmas", home_region=region)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Account._meta.db_table)}")

    # when
    statements = []

    def kept(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(kept):
        found = account_search(query="sharma")
    (search,) = [(sql, params) for sql, params in statements if "LIKE" in sql]
    nodes = plan_nodes(*search, bitmaps_only=True, sorts=True)

    # then: the name is matched off its trigram index, not by reading every household
    assert found == [sharmas]
    assert whole_reads(nodes, Account._meta.db_table) == []
    assert "account_unaccent_search" in indexes_read(nodes)


@pytest.mark.slow
def test_sqlite_migrates_from_zero_without_the_postgresql_indexes(tmp_path) -> None:
    # given: the demo's embedded database, new
    path = tmp_path / "tonight.sqlite3"
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{path}",
        "SECRET_KEY": "test-only-secret-key",
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "OPENBLAS_NUM_THREADS": "1",
    }

    # when: every migration is applied, then the search indexes' are undone and redone
    script = (
        "import django, sqlite3, sys; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "call_command('migrate', 'catalog', '0004', verbosity=0)\n"
        "call_command('migrate', verbosity=0)\n"
        "rows = sqlite3.connect(sys.argv[1]).execute(\n"
        "    \"SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%search'\"\n"
        ")\n"
        "print('search indexes:', sorted(r[0] for r in rows))\n"
    )
    result = run_python("-c", script, str(path), env=env)

    # then: it succeeds, and SQLite has none of PostgreSQL's search indexes
    assert result.returncode == 0, result.stderr[-3000:]
    assert "search indexes: []" in result.stdout


def test_the_console_household_search_counts_profiles_of_the_households_it_keeps(db) -> None:
    # given: more matching households than a search lists, each with profiles (and one
    # with none), and households that do not match
    region = RegionFactory()
    matching = Account.objects.bulk_create(
        Account(name=f"Sharma {i}", home_region=region) for i in range(30)
    )
    others = Account.objects.bulk_create(
        Account(name=f"Household {i}", home_region=region) for i in range(5)
    )
    Profile.objects.bulk_create(
        Profile(account=account, name=f"P{slot}", slot=slot)
        for i, account in enumerate(matching + others)
        if i != 3
        for slot in range(1, i % 4 + 2)
    )
    with connection.cursor() as cursor:
        for model in (Account, Profile):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")

    # when
    statements = []

    def kept(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(kept):
        found = account_search(query="sharma", limit=20)
    ((sql, params),) = statements
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    profiles_read, stack = 0, [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        if node.get("Relation Name") == Profile._meta.db_table:
            profiles_read += node["Actual Rows"] * node["Actual Loops"]
        stack.extend(node.get("Plans", []))

    # then: the first twenty, each with its number of profiles, counted for those twenty only
    assert [(a.pk, a.n_profiles) for a in found] == [
        (account.pk, 0 if i == 3 else i % 4 + 1) for i, account in enumerate(matching[:20])
    ]
    assert found[0].home_region == region
    assert profiles_read <= Profile.objects.filter(account__in=matching[:20]).count()


class _TitlesByIdAdmin(admin.ModelAdmin):
    search_fields = ("original_name", "=id", "=pk")


class _IndexedTitlesByIdAdmin(IndexedSearchAdminMixin, _TitlesByIdAdmin):
    pass


@pytest.mark.parametrize("term", ["abc", "ab", "1.5", "99999999999999999999", "abc {pk}", "{pk}"])
def test_an_indexed_search_on_an_id_finds_what_djangos_does_for_any_term(db, term) -> None:
    # given: a title, and an admin searching its id exactly (``=id``), which a term that
    # is no number cannot be converted to
    title = TitleFactory(original_name="abc")
    TitleFactory(original_name="other")
    term = term.format(pk=title.pk)
    request = RequestFactory().get("/")

    # when
    def found(admin_class: type[admin.ModelAdmin]) -> set[int]:
        queryset, _ = admin_class(Title, admin.site).get_search_results(
            request, Title.objects.all(), term
        )
        return set(queryset.values_list("pk", flat=True))

    # then: the same rows as Django's own search, and no error (``iexact`` compares text)
    assert found(_IndexedTitlesByIdAdmin) == found(_TitlesByIdAdmin)


# --- Households by the id the lists show ------------------------------------------------------


def _listed(client: Client, model: type[Model], term: str) -> set[int]:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = client.get(url, {"q": term})
    assert response.status_code == 200
    cl = response.context["cl"]
    return set(cl.queryset.values_list("pk", flat=True))


@pytest.mark.parametrize("typed", ["{pk}", "#{pk}"])
def test_a_household_is_found_by_the_id_the_profile_list_shows_it_with(staff: Client, typed):
    # given: households that share a name (the profile list tells them apart as
    # "The Sinha family (#12)"), with profiles, and members whose names hold digits
    region = RegionFactory()
    sinhas = [AccountFactory(name="The Sinha family", home_region=region) for _ in range(3)]
    wanted = sinhas[1]
    for household in sinhas:
        ProfileFactory(account=household, name=f"Member of {household.pk}")
    second = ProfileFactory(account=wanted, name="Second")
    term = typed.format(pk=wanted.pk)

    # when / then: the household's own list and the profile list find that one household
    assert _listed(staff, Account, term) == {wanted.pk}
    assert _listed(staff, Profile, term) == set(wanted.profiles.values_list("pk", flat=True))
    # and a name with the id narrows to one of its profiles, as every term must match
    assert _listed(staff, Profile, f"Second {term}") == {second.pk}


def test_a_profile_search_by_household_id_reads_indexes_not_the_tables(staff: Client) -> None:
    # given: enough households and profiles that reading either whole costs more than an index
    region = RegionFactory()
    households = Account.objects.bulk_create(
        Account(name=f"Household {i}", home_region=region) for i in range(_ROWS)
    )
    Profile.objects.bulk_create(
        Profile(account=household, slot=1, name=f"Member {i}")
        for i, household in enumerate(households)
    )
    wanted = households[_ROWS // 2]

    # when
    nodes = searched_rows_plan(staff, Profile, f"#{wanted.pk}", analyze=(Profile, Account))

    # then: the household's id is matched as a number, off the profiles' household key
    assert whole_reads(nodes, Profile._meta.db_table, Account._meta.db_table) == []


def test_a_profile_is_found_by_a_household_members_email_in_any_case(staff: Client) -> None:
    # given: a household whose member writes in to support, and another household
    region = RegionFactory()
    household, other = (AccountFactory(home_region=region) for _ in range(2))
    household.users.add(get_user_model().objects.create_user("asha.k", "Asha.Kapoor@Example.com"))
    other.users.add(get_user_model().objects.create_user("ravi", "ravi@example.com"))
    theirs = {ProfileFactory(account=household, name=n).pk for n in ("Asha", "Kids")}
    ProfileFactory(account=other, name="Ravi")

    # when / then: the e-mail as the caller spells it, or the username, finds their profiles
    assert _listed(staff, Profile, "asha.kapoor@example.com") == theirs
    assert _listed(staff, Profile, "ASHA.K") == theirs
    assert _listed(staff, Account, "asha.kapoor@example.com") == {household.pk}


# --- Retrains and model versions as their lists name them -------------------------------------


def _clusters() -> tuple[TasteCluster, TasteCluster]:
    india = RegionFactory(code="IN", name="India")
    tamil = TasteClusterFactory(region=india, slug="tamil", name="Tamil")
    hindi = TasteClusterFactory(region=india, slug="hindi", name="Hindi")
    return tamil, hindi


def _runs_and_versions(cluster: TasteCluster) -> tuple[TrainingRun, ModelVersion]:
    version = ModelVersion.objects.create(
        scope=ModelVersion.Scope.CLUSTER, region=cluster.region, taste_cluster=cluster
    )
    run = TrainingRun.objects.create(
        region=cluster.region, taste_cluster=cluster, model_version=version
    )
    return run, version


@pytest.mark.parametrize("typed", ["{pk}", "#{pk}"])
def test_a_run_and_a_version_are_found_by_the_number_their_lists_name_them_by(
    staff: Client, typed: str
) -> None:
    # given: runs and versions of two clusters (``run #12``, ``#12 cluster 3``)
    tamil, hindi = _clusters()
    rows = [_runs_and_versions(cluster) for cluster in (tamil, hindi, tamil)]
    run, version = rows[1]

    # when / then: each list finds the one it names so
    assert _listed(staff, TrainingRun, typed.format(pk=run.pk)) == {run.pk}
    assert _listed(staff, ModelVersion, typed.format(pk=version.pk)) == {version.pk}


@pytest.mark.parametrize("typed", ["IN-Tamil", "in-tamil", "N-Tam"])
def test_runs_and_versions_are_found_by_their_clusters_name_as_the_lists_show_it(
    staff: Client, typed: str
) -> None:
    # given: runs and versions of two clusters of a region, listed as "IN-Tamil", "IN-Hindi"
    tamil, hindi = _clusters()
    theirs = [_runs_and_versions(tamil) for _ in range(2)]
    _runs_and_versions(hindi)
    assert str(tamil) == "IN-Tamil"

    # when / then: the cluster's name as shown, or part of it, finds that cluster's rows
    assert _listed(staff, TrainingRun, typed) == {run.pk for run, _ in theirs}
    assert _listed(staff, ModelVersion, typed) == {version.pk for _, version in theirs}


def test_runs_and_versions_are_found_by_their_regions_name_as_the_lists_show_it(
    staff: Client,
) -> None:
    # given: a region's runs and versions, its column reading "India (IN)", and another's
    tamil, _ = _clusters()
    run, version = _runs_and_versions(tamil)
    _runs_and_versions(TasteClusterFactory(region=RegionFactory(code="US", name="USA")))

    # when / then
    assert _listed(staff, TrainingRun, "India") == {run.pk}
    assert _listed(staff, ModelVersion, "India") == {version.pk}


def _many_runs_and_versions() -> SimpleNamespace:
    """Enough runs and versions of other regions' clusters that reading either table whole
    costs more than an index, and one run and version of IN-Tamil; the ones searched for are
    in the middle. Built once for the module's plan tests (seconds each)."""
    tamil, _ = _clusters()
    others = [
        TasteClusterFactory(region=RegionFactory(code=f"Z{letter}", name=f"Region {letter}"))
        for letter in "ABCDEFGHIJ"
    ]
    versions = ModelVersion.objects.bulk_create(
        ModelVersion(
            scope=ModelVersion.Scope.CLUSTER,
            region=others[i % 10].region,
            taste_cluster=others[i % 10],
        )
        for i in range(_ROWS)
    )
    runs = TrainingRun.objects.bulk_create(
        TrainingRun(
            region=version.region,
            taste_cluster=version.taste_cluster,
            model_version=version,
            celery_task_id=f"task-{i:05}",
        )
        for i, version in enumerate(versions)
    )
    _runs_and_versions(tamil)
    return SimpleNamespace(run=runs[_ROWS // 2], version=versions[_ROWS // 2])


_many_runs_world = module_world(_many_runs_and_versions, folder="runs")


@pytest.fixture
def many_runs(_many_runs_world, settings, db) -> SimpleNamespace:
    return the_module_world(settings, _many_runs_world)


@pytest.mark.parametrize("typed", ["IN-Tamil", "#{pk}", "{task}"])
@pytest.mark.parametrize("model", [TrainingRun, ModelVersion], ids=["runs", "versions"])
def test_a_run_or_version_search_reads_indexes_not_the_table(
    staff: Client, many_runs: SimpleNamespace, model: type[Model], typed: str
) -> None:
    # given: many runs and versions of other regions' clusters, and IN-Tamil's
    wanted = many_runs.run if model is TrainingRun else many_runs.version
    term = typed.format(pk=wanted.pk, task=many_runs.run.celery_task_id)

    # when
    nodes = searched_rows_plan(
        staff, model, term, analyze=(TrainingRun, ModelVersion, Region, TasteCluster)
    )

    # then: every field is matched off an index (the keys', the task id's); neither is read
    # whole, nor its index walked end to end
    assert whole_table_reads(nodes, TrainingRun._meta.db_table) == []
    assert whole_table_reads(nodes, ModelVersion._meta.db_table) == []


# --- Accents and case -------------------------------------------------------------------------


def test_a_search_matches_names_whatever_their_accents_or_case(staff: Client) -> None:
    # given: names staff type without their marks (or with marks the name lacks)
    french = LanguageFactory(code="fr", name="French", native_name="Français")
    amelie = TitleFactory(original_name="Le Fabuleux Destin")
    TitleLocalizationFactory(title=amelie, language=french, name="Amélie")
    TitleFactory(original_name="Amelia")
    pele = PersonFactory(name="Pelé")
    PersonFactory(name="Pell")
    credited = CreditFactory(person=pele, title=amelie, character="Éric")
    CreditFactory(person=PersonFactory(name="Other"), title=TitleFactory(original_name="Other"))
    brazil = RegionFactory(code="BR", name="Brazil")
    household = AccountFactory(name="Família São Paulo", home_region=brazil)
    AccountFactory(name="Sao", home_region=brazil)
    member = ProfileFactory(account=household, name="Zoë")
    ProfileFactory(account=AccountFactory(home_region=brazil), name="Zoe Ann")

    # when / then: each list finds the name with or without its marks, in any case
    assert _listed(staff, Title, "amelie") == {amelie.pk}
    assert _listed(staff, Person, "Pele") == {pele.pk}
    assert _listed(staff, Person, "PELÉ") == {pele.pk}
    assert _listed(staff, Credit, "pele eric") == {credited.pk}
    assert _listed(staff, Account, "sao paulo") == {household.pk}
    assert _listed(staff, Account, "FAMILIA") == {household.pk}
    assert _listed(staff, Profile, "Sao Paulo") == {member.pk}
    assert _listed(staff, Profile, "zoe sao") == {member.pk}


def test_an_accent_free_title_search_reads_the_unaccented_trigram_indexes(staff: Client) -> None:
    # given: titles with localised names, one of them "Amélie" (enough of them that reading
    # either table whole costs more than its index)
    french = LanguageFactory(code="fr", name="French", native_name="Français")
    others = Title.objects.bulk_create(
        TitleFactory.build(original_name=f"Title {i}", original_language=french)
        for i in range(_ROWS)
    )
    TitleLocalization.objects.bulk_create(
        TitleLocalization(title=title, language=french, name=f"Titre {title.pk}")
        for title in others
    )
    amelie = TitleFactory(original_name="Le Fabuleux Destin")
    TitleLocalizationFactory(title=amelie, language=french, name="Amélie")

    # when
    nodes = searched_rows_plan(staff, Title, "amelie", analyze=(Title, TitleLocalization))

    # then: the names are matched without their marks off their indexes, not read whole
    assert _listed(staff, Title, "amelie") == {amelie.pk}
    tables = (Title._meta.db_table, TitleLocalization._meta.db_table)
    assert whole_reads(nodes, *tables) == []
    assert {"title_unaccent_search", "localization_unaccent_search"} <= indexes_read(nodes)


def test_the_console_household_search_matches_names_whatever_their_accents(db) -> None:
    # given
    region = RegionFactory(code="BR", name="Brazil")
    household = AccountFactory(name="Família São Paulo", home_region=region)
    sao = AccountFactory(name="Sao", home_region=region)

    # when / then
    assert account_search(query="sao paulo") == [household]
    assert account_search(query="SÃO") == [household, sao]


@pytest.mark.parametrize("typed", ["IN-Tamil", "in-tamil", "N-Tam", "Tamil", "India"])
def test_the_cluster_list_finds_a_cluster_by_its_name_as_the_lists_show_it(
    staff: Client, typed: str
) -> None:
    # given: two clusters of a region ("IN-Tamil", "IN-Hindi") and one of another region's
    tamil, hindi = _clusters()
    TasteClusterFactory(region=RegionFactory(code="US", name="USA"), slug="us-mix", name="Mix")

    # when / then: as runs and versions are found by it, the cluster's label finds it
    assert _listed(staff, TasteCluster, typed) == {tamil.pk} | (
        {hindi.pk} if typed == "India" else set()
    )


def test_the_replaced_search_indexes_are_dropped_without_locking_their_tables(db) -> None:
    # A plain DROP INDEX takes its table's exclusive lock: queued behind a transaction
    # holding the profiles (a signal import, a retrain), every request reading a profile
    # would wait behind it. Dropped CONCURRENTLY, outside a transaction, nothing waits.
    loader = MigrationLoader(connection)
    replacing = [
        loader.get_migration(app, name)
        for app, name in (
            ("catalog", "0007_unaccented_search_indexes"),
            ("accounts", "0003_unaccented_search_index"),
            ("profiles", "0004_unaccented_search_index"),
        )
    ]

    statements = [sql for m in replacing for sql in loader.collect_sql([(m, False)])]

    drops = [sql for sql in statements if sql.startswith("DROP INDEX")]
    assert len(drops) == 8
    assert [sql for sql in drops if not sql.startswith("DROP INDEX CONCURRENTLY")] == []


def test_an_artwork_variant_search_reads_the_label_index(staff: Client) -> None:
    # given: many variants, one whose label matches (enough that reading the variants
    # whole costs more than an index: 1.9 s a page at 67,000, three statements)
    title = TitleFactory(original_name="Quiet Harbour")
    ArtworkVariant.objects.bulk_create(
        ArtworkVariant(title=title, label=f"Frame {i}", image="artwork/x.jpg", width=16, height=9)
        for i in range(_ROWS)
    )
    ArtworkVariant.objects.create(
        title=title, label="Rooftop chase", image="artwork/y.jpg", width=16, height=9
    )

    # when
    nodes = searched_rows_plan(staff, ArtworkVariant, "rooftop", analyze=(ArtworkVariant,))

    # then
    assert whole_reads(nodes, ArtworkVariant._meta.db_table) == []
    assert "variant_unaccent_search" in indexes_read(nodes)
