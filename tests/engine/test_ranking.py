"""Ranking: the feature layout, the prior/learned switch, calibration and "% match"."""

import datetime as dt
import io
import itertools
import zoneinfo

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit

from recommendations.engine.persistence import save_artefact
from recommendations.engine.ranking import (
    DEVICE_CLASSES,
    FEATURE_NAMES,
    HOUR_BUCKETS,
    MIN_REFERENCE_ROWS,
    POSITION_FEATURE_NAMES,
    PlayRanker,
    PriorBlend,
    build_features,
    hour_bucket,
    hour_genre_affinity,
    local_hour_and_weekday,
)

COLUMN = {name: index for index, name in enumerate(FEATURE_NAMES)}
POSITION_TERMS = np.isin(FEATURE_NAMES, POSITION_FEATURE_NAMES)
LEGACY = ("row_position", "slot_position")  # the first layout's position columns


def request_features(n: int, rng: np.random.Generator, **overrides) -> np.ndarray:
    """Features of n candidates for one request (or n logged impressions)."""
    arguments = {
        "cf_score": rng.normal(0.3, 0.3, n),
        "content_affinity": rng.random(n),
        "cluster_popularity": rng.random(n),
        "region_popularity": rng.random(n),
        "release_age_days": rng.uniform(0, 2000, n),
        "language_match": rng.random(n) < 0.7,
        "continue_watching": rng.random(n) < 0.05,
        "dislike_penalty": np.where(rng.random(n) < 0.05, rng.random(n) * 0.5, 0.0),
        "impressions_without_play": rng.poisson(1.0, n),
        "title_genres": sp.csr_matrix((rng.random((n, 4)) < 0.4).astype(np.float32)),
        "genre_affinity": np.array([1.0, 0.5, 0.2, 0.0]),
        "recent_plays": 6,
        "weekday": 5,
        "device": "tv",
    }
    arguments.update(overrides)
    return build_features(**arguments)


def logged_impressions(
    n: int, seed: int = 0, *, row_effect: float = 1.5, slot_effect: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Impressions whose plays truly depend on CF score, resuming and position."""
    rng = np.random.default_rng(seed)
    recent, weekday = rng.poisson(5, n), rng.integers(0, 7, n)
    device = rng.integers(0, len(DEVICE_CLASSES), n)
    rows, slots = rng.integers(0, 10, n), rng.integers(0, 20, n)
    features = request_features(
        n,
        rng,
        recent_plays=recent,
        weekday=weekday,
        device=device,
        row_position=rows,
        slot_position=slots,
    )
    logit = (
        -3.0
        + 3.0 * features[:, COLUMN["cf_score"]]
        + 2.5 * features[:, COLUMN["continue_watching"]]
        - row_effect * position_curve(rows)
        - slot_effect * position_curve(slots)
    )
    return features, rng.random(n) < expit(logit)


def position_curve(index: np.ndarray) -> np.ndarray:
    """The logged worlds' position effect per unit: a curve, which the buckets fit."""
    return np.log1p(index) / np.log1p(40)


def test_the_feature_matrix_follows_the_documented_layout():
    rng = np.random.default_rng(1)

    features = request_features(50, rng, device="mobile", weekday=6)

    assert features.shape == (50, len(FEATURE_NAMES))
    assert features.dtype == np.float32
    assert (features[:, COLUMN["device_mobile"]] == 1).all()
    assert (features[:, COLUMN["device_tv"]] == 0).all()
    assert (features[:, COLUMN["weekend"]] == 1).all()
    assert (features[:, POSITION_TERMS] == 0).all()  # serving: as if shown first
    np.testing.assert_allclose(
        features[:, COLUMN["weekend_x_hour_genre"]], features[:, COLUMN["hour_genre_affinity"]]
    )
    assert features.min() >= -1.0
    assert features.max() <= 2.0


def test_hour_genre_affinity_is_the_genre_share_weighted_by_the_profiles_habit():
    genres = sp.csr_matrix(np.array([[1, 1, 0], [0, 0, 1]], dtype=np.float32))

    features = build_features(
        cf_score=np.zeros(2),
        content_affinity=np.zeros(2),
        cluster_popularity=np.zeros(2),
        region_popularity=np.zeros(2),
        release_age_days=np.array([0.0, np.nan]),
        language_match=np.zeros(2, bool),
        continue_watching=np.zeros(2, bool),
        dislike_penalty=np.zeros(2),
        impressions_without_play=np.zeros(2),
        title_genres=genres,
        genre_affinity=np.array([1.0, 0.5, 0.2]),
        recent_plays=0,
        weekday=0,
        device=0,
    )

    assert features[:, COLUMN["hour_genre_affinity"]].tolist() == pytest.approx([0.75, 0.2])
    assert features[:, COLUMN["release_recency"]].tolist() == [1.0, 0.0]  # unknown release: 0


def test_dense_and_sparse_genre_tables_give_the_same_features():
    rng = np.random.default_rng(8)
    table = (rng.random((40, 5)) < 0.4).astype(np.float32)
    habit_per_row = rng.random((40, 5))

    for affinity in (np.array([1.0, 0.5, 0.2, 0.0, 0.7]), habit_per_row):
        dense = request_features(
            40, np.random.default_rng(1), title_genres=table, genre_affinity=affinity
        )
        sparse = request_features(
            40, np.random.default_rng(1), title_genres=sp.csr_matrix(table), genre_affinity=affinity
        )

        np.testing.assert_allclose(dense, sparse, rtol=1e-6)


def test_a_profiles_hour_genre_affinity_learns_its_habits():
    # given: comedy (genre 1) at night, drama (genre 2) in prime time
    genres = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32))
    buckets = hour_bucket(np.array([1, 2, 3, 21, 22, 23, 22]))

    affinity = hour_genre_affinity(
        hour_buckets=buckets, title_index=np.array([1, 1, 1, 2, 2, 2, 2]), title_genres=genres
    )

    assert affinity.shape == (HOUR_BUCKETS, 3)
    assert affinity[0].argmax() == 1
    assert affinity[5].argmax() == 2
    assert affinity.max() == 1.0
    assert affinity[0, 2] > 0  # smoothing: a habit, not an exclusion


