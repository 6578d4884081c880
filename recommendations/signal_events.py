"""The wire format of behavioural signals, parsed without a serializer per event.

A batch of 500 events through one DRF serializer each costs tens of
milliseconds of Python, which alone would cap ingest far below the 20,000
events/s the signals endpoint is built for. This module checks the shape of
each event with plain comparisons and reports every problem by event index
and field, the same contract a serializer would give. Rules that need the
database (does the title exist, is it available, is it within the profile's
maturity) live in the service, which sees the whole batch at once.

The API's hot path (``event_columns_parse``) goes one step further: it checks a
whole batch a column at a time with set operations and C-level builtins, and
only when that finds something it is not sure of does it run ``parse_events``
to name every error. Both accept exactly the same batches.

``EVENT_FIELDS`` is the single list of accepted fields; the OpenAPI serializer
in ``apis.signals`` is checked against it by a test.
"""

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from artwork.models import DeviceClass
from config.ids import ID_MAX
from recommendations.models import SignalKind

KINDS = frozenset(SignalKind.values)
DEVICES = frozenset(DeviceClass.values)
ROW_MAX_LENGTH = 64
POSITION_MAX = 1000

# What ``value`` means for each kind that uses one, and its bounds.
VALUE_RULES: dict[str, tuple[str, float, float]] = {
    SignalKind.HOVER: ("milliseconds the title was hovered", 0, 600_000),
    SignalKind.PREVIEW: ("seconds of preview watched", 0, 3_600),
    SignalKind.PROGRESS: ("percent of the film or episode watched", 0, 100),
}
KINDS_WITHOUT_TITLE = frozenset({SignalKind.ROW_SCROLL_PAST})
# The smallest magnitude a 32-bit float holds at full precision. A retrain reads ``value`` as
# float32, cast by PostgreSQL in its packed read, which refuses a value that rounds to
# nothing there ("value out of range: underflow") and failed the whole retrain with it. A
# value nearer zero than this (a client's float arithmetic, Number.MIN_VALUE) means 0 for
# every kind, and is stored as 0.
VALUE_TINY = 1.1754943508222875e-38

# The earliest time a signal may have, live or imported. No service logged viewing or ratings
# before the web (1991; MovieLens's earliest ratings are from 1995): an earlier time is an
# exporter's placeholder for none (0 or 1, in 1970), or a unix time cut short by a digit
# (1260759205 as 126075920, in 1973), which imported as history that never was.
EARLIEST_SIGNAL_TIME = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)

# The COPY text format cannot carry a NUL byte, and PostgreSQL text never holds one.
FORBIDDEN_ROW_CHARACTER = "\x00"

REQUIRED_FIELDS = ("kind", "device", "occurred_at", "client_event_id")
# What names a tile: a row_scroll_past, about a whole row, takes none of them.
TILE_FIELDS = ("title", "episode", "position", "artwork_variant")
OPTIONAL_FIELDS = ("title", "episode", "value", "page_id", "row", "position", "artwork_variant")
EVENT_FIELDS = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)


@dataclass(slots=True)
class SignalEvent:
    """One event that passed the shape checks; references are not yet resolved."""

    index: int
    kind: str
    title_id: int | None
    episode_id: int | None
    value: float | None
    device: str
    occurred_at: dt.datetime
    # Canonical UUID text from the API; the dataset import passes uuid.UUID objects.
    # Both reach the database as the same value.
    client_event_id: uuid.UUID | str
    page_id: uuid.UUID | str | None
    row: str
    position: int | None
    artwork_variant_id: int | None


def logged_event(
    *,
    index: int,
    kind: str,
    title_id: int,
    episode_id: int | None,
    value: float | None,
    occurred_at: dt.datetime,
) -> SignalEvent:
    """A stored signal, read back from the log to be folded again.

    The fold reads only these fields; what the client sent besides (device, ids,
    where the title was shown) is left blank rather than read.
    """
    return SignalEvent(
        index=index,
        kind=kind,
        title_id=title_id,
        episode_id=episode_id,
        value=value,
        device="",
        occurred_at=occurred_at,
        client_event_id="",
        page_id=None,
        row="",
        position=None,
        artwork_variant_id=None,
    )


