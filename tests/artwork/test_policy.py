"""The artwork bandit in the product: choices on real pages, learning from attributed plays."""

import datetime as dt
import itertools
import uuid
from io import StringIO

import pytest
from django.core import checks
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F, Sum
from django.test.utils import CaptureQueriesContext

from artwork.models import ArtworkPolicy, ArtworkTheme, ArtworkVariant, ArtworkVariantDaily
from artwork.selection import artwork_choose, artwork_reasons, artwork_serving
from artwork.selectors import artwork_upload_grace, artwork_variant_stats
from artwork.services import artwork_policy_update, artwork_variants_set_active
from catalog.models import MaturityLevel
from recommendations.models import PageLog
from recommendations.selectors.attribution import (
    attribution_window,
    page_impressions_attributed,
)
from recommendations.selectors.signals import signal_clock_skew
from recommendations.services.homepage import homepage_render
from recommendations.services.training import model_train
from recommendations.serving.homepage import homepage_build
from tests.factories import (
    AccountFactory,
    ArtworkThemeFactory,
    ArtworkVariantFactory,
    ProfileFactory,
)
from tests.module_world import module_world, the_module_world
from tests.recommendations.homepage_world import NOW, build_home_world
from tests.recommendations.test_page_log import play
from tests.recommendations.test_training import _fresh_serving, watch  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _artwork_checked_every_page(settings):
    """Serving asks for changed variants and policies on every page (production: each second)."""
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_CHECK_SECONDS": 0}


@pytest.fixture
def household(_household, settings, db) -> tuple:
    return the_module_world(settings, _household)


def _household_build() -> tuple:
    world = build_home_world()
    action = ArtworkThemeFactory(slug="action", name="Action")
    romance = ArtworkThemeFactory(slug="romance", name="Romance")
    frames = {}
    for title in world.all_titles():
        a = ArtworkVariantFactory(title=title, label=f"{title.pk} chase")
        a.themes.add(action)
        r = ArtworkVariantFactory(title=title, label=f"{title.pk} kiss")
        r.themes.add(romance)
        frames[a.pk] = "action"
        frames[r.pk] = "romance"
    # Made before every page the tests log, as staff make frames before pages show them
    # (evaluation scores a page over the frames created by its time).
    ArtworkVariant.objects.update(created_at=NOW - dt.timedelta(days=90))
    account = AccountFactory(home_region=world.region)
    fan_a = ProfileFactory(account=account, name="Action fan")
    fan_r = ProfileFactory(account=account, name="Romance fan")
    for i, title in enumerate(world.titles["action"][:5]):
        watch(fan_a, title, days_ago=20 + i)
    for i, title in enumerate(world.titles["romance"][:5]):
        watch(fan_r, title, days_ago=20 + i)
    model_train(region_code=world.region.code)
    fan_a.refresh_from_db()
    fan_r.refresh_from_db()
    return world, fan_a, fan_r, frames


# An action fan and a romance fan in one account; every film has two frames.
#
# One frame is themed action, the other romance. Built and trained once for the module
# (tests/module_world.py); the test that must commit is in test_policy_warm_process.
_household = module_world(_household_build, folder="household")


def _items(page):
    return [item for row in page.rows for item in row.items]


def test_every_title_gets_artwork_with_the_propensity_it_was_chosen_with(household):
    world, fan_a, _, frames = household
    # A film the action fan has not watched, so it is on the page: the placeholder branch
    # below must run, not only the framed one.
    bare = world.titles["comedy"][7]
    ArtworkVariant.objects.filter(title=bare).delete()
    artwork_serving.clear()
    page = homepage_render(profile=fan_a, device="tv", at=NOW)
    items = _items(page)
    assert bare.pk in {item.title_id for item in items}
    for item in items:
        if item.title_id == bare.pk:
            assert item.variant_id is None
            assert item.propensity == 1.0
            assert item.artwork_path.endswith("placeholder.svg")
        else:
            assert item.variant_id in frames
            # Two arms and a floor of 0.1: never below 0.05, never certain.
            assert 0.05 - 1e-9 <= item.propensity <= 0.95 + 1e-9
    logged = PageLog.objects.get(pk=page.page_id)
    assert [i[3] for i in logged.items] == [item.variant_id for item in items]
    assert [i[4] for i in logged.items] == pytest.approx([item.propensity for item in items])
    assert logged.taste
    assert max(logged.taste, key=logged.taste.get) == "action"


