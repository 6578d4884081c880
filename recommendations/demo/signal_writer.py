"""Writing millions of Signal rows (and their title states): COPY on PostgreSQL, bulk_create else.

Model instances cost ~10 µs each and an INSERT per 5,000 rows is bound by
parameter handling, so on PostgreSQL rows go through ``COPY ... FROM STDIN``
as text built directly from tuples (several times faster). SQLite, the
embedded default for a first local run, gets ``bulk_create`` in batches.

Columns the seeder does not know about (a field added to the model later)
are written with their model default, so a new defaulted field does not
break seeding.
"""

import datetime as dt
import uuid
from collections import Counter
from typing import TYPE_CHECKING

from django.db import connection

from recommendations.models import ProfileTitleState, Signal
from recommendations.services.signals import SIGNAL_FIELDS
from recommendations.services.signals import STATE_FIELDS as TITLE_STATE_FIELDS

from .bulk_insert import NULL, copy_statement, copy_text, missing_field_defaults

if TYPE_CHECKING:
    from .title_states import TitleState

# (title id | None, episode id | None, kind, value | None, device, epoch seconds,
#  row, position | None, artwork variant id | None)
Event = tuple[int | None, int | None, str, float | None, str, int, str, int | None, int | None]

FLUSH_ROWS = 50_000
STATE_FIELDS = ("profile", "title", *TITLE_STATE_FIELDS)


class SignalWriter:
    """Buffers events and title states and flushes them in large batches.

    Use as a context manager inside the history transaction; ``counts`` holds
    the number of signals written per kind, ``states`` the title states.
    """

    def __init__(self) -> None:
        self.use_copy = connection.vendor == "postgresql"
        self.counts: Counter[str] = Counter()
        self.rows = 0
        self.states = 0
        self._lines: list[str] = []
        self._state_lines: list[str] = []
        self._signals: list[Signal] = []
        self._state_objects: list[ProfileTitleState] = []
        self._days: dict[int, str] = {}
        signal_extra = missing_field_defaults(Signal, SIGNAL_FIELDS)
        state_extra = missing_field_defaults(ProfileTitleState, STATE_FIELDS)
        self._signal_suffix = "".join(f"\t{copy_text(value)}" for _, value in signal_extra)
        self._state_suffix = "".join(f"\t{copy_text(value)}" for _, value in state_extra)
        self._signal_sql = copy_statement(
            Signal, [*SIGNAL_FIELDS, *(f.name for f, _ in signal_extra)]
        )
        self._state_sql = copy_statement(
            ProfileTitleState, [*STATE_FIELDS, *(f.name for f, _ in state_extra)]
        )

    def __enter__(self) -> "SignalWriter":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.flush()

    def _timestamp(self, ts: int | None) -> str:
        if ts is None:
            return NULL
        day, seconds = divmod(ts, 86_400)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = dt.datetime.fromtimestamp(day * 86_400, tz=dt.UTC).strftime("%Y-%m-%d")
            self._days[day] = prefix
        hours, rest = divmod(seconds, 3600)
        return f"{prefix} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}+00"

    def add(
        self,
        profile_id: int,
        events: list[Event],
        event_ids: bytes,
        rewatches: set[int],
        states: "list[TitleState]",
    ) -> None:
        """Queue one profile's events (``event_ids``: 16 random bytes each) and title states."""
        counts = self.counts
        if self.use_copy:
            lines = self._lines
            hex_ids = event_ids.hex()
            stamp = self._timestamp
            suffix = self._signal_suffix
            for k, (title, episode, kind, value, device, ts, row, pos, variant) in enumerate(
                events
            ):
                when = stamp(ts)
                lines.append(
                    f"{profile_id}\t{NULL if title is None else title}\t"
                    f"{NULL if episode is None else episode}\t{kind}\t"
                    f"{NULL if value is None else value}\t{device}\t{when}\t{when}\t"
                    f"{hex_ids[32 * k : 32 * k + 32]}\t{NULL}\t{row}\t"
                    f"{NULL if pos is None else pos}\t{NULL if variant is None else variant}\t"
                    f"{'t' if k in rewatches else 'f'}{suffix}\n"
                )
                counts[kind] += 1
            for s in states:
                values = (
                    profile_id,
                    s.title_id,
                    stamp(s.first_played_at),
                    stamp(s.last_played_at),
                    stamp(s.last_event_at),
                    s.play_count,
                    s.progress,
                    s.last_episode_id,
                    s.completed_episodes,
                    s.completed_seasons,
                    stamp(s.completed_at),
                    s.rewatch_count,
                    s.thumbs,
                    stamp(s.thumbs_at),
                    stamp(s.playback_at),
                )
                self._state_lines.append(
                    "\t".join(v if isinstance(v, str) else copy_text(v) for v in values)
                    + self._state_suffix
                    + "\n"
                )
        else:
            for k, (title, episode, kind, value, device, ts, row, pos, variant) in enumerate(
                events
            ):
                self._signals.append(
                    Signal(
                        profile_id=profile_id,
                        title_id=title,
                        episode_id=episode,
                        kind=kind,
                        value=value,
                        device=device,
                        occurred_at=_datetime(ts),
                        client_event_id=uuid.UUID(bytes=event_ids[16 * k : 16 * k + 16]),
                        row=row,
                        position=pos,
                        artwork_variant_id=variant,
                        is_rewatch=k in rewatches,
                    )
                )
                counts[kind] += 1
            self._state_objects += [
                ProfileTitleState(
                    profile_id=profile_id,
                    title_id=s.title_id,
                    first_played_at=_datetime(s.first_played_at),
                    last_played_at=_datetime(s.last_played_at),
                    last_event_at=_datetime(s.last_event_at),
                    play_count=s.play_count,
                    progress=s.progress,
                    last_episode_id=s.last_episode_id,
                    completed_episodes=s.completed_episodes,
                    completed_seasons=s.completed_seasons,
                    completed_at=_datetime(s.completed_at),
                    rewatch_count=s.rewatch_count,
                    thumbs=s.thumbs,
                    thumbs_at=_datetime(s.thumbs_at),
                    playback_at=_datetime(s.playback_at),
                )
                for s in states
            ]
        self.rows += len(events)
        self.states += len(states)
        if len(self._lines) >= FLUSH_ROWS or len(self._signals) >= FLUSH_ROWS // 5:
            self.flush()

    def flush(self) -> None:
        for attr, sql in (("_lines", self._signal_sql), ("_state_lines", self._state_sql)):
            lines = getattr(self, attr)
            if not lines:
                continue
            setattr(self, attr, [])
            # Django's psycopg 3 cursor wraps the driver's; COPY lives on the latter.
            with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                copy.write("".join(lines))
        if self._signals:
            Signal.objects.bulk_create(self._signals, batch_size=5000)
            self._signals = []
        if self._state_objects:
            ProfileTitleState.objects.bulk_create(self._state_objects, batch_size=2000)
            self._state_objects = []


def _datetime(ts: int | None) -> dt.datetime | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, tz=dt.UTC)
