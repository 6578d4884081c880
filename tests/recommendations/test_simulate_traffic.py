"""simulate_traffic, then learning from the logged pages: seed, train, simulate, train again.

One small demo world is built per module (it is the expensive part) and rolled
back afterwards; each test runs in its own savepoint inside it.
"""

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from io import StringIO
from types import SimpleNamespace

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from artwork.selection import artwork_serving
from config.celery import app
from console.moments import local_moment
from profiles.models import Profile
from recommendations.demo import load_hidden_tastes
from recommendations.demo.traffic import row_order_outcomes, traffic_simulate
from recommendations.engine.ranking import hour_bucket
from recommendations.engine.row_ranking import (
    PROFILE_FEATURES,
    ROW_FEATURE_NAMES,
    RowPrior,
    RowRanker,
)
from recommendations.models import ModelVersion, PageLog, Signal, SignalKind
from recommendations.services.evaluation import recommendations_evaluate
from recommendations.services.ranker_training import logged_examples_load
from recommendations.services.training import model_train
from recommendations.serving.bundle import catalogue_cache
from recommendations.serving.cache import model_cache
from recommendations.serving.homepage import (
    FIRST_SCREEN_ROWS,
    homepage_build,
    profile_row_engagement,
    row_ranker_cache,
)
from recommendations.serving.title_tables import title_tables_cache
from tests.conftest import token_client
from tests.module_world import module_world, the_module_world
from tests.recommendations.demo_world import seed_small_demo

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
#: The moment demo_info's and README's preview URLs show: Friday at 21:00.
SHOWCASE_WHEN = {"weekday": 4, "hour": 21}


def _clear_caches() -> None:
    model_cache.clear()
    row_ranker_cache.clear()
    title_tables_cache.clear()


def _simulated_demo() -> SimpleNamespace:
    _clear_caches()
    # One clock for the whole world (today's midnight UTC): the same world all day,
    # where "now" made it move with the minute the suite ran at.
    clock = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    # 120 titles: in fewer, pages below the first screen run out of rows that bring
    # four new titles, and the older pages hold too few row impressions to fit on.
    call_command(
        "seed_demo", "--titles=120", "--profiles=60", "--history=30", "--seed=5",
        f"--as-of={clock.date()}", verbosity=0,
    )  # fmt: skip
    call_command("train_models", f"--at={clock.isoformat()}", verbosity=0)
    before = ModelVersion.objects.get(status="active", region="IN")
    report = traffic_simulate(profiles=40, sessions=18, days=4, seed=1, now=clock)
    call_command("train_models", f"--at={clock.isoformat()}", verbosity=0)
    return SimpleNamespace(report=report, before=before)


_demo = module_world(_simulated_demo, folder="simulate")


@pytest.fixture
def demo(settings, _demo) -> Iterator[SimpleNamespace]:
    yield the_module_world(settings, _demo)
    # A test that trains a version (in its own transaction, rolled back after it) leaves
    # that version's models in this process's caches: the next test must be served the
    # module's world, not those (a Friday/Tuesday test failed after the backwards prior's).
    _clear_caches()


def showcase() -> tuple[Profile, Profile]:
    profiles = Profile.objects.select_related("account").filter(account__name="The Sharmas (demo)")
    by_name = {p.name: p for p in profiles}
    return by_name["Priya"], by_name["Arjun"]


def test_pages_and_signals_go_through_the_real_services(demo):
    report = demo.report
    assert report.pages == PageLog.objects.count() == 720
    assert report.plays > 50
    assert report.scroll_pasts > 0
    plays = Signal.objects.filter(kind=SignalKind.PLAY_START, page_id__isnull=False)
    assert plays.count() == report.plays
    # Every play names the page, row and position that showed it.
    page_ids = set(PageLog.objects.values_list("id", flat=True))
    assert set(plays.values_list("page_id", flat=True)) <= page_ids
    assert not plays.filter(row="").exists()
    impressions = Signal.objects.filter(kind=SignalKind.IMPRESSION, page_id__isnull=False)
    assert impressions.count() == report.impressions


def test_after_simulated_traffic_the_rankers_are_chosen_from_the_logged_pages(demo):
    priya, _ = showcase()
    version = ModelVersion.objects.get(status="active", region="IN")
    assert demo.before.serving_mode == "prior"
    assert version.serving_mode == "learned"
    # The row ranker was fitted on the older logged pages and compared with the prior on
    # the newest; whichever predicted those better serves.
    selection = version.metrics["row_ranker_selection"]
    assert selection["holdout_rows"] > 0
    learned_wins = selection["learned_log_loss"] <= selection["prior_log_loss"]
    assert selection["mode"] == ("learned" if learned_wins else "prior")
    assert version.metrics["row_ranker"] == selection["mode"]

    response = token_client(priya.account).get(f"/api/v1/profiles/{priya.pk}/homepage/?device=tv")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ranker"] == "learned"
    assert body["row_ranker"] == selection["mode"]


