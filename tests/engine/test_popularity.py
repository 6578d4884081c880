"""Trending per group, new releases and the most-popular baseline."""

import io

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.engine.popularity import (
    MostPopular,
    new_release_scores,
    normalise_popularity,
    trending_scores,
    trending_started,
)


def test_trending_means_now_and_is_kept_per_group():
    # given: in group 0, title 0 had 10 plays a month ago, title 1 three plays today;
    # in group 1, only title 2 was played
    groups = np.array([0] * 13 + [1])
    titles = np.array([0] * 10 + [1] * 3 + [2])
    ages = np.array([30.0] * 10 + [0.0] * 3 + [1.0])

    # when
    trending = trending_scores(
        group_index=groups, title_index=titles, age_days=ages, n_groups=2, n_titles=3
    )

    # then
    assert trending.shape == (2, 3)
    assert trending.dtype == np.float32
    assert trending[0, 1] == pytest.approx(3.0)
    assert trending[0, 1] > trending[0, 0] > 0
    assert trending[1].tolist() == [0.0, 0.0, pytest.approx(2 ** (-1 / 3))]


def test_a_title_is_started_within_a_window_per_group_and_keeps_its_older_starts():
    # given: in group 0, title 0 has five starts 8 to 9 days old (decayed, more than one
    # start 7 days ago), title 1 one start exactly 7 days old and two older, title 2 one
    # start 2 days ago; in group 1, title 0 has one start today
    groups = np.array([0] * 5 + [0] * 3 + [0] + [1])
    titles = np.array([0] * 5 + [1] * 3 + [2] + [0])
    ages = np.array([8.0, 8.0, 8.5, 9.0, 9.0, 7.0, 10.0, 20.0, 2.0, 0.0])
    plays = {"group_index": groups, "title_index": titles, "age_days": ages}

    # when
    started = trending_started(**plays, n_groups=2, n_titles=3, within_days=7.0)
    trending = trending_scores(**plays, n_groups=2, n_titles=3)

    # then: title 0 was not started this week in group 0 (it was in group 1), the others
    # were (exactly 7 days counts); every start keeps its decayed weight, older ones too
    assert started.dtype == np.bool_
    assert started.tolist() == [[False, True, True], [True, False, False]]
    assert trending[0, 0] == pytest.approx(sum(2 ** (-a / 3) for a in (8, 8, 8.5, 9, 9)))
    assert trending[0, 1] == pytest.approx(sum(2 ** (-a / 3) for a in (7.0, 10.0, 20.0)))
    assert trending[1, 0] == pytest.approx(1.0)


def test_normalised_popularity_is_in_unit_range_per_row():
    normalised = normalise_popularity(np.array([[0.0, 9.0, 99.0], [0.0, 0.0, 0.0]]))

    assert normalised[0].tolist() == [0.0, pytest.approx(np.log(10) / np.log(100)), 1.0]
    assert not normalised[1].any()


def test_new_releases_are_fresh_released_titles_only():
    scores = new_release_scores(np.array([-3.0, 0.0, 30.0, 89.0, 91.0, np.nan]))

    assert scores[0] == 0  # not released yet
    assert scores[1] == 1.0
    assert scores[1] > scores[2] > scores[3] > 0
    assert scores[4] == scores[5] == 0


def test_most_popular_counts_profiles_not_confidence():
    # given: one binge-watcher on title 0, three casual viewers of title 1
    matrix = sp.csr_matrix(np.array([[50.0, 0, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0]]))

    model = MostPopular(random_state=0).fit(matrix)

    assert model.scores().tolist() == [1.0, 3.0, 0.0]


def test_most_popular_round_trips():
    model = MostPopular().fit(sp.csr_matrix(np.array([[1.0, 0.0, 2.0]])))
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)

    assert MostPopular.load(buffer).scores().tolist() == [1.0, 0.0, 1.0]
