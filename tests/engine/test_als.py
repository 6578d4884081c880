"""The collaborative model: a contract test on known communities, fold-in and persistence."""

import io
import warnings

import implicit.utils
import numpy as np
import pytest
import scipy.sparse as sp
import threadpoolctl
from implicit.cpu.als import AlternatingLeastSquares

from recommendations.engine.als import CollaborativeModel
from recommendations.engine.metrics import top_k
from tests.engine.conftest import ITEMS_PER_BLOCK, block_of_item, block_of_user


def test_users_get_their_own_community_recommended(communities, fitted_model):
    # given: which titles are in each user's own community, and not yet seen
    users = np.arange(communities.shape[0])[:, np.newaxis]
    items = np.arange(communities.shape[1])[np.newaxis, :]
    own = block_of_item(items) == block_of_user(users)
    unseen_own = own & (communities.toarray() == 0)

    # when
    scores = fitted_model.scores(fitted_model.user_factors)
    recommended = top_k(scores, 2, exclude=communities)

    # then: every unseen title of the own community outranks every other community's title
    worst_own = np.where(unseen_own, scores, np.inf).min(axis=1)
    best_other = np.where(~own, scores, -np.inf).max(axis=1)
    assert (worst_own > best_other).all()
    assert (block_of_item(recommended) == block_of_user(users)).all()


def test_factors_have_the_documented_shapes_and_dtypes(communities, fitted_model):
    assert fitted_model.user_factors.shape == (communities.shape[0], 3)
    assert fitted_model.item_factors.shape == (communities.shape[1], 3)
    assert fitted_model.user_factors.dtype == fitted_model.item_factors.dtype == np.float32
    assert fitted_model.n_titles == communities.shape[1]
    assert fitted_model.fit_seconds > 0


def test_fitting_is_reproducible_with_a_random_state(communities, fitted_model):
    again = CollaborativeModel(factors=3, regularization=0.05, random_state=42).fit(communities)

    np.testing.assert_allclose(again.item_factors, fitted_model.item_factors, rtol=1e-5, atol=1e-6)


def test_fitting_does_not_trigger_implicits_blas_warning(communities, monkeypatch):
    # given: a multithreaded BLAS, as a process without OPENBLAS_NUM_THREADS=1 has (the
    # test run sets it, so BLAS is single-threaded without the model's own limit), and
    # implicit's check not yet made (it checks once per process; an earlier fit spent it)
    monkeypatch.setattr(implicit.utils, "_checked_blas_config", False)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        assert {api["num_threads"] for api in threadpoolctl.threadpool_info()} - {1}

        # when / then: fitting limits BLAS itself, so implicit finds nothing to warn about
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            CollaborativeModel(factors=4, iterations=2, random_state=1).fit(communities)
    assert implicit.utils._checked_blas_config


def test_fold_in_solves_the_same_system_as_implicits_recalculate_user(communities, fitted_model):
    # given: implicit's own model holding the same item factors
    reference = AlternatingLeastSquares(
        factors=3, regularization=0.05, alpha=fitted_model.alpha, random_state=42
    )
    reference.item_factors = fitted_model.item_factors
    reference.user_factors = fitted_model.user_factors
    users = np.arange(communities.shape[0])

    # when
    expected = reference.recalculate_user(users, communities)
    ours = fitted_model.fold_in_many(communities)

    # then
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(
        fitted_model.fold_in(communities[3]), expected[3], rtol=1e-3, atol=1e-4
    )


def test_fold_in_of_a_training_user_matches_its_trained_factor(communities):
    # given: exact ALS, so training itself solves the same least squares per user
    model = CollaborativeModel(
        factors=3, regularization=0.05, iterations=30, use_cg=False, random_state=3
    ).fit(communities)

    for user in (0, 25, 59):
        # when
        folded = model.fold_in(communities[user])
        trained = model.user_factors[user]

        # then: the same direction and the same recommendations
        cosine = folded @ trained / (np.linalg.norm(folded) * np.linalg.norm(trained))
        assert cosine > 0.99
        top_folded = np.argsort(-model.scores(folded))[:10]
        top_trained = np.argsort(-model.scores(trained))[:10]
        assert len(set(top_folded) & set(top_trained)) >= 8


