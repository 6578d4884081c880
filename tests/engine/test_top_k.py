"""top_k's thresholded selection against a plain full sort, on scores shaped like a model's."""

import numpy as np
import scipy.sparse as sp

from recommendations.engine.metrics import top_k


def _reference(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None) -> list[list[int]]:
    """Each row's k best finite, not excluded titles, by a full sort."""
    matrix = np.array(scores, dtype=np.float32)
    if exclude is not None:
        matrix[exclude.toarray() != 0] = -np.inf
    matrix[~np.isfinite(matrix)] = -np.inf
    out = []
    for row in matrix:
        order = np.argsort(-row, kind="stable")[:k]
        out.append([int(i) if np.isfinite(row[i]) else -1 for i in order] + [-1] * (k - len(order)))
    return out


def test_top_k_equals_a_full_sort_with_exclusions_and_non_finite_scores():
    # given: user x title scores with a popular-title effect (rows share their best titles),
    # a few NaN and infinite cells, seen titles excluded, and a user with almost all excluded
    rng = np.random.default_rng(3)
    users, titles = 300, 2_000
    scores = (
        rng.standard_normal((users, 16)) @ rng.standard_normal((16, titles))
        + 4 * rng.standard_normal(titles)
    ).astype(np.float32)
    scores[rng.integers(0, users, 40), rng.integers(0, titles, 40)] = np.nan
    scores[rng.integers(0, users, 40), rng.integers(0, titles, 40)] = np.inf
    exclude = sp.random(users, titles, density=0.01, format="lil", random_state=4)
    exclude[7, :] = 1.0
    exclude[7, [5, 9]] = 0.0
    exclude = sp.csr_matrix(exclude)
    exclude.eliminate_zeros()

    # when
    best = top_k(scores, 20, exclude=exclude)

    # then
    assert best.shape == (users, 20)
    assert best.tolist() == _reference(scores, 20, exclude)
    assert sorted(best[7, :2].tolist()) == [5, 9]
    assert (best[7, 2:] == -1).all()


def test_top_k_with_ties_everywhere_still_returns_k_distinct_allowed_titles():
    scores = np.zeros((50, 500), dtype=np.float32)
    exclude = sp.csr_matrix((np.ones(50), (np.arange(50), np.arange(50))), shape=(50, 500))

    best = top_k(scores, 10, exclude=exclude)

    assert all(len(set(row)) == 10 for row in best.tolist())
    assert not (best == np.arange(50)[:, np.newaxis]).any()  # each user's excluded title


def test_ranking_in_place_gives_the_same_titles_and_uses_the_callers_block():
    # given: a block of scores with a NaN, and seen titles to exclude
    rng = np.random.default_rng(5)
    scores = rng.standard_normal((64, 900)).astype(np.float32)
    scores[3, 17] = np.nan
    exclude = sp.csr_matrix(sp.random(64, 900, density=0.02, random_state=6))
    expected = top_k(scores, 20, exclude=exclude)
    untouched = scores.copy()

    # when
    best = top_k(scores, 20, exclude=exclude, overwrite=True)

    # then: the same ranking; the block itself took the exclusions (no copy was made)
    assert best.tolist() == expected.tolist()
    assert np.isneginf(scores[exclude.nonzero()]).all()
    assert not np.array_equal(scores, untouched, equal_nan=True)
    top_k(untouched, 20, exclude=exclude)
    assert np.isnan(untouched[3, 17])  # without overwrite the caller's block is left alone


def test_ties_at_the_kth_place_go_to_the_lowest_title_index_whatever_the_batch():
    # given: ten titles scored 1 and the rest of a 6,000-title catalogue tied at 0, for three
    # users at once (so many cells reach the threshold that the selection goes row by row)
    scores = np.zeros((3, 6_000), dtype=np.float32)
    scores[:, 100:110] = 1.0

    # when
    best = top_k(scores, 20)

    # then: the ten, then the first ten tied titles by index (the documented tie-break, which
    # a full sort gives), the same as for one user alone
    expected = [*range(100, 110), *range(10)]
    assert best.tolist() == [expected] * 3
    assert best.tolist() == _reference(scores, 20, None)
    assert top_k(scores[:1], 20).tolist() == [expected]


def test_a_batch_of_all_tied_rows_gives_each_user_what_it_would_get_alone():
    scores = np.zeros((3, 600), dtype=np.float32)

    assert top_k(scores, 5).tolist() == [[0, 1, 2, 3, 4]] * 3
    assert top_k(scores[:1], 5).tolist() == [[0, 1, 2, 3, 4]]
