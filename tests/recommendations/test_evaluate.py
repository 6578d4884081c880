"""``manage.py evaluate_recommendations`` on a small seeded demo."""

import datetime as dt
import math
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from recommendations.engine.confidence import SignalCode
from recommendations.selectors.training import TrainingSignals
from recommendations.services.cluster_evaluation import holdout_split
from recommendations.services.evaluation import evaluation_split, recommendations_evaluate
from tests.recommendations.demo_world import seed_small_demo
from tests.recommendations.signal_rows import DAY, signals_of_rows


@pytest.fixture
def seeded(settings, tmp_path) -> None:
    seed_small_demo(settings, tmp_path, titles=60, profiles=40, seed=3)


@pytest.mark.django_db
@pytest.mark.slow
def test_the_table_compares_tonight_with_both_baselines(seeded):
    out = StringIO()
    call_command("evaluate_recommendations", "--seed=1", stdout=out, stderr=StringIO())
    text = out.getvalue()

    rows, modes = {}, {}
    for line in (line for line in text.splitlines() if line.startswith("  ")):
        cells = line.split()
        if cells and cells[0] in {"most-popular", "Tonight"}:
            rows[cells[0]] = [float(c) for c in cells[1:-1]]
            modes[cells[0]] = cells[-1]
        elif line.strip().startswith("plain ALS"):
            rows["plain ALS"] = [float(c) for c in cells[2:-1]]
            modes["plain ALS"] = cells[-1]
    assert set(rows) == {"most-popular", "plain ALS", "Tonight"}
    for name, (ndcg, recall_10, recall_20, coverage, seconds) in rows.items():
        assert 0.0 <= ndcg <= 1.0, name
        assert 0.0 <= recall_10 <= recall_20 <= 1.0, name
        assert 0.0 < coverage <= 1.0, name
        assert math.isfinite(seconds), name
        assert seconds >= 0.0, name
    # The row says which ranker it measured: with no page logged, the prior blend.
    assert modes == {"most-popular": "-", "plain ALS": "-", "Tonight": "prior"}
    assert "Tonight ranked with the prior blend" in text
    assert re.search(r"Tonight / plain ALS NDCG@10: [\d.]+x", text)
    assert re.search(r"Tonight / most-popular NDCG@10: [\d.]+x", text)
    # Tonight's pipeline should not lose to recommending the same hits to everyone.
    assert rows["Tonight"][0] >= rows["most-popular"][0]


@pytest.mark.django_db
def test_an_unknown_region_is_refused(db):
    with pytest.raises(CommandError, match="Unknown region"):
        call_command("evaluate_recommendations", "--region=ZZ", stdout=StringIO())