def _two_regions(communities) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray]:
    """The communities, with region B (odd users) not carrying 6 titles of each block.

    Returns the confidences (region B's users have none on what it does not
    carry), the training mask of unavailable cells, and region B's mask.
    """
    dense = communities.toarray()
    missing = (np.arange(dense.shape[1]) % ITEMS_PER_BLOCK) < 6
    in_b = np.arange(dense.shape[0]) % 2 == 1
    dense[np.ix_(in_b, missing)] = 0
    unavailable = sp.csr_matrix(np.outer(in_b, missing).astype(np.float32))
    return dense, unavailable, ~missing


def test_a_masked_fit_folds_a_profile_in_against_what_its_region_carries(communities):
    # given: exact ALS fitted knowing that region B's users could not watch its missing titles
    dense, unavailable, carried_in_b = _two_regions(communities)
    model = CollaborativeModel(
        factors=3, regularization=0.05, iterations=30, use_cg=False, random_state=3
    ).fit(sp.csr_matrix(dense), unavailable=unavailable)
    assert model.availability_masked

    for user in (1, 21, 41, 59):  # region B, one in each block
        row = sp.csr_matrix(dense[user])
        trained = model.user_factors[user]

        # when
        masked = model.fold_in_entries(row.indices, row.data, available=carried_in_b)
        unmasked = model.fold_in_entries(row.indices, row.data)

        # then: with the region's mask the fold-in gives back the trained factor; without
        # it the titles B never carried count as unwatched and shrink it by a fifth or more
        assert np.linalg.norm(masked - trained) / np.linalg.norm(trained) < 0.02
        assert np.linalg.norm(unmasked - trained) / np.linalg.norm(trained) > 0.1


def test_the_masked_fold_in_solves_the_masked_system_even_for_a_title_no_longer_carried(
    communities,
):
    # given: a masked model, and a region-B history with evidence on a title B no longer
    # carries (watched before it left: its cell kept its own evidence in training)
    dense, unavailable, carried = _two_regions(communities)
    model = CollaborativeModel(factors=3, regularization=0.05, random_state=3).fit(
        sp.csr_matrix(dense), unavailable=unavailable
    )
    history = np.zeros(dense.shape[1])
    history[[1, 7, 8, 10]] = [3.0, 2.0, -1.5, 1.0]  # title 1 is not carried; 8 disliked
    indices = np.flatnonzero(history)
    y = model.item_factors.astype(np.float64)

    # when
    factor = model.fold_in_entries(indices, history[indices], available=carried)

    # then: (Σ over carried unseen titles y yᵀ + Σ over seen |c| y yᵀ + λI) x = Σ c⁺ y
    unseen = carried & (history == 0)
    lhs = y[unseen].T @ y[unseen] + 0.05 * np.eye(3)
    lhs += (y[indices].T * np.abs(history[indices])) @ y[indices]
    rhs = y[indices].T @ np.maximum(history[indices], 0)
    np.testing.assert_allclose(factor, np.linalg.solve(lhs, rhs), rtol=1e-4, atol=1e-6)
    # and the Gram matrix is kept per mask object: the same one is reused, an equal copy
    # (which the model cannot tell was not changed) gets its own
    kept = dict(model._masked_grams)
    model.fold_in_entries(indices, history[indices], available=carried)
    assert model._masked_grams.keys() == kept.keys()
    assert next(iter(kept.values()))[0] is carried
    model.fold_in_entries(indices, history[indices], available=carried.copy())
    assert len(model._masked_grams) == len(kept) + 1


