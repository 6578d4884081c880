"""Training signals written as rows, for tests of the holdout and the evaluation."""

import numpy as np

from recommendations.engine.confidence import SignalCode
from recommendations.selectors.training import TrainingSignals

DAY = 86_400.0
T0 = 1.7e9


def signals_of_rows(
    rows: list[tuple[int, int, SignalCode, float]],
    *,
    n_profiles: int,
    n_titles: int,
    value: float = np.nan,
) -> TrainingSignals:
    """Signals of (profile index, title index, kind, day) rows, every one of them ``value``.

    Profiles are ids 101, 102, ... and titles 201, 202, ...; day 0 is ``T0``.
    """
    profile, title, kind, day = (np.array(column) for column in zip(*rows, strict=True))
    n = len(rows)
    return TrainingSignals(
        profile_ids=np.arange(101, 101 + n_profiles, dtype=np.int64),
        title_ids=np.arange(201, 201 + n_titles, dtype=np.int64),
        profile_index=profile.astype(np.int32),
        title_index=title.astype(np.int32),
        episode_id=np.full(n, -1, dtype=np.int64),
        kind=kind.astype(np.int8),
        value=np.full(n, value, dtype=np.float32),
        timestamp=T0 + day.astype(np.float64) * DAY,
        rewatch=np.zeros(n, dtype=bool),
        commitment_hours=np.full(n, 2.0, dtype=np.float32),
    )
