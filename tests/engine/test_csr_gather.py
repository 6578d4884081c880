"""Row gathering on the request path agrees with scipy's own row slicing."""

import numpy as np
import scipy.sparse as sp

from recommendations.engine.csr_gather import gather_rows


def test_gathered_rows_rebuild_scipys_slice():
    matrix = sp.csr_matrix(sp.random(30, 20, density=0.2, random_state=1, dtype=np.float32))
    rows = np.array([4, 0, 4, 29, 7])

    owner, columns, values = gather_rows(matrix, rows)
    rebuilt = sp.csr_matrix((values, (owner, columns)), shape=(rows.size, 20))

    np.testing.assert_array_equal(rebuilt.toarray(), matrix[rows].toarray())


def test_gathering_no_rows_or_empty_rows_gives_nothing():
    matrix = sp.csr_matrix((5, 5), dtype=np.float32)

    for rows in (np.array([], dtype=int), np.array([1, 3])):
        owner, columns, values = gather_rows(matrix, rows)
        assert owner.size == columns.size == values.size == 0
