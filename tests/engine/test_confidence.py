"""What signals are worth: each ordering rule of DESIGN.md stated as its own test.

Every test builds the signals of one profile as a tiny event list, so the rule
under test reads directly off the arrange block.
"""

from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.engine.confidence import (
    SignalCode,
    SignalWeights,
    commitment_factor,
    dislike_penalties,
    dislike_penalty_of,
    kind_codes,
    profile_confidence_row,
    row_scroll_penalties,
    signal_confidence,
    signal_confidence_parts,
    signed_confidence,
)

N_TITLES = 6


@dataclass(frozen=True)
class Event:
    title: int
    kind: SignalCode
    age: float = 0.0
    value: float = np.nan
    hours: float = np.nan
    rewatch: bool = False
    profile: int = 0


def evidence(*events: Event, weights: SignalWeights | None = None, n_profiles: int = 1):
    return signal_confidence(
        profile_index=np.array([e.profile for e in events], dtype=np.int32),
        title_index=np.array([e.title for e in events], dtype=np.int32),
        kind=np.array([e.kind for e in events], dtype=np.int8),
        value=np.array([e.value for e in events], dtype=np.float32),
        age_days=np.array([e.age for e in events], dtype=np.float32),
        commitment=np.array([e.hours for e in events], dtype=np.float32),
        rewatch=np.array([e.rewatch for e in events], dtype=bool),
        n_profiles=n_profiles,
        n_titles=N_TITLES,
        weights=weights,
    )


def positive(*events: Event, **kwargs) -> np.ndarray:
    return evidence(*events, **kwargs).positive.toarray()[0]


def viewing(title: int, *, hours: float, age: float = 0.0) -> list[Event]:
    """A play from a recommendation, watched to the end, then completed."""
    return [
        Event(title, SignalCode.PLAY_START, age=age),
        Event(title, SignalCode.PROGRESS, age=age, value=100.0),
        Event(title, SignalCode.COMPLETE, age=age, hours=hours),
    ]


def test_completing_a_season_outweighs_finishing_a_film_in_proportion_to_commitment():
    # given: the same story for a 2-hour film, a 10-hour season and a 50-hour series
    conf = positive(*viewing(0, hours=2.0), *viewing(1, hours=10.0), *viewing(2, hours=50.0))
    completion_only = positive(
        Event(0, SignalCode.COMPLETE, hours=2.0), Event(1, SignalCode.COMPLETE, hours=10.0)
    )

    # then: more commitment, more confidence, log-proportionally
    assert conf[2] > conf[1] > conf[0]
    assert completion_only[1] / completion_only[0] == pytest.approx(
        np.log1p(10.0) / np.log1p(2.0), rel=1e-5
    )


def test_commitment_factor_is_one_for_a_film_and_treats_unknown_runtime_as_a_film():
    assert commitment_factor(2.0) == pytest.approx(1.0)
    assert commitment_factor(np.nan) == pytest.approx(1.0)
    assert commitment_factor(0.0) == pytest.approx(1.0)
    assert commitment_factor(10.0) == pytest.approx(2.1827, rel=1e-4)


def test_completing_a_season_outweighs_its_episodes_alone():
    # given: one title with ten 1-hour episode completions, then the season completion
    episodes = [Event(0, SignalCode.COMPLETE, hours=1.0) for _ in range(10)]

    assert (
        positive(*episodes, Event(0, SignalCode.COMPLETE, hours=10.0))[0] > positive(*episodes)[0]
    )