class EventErrors:
    """Errors of a batch, keyed by event index then field, as the API reports them."""

    def __init__(self) -> None:
        self.by_index: dict[int, dict[str, list[str]]] = {}

    def add(self, index: int, field: str, reason: str) -> None:
        self.by_index.setdefault(index, {}).setdefault(field, []).append(reason)

    def __bool__(self) -> bool:
        return bool(self.by_index)

    def extend(self, other: "EventErrors") -> None:
        """Add every error of ``other``, beside those an event already has."""
        for index, fields in other.by_index.items():
            for name, reasons in fields.items():
                self.by_index.setdefault(index, {}).setdefault(name, []).extend(reasons)

    def as_detail(self) -> dict[str, dict[str, dict[str, list[str]]]]:
        return {
            "events": {str(i): fields for i, fields in sorted(self.by_index.items())},
        }

    def summary(self) -> str:
        first_index = min(self.by_index)
        field, reasons = next(iter(self.by_index[first_index].items()))
        count = len(self.by_index)
        more = f" ({count} events have errors; nothing was stored)" if count > 1 else ""
        return f"events[{first_index}].{field}: {reasons[0]}{more}"


def _id(value: Any) -> int | None:
    """The id ``value`` is, or None: an integer from 1 to :data:`~config.ids.ID_MAX`.

    A larger integer names no row and never did, so it is the client's mistake (a 400 with
    the batch), not an event of a row deleted since (``rejected``): until December 2026 one
    below 2**64 was answered as a deleted title and one from 2**64 (which orjson reads as a
    float) as a malformed id.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ID_MAX:
        return None
    return value


def _id_rule(names: str) -> str:
    return f"Must be {names}: an integer from 1 to {ID_MAX:,}."


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid(value: Any) -> str | None:
    """The UUID as canonical lower-case text, or None.

    Kept as text: PostgreSQL parses it on COPY anyway, and building ``uuid.UUID``
    objects for every event and page id was a tenth of the batch's Python time.
    """
    if not isinstance(value, str):
        return None
    lowered = value.lower()
    if _CANONICAL_UUID.fullmatch(lowered):
        return lowered
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def parse_events(
    raw_events: Any, *, now: dt.datetime, max_future: dt.timedelta, max_age: dt.timedelta
) -> tuple[list[SignalEvent], EventErrors]:
    """Check every event's shape; return the parsed events and all errors found."""
    errors = EventErrors()
    events: list[SignalEvent] = []
    latest = now + max_future
    earliest = max(now - max_age, EARLIEST_SIGNAL_TIME)
    # A batch's impressions mostly share one page id: parse each distinct one once.
    page_ids: dict[Any, str | None] = {}
    for index, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            errors.add(index, "non_field_errors", "Each event must be a JSON object.")
            continue
        if not raw.keys() <= EVENT_FIELDS:
            for field in raw.keys() - EVENT_FIELDS:
                errors.add(index, field, "Unknown field.")
        for field in REQUIRED_FIELDS:
            if raw.get(field) is None:
                errors.add(index, field, "This field is required.")

        kind = raw.get("kind")
        if kind is not None and (not isinstance(kind, str) or kind not in KINDS):
            errors.add(index, "kind", f"'{kind}' is not a signal kind.")
            kind = None

        device = raw.get("device")
        if device is not None and (not isinstance(device, str) or device not in DEVICES):
            errors.add(index, "device", f"'{device}' is not one of {', '.join(sorted(DEVICES))}.")

        occurred_at = None
        raw_time = raw.get("occurred_at")
        if raw_time is not None:
            try:
                occurred_at = dt.datetime.fromisoformat(raw_time)
            except (TypeError, ValueError):
                errors.add(index, "occurred_at", "Not an ISO 8601 date-time.")
            else:
                if occurred_at.tzinfo is None:
                    errors.add(index, "occurred_at", "Give a time zone offset (e.g. 'Z').")
                    occurred_at = None
                elif occurred_at > latest:
                    errors.add(index, "occurred_at", "Is in the future.")
                elif occurred_at < EARLIEST_SIGNAL_TIME:
                    # Only a horizon set past 1990 lets such a time through to here.
                    errors.add(
                        index,
                        "occurred_at",
                        f"Is before {EARLIEST_SIGNAL_TIME:%Y-%m-%d}, earlier than any signal "
                        "can be.",
                    )
                elif occurred_at < earliest:
                    errors.add(
                        index,
                        "occurred_at",
                        f"Is older than the {max_age.days}-day horizon for signals.",
                    )

        client_event_id = None
        if raw.get("client_event_id") is not None:
            client_event_id = _uuid(raw["client_event_id"])
            if client_event_id is None:
                errors.add(index, "client_event_id", "Must be a UUID.")

        title_id = None
        if raw.get("title") is not None:
            title_id = _id(raw["title"])
            if title_id is None:
                errors.add(index, "title", _id_rule("a title id"))
        elif kind is not None and kind not in KINDS_WITHOUT_TITLE:
            errors.add(index, "title", f"Required for '{kind}' signals.")

        episode_id = None
        if raw.get("episode") is not None:
            episode_id = _id(raw["episode"])
            if episode_id is None:
                errors.add(index, "episode", _id_rule("an episode id"))

        value = raw.get("value")
        rule = VALUE_RULES.get(kind) if kind else None
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors.add(index, "value", "Must be a number.")
                value = None
            elif rule is None:
                if kind is not None:
                    errors.add(index, "value", f"Not used for '{kind}' signals; leave it out.")
            elif not rule[1] <= value <= rule[2]:
                errors.add(
                    index,
                    "value",
                    f"For '{kind}' it is {rule[0]}: from {rule[1]:,} to {rule[2]:,}.",
                )
        elif rule is not None:
            errors.add(index, "value", f"Required for '{kind}': {rule[0]}.")

        row = raw.get("row")
        if row is None:
            row = ""
        if not isinstance(row, str) or len(row) > ROW_MAX_LENGTH:
            errors.add(index, "row", f"Must be a string of at most {ROW_MAX_LENGTH} characters.")
            row = ""
        elif FORBIDDEN_ROW_CHARACTER in row:
            errors.add(index, "row", "Must not contain a NUL character.")
            row = ""
        elif kind == SignalKind.ROW_SCROLL_PAST and not row:
            errors.add(index, "row", "Required for 'row_scroll_past' signals.")

        position = raw.get("position")
        if position is not None and (
            isinstance(position, bool)
            or not isinstance(position, int)
            or not 0 <= position <= POSITION_MAX
        ):
            errors.add(index, "position", f"Must be an integer from 0 to {POSITION_MAX:,}.")
            position = None

        page_id = None
        raw_page_id = raw.get("page_id")
        if raw_page_id is not None:
            try:
                page_id = page_ids[raw_page_id]
            except KeyError:
                page_id = page_ids[raw_page_id] = _uuid(raw_page_id)
            except TypeError:  # an unhashable JSON value (a list or object)
                page_id = None
            if page_id is None:
                errors.add(index, "page_id", "Must be a UUID.")

        variant_id = None
        if raw.get("artwork_variant") is not None:
            variant_id = _id(raw["artwork_variant"])
            if variant_id is None:
                errors.add(index, "artwork_variant", _id_rule("an artwork variant id"))

        if kind in KINDS_WITHOUT_TITLE:
            # A scroll-past is about a row; a title stored on it read as engagement with the
            # title (docs/signals.md, "Rapid scroll-past").
            tile = zip(TILE_FIELDS, (title_id, episode_id, position, variant_id), strict=True)
            for name, parsed in tile:
                if parsed is not None:
                    errors.add(index, name, f"Not used for '{kind}' signals; leave it out.")

        if index in errors.by_index:
            continue
        events.append(
            SignalEvent(
                index=index,
                kind=kind,
                title_id=title_id,
                episode_id=episode_id,
                value=None
                if value is None
                else (0.0 if -VALUE_TINY < value < VALUE_TINY else float(value)),
                device=device,
                occurred_at=occurred_at,
                client_event_id=client_event_id,
                page_id=page_id,
                row=row,
                position=position,
                artwork_variant_id=variant_id,
            )
        )
    return events, errors