def test_a_database_without_signals_is_refused_with_a_reason(db):
    with pytest.raises(CommandError, match="No signals to evaluate on"):
        call_command("evaluate_recommendations", stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db
@pytest.mark.slow
def test_by_cluster_prints_every_model_and_the_settings_each_scope_was_given(seeded):
    from recommendations.services.clusters import profile_clusters_assign

    profile_clusters_assign(region_code="IN")
    out = StringIO()
    call_command(
        "evaluate_recommendations", "--by-cluster", "--region=IN", stdout=out, stderr=StringIO()
    )
    text = out.getvalue()

    header = next(line for line in text.splitlines() if line.strip().startswith("cluster"))
    for model in ("cluster", "region", "global", "blend"):
        assert f"NDCG@10 {model}" in header
        assert f"R@20 {model}" in header
    settings_lines = re.findall(r"^  (\w+): cluster (\d+)/([\d.e+-]+)/([\d.]+), region", text, re.M)
    assert settings_lines, text
    for _, factors, regularization, alpha in settings_lines:
        assert int(factors) >= 4
        assert float(regularization) > 0
        assert float(alpha) > 0
    with pytest.raises(CommandError, match="needs --region"):
        call_command("evaluate_recommendations", "--by-cluster", stdout=StringIO())


def _signals(rows: list[tuple[int, int, SignalCode, float]]) -> TrainingSignals:
    """Signals of (profile index, title index, kind, day) rows: 3 profiles, 6 titles."""
    return signals_of_rows(rows, n_profiles=3, n_titles=6, value=0.0)


S = SignalCode
#: Days 0-7 train, 8-9 test (the latest 25% of the 17 title events start on day 8).
WORLD = [
    # profile 0: plays title 0; hovers and is shown title 1; previews title 2
    (0, 0, S.PLAY_START, 0),
    (0, 1, S.HOVER, 1),
    (0, 1, S.IMPRESSION, 1),
    (0, 2, S.PREVIEW, 2),
    (0, 0, S.COMPLETE, 2),
    # profile 1: completes title 3, plays title 4
    (1, 3, S.PLAY_START, 0),
    (1, 3, S.COMPLETE, 1),
    (1, 4, S.PLAY_START, 3),
    # profile 2: plays title 5 late in the training period (a later play than profile 0's
    # held-out ones would be under a per-profile split)
    (2, 5, S.PLAY_START, 7),
    (2, 5, S.PLAY_START, 7),
    (2, 5, S.COMPLETE, 7),
    (2, 4, S.IMPRESSION, 7),
    # after the cut: profile 0 plays the hovered title 1 and the previewed title 2, and
    # starts title 5 then thumbs it down; profile 1 plays title 0
    (0, 1, S.PLAY_START, 8),
    (0, 2, S.PLAY_START, 8),
    (0, 5, S.PLAY_START, 9),
    (0, 5, S.THUMBS_DOWN, 9),
    (1, 0, S.PLAY_START, 9),
    # a scroll past a row (no title) after the cut is future too
    (2, -1, S.ROW_SCROLL_PAST, 9),
]


def test_a_thumbs_downed_held_out_title_is_not_relevant():
    split = evaluation_split(_signals(WORLD), test_fraction=0.25, at=1.7e9 + 10 * DAY)

    assert 5 not in split.relevant[0].indices.tolist()
    assert split.n_test_events == 3  # the thumbs-downed title's play start does not count


def test_a_title_only_hovered_or_previewed_in_training_is_still_evaluated():
    split = evaluation_split(_signals(WORLD), test_fraction=0.25, at=1.7e9 + 10 * DAY)

    assert split.relevant[0].indices.tolist() == [1, 2]
    # and no model is kept from recommending them: only engaged titles are "seen"
    assert split.seen[0].indices.tolist() == [0]
    assert split.seen[2].indices.tolist() == [5]
    assert split.users.tolist() == [0, 1]


def test_nothing_tonight_trains_on_is_later_than_the_earliest_held_out_event():
    # given: the demo world, whose profiles are active at different times
    signals = _signals(WORLD)

    split = evaluation_split(signals, test_fraction=0.25, at=1.7e9 + 10 * DAY)

    # then: Tonight's clock is the cut, every training signal (row scrolls included) is
    # before it, so the trending table at that clock counts no play later than a held-out one
    held_out = signals.timestamp[(signals.title_index >= 0) & (signals.timestamp >= split.at)]
    assert split.at == held_out.min() == 1.7e9 + 8 * DAY
    assert split.train.timestamp.max() < split.at
    assert len(split.train) == 12
    plays = split.train.is_play() & (split.train.age_days(split.at) >= 0)
    assert split.train.timestamp[plays].max() < held_out.min()


def test_a_held_out_thumbs_up_cleared_since_makes_no_title_relevant():
    # given: after the cut, profile 0 likes title 3 and then removes the rating (a rating
    # cleared since is worth nothing either way), and likes title 4, clears it, then plays it
    rows = [
        (0, 0, S.PLAY_START, 0),
        (1, 1, S.PLAY_START, 1),
        (1, 2, S.PLAY_START, 2),
        (0, 3, S.THUMBS_UP, 8),
        (0, 3, S.THUMBS_CLEARED, 8.5),
        (0, 4, S.THUMBS_UP, 8),
        (0, 4, S.THUMBS_CLEARED, 8.5),
        (0, 4, S.PLAY_START, 9),
        (1, 0, S.PLAY_START, 9),
    ]

    split = evaluation_split(_signals(rows), test_fraction=0.5, at=1.7e9 + 10 * DAY)
    clusters = holdout_split(_signals(rows), at=1.7e9 + 10 * DAY, test_fraction=0.5)

    # then: the cleared like judges nothing; the title it played is still a hit
    assert split.relevant[0].indices.tolist() == [4]
    assert clusters.relevant[0].indices.tolist() == [4]
    assert split.n_test_events == clusters.n_test_events == 2


def test_a_held_out_title_rated_both_ways_at_one_instant_is_disliked_as_in_training():
    # given: after the cut (day 8), profile 0 plays title 3 and, at one later instant, thumbs
    # it down and up (logged in that order); it likes title 4 and clears it at one instant
    rows = [
        (0, 0, S.PLAY_START, 0),
        (1, 1, S.PLAY_START, 1),
        (1, 2, S.PLAY_START, 2),
        (0, 3, S.PLAY_START, 8),
        (0, 3, S.THUMBS_DOWN, 8.5),
        (0, 3, S.THUMBS_UP, 8.5),
        (0, 4, S.THUMBS_UP, 8.5),
        (0, 4, S.THUMBS_CLEARED, 8.5),
        (1, 0, S.PLAY_START, 9),
    ]

    split = evaluation_split(_signals(rows), test_fraction=0.6, at=1.7e9 + 10 * DAY)
    clusters = holdout_split(_signals(rows), at=1.7e9 + 10 * DAY, test_fraction=0.6)
    assert split.at == 1.7e9 + 8 * DAY

    # then: the thumbs down wins the tie, as confidence lets it (docs/signals.md), so the
    # played title is no hit; the like cleared at its own instant is none either
    assert split.relevant[0].indices.tolist() == []
    assert clusters.relevant[0].indices.tolist() == []
    assert split.relevant[1].indices.tolist() == clusters.relevant[1].indices.tolist() == [0]


def _catalogue_world() -> dict[str, object]:
    """Region IN, a crowd that made three titles popular before the cut, and three judged
    profiles (an adult, A1, and two kids) whose one held-out play is title X.

    Popularity before the cut (profiles): Gone 8 (its licence ended before the cut),
    Adult 7 (18+), X 6. After the cut A1 also plays New, whose licence starts after
    the cut. 25 fillers nobody played sort before New on ties.
    """
    from catalog.models import MaturityLevel
    from recommendations.models import SignalKind
    from tests.factories import (
        AccountFactory,
        AvailabilityFactory,
        ProfileFactory,
        RegionFactory,
        SignalFactory,
        TitleFactory,
    )

    now = timezone.now()

    def day(d: float) -> dt.datetime:
        return now - dt.timedelta(days=10 - d)

    region = RegionFactory(code="IN")
    gone = TitleFactory(original_name="Gone")
    x = TitleFactory(original_name="X")
    adult = TitleFactory(original_name="Adult", maturity=MaturityLevel.EIGHTEEN)
    fillers = [TitleFactory() for _ in range(25)]
    new = TitleFactory(original_name="New")
    AvailabilityFactory(title=gone, region=region, ends_at=day(5))
    AvailabilityFactory(title=new, region=region, starts_at=day(9.2))
    for title in [x, adult, *fillers]:
        AvailabilityFactory(title=title, region=region)

    def profile(**fields) -> object:
        return ProfileFactory(account=AccountFactory(home_region=region), **fields)

    def play(who, title, d: float) -> None:
        SignalFactory(profile=who, title=title, kind=SignalKind.PLAY_START, occurred_at=day(d))

    for i in range(8):
        crowd = profile(maturity_limit=18)
        play(crowd, gone, 1)
        if i < 7:
            play(crowd, adult, 2)
        if i < 6:
            play(crowd, x, 3)
    a1 = profile(maturity_limit=18)
    kids = [profile(is_kids=True, maturity_limit=7) for _ in range(2)]
    for who, filler in zip((a1, *kids), fillers, strict=False):
        play(who, filler, 6)
        play(who, x, 9)
    play(a1, new, 9.5)
    return {"X": x, "New": new}


@pytest.mark.django_db
def test_a_title_no_model_could_recommend_at_the_cut_is_not_relevant():
    # given: A1 also played New after the cut, but New's licence started after the cut, so
    # neither Tonight (whose serving path filters by availability) nor anyone could offer it
    _catalogue_world()

    # when
    report = recommendations_evaluate(test_fraction=0.14, learn_from_logs=False)

    # then: New is no relevant title A1's recall could miss; X, in everyone's top 20, is all
    assert report.n_profiles == 3
    assert report.by_name("most-popular").metrics.recall_at_20 == pytest.approx(1.0)


@pytest.mark.django_db
def test_the_baselines_recommend_only_what_the_profile_could_be_recommended_at_the_cut():
    # given: the most popular title's licence ended before the cut, the next is 18+, the
    # third is X (every judged profile's held-out play; A1's only one that counts)
    _catalogue_world()

    # when
    report = recommendations_evaluate(test_fraction=0.14, learn_from_logs=False)

    # then: most-popular spends no slot on the ended licence, nor a kid's on the 18+ title,
    # as Tonight's serving path spends none: A1 gets Adult then X, each kid X first
    assert report.n_profiles == 3
    second = 1.0 / math.log2(3.0)
    assert report.by_name("most-popular").metrics.ndcg_at_10 == pytest.approx((second + 2) / 3)


@pytest.mark.django_db
def test_plain_als_ranks_a_profile_without_a_positive_training_event_by_popularity():
    # given: a crowd made X the most played title before the cut; C only hovered over a title
    # before the cut (a hover: judged, but no count for plain ALS) and played X after
    from recommendations.models import SignalKind
    from tests.factories import (
        AccountFactory,
        AvailabilityFactory,
        ProfileFactory,
        RegionFactory,
        SignalFactory,
        TitleFactory,
    )

    now = timezone.now()
    region = RegionFactory(code="IN")
    fillers = [TitleFactory() for _ in range(25)]  # before X in the title index
    x = TitleFactory(original_name="X")
    for title in [*fillers, x]:
        AvailabilityFactory(title=title, region=region)

    def signal(who, title, kind, days_ago: float) -> None:
        SignalFactory(
            profile=who, title=title, kind=kind, occurred_at=now - dt.timedelta(days=days_ago)
        )

    for i in range(6):
        crowd = ProfileFactory(account=AccountFactory(home_region=region))
        signal(crowd, x, SignalKind.PLAY_START, 8)
        signal(crowd, fillers[i], SignalKind.PLAY_START, 7)
    cold = ProfileFactory(account=AccountFactory(home_region=region))
    signal(cold, fillers[20], SignalKind.HOVER, 5)
    signal(cold, x, SignalKind.PLAY_START, 1)

    # when: the cut holds out C's play alone
    report = recommendations_evaluate(test_fraction=0.07, learn_from_logs=False)

    # then: ALS has no factor for C (every title would tie, and the ties would be ranked by
    # the titles' index: 20 fillers); like most-popular, and as Tonight falls back, it
    # offers the most popular title first
    assert report.n_profiles == 1
    assert report.by_name("most-popular").metrics.ndcg_at_10 == pytest.approx(1.0)
    assert report.by_name("plain ALS").metrics.ndcg_at_10 == pytest.approx(1.0)


@pytest.mark.django_db
def test_a_goal_is_not_met_on_figures_that_are_all_zero():
    # given: the one judged profile's held-out play is a title nobody had played, which no
    # model puts in its top 10 (forty titles everybody played rank first)
    from recommendations.models import SignalKind
    from tests.factories import (
        AccountFactory,
        AvailabilityFactory,
        ProfileFactory,
        RegionFactory,
        SignalFactory,
        TitleFactory,
    )

    now = timezone.now()
    region = RegionFactory(code="IN")
    played = [TitleFactory() for _ in range(40)]
    unknown = TitleFactory(original_name="Unknown")
    for title in [*played, unknown]:
        AvailabilityFactory(title=title, region=region)

    def signal(who, title, kind, days_ago: float) -> None:
        SignalFactory(
            profile=who, title=title, kind=kind, occurred_at=now - dt.timedelta(days=days_ago)
        )

    for _ in range(3):
        crowd = ProfileFactory(account=AccountFactory(home_region=region))
        for title in played:
            signal(crowd, title, SignalKind.PLAY_START, 8)
    judged = ProfileFactory(account=AccountFactory(home_region=region))
    signal(judged, played[0], SignalKind.HOVER, 5)
    signal(judged, unknown, SignalKind.PLAY_START, 1)
    out = StringIO()

    # when
    call_command("evaluate_recommendations", "--test-fraction=0.005", stdout=out, stderr=StringIO())

    # then: 0 against 0 is no lead: the goals are neither met nor missed, and the line says so
    text = out.getvalue()
    assert "1 profiles with history" in text
    for name in ("plain ALS", "most-popular"):
        assert f"Tonight / {name} NDCG@10: no figure ({name} scored 0, Tonight 0.0000" in text
    assert "meets" not in text


@pytest.mark.django_db
@pytest.mark.slow
def test_pages_whose_version_was_pruned_are_said_to_be_left_out(seeded):
    # given: models trained, and pages logged two days before the holdout's cut, all but
    # one naming a version the prune has deleted since (page logs keep the id)
    from profiles.models import Profile
    from recommendations.models import ModelVersion, PageLog
    from recommendations.services.homepage import homepage_render

    call_command("train_models", verbosity=0, stdout=StringIO(), stderr=StringIO())
    cut = recommendations_evaluate(test_fraction=0.2, random_state=1, learn_from_logs=False).cut
    at = dt.datetime.fromtimestamp(cut, tz=dt.UTC) - dt.timedelta(days=2)
    for profile in Profile.objects.order_by("pk")[:4]:
        homepage_render(profile=profile, device="tv", at=at)
    gone = ModelVersion.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    kept = PageLog.objects.order_by("pk").values_list("pk", flat=True).first()
    PageLog.objects.exclude(pk=kept).update(model_version_id=gone)

    # when
    out = StringIO()
    call_command("evaluate_recommendations", "--seed=1", stdout=out, stderr=StringIO())

    # then: the operator is told how many pages the ranker could not learn from, and why
    assert (
        "Title ranker: 3 of the 4 pages logged before the cut left out of its training, 3 "
        "because the model version that served them was pruned since"
    ) in " ".join(out.getvalue().split())
