"""Offline metrics against values computed by hand."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.engine.metrics import (
    catalogue_coverage,
    evaluate,
    ndcg_at_k,
    recall_at_k,
    top_k,
)

LOG2_3 = np.log2(3.0)


@pytest.fixture
def recommended() -> np.ndarray:
    return np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9], [2, -1, -1]])


@pytest.fixture
def relevant() -> sp.csr_matrix:
    # user 0: {2, 10}; user 1: nothing; user 2: {7, 8, 9, 11}; user 3: {2}
    rows = [0, 0, 2, 2, 2, 2, 3]
    cols = [2, 10, 7, 8, 9, 11, 2]
    return sp.csr_matrix((np.ones(7, bool), (rows, cols)), shape=(4, 20))


def test_ndcg_at_k_by_hand(recommended, relevant):
    ndcg = ndcg_at_k(recommended, relevant, 3)

    # user 0: one hit at rank 2 of 2 relevant: (1/log2 3) / (1 + 1/log2 3)
    assert ndcg[0] == pytest.approx((1 / LOG2_3) / (1 + 1 / LOG2_3))
    assert np.isnan(ndcg[1])  # nothing relevant: undefined, not zero
    assert ndcg[2] == pytest.approx(1.0)  # three hits, three ideal slots
    assert ndcg[3] == pytest.approx(1.0)  # padding is never a hit, and never a miss either


def test_ndcg_at_1_is_the_hit_rate_of_the_first_slot(recommended, relevant):
    assert ndcg_at_k(recommended, relevant, 1).tolist()[2:] == [1.0, 1.0]
    assert ndcg_at_k(recommended, relevant, 1)[0] == 0.0


def test_recall_at_k_by_hand(recommended, relevant):
    recall = recall_at_k(recommended, relevant, 3)

    assert recall[0] == pytest.approx(1 / 2)
    assert np.isnan(recall[1])
    assert recall[2] == pytest.approx(3 / 4)
    assert recall[3] == pytest.approx(1.0)
    assert recall_at_k(recommended, relevant, 1)[2] == pytest.approx(1 / 4)


def test_a_title_listed_twice_counts_once_where_it_first_appears(relevant):
    # given: user 0's one relevant title in the list (2, 10 relevant) at ranks 1 and 3,
    # user 3's at ranks 1 and 2: a ranker that repeats a hit must not score for it twice
    repeated = np.array([[2, 5, 2], [4, 5, 6], [7, 8, 9], [2, 2, -1]])

    # when
    ndcg = ndcg_at_k(repeated, relevant, 3)
    recall = recall_at_k(repeated, relevant, 3)

    # then: each scores the one hit at rank 1, as the list without the repeat would
    assert ndcg[0] == pytest.approx(1 / (1 + 1 / LOG2_3))
    assert ndcg[3] == pytest.approx(1.0)
    assert recall[0] == pytest.approx(1 / 2)
    assert recall[3] == pytest.approx(1.0)
    assert ndcg[2] == pytest.approx(1.0)  # distinct titles are unaffected


def test_catalogue_coverage_by_hand(recommended):
    assert catalogue_coverage(recommended, 20) == pytest.approx(9 / 20)
    assert catalogue_coverage(recommended, 20, k=1) == pytest.approx(4 / 20)  # 1, 4, 7, 2


def test_top_k_orders_and_excludes():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [0.3, 0.2, 0.1, 0.0]], dtype=np.float32)
    seen = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 1, 1, 0]]))

    assert top_k(scores, 2).tolist() == [[1, 3], [0, 1]]
    assert top_k(scores, 3, exclude=seen).tolist() == [[3, 2, 0], [3, -1, -1]]


def test_evaluate_averages_over_users_with_relevant_titles():
    recommended = np.tile(np.arange(20), (2, 1))
    relevant = sp.csr_matrix((np.ones(2, bool), ([0, 0], [0, 15])), shape=(2, 40))

    metrics = evaluate(recommended, relevant, n_titles=40)

    assert metrics.n_users == 1
    assert metrics.ndcg_at_10 == pytest.approx(1 / (1 + 1 / LOG2_3))
    assert metrics.recall_at_10 == pytest.approx(0.5)
    assert metrics.recall_at_20 == pytest.approx(1.0)
    assert metrics.coverage_at_10 == pytest.approx(10 / 40)
