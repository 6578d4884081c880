"""The request path's shortcuts must not change what it computes."""

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
