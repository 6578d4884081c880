"""The seeder's in-memory fold derives what ingest's fold derives (no database)."""

import datetime as dt

from recommendations.demo.title_states import fold_catalogue, fold_title_states
from recommendations.services.signals import STATE_FIELDS, title_states_fold
from recommendations.signal_events import SignalEvent

SERIES, FILM, CLEARED_FILM, UNFINISHED_FILM = 7, 8, 9, 10
SEASON_1, SEASON_2 = 70, 71
MARCH = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
# Season 2 of the series is announced for 1 March: not out when season 1 is finished.
SEASONS = {SERIES: {SEASON_1: {1, 2}, SEASON_2: {3, 4}}}
RELEASES = {SEASON_2: MARCH}
KINDS = {SERIES: "series", FILM: "film", CLEARED_FILM: "film", UNFINISHED_FILM: "film"}


def _seeded(plan: list[tuple]) -> tuple[dict, set[int]]:
    """The seeder's states and rewatch positions for ``plan``, as epoch seconds."""
    events = [
        (title, episode, kind, value, "tv", int(at.timestamp()), "", None, None)
        for title, episode, kind, value, at in plan
    ]
    # The seeder's catalogue: seasons numbered in order, releases as epoch seconds
    catalogue = fold_catalogue(
        list(KINDS),
        [kind == "series" for kind in KINDS.values()],
        [[[(e, 45) for e in sorted(eps)] for eps in SEASONS.get(t, {}).values()] for t in KINDS],
        [
            [RELEASES[s].timestamp() if s in RELEASES else 0.0 for s in SEASONS.get(t, {})]
            for t in KINDS
        ],
    )
    states, rewatches = fold_title_states(events, catalogue)
    return {t: _fields(s) for t, s in states.items()}, rewatches


def _ingested(plan: list[tuple]) -> tuple[dict, set[int]]:
    """Ingest's states and rewatch indexes for ``plan``, times as epoch seconds."""
    events = [
        SignalEvent(
            index=i,
            kind=kind,
            title_id=title,
            episode_id=episode,
            value=value,
            device="tv",
            occurred_at=at,
            client_event_id="",
            page_id=None,
            row="",
            position=None,
            artwork_variant_id=None,
        )
        for i, (title, episode, kind, value, at) in enumerate(plan)
    ]
    states: dict = {}
    rewatches = title_states_fold(
        profile_id=1,
        states=states,
        events=events,
        title_kinds=KINDS,
        season_episodes=SEASONS,
        season_releases=RELEASES,
    )
    return {t: _fields(s) for t, s in states.items()}, rewatches


def _fields(state: object) -> dict:
    """Every stored field of a state, times as epoch seconds, thumbs as plain text."""
    values = {}
    for name in STATE_FIELDS:
        value = getattr(state, "last_episode_id" if name == "last_episode" else name)
        if isinstance(value, dt.datetime):
            value = int(value.timestamp())
        values[name] = str(value) if name == "thumbs" else value
    return values


def test_the_seeder_and_ingest_fold_the_same_history_into_the_same_states():
    # given: one profile's history touching every rule of the fold, in time order
    feb = MARCH - dt.timedelta(days=9)
    minute = dt.timedelta(minutes=1)
    plan = [
        # the series: season 1 watched and finished (season 2 announced, not out)
        (SERIES, 1, "play_start", None, feb),
        (SERIES, 1, "progress", 40.0, feb + 10 * minute),
        (SERIES, 1, "complete", None, feb + 40 * minute),
        (SERIES, 2, "play_start", None, feb + 41 * minute),
        (SERIES, 2, "complete", None, feb + 90 * minute),
        (SERIES, None, "thumbs_up", None, feb + 91 * minute),
        # ... its first episode rewatched (a rewatch, progress back to 0 then 30)
        (SERIES, 1, "play_start", None, feb + dt.timedelta(days=2)),
        (SERIES, 1, "progress", 30.0, feb + dt.timedelta(days=2, minutes=12)),
        # ... season 2 once out: another episode starts at 0
        (SERIES, 3, "play_start", None, MARCH + dt.timedelta(hours=5)),
        (SERIES, 3, "progress", 55.0, MARCH + dt.timedelta(hours=5, minutes=20)),
        # a film finished, watched again (a rewatch), then rated down
        (FILM, None, "play_start", None, feb + dt.timedelta(hours=3)),
        (FILM, None, "complete", None, feb + dt.timedelta(hours=5)),
        (FILM, None, "search_play", None, feb + dt.timedelta(days=4)),
        (FILM, None, "progress", 35.0, feb + dt.timedelta(days=4, minutes=40)),
        (FILM, None, "thumbs_down", None, feb + dt.timedelta(days=4, minutes=41)),
        # a film rated then cleared: the clear is a rating, not playback
        (CLEARED_FILM, None, "external_play", None, feb + dt.timedelta(days=1)),
        (CLEARED_FILM, None, "progress", 10.0, feb + dt.timedelta(days=1, minutes=9)),
        (CLEARED_FILM, None, "thumbs_down", None, feb + dt.timedelta(days=1, minutes=10)),
        (CLEARED_FILM, None, "thumbs_cleared", None, feb + dt.timedelta(days=3)),
        # a film left unfinished
        (UNFINISHED_FILM, None, "play_start", None, feb + dt.timedelta(days=5)),
        (UNFINISHED_FILM, None, "progress", 20.0, feb + dt.timedelta(days=5, minutes=25)),
    ]
    plan.sort(key=lambda step: step[4])

    # when: the seeder's fold and ingest's fold read the same events
    seeded, seeded_rewatches = _seeded(plan)
    ingested, ingested_rewatches = _ingested(plan)

    # then: the same states field by field, and the same plays flagged as rewatches
    assert seeded == ingested
    assert seeded_rewatches == ingested_rewatches
    # (and the history does exercise the rules: a check of the fixture, not of the fold)
    series, film, cleared = ingested[SERIES], ingested[FILM], ingested[CLEARED_FILM]
    assert series["completed_at"] == int((feb + 90 * minute).timestamp())
    assert series["completed_seasons"] == 1
    assert series["rewatch_count"] == 1
    assert (series["last_episode"], series["progress"]) == (3, 55.0)
    assert (film["rewatch_count"], film["thumbs"]) == (1, "down")
    assert cleared["thumbs"] == ""
    assert cleared["playback_at"] == int((feb + dt.timedelta(days=1, minutes=9)).timestamp())


def test_a_season_not_out_yet_does_not_keep_a_seeded_series_from_being_finished():
    # given: the profile finished the first season in February (the second comes out on
    # 1 March) and started the second one's first episode in March
    moments = [
        MARCH - dt.timedelta(days=9),
        MARCH - dt.timedelta(days=8),
        MARCH + dt.timedelta(hours=5),
    ]
    plan = [
        (SERIES, 1, "complete", None, moments[0]),
        (SERIES, 2, "complete", None, moments[1]),
        (SERIES, 3, "play_start", None, moments[2]),
    ]

    # when: the seeder's fold and ingest's fold read the same events
    seeded, _ = _seeded(plan)
    ingested, _ = _ingested(plan)

    # then: both finished the series for now with season 1's finale (it was all that was out)
    assert ingested[SERIES]["completed_at"] == int(moments[1].timestamp())
    assert seeded[SERIES]["completed_at"] == int(moments[1].timestamp())