def test_kids_never_get_a_frame_above_their_limit_and_fall_back_to_the_placeholder(household):
    world, *_ = household
    kid = ProfileFactory(
        account=AccountFactory(home_region=world.region),
        name="Kid",
        is_kids=True,
        maturity_limit=MaturityLevel.SEVEN,
    )
    ArtworkVariant.objects.update(maturity=MaturityLevel.SIXTEEN)
    only_mild = world.titles["comedy"][:4]
    ArtworkVariant.objects.filter(title__in=only_mild, label__endswith="kiss").update(
        maturity=MaturityLevel.ALL
    )
    artwork_serving.clear()
    mild = set(
        ArtworkVariant.objects.filter(maturity__lte=MaturityLevel.SEVEN).values_list(
            "pk", flat=True
        )
    )
    seen_placeholder = seen_mild = False
    for hour in range(0, 24, 3):
        page = homepage_build(profile=kid, device="tv", at=NOW.replace(hour=hour))
        for item in _items(page):
            assert item.variant_id is None or item.variant_id in mild
            seen_placeholder |= item.variant_id is None
            seen_mild |= item.variant_id in mild
    assert seen_placeholder
    assert seen_mild


def test_a_deactivated_variant_is_never_served_again(household):
    _, fan_a, _, _ = household
    served = {i.variant_id for i in _items(homepage_build(profile=fan_a, device="tv", at=NOW))}
    off = ArtworkVariant.objects.filter(pk__in=list(served)[:10])
    assert artwork_variants_set_active(variants=off, active=False) == 10
    gone = set(off.values_list("pk", flat=True))
    # No cache clearing here: serving notices the change by itself.
    for hour in range(0, 24, 2):
        page = homepage_build(profile=fan_a, device="tv", at=NOW.replace(hour=hour))
        assert not gone & {i.variant_id for i in _items(page)}


def _browse_and_play(world, profiles, frames, *, days: int, pages_per_day: int) -> int:
    """Profiles open homepages in the past and start titles of their genres in their frame.

    The action fan starts action and drama titles shown with an action frame, the
    romance fan romance and comedy titles shown with a romantic one: their tastes
    stay apart as their histories grow, as real viewers' do.
    """
    likes = {
        profiles[0].pk: ("action", {"action", "drama"}),
        profiles[1].pk: ("romance", {"romance", "comedy"}),
    }
    genre_of = {t.pk: g for g, films in world.titles.items() for t in films}
    plays = 0
    for day in range(days, 0, -1):
        for k in range(pages_per_day):
            at = NOW - dt.timedelta(days=day, hours=k * 3)
            for profile in profiles:
                theme, genres = likes[profile.pk]
                page = homepage_render(profile=profile, device="tv", at=at, n_rows=4, n_items=8)
                for item in _items(page)[:16]:
                    if (
                        item.variant_id
                        and frames[item.variant_id] == theme
                        and genre_of[item.title_id] in genres
                    ):
                        play(
                            profile,
                            item.title_id,
                            at + dt.timedelta(minutes=5),
                            page_id=page.page_id,
                            variant=item.variant_id,
                        )
                        plays += 1
    return plays


def test_the_policy_learns_opposite_frames_for_two_partners_and_serving_picks_it_up(household):
    world, fan_a, fan_r, frames = household
    plays = _browse_and_play(world, [fan_a, fan_r], frames, days=6, pages_per_day=3)
    assert plays > 50

    policy = artwork_policy_update(now=NOW)
    assert policy is not None
    assert policy.kind == ArtworkPolicy.Kind.FULL
    assert policy.n_plays == plays
    assert policy.n_impressions == sum(
        1 for page in PageLog.objects.all() for item in page.items if item[3] is not None
    )

    # Page ids seed the pages' artwork draws: fixed ones make the draws, and the test,
    # the same on every run (new ids drew differently each run: 11 of 22 differed once).
    page_ids = (uuid.UUID(int=n) for n in itertools.count(1))

    def page(profile, hour: int):
        at = NOW.replace(hour=hour)
        return homepage_build(profile=profile, device="tv", at=at, page_id=next(page_ids))

    def share(profile, theme: str) -> float:
        chosen = [
            frames[item.variant_id]
            for hour in (9, 13, 20)
            for item in _items(page(profile, hour))
            if item.variant_id
        ]
        return chosen.count(theme) / len(chosen)

    # At the prior the two frames are a coin flip; learned, each partner mostly sees their own.
    assert share(fan_a, "action") > 0.75
    assert share(fan_r, "romance") > 0.75
    # The same title, different pictures: titles on both partners' pages.
    shown_a: dict[int, list[str]] = {}
    shown_r: dict[int, list[str]] = {}
    for hour in (8, 12, 16, 21):
        for profile, shown in ((fan_a, shown_a), (fan_r, shown_r)):
            for item in _items(page(profile, hour)):
                if item.variant_id:
                    shown.setdefault(item.title_id, []).append(frames[item.variant_id])
    both = sorted(set(shown_a) & set(shown_r))
    assert len(both) >= 5
    differ = [t for t in both if shown_a[t][0] != shown_r[t][0]]
    assert len(differ) > len(both) / 2


