"""The seeder's in-memory fold derives what ingest's fold derives (no database)."""

import datetime as dt

from recommendations.demo.title_states import fold_title_states
from recommendations.services.signals import title_states_fold
from recommendations.signal_events import SignalEvent


def test_a_season_not_out_yet_does_not_keep_a_seeded_series_from_being_finished():
    # given: a series whose second season comes out on 1 March; the profile finished the
    # first season in February and started the second one's first episode in March
    title, s1, s2 = 7, 70, 71
    march = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    moments = [
        march - dt.timedelta(days=9),
        march - dt.timedelta(days=8),
        march + dt.timedelta(hours=5),
    ]
    plan = [("complete", 1, moments[0]), ("complete", 2, moments[1]), ("play_start", 3, moments[2])]
    seeded = [
        (title, episode, kind, None, "tv", int(at.timestamp()), "", None, None)
        for kind, episode, at in plan
    ]
    ingested = [
        SignalEvent(
            index=i,
            kind=kind,
            title_id=title,
            episode_id=episode,
            value=None,
            device="tv",
            occurred_at=at,
            client_event_id="",
            page_id=None,
            row="",
            position=None,
            artwork_variant_id=None,
        )
        for i, (kind, episode, at) in enumerate(plan)
    ]

    # when: the seeder's fold and ingest's fold read the same events
    states, _ = fold_title_states(
        seeded,
        is_film={title: False},
        seasons={title: [frozenset({1, 2}), frozenset({3, 4})]},
        season_releases={title: [float("-inf"), march.timestamp()]},
    )
    live: dict = {}
    title_states_fold(
        profile_id=1,
        states=live,
        events=ingested,
        title_kinds={title: "series"},
        season_episodes={title: {s1: {1, 2}, s2: {3, 4}}},
        season_releases={s2: march.date()},
    )

    # then: both finished the series for now with season 1's finale (it was all that was out)
    assert live[title].completed_at == moments[1]
    assert states[title].completed_at == int(moments[1].timestamp())
