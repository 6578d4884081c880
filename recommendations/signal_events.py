"""The wire format of behavioural signals, parsed without a serializer per event.

A batch of 500 events through one DRF serializer each costs tens of
milliseconds of Python, which alone would cap ingest far below the 20,000
events/s the signals endpoint is built for. This module checks the shape of
each event with plain comparisons and reports every problem by event index
and field, the same contract a serializer would give. Rules that need the
database (does the title exist, is it available, is it within the profile's
maturity) live in the service, which sees the whole batch at once.

``EVENT_FIELDS`` is the single list of accepted fields; the OpenAPI serializer
in ``apis.signals`` is checked against it by a test.
"""

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from artwork.models import DeviceClass
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

REQUIRED_FIELDS = ("kind", "device", "occurred_at", "client_event_id")
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


class EventErrors:
    """Errors of a batch, keyed by event index then field, as the API reports them."""

    def __init__(self) -> None:
        self.by_index: dict[int, dict[str, list[str]]] = {}

    def add(self, index: int, field: str, reason: str) -> None:
        self.by_index.setdefault(index, {}).setdefault(field, []).append(reason)

    def __bool__(self) -> bool:
        return bool(self.by_index)

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


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


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
    earliest = now - max_age
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
        if kind is not None and kind not in KINDS:
            errors.add(index, "kind", f"'{kind}' is not a signal kind.")
            kind = None

        device = raw.get("device")
        if device is not None and device not in DEVICES:
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
            title_id = _positive_int(raw["title"])
            if title_id is None:
                errors.add(index, "title", "Must be a title id (a positive integer).")
        elif kind is not None and kind not in KINDS_WITHOUT_TITLE:
            errors.add(index, "title", f"Required for '{kind}' signals.")

        episode_id = None
        if raw.get("episode") is not None:
            episode_id = _positive_int(raw["episode"])
            if episode_id is None:
                errors.add(index, "episode", "Must be an episode id (a positive integer).")

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
                    index, "value", f"For '{kind}' it is {rule[0]}: from {rule[1]} to {rule[2]}."
                )
        elif rule is not None:
            errors.add(index, "value", f"Required for '{kind}': {rule[0]}.")

        row = raw.get("row", "") or ""
        if not isinstance(row, str) or len(row) > ROW_MAX_LENGTH:
            errors.add(index, "row", f"Must be a string of at most {ROW_MAX_LENGTH} characters.")
            row = ""
        elif kind == SignalKind.ROW_SCROLL_PAST and not row:
            errors.add(index, "row", "Required for 'row_scroll_past' signals.")

        position = raw.get("position")
        if position is not None and (
            isinstance(position, bool)
            or not isinstance(position, int)
            or not 0 <= position <= POSITION_MAX
        ):
            errors.add(index, "position", f"Must be an integer from 0 to {POSITION_MAX}.")
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
            variant_id = _positive_int(raw["artwork_variant"])
            if variant_id is None:
                errors.add(index, "artwork_variant", "Must be an artwork variant id.")

        if index in errors.by_index:
            continue
        events.append(
            SignalEvent(
                index=index,
                kind=kind,
                title_id=title_id,
                episode_id=episode_id,
                value=float(value) if value is not None else None,
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