def test_a_rewatch_weighs_heavily():
    # given: two films completed 100 days ago; film 0 was played again yesterday
    completed_long_ago = [*viewing(0, hours=2.0, age=100.0), *viewing(1, hours=2.0, age=100.0)]
    conf = positive(*completed_long_ago, Event(0, SignalCode.PLAY_START, age=1.0))
    weights = SignalWeights()

    # then: the play after completion counts as a rewatch, heavier than any single play
    assert conf[0] - conf[1] > weights.rewatch * 0.99
    assert weights.rewatch > max(weights.search_play, weights.external_play, weights.play_start)
    # and a flagged rewatch whose completion is outside the batch still counts as one
    flagged = positive(
        Event(0, SignalCode.PLAY_START, rewatch=True), Event(1, SignalCode.SEARCH_PLAY)
    )
    assert flagged[0] > flagged[1]


def test_a_rewatch_decays_slowly():
    # given: plays of different kinds, fresh and half a year old
    def share_left_after(days: float, event: Event) -> float:
        old = Event(event.title, event.kind, age=days, rewatch=event.rewatch)
        return positive(old)[event.title] / positive(event)[event.title]

    rewatch = Event(0, SignalCode.PLAY_START, rewatch=True)
    play = Event(0, SignalCode.PLAY_START)

    # then: the rewatch keeps most of its weight, the ordinary play does not
    assert share_left_after(180.0, rewatch) > 0.6
    assert share_left_after(180.0, rewatch) > 2 * share_left_after(180.0, play)
    # and a half-year-old rewatch still beats a fresh ordinary play
    assert positive(Event(0, SignalCode.PLAY_START, age=180.0, rewatch=True))[0] > positive(play)[0]


def test_intentional_plays_outweigh_a_play_from_a_recommendation():
    conf = positive(
        Event(0, SignalCode.PLAY_START),
        Event(1, SignalCode.SEARCH_PLAY),
        Event(2, SignalCode.EXTERNAL_PLAY),
    )

    assert conf[1] > conf[0]
    assert conf[2] > conf[0]


def test_thumbs_up_is_a_strong_positive():
    conf = positive(
        Event(0, SignalCode.THUMBS_UP),
        Event(1, SignalCode.PLAY_START),
        Event(2, SignalCode.SEARCH_PLAY),
    )

    assert conf[0] > conf[2] > conf[1] > 0


def test_thumbs_down_is_a_strong_negative_that_wipes_the_positive():
    # given: a film watched to the end, then thumbed down
    result = evidence(*viewing(0, hours=2.0, age=2.0), Event(0, SignalCode.THUMBS_DOWN, age=1.0))

    # then: no positive confidence at all, and strong negative evidence
    weights = SignalWeights()
    assert result.positive.nnz == 0
    assert result.negative[0, 0] == pytest.approx(
        weights.thumbs_down * 0.5 ** (1.0 / weights.explicit_half_life_days), rel=1e-5
    )
    # and the signed matrix for ALS says "preference 0" with that confidence
    signed = signed_confidence(result.positive, result.negative)
    assert signed[0, 0] == pytest.approx(-result.negative[0, 0])


def test_the_latest_thumbs_decides():
    down_then_up = evidence(
        Event(0, SignalCode.THUMBS_DOWN, age=5.0), Event(0, SignalCode.THUMBS_UP, age=1.0)
    )
    up_then_down = evidence(
        Event(0, SignalCode.THUMBS_UP, age=5.0), Event(0, SignalCode.THUMBS_DOWN, age=1.0)
    )

    assert down_then_up.positive[0, 0] > 0
    assert down_then_up.negative.nnz == 0
    assert up_then_down.positive.nnz == 0
    assert up_then_down.negative[0, 0] > 0


