"""The homepage's vectorised helpers must select what the plain numpy they replace selects."""

import numpy as np
import pytest

from recommendations.serving.homepage import _row_strength, _upper_quartile_cut
from recommendations.serving.scoring import member_mask


@pytest.mark.parametrize("seed", range(4))
def test_the_quartile_cut_keeps_exactly_the_titles_the_linear_quantile_keeps(seed):
    rng = np.random.default_rng(seed)
    for trial in range(300):
        n = int(rng.integers(1, 600))
        values = rng.random(n).astype(np.float32)
        if trial % 2:  # ties
            values = np.round(values * 5).astype(np.float32) / 5
        if trial % 3 == 0:  # many titles without any popularity
            values[rng.random(n) < 0.5] = 0
        quantile = values >= max(float(np.quantile(values, 0.75)), 1e-6)
        np.testing.assert_array_equal(values >= max(_upper_quartile_cut(values), 1e-6), quantile)


def test_row_strength_is_each_rows_mean_over_its_first_five_titles():
    rng = np.random.default_rng(3)
    probability = rng.random(400).astype(np.float32)
    rows = [rng.permutation(400)[: int(rng.integers(1, 30))] for _ in range(25)]
    expected = [float(probability[row[:5]].mean()) for row in rows]
    np.testing.assert_allclose(_row_strength(probability, rows), expected, rtol=1e-6)


def test_membership_through_a_catalogue_mask_is_isin():
    rng = np.random.default_rng(4)
    titles, wanted = rng.integers(-1, 1000, 500), rng.integers(0, 1000, 9)
    titles[:3] = -1
    wanted[0] = -1  # "unknown" is never a member, even when asked for
    expected = np.isin(titles, wanted) & (titles >= 0)
    np.testing.assert_array_equal(member_mask(titles, wanted, 1000), expected)
    assert expected.any()
