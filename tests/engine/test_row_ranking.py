"""Row ranking: habits against single plays, context lifts, the prior-centred fit, the gate."""

import io

import numpy as np
import pytest
from scipy.special import expit

from recommendations.engine.persistence import save_artefact
from recommendations.engine.ranking import DEVICE_CLASSES, HOUR_BUCKETS, ROW_POSITION_FEATURES
from recommendations.engine.row_ranking import (
    MIN_HOLDOUT_PLAYS,
    PRIOR_TYPE_BIAS,
    ROW_FEATURE_NAMES,
    ROW_TYPES,
    RowEngagement,
    RowPrior,
    RowRanker,
    row_features,
    row_ranker_select,
    seen_counts,
)

COLUMN = {name: index for index, name in enumerate(ROW_FEATURE_NAMES)}
N_TYPES = len(ROW_TYPES)
TV = DEVICE_CLASSES.index("tv")
MORNING, EVENING = 2, 5  # hour buckets 08-11 and 20-23
TUESDAY, SATURDAY = 1, 5


def counts(**per_type: float) -> np.ndarray:
    array = np.zeros(N_TYPES)
    for name, value in per_type.items():
        array[ROW_TYPES.index(name)] = value
    return array


def one_profile(
    row_type,
    *,
    plays: np.ndarray | None = None,
    hour: np.ndarray | None = None,
    device: np.ndarray | None = None,
    week_part: np.ndarray | None = None,
    scroll_past: np.ndarray | None = None,
    seen: np.ndarray | None = None,
    plays_seen: np.ndarray | None = None,
    bucket: int = MORNING,
    weekday: int = TUESDAY,
    strength=0.1,
    row_position=0,
) -> np.ndarray:
    """Row features of one profile's page on a TV: counts by context default to ``plays``
    (every play in this context), ``plays``, scroll-pasts and tiles seen to none."""
    plays = np.zeros(N_TYPES) if plays is None else plays
    return row_features(
        row_type=row_type,
        strength=strength,
        hour_bucket=bucket,
        device=TV,
        weekday=weekday,
        plays=plays,
        plays_hour=plays if hour is None else hour,
        plays_device=plays if device is None else device,
        plays_daypart=plays if week_part is None else week_part,
        scroll_past=np.zeros(N_TYPES) if scroll_past is None else scroll_past,
        seen=seen,
        plays_seen=plays_seen,
        row_position=row_position,
    )


def prior_order(plays: np.ndarray, **context) -> list[str]:
    """The prior's row order for one profile, every row type proposed with equal strength."""
    scores = RowRanker().predict_proba(one_profile(np.arange(N_TYPES), plays=plays, **context))
    return [ROW_TYPES[i] for i in np.argsort(-scores, kind="stable")]


# --- Features and the prior ----------------------------------------------------------------


def test_a_new_profile_sees_the_products_base_order():
    order = prior_order(np.zeros(N_TYPES))

    assert order[:3] == ["continue_watching", "top_picks", "because_you_watched"]


def test_one_play_is_not_a_habit():
    # given: a single play from New Releases, in this very hour, on this device
    one = counts(new_releases=1)

    # when
    order = prior_order(one)

    # then: New Releases moves up, but not over Continue Watching or Top Picks
    assert order.index("new_releases") > order.index("top_picks")
    assert order.index("new_releases") < prior_order(np.zeros(N_TYPES)).index("new_releases")


def test_a_habit_of_starting_new_things_puts_new_releases_first():
    habit = counts(new_releases=8, continue_watching=2)

    assert prior_order(habit)[0] == "new_releases"


def test_a_resumer_sees_continue_watching_first():
    resumer = counts(continue_watching=9, new_releases=1, top_picks=2)

    assert prior_order(resumer)[0] == "continue_watching"