@pytest.mark.parametrize("rated", [SignalCode.THUMBS_UP, SignalCode.THUMBS_DOWN])
@pytest.mark.parametrize("path", ["batch", "one profile"])
def test_a_cleared_rating_is_no_explicit_evidence_either_way(rated, path):
    # given: a film watched, then rated, then the rating removed
    events = (
        *viewing(0, hours=2.0, age=3.0),
        Event(0, rated, age=2.0),
        Event(0, SignalCode.THUMBS_CLEARED, age=1.0),
    )
    unrated = viewing(0, hours=2.0, age=3.0)

    def of(events):
        if path == "batch":
            return evidence(*events)
        return profile_confidence_row(
            title_index=np.array([e.title for e in events], dtype=np.int32),
            kind=np.array([e.kind for e in events], dtype=np.int8),
            value=np.array([e.value for e in events], dtype=np.float32),
            age_days=np.array([e.age for e in events], dtype=np.float32),
            commitment=np.array([e.hours for e in events], dtype=np.float32),
            n_titles=N_TITLES,
        ).matrices()

    # then: the viewing counts as if never rated (no thumbs-up boost, no dislike)
    cleared = of(events)
    assert cleared.negative.nnz == 0
    assert cleared.positive[0, 0] == pytest.approx(of(unrated).positive[0, 0])


def test_a_rating_after_a_clear_counts_again():
    cleared_then_down = evidence(
        Event(0, SignalCode.THUMBS_UP, age=5.0),
        Event(0, SignalCode.THUMBS_CLEARED, age=3.0),
        Event(0, SignalCode.THUMBS_DOWN, age=1.0),
    )
    cleared_then_up = evidence(
        Event(0, SignalCode.THUMBS_CLEARED, age=3.0), Event(0, SignalCode.THUMBS_UP, age=1.0)
    )

    assert cleared_then_down.positive.nnz == 0
    assert cleared_then_down.negative[0, 0] > 0
    assert cleared_then_up.positive[0, 0] == pytest.approx(
        positive(Event(0, SignalCode.THUMBS_UP, age=1.0))[0]
    )


def test_a_clear_alone_is_no_evidence():
    result = evidence(Event(0, SignalCode.THUMBS_CLEARED))

    assert (result.positive.nnz, result.negative.nnz, result.ignored.nnz) == (0, 0, 0)


def test_hover_and_preview_without_play_are_weak():
    conf = positive(
        Event(0, SignalCode.HOVER),
        Event(1, SignalCode.PREVIEW),
        Event(2, SignalCode.PLAY_START),
        *[Event(3, SignalCode.HOVER) for _ in range(100)],
        *[Event(4, SignalCode.PREVIEW) for _ in range(100)],
    )

    assert 0 < conf[0] < conf[1] < conf[2]
    # no amount of hovering or previewing adds up to one play
    assert conf[3] < conf[2]
    assert conf[4] < conf[2]


def test_older_signals_count_less_with_a_configurable_half_life():
    fresh = positive(Event(0, SignalCode.COMPLETE))[0]
    month_old = positive(Event(0, SignalCode.COMPLETE, age=30.0))[0]
    at_half_life = positive(Event(0, SignalCode.COMPLETE, age=60.0))[0]
    short = positive(
        Event(0, SignalCode.COMPLETE, age=30.0), weights=SignalWeights(half_life_days=10.0)
    )[0]

    assert fresh > month_old > at_half_life
    assert at_half_life == pytest.approx(fresh / 2, rel=1e-5)
    assert short == pytest.approx(fresh / 8, rel=1e-5)


def test_impressions_alone_carry_no_positive_confidence():
    shown_twice = evidence(Event(0, SignalCode.IMPRESSION), Event(0, SignalCode.IMPRESSION))
    shown_often = evidence(*[Event(0, SignalCode.IMPRESSION) for _ in range(5)])
    shown_and_played = evidence(
        *[Event(0, SignalCode.IMPRESSION) for _ in range(5)], Event(0, SignalCode.PLAY_START)
    )

    assert shown_twice.positive.nnz == shown_often.positive.nnz == 0
    assert shown_twice.ignored.nnz == 0  # too few impressions to mean anything
    assert shown_often.ignored[0, 0] > 0  # shown often, never engaged: impression fatigue
    assert shown_often.negative.nnz == 0  # ...but that is not a dislike
    assert shown_and_played.ignored.nnz == 0
    assert shown_and_played.positive[0, 0] == pytest.approx(1.0)


