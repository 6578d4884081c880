"""The request path's shortcuts must not change what it computes."""

from types import SimpleNamespace

import numpy as np
import pytest

from recommendations.engine.confidence import SignalCode, profile_confidence_row, signal_confidence


@pytest.mark.parametrize("seed", range(5))
def test_impressions_change_neither_positive_nor_negative_evidence(seed):
    # given: one profile's random history over 30 titles, impressions included
    rng = np.random.default_rng(seed)
    n = 400
    kind = rng.choice([int(code) for code in SignalCode], size=n).astype(np.int8)
    title = rng.integers(0, 30, size=n).astype(np.int32)
    title[kind == SignalCode.ROW_SCROLL_PAST] = -1
    history = dict(
        profile_index=np.zeros(n, dtype=np.int32),
        title_index=title,
        kind=kind,
        value=rng.uniform(0, 100, size=n).astype(np.float32),
        age_days=rng.uniform(0, 200, size=n),
        commitment=np.where(kind == SignalCode.COMPLETE, rng.uniform(0.5, 10, size=n), np.nan),
        rewatch=rng.random(n) < 0.1,
    )
    engaged = (kind != SignalCode.IMPRESSION) & (title >= 0)
    assert (~engaged).sum() > 0

    # when: serving leaves impressions (and title-less signals) out
    full = signal_confidence(**history, n_profiles=1, n_titles=30)
    served = signal_confidence(
        **{name: values[engaged] for name, values in history.items()}, n_profiles=1, n_titles=30
    )

    # then
    assert (full.positive != served.positive).nnz == 0
    assert (full.negative != served.negative).nnz == 0
    assert full.positive.nnz > 0


def _random_region(seed: int, n_titles: int = 300):
    """A region's windows with shared and open-ended bounds, and its arrival times."""
    from recommendations.selectors.training import SECONDS_PER_DAY, AvailabilityWindows
    from recommendations.serving.bundle import RegionArrays

    rng = np.random.default_rng(seed)
    n_windows = 2 * n_titles
    day = SECONDS_PER_DAY
    starts = rng.integers(0, 400, n_windows) * day  # whole days: many windows share a bound
    ends = starts + rng.integers(1, 200, n_windows) * day
    starts = np.where(rng.random(n_windows) < 0.1, -np.inf, starts).astype(np.float64)
    ends = np.where(rng.random(n_windows) < 0.2, np.inf, ends).astype(np.float64)
    windows = AvailabilityWindows(
        region_codes=("IN",),
        region=np.zeros(n_windows, dtype=np.int16),
        title_index=rng.integers(0, n_titles, n_windows).astype(np.int32),
        starts=starts,
        ends=ends,
        n_titles=n_titles,
    )
    release_day = np.where(
        rng.random(n_titles) < 0.05, np.nan, rng.integers(0, 500, n_titles) * day
    ).astype(np.float64)
    return RegionArrays(windows=windows, arrival=windows.arrival(release_day)), windows


def _serving_stub(
    n_titles, region, *, als, neighbours=None, trending=None, genre_table=None, time_zones=None
):
    """The parts of a serving bundle and of a catalogue that ``ranking_inputs`` reads: no
    content affinity, no cluster or region popularity; ``trending`` (default none) and
    ``neighbours`` (default none) as given."""
    import scipy.sparse as sp

    zeros = np.zeros(n_titles, dtype=np.float32)
    bundle = SimpleNamespace(
        n_titles=n_titles,
        als=als,
        content=SimpleNamespace(affinity_of=lambda titles, weights: zeros),
        neighbours=neighbours
        if neighbours is not None
        else sp.csr_matrix((n_titles, n_titles), dtype=np.float32),
        trending_rows=lambda **_: (trending if trending is not None else zeros, zeros, zeros),
    )
    catalogue = SimpleNamespace(
        facts=SimpleNamespace(maturity=np.zeros(n_titles)),
        region=lambda code: region,
        time_zones=time_zones or {},
        genre_table=genre_table
        if genre_table is not None
        else np.zeros((n_titles, 2), dtype=np.float32),
    )
    return bundle, catalogue


