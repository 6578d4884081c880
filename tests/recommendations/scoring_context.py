"""The request context tests score a catalogue with when the page's device and languages do not
matter: a TV, no languages."""

import datetime as dt

import numpy as np

from recommendations.serving.scoring import ScoringContext


def tv_context(
    *, region_code: str, at: dt.datetime, cluster_id: int | None = None, maturity_limit: int = 18
) -> ScoringContext:
    """A request from a TV in ``region_code`` at ``at``; by default no cluster, every maturity."""
    return ScoringContext(
        region_code=region_code,
        cluster_id=cluster_id,
        maturity_limit=maturity_limit,
        language_index=np.empty(0, dtype=np.int16),
        device="tv",
        at=at,
    )


def profile_tv_context(profile, at: dt.datetime) -> ScoringContext:
    """:func:`tv_context` of ``profile``: its home region, taste cluster and maturity limit."""
    return tv_context(
        region_code=profile.account.home_region_id,
        at=at,
        cluster_id=profile.taste_cluster_id,
        maturity_limit=profile.maturity_limit,
    )