def test_many_profiles_fold_in_under_one_regions_mask_as_each_would_alone(communities):
    # given: a masked model, alone and as half of a blend, and region B's profiles
    dense, unavailable, carried_in_b = _two_regions(communities)
    masked = CollaborativeModel(factors=3, random_state=3).fit(
        sp.csr_matrix(dense), unavailable=unavailable
    )
    plain = CollaborativeModel(factors=2, random_state=3).fit(sp.csr_matrix(dense))
    in_b = sp.csr_matrix(dense[1::2])

    for model in (masked, CollaborativeModel.blend([masked, plain], [0.6, 0.4])):
        # when: folded in together, as the retrain gate scores a stored incumbent
        many = model.fold_in_many(in_b, available=carried_in_b)

        # then: each row is the request path's factor for that profile, not the unmasked one
        for user in (0, 10, 29):
            row = in_b[user]
            alone = model.fold_in_entries(row.indices, row.data, available=carried_in_b)
            np.testing.assert_allclose(many[user], alone, rtol=1e-5, atol=1e-6)
        unmasked = model.fold_in_many(in_b)
        assert np.linalg.norm(unmasked[:, :3] - many[:, :3]) > 0.1 * np.linalg.norm(many[:, :3])


def test_an_unmasked_model_ignores_a_region_mask_and_the_flag_survives_storage(communities):
    dense, unavailable, carried = _two_regions(communities)
    plain = CollaborativeModel(factors=3, random_state=3).fit(sp.csr_matrix(dense))
    masked = CollaborativeModel(factors=3, random_state=3).fit(
        sp.csr_matrix(dense), unavailable=unavailable
    )
    row = sp.csr_matrix(dense[1])

    np.testing.assert_array_equal(
        plain.fold_in_entries(row.indices, row.data, available=carried),
        plain.fold_in_entries(row.indices, row.data),
    )
    for model in (plain, masked, CollaborativeModel.blend([plain, masked], [0.5, 0.5])):
        buffer = io.BytesIO()
        model.save(buffer, include_user_factors=False)
        buffer.seek(0)
        loaded = CollaborativeModel.load(buffer)
        np.testing.assert_allclose(
            loaded.fold_in_entries(row.indices, row.data, available=carried),
            model.fold_in_entries(row.indices, row.data, available=carried),
            rtol=1e-6,
        )
    assert CollaborativeModel.load(_saved(masked)).availability_masked
    assert not CollaborativeModel.load(_saved(plain)).availability_masked


def _saved(model: CollaborativeModel) -> io.BytesIO:
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    return buffer


def test_fold_in_visibly_changes_scores_after_new_interactions(communities, fitted_model):
    # given: a block-0 user who tonight watched four block-2 titles intensely
    user = 2
    block_2 = np.arange(2 * ITEMS_PER_BLOCK, 3 * ITEMS_PER_BLOCK)
    before = fitted_model.scores(fitted_model.fold_in(communities[user]))
    tonight = sp.lil_matrix(communities[user])
    tonight[0, block_2[:4]] = 5.0

    # when: no retrain, only a fold-in of the current history
    after = fitted_model.scores(fitted_model.fold_in(sp.csr_matrix(tonight)))

    # then: the rest of block 2 rises clearly and enters the top of the unseen titles
    unseen_block_2 = block_2[4:]
    assert after[unseen_block_2].mean() > before[unseen_block_2].mean() + 0.2
    exclude = sp.csr_matrix(tonight)
    top_before = top_k(before[np.newaxis, :], 8, exclude=exclude)[0]
    top_after = top_k(after[np.newaxis, :], 8, exclude=exclude)[0]
    assert (block_of_item(top_before) == 2).sum() == 0
    assert (block_of_item(top_after) == 2).sum() >= 3
    block_1 = np.arange(ITEMS_PER_BLOCK, 2 * ITEMS_PER_BLOCK)
    assert after[unseen_block_2].min() > after[block_1].max()  # untouched community stays down


