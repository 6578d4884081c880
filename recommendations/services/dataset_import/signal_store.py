"""Writing the signals and per-title states of a chunk of whole users: the events already
stored left out, the states folded as the signals API folds them, the new rows appended
by COPY on PostgreSQL.
"""

import datetime as dt
import itertools
import json
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import connection
from django.db.models import F

from config.lookups import AnyOf
from recommendations.models import ProfileTitleState, Signal
from recommendations.services.dataset_import.ratings import _Ratings
from recommendations.services.dataset_import.signal_plans import (
    SignalPlan,
    import_event_id,
    rating_signals,
    weight_signals,
)
from recommendations.services.dataset_import.whereabouts import BATCH_SIZE
from recommendations.services.signals import (
    SIGNAL_FIELDS,
    STATE_FIELDS,
    title_states_fold,
    title_states_save,
)
from recommendations.signal_events import SignalEvent

# Rows of one write chunk: large enough that per-chunk queries vanish in the cost of
# the rows, small enough that a chunk's events and states sit comfortably in memory.
CHUNK_ROWS = 20_000


NULL = "\\N"  # COPY's text-format NULL


def _copy_sql(model: type[Signal] | type[ProfileTitleState], fields: Sequence[str]) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(f).column) for f in fields)
    return f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"


class _Appender:
    """Appends new signals and new per-title states: COPY on PostgreSQL, the ORM elsewhere.

    COPY takes rows as text straight from tuples, several times faster than
    ``bulk_create`` (whose per-value field preparation dominates at hundreds of
    thousands of rows) and than the signals API's one-statement insert. It has
    no ON CONFLICT, which is safe here: stored events were filtered out and
    stored states loaded beforehand, under the profile locks the import holds,
    and the unique indexes would still refuse a duplicate (failing the whole
    import, never storing anything twice). States loaded from the database are
    written back by the signals service's own upsert.
    """

    SIGNAL_COLUMNS = SIGNAL_FIELDS
    STATE_COLUMNS = ("profile", "title", *STATE_FIELDS)

    def __init__(self, *, received_at: dt.datetime) -> None:
        self.use_copy = connection.vendor == "postgresql"
        self._received = received_at.isoformat()
        self._signal_sql = _copy_sql(Signal, self.SIGNAL_COLUMNS)
        self._state_sql = _copy_sql(ProfileTitleState, self.STATE_COLUMNS)
        self._signals: list[str] = []
        self._signal_objects: list[Signal] = []
        self._new_states: list[ProfileTitleState] = []
        self._stored_states: list[ProfileTitleState] = []
        # A rating's signals and state share one instant: format each instant once.
        self._times: dict[dt.datetime | None, str] = {None: NULL}

    def _time(self, moment: dt.datetime | None) -> str:
        text = self._times.get(moment)
        if text is None:  # None is cached from the start, so ``moment`` is a datetime here
            text = self._times[moment] = moment.isoformat()
        return text

    def add_signals(self, profile_id: int, events: list[SignalEvent], rewatches: set[int]) -> None:
        if self.use_copy:
            received = self._received
            self._signals += [
                f"{profile_id}\t{e.title_id}\t{NULL}\t{e.kind}\t"
                f"{NULL if e.value is None else e.value}\t{e.device}\t"
                f"{self._time(e.occurred_at)}\t{received}\t{e.client_event_id}\t"
                f"{NULL}\t\t{NULL}\t{NULL}\t{'t' if e.index in rewatches else 'f'}\n"
                for e in events
            ]
        else:
            self._signal_objects += [
                Signal(
                    profile_id=profile_id,
                    title_id=e.title_id,
                    kind=e.kind,
                    value=e.value,
                    device=e.device,
                    occurred_at=e.occurred_at,
                    client_event_id=e.client_event_id,
                    is_rewatch=e.index in rewatches,
                )
                for e in events
            ]

    def add_states(self, states: Iterable[ProfileTitleState]) -> None:
        for state in states:
            (self._stored_states if state.pk else self._new_states).append(state)

    def flush(self) -> None:
        new_states = self._new_states
        if self.use_copy:
            self._copy(self._signal_sql, self._signals)
            self._copy(self._state_sql, [self._state_line(s) for s in new_states])
            new_states = []
        else:
            Signal.objects.bulk_create(self._signal_objects, batch_size=BATCH_SIZE)
        title_states_save(states=[*self._stored_states, *new_states], batch_size=BATCH_SIZE)
        self._signals, self._signal_objects = [], []
        self._new_states, self._stored_states = [], []
        self._times = {None: NULL}

    def _state_line(self, s: ProfileTitleState) -> str:
        """One COPY line in the order of ``STATE_COLUMNS``."""
        time = self._time
        return (
            f"{s.profile_id}\t{s.title_id}\t{time(s.first_played_at)}\t"
            f"{time(s.last_played_at)}\t{time(s.last_event_at)}\t{s.play_count}\t"
            f"{s.progress}\t{NULL if s.last_episode_id is None else s.last_episode_id}\t"
            f"{json.dumps(s.completed_episodes)}\t{s.completed_seasons}\t"
            f"{time(s.completed_at)}\t{s.rewatch_count}\t{s.thumbs}\t{time(s.thumbs_at)}\t"
            f"{time(s.playback_at)}\n"
        )

    @staticmethod
    def _copy(sql: str, lines: list[str]) -> None:
        if lines:
            # Django's cursor wraps psycopg's; COPY lives on the latter.
            with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                copy.write("".join(lines))