def test_progress_checkpoints_do_not_add_up():
    checkpoints = [Event(0, SignalCode.PROGRESS, value=v) for v in range(10, 101, 10)]

    assert positive(*checkpoints)[0] == pytest.approx(positive(checkpoints[-1])[0])


def test_profiles_do_not_contaminate_each_other_and_matrices_are_canonical():
    result = evidence(
        Event(0, SignalCode.COMPLETE, profile=0),
        Event(1, SignalCode.THUMBS_DOWN, profile=1),
        Event(2, SignalCode.IMPRESSION, profile=2),
        n_profiles=3,
    )

    for matrix in (result.positive, result.negative, result.ignored):
        assert sp.isspmatrix_csr(matrix)
        assert matrix.shape == (3, N_TITLES)
        assert matrix.dtype == np.float32
        assert matrix.has_canonical_format
        assert np.all(matrix.data > 0)  # ALS reads stored zeros as observations
    assert [index.tolist() for index in result.positive.nonzero()] == [[0], [0]]
    assert [index.tolist() for index in result.negative.nonzero()] == [[1], [1]]


def test_row_scroll_past_has_no_title_and_no_confidence():
    result = evidence(Event(-1, SignalCode.ROW_SCROLL_PAST))

    assert result.positive.nnz == result.negative.nnz == 0


def test_out_of_range_indices_are_refused():
    with pytest.raises(ValueError, match="title_index"):
        evidence(Event(N_TITLES, SignalCode.PLAY_START))
    with pytest.raises(ValueError, match="title_index"):
        evidence(Event(-1, SignalCode.PLAY_START))
    with pytest.raises(ValueError, match="profile_index"):
        evidence(Event(0, SignalCode.PLAY_START, profile=1))


def test_each_part_of_one_pass_is_exactly_its_signals_alone():
    # given: a mixed batch (every kind, completions before and after plays, thumbs up then
    # down, impressions alone, scrolls without a title) and a part that leaves signals out
    rng = np.random.default_rng(7)
    n, n_profiles = 4_000, 40
    kind = rng.integers(0, len(SignalCode), n).astype(np.int8)
    title = np.where(kind == SignalCode.ROW_SCROLL_PAST, -1, rng.integers(0, N_TITLES, n))
    kind[title == N_TITLES - 1] = SignalCode.IMPRESSION  # shown, never engaged with: "ignored"
    batch = {
        "profile_index": rng.integers(0, n_profiles, n).astype(np.int32),
        "title_index": title.astype(np.int32),
        "kind": kind,
        "value": (rng.random(n) * 100).astype(np.float32),
        "age_days": (rng.random(n) * 400).astype(np.float32),
        "commitment": np.where(rng.random(n) < 0.5, np.nan, rng.random(n) * 30).astype(np.float32),
        "rewatch": rng.random(n) < 0.1,
    }
    part = rng.random(n) < 0.7
    shape = {"n_profiles": n_profiles, "n_titles": N_TITLES}

    # when
    whole, of_part = signal_confidence_parts(**batch, **shape, parts=[None, part])

    # then: the same matrices as two separate computations, to the bit
    alone = signal_confidence(**{k: v[part] for k, v in batch.items()}, **shape)
    for got, expected in ((whole, signal_confidence(**batch, **shape)), (of_part, alone)):
        for name in ("positive", "negative", "ignored"):
            a, b = getattr(got, name), getattr(expected, name)
            assert a.nnz > 0
            assert np.array_equal(a.indptr, b.indptr)
            assert np.array_equal(a.indices, b.indices)
            assert np.array_equal(a.data, b.data)
    assert not np.array_equal(of_part.positive.toarray(), whole.positive.toarray())