def test_the_same_overall_taste_is_ordered_by_the_hour_it_is_shown_in():
    # given: as many plays from each row, Continue Watching in the morning, New Releases at night
    overall = counts(continue_watching=10, new_releases=10)
    morning, evening = counts(continue_watching=10), counts(new_releases=10)

    # when
    in_the_morning = prior_order(overall, hour=morning, bucket=MORNING)
    in_the_evening = prior_order(overall, hour=evening, bucket=EVENING)

    # then
    assert in_the_morning[0] == "continue_watching"
    assert in_the_evening[0] == "new_releases"


def test_the_weekend_habit_reorders_rows_on_saturday_only():
    overall = counts(continue_watching=12, genre=12)
    weekday, weekend = counts(continue_watching=12), counts(genre=12)

    tuesday = prior_order(overall, week_part=weekday, weekday=TUESDAY)
    saturday = prior_order(overall, week_part=weekend, weekday=SATURDAY)

    assert tuesday.index("continue_watching") < tuesday.index("genre")
    assert saturday.index("genre") < saturday.index("continue_watching")


def test_a_context_that_holds_all_the_plays_adds_no_lift():
    plays = counts(new_releases=3, trending=1)

    features = one_profile(np.arange(N_TYPES), plays=plays, bucket=EVENING)

    lifts = features[:, [COLUMN["lift_hour"], COLUMN["lift_device"], COLUMN["lift_week_part"]]]
    np.testing.assert_allclose(lifts, 0.0, atol=1e-6)
    assert features[ROW_TYPES.index("new_releases"), COLUMN["affinity"]] > 0
    assert features[ROW_TYPES.index("genre"), COLUMN["affinity"]] < 0


def test_rows_the_profile_keeps_scrolling_past_sink():
    quiet = one_profile([ROW_TYPES.index("trending")], scroll_past=counts(trending=6))

    assert quiet[0, COLUMN["scroll_past_rate"]] == pytest.approx(6 / 8)
    assert (
        RowRanker().predict_proba(quiet)[0]
        < RowRanker().predict_proba(
            np.where(np.arange(len(ROW_FEATURE_NAMES)) == COLUMN["scroll_past_rate"], 0.0, quiet)
        )[0]
    )


def test_weekend_and_context_one_hots_mark_the_rows_type_and_context():
    features = one_profile(
        [ROW_TYPES.index("genre"), ROW_TYPES.index("trending")],
        bucket=EVENING,
        weekday=SATURDAY,
        strength=[0.2, 0.1],
        row_position=[0, 3],
    )

    on = {ROW_FEATURE_NAMES[c] for c in np.flatnonzero(features[0])}
    assert {"type_genre", f"type_x_hour_genre_{EVENING}", "type_x_device_genre_tv"} <= on
    assert "type_x_weekend_genre" in on
    assert "type_x_weekend_trending" not in on
    top, fourth = ([n for n in ROW_POSITION_FEATURES if row[COLUMN[n]]] for row in features)
    assert top == []  # the serving position is in no bucket
    assert fourth == ["row_position_3"]


def test_engagement_counts_plays_by_context_and_scroll_pasts_apart():
    engagement = RowEngagement.from_events(
        row_type=[0, 0, 6, 6, -1],
        is_play=[True, True, True, False, True],
        hour_bucket=[MORNING, MORNING, EVENING, EVENING, EVENING],
        device=[TV, 0, TV, TV, TV],
        weekday=[TUESDAY, SATURDAY, SATURDAY, SATURDAY, SATURDAY],
    )

    assert engagement.plays.tolist() == counts(continue_watching=2, new_releases=1).tolist()
    assert engagement.plays_by_hour[MORNING, 0] == 2
    assert engagement.plays_by_hour[EVENING, 6] == 1
    assert engagement.plays_by_daypart[:, 0].tolist() == [1.0, 1.0]
    assert engagement.scroll_past.tolist() == counts(new_releases=1).tolist()


