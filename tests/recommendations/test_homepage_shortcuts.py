"""The homepage's vectorised helpers must select what the plain numpy they replace selects."""

import numpy as np
import pytest

from recommendations.serving.homepage import (
    _Proposal,
    _row_strength,
    _rows_choose,
    _upper_quartile_cut,
)
from recommendations.serving.row_copy import RowCopy
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


def _proposal(row_id: str, positions: range | list[int]) -> _Proposal:
    row_type = row_id.split(":")[0]
    return _Proposal(row_id, row_type, RowCopy(row_type), np.array(positions, dtype=np.intp))


@pytest.mark.parametrize("n_rows", [12, 5])
def test_a_row_the_first_screen_empties_moves_below_it_in_the_rankers_order(n_rows):
    # given, in the row ranker's order: top picks; a row of top picks' titles only; two
    # rows of new titles; a row too short even whole; a row with four titles left unseen;
    # and one more
    proposals = [
        _proposal("top_picks", range(10)),
        _proposal("because_you_watched:1", range(5)),
        _proposal("genre:1", range(10, 15)),
        _proposal("genre:2", range(15, 18)),
        _proposal("trending:IN", range(18, 23)),
        _proposal("new_releases", range(2, 9)),
        _proposal("language:hi", range(23, 28)),
    ]

    # when
    chosen = _rows_choose(
        proposals,
        order=list(range(len(proposals))),
        strength=np.zeros(len(proposals)),
        n_pool=30,
        n_rows=n_rows,
        n_items=5,
    )

    # then: "because you watched" follows the first screen whole (its reason is news,
    # if its titles are not), before the row ranked below it; the short row is dropped;
    # the first screen repeats nothing
    ids = [proposal.id for proposal, _, _ in chosen]
    expected = ["top_picks", "genre:1", "trending:IN", "new_releases", "because_you_watched:1"]
    assert ids == [*expected, "language:hi"][:n_rows]
    positions = {proposal.id: p for proposal, p, _ in chosen}
    assert positions["new_releases"] == [5, 6, 7, 8]
    assert positions["because_you_watched:1"] == [0, 1, 2, 3, 4]
    first_screen = [p for _, row, _ in chosen[:4] for p in row]
    assert len(first_screen) == len(set(first_screen))


def test_a_row_below_the_first_screen_with_too_few_new_titles_is_dropped():
    # given: a first screen of four rows, then a row of their titles only, a row of their
    # titles and two others, a "because you watched" row of their titles and one other,
    # and a row of new titles; and a "because you watched" row of repeats only
    proposals = [
        _proposal("top_picks", range(5)),
        _proposal("genre:1", range(5, 10)),
        _proposal("genre:2", range(10, 15)),
        _proposal("trending:IN", range(15, 20)),
        _proposal("popular_in:1", range(0, 20, 2)),
        _proposal("new_releases", [1, 6, 11, 28, 29]),
        _proposal("because_you_watched:1", [3, 8, 13, 21]),
        _proposal("language:hi", range(22, 27)),
        _proposal("because_you_watched:2", range(22, 27)),
    ]

    # when
    chosen = _rows_choose(
        proposals, order=list(range(9)), strength=np.zeros(9), n_pool=30, n_rows=12, n_items=5
    )

    # then: the popular row of repeats and the new releases with two new titles (fewer
    # than a row's four) are not on the page; the rows that say why their titles are there
    # stay, leading with what is new
    ids = [proposal.id for proposal, _, _ in chosen]
    assert ids == [
        "top_picks",
        "genre:1",
        "genre:2",
        "trending:IN",
        "because_you_watched:1",
        "language:hi",
        "because_you_watched:2",
    ]
    assert chosen[4][1] == [21, 3, 8, 13]


def test_a_deferred_row_that_is_dropped_leaves_its_place_to_the_next_deferred_one():
    # given: two rows the first screen empties, the first of them all repeats (dropped
    # below it), and one slot left after the first screen
    proposals = [
        _proposal("top_picks", range(5)),
        _proposal("popular_in:1", range(5)),
        _proposal("genre:1", range(5, 10)),
        _proposal("because_you_liked:1", [0, 1, 2, 3, 20]),
        _proposal("genre:2", range(10, 15)),
        _proposal("genre:3", range(15, 20)),
        _proposal("language:hi", range(21, 26)),
    ]

    # when
    chosen = _rows_choose(
        proposals, order=list(range(7)), strength=np.zeros(7), n_pool=30, n_rows=5, n_items=5
    )

    # then: the second deferred row takes the slot, before the row ranked below both
    ids = [proposal.id for proposal, _, _ in chosen]
    assert ids == ["top_picks", "genre:1", "genre:2", "genre:3", "because_you_liked:1"]


def test_a_first_screen_that_never_fills_keeps_its_rows_apart():
    """A moved row could only sit in the first screen, repeating titles there: dropped."""
    proposals = [
        _proposal("top_picks", range(10)),
        _proposal("because_you_watched:1", range(5)),
        _proposal("genre:1", range(10, 15)),
    ]

    chosen = _rows_choose(
        proposals, order=[0, 1, 2], strength=np.zeros(3), n_pool=15, n_rows=12, n_items=5
    )

    assert [proposal.id for proposal, _, _ in chosen] == ["top_picks", "genre:1"]