def test_served_row_orders_follow_the_profiles_hidden_row_tastes(demo, monkeypatch):
    # given: each simulated profile's hidden taste for row types, per part of the day
    # when: each one's page is built at each part of the day, by the serving row ranker
    # and by one that knows nothing of the profile (its own plays weigh nothing)
    served = hidden_taste_agreement(demo)
    with monkeypatch.context() as blind:
        blind.setattr(row_ranker_cache, "get", lambda bundle: _blind_to_the_profile())
        population = hidden_taste_agreement(demo)

    # then: rows the profile likes at that hour come first, more than they would for anyone
    assert served > population + 0.1
    # and the ranker these pages teach, whichever one the gate kept (at this size the two
    # are close, and the gate keeps either), orders rows about as well as the prior: the
    # world is one per day (its clock is the day's midnight), and over five worlds the
    # difference was -0.01 to +0.05; the demo-scale comparison is bench/row_tastes.py's
    examples = logged_examples_load(region_code="IN", at=timezone.now())
    taught = RowRanker(min_rows=1000, min_positives=50)
    taught.fit(examples.row_features, examples.row_labels)
    assert taught.mode == "learned"
    with monkeypatch.context() as learned:
        learned.setattr(row_ranker_cache, "get", lambda bundle: taught)
        by_the_logs = hidden_taste_agreement(demo)
    with monkeypatch.context() as prior:
        prior.setattr(row_ranker_cache, "get", lambda bundle: RowRanker())
        believed = hidden_taste_agreement(demo)
    assert by_the_logs > believed - 0.05


def test_a_prior_with_the_habits_backwards_is_corrected_by_the_logged_pages(demo, monkeypatch):
    # given: a row prior that reads every profile's habits backwards
    reversed_prior = RowPrior().vector()
    for name in ("affinity", "lift_hour", "lift_device", "lift_week_part"):
        reversed_prior[ROW_FEATURE_NAMES.index(name)] *= -1
    monkeypatch.setattr(RowPrior, "vector", lambda self: reversed_prior.copy())

    # when: the region retrains on the simulated pages
    version = model_train(region_code="IN")
    _clear_caches()

    # then: the model learned from the pages predicted the newest of them better than that
    # prior did, serves, and puts the rows each profile likes first
    selection = version.metrics["row_ranker_selection"]
    assert selection["mode"] == "learned"
    assert selection["learned_log_loss"] < selection["prior_log_loss"]
    assert ModelVersion.objects.get(status="active", region="IN") == version
    learned = hidden_taste_agreement(demo)
    with monkeypatch.context() as blind:
        blind.setattr(row_ranker_cache, "get", lambda bundle: _blind_to_the_profile())
        population = hidden_taste_agreement(demo)
    assert learned > population + 0.1


def hidden_taste_agreement(demo) -> float:
    """Mean rank correlation of each simulated Indian profile's row order with its hidden
    row-type taste, over the four parts of a day (-1 backwards, 0 unrelated, 1 the same)."""
    tastes = load_hidden_tastes()  # the demo fixture's VAR_DIR and database
    scores = row_order_outcomes(tastes=tastes, region="IN").agreement
    assert len(scores) >= 40
    return float(np.mean(scores))


def _blind_to_the_profile() -> RowRanker:
    """The row prior minus the profile's own engagement: type, context and strength only."""
    blind = RowRanker()
    for name in PROFILE_FEATURES:
        blind.coef[ROW_FEATURE_NAMES.index(name)] = 0.0
    return blind


def test_partners_with_opposite_tastes_get_different_pages(demo):
    # given: Priya (romance, Hindi) and Arjun (action, Tamil) share the account
    priya, arjun = showcase()
    at = dt.datetime.now(IST).replace(hour=21, minute=0, second=0, microsecond=0)
    at -= dt.timedelta(days=1)

    # when
    pages = [homepage_build(profile=p, device="tv", at=at) for p in (priya, arjun)]

    # then
    rows = [[r.id for r in page.rows] for page in pages]
    first_screen = [{i.title_id for r in page.rows[:4] for i in r.items} for page in pages]
    assert rows[0] != rows[1]
    assert first_screen[0] != first_screen[1]
    assert [i.title_id for i in pages[0].rows[0].items] != [
        i.title_id for i in pages[1].rows[0].items
    ]


