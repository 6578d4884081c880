"""The two parsers of a signal batch agree: the column checks only ever speed up ``parse_events``.

``event_columns_parse`` checks a batch a column at a time and falls back to the
per-event ``parse_events`` when anything is unusual. These tests hold it to
that: whatever the column checks accept, ``parse_events`` accepts with the same
values; whatever they refuse still gets ``parse_events``'s errors; and an
ordinary batch is taken by the fast path (or it would be no faster).
"""

import copy
import datetime as dt
import random
import uuid

import pytest

from recommendations.signal_events import (
    EventColumns,
    _clean_columns,
    event_columns_parse,
    parse_events,
)

NOW = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC)
LIMITS = {"now": NOW, "max_future": dt.timedelta(minutes=5), "max_age": dt.timedelta(days=30)}


def a_session(seed: int = 3, size: int = 200) -> list[dict]:
    """A browsing session of every kind and optional field, as a client app would send it."""
    rng = random.Random(seed)
    page = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    offset = dt.timezone(dt.timedelta(hours=5, minutes=30))
    events = []
    for i in range(size):
        at = (NOW - dt.timedelta(hours=3) + dt.timedelta(seconds=7 * i)).astimezone(offset)
        base = {
            "device": rng.choice(["tv", "mobile", "tablet", "web"]),
            "occurred_at": at.isoformat(),
            "client_event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        }
        title = rng.randrange(1, 5000)
        match i % 9:
            case 0 | 1 | 2:
                event = {"kind": "impression", "title": title, "page_id": page,
                         "row": f"because:{i % 4}", "position": i % 20,
                         "artwork_variant": rng.randrange(1, 90)}  # fmt: skip
            case 3:
                event = {"kind": "hover", "title": title, "value": rng.randrange(0, 5000)}
            case 4:
                event = {"kind": "preview", "title": title, "value": 12.5, "page_id": page}
            case 5:
                event = {"kind": "progress", "title": title, "episode": 7, "value": 42}
            case 6:
                event = {"kind": rng.choice(["play_start", "search_play", "complete"]),
                         "title": title, "episode": None, "page_id": None}  # fmt: skip
            case 7:
                event = {"kind": "row_scroll_past", "row": "genre:horror", "title": None}
            case _:
                event = {"kind": rng.choice(["thumbs_up", "thumbs_down"]), "title": title}
        events.append({**base, **event})
    return events


def slow_columns(raw: list[dict]) -> EventColumns:
    events, errors = parse_events(raw, **LIMITS)
    assert not errors, errors.as_detail()
    return EventColumns.from_events(events)


def test_an_ordinary_batch_takes_the_column_path_and_means_the_same():
    raw = a_session()

    fast = _clean_columns(raw, earliest=NOW - LIMITS["max_age"], latest=NOW + LIMITS["max_future"])

    assert fast is not None, "an ordinary batch fell back to the per-event parser"
    assert fast == slow_columns(raw)
    columns, errors = event_columns_parse(raw, **LIMITS)
    assert (columns, bool(errors)) == (fast, False)
    # and its times go into the COPY as the client wrote them
    assert fast.occurred_at_text == [e["occurred_at"] for e in raw]


@pytest.mark.parametrize(
    "spelling",
    [
        "2026-03-01T12:00:00+18:00",  # Python reads it; PostgreSQL refuses offsets of 16 h
        "2026-03-01T12:00:00.1234567+00:00",  # Python truncates, PostgreSQL would round
        "20260301T120000+0000",
    ],
)
def test_times_postgresql_would_read_otherwise_are_formatted_again(spelling):
    raw = a_session(size=5)
    raw[2]["occurred_at"] = spelling

    columns, errors = event_columns_parse(raw, **LIMITS)

    assert not errors
    assert columns.occurred_at_text is None
    assert columns.occurred_at[2] == dt.datetime.fromisoformat(spelling)


TILE = ("position", "artwork_variant")  # an impression's, spelt null on a scroll-past


@pytest.mark.parametrize(
    "unusual",
    [
        {"client_event_id": "{12345678-1234-5678-1234-567812345678}"},
        {"client_event_id": "12345678123456781234567812345678"},
        {"page_id": "urn:uuid:12345678-1234-5678-1234-567812345678"},
        {"row": None},
        {"kind": "row_scroll_past", "row": "top", "title": None, **dict.fromkeys(TILE)},
        {"value": None},
    ],
)
def test_a_valid_but_unusual_spelling_falls_back_and_still_means_the_same(unusual):
    raw = a_session(size=20)
    raw[0] = {**raw[0], **unusual}  # an impression

    columns, errors = event_columns_parse(raw, **LIMITS)

    assert not errors, errors.as_detail()
    assert columns == slow_columns(raw)


def test_upper_case_ids_become_the_canonical_text_on_both_paths():
    raw = a_session(size=10)
    shouted = copy.deepcopy(raw)
    for event in shouted:
        event["client_event_id"] = event["client_event_id"].upper()

    assert event_columns_parse(shouted, **LIMITS)[0] == event_columns_parse(raw, **LIMITS)[0]


MALFORMED = [
    ("kind", "teleport"),
    ("kind", None),
    ("kind", ["impression"]),
    ("device", {"tv": 1}),
    ("device", "fridge"),
    ("occurred_at", "2026-03-01T10:00:00"),
    ("occurred_at", "yesterday"),
    ("occurred_at", 1_700_000_000),
    ("occurred_at", "2026-03-01T21:00:00+00:00"),  # in the future
    ("occurred_at", "2025-01-01T21:00:00+00:00"),  # beyond the horizon
    ("client_event_id", "not-a-uuid"),
    ("client_event_id", "12345678-1234-5678-1234-567812345678\n12345678-1234-5678-1234-5678"),
    ("client_event_id", 12),
    ("title", "abc"),
    ("title", 0),
    ("title", -4),
    ("title", True),
    ("title", 2.0),
    ("episode", -1),
    ("artwork_variant", False),
    ("value", "12"),
    ("value", True),
    ("value", 700_000),
    ("row", "x" * 65),
    ("row", "nul\x00byte"),
    ("row", ["top"]),
    ("row", 0),
    ("row", False),
    ("position", -1),
    ("position", 1001),
    ("position", 1.5),
    ("page_id", 12),
    ("page_id", "not-a-page"),
    ("page_id", ["a"]),
    ("surprise", 1),
]


@pytest.mark.parametrize(("field", "bad"), MALFORMED)
def test_a_malformed_field_is_refused_with_the_per_event_errors(field, bad):
    raw = a_session(size=12)
    raw[3] = {**raw[3], field: bad}  # a hover: it has a value and a title

    columns, errors = event_columns_parse(raw, **LIMITS)

    assert _clean_columns(raw, earliest=NOW - dt.timedelta(days=30), latest=NOW) is None
    assert errors.as_detail() == parse_events(raw, **LIMITS)[1].as_detail()
    assert list(errors.as_detail()["events"]) == ["3"]
    assert 3 not in columns.index


@pytest.mark.parametrize(
    "raw",
    [
        [{"kind": "impression"}],
        ["not an event"],
        [None],
        [
            {
                "kind": "row_scroll_past",
                "device": "tv",
                "occurred_at": "2026-03-01T19:00:00Z",
                "client_event_id": str(uuid.uuid4()),
            }
        ],
    ],
)
def test_batches_missing_what_is_required_are_refused(raw):
    columns, errors = event_columns_parse(raw, **LIMITS)

    assert errors
    assert errors.as_detail() == parse_events(raw, **LIMITS)[1].as_detail()
    assert len(columns) == 0


@pytest.mark.parametrize("field", ["title", "episode", "position", "artwork_variant"])
def test_a_row_scroll_past_naming_a_tile_is_refused_on_both_paths(field):
    raw = a_session(size=12)
    assert raw[7]["kind"] == "row_scroll_past"
    raw[7] = {**raw[7], field: 4}

    columns, errors = event_columns_parse(raw, **LIMITS)

    assert errors.as_detail() == parse_events(raw, **LIMITS)[1].as_detail()
    assert errors.as_detail()["events"] == {
        "7": {field: ["Not used for 'row_scroll_past' signals; leave it out."]}
    }
    assert 7 not in columns.index


def test_columns_pick_and_rebuild_events():
    columns = slow_columns(a_session(size=30))

    picked = columns.take([5, 2])

    assert picked.index == [5, 2]
    assert picked.event(0) == columns.event(5)
    assert EventColumns.from_events([columns.event(5), columns.event(2)]) == picked


@pytest.mark.parametrize("moment", ["1970-01-01T00:00:01Z", "1989-12-31T23:59:59+00:00"])
def test_a_time_before_the_earliest_a_signal_can_have_is_refused_whatever_the_horizon(moment):
    # given a horizon reaching back a century (TONIGHT_SIGNAL_MAX_AGE_DAYS is the operator's),
    # and an event at a time an import refuses as an exporter's placeholder
    limits = {**LIMITS, "max_age": dt.timedelta(days=365 * 100)}
    raw = a_session(size=12)
    raw[3] = {**raw[3], "occurred_at": moment}

    # when the batch is parsed, then the event is refused on both paths, naming the floor
    columns, errors = event_columns_parse(raw, **limits)
    assert errors.as_detail() == parse_events(raw, **limits)[1].as_detail()
    assert errors.as_detail()["events"] == {
        "3": {"occurred_at": ["Is before 1990-01-01, earlier than any signal can be."]}
    }
    assert 3 not in columns.index
    # and the floor itself is a time
    raw[3] = {**raw[3], "occurred_at": "1990-01-01T00:00:00Z"}
    assert not event_columns_parse(raw, **limits)[1]