@dataclass
class _Tally:
    stored: int = 0
    duplicates: int = 0
    states: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)


def _rows_of_pairs_sql(
    model: type[Signal] | type[ProfileTitleState], select: str, key: tuple[str, str]
) -> str:
    """``SELECT select`` of the rows whose two ``key`` fields hold one of a list of pairs.

    The statement's two parameters are the pairs' first values and their second
    values, arrays that ``unnest`` zips back into pairs, joined to the table on the
    two columns of its unique index: whatever the plan, each pair is a probe of
    that index, and no row is tested against a whole list.

    These lookups were first a list per column (``a = ANY(%s) AND b = ANY(%s)``,
    the pairs then picked out in Python), and an import runs them once a chunk:
    psycopg prepares a statement on its third run (``PREPARE_THRESHOLD``), and
    PostgreSQL plans a prepared statement for its values five times, then settles
    on its generic plan, made for arrays of unknown length (and not hashed). In it,
    on PostgreSQL before 17, the signals' unique index was probed with every event
    for every profile: a thousand returning profiles by forty thousand events made
    119 million index page visits, 19 s, where the seven chunks before took 0.3 s.
    The states were read by profile, each compared with the whole list of titles.
    A re-run of 400,000 ratings took 9 min 34 s; its first run, 1 min 24 s.
    """
    quote = connection.ops.quote_name
    first, second = (model._meta.get_field(name) for name in key)
    # Only the model's own table, column names and column types are interpolated.
    return (
        f"SELECT {select} FROM {quote(model._meta.db_table)} AS t"  # noqa: S608
        f" JOIN unnest(%s::{first.db_type(connection)}[], %s::{second.db_type(connection)}[])"
        f" AS pair (a, b) ON t.{quote(first.column)} = pair.a AND t.{quote(second.column)} = pair.b"
    )


def _events_stored(pairs: list[tuple[int, uuid.UUID]]) -> set[tuple[int, uuid.UUID]]:
    """Which of these (profile id, client event id) pairs are stored signals already."""
    profile_ids = [pk for pk, _ in pairs]
    event_ids = [event_id for _, event_id in pairs]
    if connection.vendor == "postgresql":
        sql = _rows_of_pairs_sql(
            Signal, "t.profile_id, t.client_event_id", ("profile", "client_event_id")
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [profile_ids, event_ids])
            return set(cursor.fetchall())
    # SQLite has no unnest: a list per column, then the pairs among the rows found.
    found = Signal.objects.filter(
        AnyOf(F("profile_id"), set(profile_ids)), AnyOf(F("client_event_id"), event_ids)
    ).values_list("profile_id", "client_event_id")
    return set(found).intersection(pairs)