def _last(weekday: int, hour: int) -> dt.datetime:
    now = dt.datetime.now(IST)
    day = now - dt.timedelta(days=(now.weekday() - weekday) % 7 or 7)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def test_friday_night_and_tuesday_afternoon_order_rows_differently(demo):
    # given: the simulated profiles whose plays from rows differ most between Friday night's
    # hour bucket and Tuesday afternoon's (as the simulation acted out their hidden habits)
    friday_at, tuesday_at = _last(4, 21), _last(1, 15)
    night, afternoon = hour_bucket(21), hour_bucket(15)
    now = dt.datetime.now(IST)

    def contrast(profile_id: int) -> float:
        plays = profile_row_engagement(profile_id=profile_id, at=now, zone=IST).plays_by_hour
        return float(np.abs(plays[night] - plays[afternoon]).sum())

    simulated = PageLog.objects.filter(profile__account__home_region="IN")
    ids = sorted(set(simulated.values_list("profile_id", flat=True)), key=contrast, reverse=True)
    assert contrast(ids[0]) >= 3
    profiles = Profile.objects.select_related("account").in_bulk(ids[:5])

    # when: each one's page at the same moment, as asked for on Friday night and on Tuesday
    # afternoon (four titles a row: this catalogue of 80 then fills a page of rows to order)
    def row_types(profile: Profile, at: dt.datetime) -> list[str]:
        page = homepage_build(profile=profile, device="tv", context_at=at, n_items=4)
        return [row.type for row in page.rows]

    orders = [(row_types(p, friday_at), row_types(p, tuesday_at)) for p in profiles.values()]

    # then: the order can differ with the moment (the words), and does for them
    assert all(len(friday) >= 2 for friday, _ in orders)
    assert any(friday != tuesday for friday, tuesday in orders)


def test_if_empty_counts_only_the_demo_profiles_pages(settings, tmp_path, profile):
    """Another household's page (an API test's, a staff member's) is not the demo's traffic:
    make demo must still simulate it, or the demo's rankers stay the prior's."""
    # given: a tiny trained demo, and a page logged for a household outside it
    settings.VAR_DIR = tmp_path / "var"
    settings.TONIGHT = {**settings.TONIGHT, "MODEL_VERSION_CHECK_SECONDS": 0}
    _clear_caches()
    call_command(
        "seed_demo", "--flush", "--titles=20", "--profiles=3", "--history=1", "--seed=3",
        "--as-of=2025-06-01", verbosity=0,
    )  # fmt: skip
    call_command("train_models", "--at=2025-06-01T00:00Z", verbosity=0)
    client = token_client(profile.account)
    response = client.get(f"/api/v1/profiles/{profile.pk}/homepage/?device=tv")
    assert response.status_code == 200
    assert PageLog.objects.filter(profile=profile).exists()

    # when
    call_command("simulate_traffic", "--if-empty", "--profiles=1", "--sessions=1", verbosity=0)

    # then: the demo's profile browsed
    assert PageLog.objects.exclude(profile=profile).count() == 1
    _clear_caches()


def test_a_database_without_the_demo_is_refused_not_simulated_for_no_one(profile):
    # given: a household of its own (an import's, the API's), and no demo
    stderr = StringIO()

    # when / then: it says what is missing; it said "Simulated 0 pages for 0 profiles" and
    # exited 0, after a bar of no pages
    with pytest.raises(CommandError, match=r"No demo profiles to drive: run seed_demo first"):
        call_command("simulate_traffic", stdout=StringIO(), stderr=stderr)
    assert stderr.getvalue() == ""
    assert not PageLog.objects.exists()


def test_a_demo_nothing_serves_yet_is_refused_before_any_progress_bar(settings, tmp_path):
    # given: a seeded demo, not trained
    seed_small_demo(settings, tmp_path, titles=20, profiles=3, seed=3)
    stderr = StringIO()

    # when / then: the refusal alone; a bar of 0 pages stood above it
    with pytest.raises(CommandError, match=r"run `manage.py train_models`"):
        call_command("simulate_traffic", stdout=StringIO(), stderr=stderr)
    assert stderr.getvalue() == ""
    assert not PageLog.objects.exists()


def test_if_empty_does_not_simulate_twice(demo):
    call_command("simulate_traffic", "--if-empty", "--profiles=2", "--sessions=1", verbosity=0)

    assert PageLog.objects.count() == demo.report.pages


def test_simulate_traffic_until_a_moment_puts_every_session_before_it(demo):
    until = timezone.now() - dt.timedelta(days=3)
    logged = set(PageLog.objects.values_list("id", flat=True))

    call_command(
        "simulate_traffic", "--profiles=3", "--sessions=2", "--days=1",
        f"--until={until.isoformat()}", verbosity=0,
    )  # fmt: skip

    pages = PageLog.objects.exclude(id__in=logged).values_list("generated_at", flat=True)
    assert len(pages) == 6
    assert all(until - dt.timedelta(days=2) < at < until for at in pages)
    tomorrow = (timezone.now() + dt.timedelta(days=1)).date().isoformat()
    with pytest.raises(CommandError, match=r"--until: .* is in the future"):
        call_command("simulate_traffic", f"--until={tomorrow}", verbosity=0)
    with pytest.raises(CommandError, match="--until: 'soon' is not an ISO 8601"):
        call_command("simulate_traffic", "--until=soon", verbosity=0)


