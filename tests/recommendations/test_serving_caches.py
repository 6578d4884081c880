"""What a serving process keeps in memory: re-read without stalling requests, shared, warmed."""

import threading
import time
import types

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.translation import trans_real

from catalog.models import MaturityLevel, Title
from catalog.selectors import catalogue_revision
from recommendations.services.training import model_train
from recommendations.serving import refresh
from recommendations.serving.bundle import catalogue_cache
from recommendations.serving.cache import model_cache, serving_bundle
from recommendations.serving.homepage import homepage_build, row_ranker_cache
from recommendations.serving.refresh import Refreshing, RefreshingByKey
from recommendations.serving.title_tables import title_tables_cache
from recommendations.serving.warmup import serving_warm
from regions.models import TasteClusterLocalization
from tests.factories import AccountFactory, ProfileFactory, TasteClusterFactory
from tests.recommendations.homepage_world import build_home_world
from tests.recommendations.test_training import watch

#: Tables read catalogue-wide: a warm process never reads them on a request's path.
CATALOGUE_READS = (
    'FROM "catalog_title"',
    'FROM "catalog_titlelocalization"',
    'FROM "catalog_episode"',
    '"regions_availability"."starts_at"',
    '"artwork_artworkvariant"."image"',
)


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def _empty_caches():
    caches = (model_cache, title_tables_cache, catalogue_cache, row_ranker_cache)
    for cache in caches:
        cache.clear()
    yield
    for cache in caches:
        cache.clear()


