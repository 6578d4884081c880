"""The learned rankers' training rows, built from logged pages through the real database path."""

import dataclasses
import datetime as dt
import runpy
import uuid
import zoneinfo
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core import checks
from django.core.management import call_command
from django.db import connection

from accounts.models import Account
from catalog.models import Title
from recommendations.engine.persistence import save_artefact
from recommendations.engine.ranking import FEATURE_NAMES
from recommendations.engine.row_ranking import ROW_FEATURE_NAMES, ROW_TYPES, RowRanker
from recommendations.models import ModelVersion, PageLog, Signal, TrainingRun
from recommendations.selectors.attribution import attribution_window, ranker_log_days
from recommendations.selectors.retention import page_log_readers
from recommendations.selectors.signals import signal_clock_skew
from recommendations.services import ranker_training
from recommendations.services.homepage import homepage_render
from recommendations.services.ranker_training import (
    PAGE_LOG_STAGES,
    _newest_before,
    _pages_sample,
    logged_examples_load,
)
from recommendations.services.signals import signal_batch_record
from recommendations.services.training import model_train
from recommendations.serving import artefacts, recommend
from recommendations.serving.homepage import (
    ROW_RANKER,
    homepage_build,
    profile_row_engagement,
    row_ranker_cache,
)
from recommendations.signal_events import SignalEvent
from tests.db_plans import table_reads
from tests.engine.test_row_ranking import one_profile
from tests.factories import AccountFactory, ProfileFactory, RegionFactory, TitleFactory
from tests.module_world import the_module_world, world_for_the_module
from tests.recommendations.homepage_world import NOW, build_home_world
from tests.recommendations.test_page_log import play
from tests.recommendations.test_training import _fresh_serving, record, watch  # noqa: F401

pytestmark = pytest.mark.django_db

CONTINUE_WATCHING = FEATURE_NAMES.index("continue_watching")
DISLIKE_PENALTY = FEATURE_NAMES.index("dislike_penalty")
WEEKEND = FEATURE_NAMES.index("weekend")