def test_incremental_updates_fold_only_closed_new_pages_and_count_take_rates(household):
    world, fan_a, fan_r, frames = household
    _browse_and_play(world, [fan_a, fan_r], frames, days=3, pages_per_day=1)
    first = artwork_policy_update(now=NOW - dt.timedelta(days=1))
    assert first is not None
    # Nothing new: no new version.
    assert artwork_policy_update(now=NOW - dt.timedelta(days=1)) is None
    second = artwork_policy_update(now=NOW)
    assert second is not None
    assert second.parent_id == first.pk
    assert second.kind == ArtworkPolicy.Kind.INCREMENTAL
    assert second.n_impressions == first.n_impressions + second.n_new
    total = sum(1 for page in PageLog.objects.all() for item in page.items if item[3] is not None)
    assert second.n_impressions == total

    # The daily roll-ups hold the same impressions, and a full refit recomputes them exactly.
    assert sum(ArtworkVariantDaily.objects.values_list("impressions", flat=True)) == total
    artwork_policy_update(now=NOW, full=True)
    assert sum(ArtworkVariantDaily.objects.values_list("impressions", flat=True)) == total

    variant = ArtworkVariantDaily.objects.order_by("-plays").first().variant
    tv = next(
        s for s in artwork_variant_stats(variant=variant, today=NOW.date()) if s.device == "tv"
    )
    rows = ArtworkVariantDaily.objects.filter(variant=variant, device="tv")
    assert tv.impressions == sum(r.impressions for r in rows)
    assert tv.plays == sum(r.plays for r in rows) > 0
    assert tv.low <= tv.take_rate <= tv.high
    assert 0 < tv.share <= 1