def test_with_too_few_logged_pages_the_prior_is_used():
    features, labels = logged_impressions(1000)

    ranker = PlayRanker(min_rows=5000).fit(features, labels)

    assert ranker.mode == "prior"
    assert ranker.n_training_rows == 1000
    expected = expit(features @ PriorBlend().vector() + PriorBlend().bias)
    np.testing.assert_allclose(ranker.predict_proba(features), expected, rtol=1e-5)


def test_the_prior_blend_orders_candidates_sensibly():
    rng = np.random.default_rng(2)
    base = request_features(1, rng, cf_score=np.array([0.0]), continue_watching=np.array([False]))
    better = request_features(1, rng, cf_score=np.array([0.9]), continue_watching=np.array([True]))
    shared = [
        COLUMN[name] for name in FEATURE_NAMES if name not in ("cf_score", "continue_watching")
    ]
    better[:, shared] = base[:, shared]

    ranker = PlayRanker()

    assert ranker.mode == "prior"
    assert ranker.predict_proba(better)[0] > ranker.predict_proba(base)[0]


def test_with_enough_logged_pages_the_learned_model_takes_over():
    features, labels = logged_impressions(20000)

    ranker = PlayRanker(random_state=0).fit(features, labels)

    assert ranker.mode == "learned"
    coef = dict(zip(FEATURE_NAMES, ranker.coef, strict=True))
    assert coef["cf_score"] > 0
    assert coef["continue_watching"] > 0
    # position bias is explained by position: the lower the row, the fewer the plays
    assert coef["row_position_8_11"] < coef["row_position_3"] < coef["row_position_1"] < 0


def test_the_learned_model_moves_from_the_prior_towards_what_the_logs_show():
    # given: plays that depend on CF (3.0), resuming (2.5) and position, where the prior
    # believes 2.0, 2.0 and -1.0, and on nothing else
    features, labels = logged_impressions(40000)

    # when
    ranker = PlayRanker(random_state=0).fit(features, labels)

    # then: learned, and each coefficient has moved from the prior towards the truth
    assert ranker.mode == "learned"
    assert ranker.learned_log_loss < ranker.prior_log_loss
    prior = PriorBlend().vector()
    rows_8_9 = -1.5 * position_curve(np.array([8, 9])).mean()  # row indices run 0-9
    truths = (("cf_score", 3.0), ("continue_watching", 2.5), ("row_position_8_11", rows_8_9))
    for name, truth in truths:
        learned = ranker.coef[COLUMN[name]]
        assert abs(learned - truth) < abs(prior[COLUMN[name]] - truth), name
    # the prior's belief in content affinity, which these plays do not depend on, weakens
    assert abs(ranker.coef[COLUMN["content_affinity"]]) < prior[COLUMN["content_affinity"]]