@dataclass(slots=True)
class EventColumns:
    """A shape-checked batch as one list per field: the form the ingest path reads.

    Every later step reads a batch field by field (the title ids for the reference
    query, the event ids for the idempotency check, every field for the COPY), so
    a list per field costs one list where an object per event cost one object and
    a dozen attribute reads per event. ``index[i]`` is event i's position in the
    request, by which errors are reported; the other lists are aligned with it.
    """

    index: list[int]
    kind: list[str]
    title_id: list[int | None]
    episode_id: list[int | None]
    value: list[float | None]
    device: list[str]
    occurred_at: list[dt.datetime]
    client_event_id: list[str]  # canonical lower-case UUID text
    page_id: list[str | None]
    row: list[str]
    position: list[int | None]
    artwork_variant_id: list[int | None]
    # ``occurred_at`` as the client spelled it, when every event spelled it as RFC 3339
    # text that PostgreSQL reads as the same instant: the COPY writes it as it came
    # instead of formatting each datetime again (a third of the COPY text's cost).
    occurred_at_text: list[str] | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.index)

    @classmethod
    def from_events(cls, events: Sequence[SignalEvent]) -> "EventColumns":
        """Columns of events built one by one (imports, simulations, tests, the slow path)."""
        return cls(
            index=[e.index for e in events],
            kind=[e.kind for e in events],
            title_id=[e.title_id for e in events],
            episode_id=[e.episode_id for e in events],
            value=[e.value for e in events],
            device=[e.device for e in events],
            occurred_at=[e.occurred_at for e in events],
            # uuid.UUID objects and text alike become the text PostgreSQL gives back.
            client_event_id=[str(e.client_event_id).lower() for e in events],
            page_id=[None if e.page_id is None else str(e.page_id).lower() for e in events],
            row=[e.row for e in events],
            position=[e.position for e in events],
            artwork_variant_id=[e.artwork_variant_id for e in events],
        )

    def event(self, i: int) -> SignalEvent:
        """Event ``i`` as an object, for the few steps that want one (the state fold)."""
        return SignalEvent(
            index=self.index[i],
            kind=self.kind[i],
            title_id=self.title_id[i],
            episode_id=self.episode_id[i],
            value=self.value[i],
            device=self.device[i],
            occurred_at=self.occurred_at[i],
            client_event_id=self.client_event_id[i],
            page_id=self.page_id[i],
            row=self.row[i],
            position=self.position[i],
            artwork_variant_id=self.artwork_variant_id[i],
        )

    def take(self, positions: Sequence[int]) -> "EventColumns":
        """The events at ``positions`` (list positions, not request indexes), in that order."""

        def pick(column: list) -> list:
            return [column[i] for i in positions]

        return EventColumns(
            index=pick(self.index),
            kind=pick(self.kind),
            title_id=pick(self.title_id),
            episode_id=pick(self.episode_id),
            value=pick(self.value),
            device=pick(self.device),
            occurred_at=pick(self.occurred_at),
            client_event_id=pick(self.client_event_id),
            page_id=pick(self.page_id),
            row=pick(self.row),
            position=pick(self.position),
            artwork_variant_id=pick(self.artwork_variant_id),
            occurred_at_text=None if self.occurred_at_text is None else pick(self.occurred_at_text),
        )