# --- Refreshing: no database --------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    """The refresh module's monotonic clock, moved by the test rather than by the machine.

    Ages and retry delays are then exact: a loaded shared runner neither makes a value
    look older than the test meant nor squeezes fewer retries into a wall-clock window.
    """
    now = [1000.0]
    monkeypatch.setattr(refresh, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    return now


def _settled(table: Refreshing) -> None:
    """Wait until no background re-read is under way (a poll, not a time limit)."""
    _wait_for(lambda: not table.refreshing)


def _slow_rereads() -> tuple[Refreshing[int], list[int], threading.Event]:
    """A table whose value is the number of reads so far; every read after the first
    waits until the event is set (up to 5 s)."""
    release = threading.Event()
    reads: list[int] = []

    def load() -> int:
        reads.append(len(reads) + 1)
        if len(reads) > 1:
            release.wait(5)
        return len(reads)

    return Refreshing(load, name="test"), reads, release


def test_a_stale_value_keeps_serving_while_one_background_read_replaces_it(clock):
    # given: a value read once, now older than its max age, whose next read is slow
    table, reads, release = _slow_rereads()
    assert table.get(0.05) == 1
    clock[0] += 0.06

    # when: requests keep asking while the re-read is under way
    answers = [table.get(0.05) for _ in range(20)]
    _wait_for(lambda: len(reads) == 2)  # the background read has begun (and waits)

    # then: none of them waited for it, and it ran once; its result replaces the old one
    assert answers == [1] * 20
    assert table.refreshing
    release.set()
    _wait_for(lambda: table.get(60) == 2)
    assert len(reads) == 2


def test_a_failed_background_read_leaves_the_old_value_serving(clock):
    calls = []

    def load() -> str:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("database went away")
        return "first"

    table = Refreshing(load, name="test")
    table.get(0.05)
    clock[0] += 0.06

    assert table.get(0.05) == "first"
    _settled(table)
    assert len(calls) == 2
    assert table.get(60) == "first"


def test_an_expired_value_whose_re_read_failed_is_read_again_soon_not_after_its_max_age(
    monkeypatch, clock
):
    # given: a value well inside its max age, whose first re-read fails (the database
    # blinked) and whose second succeeds; failed re-reads are tried again after 5 s
    monkeypatch.setattr(refresh, "FAILED_READ_RETRY_SECONDS", 5.0)
    outcomes = iter(["before the change", RuntimeError("database went away"), "after it"])

    def load() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    table = Refreshing(load, name="test")
    assert table.get(60) == "before the change"
    clock[0] += 0.25

    # when: it is expired (a title was re-rated above a kids limit) and its re-read fails
    table.expire()
    assert table.get(60) == "before the change"
    _settled(table)

    # then: it is not tried again on every request before the retry is due ...
    clock[0] += 4.75
    assert table.get(60) == "before the change"
    assert not table.refreshing
    # ... and what it holds is still known to be out of date: it is replaced at the next
    # try, not served as fresh for its max age (five minutes for the catalogue arrays)
    clock[0] += 0.25
    assert table.get(60) == "before the change"  # the re-read runs behind this request
    _settled(table)
    assert table.get(60) == "after it"


@pytest.mark.parametrize(
    ("max_age", "expected"),
    [
        pytest.param(600.0, [0, 1, 3, 7, 15], id="doubling"),
        pytest.param(4.0, [0, 1, 3, 7, 11, 15, 19, 23, 27], id="capped-at-max-age"),
    ],
)
def test_re_reads_that_keep_failing_are_tried_less_and_less_often(
    monkeypatch, clock, max_age, expected
):
    # given: an expired value whose re-reads all fail, the first retry 1 s after a failure
    monkeypatch.setattr(refresh, "FAILED_READ_RETRY_SECONDS", 1.0)
    reads = []

    def load() -> str:
        reads.append(clock[0])
        if len(reads) > 1:
            raise RuntimeError("the same bad row, every time")
        return "first"

    table = Refreshing(load, name="test")
    table.get(max_age)
    clock[0] += 0.25
    table.expire()
    expired_at = clock[0]

    # when: requests keep coming, one every 250 ms, for 30 s
    for _ in range(120):
        assert table.get(max_age) == "first"
        _settled(table)
        clock[0] += 0.25

    # then: retries after 1, 2, 4, 8 s ... (a read every 250 ms would be 120), each wait
    # at most the max age
    assert [at - expired_at for at in reads[1:]] == expected


def test_a_successful_re_read_starts_the_back_off_afresh(monkeypatch, clock):
    # given: an expired value whose re-read failed once, then succeeded (retry after 1 s)
    monkeypatch.setattr(refresh, "FAILED_READ_RETRY_SECONDS", 1.0)
    outcomes = iter(["first", RuntimeError("blink"), "second", RuntimeError("blink"), "third"])
    reads = []

    def load() -> str:
        reads.append(clock[0])
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def ask() -> str:
        value = table.get(600)
        _settled(table)
        return value

    table = Refreshing(load, name="test")
    table.get(600)
    clock[0] += 0.25
    table.expire()
    ask()  # fails
    clock[0] += 1.0
    ask()  # the retry, which succeeds
    assert ask() == "second"

    # when: it is expired again, and its re-read fails again
    clock[0] += 0.25
    table.expire()
    ask()
    failed_at = clock[0]

    # then: the retry is 1 s after, as after a first failure, not 2 s (a second in a row)
    clock[0] += 1.0
    ask()
    assert ask() == "third"
    assert reads[-1] - failed_at == 1.0


def test_a_background_read_does_not_replace_a_newer_synchronous_one(clock):
    # given: a stale value whose background re-read reads the old rows and is slow
    release = threading.Event()
    outcomes = iter(["first", "read before the change", "read after the change"])

    def load() -> str:
        outcome = next(outcomes)
        if outcome == "read before the change":
            release.wait(5)
        return outcome

    table = Refreshing(load, name="test")
    assert table.get(0.05) == "first"
    clock[0] += 0.06
    assert table.get(0.05) == "first"  # starts the slow background read
    _wait_for(lambda: table.refreshing)

    # when: a model version loaded after it asks for tables at least as new as itself,
    # then the slow read finishes
    clock[0] += 0.01
    assert table.get(60, not_before=clock[0]) == "read after the change"
    release.set()
    _settled(table)

    # then: the newer read stays
    assert table.get(60) == "read after the change"


def test_an_expired_value_is_re_read_in_the_background_whatever_its_age():
    # given: a value well inside its max age, whose re-reads wait to be released
    table, reads, release = _slow_rereads()
    assert table.get(60) == 1
    assert len(reads) == 1

    # when: it is expired, and expired again while its re-read is under way
    table.expire()
    assert table.get(60) == 1  # the stale value serves; the re-read starts behind it
    _wait_for(lambda: len(reads) == 2)
    table.expire()
    release.set()

    # then: the re-read that began before the second expiry does not count as fresh
    _wait_for(lambda: table.get(60) == 3)
    assert len(reads) == 3


def test_max_age_zero_reads_on_every_use_and_not_before_forces_a_read():
    counter = iter(range(100))
    table = Refreshing(lambda: next(counter), name="test")

    assert [table.get(0) for _ in range(3)] == [0, 1, 2]
    assert table.get(60) == 2
    assert table.get(60, not_before=time.monotonic()) == 3  # a version loaded after it


def test_only_the_most_recently_used_keys_are_kept():
    tables = RefreshingByKey[str](name="test", max_keys=2)
    reads = []

    def loader(key: str):
        return lambda: reads.append(key) or key

    for key in ("a", "b", "a", "c", "a", "b"):
        tables.get(key, loader(key), 60)

    # "b" was the least recently used when "c" came, so it was read again.
    assert reads == ["a", "b", "c", "b"]


# --- With the database ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("_empty_caches")
def test_every_scope_is_answered_by_one_query_of_active_versions(settings):
    # given: a region model and one cluster's own model
    world = build_home_world()
    hindi = TasteClusterFactory(region=world.region, slug="hindi")
    tamil = TasteClusterFactory(region=world.region, slug="tamil")
    regional = model_train(region_code=world.region.code)
    own = model_train(region_code=world.region.code, cluster=hindi)
    settings.TONIGHT = {**settings.TONIGHT, "MODEL_VERSION_CHECK_SECONDS": 60}

    # when
    with CaptureQueriesContext(connection) as queries:
        served = [
            serving_bundle(world.region.code, cluster.pk if cluster else None).version_id
            for cluster in (hindi, tamil, None)
        ]

    # then: the cluster's own, the region's for a cluster without one, the region's
    assert served == [own.pk, regional.pk, regional.pk]
    asked = [q for q in queries.captured_queries if "recommendations_modelversion" in q["sql"]]
    assert len(asked) == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("_empty_caches")
def test_versions_on_one_title_index_share_their_tables():
    world = build_home_world()
    cluster = TasteClusterFactory(region=world.region, slug="hindi")
    regional = serving_bundle_of(model_train(region_code=world.region.code), world)
    own = serving_bundle_of(model_train(region_code=world.region.code, cluster=cluster), world)
    assert regional.index_key == own.index_key

    with CaptureQueriesContext(connection) as queries:
        tables = [
            title_tables_cache.get(
                index_key=b.index_key, title_ids=b.index.title_ids, not_before=b.loaded_at
            )
            for b in (regional, own)
        ]
        catalogues = [b.catalogue(300.0) for b in (regional, own)]

    assert tables[0] is tables[1]
    assert catalogues[0] is catalogues[1]
    titles_read = [
        q
        for q in queries.captured_queries
        if 'FROM "catalog_title"' in q["sql"] and "hashtext" not in q["sql"]
    ]
    assert len(titles_read) == 2  # once for the title tables, once for the catalogue facts


@pytest.mark.django_db
@pytest.mark.usefixtures("_empty_caches")
def test_title_tables_are_rebuilt_only_when_their_rows_changed(settings):
    """A refresh whose fingerprint matches keeps the tables (no catalogue-wide reads);
    a renamed title is read again."""
    settings.TONIGHT = {**settings.TONIGHT, "TITLE_TABLES_REFRESH_SECONDS": 0}
    world = build_home_world()
    bundle = serving_bundle_of(model_train(region_code=world.region.code), world)

    def tables():
        return title_tables_cache.get(index_key=bundle.index_key, title_ids=bundle.index.title_ids)

    first = tables()
    with CaptureQueriesContext(connection) as queries:
        again = tables()
    assert again.names is first.names
    assert not [
        q
        for q in queries.captured_queries
        if 'FROM "catalog_titlelocalization"' in q["sql"] and "hashtext" not in q["sql"]
    ]
    assert again.loaded_at > first.loaded_at

    title = world.all_titles()[0]
    title.original_name = "A New Name"
    title.save(update_fields=["original_name"])
    renamed = tables()
    position = int(np.flatnonzero(bundle.index.title_ids == title.pk)[0])
    assert renamed.names[position] == "A New Name"
    assert renamed.names is not first.names


@pytest.mark.django_db
@pytest.mark.usefixtures("_empty_caches")
def test_a_clusters_name_given_in_another_language_is_read_at_the_next_refresh(settings):
    """Staff name a cluster in Hindi without a retrain or a change to any title: the
    tables' fingerprint must see it, or the kept tables never named it in Hindi."""
    settings.TONIGHT = {**settings.TONIGHT, "TITLE_TABLES_REFRESH_SECONDS": 0}
    world = build_home_world()
    family = TasteClusterFactory(region=world.region, slug="family", name="Family")
    bundle = serving_bundle_of(model_train(region_code=world.region.code), world)

    def tables():
        return title_tables_cache.get(index_key=bundle.index_key, title_ids=bundle.index.title_ids)

    assert tables().cluster_localized_names == {}

    TasteClusterLocalization.objects.create(cluster=family, language=world.hindi, name="पारिवारिक")

    assert tables().cluster_localized_names == {family.pk: {"hi": "पारिवारिक"}}