def _states_stored(pairs: set[tuple[int, int]]) -> list[ProfileTitleState]:
    """The stored per-title states of these (profile id, title id) pairs."""
    profile_ids = [pk for pk, _ in pairs]
    title_ids = [title_id for _, title_id in pairs]
    if connection.vendor == "postgresql":
        sql = _rows_of_pairs_sql(ProfileTitleState, "t.*", ("profile", "title"))
        return list(ProfileTitleState.objects.raw(sql, [profile_ids, title_ids]))
    found = ProfileTitleState.objects.filter(
        AnyOf(F("profile_id"), set(profile_ids)), AnyOf(F("title_id"), set(title_ids))
    )
    return [state for state in found if (state.profile_id, state.title_id) in pairs]


def _store_chunk(
    groups: list[tuple[int, np.ndarray]],
    *,
    ratings: _Ratings,
    profile_ids: list[int],
    existing_profiles: set[int],
    items: dict[int, str],
    title_kinds: dict[int, str],
    scale: float,
    device: str,
    sink: _Appender,
    tally: _Tally,
    weights: bool = False,
) -> None:
    """Store the signals and derived states of a chunk of users (user number, row indexes).

    Profiles that existed before this import may already hold some of these
    events (an earlier run) and states (live activity too): those are read in
    one query each for the whole chunk. New profiles need no query at all.
    """
    plans: dict[float, SignalPlan] = {}
    to_signals = weight_signals if weights else rating_signals
    events_of: dict[int, list[SignalEvent]] = {}
    index = 0
    for user_number, rows in groups:
        user = ratings.users[user_number]
        events = events_of[profile_ids[user_number]] = []
        for row in rows.tolist():
            rating = float(ratings.rating[row])
            plan = plans.get(rating)
            if plan is None:
                plan = plans[rating] = to_signals(rating, scale=scale)
            title_id = int(ratings.title[row])
            item = items[title_id]
            seconds = float(ratings.time[row])
            repeat = int(ratings.repeat[row])
            occurred_at = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
            for kind, value in plan:
                events.append(
                    SignalEvent(
                        index=index,
                        kind=kind,
                        title_id=title_id,
                        episode_id=None,
                        value=value,
                        device=device,
                        occurred_at=occurred_at,
                        client_event_id=import_event_id(
                            user=user, item=item, kind=kind, time=seconds, repeat=repeat
                        ),
                        page_id=None,
                        row="",
                        position=None,
                        artwork_variant_id=None,
                    )
                )
                index += 1

    states_of: dict[int, dict[int, ProfileTitleState]] = {pk: {} for pk in events_of}
    returning = [pk for pk in events_of if pk in existing_profiles]
    if returning:
        stored = _events_stored(
            [(pk, e.client_event_id) for pk in returning for e in events_of[pk]]
        )
        for pk in returning:
            fresh = [e for e in events_of[pk] if (pk, e.client_event_id) not in stored]
            tally.duplicates += len(events_of[pk]) - len(fresh)
            events_of[pk] = fresh
        touched = {(pk, e.title_id) for pk in returning for e in events_of[pk]}
        for state in _states_stored(touched):
            states_of[state.profile_id][state.title_id] = state

    for pk, events in events_of.items():
        if not events:
            continue
        rewatches = title_states_fold(
            profile_id=pk,
            states=states_of[pk],
            events=events,
            title_kinds=title_kinds,
            season_episodes={},  # imported ratings are of whole titles, never episodes
        )
        sink.add_signals(pk, events, rewatches)
        sink.add_states(states_of[pk].values())
        tally.stored += len(events)
        tally.states += len(states_of[pk])
        tally.by_kind.update(e.kind for e in events)
    sink.flush()


def _user_chunks(ratings: _Ratings) -> Iterator[list[tuple[int, np.ndarray]]]:
    """Chunks of about CHUNK_ROWS rows, of whole users: (user number, row indexes in time order).

    A user's rows never straddle two chunks, so each profile's state is folded once.
    """
    order = np.lexsort((ratings.line, ratings.time, ratings.user))  # stable: file order on ties
    by_user = ratings.user[order]
    starts = np.flatnonzero(np.r_[True, by_user[1:] != by_user[:-1]]) if len(order) else []
    bounds = np.r_[starts, len(order)].astype(np.int64).tolist()
    chunk: list[tuple[int, np.ndarray]] = []
    rows = 0
    for start, end in itertools.pairwise(bounds):
        chunk.append((int(by_user[start]), order[start:end]))
        rows += end - start
        if rows >= CHUNK_ROWS:
            yield chunk
            chunk, rows = [], 0
    if chunk:
        yield chunk
