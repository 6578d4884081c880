"""The homepage's vectorised helpers must select what the plain numpy they replace selects."""

from types import SimpleNamespace

import numpy as np
import pytest

from recommendations.serving import homepage
from recommendations.serving.homepage import (
    _language_heads,
    _Proposal,
    _row_strength,
    _rows_choose,
    _upper_quartile,
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
    # given, in the row ranker's order: top picks; a row of top picks' titles and one
    # other; two rows of new titles; a row too short even whole; a row with four titles
    # left unseen; and one more
    proposals = [
        _proposal("top_picks", range(10)),
        _proposal("because_you_watched:1", [*range(5), 29]),
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
    # and one of its titles), leading with its new title, before the row ranked below it;
    # the short row is dropped; the first screen repeats nothing
    ids = [proposal.id for proposal, _, _ in chosen]
    expected = ["top_picks", "genre:1", "trending:IN", "new_releases", "because_you_watched:1"]
    assert ids == [*expected, "language:hi"][:n_rows]
    positions = {proposal.id: p for proposal, p, _ in chosen}
    assert positions["new_releases"] == [5, 6, 7, 8]
    assert positions["because_you_watched:1"] == [29, 0, 1, 2, 3]
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
    # than a row's four) are not on the page; a row that says why its titles are there
    # stays with one new title, leading with it, but not with none
    ids = [proposal.id for proposal, _, _ in chosen]
    assert ids == [
        "top_picks",
        "genre:1",
        "genre:2",
        "trending:IN",
        "because_you_watched:1",
        "language:hi",
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


def test_a_row_below_wide_rows_takes_titles_from_their_tails_instead_of_being_dropped():
    """Rows placed before "Films & Series in Tamil" held every Tamil title, some only in
    their tails (past the 20 titles a viewer browses of a row: a row of 75 shows them at
    slots few reach), and the Tamil row, bringing nothing new, was dropped as too thin."""
    # given, in the row ranker's order (24 titles a row): a first screen whose Top Picks
    # holds Tamil titles at slots 2, 21, 22 and 23; a row below it holding two more at its
    # last slots; the Tamil row; a row whose titles Top Picks holds within its first 20; a
    # "because you watched" row with no title of its own but one in a tail
    proposals = [
        _proposal("top_picks", range(200)),
        _proposal("genre:1", range(24, 48)),
        _proposal("genre:2", range(48, 72)),
        _proposal("trending:IN", range(72, 96)),
        _proposal("genre:3", range(96, 130)),
        _proposal("language:ta", [2, 21, 22, 23, 118, 119]),
        _proposal("language:hi", [10, 11, 12, 13, 14]),
        _proposal("because_you_watched:1", [3, 117]),
    ]

    # when
    chosen = _choose(proposals, n_pool=200, n_rows=40, n_items=24)

    # then: the Tamil row is on the page, leading with the four titles the tails gave up
    # (each row showing its next title instead), then its repeats; the Hindi row, whose
    # titles are in Top Picks' head, is still dropped, and so is "because you watched",
    # which needs a title of its own
    assert chosen == [
        ("top_picks", [*range(22), 122, 123]),
        ("genre:1", list(range(24, 48))),
        ("genre:2", list(range(48, 72))),
        ("trending:IN", list(range(72, 96))),
        ("genre:3", [*range(96, 118), 120, 121]),
        ("language:ta", [22, 23, 118, 119, 2, 21]),
    ]
    first_screen = [p for _, row in chosen[:4] for p in row]
    assert len(first_screen) == len(set(first_screen))


def test_a_tail_gives_no_title_another_row_repeats_and_all_or_nothing():
    # given (24 titles a row): rows with no title to show instead of one given up; a row
    # below the first screen that repeats two of Top Picks' titles after 22 new ones
    proposals = [
        _proposal("top_picks", range(24)),
        _proposal("genre:1", range(24, 48)),
        _proposal("genre:2", range(48, 72)),
        _proposal("trending:IN", range(72, 96)),
        _proposal("genre:3", [*range(96, 118), 4, 23]),
        _proposal("language:hi", [4, 22, 23, 150]),
        _proposal("language:ta", [116, 117, 160, 161]),
    ]

    # when
    chosen = _choose(proposals, n_pool=200, n_rows=40, n_items=24)

    # then: Hindi (one new title) could take only 22 from Top Picks' tail (genre:3 repeats
    # 23), not the three it needs, and is dropped with nothing taken; Tamil takes the two
    # it needs from genre:3's tail, which has no next title and shows two fewer
    assert chosen == [
        ("top_picks", list(range(24))),
        ("genre:1", list(range(24, 48))),
        ("genre:2", list(range(48, 72))),
        ("trending:IN", list(range(72, 96))),
        ("genre:3", [*range(96, 116), 4, 23]),
        ("language:ta", [116, 117, 160, 161]),
    ]


@pytest.mark.parametrize("seed", range(3))
def test_rows_no_longer_than_a_head_never_give_a_title_up(seed, monkeypatch):
    """A page of rows of at most ``ROW_HEAD_ITEMS`` titles (the default, 20) is filled as
    before rows could take titles from tails: no row has a tail."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(80):
        n_items = int(rng.choice([4, 12, 20]))
        n_pool = int(rng.integers(40, 400))
        proposals = [_proposal("top_picks", range(n_pool))]
        for row_id in rng.choice(_ROW_IDS, size=12):
            members = np.flatnonzero(rng.random(n_pool) < rng.choice([0.02, 0.1, 0.5]))
            if members.shape[0]:
                proposals.append(_proposal(str(row_id), members.tolist()))
        cases.append((proposals, rng.permutation(len(proposals)).tolist(), n_pool, n_items))

    def pages():
        return [
            _rows_choose(
                proposals,
                order=order,
                strength=np.zeros(len(proposals)),
                n_pool=n_pool,
                n_rows=40,
                n_items=n_items,
            )
            for proposals, order, n_pool, n_items in cases
        ]

    taking = pages()
    monkeypatch.setattr(homepage, "ROW_HEAD_ITEMS", 10**6)  # no row ever gives one up
    assert [[(p.id, s) for p, s, _ in page] for page in taking] == [
        [(p.id, s) for p, s, _ in page] for page in pages()
    ]


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


def _choose(proposals: list[_Proposal], *, n_pool: int, n_rows: int = 12, n_items: int = 20):
    chosen = _rows_choose(
        proposals,
        order=list(range(len(proposals))),
        strength=np.zeros(len(proposals)),
        n_pool=n_pool,
        n_rows=n_rows,
        n_items=n_items,
    )
    return [(proposal.id, positions) for proposal, positions, _ in chosen]


def _kids_page_proposals() -> list[_Proposal]:
    """A Kids page of the demo (Brazil, limit 0): 14 titles, the rows' in the ranker's order."""
    return [
        _proposal("top_picks", range(14)),
        _proposal("trending:BR", [2]),
        _proposal("popular_in:8", [2]),
        _proposal("critically_acclaimed", [4, 9]),
        _proposal("genre:9", [0, 1, 2, 3, 4, 5, 6, 9, 11]),
        _proposal("language:en", [1, 2, 3, 4, 5]),
        _proposal("genre:4", [1, 4, 9, 11]),
        _proposal("genre:15", [3, 5, 6, 7, 10]),
        _proposal("genre:10", [2, 7, 8, 10, 12, 13]),
    ]


def test_a_pool_too_small_for_the_first_screen_is_shared_by_its_rows():
    # when: 14 titles, rows of up to 20 (Top Picks took all 14 and was the page's one row)
    rows = _choose(_kids_page_proposals(), n_pool=14)

    # then: each row shows its best unseen titles, a quarter of the pool (4); Top Picks
    # takes back the two titles no row could show; nothing repeats, every title is shown
    assert rows == [
        ("top_picks", [0, 1, 2, 3, 11, 13]),
        ("genre:9", [4, 5, 6, 9]),
        ("genre:10", [7, 8, 10, 12]),
    ]


@pytest.mark.parametrize(
    ("n_pool", "share"),
    [(80, 20), (79, 20), (18, 5), (17, 5), (16, 4), (10, 4)],
)
def test_a_first_screen_share_is_the_pools_quarter_rounded_up_never_below_a_rows_minimum(
    n_pool, share
):
    # Rounded down, 18 titles over four rows of 4 would leave two off the first screen
    # though rows of 5 hold them all; and 79 titles would make rows of 19, not 20.
    assert homepage._first_screen_share(n_pool=n_pool, n_rows=12, n_items=20) == share


def test_rows_take_back_the_titles_sharing_left_off_the_page():
    # given: 14 titles, and no row but Top Picks with four of them unseen once it has its
    # share (4)
    proposals = [
        _proposal("top_picks", range(14)),
        _proposal("genre:1", [0, 1, 2, 5]),
        _proposal("language:en", [1, 2, 3, 4]),
    ]

    # then: Top Picks shows all 14 again, as the one row it was (not 4 of them)
    assert _choose(proposals, n_pool=14) == [("top_picks", list(range(14)))]


@pytest.mark.parametrize(
    ("n_rows", "expected"),
    [
        (1, [("top_picks", list(range(14)))]),
        (2, [("top_picks", [0, 1, 2, 3, 4, 5, 6, 9, 11]), ("genre:10", [7, 8, 10, 12, 13])]),
    ],
)
def test_a_page_of_fewer_rows_than_the_first_screen_shares_among_the_rows_it_has(n_rows, expected):
    assert _choose(_kids_page_proposals(), n_pool=14, n_rows=n_rows) == expected


def test_continue_watching_keeps_every_title_in_a_shared_first_screen():
    """No other row holds what the profile is resuming: it takes back what its share left off."""
    proposals = [
        _proposal("continue_watching", range(14, 20)),
        _proposal("top_picks", range(14)),
        _proposal("genre:1", range(0, 14, 2)),
    ]

    rows = _choose(proposals, n_pool=20)

    assert rows[0] == ("continue_watching", list(range(14, 20)))
    assert [row_id for row_id, _ in rows] == ["continue_watching", "top_picks", "genre:1"]


_ROW_IDS = (
    "because_you_watched:1",
    "because_you_liked:1",
    "trending:IN",
    "popular_in:1",
    "new_releases",
    "critically_acclaimed",
    "genre:1",
    "genre:2",
    "genre:3",
    "language:hi",
    "watch_again",
)


@pytest.mark.parametrize("seed", range(6))
def test_a_pool_that_fills_the_first_screen_gets_the_page_it_got_unshared(seed, monkeypatch):
    # given: random rows over pools big enough for the first screen at full length,
    # with many and few titles a row, many and few rows a page
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(60):
        n_items, n_rows = int(rng.choice([1, 3, 5, 20])), int(rng.choice([1, 2, 4, 12]))
        # from just enough for the first screen's rows (where sharing would start) up
        least = max(8, min(4, n_rows) * n_items)
        n_pool = least + int(rng.choice([0, rng.integers(0, 4 * n_items), rng.integers(0, 600)]))
        proposals = [_proposal("continue_watching", range(n_pool - 3, n_pool))]
        proposals.append(_proposal("top_picks", range(n_pool - 3)))
        for row_id in rng.choice(_ROW_IDS, size=9):
            members = np.flatnonzero(rng.random(n_pool - 3) < rng.choice([0.02, 0.1, 0.5]))
            if members.shape[0]:
                proposals.append(_proposal(str(row_id), members.tolist()))
        order = rng.permutation(len(proposals)).tolist()
        cases.append((proposals, order, n_pool, n_rows, n_items))

    def pages():
        return [
            [
                (proposal.id, positions)
                for proposal, positions, _ in _rows_choose(
                    proposals,
                    order=order,
                    strength=np.zeros(len(proposals)),
                    n_pool=n_pool,
                    n_rows=n_rows,
                    n_items=n_items,
                )
            ]
            for proposals, order, n_pool, n_rows, n_items in cases
        ]

    # when: with the first screen's share, and with every row's share n_items
    shared = pages()
    monkeypatch.setattr(homepage, "_first_screen_share", lambda *, n_pool, n_rows, n_items: n_items)
    unshared = pages()

    # then
    assert shared == unshared


def test_rows_asked_shorter_than_a_rows_minimum_need_only_their_own_length():
    # given: a client asking for rows of three titles, and rows of exactly three
    proposals = [
        _proposal("top_picks", range(3)),
        _proposal("genre:1", range(3, 6)),
        _proposal("language:hi", range(6, 8)),
    ]

    # when
    rows = _choose(proposals, n_pool=40, n_items=3)

    # then: a row as long as was asked for is full, not short of the usual four; one
    # shorter than that is still too short
    assert rows == [("top_picks", [0, 1, 2]), ("genre:1", [3, 4, 5])]


def test_rows_moved_below_the_first_screen_do_not_make_the_page_longer_than_asked():
    # given: two rows the first screen empties, each with a title of its own, and a page of
    # five rows
    proposals = [
        _proposal("top_picks", range(5)),
        _proposal("because_you_watched:1", [0, 1, 2, 3, 20]),
        _proposal("because_you_liked:1", [0, 1, 2, 3, 21]),
        _proposal("genre:1", range(5, 10)),
        _proposal("genre:2", range(10, 15)),
        _proposal("genre:3", range(15, 20)),
    ]

    # when
    rows = _choose(proposals, n_pool=30, n_rows=5, n_items=5)

    # then: the first moved row takes the one place left; the second does not make a sixth
    assert [row_id for row_id, _ in rows] == [
        "top_picks",
        "genre:1",
        "genre:2",
        "genre:3",
        "because_you_watched:1",
    ]


def test_a_title_rated_down_says_nothing_of_the_taste_the_artwork_is_chosen_for():
    # given: a finished comedy, a started drama, and a finished horror rated down
    history = SimpleNamespace(
        state_title=np.array([0, 1, 2]),
        completed=np.array([True, False, True]),
        rewatch_worthy=np.array([False, False, False]),
        thumbs_down=np.array([False, False, True]),
    )
    tables = SimpleNamespace(
        genre_table=np.eye(3, dtype=bool), genre_slugs=("comedy", "drama", "horror")
    )

    # when
    taste = homepage.profile_taste(history=history, tables=tables)

    # then: a finished title weighs twice a started one; the one rated down not at all
    assert taste == {
        "comedy": pytest.approx(2 / 3, abs=1e-4),
        "drama": pytest.approx(1 / 3, abs=1e-4),
    }


@pytest.mark.parametrize("seed", range(6))
def test_a_shared_first_screen_takes_back_no_more_than_a_rows_length(seed):
    """A first-screen row of a shared screen shows at most its share (under ``n_items``)
    until it takes back, so it always has room to: a row below giving a first-screen row's
    tail title up swaps it for another, never lengthening the row. Pools from 8 titles to
    just under the screen at full length, rows long enough (75) for rows below to take."""
    rng = np.random.default_rng(seed)
    for _ in range(80):
        n_items, n_rows = int(rng.choice([5, 20, 75])), int(rng.choice([1, 2, 4, 12]))
        screen = min(4, n_rows) * n_items
        n_pool = int(rng.integers(min(8, screen - 1), screen))
        share = homepage._first_screen_share(n_pool=n_pool, n_rows=n_rows, n_items=n_items)
        if share == n_items:  # rounded up to a whole row: not shared
            continue
        proposals = [_proposal("top_picks", range(n_pool))]
        for row_id in rng.choice(_ROW_IDS, size=9):
            members = np.flatnonzero(rng.random(n_pool) < rng.choice([0.1, 0.5, 0.9]))
            if members.shape[0]:
                proposals.append(_proposal(str(row_id), members.tolist()))
        order = rng.permutation(len(proposals)).tolist()

        chosen = _rows_choose(
            proposals,
            order=order,
            strength=np.zeros(len(proposals)),
            n_pool=n_pool,
            n_rows=n_rows,
            n_items=n_items,
        )

        first = [positions for _, positions, _ in chosen[: homepage.FIRST_SCREEN_ROWS]]
        screen_titles = [p for positions in first for p in positions]
        assert len(screen_titles) == len(set(screen_titles))
        assert all(len(positions) <= n_items for _, positions, _ in chosen)
        assert all(
            set(positions) <= set(proposal.positions.tolist()) for proposal, positions, _ in chosen
        )


def test_a_row_shorter_than_its_minimum_is_dropped_even_where_one_new_title_would_do():
    """Below the first screen a "Because you watched" row needs one title of its own, but a
    row needs its minimum whole first: with fewer it is dropped, never shown short."""
    # given: a full first screen, then a "because you watched" row of two titles, one of
    # them new
    proposals = [
        _proposal("top_picks", range(5)),
        _proposal("genre:1", range(5, 10)),
        _proposal("genre:2", range(10, 15)),
        _proposal("trending:IN", range(15, 20)),
        _proposal("because_you_watched:1", [0, 25]),
    ]
    dropped: dict[int, str] = {}

    # when
    chosen = _rows_choose(
        proposals,
        order=list(range(5)),
        strength=np.zeros(5),
        n_pool=30,
        n_rows=12,
        n_items=5,
        dropped=dropped,
    )

    # then
    assert [proposal.id for proposal, _, _ in chosen] == [
        "top_picks",
        "genre:1",
        "genre:2",
        "trending:IN",
    ]
    assert dropped == {4: "too few titles: 2, it needs 4"}


def test_no_upper_quartile_row_of_titles_nobody_started_or_of_no_title_at_all():
    """Trending and the cluster's row are not proposed when what the row could show has
    no popularity, nor when it could show nothing (a profile resuming or finished with its
    whole pool): no empty row, and no quantile of nothing."""
    values = np.array([0.0, 0.0, 3.0, 0.0], dtype=np.float32)

    assert _upper_quartile(values, np.array([True, True, False, True])) is None
    assert _upper_quartile(values, np.zeros(4, dtype=bool)) is None
    np.testing.assert_array_equal(
        _upper_quartile(values, np.ones(4, dtype=bool)), [False, False, True, False]
    )


def test_a_languages_weight_is_its_best_five_titles_and_a_rows_worth_keeps_it():
    # given, in the pool's best-first order: six titles of language 0, the sixth as likely
    # as the first (a sum over six would count it); four of language 1, a row's minimum
    languages = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 0])
    probability = np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4, 0.9], dtype=np.float32)
    keep = np.ones(10, dtype=bool)

    # when
    weight = _language_heads(languages, probability, keep, 3, min_items=4)

    # then: language 0 weighs its first five only; language 1, with exactly four, weighs
    np.testing.assert_allclose(weight, [2.9, 1.6, 0.0], rtol=1e-6)
    # ... and a language with one title fewer than a row's minimum weighs nothing
    assert _language_heads(languages, probability, keep, 3, min_items=5)[1] == 0.0


def test_a_row_giving_up_a_tail_title_takes_no_title_of_the_row_it_gives_to():
    """A donor's replacement for a title it gives up is a title no row shows, and never one
    of the taking row's own: those are the new titles the taking row is counted on for."""
    # given (24 titles a row): Top Picks, whose next titles after its 24 are the only two
    # the Tamil row brings that no row shows; the Tamil row needs two more from its tail
    proposals = [
        _proposal("top_picks", [*range(24), 100, 101]),
        _proposal("genre:1", range(24, 48)),
        _proposal("genre:2", range(48, 72)),
        _proposal("trending:IN", range(72, 96)),
        _proposal("language:ta", [20, 21, 22, 100, 101]),
    ]

    # when
    chosen = _choose(proposals, n_pool=200, n_rows=40, n_items=24)

    # then: Top Picks gives up 22 and 21 and is two shorter; the Tamil row leads with its
    # four new titles
    assert chosen[0] == ("top_picks", [*range(21), 23])
    assert chosen[4] == ("language:ta", [21, 22, 100, 101, 20])