def _noon_pages(profile, days: int) -> tuple[dt.datetime, int]:
    """A page at noon on each of ``days`` days, the first three days before ``NOW``'s; the
    first noon and how many frames the pages logged."""
    t0 = (NOW - dt.timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    for day in range(days):
        homepage_render(profile=profile, device="tv", at=t0 + dt.timedelta(days=day))
    frames = sum(1 for page in PageLog.objects.all() for item in page.items if item[3] is not None)
    return t0, frames


def _figures() -> set[tuple]:
    return set(
        ArtworkVariantDaily.objects.values_list(
            "variant_id", "device", "day", "impressions", "plays"
        )
    )


def test_a_refit_deletes_its_window_a_bounded_batch_a_statement_and_rebuilds_it_alike(household):
    # given: three days of pages folded by incremental updates
    _, fan_a, _, _ = household
    t0, frames = _noon_pages(fan_a, 3)
    artwork_policy_update(now=t0 + dt.timedelta(days=1, hours=6))
    artwork_policy_update(now=t0 + dt.timedelta(days=2, hours=6))
    before = _figures()
    assert sum(row[3] for row in before) == frames
    assert len({row[2] for row in before}) == 3

    # when: a full refit deletes them two rows a statement (a window of many batches)
    deleted: list[int] = []

    def count_deletes(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith("DELETE") and ArtworkVariantDaily._meta.db_table in sql:
            deleted.append(context["cursor"].rowcount)
        return result

    with connection.execute_wrapper(count_deletes):
        refit = artwork_policy_update(
            now=t0 + dt.timedelta(days=2, hours=6), full=True, batch_size=2
        )

    # then: no statement deleted more than two, all of them were deleted, and the figures
    # rebuilt are those the chain had added, day by day
    assert refit.kind == ArtworkPolicy.Kind.FULL
    assert max(deleted) <= 2, deleted
    assert sum(deleted) == len(before)
    assert _figures() == before
    # and: a refit that deletes them in one batch a day rebuilds the same
    artwork_policy_update(now=t0 + dt.timedelta(days=2, hours=6), full=True)
    assert _figures() == before


def test_an_update_locks_the_variants_it_writes_for_in_one_statement_whatever_their_days(
    household,
):
    # given: a policy that folded the first of three days of pages
    _, fan_a, _, _ = household
    t0, _ = _noon_pages(fan_a, 3)
    artwork_policy_update(now=t0 + dt.timedelta(hours=16), full=True)
    table = ArtworkVariantDaily._meta.db_table

    # when: an update folds the other two days, and a refit rewrites all three
    with CaptureQueriesContext(connection) as update:
        artwork_policy_update(now=t0 + dt.timedelta(days=2, hours=23))
    with CaptureQueriesContext(connection) as refit:
        artwork_policy_update(now=t0 + dt.timedelta(days=2, hours=23), full=True)

    # then: the update locked the variants of both days in one statement (as a deletion
    # locks them, in id order: the two cannot deadlock) before one statement of figures;
    # the refit once for each day, all three before the update's watermark and each
    # committed on its own, and once in the transaction that stores it (the variants of
    # the figures after its window, which it deletes: none here): a statement a
    # transaction, however many variants
    written = ArtworkVariantDaily.objects.filter(day__gt=t0.date())
    assert written.values("variant").distinct().count() > 2
    assert len({day for day in written.values_list("day", flat=True)}) == 2
    for queries, expected in [
        (update, ["lock", "insert"]),
        (refit, ["lock", "insert"] * 3 + ["lock"]),
    ]:
        sqls = [query["sql"] for query in queries.captured_queries]
        steps = [
            "lock" if sql.endswith("FOR KEY SHARE") else "insert"
            for sql in sqls
            if sql.endswith("FOR KEY SHARE") or f'INSERT INTO "{table}"' in sql
        ]
        assert steps == expected


def test_a_refit_that_fails_leaves_no_page_to_be_counted_twice(household, monkeypatch):
    # given: pages on three days, the first two folded by the chain of updates
    _, fan_a, _, _ = household
    t0, frames = _noon_pages(fan_a, 3)
    artwork_policy_update(now=t0 + dt.timedelta(days=1, hours=6))
    first_day = ArtworkVariantDaily.objects.filter(day=t0.date())
    first_day_figures = set(first_day.values_list("variant_id", "impressions", "plays"))
    first_day.update(impressions=F("impressions") + 1000)  # stale: the refit rewrites them

    # when: a refit over all three fails as it stores its policy (the days the chain had
    # folded whole are rewritten by then, each in its own transaction)
    def full_disk(params):
        raise OSError("no space left on device")

    monkeypatch.setattr("artwork.services.policy_write", full_disk)
    with pytest.raises(OSError, match="no space"):
        artwork_policy_update(now=t0 + dt.timedelta(days=2, hours=6), full=True)
    monkeypatch.undo()
    # then: the first day, which the chain had folded whole, was rewritten and stays so
    assert set(first_day.values_list("variant_id", "impressions", "plays")) == first_day_figures
    # and: the next incremental update folds from the chain's watermark
    update = artwork_policy_update(now=t0 + dt.timedelta(days=2, hours=6))

    # then: the third day's page is counted once, by that update, not by the refit too
    assert update.kind == ArtworkPolicy.Kind.INCREMENTAL
    assert update.n_impressions == frames
    assert sum(row[3] for row in _figures()) == frames


def test_incremental_updates_credit_a_play_once_when_its_pages_straddle_a_boundary(household):
    # given two pages minutes apart that both show two titles, and two plays after the
    # second: one names its page, one does not (the session rule credits the latest page)
    _, fan_a, _, _ = household
    t0 = (NOW - dt.timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    first = homepage_render(profile=fan_a, device="tv", at=t0)
    second = homepage_render(profile=fan_a, device="tv", at=t0 + dt.timedelta(minutes=6))
    on_first = {item.title_id for item in _items(first)}
    on_second = {item.title_id: item.variant_id for item in _items(second)}
    named, unnamed = [t for t in on_second if t in on_first and on_second[t]][:2]
    play(
        fan_a,
        named,
        t0 + dt.timedelta(minutes=10),
        page_id=second.page_id,
        variant=on_second[named],
    )
    play(fan_a, unnamed, t0 + dt.timedelta(minutes=12))
    # A page is folded once its window, the clock skew a play's stamp may lag by and the
    # grace for late uploads passed.
    window = attribution_window() + signal_clock_skew() + artwork_upload_grace()

    # when the policy is updated incrementally with a boundary between the pages
    before = artwork_policy_update(now=t0 + dt.timedelta(minutes=3) + window)
    last = artwork_policy_update(now=t0 + dt.timedelta(minutes=8) + window)
    daily = ArtworkVariantDaily.objects.filter(day=t0.date()).aggregate(p=Sum("plays"))["p"]

    # then each play was rewarded once, on the second page, as a full refit rewards it
    assert (before.n_plays, last.n_plays) == (0, 2)
    full = artwork_policy_update(now=t0 + dt.timedelta(minutes=8) + window, full=True)
    assert full.n_plays == last.n_plays
    refit_daily = ArtworkVariantDaily.objects.filter(day=t0.date()).aggregate(p=Sum("plays"))
    assert refit_daily["p"] == daily
    labelled = page_impressions_attributed(since=t0, until=t0 + dt.timedelta(minutes=8))
    credited = [labelled.page_ids[p] for p in labelled.page[labelled.played]]
    assert credited == [second.page_id, second.page_id]


def test_a_play_stamped_before_an_update_but_received_after_it_is_credited_by_the_chain(household):
    # given a page, and an update that runs a minute after the page's session window (and
    # the grace for late uploads) passed
    _, fan_a, _, _ = household
    t0 = (NOW - dt.timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    page = homepage_render(profile=fan_a, device="tv", at=t0)
    shown = next(item for item in _items(page) if item.variant_id)
    window = attribution_window() + artwork_upload_grace()
    artwork_policy_update(now=t0 + window + dt.timedelta(minutes=1))

    # when a play of the page's title arrives after that update, stamped within the window
    # by a client clock three minutes behind the server's (within the tolerated skew), and
    # the five-minute updates go on
    play(
        fan_a,
        shown.title_id,
        t0 + attribution_window() - dt.timedelta(minutes=2),
        page_id=page.page_id,
        variant=shown.variant_id,
    )
    for minutes in (6, 11, 16):
        artwork_policy_update(now=t0 + window + dt.timedelta(minutes=minutes))
    chain = ArtworkPolicy.objects.order_by("-pk").first()

    # then the chain of updates rewarded the impression, as the full refit does
    full = artwork_policy_update(now=t0 + window + dt.timedelta(minutes=16), full=True)
    assert full.n_plays == 1
    assert chain.n_plays == full.n_plays


def test_a_play_uploaded_after_its_pages_window_closed_is_credited_by_the_updates(household):
    # given a policy folded up to a day ago, then a page, and beat's five-minute updates
    # running on past the page's session window and clock skew
    _, fan_a, _, _ = household
    t0 = (NOW - dt.timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    homepage_render(profile=fan_a, device="tv", at=t0 - dt.timedelta(days=1))
    assert artwork_policy_update(now=t0, full=True) is not None
    page = homepage_render(profile=fan_a, device="tv", at=t0)
    shown = next(item for item in _items(page) if item.variant_id)
    closes = t0 + attribution_window() + signal_clock_skew()
    grace = artwork_upload_grace()
    step = dt.timedelta(minutes=5)
    updates = [closes + step * k for k in range(1, int((grace + 4 * step) / step))]

    # when a phone that batches its signals uploads, halfway through the grace, a play it
    # stamped ten minutes after the page, while the updates go on
    for at in updates:
        if at - step < closes + grace / 2 <= at:
            play(
                fan_a,
                shown.title_id,
                t0 + dt.timedelta(minutes=10),
                page_id=page.page_id,
                variant=shown.variant_id,
            )
        artwork_policy_update(now=at)
    chain = ArtworkPolicy.objects.order_by("-pk").first()
    daily = ArtworkVariantDaily.objects.filter(day=t0.date()).aggregate(p=Sum("plays"))["p"]

    # then the updates folded the page once the grace had passed, with its play: the
    # policy and the daily take rates credit it, as the full refit does
    assert chain.kind == ArtworkPolicy.Kind.INCREMENTAL
    assert chain.trained_through > t0
    assert (chain.n_plays, daily) == (1, 1)
    full = artwork_policy_update(now=updates[-1], full=True)
    assert full.n_plays == chain.n_plays


def test_serving_picks_up_a_new_policy_without_restart(household):
    world, fan_a, fan_r, frames = household
    homepage_build(profile=fan_a, device="tv", at=NOW)
    assert artwork_serving.get().policy_id is None  # the prior
    _browse_and_play(world, [fan_a, fan_r], frames, days=2, pages_per_day=1)
    policy = artwork_policy_update(now=NOW)
    homepage_build(profile=fan_a, device="tv", at=NOW)
    assert artwork_serving.get().policy_id == policy.pk


def test_evaluation_reports_ips_and_snips_and_refuses_logs_without_propensities(household):
    world, fan_a, fan_r, frames = household
    _browse_and_play(world, [fan_a, fan_r], frames, days=6, pages_per_day=2)
    out = StringIO()
    call_command("evaluate_artwork_policy", "--days", "3", stdout=out)
    text = out.getvalue()
    assert "logging policy" in text
    assert "uniform random" in text
    assert "IPS" in text
    assert "SNIPS" in text

    # Pages logged by the deterministic default artwork (propensity 1 of two frames).
    for page in PageLog.objects.all():
        page.items = [[*item[:4], 1.0] for item in page.items]
        page.save(update_fields=["items"])
    with pytest.raises(CommandError, match="propensity 1 among several variants"):
        call_command("evaluate_artwork_policy", "--days", "3", stdout=StringIO())
    for page in PageLog.objects.all():
        page.items = [[*item[:4], None] for item in page.items]
        page.save(update_fields=["items"])
    with pytest.raises(CommandError, match="have no propensity"):
        call_command("evaluate_artwork_policy", "--days", "3", stdout=StringIO())


def test_evaluation_reports_how_many_impressions_each_estimate_is_worth(household):
    # given: pages logged by the bandit, with their propensities
    from artwork.evaluation import artwork_policy_evaluate

    world, fan_a, fan_r, frames = household
    _browse_and_play(world, [fan_a, fan_r], frames, days=6, pages_per_day=2)

    # when: a candidate is estimated from them
    result = artwork_policy_evaluate(days=3)
    out = StringIO()
    call_command("evaluate_artwork_policy", "--days", "3", stdout=out)

    # then: every reweighted estimate says what the reweighted log is worth (Kish's effective
    # sample size), the diagnostic that tells a trustworthy interval from one where the
    # candidate goes where the logs have little data; the observed rate needs none
    reweighted = [row for row in result.rows if row.estimator in ("IPS", "SNIPS")]
    assert len(reweighted) == 4
    for row in reweighted:
        assert 0 < row.effective_sample_size <= row.n
    observed = next(row for row in result.rows if row.estimator == "observed")
    assert observed.effective_sample_size is None
    header = out.getvalue().splitlines()[1]
    assert "ESS" in header
    uniform_ips = next(
        line for line in out.getvalue().splitlines() if line.startswith("uniform random  ")
    )
    ess = next(row for row in reweighted if row.name == "uniform random")
    assert f"{ess.effective_sample_size:.0f}" in uniform_ips


def _frames_added_after_the_pages(world, at):
    """Staff add a third frame to every title at ``at``, after the logged pages."""
    for title in world.all_titles():
        ArtworkVariantFactory(title=title, label=f"{title.pk} poster")
    ArtworkVariant.objects.filter(label__endswith=" poster").update(created_at=at)


def test_evaluation_scores_each_page_over_the_frames_it_could_have_shown(household):
    # given pages logged over two frames per title, and the estimates made from them
    from artwork.evaluation import artwork_policy_evaluate

    world, fan_a, fan_r, frames = household
    _browse_and_play(world, [fan_a, fan_r], frames, days=6, pages_per_day=2)
    before = artwork_policy_evaluate(days=3, now=NOW)

    # when staff add a frame to every title after the pages (before the evaluation)
    _frames_added_after_the_pages(world, NOW - dt.timedelta(hours=12))
    after = artwork_policy_evaluate(days=3, now=NOW)
    out = StringIO()
    call_command("evaluate_artwork_policy", "--days", "3", stdout=out)

    # then no estimate moves: no page could have shown the new frames, so neither the
    # candidate nor uniform random is scored as if it could; the evaluation says how much
    # of the candidate's probability today's frames would have taken
    assert [(r.name, r.estimator, r.value, r.low, r.high) for r in after.rows] == [
        (r.name, r.estimator, r.value, r.low, r.high) for r in before.rows
    ]
    assert before.excluded_share == 0
    assert 0 < after.excluded_share < 1
    assert "added since their page" in out.getvalue()


def test_uniform_random_is_estimated_at_its_true_take_rate_after_frames_are_added(household):
    # given pages logged by uniform random over each title's two frames (propensity 1/2):
    # uniform random's true take rate on them is the observed one
    from artwork.evaluation import artwork_policy_evaluate

    world, fan_a, fan_r, frames = household
    _browse_and_play(world, [fan_a, fan_r], frames, days=6, pages_per_day=2)
    for page in PageLog.objects.all():
        page.items = [[*item[:4], 0.5 if item[3] else item[4]] for item in page.items]
        page.save(update_fields=["items"])

    # when a third frame is added to every title after the pages
    _frames_added_after_the_pages(world, NOW - dt.timedelta(hours=12))
    result = artwork_policy_evaluate(days=3, now=NOW)

    # then IPS and SNIPS give uniform random exactly that rate (each page's frames were
    # two, not three: scored 1/3 against 1/2, IPS came out at two thirds of it)
    observed = next(row for row in result.rows if row.estimator == "observed")
    uniform = [row for row in result.rows if row.name == "uniform random"]
    assert observed.value > 0
    assert [row.value for row in uniform] == pytest.approx([observed.value] * 2)


def test_evaluation_refuses_a_holdout_candidate_fitted_on_nothing(household):
    # given: every page inside the window evaluated, none before it
    world, fan_a, fan_r, frames = household
    _browse_and_play(world, [fan_a, fan_r], frames, days=2, pages_per_day=2)

    # when / then: the holdout policy would be the prior that logged the window
    with pytest.raises(CommandError, match="No closed pages before the window"):
        call_command("evaluate_artwork_policy", "--days", "30", stdout=StringIO())


def test_new_variants_are_explored_from_their_first_page(household):
    """A frame added after the policy learned gets the exploration floor's share on every
    page from the first one. (Pages draw from their page id; 400 seeded choices make the
    "shown" check deterministic, where 24 random pages missed it about one run in five.)"""
    world, fan_a, fan_r, frames = household
    _browse_and_play(world, [fan_a, fan_r], frames, days=3, pages_per_day=1)
    artwork_policy_update(now=NOW)
    title = world.titles["action"][6]
    fresh = ArtworkVariantFactory(title=title, label="new frame")

    # when: the first page after the frame arrived, and the title's choice on 400 pages
    page = homepage_build(profile=fan_a, device="tv", at=NOW)
    choices = [
        artwork_choose(
            title_ids=[title.pk],
            device="tv",
            maturity_limit=fan_a.maturity_limit,
            taste=page.taste,
            hour=page.context.hour,
            seed=seed,
        )
        for seed in range(400)
    ]

    # then: every page gives the new frame at least the floor's share, and pages show it
    floor = artwork_serving.get().policy.bandit.floor
    assert floor > 0
    for picks in choices:
        (reasons,) = artwork_reasons(picks).values()
        chance = {reason.variant_id: reason.probability for reason in reasons}
        assert chance[fresh.pk] >= floor / len(chance) - 1e-12
    assert fresh.pk in {int(picks.variant[0]) for picks in choices}


def test_install_schedules_includes_the_policy_update():
    from django_celery_beat.models import PeriodicTask

    call_command("install_schedules", stdout=StringIO())
    task = PeriodicTask.objects.get(name="update artwork policy")
    assert task.task == "artwork.update_policy"
    assert task.interval.every == 300


def test_admin_shows_take_rates_by_device_with_intervals_and_a_chart(household, admin_client):
    world, fan_a, fan_r, frames = household
    _browse_and_play(world, [fan_a, fan_r], frames, days=2, pages_per_day=1)
    out = StringIO()
    call_command("update_artwork_policy", "--full", stdout=out, stderr=StringIO())
    assert "new impressions" in out.getvalue()
    variant = ArtworkVariantDaily.objects.order_by("-plays").first().variant
    page = admin_client.get(f"/admin/artwork/artworkvariant/{variant.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "95% interval" in html
    assert "share of its title's impressions, last 7 days" in html
    assert 'aria-label="Take rate by device class"' in html
    assert "<rect" in html
    listing = admin_client.get("/admin/artwork/artworkvariant/?o=-9")
    assert listing.status_code == 200
    assert admin_client.get("/admin/artwork/artworkpolicy/").status_code == 200
    # The staff console charts the same figures, and the policy's versions.
    console = admin_client.get("/console/artwork/")
    assert console.status_code == 200
    text = console.content.decode()
    assert text.count('aria-label="Take rate by device class"') >= 2
    assert "Impressions learned from" in text
    assert "an incremental update every 5 minutes and a full refit nightly" in text
    # It charts the most shown variants (the most played one need not be among them).
    most_shown = (
        ArtworkVariant.objects.annotate(shown=Sum("daily__impressions"))
        .filter(shown__gt=0)
        .order_by("-shown", "pk")
        .first()
    )
    assert f"#{most_shown.pk} " in text


def test_a_retagged_variant_turns_the_next_update_into_a_full_refit(household):
    world, fan_a, fan_r, frames = household
    _browse_and_play(world, [fan_a, fan_r], frames, days=3, pages_per_day=1)
    first = artwork_policy_update(now=NOW - dt.timedelta(days=1))
    assert first is not None
    # A designer adds the romance theme to a frame the policy has learned as "action",
    # and a page in the next update's window shows it.
    learned = set(ArtworkVariantDaily.objects.values_list("variant_id", flat=True))
    page = homepage_render(profile=fan_a, device="tv", at=NOW - dt.timedelta(hours=12))
    shown = next(
        i.variant_id
        for i in _items(page)
        if i.variant_id in learned and frames[i.variant_id] == "action"
    )
    ArtworkVariant.objects.get(pk=shown).themes.add(ArtworkTheme.objects.get(slug="romance"))
    refit = artwork_policy_update(now=NOW)
    assert refit is not None
    assert refit.kind == ArtworkPolicy.Kind.FULL
    assert refit.parent_id is None
    # every framed tile of every page, a title a page shows twice (below its first screen)
    # once: its frame was drawn once (artwork_impressions)
    total = sum(
        len({item[0] for item in page.items if item[3] is not None})
        for page in PageLog.objects.all()
    )
    assert refit.n_impressions == total


@pytest.mark.parametrize("floor", [0.0, -0.1, 1.5, float("nan")])
def test_an_exploration_floor_that_leaves_variants_unlogged_is_an_error(settings, floor):
    # given: a floor of 0 lets a policy sure of its favourite never show the others, so
    # the logs hold no propensity for them and off-policy estimates of any other policy are
    # biased without a word; outside [0, 1] every request's policy load would raise
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_EXPLORATION_FLOOR": floor}

    (error,) = [m for m in checks.run_checks(tags=["artwork"]) if m.id == "tonight.E006"]

    assert error.level == checks.ERROR
    assert "TONIGHT_ARTWORK_EXPLORATION_FLOOR is" in error.msg


def test_a_negative_upload_grace_is_an_error(settings):
    # A grace below 0 would fold pages whose session window is still open.
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_UPLOAD_GRACE_SECONDS": -60}
    errors = [m for m in checks.run_checks(tags=["attribution"]) if m.id == "tonight.E009"]
    assert any("TONIGHT_ARTWORK_UPLOAD_GRACE_SECONDS" in m.msg for m in errors)


def test_the_default_exploration_floor_passes_the_checks():
    assert not [m for m in checks.run_checks(tags=["artwork"]) if m.id == "tonight.E006"]


def test_evaluation_reports_its_progress_through_the_holdout_fit(household):
    # given: pages before and inside the window
    from artwork.evaluation import artwork_policy_evaluate

    world, fan_a, fan_r, frames = household
    _browse_and_play(world, [fan_a, fan_r], frames, days=6, pages_per_day=2)

    # when: it is evaluated, the holdout candidate fitted on 60 days a day at a time
    fractions: list[float] = []
    artwork_policy_evaluate(days=3, progress=fractions.append)

    # then: the command's bar moves through the fit, never back, and ends full
    assert len(fractions) > 50
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0


def test_beats_update_skips_while_another_holds_the_policy_and_a_refit_waits():
    # given: another update holding the policy (an operator's `update_artwork_policy --full`,
    # which has no time limit), from its own session
    import psycopg
    from django.db import OperationalError, connection

    from artwork.services import POLICY_LOCK_KEY
    from artwork.tasks import update_artwork_policy
    from tests.processes import current_database_url

    holder = psycopg.connect(current_database_url(), autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", [POLICY_LOCK_KEY])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '1s'")

        # when: beat's five-minute update comes
        # then: it ends at once, leaving those pages to the next one, instead of holding a
        # slot of the default queue's worker (the reaper's, the fan-outs') until the other
        # ends, or its own soft time limit fails it
        assert update_artwork_policy.apply(kwargs={"full": False}).get() is None

        # and: the nightly refit, which must run, still waits for its turn
        with pytest.raises(OperationalError, match="lock timeout"):
            artwork_policy_update(full=True)
    finally:
        holder.close()


def test_a_deleted_variant_the_policy_learned_leaves_the_next_update_incremental(household):
    world, fan_a, fan_r, frames = household
    _browse_and_play(world, [fan_a, fan_r], frames, days=3, pages_per_day=1)
    first = artwork_policy_update(now=NOW - dt.timedelta(days=1))
    assert first is not None
    # given a frame the policy has learned, shown again on a page in the next update's window
    learned = set(ArtworkVariantDaily.objects.values_list("variant_id", flat=True))
    page = homepage_render(profile=fan_a, device="tv", at=NOW - dt.timedelta(hours=12))
    shown = next(i.variant_id for i in _items(page) if i.variant_id in learned)
    # when staff delete it before that page's window closes
    ArtworkVariant.objects.get(pk=shown).delete()
    update = artwork_policy_update(now=NOW)
    # then the update folds the page on the themes the policy learned it with, as an
    # incremental update: no 60-day refit in beat's worker because a frame was deleted
    assert update is not None
    assert update.kind == ArtworkPolicy.Kind.INCREMENTAL
    assert update.parent_id is not None
    total = sum(1 for page in PageLog.objects.all() for item in page.items if item[3] is not None)
    assert update.n_impressions == total


def test_staff_cannot_delete_a_policy_whose_pages_the_next_update_would_count_again(
    household, admin_client
):
    world, fan_a, fan_r, frames = household
    _browse_and_play(world, [fan_a, fan_r], frames, days=3, pages_per_day=1)
    artwork_policy_update(now=NOW - dt.timedelta(days=1))
    newest = artwork_policy_update(now=NOW)
    assert newest is not None
    total = sum(1 for page in PageLog.objects.all() for item in page.items if item[3] is not None)
    assert sum(ArtworkVariantDaily.objects.values_list("impressions", flat=True)) == total

    # when staff try to delete the newest version in admin (to "roll it back"), then the
    # next update still folds from its watermark
    url = f"/admin/artwork/artworkpolicy/{newest.pk}/delete/"
    admin_client.post(url, {"post": "yes"})
    admin_client.post(
        "/admin/artwork/artworkpolicy/",
        {"action": "delete_selected", "_selected_action": [newest.pk], "post": "yes"},
    )
    artwork_policy_update(now=NOW + dt.timedelta(hours=1))

    # so the daily figures count every impression once (deleted, the update folded the
    # newest version's pages again from the older watermark, adding them to the figures a
    # second time)
    assert sum(ArtworkVariantDaily.objects.values_list("impressions", flat=True)) == total
    assert ArtworkPolicy.objects.filter(pk=newest.pk).exists()