@pytest.mark.django_db(transaction=True)  # the background re-read has its own connection
@pytest.mark.usefixtures("_empty_caches")
def test_a_title_re_rated_above_a_kids_limit_leaves_its_pages_at_the_next_version_check(
    settings,
):
    # given: a kids profile's page, with the catalogue arrays' own timer far away
    world = build_home_world()
    kid = ProfileFactory(
        account=AccountFactory(home_region=world.region), name="Kid", is_kids=True, maturity_limit=7
    )
    watch(kid, world.titles["comedy"][0])
    model_train(region_code=world.region.code)
    settings.TONIGHT = {
        **settings.TONIGHT,
        "MODEL_VERSION_CHECK_SECONDS": 0,
        "CATALOGUE_REFRESH_SECONDS": 300,
    }

    def shown() -> set[int]:
        page = homepage_build(profile=kid, device="tv", n_rows=40, n_items=75)
        return set(page.item_columns().title_id)

    title = Title.objects.get(pk=min(shown()))

    # when: staff re-rate one of its titles above the kids limit
    title.maturity = MaturityLevel.EIGHTEEN
    title.save(update_fields=["maturity"])

    # then: within a re-read, not the timer's five minutes, no page of the kid shows it
    _wait_for(lambda: title.pk not in shown())
    assert catalogue_revision() >= 1