@pytest.mark.parametrize("n_signals", [0, 1, 60, 399, 1_500])
def test_one_profiles_confidence_is_the_batchs_to_the_bit(n_signals):
    # given: one profile's random history over few titles, so pairs mix every kind: plays
    # before and after completions, flagged rewatches, thumbs up and down on the same day,
    # impressions alone, NaN progress and runtimes, ages from the future (clock skew)
    rng = np.random.default_rng(n_signals)
    kind = rng.integers(0, len(SignalCode), n_signals).astype(np.int8)
    title = np.where(kind == SignalCode.ROW_SCROLL_PAST, -1, rng.integers(0, N_TITLES, n_signals))
    kind[title == N_TITLES - 1] = SignalCode.IMPRESSION
    signals = {
        "title_index": title.astype(np.int32),
        "kind": kind,
        "value": np.where(rng.random(n_signals) < 0.1, np.nan, rng.random(n_signals) * 120),
        "age_days": (np.round(rng.random(n_signals) * 40) - 2).astype(np.float32),
        "commitment": np.where(rng.random(n_signals) < 0.5, np.nan, rng.random(n_signals) * 30),
        "rewatch": rng.random(n_signals) < 0.1,
    }

    # when
    got = profile_confidence_row(**signals, n_titles=N_TITLES).matrices()

    # then
    expected = signal_confidence(
        **signals, profile_index=np.zeros(n_signals, np.int32), n_profiles=1, n_titles=N_TITLES
    )
    for name in ("positive", "negative", "ignored"):
        a, b = getattr(got, name), getattr(expected, name)
        assert a.shape == b.shape == (1, N_TITLES)
        assert np.array_equal(a.indptr, b.indptr)
        assert np.array_equal(a.indices, b.indices)
        assert np.array_equal(a.data, b.data)
        assert a.data.dtype == np.float32
        assert a.nnz > 0 or n_signals < 60


@pytest.mark.parametrize("n_signals", [0, 1, 60, 1_500])
def test_a_profiles_confidence_row_reads_as_its_matrices_entries(n_signals):
    # given: random histories, the longest through the batch path and back into a row (a seed
    # whose 60 signals leave a pair disliked: with clears among the kinds, 160's leave none)
    rng = np.random.default_rng(300 + n_signals)
    kind = rng.integers(0, len(SignalCode), n_signals).astype(np.int8)
    title = np.where(kind == SignalCode.ROW_SCROLL_PAST, -1, rng.integers(0, N_TITLES, n_signals))
    signals = {
        "title_index": title.astype(np.int32),
        "kind": kind,
        "value": rng.random(n_signals) * 100,
        "age_days": rng.random(n_signals) * 40,
        "commitment": rng.random(n_signals) * 3,
        "rewatch": rng.random(n_signals) < 0.1,
    }

    # when
    row = profile_confidence_row(**signals, n_titles=N_TITLES)

    # then: what the request path reads off the row is what it read off the matrices
    matrices = row.matrices()
    for (titles, amounts), matrix in (
        (row.liked(), matrices.positive),
        (row.disliked(), matrices.negative),
        (row.signed(), signed_confidence(matrices.positive, matrices.negative)),
    ):
        assert np.array_equal(titles, matrix.indices)
        assert amounts.dtype == matrix.data.dtype == np.float32
        assert np.array_equal(amounts, matrix.data)
    assert row.personalised == (matrices.positive.nnz + matrices.negative.nnz > 0)
    assert row.personalised or n_signals < 60
    assert (row.signed()[1] < 0).any() or n_signals < 60


def test_one_profiles_confidence_refuses_what_the_batch_refuses():
    with pytest.raises(ValueError, match="title_index out of range"):
        profile_confidence_row(
            title_index=[N_TITLES], kind=[SignalCode.PLAY_START], value=[0], age_days=[0],
            n_titles=N_TITLES,
        )  # fmt: skip
    with pytest.raises(ValueError, match="not SignalCode values"):
        profile_confidence_row(
            title_index=[0], kind=[99], value=[0], age_days=[0], n_titles=N_TITLES
        )


