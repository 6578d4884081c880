"""Content similarity: TF-IDF title vectors, the neighbour table and profile affinity."""

import io

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer

from recommendations.engine.content import ContentModel

# Features: 0 action, 1 comedy, 2 drama, 3 director X, 4 director Y, 5 Tamil, 6 Hindi
CATALOGUE = np.array(
    [
        [1, 0, 0, 1, 0, 1, 0],  # 0 action, X, Tamil
        [1, 0, 0, 1, 0, 1, 0],  # 1 action, X, Tamil (twin of 0)
        [1, 0, 0, 0, 0, 0, 1],  # 2 action, Hindi
        [0, 1, 0, 0, 1, 0, 1],  # 3 comedy, Y, Hindi
        [0, 1, 0, 0, 1, 0, 1],  # 4 comedy, Y, Hindi
        [0, 0, 1, 0, 0, 0, 1],  # 5 drama, Hindi
        [0, 0, 0, 0, 0, 0, 0],  # 6 no metadata yet
    ],
    dtype=np.float32,
)


@pytest.fixture(scope="module")
def model() -> ContentModel:
    return ContentModel(n_neighbours=3, block_size=2).fit(sp.csr_matrix(CATALOGUE))


def test_title_vectors_are_scikit_learns_tfidf(model):
    expected = TfidfTransformer(norm="l2").fit_transform(sp.csr_matrix(CATALOGUE)).toarray()

    np.testing.assert_allclose(model.title_vectors.toarray(), expected, rtol=1e-5, atol=1e-6)
    assert model.title_vectors.dtype == np.float32


def test_similar_titles_share_distinctive_features(model):
    indices, sims = model.similar(0, k=3)

    assert indices[0] == 1
    assert sims[0] == pytest.approx(1.0, abs=1e-5)
    assert indices[1] == 2  # shares "action"
    assert 0 not in indices
    assert np.all(np.diff(sims) <= 0)


def test_the_neighbour_table_is_padded_and_never_contains_the_title_itself(model):
    assert model.neighbour_index.shape == model.neighbour_similarity.shape == (7, 3)
    assert model.neighbour_index.dtype == np.int32
    assert model.neighbour_similarity.dtype == np.float32
    for title in range(7):
        assert title not in model.neighbour_index[title]
    assert (model.neighbour_index[6] == -1).all()  # a title without metadata has no neighbours
    assert (model.neighbour_similarity[6] == 0).all()
    assert model.similar(6)[0].size == 0


def test_similar_beyond_the_table_is_computed_and_agrees_with_it(model):
    table, _ = model.similar(3, k=3)
    computed, sims = model.similar(3, k=6)

    assert computed[: table.size].tolist() == table.tolist()
    assert np.all(sims > 0)


def test_neighbour_matrix_holds_the_table(model):
    matrix = model.neighbour_matrix()

    assert matrix.shape == (7, 7)
    assert matrix[0, 1] == pytest.approx(model.neighbour_similarity[0, 0])
    assert matrix.diagonal().sum() == 0
    assert model.neighbour_matrix(min_similarity=0.5).nnz < matrix.nnz


def test_profile_affinity_points_at_the_profiles_taste(model):
    # given: a profile that loved both comedies
    titles, weights = np.array([3, 4]), np.array([5.0, 3.0], dtype=np.float32)

    # when
    affinity = model.affinity_of(titles, weights)

    # then
    assert affinity.shape == (7,)
    assert affinity.dtype == np.float32
    assert affinity[3] > affinity[5] > affinity[0]  # drama shares "Hindi", action X nothing
    assert affinity.max() <= 1.0
    # a dislike's negative weight (or a zero) changes nothing: only positive weights count
    with_dislike = model.affinity_of([3, 4, 5, 0], [5.0, 3.0, -4.0, 0.0])
    np.testing.assert_array_equal(with_dislike, affinity)


def test_a_profile_without_history_has_no_affinity(model):
    assert not model.affinity_of([], []).any()
    assert model.affinity_of([], []).shape == (7,)
    with pytest.raises(ValueError, match="same length"):
        model.affinity_of([1, 2], [1.0])
    with pytest.raises(ValueError, match="must be in"):
        model.affinity_of([7], [1.0])


def test_feature_weights_temper_a_feature_group():
    # given: director weight 0 makes titles 0 and 1 no closer than 0 and 2 on that account
    weights = np.array([1, 1, 1, 0, 0, 1, 1], dtype=np.float32)
    model = ContentModel(n_neighbours=3).fit(sp.csr_matrix(CATALOGUE), feature_weights=weights)

    unweighted = ContentModel(n_neighbours=3).fit(sp.csr_matrix(CATALOGUE))
    assert model.similar(0)[1][0] == pytest.approx(1.0)  # still twins (language too)
    assert model.similar(2)[1][0] > unweighted.similar(2)[1][0]  # 2 is now closer to 0 and 1


def test_new_titles_are_vectorised_without_a_refit(model):
    vectors = model.transform(sp.csr_matrix(CATALOGUE[:2]))

    np.testing.assert_allclose(vectors.toarray(), model.title_vectors[:2].toarray(), rtol=1e-6)


def test_save_and_load_round_trip(model):
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)

    loaded = ContentModel.load(buffer)

    np.testing.assert_array_equal(loaded.neighbour_index, model.neighbour_index)
    np.testing.assert_array_equal(loaded.neighbour_similarity, model.neighbour_similarity)
    np.testing.assert_allclose(loaded.title_vectors.toarray(), model.title_vectors.toarray())
    np.testing.assert_allclose(loaded.affinity_of([3], [1.0]), model.affinity_of([3], [1.0]))