def serving_bundle_of(version, world):
    """The loaded bundle of ``version`` (its cluster's or its region's)."""
    return serving_bundle(world.region.code, version.taste_cluster_id)


@pytest.mark.django_db
@pytest.mark.usefixtures("_empty_caches")
def test_after_warming_a_page_reads_only_what_is_the_profiles(settings):
    # given: a trained region, a process that has warmed up, long refresh intervals
    world = build_home_world()
    profile = ProfileFactory(account=AccountFactory(home_region=world.region), name="Asha")
    watch(profile, world.titles["action"][0])
    version = model_train(region_code=world.region.code)
    settings.TONIGHT = {
        **settings.TONIGHT,
        "MODEL_VERSION_CHECK_SECONDS": 60,
        "CATALOGUE_REFRESH_SECONDS": 300,
        "TITLE_TABLES_REFRESH_SECONDS": 60,
    }
    report = serving_warm()
    profile.refresh_from_db()

    # when: its first real page
    with CaptureQueriesContext(connection) as queries:
        page = homepage_build(profile=profile, device="mobile")

    # then: nothing catalogue-wide was read on its path
    assert version.pk in report.versions
    assert report.pages > 0
    assert page.rows
    # (the history statement counts a finished series' episodes out through the indexes
    # of that one series, only for a finished series: recommend._episodes_sql)
    catalogue_wide = [
        q["sql"]
        for q in queries.captured_queries
        if any(marker in q["sql"] for marker in CATALOGUE_READS)
        and '"recommendations_signal"' not in q["sql"]
    ]
    assert catalogue_wide == []


def test_warming_up_reads_every_languages_row_copy_catalogue(db, settings):
    # given: a process that has translated nothing yet
    trans_real._translations.clear()

    # when
    serving_warm(build_pages=False)

    # then: a page in any display language finds its catalogue parsed already
    loaded = set(trans_real._translations)
    assert {translation.to_locale(code) for code, _ in settings.LANGUAGES} <= loaded