def event_columns_parse(
    raw_events: Any, *, now: dt.datetime, max_future: dt.timedelta, max_age: dt.timedelta
) -> tuple[EventColumns, EventErrors]:
    """Check a batch's shape; return its columns and all errors found.

    A batch whose every event is well formed in the usual spelling is checked a
    column at a time (``_clean_columns``). Anything else, an error or a valid
    but unusual spelling (a braced or unhyphenated UUID, say), goes through
    ``parse_events``, which names every error by index and field. The columns
    are the same either way.
    """
    columns = _clean_columns(
        raw_events, earliest=max(now - max_age, EARLIEST_SIGNAL_TIME), latest=now + max_future
    )
    if columns is not None:
        return columns, EventErrors()
    events, errors = parse_events(raw_events, now=now, max_future=max_future, max_age=max_age)
    return EventColumns.from_events(events), errors


class _NotClean(Exception):
    """The column checks found something only ``parse_events`` may judge."""


_UUID_LINES = re.compile(
    r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n)*"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
# RFC 3339 with at most microseconds and an offset PostgreSQL accepts (|offset| < 16 h):
# read alike by ``datetime.fromisoformat`` and by PostgreSQL.
_RFC3339 = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:0[0-9]|1[0-5]):[0-5][0-9])"
)
_RFC3339_LINES = re.compile(f"(?:{_RFC3339}\n)*{_RFC3339}")
_NONE = type(None)
_OPTIONAL_INT = frozenset({int, _NONE})
_OPTIONAL_STR = frozenset({str, _NONE})
_NUMBER = frozenset({int, float})
_dict_get = dict.get