def test_plays_per_tile_seen_lift_a_type_seldom_seen_and_sink_one_seen_daily():
    # given: as many plays from New Releases as from Top Picks, but Top Picks was on screen
    # ten times as often (it led every page); the profile scrolls to New Releases and plays
    plays = counts(new_releases=5, top_picks=5)
    seen = counts(new_releases=40, top_picks=400)
    rows = np.array([ROW_TYPES.index("new_releases"), ROW_TYPES.index("top_picks")])

    # when
    by_exposure = one_profile(rows, plays=plays, seen=seen, plays_seen=plays)
    by_shares = one_profile(rows, plays=plays)

    # then: per tile seen, New Releases is played far more than Top Picks
    lift = by_exposure[:, COLUMN["seen_rate_lift"]]
    assert lift[0] > 0.5 > 0 > lift[1]
    assert np.all(by_shares[:, COLUMN["seen_rate_lift"]] == 0)  # no impressions: silent
    # and a model that learned to weigh it (as the demo's did, +0.17-0.24; here 1) puts New
    # Releases above Top Picks, where the prior's base preference and equal shares do not
    learned = RowRanker()
    learned.coef[COLUMN["seen_rate_lift"]] = 1.0
    assert RowPrior().vector()[COLUMN["seen_rate_lift"]] == 0.0
    prior_scores = RowRanker().predict_proba(by_exposure)
    learned_scores = learned.predict_proba(by_exposure)
    assert prior_scores[0] < prior_scores[1]
    assert learned_scores[0] > learned_scores[1]


def test_a_few_tiles_seen_are_not_a_rate():
    # given: two tiles of Genre seen and one play from it, against a long overall record
    seen = counts(genre=2, top_picks=300)
    plays = counts(genre=1, top_picks=6)

    lift = one_profile([ROW_TYPES.index("genre")], plays=plays, seen=seen, plays_seen=plays)[
        0, COLUMN["seen_rate_lift"]
    ]

    # then: a raw rate of 1 play in 2 tiles would be a 25x lift; shrunk, it is about 2x
    assert 0.0 < lift < np.log(3.0)


def test_plays_without_a_tile_seen_are_no_rate():
    # given: plays from rows, but no impression read (a client that sends none)
    plays = counts(genre=3, top_picks=1)

    lift = one_profile(np.arange(N_TYPES), plays=plays, seen=np.zeros(N_TYPES), plays_seen=plays)

    # then: nothing is known of plays per tile seen
    np.testing.assert_array_equal(lift[:, COLUMN["seen_rate_lift"]], 0.0)


def test_a_row_type_outside_the_vocabulary_is_refused_not_misread():
    with pytest.raises(ValueError, match="row_type"):
        one_profile([N_TYPES])


def test_a_play_from_a_row_of_no_known_type_is_not_counted_as_seen_rows_play():
    seen, plays = seen_counts(
        at=1000.0,
        days=1,
        impression_type=[0, -1],
        impression_time=[900.0, 900.0],
        impressions_cut=False,
        event_type=[0, -1],
        event_is_play=[True, True],
        event_time=[950.0, 950.0],
        events_cut=False,
    )

    assert seen.tolist() == plays.tolist() == counts(continue_watching=1).tolist()