def test_a_feature_the_logs_hold_no_contrast_in_keeps_the_priors_weight():
    # given: logs in which every shown title had the same CF score (the serving model
    # showed only what it ranked high), played by resuming and position alone
    features, labels = logged_impressions(40000)
    features[:, COLUMN["cf_score"]] = 0.6
    features[:, COLUMN["cf_x_recent_activity"]] = 0.0

    ranker = PlayRanker(random_state=0).fit(features, labels)

    # then: CF keeps the prior's weight instead of being fitted to nothing
    assert ranker.mode == "learned"
    assert ranker.coef[COLUMN["cf_score"]] == pytest.approx(
        PriorBlend().vector()[COLUMN["cf_score"]], abs=0.05
    )


def test_a_model_of_older_logs_that_predicts_the_newest_worse_keeps_the_prior():
    # given: plays that followed CF in the older logs and, in the newest fifth, content
    # affinity instead (which the prior believes in and the older logs taught to ignore)
    older, older_labels = logged_impressions(16000, seed=5)
    newer, _ = logged_impressions(4000, seed=6)
    rng = np.random.default_rng(7)
    newer_logit = (
        -3.0
        + 4.0 * newer[:, COLUMN["content_affinity"]]
        + 2.5 * newer[:, COLUMN["continue_watching"]]
        - 1.5 * newer[:, POSITION_TERMS].sum(axis=1)
    )
    newer_labels = rng.random(4000) < expit(newer_logit)

    # when
    ranker = PlayRanker(random_state=0).fit(
        np.concatenate([older, newer]), np.concatenate([older_labels, newer_labels])
    )

    # then
    assert ranker.learned_log_loss > ranker.prior_log_loss
    assert ranker.mode == "prior"
    np.testing.assert_array_equal(ranker.coef, PriorBlend().vector())


def test_a_handful_of_held_out_plays_does_not_let_the_learned_model_replace_the_prior():
    # given: plentiful older logs (about 250 plays), and a newest fifth, which the gate and
    # the calibration judge on, holding three plays among 600 tiles: the very three tiles
    # the older logs' model rates highest, so on them the learned model "predicts better"
    older, older_labels = logged_impressions(2400, seed=2)
    newer, _ = logged_impressions(600, seed=102)
    probe = PlayRanker(random_state=0).fit(older, older_labels)
    newer_labels = np.zeros(600, dtype=bool)
    newer_labels[np.argsort(probe.predict_proba(newer))[-3:]] = True

    # when
    ranker = PlayRanker(random_state=0).fit(
        np.concatenate([older, newer]), np.concatenate([older_labels, newer_labels])
    )

    # then: three plays show nothing either way (the row ranker's gate asks for 30 as well);
    # the comparison is recorded, the prior serves and nothing is calibrated on them
    assert ranker.learned_log_loss is not None
    assert ranker.prior_log_loss is not None
    assert ranker.learned_log_loss < ranker.prior_log_loss
    assert ranker.mode == "prior"
    np.testing.assert_array_equal(ranker.coef, PriorBlend().vector())
    assert (ranker.platt_slope, ranker.platt_intercept) == (1.0, 0.0)


def test_the_newest_rows_held_out_are_whole_pages():
    # given: 2,002 logged rows of pages of 7 tiles each, in time order; the newest fifth
    # would start at row 1,602, the last tile of the page that starts at row 1,596
    features, labels = logged_impressions(2002, seed=4)
    pages = np.arange(2002) // 7

    # when
    by_rows = PlayRanker(random_state=0).fit(features, labels)
    by_pages = PlayRanker(random_state=0).fit(features, labels, pages=pages)

    # then: without pages the cut falls inside that page (its tiles on both sides: the
    # same profile at the same moment judged with what it was fitted on); with them, the
    # whole page is held out
    assert by_rows.n_holdout_rows == 400
    assert by_pages.n_holdout_rows == 2002 - 1596
    assert by_pages.n_holdout_plays == int(labels[1596:].sum())


