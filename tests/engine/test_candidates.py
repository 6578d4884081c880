"""Candidate generation: the union of generators, and the filters that always apply."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.engine.candidates import (
    SOURCE_ORDER,
    CandidatePool,
    CandidateQuotas,
    Source,
    generate_candidates,
)
from recommendations.engine.confidence import dislike_penalties
from recommendations.engine.content import ContentModel
from tests.engine.conftest import ITEMS_PER_BLOCK, block_of_item

N = 1000


@pytest.fixture
def scores() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    continue_watching = np.zeros(N, dtype=np.float32)
    continue_watching[[5, 50, 500]] = 1.0
    return {
        "cf": rng.normal(size=N).astype(np.float32),
        "content": rng.random(N).astype(np.float32),
        "trending": rng.exponential(size=N).astype(np.float32),
        "new_release": np.where(rng.random(N) < 0.05, rng.random(N), 0).astype(np.float32),
        "continue_watching": continue_watching,
    }


def everything_allowed() -> dict[str, np.ndarray]:
    return {"available": np.ones(N, bool), "within_maturity": np.ones(N, bool)}


def test_the_pool_is_the_union_of_each_generators_best(scores):
    quotas = CandidateQuotas(pool_size=100)

    pool = generate_candidates(**everything_allowed(), **scores, quotas=quotas)

    assert len(pool) == 100
    assert pool.indices.dtype == np.int32
    assert pool.sources.dtype == np.uint8
    assert pool.scores.shape == (100, len(SOURCE_ORDER))
    assert np.all(np.diff(pool.indices) > 0)
    # CF's own best titles are in, and labelled as CF's
    best_cf = np.argsort(-scores["cf"])[:10]
    assert set(best_cf) <= set(pool.indices[pool.proposed_by(Source.CF)])
    # every continue-watching title is in, whatever its other scores
    assert {5, 50, 500} <= set(pool.indices[pool.proposed_by(Source.CONTINUE_WATCHING)])
    # titles that are not new are never proposed as new releases
    assert np.all(pool.score_of(Source.NEW_RELEASE)[pool.proposed_by(Source.NEW_RELEASE)] > 0)
    # per-source scores are the raw inputs, for every candidate
    np.testing.assert_array_equal(pool.score_of(Source.TRENDING), scores["trending"][pool.indices])


@pytest.mark.parametrize("seed", range(4))
def test_each_generator_brings_its_share_of_the_best_eligible_titles(scores, seed):
    # given: half the catalogue unavailable, some titles above the maturity limit, soft
    # penalties on a tenth (some above the removal threshold), distinct scores
    rng = np.random.default_rng(seed)
    available, within = rng.random(N) < 0.55, rng.random(N) < 0.9
    penalty = np.where(rng.random(N) < 0.1, rng.random(N) * 0.7, 0.0).astype(np.float32)
    quotas = CandidateQuotas(pool_size=120)

    # when
    pool = generate_candidates(
        available=available,
        within_maturity=within,
        dislike_penalty=penalty,
        quotas=quotas,
        **scores,
    )

    # then: each generator's share of titles, by its penalised score, are in and its own
    eligible = available & within & (penalty < 0.5)
    total = sum(quotas.of(source) for source in SOURCE_ORDER)
    for source in SOURCE_ORDER:
        quota = quotas.of(source)
        raw = scores[source.name.lower()]
        pushed = raw - penalty * np.abs(raw)
        usable = eligible & ((raw > 0) if source is not Source.CF else True)
        best = np.flatnonzero(usable)[np.argsort(-pushed[usable], kind="stable")]
        share = min(int(np.floor(quota * quotas.pool_size / total)), best.shape[0])
        assert set(best[:share]) <= set(pool.indices[pool.proposed_by(source)]), source
    assert len(pool) == quotas.pool_size
    assert eligible[pool.indices].all()


def test_source_names_read_the_bitmask():
    assert CandidatePool.source_names(Source.CF | Source.TRENDING) == ("cf", "trending")


def test_a_profile_unknown_to_the_collaborative_model_still_gets_a_full_pool(scores):
    cold = {**scores, "cf": None}

    pool = generate_candidates(
        **everything_allowed(), **cold, quotas=CandidateQuotas(pool_size=200)
    )

    assert len(pool) == 200
    assert not pool.proposed_by(Source.CF).any()
    assert not pool.score_of(Source.CF).any()


def test_the_fill_completes_a_short_pool_from_the_eligible_titles_in_its_order():
    # given: nothing trending but titles 0-4 (a new Kids profile: no history, and little
    # within its limit is being watched); titles 900-999 above its limit
    trending = np.zeros(N, dtype=np.float32)
    trending[:5] = 1.0
    within = np.ones(N, bool)
    within[900:] = False
    fill = np.linspace(0.0, 1.0, N).astype(np.float32)  # the later, the more popular
    fill[700:750] = 0.0  # never played anywhere: still eligible

    # when
    short = generate_candidates(
        available=np.ones(N, bool), within_maturity=within, trending=trending
    )
    pool = generate_candidates(
        available=np.ones(N, bool),
        within_maturity=within,
        trending=trending,
        fill=fill,
        quotas=CandidateQuotas(pool_size=500),
    )
    everything = generate_candidates(
        available=np.ones(N, bool),
        within_maturity=within,
        trending=trending,
        fill=fill,
        quotas=CandidateQuotas(pool_size=N),
    )

    # then: without the fill, five titles; with it, the most popular eligible ones fill
    # the pool, marked as the fill's and not as any generator's
    np.testing.assert_array_equal(short.indices, np.arange(5))
    assert len(pool) == 500
    filled = pool.indices[pool.sources == Source.CATALOGUE]
    np.testing.assert_array_equal(np.sort(filled), np.r_[355:700, 750:900])
    np.testing.assert_array_equal(pool.indices[pool.proposed_by(Source.TRENDING)], np.arange(5))
    assert not pool.scores[pool.sources == Source.CATALOGUE].any()
    assert CandidatePool.source_names(Source.CATALOGUE) == ("catalogue",)
    # and a pool as large as the catalogue holds every eligible title, popular or not
    np.testing.assert_array_equal(everything.indices, np.arange(900))


@pytest.mark.parametrize("proposed", [range(N), range(500, 700)], ids=["most", "few"])
def test_titles_tied_at_the_edge_of_a_generators_list_go_by_title_index(proposed):
    # given: trending counts, 50 titles played twice and the rest once (counts tie a lot);
    # "few" proposes a fifth of the catalogue, which is ranked on its own (another path)
    proposed = np.asarray(proposed)
    trending = np.zeros(N, dtype=np.float32)
    trending[proposed] = 1.0
    twice = proposed[-50:]
    trending[twice] = 2.0

    pool = generate_candidates(
        **everything_allowed(), trending=trending, quotas=CandidateQuotas(pool_size=100)
    )

    # then: the 50 played twice, and of the 900 or 150 tied at once the first 50 by index,
    # as a region's first page gives them whoever else is in the batch or the process
    np.testing.assert_array_equal(np.sort(pool.indices), np.r_[proposed[:50], twice])


def test_a_fill_of_ties_fills_by_title_index():
    # given: a region nobody has played in yet: its popularity, the fill, is all zeros
    trending = np.zeros(N, dtype=np.float32)
    trending[990:] = 1.0

    pool = generate_candidates(
        **everything_allowed(),
        trending=trending,
        fill=np.zeros(N, dtype=np.float32),
        quotas=CandidateQuotas(pool_size=100),
    )

    np.testing.assert_array_equal(pool.indices, np.r_[0:90, 990:1000])


def test_the_fill_leaves_a_full_pool_alone(scores):
    fill = np.ones(N, dtype=np.float32)
    quotas = CandidateQuotas(pool_size=200)

    pool = generate_candidates(**everything_allowed(), **scores, fill=fill, quotas=quotas)

    assert len(pool) == 200
    assert not pool.proposed_by(Source.CATALOGUE).any()
    unfilled = generate_candidates(**everything_allowed(), **scores, quotas=quotas)
    np.testing.assert_array_equal(pool.indices, unfilled.indices)


def test_overlapping_generators_are_topped_up_to_the_pool_size():
    # given: two generators that agree completely
    same = np.linspace(1.0, 2.0, N).astype(np.float32)

    pool = generate_candidates(
        **everything_allowed(), cf=same, trending=same, quotas=CandidateQuotas(pool_size=300)
    )

    assert len(pool) == 300


@pytest.mark.parametrize(
    "mask",
    ["available", "within_maturity", "disliked", "completed"],
)
def test_filtered_titles_never_appear_even_when_every_generator_loves_them(scores, mask):
    # given: titles 0-9 are top of every generator, but filtered
    loved = {name: vector.copy() for name, vector in scores.items()}
    for vector in loved.values():
        vector[:10] = 100.0
    masks = everything_allowed()
    filtered = np.zeros(N, bool)
    filtered[:10] = True
    masks[mask] = ~filtered if mask in ("available", "within_maturity") else filtered

    # when
    pool = generate_candidates(**masks, **loved, quotas=CandidateQuotas(pool_size=500))

    # then
    assert not np.isin(np.arange(10), pool.indices).any()
    assert len(pool) == 500


def test_completed_titles_come_back_only_when_rewatch_worthy(scores):
    completed = np.zeros(N, bool)
    completed[:10] = True
    rewatch_worthy = np.zeros(N, bool)
    rewatch_worthy[3] = True
    loved = {**scores, "cf": np.where(completed, 100.0, scores["cf"]).astype(np.float32)}

    pool = generate_candidates(
        **everything_allowed(), completed=completed, rewatch_worthy=rewatch_worthy, **loved
    )

    assert np.isin(np.arange(10), pool.indices).tolist() == [i == 3 for i in range(10)]


def test_thumbs_down_removes_the_title_and_its_close_neighbours_and_pushes_down_the_rest():
    # given: three genres of 15 titles, each title with its genre and its own tag;
    # title 1 also carries title 0's tag, which makes it title 0's closest neighbour
    n_titles = 3 * ITEMS_PER_BLOCK
    genre = block_of_item(np.arange(n_titles))
    features = np.zeros((n_titles, 3 + n_titles), dtype=np.float32)
    features[np.arange(n_titles), genre] = 1.0
    features[np.arange(n_titles), 3 + np.arange(n_titles)] = 1.0
    features[1, 3 + 0] = 1.0
    content = ContentModel(n_neighbours=20).fit(sp.csr_matrix(features))
    # and a profile whose CF loves genre 0, likes genre 1, and thumbed title 0 down
    cf = np.select([genre == 0, genre == 1], [2.0, 1.5], 0.1).astype(np.float32)
    disliked = np.zeros(n_titles, bool)
    disliked[0] = True
    negative = sp.csr_matrix(([4.0], ([0], [0])), shape=(1, n_titles))
    allowed = {"available": np.ones(n_titles, bool), "within_maturity": np.ones(n_titles, bool)}
    quotas = CandidateQuotas(pool_size=10)

    # when
    penalty = dislike_penalties(negative, content.neighbour_matrix())
    pool = generate_candidates(
        **allowed, disliked=disliked, dislike_penalty=penalty, cf=cf, quotas=quotas
    )
    without_penalty = generate_candidates(**allowed, disliked=disliked, cf=cf, quotas=quotas)

    # then: the disliked title and its closest neighbour never appear
    assert penalty[0, 1] >= 0.5
    assert 0 not in pool.indices
    assert 1 not in pool.indices
    # and the rest of genre 0, penalised below the removal threshold, is pushed down under
    # genre 1, although CF alone would fill the pool with it
    assert 0 < penalty[0, 2] < 0.5
    assert (block_of_item(without_penalty.indices) == 0).all()
    assert (block_of_item(pool.indices) == 1).all()


def test_a_title_in_progress_stays_however_close_to_a_thumbs_down(scores):
    # given: the profile is midway through titles 5, 50 and 500, and thumbed down title 7,
    # whose neighbourhood puts title 50 past the removal threshold and title 5 under it
    disliked = np.zeros(N, bool)
    disliked[7] = True
    penalty = np.zeros(N, dtype=np.float32)
    penalty[[7, 50, 60]] = [1.0, 0.8, 0.8]
    penalty[5] = 0.3

    # when
    pool = generate_candidates(
        **everything_allowed(), disliked=disliked, dislike_penalty=penalty, **scores
    )

    # then: Continue Watching keeps what the profile chose to watch, since only its own
    # thumbs down removes it; the thumbs down itself and an unstarted neighbour still go
    assert {5, 50, 500} <= set(pool.indices.tolist())
    assert 7 not in pool.indices
    assert 60 not in pool.indices


def test_fold_in_changes_the_candidates_without_a_retrain(communities, fitted_model):
    # given: a block-0 profile, then the same profile after watching block-2 titles tonight
    user = 2
    n_titles = communities.shape[1]
    allowed = {"available": np.ones(n_titles, bool), "within_maturity": np.ones(n_titles, bool)}
    quotas = CandidateQuotas(pool_size=8)
    history = communities[user]
    tonight = sp.lil_matrix(history)
    tonight[0, 2 * ITEMS_PER_BLOCK : 2 * ITEMS_PER_BLOCK + 4] = 5.0
    tonight = sp.csr_matrix(tonight)
    seen = np.zeros(n_titles, bool)
    seen[tonight.indices] = True

    # when
    before = generate_candidates(
        **allowed,
        completed=seen,
        cf=fitted_model.scores(fitted_model.fold_in(history)),
        quotas=quotas,
    )
    after = generate_candidates(
        **allowed,
        completed=seen,
        cf=fitted_model.scores(fitted_model.fold_in(tonight)),
        quotas=quotas,
    )

    # then
    assert (block_of_item(before.indices) == 2).sum() == 0
    assert (block_of_item(after.indices) == 2).sum() >= 3


def test_score_vectors_must_cover_the_catalogue(scores):
    with pytest.raises(ValueError, match="cf has 3 entries"):
        generate_candidates(**everything_allowed(), cf=np.zeros(3))