def _tv_request(at):
    """A US profile's request from a TV at ``at``, every maturity allowed, no languages."""
    from tests.recommendations.scoring_context import tv_context

    return tv_context(region_code="US", at=at)


@pytest.mark.parametrize("seed", range(3))
def test_the_shared_availability_mask_is_the_windows_own_at_every_moment(seed):
    """The mask is reused between two window bounds: at the bounds themselves, just
    before and after them, and when time goes backwards, it must be the windows' own."""
    region, windows = _random_region(seed)
    bounds = np.unique(np.concatenate([windows.starts, windows.ends]))
    bounds = bounds[np.isfinite(bounds)]
    moments = np.concatenate([bounds, bounds - 1e-3, bounds + 1e-3, bounds + 3600.0])
    rng = np.random.default_rng(seed)
    for at in np.concatenate([np.sort(moments), rng.permutation(moments)]).tolist():
        mask = region.available(at)
        np.testing.assert_array_equal(mask, windows.available(at), err_msg=f"at {at}")
        assert not mask.flags.writeable  # shared by requests: nobody may change it


def test_a_window_holds_its_start_and_not_its_end():
    """[start, end): a licence starting at 20:00 is on at 20:00, one ending then is off.

    The random windows above are checked against the windows' own mask, which a flipped
    bound in that mask would pass; here the bounds are stated."""
    from recommendations.selectors.training import AvailabilityWindows
    from recommendations.serving.bundle import RegionArrays

    windows = AvailabilityWindows(
        region_codes=("IN",),
        region=np.zeros(1, dtype=np.int16),
        title_index=np.zeros(1, dtype=np.int32),
        starts=np.array([100.0]),
        ends=np.array([200.0]),
        n_titles=1,
    )
    region = RegionArrays(windows=windows, arrival=windows.arrival(np.zeros(1)))
    moments = (99.5, 100.0, 199.5, 200.0)

    assert [bool(windows.available(at)[0]) for at in moments] == [False, True, True, False]
    assert [bool(region.available(at)[0]) for at in moments] == [False, True, True, False]