def test_calibrated_probabilities_match_observed_play_rates():
    # given: enough impressions that the calibration slice's own play rate is not noise
    features, labels = logged_impressions(150_000, seed=3)
    ranker = PlayRanker(random_state=0).fit(features[:100_000], labels[:100_000])

    # when: predicting impressions the ranker has not seen
    probabilities = ranker.predict_proba(features[100_000:])
    observed = labels[100_000:]

    # then

    assert probabilities.mean() == pytest.approx(observed.mean(), abs=0.01)
    top_decile = probabilities >= np.quantile(probabilities, 0.9)
    assert observed[top_decile].mean() == pytest.approx(probabilities[top_decile].mean(), abs=0.05)


@pytest.mark.parametrize("rows", [0, 2000, 20000], ids=["prior", "prior-with-pages", "learned"])
def test_a_higher_probability_never_gives_a_lower_match(rows):
    ranker = PlayRanker(random_state=0)
    if rows:
        ranker.fit(*logged_impressions(rows, row_effect=2.0, slot_effect=1.5))
    rng = np.random.default_rng(4)

    probabilities = np.sort(np.concatenate([rng.random(5000), rng.random(5000) * 0.1, [0, 1]]))
    matches = ranker.match(probabilities)

    assert matches.dtype == np.uint8
    assert np.all(np.diff(matches.astype(int)) >= 0)
    assert matches.min() >= 0
    assert matches.max() == 99
    # and through the whole pipeline: ordering candidates by probability orders their match
    features = request_features(3000, rng)
    order = np.argsort(ranker.predict_proba(features), kind="stable")
    assert np.all(np.diff(ranker.match(ranker.predict_proba(features))[order].astype(int)) >= 0)


def served_matches(ranker: PlayRanker, features: np.ndarray) -> np.ndarray:
    """The "% match" of logged titles as serving scores them: positions as serving sets them."""
    served = features.copy()
    served[:, POSITION_TERMS] = 0
    return ranker.match(ranker.predict_proba(served))


def test_served_titles_get_the_percentile_of_what_was_shown_despite_a_position_effect():
    # given: a log where lower rows and slots are played far less (as on a real homepage)
    features, labels = logged_impressions(20000, row_effect=2.0, slot_effect=1.5)
    ranker = PlayRanker(random_state=0).fit(features, labels)
    held_out, _ = logged_impressions(20000, seed=11, row_effect=2.0, slot_effect=1.5)

    # when: titles the ranker never saw are scored as serving scores them (shown first)
    matches = served_matches(ranker, held_out)

    # then: their matches are spread like percentiles, not piled up near 99
    assert ranker.mode == "learned"
    assert np.median(matches) == pytest.approx(49, abs=3)
    assert np.quantile(matches, 0.1) == pytest.approx(10, abs=3)
    assert np.quantile(matches, 0.9) == pytest.approx(89, abs=3)
    assert np.mean(matches >= 90) == pytest.approx(0.1, abs=0.03)


def test_the_match_percentile_undoes_the_sampling_of_unplayed_impressions():
    # given: training keeps every play and a quarter of the misses, weighted 4 to stand for
    # the rest (as ranker training samples a page's unplayed tiles)
    features, labels = logged_impressions(40000, row_effect=2.0, slot_effect=1.5)
    keep = labels | (np.random.default_rng(5).random(labels.shape[0]) < 0.25)
    weights = np.where(labels, 1.0, 4.0)[keep]
    ranker = PlayRanker(random_state=0).fit(features[keep], labels[keep], sample_weight=weights)
    held_out, _ = logged_impressions(20000, seed=11, row_effect=2.0, slot_effect=1.5)

    # when
    matches = served_matches(ranker, held_out)

    # then: percentiles of everything shown, not of a sample where plays are four times as
    # common (which put the median near 45 and one title in fifteen at 90 or more)
    assert ranker.mode == "learned"
    assert np.median(matches) == pytest.approx(49, abs=2)
    assert np.mean(matches >= 90) == pytest.approx(0.1, abs=0.015)


def test_the_priors_percentile_scale_undoes_the_sampling_of_unplayed_impressions():
    features, labels = logged_impressions(8000, row_effect=2.0, slot_effect=1.5)
    keep = labels | (np.random.default_rng(6).random(labels.shape[0]) < 0.25)
    weights = np.where(labels, 1.0, 4.0)[keep]
    ranker = PlayRanker(min_rows=50000).fit(features[keep], labels[keep], sample_weight=weights)
    held_out, _ = logged_impressions(20000, seed=12, row_effect=2.0, slot_effect=1.5)

    matches = served_matches(ranker, held_out)

    assert ranker.mode == "prior"
    assert np.median(matches) == pytest.approx(49, abs=3)
    assert np.mean(matches >= 90) == pytest.approx(0.1, abs=0.02)