def test_kind_codes_convert_signal_kind_values():
    codes = kind_codes(["play_start", "thumbs_down", "row_scroll_past", "play_start"])

    assert codes.dtype == np.int8
    assert codes.tolist() == [
        SignalCode.PLAY_START,
        SignalCode.THUMBS_DOWN,
        SignalCode.ROW_SCROLL_PAST,
        SignalCode.PLAY_START,
    ]
    with pytest.raises(ValueError, match="unknown signal kinds"):
        kind_codes(["play_start", "binge"])


def test_weights_come_from_settings_and_reject_typos():
    assert SignalWeights.from_mapping({"rewatch": 5.0}).rewatch == 5.0
    assert SignalWeights.from_mapping(None) == SignalWeights()
    with pytest.raises(ValueError, match="rewach"):
        SignalWeights.from_mapping({"rewach": 5.0})
    with pytest.raises(ValueError, match="half_life_days"):
        SignalWeights(half_life_days=0.0)


def test_thumbs_down_pushes_down_similar_content():
    # given: title 0 is disliked; title 1 is close to it, title 2 loosely, title 3 barely
    negative = sp.csr_matrix(np.array([[4.0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]))
    similarity = sp.csr_matrix(
        np.array(
            [
                [0, 0.8, 0.4, 0.1, 0, 0],
                [0.8, 0, 0, 0, 0, 0],
                [0.4, 0, 0, 0, 0, 0],
                [0.1, 0, 0, 0, 0, 0],
                [0, 0, 0, 0, 0, 0],
                [0, 0, 0, 0, 0, 0],
            ]
        )
    )

    # when
    penalties = dislike_penalties(negative, similarity).toarray()

    # then
    assert penalties[0, 0] == 1.0
    assert penalties[0, 1] > penalties[0, 2] > 0
    assert penalties[0, 3] == 0  # below min_similarity
    assert penalties[0, 4] == 0
    assert not penalties[1].any()  # another profile is untouched
    assert penalties.max() <= 1.0


def test_the_request_path_penalty_row_equals_the_batch_matrix():
    # given: random dislikes of three profiles over a random sparse similarity
    n_titles = 200
    similarity = sp.random(n_titles, n_titles, density=0.05, random_state=5, dtype=np.float32)
    similarity = sp.csr_matrix(similarity)
    negative = sp.csr_matrix(
        sp.random(3, n_titles, density=0.03, random_state=6, dtype=np.float32) * 4.0
    )

    # when
    batch = dislike_penalties(negative, similarity, strength=0.7, min_similarity=0.3).toarray()

    # then
    for profile in range(3):
        own = negative[profile]
        row = dislike_penalty_of(
            own.indices, own.data, similarity, strength=0.7, min_similarity=0.3
        )
        assert row.dtype == np.float32
        np.testing.assert_allclose(row, batch[profile], rtol=1e-5, atol=1e-7)


def test_scrolling_past_a_row_lowers_its_type_and_genre():
    # given: profile 0 scrolled past row type 2 (genre 1) three times and row type 0 once
    penalties = row_scroll_penalties(
        profile_index=np.array([0, 0, 0, 0, 1]),
        row_type=np.array([2, 2, 2, 0, 1]),
        genre=np.array([1, 1, 1, -1, -1]),
        age_days=np.zeros(5),
        n_profiles=2,
        n_row_types=3,
        n_genres=2,
    )
    row_type = penalties.row_type.toarray()
    genre = penalties.genre.toarray()

    # then: a habit weighs more than a single scroll, and everything stays below 1
    assert row_type[0, 2] > row_type[0, 0] > 0
    assert row_type[0, 1] == 0
    assert genre[0, 1] > 0
    assert genre[0, 0] == 0
    assert not genre[1].any()  # row without a genre
    assert row_type.max() < 1.0
    assert row_type[0, 0] == pytest.approx(1 - np.exp(-SignalWeights().row_scroll_past))