def test_tiles_seen_and_plays_are_counted_over_the_period_both_reads_cover():
    day = 86400.0
    at = 100 * day
    top, trending = ROW_TYPES.index("top_picks"), ROW_TYPES.index("trending")
    shown = dict(
        impression_type=[top, top, -1, trending, top],
        impression_time=[at - 1 * day, at - 2 * day, at - 3 * day, at - 5 * day, at - 40 * day],
    )
    events = dict(
        event_type=[top, trending, trending, top, top],
        event_is_play=[True, True, False, True, True],
        event_time=[at - d * day for d in (1.5, 4, 4.5, 10, 31)],
    )

    def count(impressions, row_events, *, impressions_cut=False, events_cut=False):
        seen, plays = seen_counts(
            at=at,
            days=30,
            impressions_cut=impressions_cut,
            events_cut=events_cut,
            **impressions,
            **row_events,
        )
        return seen.tolist(), plays.tolist()

    # when: everything read, over the last 30 days
    seen, plays = count(shown, events)
    # then: the 40-day-old tile and the 31-day-old play are outside; a tile without a row is
    # not a row seen; a scroll-past is not a play
    assert seen == counts(top_picks=2, trending=1).tolist()
    assert plays == counts(top_picks=2, trending=1).tolist()

    # when: the impressions' bound was reached at the 5-day-old one (older ones unread)
    newest = {name: values[:4] for name, values in shown.items()}
    seen, plays = count(newest, events, impressions_cut=True)
    # then: the period starts just after it (others of that instant may be unread), so
    # neither the 10-day-old play nor that tile is set against the rest
    assert seen == counts(top_picks=2).tolist()
    assert plays == counts(top_picks=1, trending=1).tolist()

    # when: the row events' bound was reached (the oldest read is 2.6 days old)
    recent = dict(events, event_time=[at - d * day for d in (1.5, 1.8, 1.9, 2.5, 2.6)])
    seen, plays = count(shown, recent, events_cut=True)
    # then: tiles seen before it are not counted either, nor is that oldest event
    assert seen == counts(top_picks=2).tolist()
    assert plays == counts(top_picks=2, trending=1).tolist()

    # when: a tile and a play stamped at the page's own moment (the page's own tiles)
    at_page = dict(
        impression_type=[*shown["impression_type"], top],
        impression_time=[*shown["impression_time"], at],
    )
    played_at_page = dict(
        event_type=[*events["event_type"], top],
        event_is_play=[*events["event_is_play"], True],
        event_time=[*events["event_time"], at],
    )
    # then: they are after the page, not before it: nothing more is counted
    assert count(at_page, played_at_page) == count(shown, events)


# --- The prior-centred fit and the held-out gate -------------------------------------------


