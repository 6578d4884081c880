"""The collaborative model: a contract test on known communities, fold-in and persistence."""

import io
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
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


def test_fitting_does_not_trigger_implicits_blas_warning(communities):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        CollaborativeModel(factors=4, iterations=2, random_state=1).fit(communities)


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