def test_the_prior_with_some_logged_pages_uses_the_same_percentile_scale():
    features, labels = logged_impressions(2000, row_effect=2.0, slot_effect=1.5)
    ranker = PlayRanker(min_rows=5000).fit(features, labels)
    held_out, _ = logged_impressions(20000, seed=12)

    matches = served_matches(ranker, held_out)

    assert ranker.mode == "prior"
    assert np.median(matches) == pytest.approx(49, abs=4)
    assert np.quantile(matches, 0.9) == pytest.approx(89, abs=4)


def test_the_prior_without_logged_pages_shows_its_probability_in_percent():
    ranker = PlayRanker().fit(*logged_impressions(MIN_REFERENCE_ROWS - 1))

    assert ranker.mode == "prior"
    assert ranker.match(np.array([0.0, 0.1, 0.3, 1.0])).tolist() == [0, 10, 30, 99]


def test_save_and_load_round_trip_for_both_modes():
    for ranker in (
        PlayRanker(random_state=0).fit(*logged_impressions(20000)),
        PlayRanker(prior=PriorBlend(bias=-2.0, weights=(("cf_score", 1.0),))),
    ):
        buffer = io.BytesIO()
        ranker.save(buffer)
        buffer.seek(0)
        loaded = PlayRanker.load(buffer)
        features, _ = logged_impressions(100, seed=9)

        assert loaded.mode == ranker.mode
        assert loaded.prior == ranker.prior
        np.testing.assert_array_equal(
            loaded.predict_proba(features), ranker.predict_proba(features)
        )
        np.testing.assert_array_equal(
            loaded.match(ranker.predict_proba(features)),
            ranker.match(ranker.predict_proba(features)),
        )


def test_a_ranker_trained_on_another_feature_layout_is_refused():
    buffer = io.BytesIO()
    PlayRanker().save(buffer)
    buffer.seek(0)
    with np.load(buffer) as archive:
        arrays = {name: archive[name] for name in archive.files if not name.startswith("__")}
    arrays["feature_names"] = np.array(["cf_score"])
    stale = io.BytesIO()
    save_artefact(stale, kind="tonight.play_ranker", version=1, **arrays)
    stale.seek(0)

    with pytest.raises(ValueError, match="another feature layout"):
        PlayRanker.load(stale)


def first_layout(ranker: PlayRanker, *, standardised: bool) -> dict[str, np.ndarray]:
    """``ranker``'s arrays as the first release stored them: one log1p column per position
    (with the steep coefficients the demo's logs gave them), and, for a ranker of the
    release before that, features standardised by a stored mean and scale."""
    buffer = io.BytesIO()
    ranker.save(buffer)
    buffer.seek(0)
    with np.load(buffer) as archive:
        arrays = {name: archive[name] for name in archive.files if not name.startswith("__")}
    kept = ~POSITION_TERMS
    arrays["coef"] = np.concatenate([arrays["coef"][kept], [-6.1, -4.4]])
    n = arrays["coef"].shape[0]
    rng = np.random.default_rng(12)
    arrays["feature_mean"] = rng.uniform(0.1, 0.5, n) if standardised else np.zeros(n)
    arrays["feature_scale"] = rng.uniform(0.2, 1.0, n) if standardised else np.ones(n)
    arrays["feature_names"] = np.array([*np.array(FEATURE_NAMES)[kept], *LEGACY])
    prior = [(n, w) for n, w in PriorBlend().weights if n not in POSITION_FEATURE_NAMES]
    arrays["prior_names"] = np.array([n for n, _ in prior] + list(LEGACY))
    arrays["prior_weights"] = np.array([w for _, w in prior] + [-1.0, -0.5])
    return arrays


def stored(arrays: dict[str, np.ndarray]) -> io.BytesIO:
    buffer = io.BytesIO()
    save_artefact(buffer, kind="tonight.play_ranker", version=1, **arrays)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("standardised", [False, True], ids=["raw", "standardised"])