def test_a_seed_and_a_clock_give_the_same_pages_and_signals(demo):
    # given: the demo world, and one moment the simulation runs up to
    now = timezone.now()

    def simulated() -> tuple[list, list]:
        """What one simulation wrote, undone afterwards."""
        # Each run reads serving's tables afresh, as a new simulate_traffic process would
        # (and never in the background: tests/conftest.py, _no_background_rereads).
        _clear_caches()
        catalogue_cache.clear()
        artwork_serving.clear()
        pages_before = set(PageLog.objects.values_list("id", flat=True))
        last_signal = Signal.objects.order_by("-id").values_list("id", flat=True).first()
        with transaction.atomic():
            undo = transaction.savepoint()
            traffic_simulate(profiles=10, sessions=3, days=2, seed=11, now=now)
            pages = list(
                PageLog.objects.exclude(id__in=pages_before)
                .order_by("id")
                .values_list("id", "profile_id", "generated_at", "hour", "rows", "items")
            )
            signals = list(
                Signal.objects.filter(id__gt=last_signal)
                .order_by("id")
                .values_list(
                    "profile_id",
                    "title_id",
                    "kind",
                    "value",
                    "occurred_at",
                    "page_id",
                    "row",
                    "position",
                    "artwork_variant_id",
                )
            )
            transaction.savepoint_rollback(undo)
        return pages, signals

    # when: it runs twice from the same state
    first, second = simulated(), simulated()

    # then: the same pages (ids, rows, titles, artwork) and the same viewer signals
    assert len(first[0]) == 30
    assert len(first[1]) > 30
    assert first == second


def test_the_offline_evaluation_ranks_with_the_ranker_a_training_at_the_cut_would_serve(demo):
    # when: the logged pages are evaluated offline, and again with the page logs ignored
    report = recommendations_evaluate(random_state=0)
    unlogged = recommendations_evaluate(random_state=0, learn_from_logs=False)

    # then: Tonight's row used the ranker learned from the pages logged before the cut
    assert report.by_name("Tonight").ranker == "learned"
    # and the prior blend's row is the same models ranked by the prior: exactly what
    # Tonight measures when no page log is read
    blend = report.by_name("Tonight, prior blend")
    assert blend.ranker == unlogged.by_name("Tonight").ranker == "prior"
    assert blend.metrics == unlogged.by_name("Tonight").metrics
    assert report.by_name("Tonight").metrics != blend.metrics
    assert [r.name for r in unlogged.results] == ["most-popular", "plain ALS", "Tonight"]


def test_after_make_demos_retrain_the_showcase_still_tells_the_readmes_story(
    demo, monkeypatch, django_capture_on_commit_callbacks
):
    """README's "See it": make demo ends by retraining every taste cluster, after which
    Priya and Arjun are served by their clusters' versions, not the region's this
    module's other tests see. The story must hold of those pages: opposite tastes
    give different first screens, and Continue Watching sits higher for Arjun, who
    resumes, than for Priya, who starts new things (or is not on her page at all)."""
    # given: the retrain make demo runs, in this process as it is without a broker
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("retrain", "--all", "--if-empty", stdout=StringIO())
    _clear_caches()
    priya, arjun = showcase()

    # when: their pages at the showcase moment, as the console's preview builds them
    at = local_moment(**SHOWCASE_WHEN, zone=IST, now=timezone.now())
    pages = {p.name: homepage_build(profile=p, device="tv", at=at) for p in (priya, arjun)}

    # then: each is served by its taste cluster's own version
    served = ModelVersion.objects.in_bulk([page.model_version for page in pages.values()])
    assert {v.scope for v in served.values()} == {ModelVersion.Scope.CLUSTER}
    assert len(served) == 2
    # and their first screens differ
    first_screen = [
        {i.title_id for r in page.rows[:FIRST_SCREEN_ROWS] for i in r.items}
        for page in pages.values()
    ]
    assert first_screen[0] != first_screen[1]

    # and Continue Watching is higher on Arjun's page than on Priya's, if hers has it
    def resume_row(name: str) -> float:
        types = [row.type for row in pages[name].rows]
        return types.index("continue_watching") if "continue_watching" in types else np.inf

    assert resume_row("Arjun") < resume_row("Priya")