def test_a_dislike_in_the_fold_in_lowers_that_title(communities, fitted_model):
    user = 0
    unseen = np.setdiff1d(np.arange(ITEMS_PER_BLOCK), communities[user].indices)[0]
    disliked = sp.lil_matrix(communities[user])
    disliked[0, unseen] = -4.0

    before = fitted_model.scores(fitted_model.fold_in(communities[user]))[unseen]
    after = fitted_model.scores(fitted_model.fold_in(sp.csr_matrix(disliked)))[unseen]

    assert after < before


def test_an_empty_history_folds_in_to_zeros(fitted_model):
    empty = sp.csr_matrix((1, fitted_model.n_titles), dtype=np.float32)

    assert not fitted_model.fold_in(empty).any()
    with pytest.raises(ValueError, match="shape"):
        fitted_model.fold_in(sp.csr_matrix((1, 3)))


def test_save_and_load_round_trip(tmp_path, communities, fitted_model):
    path = tmp_path / "cluster.model"

    fitted_model.save(path)
    loaded = CollaborativeModel.load(path)

    assert path.exists()  # written exactly at the path, no suffix added
    np.testing.assert_array_equal(loaded.item_factors, fitted_model.item_factors)
    np.testing.assert_array_equal(loaded.user_factors, fitted_model.user_factors)
    assert (loaded.factors, loaded.regularization, loaded.alpha, loaded.random_state) == (
        3,
        0.05,
        1.0,
        42,
    )
    np.testing.assert_allclose(
        loaded.fold_in(communities[5]), fitted_model.fold_in(communities[5]), rtol=1e-6
    )


def test_a_serving_artefact_without_user_factors_still_folds_in(communities, fitted_model):
    buffer = io.BytesIO()
    fitted_model.save(buffer, include_user_factors=False)
    buffer.seek(0)

    loaded = CollaborativeModel.load(buffer)

    assert loaded.user_factors is None
    np.testing.assert_allclose(
        loaded.fold_in(communities[5]), fitted_model.fold_in(communities[5]), rtol=1e-6
    )


def test_loading_another_artefact_kind_fails_loudly(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, item_factors=np.zeros((2, 2)))

    with pytest.raises(ValueError, match=r"expected a 'tonight\.collaborative_model' artefact"):
        CollaborativeModel.load(path)


def test_an_unfitted_model_says_so():
    with pytest.raises(RuntimeError, match="not fitted"):
        CollaborativeModel().scores(np.zeros(64))


# --- Per-scope settings, warm starts and blends ---------------------------------------------


def test_the_size_prior_gives_small_scopes_fewer_factors_and_lambda_grows_with_profiles():
    from recommendations.engine.als import AlsParams, params_candidates, params_for_size

    base = AlsParams(factors=64, regularization=0.05, alpha=1.0, iterations=15)
    cluster = params_for_size(n_profiles=600, n_titles=1500, n_interactions=6000, base=base)
    region = params_for_size(n_profiles=50_000, n_titles=15_000, n_interactions=900_000, base=base)

    assert cluster.factors < region.factors == 64
    assert cluster.regularization < region.regularization
    assert cluster.regularization / cluster.alpha > base.regularization
    candidates = params_candidates(cluster)
    assert candidates[0] == cluster  # the prior wins ties
    assert len(set(candidates)) == len(candidates) >= 4


def test_a_warm_start_continues_from_the_given_factors(communities, fitted_model):
    warm = CollaborativeModel(factors=3, regularization=0.05, iterations=1, random_state=0)
    cold = CollaborativeModel(factors=3, regularization=0.05, iterations=1, random_state=0)

    warm.fit(communities, initial=fitted_model)
    cold.fit(communities)

    # one sweep from converged factors stays near them; one sweep from noise does not
    assert np.abs(warm.item_factors - fitted_model.item_factors).max() < 0.1
    assert np.abs(cold.item_factors - fitted_model.item_factors).max() > 0.1
    with pytest.raises(ValueError, match="do not match"):
        CollaborativeModel(factors=4, iterations=1).fit(communities, initial=fitted_model)