def logged_pages(
    n_pages: int, rng: np.random.Generator, *, extra: dict[str, float], first_page: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pages of all row types, played by a world that likes ``extra`` row types more than
    the prior believes (logits added to the prior's score)."""
    n = n_pages * N_TYPES
    features = row_features(
        row_type=np.tile(np.arange(N_TYPES), n_pages),
        strength=rng.uniform(0.05, 0.3, n),
        hour_bucket=np.repeat(rng.integers(0, HOUR_BUCKETS, n_pages), N_TYPES),
        device=np.repeat(rng.integers(0, len(DEVICE_CLASSES), n_pages), N_TYPES),
        weekday=np.repeat(rng.integers(0, 5, n_pages), N_TYPES),
        plays=np.zeros(N_TYPES),
        plays_hour=np.zeros(N_TYPES),
        plays_device=np.zeros(N_TYPES),
        plays_daypart=np.zeros(N_TYPES),
        scroll_past=np.zeros(N_TYPES),
        row_position=np.tile(np.arange(N_TYPES), n_pages),
    )
    truth = features.astype(np.float64) @ RowPrior().vector() + RowPrior().bias
    for name, logit in extra.items():
        truth += logit * features[:, COLUMN[f"type_{name}"]]
    labels = rng.random(n) < expit(truth)
    pages = np.repeat(np.arange(first_page, first_page + n_pages), N_TYPES)
    return features, labels, pages


def first_screen_pages(
    n_pages: int, rng: np.random.Generator, *, shuffled: float = 0.3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pages served mostly in the prior's order (resume first), a share in a random one,
    played by viewers who like row types as the prior believes and look at the first
    screen's three rows alike and at later rows less and less: a step, not a curve."""
    prior_order = np.argsort([-PRIOR_TYPE_BIAS[name] for name in ROW_TYPES], kind="stable")
    orders = np.tile(prior_order, (n_pages, 1))
    for page in np.flatnonzero(rng.random(n_pages) < shuffled):
        orders[page] = rng.permutation(N_TYPES)
    position = np.tile(np.arange(N_TYPES), n_pages)
    features = row_features(
        row_type=orders.reshape(-1),
        strength=0.15,
        hour_bucket=MORNING,
        device=TV,
        weekday=TUESDAY,
        plays=np.zeros(N_TYPES),
        plays_hour=np.zeros(N_TYPES),
        plays_device=np.zeros(N_TYPES),
        plays_daypart=np.zeros(N_TYPES),
        scroll_past=np.zeros(N_TYPES),
        row_position=position,
    )
    type_bias = np.array([PRIOR_TYPE_BIAS[name] for name in ROW_TYPES])
    truth = (
        -1.5
        + type_bias[orders.reshape(-1)]
        + np.select([position < 3, position < 6], [0.0, -2.0], -4.0)
    )
    labels = rng.random(position.shape[0]) < expit(truth)
    return features, labels, np.repeat(np.arange(n_pages), N_TYPES)


def test_where_a_row_was_shown_is_not_mistaken_for_what_it_is():
    # given: the prior's own order served most of the time, and its type preferences true
    features, labels, _ = first_screen_pages(3000, np.random.default_rng(7))

    # when
    ranker = RowRanker().fit(features, labels)

    # then: the row types keep the prior's relative preferences; the first row's type is
    # not marked down for the first screen's rows being looked at alike
    types = [COLUMN[f"type_{name}"] for name in ROW_TYPES]
    learned = ranker.coef[types] - ranker.coef[types].mean()
    believed = RowPrior().vector()[types] - RowPrior().vector()[types].mean()
    np.testing.assert_allclose(learned, believed, atol=0.25)  # a log1p curve: 0.36 off


def test_a_model_that_only_learned_where_rows_were_shown_gains_nothing_at_the_gate():
    # given: viewers with the prior's tastes, on a position curve the prior did not guess
    features, labels, pages = first_screen_pages(2000, np.random.default_rng(8))

    # when
    choice = row_ranker_select(features, labels, pages)

    # then: the prior's position terms are fitted before the comparison, as its base rate
    # is (serving never uses them), so the two tie; with its guessed curve kept, the prior
    # lost by 0.045 and any model that learned the curve replaced it
    assert choice.prior_log_loss == pytest.approx(choice.learned_log_loss, abs=0.002)


def test_too_few_rows_keep_the_prior():
    features, labels, pages = logged_pages(50, np.random.default_rng(1), extra={"genre": 3.0})

    choice = row_ranker_select(features, labels, pages)

    assert choice.ranker.mode == "prior"
    np.testing.assert_array_equal(choice.ranker.coef, RowPrior().vector())
    assert choice.learned_log_loss is None


@pytest.mark.parametrize(
    ("plays", "non_plays", "enough"),
    [(3, 7, True), (3, 6, False), (2, 8, False), (7, 3, True), (8, 2, False)],
)
def test_fitting_needs_min_rows_rows_with_min_positives_plays_and_non_plays(
    plays, non_plays, enough
):
    # The thresholds are the least that will do: exactly min_rows rows, with exactly
    # min_positives of the rarer label, are enough.
    ranker = RowRanker(min_rows=10, min_positives=3)

    assert ranker.enough([True] * plays + [False] * non_plays) is enough


def test_the_fit_moves_from_the_prior_as_far_as_the_evidence_goes():
    # given: a world that starts things from genre rows 3 logits more than the prior believes
    rng = np.random.default_rng(2)
    small = RowRanker(min_rows=100, min_positives=10).fit(
        *logged_pages(200, rng, extra={"genre": 3.0})[:2]
    )
    large = RowRanker(min_rows=100, min_positives=10).fit(
        *logged_pages(4000, rng, extra={"genre": 3.0})[:2]
    )
    rows, _, _ = logged_pages(40, rng, extra={})
    is_genre = rows[:, COLUMN["type_genre"]] == 1

    def shift(ranker: RowRanker) -> float:
        """Logits genre rows gained over the prior, beyond what every row gained."""
        gained = (rows.astype(np.float64) @ (ranker.coef - RowPrior().vector())) + (
            ranker.intercept - RowPrior().bias
        )
        return float(gained[is_genre].mean() - gained[~is_genre].mean())

    # then: a little evidence moves it a little, much evidence most of the way
    assert 0.2 < shift(small) < shift(large)
    assert shift(large) == pytest.approx(3.0, abs=0.6)
    # A feature no logged row had stays where the prior put it.
    unseen = COLUMN["type_x_weekend_genre"]
    assert large.coef[unseen] == pytest.approx(RowPrior().vector()[unseen], abs=1e-6)


def test_a_learned_model_that_ranks_newer_pages_better_replaces_the_prior():
    features, labels, pages = logged_pages(1500, np.random.default_rng(3), extra={"genre": 3.0})

    choice = row_ranker_select(features, labels, pages)

    assert choice.ranker.mode == "learned"
    assert labels[pages >= 1125].sum() >= MIN_HOLDOUT_PLAYS
    assert choice.holdout_rows == (pages >= 1125).sum()
    assert choice.learned_log_loss < choice.prior_log_loss
    assert choice.describe()["mode"] == "learned"


def test_a_model_of_last_months_habits_does_not_replace_the_prior_when_they_changed():
    # given: genre rows were loved for the older pages and are shunned on the newest quarter
    rng = np.random.default_rng(4)
    old = logged_pages(1200, rng, extra={"genre": 3.5, "language": -3.0})
    new = logged_pages(400, rng, extra={"genre": -3.0, "language": 3.5}, first_page=1200)
    features, labels, pages = (np.concatenate(pair) for pair in zip(old, new, strict=True))

    # when
    choice = row_ranker_select(features, labels, pages)

    # then: the model of the older pages lost on the newer ones, so the prior stays
    assert choice.learned_log_loss > choice.prior_log_loss
    assert choice.ranker.mode == "prior"
    np.testing.assert_array_equal(choice.ranker.coef, RowPrior().vector())


def test_save_and_load_round_trip_and_an_older_layout_is_refused():
    features, labels, pages = logged_pages(1500, np.random.default_rng(5), extra={"genre": 3.0})
    ranker = row_ranker_select(features, labels, pages).ranker
    buffer = io.BytesIO()
    ranker.save(buffer)
    buffer.seek(0)

    loaded = RowRanker.load(buffer)

    assert loaded.mode == "learned"
    np.testing.assert_array_equal(loaded.predict_proba(features), ranker.predict_proba(features))
    old = io.BytesIO()
    save_artefact(
        old,
        kind="tonight.row_ranker",
        version=2,
        mode="learned",
        feature_names=np.array(ROW_FEATURE_NAMES[:-1]),
    )
    old.seek(0)
    with pytest.raises(ValueError, match="another feature layout"):
        RowRanker.load(old)


def test_a_row_ranker_of_the_first_position_layout_orders_rows_as_it_did():
    # given: a learned row ranker stored before positions were bucketed (and before the
    # population terms had their own variance)
    features, labels, pages = logged_pages(1500, np.random.default_rng(5), extra={"genre": 3.0})
    ranker = row_ranker_select(features, labels, pages).ranker
    kept = ~np.isin(ROW_FEATURE_NAMES, ROW_POSITION_FEATURES)
    stored = io.BytesIO()
    save_artefact(
        stored,
        kind="tonight.row_ranker",
        version=2,
        mode="learned",
        feature_names=np.array([*np.array(ROW_FEATURE_NAMES)[kept], "row_position"]),
        C=0.2,
        min_rows=2000,
        min_positives=100,
        max_iter=500,
        n_training_rows=ranker.n_training_rows,
        coef=np.append(ranker.coef[kept], -3.6),
        intercept=ranker.intercept,
    )
    stored.seek(0)

    # when
    loaded = RowRanker.load(stored)

    # then: serving's rows (all at the top position) score as they did
    served = one_profile(np.arange(N_TYPES), plays=counts(genre=4, trending=1))
    assert loaded.mode == "learned"
    np.testing.assert_allclose(loaded.predict_proba(served), ranker.predict_proba(served))
    assert loaded.C_population == 0.2


def test_too_few_older_rows_to_fit_report_no_comparison():
    # given: enough rows in all, but the older three quarters alone are under min_rows
    features, labels, pages = logged_pages(200, np.random.default_rng(6), extra={"genre": 3.0})

    choice = row_ranker_select(features, labels, pages, min_rows=2000, min_positives=10)

    # then: nothing was learned, so no learned figure stands beside the prior's
    assert features.shape[0] >= 2000
    assert choice.ranker.mode == "prior"
    assert choice.learned_log_loss is None
    assert choice.prior_log_loss is None


@pytest.mark.parametrize("learned", [False, True])
def test_a_rows_terms_sum_to_the_logit_it_is_ordered_by(learned):
    # given: the prior, or a ranker whose every coefficient moved
    rng = np.random.default_rng(3)
    ranker = RowRanker()
    if learned:
        ranker.coef = ranker.coef + rng.normal(scale=0.3, size=ranker.coef.shape)
        ranker.intercept = -2.2
    features = rng.normal(size=(7, len(ROW_FEATURE_NAMES))).astype(np.float32)

    # when
    split = ranker.terms(features)

    # then: value x coefficient per feature, adding up to the score predict_proba orders by,
    # which is the product it always took
    np.testing.assert_allclose(split.terms, features.astype(np.float64) * ranker.coef)
    np.testing.assert_allclose(split.terms.sum(axis=1) + split.intercept, split.logits, atol=1e-9)
    expected = expit(features.astype(np.float64) @ ranker.coef + ranker.intercept)
    assert np.array_equal(ranker.predict_proba(features), expected.astype(np.float32))
    assert np.array_equal(expit(split.logits).astype(np.float32), ranker.predict_proba(features))


def test_the_period_holds_its_first_instant_and_not_the_pages_own():
    """``days`` before ``at`` inclusive, ``at`` itself exclusive: a tile shown exactly 30 days
    before the page counts, one stamped at the page's own instant does not (yet)."""
    day = 86400.0
    at = 100 * day
    start = at - 30 * day
    top = ROW_TYPES.index("top_picks")
    times = [start - 1.0, start, at - 1.0, at]

    seen, plays = seen_counts(
        at=at,
        days=30,
        impression_type=[top] * 4,
        impression_time=times,
        impressions_cut=False,
        event_type=[top] * 4,
        event_is_play=[True] * 4,
        event_time=times,
        events_cut=False,
    )

    # the instant 30 days before counts, one second earlier does not; the page's instant not
    assert seen.tolist() == plays.tolist() == counts(top_picks=2).tolist()


@pytest.mark.parametrize(
    ("oldest_read", "counted"),
    [
        # the bound was reached at the period's first instant: that instant may have been
        # read in part, so it is not counted, as any instant a bound cut is not
        (0.0, 1),
        # the bound was reached before the period: the period is whole, its first instant in
        (-1.0, 2),
    ],
)
def test_a_read_cut_exactly_at_the_periods_start_leaves_that_instant_out(oldest_read, counted):
    day = 86400.0
    at = 100 * day
    start = at - 30 * day
    top = ROW_TYPES.index("top_picks")
    times = [start + oldest_read, start, at - 1.0] if oldest_read else [start, at - 1.0]

    seen, plays = seen_counts(
        at=at,
        days=30,
        impression_type=[top] * len(times),
        impression_time=times,
        impressions_cut=True,
        event_type=[top] * len(times),
        event_is_play=[True] * len(times),
        event_time=times,
        events_cut=False,
    )

    assert seen.tolist() == plays.tolist() == counts(top_picks=counted).tolist()