def _random_seasons(seed: int, n_titles: int = 300, *, n_seasons: int = 400):
    """Seasons of a third of the titles, released on whole days (many on one day), some
    undated."""
    from recommendations.selectors.training import SECONDS_PER_DAY, SeasonReleases

    rng = np.random.default_rng(seed + 100)
    release = rng.integers(0, 600, n_seasons) * SECONDS_PER_DAY
    release = np.where(rng.random(n_seasons) < 0.1, -np.inf, release).astype(np.float64)
    return SeasonReleases(
        title_index=rng.integers(0, n_titles // 3, n_seasons).astype(np.int32),
        release=release,
        size=rng.integers(1, 10, n_seasons).astype(np.int32),
        n_titles=n_titles,
    )


def _no_seasons(n_titles: int = 300):
    from recommendations.selectors.training import SeasonReleases

    empty = np.empty(0, dtype=np.int32)
    return SeasonReleases(empty, empty.astype(np.float64), empty, n_titles)


@pytest.mark.parametrize("seed", range(3))
def test_new_release_scores_from_recent_seasons_equal_the_whole_catalogues(seed):
    """A series whose newest season came out within the window scores as new from that
    season's release (the later of that and its arrival's score), found by a binary
    search; the result must be the function over every title and season, at any moment,
    including the window's edges and moments when a season comes out."""
    from recommendations.engine.popularity import new_release_scores
    from recommendations.selectors.training import SECONDS_PER_DAY
    from recommendations.serving.scoring import _new_release

    region, _ = _random_region(seed)
    releases = _random_seasons(seed)
    dated = releases.release[np.isfinite(releases.release)]
    window = 90 * SECONDS_PER_DAY
    moments = np.concatenate([dated, dated - 1, dated + window, dated + window + 1])
    renewed = 0
    for at in np.random.default_rng(seed).permutation(moments)[:300].tolist():
        release_age = (at - region.arrival) / SECONDS_PER_DAY
        # The newest season out at ``at`` of each title, the slow way.
        out = releases.release <= at
        newest = np.full(300, -np.inf)
        for title, release in zip(releases.title_index[out], releases.release[out], strict=True):
            newest[title] = max(newest[title], release)
        season_age = (at - newest) / SECONDS_PER_DAY
        inputs = SimpleNamespace(at=at, release_age=release_age)  # the fields it reads
        served = _new_release(inputs, region, releases)
        np.testing.assert_array_equal(
            served,
            np.maximum(new_release_scores(release_age), new_release_scores(season_age)),
            err_msg=f"at {at}",
        )
        np.testing.assert_array_equal(releases.newest_out(at), newest)
        renewed += bool((new_release_scores(season_age) > new_release_scores(release_age)).any())
    assert renewed > 50


@pytest.mark.parametrize("seed", range(3))
def test_new_release_scores_from_recent_arrivals_equal_the_whole_catalogues(seed):
    """Serving scores only titles that arrived within the window; the result must be
    the function over every title, at any moment, including window edges."""
    from recommendations.engine.popularity import new_release_scores
    from recommendations.selectors.training import SECONDS_PER_DAY
    from recommendations.serving.scoring import _new_release

    region, _ = _random_region(seed)
    finite = region.arrival[np.isfinite(region.arrival)]
    moments = np.concatenate(
        [finite, finite + 90 * SECONDS_PER_DAY, finite + 90 * SECONDS_PER_DAY + 1, finite - 1]
    )
    with_new_releases = 0
    for at in moments[:: max(1, moments.shape[0] // 200)].tolist():
        release_age = (at - region.arrival) / SECONDS_PER_DAY
        inputs = SimpleNamespace(at=at, release_age=release_age)  # the fields it reads
        served = _new_release(inputs, region, _no_seasons())
        np.testing.assert_array_equal(served, new_release_scores(release_age))
        with_new_releases += bool(served.any())
    assert with_new_releases > 50


def test_the_hour_genre_affinity_takes_each_plays_own_local_hour():
    """A play's hour is its own moment's local hour: a summer evening's play (EDT) is
    still an evening play on a winter evening (EST), not an afternoon one."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from recommendations.selectors.training import TrainingSignals
    from recommendations.serving.scoring import (
        ProfileHistory,
        bucket_genre_affinity,
        ranking_inputs,
    )

    # given: drama (titles 0-4) played at 20:30 on summer evenings, comedy (5-9) at 14:00
    n_titles, zone = 300, ZoneInfo("America/New_York")
    region, _ = _random_region(0, n_titles=n_titles)
    genre_table = np.zeros((n_titles, 2), dtype=np.float32)
    genre_table[0:5, 0] = genre_table[5:10, 1] = 1.0
    drama = [dt.datetime(2025, 7, 1 + d, 20, 30, tzinfo=zone) for d in range(5)]
    comedy = [dt.datetime(2025, 7, 10 + d, 14, 0, tzinfo=zone) for d in range(5)]
    titles = np.arange(10, dtype=np.int32)
    n = titles.shape[0]
    signals = TrainingSignals(
        profile_ids=np.array([1], dtype=np.int64),
        title_ids=np.arange(n_titles, dtype=np.int64),
        profile_index=np.zeros(n, dtype=np.int32),
        title_index=titles,
        episode_id=np.full(n, -1, dtype=np.int64),
        kind=np.full(n, SignalCode.PLAY_START, dtype=np.int8),
        value=np.full(n, np.nan, dtype=np.float32),
        timestamp=np.array([t.timestamp() for t in drama + comedy]),
        rewatch=np.zeros(n, dtype=bool),
        commitment_hours=np.full(n, np.nan, dtype=np.float32),
    )
    none = np.empty(0, dtype=bool)
    history = ProfileHistory(
        signals=signals,
        state_title=np.empty(0, dtype=np.int32),
        completed=none,
        rewatch_worthy=none,
        thumbs_down=none,
        in_progress=none,
        last_played=np.empty(0),
    )
    bundle, catalogue = _serving_stub(
        n_titles,
        region,
        als=SimpleNamespace(
            fold_in_entries=lambda indices, data, available=None: np.zeros(4, np.float32),
            item_factors=np.zeros((n_titles, 4), np.float32),
        ),
        genre_table=genre_table,
        time_zones={"US": zone},
    )
    winter_evening = dt.datetime(2026, 1, 15, 21, 0, tzinfo=zone)

    # when
    inputs = ranking_inputs(
        bundle=bundle,
        catalogue=catalogue,
        history=history,
        context=_tv_request(winter_evening),
    )

    # then: the evening's affinity is drama's, counted from the five evening plays
    expected = bucket_genre_affinity(
        genre_rows=genre_table[titles], in_bucket=np.arange(n) < len(drama)
    )
    np.testing.assert_array_equal(inputs.genre_affinity, expected)
    assert inputs.genre_affinity[0] == 1.0 > inputs.genre_affinity[1]


def test_dislikes_remembered_only_by_the_title_states_join_the_loaded_ones():
    """A thumbs down older than the loaded signals still penalises its neighbours; one in both
    counts with the larger of the two strengths, as the sparse maximum of the rows did."""
    import datetime as dt

    import scipy.sparse as sp

    from recommendations.engine.confidence import SignalWeights, dislike_penalty_of
    from recommendations.selectors.training import TrainingSignals
    from recommendations.serving.scoring import ProfileHistory, ranking_inputs

    # given: a loaded thumbs down on title 3 (and a play of 5); the states remember 3 and 7
    n_titles = 300
    region, _ = _random_region(1, n_titles=n_titles)
    rng = np.random.default_rng(7)
    neighbours = sp.random(n_titles, n_titles, density=0.05, random_state=7, format="csr")
    neighbours = neighbours.astype(np.float32)
    at = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC)
    kind = np.array([SignalCode.THUMBS_DOWN, SignalCode.PLAY_START], dtype=np.int8)
    signals = TrainingSignals(
        profile_ids=np.array([1], dtype=np.int64),
        title_ids=np.arange(n_titles, dtype=np.int64),
        profile_index=np.zeros(2, dtype=np.int32),
        title_index=np.array([3, 5], dtype=np.int32),
        episode_id=np.full(2, -1, dtype=np.int64),
        kind=kind,
        value=np.full(2, np.nan, dtype=np.float32),
        timestamp=np.full(2, at.timestamp() - 86400.0),
        rewatch=np.zeros(2, dtype=bool),
        commitment_hours=np.full(2, np.nan, dtype=np.float32),
    )
    states = np.array([3, 5, 7], dtype=np.int32)
    history = ProfileHistory(
        signals=signals,
        state_title=states,
        completed=np.zeros(3, dtype=bool),
        rewatch_worthy=np.zeros(3, dtype=bool),
        thumbs_down=np.array([True, False, True]),
        in_progress=np.zeros(3, dtype=bool),
        last_played=np.full(3, np.nan),
    )
    folded = []
    bundle, catalogue = _serving_stub(
        n_titles,
        region,
        als=SimpleNamespace(
            fold_in_entries=lambda indices, data, available=None: (
                folded.append((indices, data)) or np.ones(4, np.float32)
            ),
            item_factors=rng.random((n_titles, 4)).astype(np.float32),
        ),
        neighbours=neighbours,
    )
    weights = SignalWeights(thumbs_down=3.0)

    # when
    inputs = ranking_inputs(
        bundle=bundle,
        catalogue=catalogue,
        history=history,
        weights=weights,
        context=_tv_request(at),
    )

    # then: the penalty of the rows' element-wise maximum, as a sparse row computed it
    loaded = profile_confidence_row(
        title_index=signals.title_index,
        kind=kind,
        value=signals.value,
        age_days=np.ones(2),
        n_titles=n_titles,
        weights=weights,
    ).matrices()
    assert loaded.negative.nnz == 1
    assert loaded.negative[0, 3] != weights.thumbs_down
    remembered = sp.csr_matrix(
        (np.full(2, weights.thumbs_down, np.float32), [3, 7], [0, 2]), shape=(1, n_titles)
    )
    merged = remembered.maximum(loaded.negative).tocsr()
    expected = dislike_penalty_of(merged.indices, merged.data, neighbours)
    np.testing.assert_array_equal(inputs.penalty, expected)
    assert inputs.penalty[7] == inputs.penalty[3] == 1.0
    assert np.flatnonzero(inputs.disliked).tolist() == [3, 7]  # the filter's mask, untouched
    # and the fold-in read the loaded evidence only, signed: the dislike negative
    ((indices, data),) = folded
    assert indices.tolist() == [3, 5]
    assert data[0] < 0 < data[1]


def test_likes_older_than_the_signals_read_follow_by_when_they_were_last_played():
    import datetime as dt

    from recommendations.selectors.training import TrainingSignals
    from recommendations.serving.scoring import ProfileHistory

    # given three titles liked long ago (no thumbs up among the signals read) and one liked
    # lately; the states come in the database's order, which is no order at all
    at = dt.datetime(2026, 12, 4, 20, tzinfo=dt.UTC)
    signals = TrainingSignals(
        profile_ids=np.array([1], dtype=np.int64),
        title_ids=np.arange(10, dtype=np.int64),
        profile_index=np.zeros(1, dtype=np.int32),
        title_index=np.array([8], dtype=np.int32),
        episode_id=np.full(1, -1, dtype=np.int64),
        kind=np.array([SignalCode.THUMBS_UP], dtype=np.int8),
        value=np.full(1, np.nan, dtype=np.float32),
        timestamp=np.full(1, at.timestamp() - 86400.0),
        rewatch=np.zeros(1, dtype=bool),
        commitment_hours=np.full(1, np.nan, dtype=np.float32),
    )
    day = 86400.0
    history = ProfileHistory(
        signals=signals,
        state_title=np.array([2, 5, 8, 7], dtype=np.int32),
        completed=np.zeros(4, dtype=bool),
        rewatch_worthy=np.zeros(4, dtype=bool),
        thumbs_down=np.zeros(4, dtype=bool),
        in_progress=np.zeros(4, dtype=bool),
        last_played=np.array([at.timestamp() - 90 * day, np.nan, at.timestamp() - day,
                              at.timestamp() - 30 * day]),
        thumbs_up=np.ones(4, dtype=bool),
    )  # fmt: skip

    # then: the like read first; the older ones most recently played first, unplayed last
    assert history.liked().tolist() == [8, 7, 2, 5]


def test_a_match_of_exactly_the_lowest_shown_figure_is_shown():
    from recommendations.serving.scoring import MATCH_SHOWN_MIN, RankedPool

    # given: a personalised pool whose matches straddle the lowest figure shown, one of
    # them being resumed
    match = np.array([97, MATCH_SHOWN_MIN + 1, MATCH_SHOWN_MIN, MATCH_SHOWN_MIN - 1, 60])
    pool = RankedPool(
        title_index=np.arange(5, dtype=np.int32),
        probability=np.linspace(0.9, 0.1, 5).astype(np.float32),
        match=match.astype(np.uint8),
        sources=np.zeros(5, dtype=np.uint8),
        personalised=True,
        resuming=np.array([False, False, False, False, True]),
        matched=True,
    )

    # when/then: the lowest figure is a figure; below it, and a title being resumed, none
    assert pool.shown_match(np.arange(5)) == [97, MATCH_SHOWN_MIN + 1, MATCH_SHOWN_MIN, None, None]


def test_a_profile_with_only_dislikes_has_no_collaborative_candidates():
    """Dislikes alone fold in to the zero factor (nothing to prefer), so every collaborative
    score is 0: "CF" proposing from those ties filled its share of the pool (about two thirds)
    with arbitrary titles, labelled as collaborative picks, in place of what is trending."""
    import datetime as dt

    import scipy.sparse as sp

    from recommendations.engine.als import CollaborativeModel
    from recommendations.engine.candidates import Source, generate_candidates
    from recommendations.selectors.training import TrainingSignals
    from recommendations.serving.scoring import ProfileHistory, ranking_inputs

    # given: a fitted model, and a profile whose only signals are two thumbs down
    n_titles = 300
    region, _ = _random_region(2, n_titles=n_titles)
    interactions = sp.random(400, n_titles, density=0.05, random_state=3, format="csr")
    als = CollaborativeModel(factors=4, regularization=1.0, iterations=3, random_state=0)
    als.fit((interactions * 5).astype(np.float32))
    at = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC)
    signals = TrainingSignals(
        profile_ids=np.array([1], dtype=np.int64),
        title_ids=np.arange(n_titles, dtype=np.int64),
        profile_index=np.zeros(2, dtype=np.int32),
        title_index=np.array([3, 9], dtype=np.int32),
        episode_id=np.full(2, -1, dtype=np.int64),
        kind=np.full(2, SignalCode.THUMBS_DOWN, dtype=np.int8),
        value=np.full(2, np.nan, dtype=np.float32),
        timestamp=np.full(2, at.timestamp() - 86400.0),
        rewatch=np.zeros(2, dtype=bool),
        commitment_hours=np.full(2, np.nan, dtype=np.float32),
    )
    history = ProfileHistory(
        signals=signals,
        state_title=np.array([3, 9], dtype=np.int32),
        completed=np.zeros(2, dtype=bool),
        rewatch_worthy=np.zeros(2, dtype=bool),
        thumbs_down=np.ones(2, dtype=bool),
        in_progress=np.zeros(2, dtype=bool),
        last_played=np.full(2, np.nan),
    )
    trending = np.zeros(n_titles, dtype=np.float32)
    trending[:100] = np.arange(100, 0, -1)
    bundle, catalogue = _serving_stub(n_titles, region, als=als, trending=trending)

    # when
    inputs = ranking_inputs(
        bundle=bundle, catalogue=catalogue, history=history, context=_tv_request(at)
    )

    # then: the dislikes still count (filter and penalty), but CF has nothing to propose
    assert inputs.personalised
    assert np.flatnonzero(inputs.disliked).tolist() == [3, 9]
    assert inputs.cf is None
    pool = generate_candidates(
        available=inputs.available,
        within_maturity=np.ones(n_titles, dtype=bool),
        disliked=inputs.disliked,
        cf=inputs.cf,
        trending=inputs.trending,
    )
    assert not pool.proposed_by(Source.CF).any()


@pytest.mark.parametrize("days", [150, 300, 700])
def test_a_rating_changed_a_second_later_long_ago_is_read_as_changed(days):
    """The latest rating decides, compared by age: ages in float32 days (2.6 s apart at 300
    days) made a thumbs down and the thumbs up a second after it one tie, which the
    dislike wins, so a corrected mis-tap was read as a dislike."""
    from recommendations.selectors.training import TrainingSignals

    # given: a thumbs down, then a thumbs up one second later, ``days`` before the request
    at = 1_796_000_000.0
    first = at - days * 86400.0
    signals = TrainingSignals(
        profile_ids=np.array([1], dtype=np.int64),
        title_ids=np.arange(10, dtype=np.int64),
        profile_index=np.zeros(2, dtype=np.int32),
        title_index=np.array([4, 4], dtype=np.int32),
        episode_id=np.full(2, -1, dtype=np.int64),
        kind=np.array([SignalCode.THUMBS_DOWN, SignalCode.THUMBS_UP], dtype=np.int8),
        value=np.full(2, np.nan, dtype=np.float32),
        timestamp=np.array([first, first + 1.0]),
        rewatch=np.zeros(2, dtype=bool),
        commitment_hours=np.full(2, np.nan, dtype=np.float32),
    )

    # when: the request's evidence, from the ages as serving computes them
    row = profile_confidence_row(
        title_index=signals.title_index,
        kind=signals.kind,
        value=signals.value,
        age_days=signals.age_days(at),
        n_titles=10,
    )

    # then: liked, not disliked
    assert row.negative.tolist() == [0.0]
    assert row.positive[0] > 0