def test_a_blend_scores_the_weighted_sum_through_the_serving_path(communities, fitted_model):
    # given: a second model of another shape, and a blend of both
    other = CollaborativeModel(factors=5, regularization=1.0, alpha=2.0, random_state=3).fit(
        communities
    )
    blend = CollaborativeModel.blend([fitted_model, other], [0.3, 0.7])
    row = communities[4]

    # when: scored as serving scores a model (fold in, then item factors times the factor)
    served = blend.item_factors @ blend.fold_in(row)

    # then
    expected = 0.3 * fitted_model.scores(fitted_model.fold_in(row)) + 0.7 * other.scores(
        other.fold_in(row)
    )
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-5)
    many = blend.fold_in_many(communities[:6])
    np.testing.assert_allclose(many[4], blend.fold_in(row), rtol=1e-5, atol=1e-6)
    assert blend.is_blend
    assert blend.factors == 8
    assert [c["weight"] for c in blend.describe()] == [0.3, 0.7]
    with pytest.raises(ValueError, match="non-negative"):
        CollaborativeModel.blend([fitted_model, other], [-1.0, 1.0])


def test_a_blend_survives_save_and_load_and_old_artefacts_still_load(communities, fitted_model):
    from recommendations.engine import als
    from recommendations.engine.persistence import save_artefact

    other = CollaborativeModel(factors=2, regularization=0.5, random_state=1).fit(communities)
    blend = CollaborativeModel.blend([fitted_model, other], [0.5, 0.5])
    buffer = io.BytesIO()
    blend.save(buffer, include_user_factors=False)
    buffer.seek(0)
    loaded = CollaborativeModel.load(buffer)
    row = communities[10]
    np.testing.assert_allclose(
        loaded.item_factors @ loaded.fold_in(row), blend.item_factors @ blend.fold_in(row), 1e-5
    )
    assert loaded.describe() == blend.describe()

    # a format-1 artefact, as versions stored before blends wrote it
    old = io.BytesIO()
    save_artefact(
        old,
        kind=als._KIND,
        version=1,
        factors=3,
        regularization=0.05,
        alpha=1.0,
        iterations=15,
        use_cg=True,
        random_state=42,
        fit_seconds=0.1,
        item_factors=fitted_model.item_factors,
        user_factors=np.zeros((0, 3), np.float32),
        has_user_factors=False,
    )
    old.seek(0)
    np.testing.assert_array_equal(
        CollaborativeModel.load(old).fold_in(row), fitted_model.fold_in(row)
    )


def test_dislikes_alone_fold_in_to_zeros(fitted_model):
    # given: a history of thumbs down only (implicit's "preference 0 with confidence c")
    row = sp.csr_matrix(
        (np.array([-4.0, -2.0], np.float32), [1, 4], [0, 2]), shape=(1, fitted_model.n_titles)
    )

    # when/then: nothing to prefer, so the factor (and every score) is 0, as serving assumes
    np.testing.assert_array_equal(fitted_model.fold_in(row), 0.0)


def test_titles_added_after_the_fit_score_zero_and_change_no_fold_in(communities, fitted_model):
    # given: the fitted titles at the odd indices of a catalogue twice as large
    n = fitted_model.n_titles
    positions = np.arange(n) * 2 + 1
    wider = fitted_model.with_titles(positions=positions, n_titles=2 * n)
    row = sp.csr_matrix(communities[0])

    # when: the same history folded in, on either index
    factor = fitted_model.fold_in(row)
    wide_row = sp.csr_matrix((row.data, positions[row.indices], [0, row.nnz]), shape=(1, 2 * n))
    wide_factor = wider.fold_in(wide_row)

    # then: the same factor and scores for the fitted titles, 0 for the added ones
    np.testing.assert_allclose(wide_factor, factor, rtol=1e-5, atol=1e-6)
    scores = wider.scores(wide_factor)
    np.testing.assert_allclose(scores[positions], fitted_model.scores(factor), rtol=1e-5, atol=1e-6)
    assert (np.delete(scores, positions) == 0).all()
    assert fitted_model.n_titles == n  # not changed