@pytest.fixture(scope="module")
def _viewer(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[tuple[Path, object]]:
    """Built and trained once for the module (tests/module_world.py)."""
    with world_for_the_module(django_db_blocker, tmp_path_factory.mktemp("viewer")) as root:
        world = build_home_world()
        profile = ProfileFactory(account=AccountFactory(home_region=world.region), name="Viewer")
        for i, title in enumerate(world.titles["action"][:4]):
            watch(profile, title, days_ago=20 + i)
        model_train(region_code=world.region.code)
        profile.refresh_from_db()
        yield root, profile


@pytest.fixture
def viewer(_viewer, settings, db):
    return the_module_world(settings, _viewer)


def test_a_past_pages_rows_do_not_change_with_what_happened_after_it(viewer):
    # given a page two days ago, and its rows once its window closed
    at = NOW - dt.timedelta(days=2)
    page = homepage_render(profile=viewer, device="tv", at=at)
    shown = [item.title_id for row in page.rows for item in row.items]
    played, disliked = shown[0], shown[1]
    before = logged_examples_load(region_code=None, at=at + dt.timedelta(hours=4))

    # when the viewer starts a title from it, stops at 40%, and a day later dislikes another
    record(viewer, "play_start", played, at=at + dt.timedelta(minutes=5), page_id=page.page_id)
    record(viewer, "progress", played, at=at + dt.timedelta(minutes=50), value=40.0)
    record(viewer, "thumbs_down", disliked, at=at + dt.timedelta(days=1))
    after = logged_examples_load(region_code=None, at=NOW)

    # then the page's features are what they were: the play is a label, not a feature
    assert before.pages == after.pages == 1
    assert (before.title_labels.sum(), after.title_labels.sum()) == (0, 1)
    np.testing.assert_array_equal(after.title_features, before.title_features)
    np.testing.assert_array_equal(after.row_features, before.row_features)
    assert after.title_features[after.title_labels, CONTINUE_WATCHING].tolist() == [0.0]
    assert after.title_features[:, DISLIKE_PENALTY].max() == 0.0


def test_a_pages_cluster_features_are_those_of_the_cluster_it_was_served_in(viewer):
    # given: a taste cluster of the comedy fans, trending on its own titles, and a page two
    # days ago for the viewer, who was in no cluster then (a new profile is in none until
    # the next retrain assigns it)
    from profiles.models import Profile
    from tests.factories import TasteClusterFactory

    region = viewer.account.home_region
    comedy = TasteClusterFactory(region=region, slug="comedy", name="Comedy")
    fans = Profile.objects.filter(account__home_region=region).exclude(pk=viewer.pk)
    fans = [fan for fan in fans if fan.title_states.filter(title__genres__slug="comedy").exists()]
    for fan in fans:
        fan.taste_cluster = comedy
        fan.save()
        record(fan, "play_start", Title.objects.filter(genres__slug="comedy").first(), days_ago=2.5)
    model_train(region_code=region.code)
    viewer.refresh_from_db()
    assert viewer.taste_cluster_id is None
    at = NOW - dt.timedelta(days=2)
    homepage_render(profile=viewer, device="tv", at=at)
    served = logged_examples_load(region_code=None, at=at + dt.timedelta(hours=4))

    # when: a retrain puts the viewer in the comedy cluster
    viewer.taste_cluster = comedy
    viewer.save()
    later = logged_examples_load(region_code=None, at=at + dt.timedelta(hours=4))

    # then: the page's rows keep the popularity it was served with, its region's (in no
    # cluster), not that of the cluster the viewer joined after it
    assert served.pages == later.pages == 1
    column = FEATURE_NAMES.index("cluster_popularity")
    np.testing.assert_array_equal(
        served.title_features[:, column], served.title_features[:, column + 1]
    )
    np.testing.assert_array_equal(later.title_features, served.title_features)


def test_a_play_stamped_just_before_the_page_it_names_is_its_label_not_its_history(viewer):
    # given a page two days ago, and its rows once its window closed
    at = NOW - dt.timedelta(days=2)
    page = homepage_render(profile=viewer, device="tv", at=at)
    played = page.rows[0].items[0].title_id
    before = logged_examples_load(region_code=None, at=at + dt.timedelta(hours=4))

    # when the viewer starts a title from it on a device whose clock is three seconds behind
    # the server's (so the play is stamped before the page it names), and stops at 40%
    record(viewer, "play_start", played, at=at - dt.timedelta(seconds=3), page_id=page.page_id)
    record(viewer, "progress", played, at=at + dt.timedelta(minutes=45), value=40.0)
    after = logged_examples_load(region_code=None, at=NOW)

    # then the play is the page's label, and not in the history its features are built from
    assert (before.title_labels.sum(), after.title_labels.sum()) == (0, 1)
    np.testing.assert_array_equal(after.title_features, before.title_features)
    np.testing.assert_array_equal(after.row_features, before.row_features)
    assert after.title_features[after.title_labels, CONTINUE_WATCHING].tolist() == [0.0]


def test_a_page_whose_attribution_window_is_open_is_not_learned_from(viewer):
    # given a page ten minutes before a retrain, and a play from it five minutes after
    retrain_at = NOW - dt.timedelta(days=1)
    page = homepage_render(profile=viewer, device="tv", at=retrain_at - dt.timedelta(minutes=10))
    title = page.rows[0].items[0].title_id
    record(
        viewer, "play_start", title, at=retrain_at + dt.timedelta(minutes=5), page_id=page.page_id
    )

    # when the retrain reads the logs, and a later one once the page's window closed
    now = logged_examples_load(region_code=None, at=retrain_at)
    closed = logged_examples_load(region_code=None, at=retrain_at + attribution_window())

    # then the first leaves the page out rather than counting its play as a miss
    assert now.pages == 0
    assert len(now.title_labels) == 0
    assert closed.pages == 1
    assert closed.title_labels.sum() == 1


def test_a_page_is_learned_from_only_once_a_slow_clocks_play_can_have_arrived(viewer):
    # given a page, and a retrain a minute after the page's attribution window closed
    at = NOW - dt.timedelta(days=1)
    page = homepage_render(profile=viewer, device="tv", at=at)
    title = page.rows[0].items[0].title_id
    window = attribution_window()
    early = logged_examples_load(region_code=None, at=at + window + dt.timedelta(minutes=1))

    # when a play of the page arrives after that retrain, stamped within the window by a
    # client clock three minutes behind the server's (within the tolerated skew)
    record(
        viewer, "play_start", title, at=at + window - dt.timedelta(minutes=2), page_id=page.page_id
    )
    later = logged_examples_load(
        region_code=None, at=at + window + signal_clock_skew() + dt.timedelta(minutes=1)
    )

    # then the early retrain left the page out rather than learn its play as a miss, and
    # one once the skew passed too learns the play (the artwork policy's closed moment)
    assert (early.pages, len(early.row_labels)) == (0, 0)
    assert later.pages == 1
    assert later.title_labels.sum() == 1
    assert later.row_labels.sum() == 1


ROOT = Path(__file__).resolve().parent.parent.parent


def settings_from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config" / "settings.py"))


def test_the_rankers_days_and_pages_come_from_the_environment(monkeypatch, settings):
    monkeypatch.delenv("TONIGHT_RANKER_LOG_DAYS", raising=False)
    monkeypatch.delenv("TONIGHT_RANKER_MAX_PAGES", raising=False)
    defaults = settings_from_env(monkeypatch)["TONIGHT"]
    assert (defaults["RANKER_LOG_DAYS"], defaults["RANKER_MAX_PAGES"]) == (28, 3000)

    loaded = settings_from_env(
        monkeypatch, TONIGHT_RANKER_LOG_DAYS="14", TONIGHT_RANKER_MAX_PAGES="500"
    )["TONIGHT"]
    assert (loaded["RANKER_LOG_DAYS"], loaded["RANKER_MAX_PAGES"]) == (14, 500)

    # and the training's window and the page log keep check read that one value
    settings.TONIGHT = {**settings.TONIGHT, "RANKER_LOG_DAYS": loaded["RANKER_LOG_DAYS"]}
    assert ranker_log_days() == 14
    (rankers,) = [r for r in page_log_readers() if r.setting == "RANKER_LOG_DAYS"]
    reach = attribution_window() + signal_clock_skew()
    assert rankers.days == pytest.approx(14 + reach / dt.timedelta(days=1))


def _ranker_errors() -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks(tags=["retraining"]) if m.id.startswith("tonight.E")]


def test_the_default_ranker_days_and_pages_pass_the_checks():
    assert _ranker_errors() == []


@pytest.mark.parametrize(
    ("name", "value", "error_id"),
    [
        # an empty window: both rankers would stay on their priors, and nothing would say why
        ("RANKER_LOG_DAYS", 0.0, "tonight.E003"),
        ("RANKER_LOG_DAYS", -7.0, "tonight.E003"),
        # no pages is no LIMIT: every page of the window, each rebuilt as its request was
        ("RANKER_MAX_PAGES", 0, "tonight.E004"),
        # fewer than none fails every retrain at its query
        ("RANKER_MAX_PAGES", -1, "tonight.E004"),
    ],
)
def test_no_days_or_no_pages_for_the_rankers_is_an_error_naming_the_variable(
    settings, name, value, error_id
):
    settings.TONIGHT = {**settings.TONIGHT, name: value}

    (error,) = _ranker_errors()

    assert error.id == error_id
    assert error.level == checks.ERROR
    assert f"TONIGHT_{name} is" in error.msg


def test_pages_are_sampled_over_the_whole_window_not_the_newest(viewer, settings):
    # given a page a day over the last 20 days
    settings.TONIGHT = {**settings.TONIGHT, "RANKER_LOG_DAYS": 28}
    for day in range(20, 0, -1):
        homepage_render(profile=viewer, device="tv", at=NOW - dt.timedelta(days=day), n_rows=2)
    window = {
        "since": NOW - dt.timedelta(days=28),
        "until": NOW - attribution_window(),
        "region_code": None,
        "limit": 5,
    }
    day_of = {p: (NOW - t).days for p, t in PageLog.objects.values_list("id", "generated_at")}

    # when five are sampled with several seeds (the pages' ids, which the sample hashes, are
    # random: with six seeds no sample reached the oldest four days once in ~2,000 runs, so
    # sixteen, which miss them together once in ~600 million)
    samples = [_pages_sample(**window, seed=seed)[0] for seed in range(16)]

    # then each seed always gives the same five, and together they span the window
    assert _pages_sample(**window, seed=3)[0] == samples[3]
    assert all(len(set(sample)) == 5 for sample in samples)
    days = {day_of[p] for sample in samples for p in sample}
    assert min(days) <= 3
    assert max(days) >= 17
    assert any(max(day_of[p] for p in sample) > 5 for sample in samples)
    assert logged_examples_load(region_code=None, at=NOW, max_pages=5).pages == 5


