"""The request path's shortcuts must not change what it computes."""

from types import SimpleNamespace

import numpy as np
import pytest

from recommendations.engine.confidence import SignalCode, signal_confidence


@pytest.mark.parametrize("seed", range(5))
def test_impressions_change_neither_positive_nor_negative_evidence(seed):
    # given: one profile's random history over 30 titles, impressions included
    rng = np.random.default_rng(seed)
    n = 400
    kind = rng.choice([int(code) for code in SignalCode], size=n).astype(np.int8)
    title = rng.integers(0, 30, size=n).astype(np.int32)
    title[kind == SignalCode.ROW_SCROLL_PAST] = -1
    history = dict(
        profile_index=np.zeros(n, dtype=np.int32),
        title_index=title,
        kind=kind,
        value=rng.uniform(0, 100, size=n).astype(np.float32),
        age_days=rng.uniform(0, 200, size=n),
        commitment=np.where(kind == SignalCode.COMPLETE, rng.uniform(0.5, 10, size=n), np.nan),
        rewatch=rng.random(n) < 0.1,
    )
    engaged = (kind != SignalCode.IMPRESSION) & (title >= 0)
    assert (~engaged).sum() > 0

    # when: serving leaves impressions (and title-less signals) out
    full = signal_confidence(**history, n_profiles=1, n_titles=30)
    served = signal_confidence(
        **{name: values[engaged] for name, values in history.items()}, n_profiles=1, n_titles=30
    )

    # then
    assert (full.positive != served.positive).nnz == 0
    assert (full.negative != served.negative).nnz == 0
    assert full.positive.nnz > 0


def _random_region(seed: int, n_titles: int = 300):
    """A region's windows with shared and open-ended bounds, and its arrival times."""
    from recommendations.selectors.training import SECONDS_PER_DAY, AvailabilityWindows
    from recommendations.serving.bundle import RegionArrays

    rng = np.random.default_rng(seed)
    n_windows = 2 * n_titles
    day = SECONDS_PER_DAY
    starts = rng.integers(0, 400, n_windows) * day  # whole days: many windows share a bound
    ends = starts + rng.integers(1, 200, n_windows) * day
    starts = np.where(rng.random(n_windows) < 0.1, -np.inf, starts).astype(np.float64)
    ends = np.where(rng.random(n_windows) < 0.2, np.inf, ends).astype(np.float64)
    windows = AvailabilityWindows(
        region_codes=("IN",),
        region=np.zeros(n_windows, dtype=np.int16),
        title_index=rng.integers(0, n_titles, n_windows).astype(np.int32),
        starts=starts,
        ends=ends,
        n_titles=n_titles,
    )
    release_day = np.where(
        rng.random(n_titles) < 0.05, np.nan, rng.integers(0, 500, n_titles) * day
    ).astype(np.float64)
    return RegionArrays(windows=windows, arrival=windows.arrival(release_day)), windows


@pytest.mark.parametrize("seed", range(3))
def test_the_shared_availability_mask_is_the_windows_own_at_every_moment(seed):
    """The mask is reused between two window bounds: at the bounds themselves, just
    before and after them, and when time goes backwards, it must be the windows' own."""
    region, windows = _random_region(seed)
    bounds = np.unique(np.concatenate([windows.starts, windows.ends]))
    bounds = bounds[np.isfinite(bounds)]
    moments = np.concatenate([bounds, bounds - 1e-3, bounds + 1e-3, bounds + 3600.0])
    rng = np.random.default_rng(seed)
    for at in np.concatenate([np.sort(moments), rng.permutation(moments)]).tolist():
        mask = region.available(at)
        np.testing.assert_array_equal(mask, windows.available(at), err_msg=f"at {at}")
        assert not mask.flags.writeable  # shared by requests: nobody may change it


@pytest.mark.parametrize("seed", range(3))
def test_new_release_scores_from_recent_arrivals_equal_the_whole_catalogues(seed):
    """Serving scores only titles that arrived within the window; the result must be
    the function over every title, at any moment, including window edges."""
    from recommendations.engine.popularity import new_release_scores
    from recommendations.selectors.training import SECONDS_PER_DAY
    from recommendations.serving.scoring import _new_release

    region, _ = _random_region(seed)
    finite = region.arrival[np.isfinite(region.arrival)]
    moments = np.concatenate(
        [finite, finite + 90 * SECONDS_PER_DAY, finite + 90 * SECONDS_PER_DAY + 1, finite - 1]
    )
    with_new_releases = 0
    for at in moments[:: max(1, moments.shape[0] // 200)].tolist():
        release_age = (at - region.arrival) / SECONDS_PER_DAY
        inputs = SimpleNamespace(at=at, release_age=release_age)  # the fields it reads
        served = _new_release(inputs, region)
        np.testing.assert_array_equal(served, new_release_scores(release_age))
        with_new_releases += bool(served.any())
    assert with_new_releases > 50