@pytest.mark.parametrize("shape", [(0, 7), (0, 0), (3, 0)])
def test_an_empty_catalogue_is_refused_in_the_projects_words(shape):
    # given: no title (a catalogue not imported yet), or titles without a feature column
    empty = sp.csr_matrix(shape, dtype=np.float32)

    # when / then: the error says what is missing, not scikit-learn's "0 sample(s)"
    with pytest.raises(ValueError, match=r"needs at least one title and one feature"):
        ContentModel().fit(empty)


def _identical_catalogue(n_twins: int, n_others: int) -> sp.csr_matrix:
    """``n_twins`` titles with exactly the same features (one genre, one language), then
    ``n_others`` of that genre in other languages: close to the twins, never tied with them."""
    rows = [[1, 0, 1] + [0] * n_others for _ in range(n_twins)]
    for other in range(n_others):
        row = [1, 0, 0] + [0] * n_others
        row[3 + other] = 1
        rows.append(row)
    return sp.csr_matrix(np.array(rows, dtype=np.float32))


def test_ties_in_the_neighbour_table_go_to_the_lowest_title_index():
    # given: 300 titles identical to one another (cosine 1.0 between any two of them), and
    # a few more that share only their genre
    catalogue = _identical_catalogue(300, 4)

    # when
    model = ContentModel(n_neighbours=5).fit(catalogue)

    # then: each twin's neighbours are the five lowest-numbered other twins, as documented
    # (and as a full stable sort gives), not whichever five a partition happened to keep
    for title in range(300):
        expected = [other for other in range(6) if other != title][:5]
        assert model.neighbour_index[title].tolist() == expected, title
    np.testing.assert_allclose(model.neighbour_similarity[:300], 1.0, rtol=1e-6)
    for title in range(300, 304):
        assert model.neighbour_index[title].tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("block_size", [1, 7, 64, 299, 300, 1024])
def test_the_neighbour_table_does_not_depend_on_the_block_size(block_size):
    # given: the tied catalogue, and a random one whose similarities tie often (few features)
    rng = np.random.default_rng(11)
    random_catalogue = sp.csr_matrix((rng.random((500, 6)) < 0.3).astype(np.float32))

    for catalogue in (_identical_catalogue(300, 4), random_catalogue):
        # when
        blocked = ContentModel(n_neighbours=5, block_size=block_size).fit(catalogue)
        whole = ContentModel(n_neighbours=5, block_size=catalogue.shape[0]).fit(catalogue)

        # then: every title gets the same neighbours as from a full stable sort of its row
        np.testing.assert_array_equal(blocked.neighbour_index, whole.neighbour_index)
        np.testing.assert_array_equal(blocked.neighbour_similarity, whole.neighbour_similarity)
        vectors = whole.title_vectors
        for title in range(0, catalogue.shape[0], 17):
            sims = (vectors @ vectors[title].T).toarray().ravel()
            sims[title] = -np.inf
            order = np.argsort(-sims, kind="stable")[:5]
            expected = np.where(sims[order] > 0, order, -1)
            assert blocked.neighbour_index[title].tolist() == expected.tolist(), title


NAMES = [
    "genre:action",
    "genre:comedy",
    "genre:drama",
    "director:X",
    "director:Y",
    "lang:ta",
    "lang:hi",
]


def _named() -> ContentModel:
    return ContentModel(n_neighbours=3, block_size=2).fit(
        sp.csr_matrix(CATALOGUE), feature_names=NAMES
    )


def test_feature_names_find_their_columns_and_survive_storage():
    model = _named()
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = ContentModel.load(buffer)

    columns = loaded.columns_of(["director:Y", "genre:horror", "genre:action"])

    assert columns.tolist() == [4, -1, 0]  # a feature the fit never saw counts for nothing
    assert ContentModel.load(_saved(ContentModel().fit(sp.csr_matrix(CATALOGUE)))).columns_of(
        ["genre:action"]
    ).tolist() == [-1]


def _saved(model: ContentModel) -> io.BytesIO:
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    return buffer


def test_titles_added_after_the_fit_get_vectors_and_neighbours_without_a_refit():
    # given: the fitted catalogue placed around three titles added at indices 1, 3 and 5:
    # a twin of title 0, a comedy by Y, one without features
    model = _named()
    positions = np.array([0, 2, 4, 6, 7, 8, 9])
    added = sp.csr_matrix(
        np.array([CATALOGUE[0], [0, 1, 0, 0, 1, 0, 0], np.zeros(7)], dtype=np.float32)
    )
    added_at = np.array([1, 3, 5])

    # when
    wider = model.with_titles(positions=positions, n_titles=10, added_features=added)

    # then: the fitted titles keep their vectors; the added ones are the fitted idf's
    vectors = wider.title_vectors.toarray()
    np.testing.assert_allclose(vectors[positions], model.title_vectors.toarray())
    np.testing.assert_allclose(vectors[added_at], model.transform(added).toarray())
    # and every title's neighbours are the best 3 of the larger catalogue, ties to the
    # lower index (what a table built over these vectors holds)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    for title in range(10):
        order = np.lexsort((np.arange(10), -similarity[title]))[:3]
        expected = [int(t) for t in order if similarity[title, t] > 0]
        kept = wider.neighbour_index[title]
        assert kept[kept >= 0].tolist() == expected, title
        np.testing.assert_allclose(
            wider.neighbour_similarity[title][: len(expected)],
            similarity[title, expected],
            rtol=1e-5,
        )
    # (title 0's twin among them, and the featureless one nobody's)
    assert 1 in wider.neighbour_index[0]
    assert (wider.neighbour_index[5] == -1).all()
    assert 5 not in wider.neighbour_index
    assert wider.neighbour_matrix().shape == (10, 10)
    assert model.n_titles == 7  # not changed