def test_a_ranker_of_the_first_position_layout_serves_as_it_did(standardised):
    # given: a learned ranker stored in the first layout
    arrays = first_layout(
        PlayRanker(random_state=0).fit(*logged_impressions(20000)), standardised=standardised
    )

    # when
    loaded = PlayRanker.load(stored(arrays))

    # then: what serving scores (every title as if shown first, where the old position
    # columns were 0) is what the stored model scored
    served = request_features(500, np.random.default_rng(3))
    as_stored = np.column_stack([served[:, ~POSITION_TERMS], np.zeros((500, 2))])
    z = (as_stored - arrays["feature_mean"]) / arrays["feature_scale"] @ arrays["coef"]
    score = arrays["platt_slope"] * (z + arrays["intercept"]) + arrays["platt_intercept"]
    assert loaded.mode == "learned"
    np.testing.assert_allclose(loaded.predict_proba(served), expit(score), rtol=1e-5)
    assert set(POSITION_FEATURE_NAMES) <= {name for name, _ in loaded.prior.weights}


@pytest.mark.parametrize(
    "names",
    [("row_position",), ("row_position", "slot_position", "slot_position"), ()],
    ids=["one-legacy-column", "a-duplicate", "no-position"],
)
def test_a_layout_that_differs_in_more_than_the_position_encoding_is_refused(names):
    arrays = first_layout(PlayRanker(), standardised=False)
    kept = len(FEATURE_NAMES) - int(POSITION_TERMS.sum())
    arrays["feature_names"] = np.array([*arrays["feature_names"][:kept], *names])
    for key in ("coef", "feature_mean", "feature_scale"):
        arrays[key] = np.resize(arrays[key], kept + len(names))

    with pytest.raises(ValueError, match="another feature layout"):
        PlayRanker.load(stored(arrays))


def test_prior_weights_must_name_real_features():
    with pytest.raises(ValueError, match="unknown features"):
        PriorBlend(weights=(("vibes", 1.0),))


def _transitions(zone, start: float, end: float) -> list[float]:
    """Unix times where ``zone``'s offset changes in [start, end), found by bisection per hour."""
    found = []
    hours = np.arange(start, end, 3600.0)
    offsets = [dt.datetime.fromtimestamp(t, zone).utcoffset() for t in hours.tolist()]
    for k in np.flatnonzero([a != b for a, b in itertools.pairwise(offsets)]).tolist():
        lo, hi = hours[k], hours[k + 1]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            same = dt.datetime.fromtimestamp(mid, zone).utcoffset() == offsets[k]
            lo, hi = (mid, hi) if same else (lo, mid)
        found.append(hi)
    return found


@pytest.mark.parametrize(
    "name",
    ["America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"],
)
@pytest.mark.parametrize("n", [5, 3_000], ids=["few times", "many times"])
def test_local_hour_and_weekday_are_the_zones_own_around_every_transition(name, n):
    """Against ``datetime.fromtimestamp``: random times over 400 days, and each second either
    side of every offset change in them (Lord Howe's moves by half an hour)."""
    zone = zoneinfo.ZoneInfo(name)
    rng = np.random.default_rng(1)
    start = dt.datetime(2025, 6, 1, tzinfo=dt.UTC).timestamp()
    end = start + 400 * 86_400.0
    times = rng.uniform(start, end, n)
    if n > 100:
        edges = [t + d for t in _transitions(zone, start, end) for d in (-1.0, -0.25, 0.0, 0.5)]
        times = np.concatenate([times, edges])
    hour, weekday = local_hour_and_weekday(times, zone)

    expected = [dt.datetime.fromtimestamp(t, zone) for t in times.tolist()]
    assert hour.tolist() == [moment.hour for moment in expected]
    assert weekday.tolist() == [moment.weekday() for moment in expected]
    assert local_hour_and_weekday(np.empty(0), zone)[0].shape == (0,)


def test_hour_buckets_start_at_midnight_and_end_at_23():
    # 0 is midnight (the night bucket), not "no hour": 24 is no hour of a day
    assert hour_bucket(np.array([0, 3, 4, 19, 20, 23])).tolist() == [0, 0, 1, 4, 5, 5]
    assert int(hour_bucket(0)) == 0
    for hour in (-1, 24):
        with pytest.raises(ValueError, match=r"hour must be in 0\.\.23"):
            hour_bucket(hour)