def _tiles_seen(profile, titles, at: dt.datetime, row: str) -> None:
    """Impressions of ``titles`` in one row, as a client sends what scrolled into view."""
    signal_batch_record(
        profile=profile,
        events=[
            SignalEvent(
                index=n,
                kind="impression",
                title_id=title.pk,
                episode_id=None,
                value=None,
                device="tv",
                occurred_at=at + dt.timedelta(seconds=n),
                client_event_id=uuid.uuid4(),
                page_id=None,
                row=row,
                position=n,
                artwork_variant_id=None,
            )
            for n, title in enumerate(titles)
        ],
    )


def test_a_pages_tiles_seen_are_what_its_request_counted(viewer, monkeypatch):
    # given: Top Picks on screen every day, New Releases once, a play from each, and more
    # impressions than the history read's bound (lowered to 8 here); then a page
    monkeypatch.setattr(recommend, "HISTORY_MAX_IMPRESSIONS", 8)
    watched = viewer.signals.values_list("title", flat=True)
    films = list(Title.objects.exclude(pk__in=watched).order_by("pk")[:4])
    for days in (5, 4, 3, 2):
        _tiles_seen(viewer, films, NOW - dt.timedelta(days=days), "top_picks")
    _tiles_seen(viewer, films[:2], NOW - dt.timedelta(days=2.5), "new_releases")
    play(viewer, films[0].pk, NOW - dt.timedelta(days=2.4), row="new_releases", position=0)
    play(viewer, films[1].pk, NOW - dt.timedelta(days=1.9), row="top_picks", position=1)
    play(viewer, films[2].pk, NOW - dt.timedelta(days=3.5), row="top_picks", position=2)
    at = NOW - dt.timedelta(days=1)
    homepage_render(profile=viewer, device="tv", at=at)

    # when: training builds that page's rows, and serving counts the same moment
    examples = logged_examples_load(region_code=None, at=NOW)
    history = recommend.profile_history_rows(profile_id=viewer.pk, at=at)
    zone = dt.timezone(dt.timedelta(hours=5, minutes=30))
    served = profile_row_engagement(profile_id=viewer.pk, at=at, zone=zone, history=history)

    # then: the bound cut the impressions, and both sides counted the same tiles and plays
    assert history.impressions_cut
    # the newest 8 tiles, of which 2 in New Releases, less the oldest one read (tiles of
    # its instant may have been left unread)
    assert served.seen[ROW_TYPES.index("top_picks")] == 5
    assert served.seen[ROW_TYPES.index("new_releases")] == 2
    # the play 3.5 days ago is before the oldest tile read (3 days ago): not set against it
    assert served.plays_seen.tolist() == [0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert served.plays[ROW_TYPES.index("top_picks")] == 2
    types = examples.row_features[:, : len(ROW_TYPES)].argmax(axis=1)
    lift = ROW_FEATURE_NAMES.index("seen_rate_lift")
    expected = one_profile(types, seen=served.seen, plays_seen=served.plays_seen)[:, lift]
    np.testing.assert_allclose(examples.row_features[:, lift], expected, rtol=1e-6)
    assert expected.max() > 0.2  # the counts move the feature: the comparison is not 0 == 0


def test_the_row_ranker_learns_from_logged_pages_what_the_prior_does_not_know(
    viewer, settings, monkeypatch
):
    # given: the first pages of thirty-five viewers, on each of which a play started from
    # the critically acclaimed row, a row type the prior ranks near the bottom: a habit of
    # everyone's (one viewer's own habit is its affinity, and its own rows follow that)
    settings.TONIGHT = {
        **settings.TONIGHT,
        "ROW_RANKER_MIN_ROWS": 300,
        "ROW_RANKER_MIN_POSITIVES": 40,
        "RANKER_MAX_PAGES": 500,
    }
    start = NOW - dt.timedelta(days=6)
    region = viewer.account.home_region
    for n in range(140):
        if n % 4 == 0:
            someone = ProfileFactory(account=AccountFactory(home_region=region))
        at = start + dt.timedelta(minutes=35 * n)
        page = homepage_render(profile=someone, device="tv", at=at, n_items=4)
        acclaimed = next(r for r in page.rows if r.type == "critically_acclaimed")
        position = n % len(acclaimed.items)
        title = acclaimed.items[position].title_id
        at_play = at + dt.timedelta(minutes=2)
        play(someone, title, at_play, page_id=page.page_id, row=acclaimed.id, position=position)

    # when
    version = model_train(region_code=viewer.account.home_region_id)

    # then: the learned model predicted the newest pages better than the prior, so it serves
    selection = version.metrics["row_ranker_selection"]
    assert selection["mode"] == "learned"
    assert selection["learned_log_loss"] < selection["prior_log_loss"]
    # and a newcomer, whose own plays say nothing yet, sees the acclaimed row higher than
    # the prior would show it
    newcomer = ProfileFactory(account=AccountFactory(home_region=viewer.account.home_region))
    learned = homepage_build(profile=newcomer, device="tv", n_items=4)
    row_ranker_cache.clear()
    with monkeypatch.context() as served_by_the_prior:
        served_by_the_prior.setattr(row_ranker_cache, "get", lambda bundle: RowRanker())
        prior = homepage_build(profile=newcomer, device="tv", n_items=4)
    assert learned.row_ranker == "learned"
    assert prior.row_ranker == "prior"
    types = [[r.type for r in page.rows] for page in (learned, prior)]
    assert "critically_acclaimed" in types[0]
    # (placed low, the prior's acclaimed row may bring too few new titles to be shown: then
    # it is below every row shown)
    place = [
        t.index("critically_acclaimed") if "critically_acclaimed" in t else len(t) for t in types
    ]
    assert place[0] < place[1]


def test_a_version_whose_row_ranker_an_older_release_wrote_serves_the_prior(viewer, caplog):
    # given: the active version's row ranker in the first release's layout
    version = model_train(region_code=viewer.account.home_region_id)
    artefacts.artefact_write(
        version.artefact_key,
        ROW_RANKER,
        lambda target: save_artefact(
            target, kind="tonight.row_ranker", version=1, mode="learned", coef=np.zeros(3)
        ),
    )
    row_ranker_cache.clear()

    # when
    page = homepage_build(profile=viewer, device="tv", n_items=4)

    # then: the page is served, its rows ordered by the prior, and the operator is told
    assert page.rows
    assert page.row_ranker == "prior"
    assert "unreadable row ranker" in caplog.text


def test_a_title_shown_twice_on_a_page_is_one_training_row_with_its_play(viewer):
    # given a page two days ago that shows its first title again in its last row
    at = NOW - dt.timedelta(days=2)
    page = homepage_render(profile=viewer, device="tv", at=at, n_items=3)
    log = PageLog.objects.get(pk=page.page_id)
    first = log.items[0]
    last_row = len(log.rows) - 1
    position = 1 + max(i[2] for i in log.items if i[1] == last_row)
    log.items = [*log.items, [first[0], last_row, position, first[3], first[4]]]
    log.save(update_fields=["items"])

    # when the viewer starts it, naming neither page nor row
    play(viewer, first[0], at + dt.timedelta(minutes=5))
    examples = logged_examples_load(region_code=None, at=NOW)

    # then the title is one row, played, not a play at its first showing and a miss at its
    # second: one row per title the page showed
    assert examples.title_labels.sum() == 1
    assert len(examples.title_labels) == len({i[0] for i in log.items}) < len(log.items)


def test_a_page_asked_for_another_moment_is_learned_from_in_the_context_it_was_served(viewer):
    # given a page two days ago that a client asked for as of another part of the week (the
    # API's `at`: the context's clock only), so its logged weekday is not its moment's
    at = NOW - dt.timedelta(days=2)
    zone = zoneinfo.ZoneInfo(viewer.account.home_region.time_zone)
    weekend = at.astimezone(zone).weekday() >= 5
    days = next(
        d
        for d in range(1, 7)
        if ((at + dt.timedelta(days=d)).astimezone(zone).weekday() >= 5) != weekend
    )
    asked = at + dt.timedelta(days=days, hours=9)
    page = homepage_render(profile=viewer, device="tv", at=at, context_at=asked)
    log = PageLog.objects.get(pk=page.page_id)
    assert (log.weekday >= 5) != weekend

    # when the rankers' training reads it
    examples = logged_examples_load(region_code=None, at=NOW)

    # then the title ranker's rows have the weekday and hour the page was served in, as the
    # row ranker's do (both read the page log's), not those of its moment
    assert examples.pages == 1
    assert set(examples.title_features[:, WEEKEND].tolist()) == {float(log.weekday >= 5)}


def _page_events(profile, page, at: dt.datetime, events: list[tuple[str, int | None, str]]) -> None:
    """What a client sends about ``page`` (kind, title, row), stamped from ``at`` a second apart."""
    signal_batch_record(
        profile=profile,
        events=[
            SignalEvent(
                index=n,
                kind=kind,
                title_id=title,
                episode_id=None,
                value=None,
                device="tv",
                occurred_at=at + dt.timedelta(seconds=n),
                client_event_id=uuid.uuid4(),
                page_id=page.page_id,
                row=row,
                position=None,
                artwork_variant_id=None,
            )
            for n, (kind, title, row) in enumerate(events)
        ],
    )


def test_what_a_slow_clock_sends_about_a_page_is_its_outcome_not_its_history(viewer):
    # given a page two days ago, and its rows once its window closed
    at = NOW - dt.timedelta(days=2)
    page = homepage_render(profile=viewer, device="tv", at=at)
    top, second = page.rows[0], page.rows[1]
    before = logged_examples_load(region_code=None, at=at + dt.timedelta(hours=4))

    # when a device whose clock is a minute behind the server's reports the page's first
    # row on screen and its second row scrolled past (so both are stamped before the page
    # they name), and nothing is played
    _page_events(
        viewer,
        page,
        at - dt.timedelta(seconds=60),
        [
            *(("impression", item.title_id, top.id) for item in top.items[:4]),
            ("row_scroll_past", None, second.id),
        ],
    )
    after = logged_examples_load(region_code=None, at=NOW)

    # then the page's row features are what its request read: what the client said about
    # the page came after it, and is its outcome (the second row skipped), not its history;
    # and those two rows, the ones the client reported on screen, are the page's samples
    assert before.pages == after.pages == 1
    np.testing.assert_array_equal(after.row_features, before.row_features[:2])


def test_a_pages_row_habits_are_counted_in_the_time_zone_it_was_served_in(viewer):
    # given a viewer who resumes in the morning and starts new releases in the evening (its
    # region's time), and a page two days ago
    zone = zoneinfo.ZoneInfo(viewer.account.home_region.time_zone)
    titles = list(Title.objects.order_by("pk").values_list("pk", flat=True)[:8])
    day = (NOW - dt.timedelta(days=6)).astimezone(zone).replace(minute=0, second=0, microsecond=0)
    for n, title in enumerate(titles):
        hour, row = (9, "continue_watching") if n % 2 else (21, "new_releases")
        play(viewer, title, day.replace(hour=hour) - dt.timedelta(days=n // 2), row=row)
    # in the evening, its region's time, whatever the hour the suite runs at: a page at
    # noon falls in no habit's hour bucket, and its lift was 0 before anything moved
    at = (NOW - dt.timedelta(days=2)).astimezone(zone).replace(hour=21, minute=0, second=0)
    homepage_render(profile=viewer, device="tv", at=at)
    before = logged_examples_load(region_code=None, at=NOW)

    # when the household's home region is later moved to one eleven hours behind
    elsewhere = RegionFactory(code="US", name="United States", time_zone="America/New_York")
    Account.objects.filter(pk=viewer.account_id).update(home_region=elsewhere)
    after = logged_examples_load(region_code=None, at=NOW)

    # then the page's hour habits are what its request counted, in the page's region's time
    lift = ROW_FEATURE_NAMES.index("lift_hour")
    assert np.abs(before.row_features[:, lift]).max() > 0.1  # the habit moves the feature
    np.testing.assert_array_equal(after.row_features, before.row_features)


def test_a_pages_own_tiles_stamped_before_it_are_not_its_title_features(viewer):
    # given a page two days ago, and its title rows once its window closed
    at = NOW - dt.timedelta(days=2)
    page = homepage_render(profile=viewer, device="tv", at=at)
    before = logged_examples_load(region_code=None, at=at + dt.timedelta(hours=4))

    # when a device whose clock is a minute behind the server's reports every tile of the
    # page on screen (stamped before the page they name), and nothing is played
    _page_events(
        viewer,
        page,
        at - dt.timedelta(seconds=60),
        [("impression", item.title_id, row.id) for row in page.rows for item in row.items],
    )
    after = logged_examples_load(region_code=None, at=NOW)

    # then the page's title features are what its request read: the tiles it showed were
    # not yet "shown and not played" (impression fatigue) when it chose them
    assert before.pages == after.pages == 1
    fatigue = FEATURE_NAMES.index("impression_fatigue")
    assert before.title_features[:, fatigue].max() == 0.0
    np.testing.assert_array_equal(after.title_features, before.title_features)


def test_a_pages_continue_watching_scores_offline_are_those_it_was_served(viewer):
    # given: a series the viewer finished 200 days before a page, whose second season came
    # out the day before it (back in Continue Watching, recent from the release), and a
    # film left at 40% a week before it
    from recommendations.services.ranker_training import _StatesAsOf
    from recommendations.serving.scoring import ranking_inputs
    from tests.factories import AvailabilityFactory, EpisodeFactory, SeasonFactory
    from tests.recommendations.scoring_context import profile_tv_context

    at = NOW - dt.timedelta(days=2)
    season = SeasonFactory(title__kind="series", number=1)
    show = season.title
    AvailabilityFactory(title=show, region=viewer.account.home_region, starts_at=None)
    for number in (1, 2):
        episode = EpisodeFactory(season=season, number=number)
        record(viewer, "play_start", show, at=at - dt.timedelta(days=200), episode=episode)
        record(viewer, "complete", show, at=at - dt.timedelta(days=199.9), episode=episode)
    release = (at - dt.timedelta(days=1)).date()
    later = SeasonFactory(title=show, number=2, release_date=release)
    EpisodeFactory(season=later, number=1)
    film = Title.objects.filter(kind="film").order_by("pk").last()
    record(viewer, "play_start", film, at=at - dt.timedelta(days=7))
    record(viewer, "progress", film, at=at - dt.timedelta(days=6.9), value=40.0)
    model_train(region_code=viewer.account.home_region_id)

    def scores(history, bundle, catalogue):
        context = profile_tv_context(viewer, at)
        inputs = ranking_inputs(
            bundle=bundle, catalogue=catalogue, history=history, context=context
        )
        return inputs.continue_watching

    # when: the page's scores as served, and as the rankers' training reads the page's
    # history (its title states folded from the signals as of the page: _title_examples)
    serving = recommend.profile_serving(profile=viewer, at=at)
    served = scores(serving.history, serving.bundle, serving.catalogue)
    rows = recommend.profile_history_rows(profile_id=viewer.pk, at=at, with_states=False)
    states = _StatesAsOf(profile_ids=[viewer.pk], until=at + dt.timedelta(seconds=1))
    rows = dataclasses.replace(rows, states=states.at(viewer.pk, at))
    offline = scores(
        recommend.history_on_index(
            rows, profile_id=viewer.pk, bundle=serving.bundle, catalogue=serving.catalogue
        ),
        serving.bundle,
        serving.catalogue,
    )

    # then: the same scores, the series' counted from its new season's release
    title_ids = serving.bundle.index.title_ids
    show_at, film_at = np.searchsorted(title_ids, [show.pk, film.pk])
    np.testing.assert_array_equal(offline, served)
    days = (at - dt.datetime.combine(release, dt.time(), tzinfo=dt.UTC)).total_seconds() / 86400
    assert served[show_at] == pytest.approx(2 ** (-days / 14), rel=1e-4)
    assert served[show_at] > served[film_at] > 0


def test_only_what_the_viewer_saw_of_a_page_is_learned_from(viewer):
    # given a page two days ago of which the viewer's client reports the first row's first
    # four tiles on screen, and nothing is played
    at = NOW - dt.timedelta(days=2)
    page = homepage_render(profile=viewer, device="tv", at=at)
    top = page.rows[0]
    assert len(page.rows) > 2
    everything = logged_examples_load(region_code=None, at=NOW)
    _page_events(
        viewer,
        page,
        at + dt.timedelta(seconds=5),
        [("impression", i.title_id, top.id) for i in top.items[:4]],
    )

    # when the rankers' rows are built once its window closed
    seen = logged_examples_load(region_code=None, at=NOW)

    # then the title ranker's misses are those four titles, at weight 1 (none was sampled
    # away), and the row ranker's one sample is the first row: the rows below it were never
    # reached, so they are not "rows never played"
    assert everything.pages == seen.pages == 1
    assert len(everything.title_labels) > 4
    assert len(seen.title_labels) == 4
    assert not seen.title_labels.any()
    assert seen.title_weights.tolist() == [1.0] * 4
    assert len(everything.row_labels) == len(page.rows)
    np.testing.assert_array_equal(seen.row_features, everything.row_features[:1])


def test_each_title_row_names_its_page_in_time_order(viewer):
    # given two pages of the viewer, three days and two days ago, whose windows have closed
    for days in (3, 2):
        homepage_render(profile=viewer, device="tv", at=NOW - dt.timedelta(days=days))

    # when
    logged = logged_examples_load(region_code=None, at=NOW)

    # then every title row says which page it came from, the older first: the title
    # ranker's newest part is cut between pages (PlayRanker.fit's ``pages``), not through one
    assert logged.pages == 2
    assert logged.title_pages.shape == logged.title_labels.shape
    first = int(np.searchsorted(logged.title_pages, 1))
    assert 0 < first < logged.title_pages.shape[0]
    assert (logged.title_pages[:first] == 0).all()
    assert (logged.title_pages[first:] == 1).all()


def test_reading_the_page_logs_names_its_steps_and_counts_its_pages(viewer):
    # given two closed pages of the viewer
    for days in (3, 2):
        homepage_render(profile=viewer, device="tv", at=NOW - dt.timedelta(days=days))
    stages: list[str] = []
    counts: list[tuple[int, int]] = []

    # when the rankers' rows are built
    logged = logged_examples_load(
        region_code=None,
        at=NOW,
        stage=stages.append,
        progress=lambda done, total: counts.append((done, total)),
    )

    # then each step was named as it began, and the longest, rebuilding each page's rows as
    # it was served, counted its pages up to all of them: until December 2026 train_models
    # showed "read page logs" through all three, its clock standing still (8 s on the demo)
    assert logged.pages == 2
    assert stages == list(PAGE_LOG_STAGES)
    assert counts == [(0, 2), (1, 2), (2, 2)]
    # and: a retrain's run records them whole as its stage (its column's length)
    assert max(map(len, stages)) <= TrainingRun._meta.get_field("stage").max_length


def test_train_models_shows_the_pages_it_learns_from_on_its_bar(viewer):
    # given two closed pages of the viewer
    for days in (3, 2):
        homepage_render(profile=viewer, device="tv", at=NOW - dt.timedelta(days=days))
    err = StringIO()

    # when
    call_command(
        "train_models", "--region", viewer.account.home_region_id, stdout=StringIO(), stderr=err
    )

    # then: its bar named each step, and counted the pages
    bar = err.getvalue()
    code = viewer.account.home_region_id
    for stage in PAGE_LOG_STAGES:
        assert f"{code}: {stage}" in bar
    assert f"{code}: page logs: title ranker rows 0/2 pages" in bar
    assert f"{code}: page logs: title ranker rows 2/2 pages" in bar


def test_training_reads_each_pages_signals_without_todays_title_states(viewer):
    # given a page two days ago whose window has closed
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recommendations.models import ProfileTitleState, Signal

    at = NOW - dt.timedelta(days=2)
    homepage_render(profile=viewer, device="tv", at=at)

    # when the rankers' examples are read
    with CaptureQueriesContext(connection) as queries:
        examples = logged_examples_load(region_code=None, at=at + dt.timedelta(hours=4))

    # then the page's history read is its signals alone: the states as of the page are
    # folded from them, so today's states (and their episodes) would be read for nothing
    signals, states = Signal._meta.db_table, ProfileTitleState._meta.db_table
    reads = [q["sql"] for q in queries.captured_queries if f'FROM "{signals}"' in q["sql"]]
    assert examples.pages == 1
    assert reads
    assert not [sql for sql in reads if f'"{states}"' in sql]


@pytest.mark.parametrize(("limit", "cut"), [(10, False), (2, True), (1, True)])
def test_a_pages_row_events_are_those_of_its_window_as_its_request_read_them(limit, cut):
    """What training reads for a page is what its request read (``profile_row_engagement``):
    from exactly ``window`` before the page, up to but not including its own instant, the
    newest ``limit`` of them, and whether the bound left older ones unread."""
    at, window = 1000.0, 100.0
    times = np.array([at - window - 1.0, at - window, at - 1.0, at])  # ascending

    read, was_cut = _newest_before(times, at, window, limit, np.full(4, -1), page=0)

    assert read.tolist() == [1, 2][-limit:]
    assert was_cut is cut


def test_pages_of_a_pruned_version_are_counted_not_silently_lost(viewer):
    # given two closed pages of the viewer, the older one's version pruned since (page logs
    # keep the id of a version the prune deleted: no foreign key constraint)
    for days in (3, 2):
        homepage_render(profile=viewer, device="tv", at=NOW - dt.timedelta(days=days))
    older = PageLog.objects.order_by("generated_at").first()
    gone = ModelVersion.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    PageLog.objects.filter(pk=older.pk).update(model_version_id=gone)

    # when
    logged = logged_examples_load(region_code=None, at=NOW)

    # then both pages were read, and the one whose features cannot be rebuilt (its version
    # is gone) is counted apart, its rows left out of the title ranker's
    assert logged.pages == 2
    assert (logged.pages_version_pruned, logged.pages_version_unloadable) == (1, 0)
    assert set(logged.title_pages.tolist()) == {1}


def _pages_with_their_own_signals(viewer) -> list[PageLog]:
    """Three closed pages of the viewer, each with tiles reported on screen a minute before
    it (a slow clock) and one played from it: a page's history leaves out what names it or
    a later page, and keeps what names an earlier one (and the progress sent half a second
    before the page, its newest signal)."""
    pages, half_second = [], dt.timedelta(milliseconds=500)
    for hours in (60, 54, 48):
        at = NOW - dt.timedelta(hours=hours)
        page = homepage_render(profile=viewer, device="tv", at=at)
        row = page.rows[0]
        _page_events(
            viewer,
            page,
            at - dt.timedelta(seconds=60),
            [("impression", item.title_id, row.id) for item in row.items[:5]],
        )
        record(viewer, "play_start", row.items[0].title_id, at=at, page_id=page.page_id)
        record(viewer, "progress", row.items[0].title_id, at=at - half_second, value=30.0)
        pages.append(PageLog.objects.get(pk=page.page_id))
    return pages


def _assert_same_reads(together, alone) -> None:
    """Each batched read is the page's own: the same signal bytes in the same order, no
    states (both read without them), the same episodes and bounds."""
    assert len(together) == len(alone)
    for mine, reference in zip(together, alone, strict=True):
        assert mine.signals.tobytes() == reference.signals.tobytes()
        assert mine.states.shape == reference.states.shape == (0, 8)
        assert mine.episodes.shape == reference.episodes.shape
        assert (mine.complete_after, mine.impressions_cut, mine.at) == (
            reference.complete_after,
            reference.impressions_cut,
            reference.at,
        )


def _read_one_by_one(reads: list[recommend.HistoryAsOf]) -> list[recommend.HistoryRows]:
    """The reference: each page's history read alone, as training read it before batching."""
    return [
        recommend.profile_history_rows(
            profile_id=read.profile_id,
            at=read.at,
            unread_pages=read.unread_pages,
            with_states=False,
        )
        for read in reads
    ]


@pytest.mark.parametrize(("engaged", "shown"), [(3000, 1000), (2, 4)])
def test_the_pages_history_reads_in_one_statement_are_the_reads_of_each_page(
    viewer, monkeypatch, engaged, shown
):
    # given closed pages whose histories differ by what names them, and bounds that do or
    # do not cut each branch short
    pages = _pages_with_their_own_signals(viewer)
    monkeypatch.setattr(recommend, "HISTORY_MAX_SIGNALS", engaged)
    monkeypatch.setattr(recommend, "HISTORY_MAX_IMPRESSIONS", shown)
    stranger = ProfileFactory(account=AccountFactory(home_region=viewer.account.home_region))
    ids = [page.pk for page in pages]
    played_at = Signal.objects.get(page_id=ids[1], kind="play_start").occurred_at
    reads = [
        # each page as training reads it: unread, its id and the later pages'
        *(
            recommend.HistoryAsOf(profile_id=viewer.pk, at=page.generated_at, unread_pages=ids[i:])
            for i, page in enumerate(pages)
        ),
        recommend.HistoryAsOf(profile_id=viewer.pk, at=NOW, unread_pages=[]),
        # as of the instant of a play (not that play itself: it is not before that instant)
        recommend.HistoryAsOf(profile_id=viewer.pk, at=played_at, unread_pages=[]),
        recommend.HistoryAsOf(profile_id=stranger.pk, at=NOW, unread_pages=[uuid.uuid4()]),
        recommend.HistoryAsOf(profile_id=viewer.pk, at=NOW, unread_pages=ids[1:2]),
    ]

    # when they are read in one statement, and one by one
    together = recommend.profiles_history_rows(reads)
    alone = _read_one_by_one(reads)

    # then each read's rows are the same, in the same order, with the same bounds
    _assert_same_reads(together, alone)
    # and the pages' histories did differ (what named each page was left out of its own)
    assert len({len(rows.signals) for rows in alone[:4]}) > 1
    assert any(rows.impressions_cut for rows in alone) is (shown < 1000)


@pytest.mark.parametrize("batch", [1, 2, 200])
def test_the_rankers_rows_are_those_of_a_history_read_a_page_at_a_time(viewer, monkeypatch, batch):
    # given closed pages of the viewer with signals naming them and one another, and pages
    # of another profile between them; pages read ``batch`` at a time
    _pages_with_their_own_signals(viewer)
    other = ProfileFactory(account=AccountFactory(home_region=viewer.account.home_region))
    for hours in (57, 51):
        homepage_render(profile=other, device="tv", at=NOW - dt.timedelta(hours=hours))
    monkeypatch.setattr(ranker_training._PageHistories, "BATCH", batch)
    _walk_indexes_as_on_millions()

    # when the rows are read with the pages' histories read together, and one by one
    together = logged_examples_load(region_code=None, at=NOW)

    monkeypatch.setattr(ranker_training, "profiles_history_rows", _read_one_by_one)
    alone = logged_examples_load(region_code=None, at=NOW)

    # then every row is the same
    assert together.pages == alone.pages == 5
    assert together.title_labels.sum() > 0
    for field in dataclasses.fields(together):
        np.testing.assert_array_equal(getattr(together, field.name), getattr(alone, field.name))


def test_the_pages_history_reads_walk_each_branchs_own_index_page_by_page(viewer):
    # given pages of two profiles to read the history of
    stranger = ProfileFactory(account=AccountFactory(home_region=viewer.account.home_region))
    reads = [
        recommend.HistoryAsOf(profile_id=profile.pk, at=NOW, unread_pages=[uuid.uuid4()])
        for profile in (viewer, stranger)
    ]

    # when the planner plans their one statement as on a table of millions of signals
    reads_of_signals = table_reads(
        recommend._histories_sql(),
        "recommendations_signal",
        recommend._histories_params(reads),
        bitmaps=False,
    )

    # then each page's two branches walk their own partial index (newest first, stopping
    # at their bound), as the read of a single page does: no sort, no scan of the table
    assert sorted(node.get("Index Name") for node in reads_of_signals) == [
        "signal_profile_engaged",
        "signal_profile_shown",
    ]
    assert {node["Node Type"] for node in reads_of_signals} == {"Index Scan"}
    assert {node.get("Scan Direction") for node in reads_of_signals} == {"Backward"}
    for node in reads_of_signals:  # the page's profile and window are the range walked
        cond = node.get("Index Cond", "")
        bounds = ("(profile_id = ", "_profile)", "(occurred_at >= ", "_since)", "(occurred_at < ")
        for bound in (*bounds, "_until)"):
            assert bound in cond


def _walk_indexes_as_on_millions() -> None:
    """Plan the history reads as on a table of millions of signals: each branch a walk of
    its partial index (as ``test_the_pages_history_reads_walk_each_branchs_own_index...``
    holds), not a scan of a test table of a few rows and a sort.

    Which of the signals stamped at one instant a read keeps under its limit, and in which
    order, is the order the plan meets them in: a walk's is the index's, a top-N sort's is
    its own and depends on N. The batched read equals the per-page one under the walk.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")


def _history_world(profile, rng: np.random.Generator) -> tuple[list[uuid.UUID], list[dt.datetime]]:
    """Six pages of ``profile`` six hours apart, and signals stressing a history read's
    bounds: a dozen of each branch at one instant a minute before each page, more at each
    page's own instant, older ones in tied threes across the window's start, some naming
    each page, one naming a later page but stamped before an earlier one (a client clock
    behind), inserted in shuffled order and partly reindexed (posting lists: a backward
    walk returns their ties in ascending order, separate entries in descending)."""
    titles = TitleFactory.create_batch(3)
    pages = [uuid.uuid4() for _ in range(6)]
    moments = [NOW - dt.timedelta(days=2) + dt.timedelta(hours=6 * k) for k in range(6)]
    specs: list[tuple[str, dt.datetime, uuid.UUID | None]] = []
    for k, (page, at) in enumerate(zip(pages, moments, strict=True)):
        for i in range(12):
            specs.append(("impression", at - dt.timedelta(minutes=1), page if i % 3 else None))
            specs.append(("hover", at - dt.timedelta(minutes=1), page if i % 4 == 0 else None))
        for i in range(4):  # at the page's own instant: not before it, so not its own
            specs.append(("impression", at, page))
            specs.append(("play_start", at, None if i else page))
        if k + 2 < len(pages):  # names a page two later, stamped before this one
            specs.append(("play_start", at - dt.timedelta(minutes=2), pages[k + 2]))
            specs.append(("impression", at - dt.timedelta(minutes=2), pages[k + 2]))
    for j in range(30):  # across the first page's window start (a day before it) and beyond
        at = moments[0] - dt.timedelta(hours=20 + 2 * (j // 3))
        specs.append(("impression" if j % 2 else "progress", at, None))
    specs.append(("impression", moments[2] - dt.timedelta(days=1), None))  # at a window start
    specs.append(("hover", moments[2] - dt.timedelta(days=1), None))
    order = rng.permutation(len(specs))
    half = len(order) // 2
    signals = [
        Signal(
            profile=profile,
            title=titles[n % 3],
            kind=specs[n][0],
            value=float(n),  # tells each signal apart, so an order of ties is seen
            device="tv",
            occurred_at=specs[n][1],
            client_event_id=uuid.uuid4(),
            page_id=specs[n][2],
            row="trending:IN" if n % 2 else "",
        )
        for n in order
    ]
    Signal.objects.bulk_create(signals[:half])
    with connection.cursor() as cursor:  # a build deduplicates equal keys into posting lists
        cursor.execute("REINDEX INDEX signal_profile_shown")
        cursor.execute("REINDEX INDEX signal_profile_engaged")
    Signal.objects.bulk_create(signals[half:])
    return pages, moments


@pytest.mark.parametrize(
    ("engaged", "shown"), [(3000, 1000), (40, 30), (13, 12), (5, 7), (2, 1), (1, 3)]
)
def test_the_batched_history_reads_give_each_pages_own_read_ties_and_limits_included(
    settings, monkeypatch, engaged, shown
):
    # given two profiles with pages whose reads are cut by the limits (or not) before and
    # after each page, within a window of a day (so the pages' windows start apart)
    settings.TONIGHT = {**settings.TONIGHT, "TRAINING_WINDOW_DAYS": 1}
    monkeypatch.setattr(recommend, "HISTORY_MAX_SIGNALS", engaged)
    monkeypatch.setattr(recommend, "HISTORY_MAX_IMPRESSIONS", shown)
    rng = np.random.default_rng(engaged * 1000 + shown)
    region = RegionFactory()
    viewer, other = (ProfileFactory(account=AccountFactory(home_region=region)) for _ in "ab")
    pages, moments = _history_world(viewer, rng)
    other_pages, other_moments = _history_world(other, rng)
    instant = Signal.objects.filter(profile=viewer, kind="hover").earliest("occurred_at")
    reads = [
        # each page as training reads it: unread, its id and the later pages'
        *(
            recommend.HistoryAsOf(profile_id=viewer.pk, at=at, unread_pages=pages[k:])
            for k, at in enumerate(moments)
        ),
        *(
            recommend.HistoryAsOf(profile_id=other.pk, at=at, unread_pages=other_pages[k:])
            for k, at in enumerate(other_moments)
        ),
        # as of a tie's own instant, and a microsecond after it
        recommend.HistoryAsOf(profile_id=viewer.pk, at=instant.occurred_at, unread_pages=[]),
        recommend.HistoryAsOf(
            profile_id=viewer.pk,
            at=instant.occurred_at + dt.timedelta(microseconds=1),
            unread_pages=pages[:1],
        ),
        # unread pages that are not nested, and none at all
        recommend.HistoryAsOf(profile_id=viewer.pk, at=moments[4], unread_pages=pages[1:2]),
        recommend.HistoryAsOf(profile_id=viewer.pk, at=NOW, unread_pages=[]),
        recommend.HistoryAsOf(profile_id=other.pk, at=moments[3], unread_pages=[uuid.uuid4()]),
    ]
    reads = [reads[i] for i in rng.permutation(len(reads))]  # one profile's pages out of order
    _walk_indexes_as_on_millions()

    # when the pages' histories are read in one statement, and each page's alone
    together = recommend.profiles_history_rows(reads)
    alone = _read_one_by_one(reads)

    # then each page's rows are the same bytes, in the same order, with the same bounds
    assert len(together) == len(reads)
    _assert_same_reads(together, alone)
    # and the limits did cut the reads where they are small
    cut = any(rows.impressions_cut for rows in alone)
    assert cut is (shown < 1000)


@pytest.mark.parametrize("batch", [1, 2, 200])
def test_the_page_histories_give_each_page_its_own_read_batch_after_batch(monkeypatch, batch):
    # given the pages of three profiles interleaved in time, some passed over,
    # read ``batch`` pages at a time, and limits that cut the reads
    monkeypatch.setattr(recommend, "HISTORY_MAX_SIGNALS", 7)
    monkeypatch.setattr(recommend, "HISTORY_MAX_IMPRESSIONS", 5)
    monkeypatch.setattr(ranker_training._PageHistories, "BATCH", batch)
    rng = np.random.default_rng(batch)
    region = RegionFactory()
    reads = []
    for n in range(3):
        profile = ProfileFactory(account=AccountFactory(home_region=region))
        pages, moments = _history_world(profile, rng)
        shift = dt.timedelta(minutes=90 * n)  # interleaved with the other profiles' pages
        reads += [
            recommend.HistoryAsOf(profile_id=profile.pk, at=at + shift, unread_pages=pages[k:])
            for k, at in enumerate(moments)
        ]
    order = sorted(range(len(reads)), key=lambda p: reads[p].at)
    _walk_indexes_as_on_millions()

    # when each page asks for its history in time order, one in three passed over
    histories = ranker_training._PageHistories(order, lambda p: reads[p])
    asked = [p for i, p in enumerate(order) if i % 3 != 1]
    given = [histories.of(p) for p in asked]

    # then each page has its own read's rows
    for p, rows in zip(asked, given, strict=True):
        reference = _read_one_by_one([reads[p]])[0]
        assert rows.signals.tobytes() == reference.signals.tobytes()
        assert (rows.complete_after, rows.impressions_cut) == (
            reference.complete_after,
            reference.impressions_cut,
        )
    assert len({rows.signals.tobytes() for rows in given}) == len(given)
