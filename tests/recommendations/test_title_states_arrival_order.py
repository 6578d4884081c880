"""The stored title states do not depend on the order batches arrive in.

The signal log is authoritative: ``title_states_refold`` (and training's ``_StatesAsOf``) fold
it in the order the events happened. Ingest folds each batch into the stored states as it
arrives, and offline devices upload late, so a property test sends random valid histories
through the real ingest service in random arrival orders and holds every stored state to a
refold of the log. Seeded: every run checks the same cases, and a failure names its case.
"""

import datetime as dt
import uuid

import numpy as np
import pytest
from django.utils import timezone

from recommendations.models import ProfileTitleState, Signal
from recommendations.services.signals import signal_batch_record, title_states_refold
from recommendations.signal_events import SignalEvent
from tests.factories import (
    AvailabilityFactory,
    EpisodeFactory,
    SeasonFactory,
    TitleFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]  # 300 histories: about 13 s
SEED = 20261207
CASES = 300
# Progress values around the rules' bounds: sampled (under 2%), under way, in the credits.
PROGRESS = (1.0, 30.0, 60.0, 96.0, 99.0)
# Kinds by weight: playback most, ratings now and then.
KINDS = (
    ("play_start", 4),
    ("search_play", 1),
    ("progress", 5),
    ("complete", 3),
    ("thumbs_up", 1),
    ("thumbs_down", 1),
    ("thumbs_cleared", 1),
)


@pytest.fixture
def catalogue(account):
    """A film and a two-season series of two episodes each, available to the account."""
    film = TitleFactory()
    series = TitleFactory(kind="series", runtime_minutes=45)
    for title in (film, series):
        AvailabilityFactory(title=title, region=account.home_region)
    seasons = [SeasonFactory(title=series, number=number) for number in (1, 2)]
    episodes = [EpisodeFactory(season=s, number=n).pk for s in seasons for n in (1, 2)]
    return film.pk, series.pk, episodes


def _history(
    rng: np.random.Generator, film: int, series: int, episodes: list[int], now: dt.datetime
) -> list[dict]:
    """A random valid history of one profile: 2-10 events of the film and the series, on a
    coarse clock (whole minutes out of 40) so that some happen at the same moment."""
    kinds = [kind for kind, _ in KINDS]
    weights = np.array([weight for _, weight in KINDS], dtype=float)
    history = []
    for _ in range(int(rng.integers(2, 11))):
        kind = str(rng.choice(kinds, p=weights / weights.sum()))
        title = film if rng.random() < 0.3 else series
        episode = None
        if title == series and kind not in ("thumbs_up", "thumbs_down", "thumbs_cleared"):
            episode = episodes[int(rng.integers(len(episodes)))]
        history.append(
            {
                "kind": kind,
                "title_id": title,
                "episode_id": episode,
                "value": float(rng.choice(PROGRESS)) if kind == "progress" else None,
                "occurred_at": now - dt.timedelta(minutes=int(rng.integers(10, 50))),
            }
        )
    return history


def _batches(rng: np.random.Generator, history: list[dict]) -> list[list[dict]]:
    """The history in a random arrival order, cut into 1-4 batches."""
    arrival = [history[i] for i in rng.permutation(len(history))]
    cuts = sorted(
        rng.choice(
            np.arange(1, len(arrival)),
            size=min(int(rng.integers(0, 4)), len(arrival) - 1),
            replace=False,
        ).tolist()
    )
    return [arrival[a:b] for a, b in zip([0, *cuts], [*cuts, len(arrival)], strict=True)]


def _send(rng: np.random.Generator, profile, batch: list[dict]) -> None:
    signal_batch_record(
        profile=profile,
        events=[
            SignalEvent(
                index=index,
                device="tv",
                client_event_id=str(uuid.UUID(bytes=rng.bytes(16), version=4)),
                page_id=None,
                row="",
                position=None,
                artwork_variant_id=None,
                **fields,
            )
            for index, fields in enumerate(batch)
        ],
    )


def _said(event: dict) -> tuple:
    """An event as a failure names it: kind, episode, value, and minutes before the run."""
    return (event["kind"], event["episode_id"], event["value"], event["occurred_at"])


def test_stored_states_equal_the_log_refolded_whatever_the_arrival_order(profile, catalogue):
    # given: random valid histories of a film and a series, each in a random arrival order
    film, series, episodes = catalogue
    rng = np.random.default_rng(SEED)
    now = timezone.now()
    failures = []
    for case in range(CASES):
        # A fresh history each case (an account holds only so many profiles).
        Signal.objects.filter(profile=profile).delete()
        ProfileTitleState.objects.filter(profile=profile).delete()
        history = _history(rng, film, series, episodes, now)
        batches = _batches(rng, history)

        # when: each batch goes through ingest as it arrives
        for batch in batches:
            _send(rng, profile, batch)

        # then: the stored states are what the log folded in order gives
        changes = title_states_refold(profile_id=profile.pk, title_ids=[film, series], dry_run=True)
        if changes:
            failures.append((case, [[_said(e) for e in batch] for batch in batches], changes))
    assert not failures, f"{len(failures)} of {CASES} cases differ; first: {failures[:3]}"