def _column(raw_events: list[dict], field: str) -> list[Any]:
    """``[event.get(field) for event in raw_events]`` without a Python-level loop."""
    return list(map(_dict_get, raw_events, repeat(field)))


def _ids(raw_events: list[dict], field: str, *, required: bool = False) -> list[int | None]:
    """A column of ids, 1 to ``ID_MAX`` (``None`` where absent, unless ``required``)."""
    ids = _column(raw_events, field)
    if not _OPTIONAL_INT.issuperset(map(type, ids)):  # a bool's type is bool, not int
        raise _NotClean
    distinct = set(ids)
    distinct.discard(None)
    if (required and None in ids) or (
        distinct and not (min(distinct) >= 1 and max(distinct) <= ID_MAX)
    ):
        raise _NotClean
    return ids


def _clean_columns(
    raw_events: Any, *, earliest: dt.datetime, latest: dt.datetime
) -> EventColumns | None:
    """The batch as columns if every event passes ``parse_events`` as spelled, else None.

    Each check below accepts a subset of what ``parse_events`` accepts and keeps
    the value it would keep; whatever is not plainly valid raises (``_NotClean``,
    or a ``TypeError``/``ValueError``/``KeyError`` from a builtin meeting the
    wrong type) and returns None.
    """
    try:
        if type(raw_events) is not list or not raw_events:
            raise _NotClean
        if {dict} != set(map(type, raw_events)):
            raise _NotClean
        if not EVENT_FIELDS.issuperset(set().union(*raw_events)):
            raise _NotClean
        count = len(raw_events)

        kinds = _column(raw_events, "kind")
        devices = _column(raw_events, "device")
        if not (KINDS.issuperset(kinds) and DEVICES.issuperset(devices)):
            raise _NotClean

        occurred_at_text = _column(raw_events, "occurred_at")
        occurred_at = list(map(dt.datetime.fromisoformat, occurred_at_text))
        if any(moment.tzinfo is None for moment in occurred_at):
            raise _NotClean
        if min(occurred_at) < earliest or max(occurred_at) > latest:
            raise _NotClean

        # One regular expression over all the ids at once; a newline inside an id
        # would split it in two and change the count.
        event_ids = "\n".join(_column(raw_events, "client_event_id")).lower()
        if not _UUID_LINES.fullmatch(event_ids):
            raise _NotClean
        client_event_ids = event_ids.split("\n")
        if len(client_event_ids) != count:
            raise _NotClean

        title_ids = _ids(raw_events, "title")
        if None in title_ids and not KINDS_WITHOUT_TITLE.issuperset(
            kind for kind, title in zip(kinds, title_ids, strict=True) if title is None
        ):
            raise _NotClean
        episode_ids = _ids(raw_events, "episode")
        variant_ids = _ids(raw_events, "artwork_variant")

        values = _column(raw_events, "value")
        for kind, value in zip(kinds, values, strict=True):
            rule = VALUE_RULES.get(kind)
            if value is None:
                if rule is not None:
                    raise _NotClean
            elif rule is None or type(value) not in _NUMBER or not rule[1] <= value <= rule[2]:
                raise _NotClean
        values = [
            None if value is None else (0.0 if -VALUE_TINY < value < VALUE_TINY else float(value))
            for value in values
        ]

        rows = _column(raw_events, "row")
        if not _OPTIONAL_STR.issuperset(map(type, rows)):
            raise _NotClean
        if None in rows:
            rows = [row or "" for row in rows]
        if max(map(len, rows)) > ROW_MAX_LENGTH or any(
            FORBIDDEN_ROW_CHARACTER in row for row in set(rows)
        ):
            raise _NotClean
        if SignalKind.ROW_SCROLL_PAST in kinds and not all(
            row for kind, row in zip(kinds, rows, strict=True) if kind == SignalKind.ROW_SCROLL_PAST
        ):
            raise _NotClean

        positions = _column(raw_events, "position")
        if not _OPTIONAL_INT.issuperset(map(type, positions)):
            raise _NotClean
        distinct_positions = set(positions)
        distinct_positions.discard(None)
        if distinct_positions and not (
            min(distinct_positions) >= 0 and max(distinct_positions) <= POSITION_MAX
        ):
            raise _NotClean

        # A row_scroll_past naming a tile: parse_events names the fields.
        if not KINDS_WITHOUT_TITLE.isdisjoint(kinds) and any(
            kind in KINDS_WITHOUT_TITLE
            and (title, episode, position, variant) != (None, None, None, None)
            for kind, title, episode, position, variant in zip(
                kinds, title_ids, episode_ids, positions, variant_ids, strict=True
            )
        ):
            raise _NotClean

        # A batch's impressions mostly share one page id: check each distinct one once.
        raw_page_ids = _column(raw_events, "page_id")
        if not _OPTIONAL_STR.issuperset(map(type, raw_page_ids)):
            raise _NotClean
        canonical: dict[str | None, str | None] = {None: None}
        for raw_page_id in set(raw_page_ids):
            if raw_page_id is not None:
                lowered = raw_page_id.lower()
                if not _CANONICAL_UUID.fullmatch(lowered):
                    raise _NotClean
                canonical[raw_page_id] = lowered
        page_ids = list(map(canonical.__getitem__, raw_page_ids))
        if not _RFC3339_LINES.fullmatch("\n".join(occurred_at_text)):
            occurred_at_text = None  # valid, but formatted again for the COPY
    except (_NotClean, TypeError, ValueError, KeyError):
        return None
    return EventColumns(
        index=list(range(count)),
        kind=kinds,
        title_id=title_ids,
        episode_id=episode_ids,
        value=values,
        device=devices,
        occurred_at=occurred_at,
        client_event_id=client_event_ids,
        page_id=page_ids,
        row=rows,
        position=positions,
        artwork_variant_id=variant_ids,
        occurred_at_text=occurred_at_text,
    )
