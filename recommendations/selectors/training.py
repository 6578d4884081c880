"""Reading what the models learn from into numpy arrays: signals, catalogue facts, availability.

The engine (``recommendations.engine``) takes arrays with dense indices; this
module is the one place that turns database rows into them. Rows are read
with ``values_list`` or the ORM's compiled SQL through a chunked (server-side
on PostgreSQL) cursor and converted a chunk at a time, never as model
instances: ten million signals must fit in memory as a few numeric columns,
not as ten million Python objects.

Index spaces:

- **titles**: every title in the catalogue, in primary-key order. All model
  versions share the same title space at the time they were trained, so a
  region model and the global model index titles alike, and availability is a
  serving-time mask rather than a training-time filter.
- **profiles**: the profiles with at least one loaded signal, in primary-key
  order (a profile without history has nothing to teach ALS).

``index_of`` maps ids to indices with a binary search over the sorted id array.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from django.conf import settings
from django.db import connection
from django.db.models import Case, F, IntegerField, Max, Min, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.models import Credit, Episode, Language, Season, Title
from config.lookups import AnyOf
from profiles.models import Profile
from recommendations.engine.confidence import SignalCode, SignalWeights
from recommendations.models import PLAY_KINDS, Signal, SignalKind
from recommendations.signal_events import VALUE_TINY
from regions.models import Availability, Region

__all__ = [
    "AvailabilityWindows",
    "CatalogueFacts",
    "EpisodeTable",
    "ProfileGroups",
    "SeasonReleases",
    "SignalColumns",
    "SnapshotRead",
    "TitleFeatures",
    "TrainingSignals",
    "availability_windows",
    "catalogue_facts",
    "completion_hours",
    "episode_table",
    "index_of",
    "profile_groups",
    "signal_columns",
    "signal_columns_snapshot",
    "signal_weights",
    "signals_from_columns",
    "title_feature_names",
    "title_features",
    "title_ids",
    "titles_with_windows",
    "training_signals",
]

logger = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400.0
# Billing order below which an actor counts as cast for content similarity: the
# leads say what a title is; the fortieth extra says nothing.
CAST_MAX_ORDER = 6
# Feature-group weights for the content model's TF-IDF. Cast is tempered: actors
# are rare features, and rarity alone would let one shared supporting actor
# outweigh a shared genre.
FEATURE_GROUP_WEIGHTS = {
    "genre": 1.0,
    "tag": 1.0,
    "cast": 0.6,
    "director": 1.0,
    "language": 1.5,
}
_PLAY_CODES = np.array([SignalCode[kind.upper()] for kind in PLAY_KINDS], dtype=np.int8)

Progress = Callable[[int], object]
_T = TypeVar("_T")


def _no_progress(_: int) -> None:
    return None


_weights_of: tuple[object, SignalWeights] | None = None


def signal_weights() -> SignalWeights:
    """Tonight's signal weights, with the operator's overrides from settings.

    Kept for as long as the overrides are the same object (validating them
    cost 50 us of every page); settings replaced (a deploy, a test's override)
    are read again.
    """
    global _weights_of
    overrides = settings.TONIGHT.get("SIGNAL_WEIGHTS")
    cached = _weights_of
    if cached is not None and cached[0] is overrides:
        return cached[1]
    weights = SignalWeights.from_mapping(overrides)
    _weights_of = (overrides, weights)
    return weights


def index_of(sorted_ids: npt.NDArray[np.int64], ids: npt.ArrayLike) -> npt.NDArray[np.int32]:
    """Dense index of each id in ``sorted_ids``; -1 for ids that are not there.

    Parameters
    ----------
    sorted_ids : array of int64, shape (m,), ascending and unique
    ids : array of int, shape (n,)

    Returns
    -------
    numpy.ndarray of int32, shape (n,)
    """
    wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
    if sorted_ids.shape[0] == 0:
        return np.full(wanted.shape[0], -1, dtype=np.int32)
    n, top = sorted_ids.shape[0], int(sorted_ids[-1])
    if wanted.shape[0] > 4 * n and sorted_ids[0] >= 0 and top <= 8 * n + 1024:
        # Dense ids (database keys), many lookups: a table of positions by id is one gather
        # per id instead of a binary search (a retrain maps millions of signals).
        table = np.full(top + 1, -1, dtype=np.int32)
        table[sorted_ids] = np.arange(n, dtype=np.int32)
        inside = (wanted >= 0) & (wanted <= top)
        found = np.full(wanted.shape[0], -1, dtype=np.int32)
        found[inside] = table[wanted[inside]]
        return found
    position = np.searchsorted(sorted_ids, wanted)
    clipped = np.minimum(position, sorted_ids.shape[0] - 1)
    found = sorted_ids[clipped] == wanted
    return np.where(found, clipped, -1).astype(np.int32)


def _chunks(queryset: QuerySet, chunk_size: int) -> Iterator[list[tuple]]:
    """Rows of a ``values_list`` queryset, ``chunk_size`` at a time, as plain tuples.

    Runs the ORM's own SQL on a chunked cursor (a server-side cursor on
    PostgreSQL), skipping the per-row work of ``QuerySet.iterator``.
    """
    sql, params = queryset.query.sql_with_params()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield rows


def integer_rows(queryset: QuerySet, width: int) -> npt.NDArray[np.int64]:
    """A ``values_list`` of ``width`` integer columns as an (m, width) int64 array; NULL is -1.

    On PostgreSQL the rows come packed into one ``bytea`` (each value through
    ``int8send``, as :func:`signal_columns` reads signals): the catalogue's link
    tables and the profiles are hundreds of thousands of rows, and building a
    Python tuple per row cost a retrain more than a second. The rows come in no
    particular order; a caller that needs one sorts them.
    """
    if connection.vendor != "postgresql":
        rows = [tuple(-1 if v is None else v for v in row) for row in queryset]
        return np.array(rows, dtype=np.int64).reshape(-1, width)
    sql, params = queryset.query.sql_with_params()
    names = [f"c{i}" for i in range(width)]
    packed = " || ".join(f"int8send(COALESCE(s.{name}, -1)::int8)" for name in names)
    # The inner query is the ORM's own compiled SQL; its values stay bound parameters.
    statement = f"SELECT string_agg({packed}, ''::bytea) FROM ({sql}) AS s({', '.join(names)})"  # noqa: S608
    blob = _packed_answer(statement, params)
    return np.frombuffer(blob or b"", dtype=">i8").reshape(-1, width).astype(np.int64)


def _packed_answer(statement: str, params: Iterable[object]) -> bytes | None:
    """The one ``bytea`` a packing query answers, read in binary on this thread's connection
    (as text, psycopg would hex-decode it)."""
    connection.ensure_connection()
    with connection.connection.cursor(binary=True) as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()[0]


def sorted_pks(queryset: QuerySet) -> npt.NDArray[np.int64]:
    """The primary keys of ``queryset``'s rows, ascending (read packed, sorted here: the packed
    read keeps no order)."""
    return np.sort(integer_rows(queryset.order_by().values_list("pk"), 1)[:, 0])


def read_beside(read: Callable[[], _T]) -> Callable[[], _T]:
    """Start ``read`` on a thread with a database connection of its own; the returned function
    waits for its result (or raises its error).

    PostgreSQL answers the read on another core while the caller reads something else (a
    retrain reads the catalogue and the profiles while it reads its signals). Inside a
    transaction, where another connection would not see the caller's rows, and off
    PostgreSQL the read runs here and now.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        value = read()
        return lambda: value
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = read()
        except BaseException as error:  # handed to the waiting thread, which raises it
            box["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="read-beside", daemon=True)
    thread.start()

    def wait() -> _T:
        thread.join()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box["value"]  # type: ignore[return-value]

    return wait


def title_ids() -> npt.NDArray[np.int64]:
    """Every title's id, ascending: the title index space of a training run."""
    return sorted_pks(Title.objects.all())


# --- Signals ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrainingSignals:
    """Signals as parallel arrays, shape (n,) each, with their index maps.

    Attributes
    ----------
    profile_ids : numpy.ndarray of int64, shape (n_profiles,)
        Profile id of each profile index, ascending.
    title_ids : numpy.ndarray of int64, shape (n_titles,)
        Title id of each title index, ascending.
    profile_index : numpy.ndarray of int32
    title_index : numpy.ndarray of int32
        -1 for signals without a title (row_scroll_past) or about a title
        outside the index (created after the index was read).
    episode_id : numpy.ndarray of int64
        -1 when the signal names no episode.
    kind : numpy.ndarray of int8
        :class:`~recommendations.engine.confidence.SignalCode`.
    value : numpy.ndarray of float32
        NaN when the signal has no value.
    timestamp : numpy.ndarray of float64
        ``occurred_at`` as Unix seconds.
    rewatch : numpy.ndarray of bool
        ``Signal.is_rewatch``, set at ingest from the derived state.
    commitment_hours : numpy.ndarray of float32
        Hours a COMPLETE signal finished (film, episode, or the whole season it
        completed); NaN for other kinds. See :func:`completion_hours`.
    """

    profile_ids: npt.NDArray[np.int64]
    title_ids: npt.NDArray[np.int64]
    profile_index: npt.NDArray[np.int32]
    title_index: npt.NDArray[np.int32]
    episode_id: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int8]
    value: npt.NDArray[np.float32]
    timestamp: npt.NDArray[np.float64]
    rewatch: npt.NDArray[np.bool_]
    commitment_hours: npt.NDArray[np.float32]

    @property
    def n_profiles(self) -> int:
        return int(self.profile_ids.shape[0])

    @property
    def n_titles(self) -> int:
        return int(self.title_ids.shape[0])

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    def age_days(self, at: float) -> npt.NDArray[np.float64]:
        """Age of each signal at Unix time ``at``, in days (the engine clamps negative ages).

        Float64: the engine orders a pair's ratings by age, and float32 days are 2.6 s
        apart at 300 days, so a thumbs down corrected a second later was a tie (which the
        dislike wins). The engine reads ages as float64 anyway: no copy is added.
        """
        return (at - self.timestamp) / SECONDS_PER_DAY

    def subset(self, mask: npt.NDArray[np.bool_]) -> TrainingSignals:
        """The signals where ``mask`` holds, with the same index maps."""
        return TrainingSignals(
            profile_ids=self.profile_ids,
            title_ids=self.title_ids,
            profile_index=self.profile_index[mask],
            title_index=self.title_index[mask],
            episode_id=self.episode_id[mask],
            kind=self.kind[mask],
            value=self.value[mask],
            timestamp=self.timestamp[mask],
            rewatch=self.rewatch[mask],
            commitment_hours=self.commitment_hours[mask],
        )

    def with_single_profile(self) -> TrainingSignals:
        """These signals (all of one profile) re-indexed as a one-profile history, for fold-in."""
        profiles = np.unique(self.profile_index)
        if profiles.shape[0] > 1:
            raise ValueError("signals of several profiles")
        pk = self.profile_ids[profiles] if profiles.size else np.empty(0, np.int64)
        return dataclasses.replace(
            self, profile_ids=pk, profile_index=np.zeros_like(self.profile_index)
        )

    def is_play(self) -> npt.NDArray[np.bool_]:
        return np.isin(self.kind, _PLAY_CODES)


def _kind_code_expression() -> Case:
    return Case(
        *(When(kind=kind.value, then=Value(int(SignalCode[kind.name]))) for kind in SignalKind),
        output_field=IntegerField(),
    )


def epoch_expression(column: str) -> RawSQL:
    """Unix seconds of a datetime column, computed by the database (no Python datetimes).

    ``date_part`` rather than ``EXTRACT``: since PostgreSQL 14 ``EXTRACT``
    computes a ``numeric`` (then cast to ``float8`` here), which cost a
    quarter of the homepage's history read; ``date_part`` divides the
    microseconds in ``float8`` directly. Both round the exact value to the
    nearest double, so they agree to the bit (tested).
    """
    if connection.vendor == "postgresql":
        return RawSQL(f"date_part('epoch', \"{column}\")", [])  # noqa: S611 - fixed column
    return RawSQL(f'(julianday("{column}") - 2440587.5) * 86400.0', [])  # noqa: S611


def signals_exist(
    *,
    region_code: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> bool:
    """Whether any signal, impressions too, of the region's households (of all) is in the window.

    What a command checks before training or evaluating: a model of no signals would
    be activated over a good one, and an evaluation of none ends in a traceback.
    """
    signals = Signal.objects.all()
    if region_code is not None:
        signals = signals.filter(profile__account__home_region_id=region_code)
    if since is not None:
        signals = signals.filter(occurred_at__gte=since)
    if until is not None:
        signals = signals.filter(occurred_at__lt=until)
    return signals.exists()


def signal_newest_at(*, region_code: str | None = None) -> dt.datetime | None:
    """When the newest signal of the region's households (of all) occurred, None without any.

    ``train_models`` names it when its window holds none: training as of then would find them.
    """
    signals = Signal.objects.all()
    if region_code is not None:
        signals = signals.filter(profile__account__home_region_id=region_code)
    return signals.order_by("-occurred_at").values_list("occurred_at", flat=True).first()


def signal_queryset(
    *,
    region_code: str | None = None,
    profile_ids: Iterable[int] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    include_impressions: bool = False,
    with_id: bool = False,
) -> QuerySet:
    """The numeric columns :func:`training_signals` reads, as a ``values_list`` queryset.

    Impressions are left out unless asked for: they are most of the log
    (about 70% on the demo), and the collaborative model learns nothing from
    them (they only feed impression fatigue, which serving reads per profile).
    ``with_id`` appends the signal's id and its receipt time (columns eight and
    nine), by which a parallel read splits the table and orders what it read,
    and a snapshot decides its watermark.
    """
    queryset = Signal.objects.all()
    if region_code is not None:
        queryset = queryset.filter(profile__account__home_region_id=region_code)
    if profile_ids is not None:
        queryset = queryset.filter(AnyOf(F("profile_id"), profile_ids))
    if since is not None:
        queryset = queryset.filter(occurred_at__gte=since)
    if until is not None:
        queryset = queryset.filter(occurred_at__lt=until)
    if not include_impressions:
        queryset = queryset.exclude(kind=SignalKind.IMPRESSION)
    columns = [
        "profile_id",
        Coalesce("title_id", Value(-1)),
        Coalesce("episode_id", Value(-1)),
        _kind_code_expression(),
        "value",
        epoch_expression(Signal._meta.get_field("occurred_at").column),
        "is_rewatch",
    ]
    if with_id:
        columns.extend(["id", epoch_expression(Signal._meta.get_field("received_at").column)])
    return queryset.order_by().values_list(*columns)


#: One row of :func:`signal_queryset` in PostgreSQL's binary COPY format: a field count, then
#: per field its byte length and its big-endian value. Every column is fixed-width and never
#: NULL (the COPY query coalesces), so a whole buffer of rows is one ``numpy.frombuffer``.
_COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("n0", ">i4"),
        ("profile", ">i8"),
        ("n1", ">i4"),
        ("title", ">i8"),
        ("n2", ">i4"),
        ("episode", ">i8"),
        ("n3", ">i4"),
        ("kind", ">i4"),
        ("n4", ">i4"),
        ("value", ">f8"),
        ("n5", ">i4"),
        ("epoch", ">f8"),
        ("n6", ">i4"),
        ("rewatch", "u1"),
    ]
)
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_COLUMNS = ("profile", "title", "episode", "kind", "value", "epoch", "rewatch")
_COPY_PREFIX = (
    "COPY (SELECT s.c0::int8, COALESCE(s.c1, -1)::int8, COALESCE(s.c2, -1)::int8, "
    "COALESCE(s.c3, -1)::int4, COALESCE(s.c4::float8, 'NaN'::float8), s.c5::float8, "
    "COALESCE(s.c6, false) FROM ("
)
_COPY_SUFFIX = ") AS s(c0, c1, c2, c3, c4, c5, c6)) TO STDOUT (FORMAT BINARY)"


def _copy_rows(buffer: bytes | bytearray | memoryview) -> np.ndarray:
    """Complete binary COPY rows at the start of ``buffer`` as an (m, 7) float64 array."""
    count = len(buffer) // _COPY_ROW.itemsize
    rows = np.frombuffer(buffer, dtype=_COPY_ROW, count=count)
    if count and (rows["fields"] != len(_COPY_COLUMNS)).any():
        raise ValueError("unexpected binary COPY row layout")
    out = np.empty((count, len(_COPY_COLUMNS)), dtype=np.float64)
    for i, name in enumerate(_COPY_COLUMNS):
        out[:, i] = rows[name]
    return out


def _copy_signal_arrays(queryset: QuerySet, *, progress: Progress, block_bytes: int) -> np.ndarray:
    """:func:`signal_arrays` through ``COPY ... TO STDOUT (FORMAT BINARY)`` on PostgreSQL.

    No Python object per row or per value: PostgreSQL streams fixed-width
    binary rows, and each block of them becomes columns with one
    ``frombuffer``. About five times faster than fetching tuples through a
    cursor for the ten-million-signal retrain, and the bytes alive at once are
    bounded by ``block_bytes``.
    """
    sql, params = queryset.query.sql_with_params()
    # The inner query is the ORM's own compiled SQL; its values stay bound parameters.
    statement = _COPY_PREFIX + sql + _COPY_SUFFIX
    connection.ensure_connection()
    parts: list[np.ndarray] = []
    pending = bytearray()
    header_done = False
    size = _COPY_ROW.itemsize
    with connection.connection.cursor() as cursor, cursor.copy(statement, params) as copy:
        for chunk in copy:
            pending += chunk
            if not header_done:
                if len(pending) < 19:
                    continue
                if bytes(pending[:11]) != _COPY_SIGNATURE:
                    raise ValueError("not a binary COPY stream")
                extension = int.from_bytes(pending[15:19], "big")
                del pending[: 19 + extension]
                header_done = True
            if len(pending) >= block_bytes:
                whole = len(pending) // size * size
                parts.append(_copy_rows(memoryview(pending)[:whole]))
                del pending[:whole]
                progress(parts[-1].shape[0])
    if len(pending) >= 2:
        del pending[-2:]  # the trailer: a field count of -1
    if pending:
        if len(pending) % size:
            raise ValueError("truncated binary COPY stream")
        parts.append(_copy_rows(bytes(pending)))
        progress(parts[-1].shape[0])
    return np.concatenate(parts) if parts else np.empty((0, 7), dtype=np.float64)


def signal_arrays(
    queryset: QuerySet,
    *,
    chunk_size: int = 200_000,
    progress: Progress = _no_progress,
    block_bytes: int = 32 << 20,
) -> np.ndarray:
    """Run a :func:`signal_queryset` into one float64 array of shape (n, 7).

    float64 holds every id exactly (below 2**53) and turns SQL NULLs into NaN.
    On PostgreSQL the rows come as a binary COPY stream
    (:func:`_copy_signal_arrays`); elsewhere (the SQLite first run) through a
    chunked cursor, each chunk converted with one ``numpy.array`` call.
    """
    if connection.vendor == "postgresql":
        return _copy_signal_arrays(queryset, progress=progress, block_bytes=block_bytes)
    parts = []
    for rows in _chunks(queryset, chunk_size):
        parts.append(np.array(rows, dtype=np.float64))
        progress(len(rows))
    return np.concatenate(parts) if parts else np.empty((0, 7), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class SignalColumns:
    """Signal rows as they were read, one native array per column, shape (n,) each, by id.

    Attributes
    ----------
    signal_id : numpy.ndarray of int64
        Ascending: the read is ordered by it, so equal inputs give equal arrays.
    profile_id, title_id, episode_id : numpy.ndarray of int64
        -1 where the signal names no title or episode.
    kind : numpy.ndarray of int8
        :class:`~recommendations.engine.confidence.SignalCode`.
    value : numpy.ndarray of float32
        NaN when the signal has no value.
    epoch : numpy.ndarray of float64
        ``occurred_at`` as Unix seconds.
    rewatch : numpy.ndarray of bool
    received : numpy.ndarray of float64
        ``received_at`` as Unix seconds (NaN when not read): what a snapshot's
        watermark is decided on (:func:`signal_columns_snapshot`).
    """

    signal_id: npt.NDArray[np.int64]
    profile_id: npt.NDArray[np.int64]
    title_id: npt.NDArray[np.int64]
    episode_id: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int8]
    value: npt.NDArray[np.float32]
    epoch: npt.NDArray[np.float64]
    rewatch: npt.NDArray[np.bool_]
    received: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    @classmethod
    def from_rows(cls, raw: np.ndarray) -> SignalColumns:
        """From the rows of :func:`signal_arrays` (7 columns, or 9 with ``with_id``: then the
        id and the receipt time follow; otherwise ids are the rows' positions)."""
        with_id = raw.shape[1] >= 9
        return cls(
            signal_id=raw[:, 7].astype(np.int64)
            if with_id
            else np.arange(raw.shape[0], dtype=np.int64),
            profile_id=raw[:, 0].astype(np.int64),
            title_id=raw[:, 1].astype(np.int64),
            episode_id=raw[:, 2].astype(np.int64),
            kind=raw[:, 3].astype(np.int8),
            value=raw[:, 4].astype(np.float32),
            epoch=raw[:, 5].astype(np.float64),
            rewatch=raw[:, 6] > 0,
            received=raw[:, 8].astype(np.float64) if with_id else np.full(raw.shape[0], np.nan),
        )

    @classmethod
    def concatenate(cls, parts: list[SignalColumns]) -> SignalColumns:
        """The rows of every part, ordered by signal id (an id in several parts is kept once)."""
        names = [f.name for f in dataclasses.fields(cls)]
        if not parts:
            return cls(**{name: np.empty(0, dtype=_COLUMN_DTYPES[name]) for name in names})
        parts = [part for part in parts if len(part)] or parts[:1]
        ids = [part.signal_id for part in parts]
        if all(
            (a[1:] > a[:-1]).all() and (not i or ids[i - 1][-1] < a[0]) for i, a in enumerate(ids)
        ):  # already ascending and disjoint (a snapshot, then what arrived since): no sort
            if len(parts) == 1:
                return parts[0]
            return cls(
                **{name: np.concatenate([getattr(p, name) for p in parts]) for name in names}
            )
        _, first = np.unique(np.concatenate(ids), return_index=True)  # ascending ids, each once
        return cls(
            **{name: np.concatenate([getattr(p, name) for p in parts])[first] for name in names}
        )

    def subset(self, mask: npt.NDArray[np.bool_]) -> SignalColumns:
        """The rows where ``mask`` holds (``self`` when it holds everywhere: no copy)."""
        if mask.all():
            return self
        return SignalColumns(
            **{f.name: getattr(self, f.name)[mask] for f in dataclasses.fields(SignalColumns)}
        )


_COLUMN_DTYPES = {
    "signal_id": np.int64,
    "profile_id": np.int64,
    "title_id": np.int64,
    "episode_id": np.int64,
    "kind": np.int8,
    "value": np.float32,
    "epoch": np.float64,
    "rewatch": np.bool_,
    "received": np.float64,
}
#: One row as :func:`signal_columns` has PostgreSQL pack it: each column of
#: :func:`signal_queryset` (``with_id``) through its type's binary ``*send`` function,
#: concatenated: fixed width, big-endian, never NULL (the query coalesces).
_PACKED_ROW = np.dtype(
    [
        ("signal_id", ">i8"),
        ("profile_id", ">i8"),
        ("title_id", ">i8"),
        ("episode_id", ">i8"),
        ("kind", ">i2"),
        ("value", ">f4"),
        ("epoch", ">f8"),
        ("rewatch", "u1"),
        ("received", ">f8"),
    ]
)
#: ``value`` as float4. PostgreSQL refuses to cast a value nearer zero than a float4 holds
#: ("value out of range: underflow"), and one such row failed every retrain that read it.
#: Ingest stores those as 0 now (``VALUE_TINY``); rows stored before are read as 0 here.
_PACK_VALUE = (
    f"COALESCE(CASE WHEN abs(s.c4) < {VALUE_TINY!r} THEN 0 ELSE s.c4 END::float4, 'NaN'::float4)"
)
# Only the constant expression above is interpolated.
_PACK_PREFIX = (
    "SELECT string_agg(int8send(s.c7::int8) || int8send(s.c0::int8) "  # noqa: S608
    "|| int8send(COALESCE(s.c1, -1)::int8) || int8send(COALESCE(s.c2, -1)::int8) "
    f"|| int2send(COALESCE(s.c3, -1)::int2) || float4send({_PACK_VALUE}) "
    "|| float8send(s.c5::float8) || boolsend(COALESCE(s.c6, false)) "
    "|| float8send(COALESCE(s.c8::float8, 'NaN'::float8)), ''::bytea) FROM ("
)
_PACK_SUFFIX = ") AS s(c0, c1, c2, c3, c4, c5, c6, c7, c8)"
#: Ids of one read query (the table is split by id into spans this long): each answer is one
#: ``bytea`` of at most ~30 MB, far from PostgreSQL's 1 GB limit.
READ_ID_SPAN = 500_000
#: Connections reading spans at once. PostgreSQL spends its time filtering and packing rows
#: (two-thirds of the ten-million-signal read), one core per connection.
READ_CONNECTIONS = 2


def _unpack(blob: bytes | None) -> SignalColumns:
    """One packed answer as native columns (the big-endian bytes are dropped at once)."""
    if blob and len(blob) % _PACKED_ROW.itemsize:
        raise ValueError("packed signal rows of an unexpected width")
    rows = np.frombuffer(blob or b"", dtype=_PACKED_ROW)
    return SignalColumns(
        **{name: rows[name].astype(dtype) for name, dtype in _COLUMN_DTYPES.items()}
    )


def _read_spans(
    queryset: QuerySet, spans: list[tuple[int, int]], emit: Callable[[SignalColumns], object]
) -> None:
    """Run the packing query for each id span on this thread's connection."""
    for low, high in spans:
        sql, params = queryset.filter(pk__gte=low, pk__lt=high).query.sql_with_params()
        emit(_unpack(_packed_answer(_PACK_PREFIX + sql + _PACK_SUFFIX, params)))


def _read_spans_on_own_connection(
    queryset: QuerySet, spans: list[tuple[int, int]], out: queue.Queue
) -> None:
    try:
        _read_spans(queryset, spans, out.put)
        out.put(None)
    except Exception as error:  # handed to the reading thread, which raises it
        out.put(error)
    finally:
        connection.close()


def signal_columns(
    queryset: QuerySet,
    *,
    progress: Progress = _no_progress,
    after_id: int | None = None,
    id_span: int | None = None,
    connections: int | None = None,
) -> SignalColumns:
    """Run a :func:`signal_queryset` (``with_id=True``) into columns, ordered by signal id.

    On PostgreSQL the table is read in spans of ids, and PostgreSQL packs each
    span's rows into one ``bytea`` with its binary ``*send`` functions
    (:data:`_PACKED_ROW`): one value per query crosses into Python, not one
    per row. A binary ``COPY`` hands psycopg one row per call, and that loop
    alone took longer than PostgreSQL's scan on the ten-million-signal
    retrain. Outside a transaction the spans are shared by ``connections``
    connections (each its own thread and core); inside one, they are read on
    the caller's connection, which sees the caller's uncommitted rows. Other
    databases (the SQLite first run) go through :func:`signal_arrays`.

    ``after_id`` reads only the signals with a larger id (what arrived since a
    snapshot, :func:`signal_columns_snapshot`). ``id_span`` and ``connections``
    default to :data:`READ_ID_SPAN` and :data:`READ_CONNECTIONS`.
    """
    id_span = id_span or READ_ID_SPAN
    connections = connections or READ_CONNECTIONS
    if after_id is not None:
        queryset = queryset.filter(pk__gt=after_id)
    if connection.vendor != "postgresql":
        return SignalColumns.from_rows(signal_arrays(queryset, progress=progress))
    bounds = Signal.objects.aggregate(low=Min("pk"), high=Max("pk"))
    parts: list[SignalColumns] = []
    if bounds["low"] is not None:
        low = max(bounds["low"], (after_id or 0) + 1)
        spans = [(start, start + id_span) for start in range(low, bounds["high"] + 1, id_span)]

        def keep(part: SignalColumns) -> None:
            parts.append(part)
            progress(len(part))

        if connection.in_atomic_block or connections <= 1 or len(spans) <= 1:
            _read_spans(queryset, spans, keep)
        else:
            out: queue.Queue = queue.Queue()
            threads = [
                threading.Thread(
                    target=_read_spans_on_own_connection,
                    args=(queryset, spans[i::connections], out),
                    name=f"signal-read-{i}",
                    daemon=True,
                )
                for i in range(min(connections, len(spans)))
            ]
            for thread in threads:
                thread.start()
            running, error = len(threads), None
            while running:
                item = out.get()
                if item is None or isinstance(item, Exception):
                    running -= 1
                    error = error or item
                else:
                    keep(item)
            for thread in threads:
                thread.join()
            if error is not None:
                raise error
    return SignalColumns.concatenate(parts)


# --- The signal snapshot: what a retrain read, kept for the next one -------------------------

#: A row is taken into a snapshot (and the watermark moved past it) only once it was received
#: this long before the read, and before every open transaction writing the signal table
#: began: a row whose transaction commits later than that is missed until the next full read.
SNAPSHOT_SETTLE_SECONDS = 120.0
#: A snapshot older than this is read again in full (it bounds what a row committed late,
#: an account that moved region, or any other drift can cost).
SNAPSHOT_MAX_AGE_DAYS = 7.0
_SNAPSHOT_FORMAT = 1


@dataclass(frozen=True)
class SnapshotRead:
    """How :func:`signal_columns_snapshot` read: from the database alone, or a snapshot and
    what arrived since (for a run's data sizes)."""

    mode: str  # "full" or "incremental"
    reason: str
    snapshot_rows: int
    delta_rows: int
    watermark: int


def _snapshot_path() -> Path | None:
    """The snapshot's description file (``.json``); its rows are in a ``.npy`` beside it."""
    root = settings.TONIGHT.get("RETRAIN_SIGNAL_CACHE_DIR", "")
    if not root or connection.vendor != "postgresql":
        return None
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in connection.settings_dict["NAME"])
    return Path(root) / f"signals-{name}.json"


def _database_identity() -> str:
    """This database and this signal table, as PostgreSQL names them: a restored, recreated
    or truncated table is another one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.oid, pg_relation_filenode(%s::regclass) FROM pg_database d "
            "WHERE d.datname = current_database()",
            [Signal._meta.db_table],
        )
        oid, node = cursor.fetchone()
    return f"{oid}:{node}"


def _settled_before(read_at: float) -> float | None:
    """Rows received before this Unix time are committed (or never will be); ``None`` when an
    open transaction writing the signal table cannot be dated (the watermark stays).

    pg_locks lists the whole server's locks and a relation's OID is unique only within its
    database: a writer on a copy of this database (made from one template) locks a table of
    the signal table's OID, and must not hold this one's watermark back.

    ``received_at`` is stamped by the app's clock, a writer's start by the database's: the
    writer's age is measured on the database's clock alone and taken from the app's time
    read just before the query, so that the cut is on the app's clock whatever the skew
    between the two (an app behind the database took rows received after the writer began
    for rows received before it). Read before the query, the app's time makes the age
    reach back at least to the writer's start."""
    app_now = timezone.now().timestamp()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_or(a.xact_start IS NULL), "
            "EXTRACT(EPOCH FROM statement_timestamp() - min(a.xact_start))::float8 "
            "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.relation = %s::regclass AND l.mode = 'RowExclusiveLock' "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.pid <> pg_backend_pid()",
            [Signal._meta.db_table],
        )
        undated, oldest_age = cursor.fetchone()
    if undated:
        return None
    cut = read_at if oldest_age is None else min(read_at, app_now - float(oldest_age))
    return cut - SNAPSHOT_SETTLE_SECONDS


#: The snapshot's rows on disk: one record per signal, read through a memory map a chunk at a
#: time, so that only the rows a retrain keeps (its region's) are ever copied out whole.
_SNAPSHOT_ROW = np.dtype([(name, dtype) for name, dtype in _COLUMN_DTYPES.items()])
_SNAPSHOT_CHUNK = 1 << 20


def _records_columns(records: np.ndarray) -> SignalColumns:
    return SignalColumns(**{name: np.array(records[name]) for name in _COLUMN_DTYPES})


def _snapshot_load(
    path: Path, identity: str, since: float, now: float
) -> tuple[dict, np.ndarray | None, str]:
    """The stored snapshot's description and its rows (memory-mapped), or ``({}, None, why it
    cannot be used)``."""
    try:
        meta = json.loads(path.read_text())
        rows = np.load(path.with_name(meta["rows"]), mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        return {}, None, "no snapshot"
    except (OSError, ValueError, KeyError, TypeError):
        return {}, None, "unreadable snapshot"
    if meta.get("format") != _SNAPSHOT_FORMAT or meta.get("identity") != identity:
        return {}, None, "snapshot of another database or table"
    if rows.dtype != _SNAPSHOT_ROW or rows.shape != (meta.get("n_rows"),):
        return {}, None, "unreadable snapshot"
    if float(meta["since"]) > since:
        return {}, None, "snapshot starts after the window"
    if now - float(meta["created_at"]) > SNAPSHOT_MAX_AGE_DAYS * SECONDS_PER_DAY:
        return {}, None, f"snapshot older than {SNAPSHOT_MAX_AGE_DAYS:g} days"
    if rows.shape[0]:  # a sample of stored rows must still be in the table, unchanged
        at = np.unique(np.linspace(0, rows.shape[0] - 1, 64).astype(np.int64))
        sample = rows[at]
        found = {
            pk: (profile, -1 if title is None else title)
            for pk, profile, title in Signal.objects.filter(
                pk__in=sample["signal_id"].tolist()
            ).values_list("pk", "profile_id", "title_id")
        }
        stored_rows = zip(
            sample["signal_id"].tolist(),
            sample["profile_id"].tolist(),
            sample["title_id"].tolist(),
            strict=True,
        )
        changed, missing_profiles = False, set()
        for pk, profile, title in stored_rows:
            if pk not in found:
                missing_profiles.add(profile)  # fine if the profile was deleted, with its rows
            elif found[pk] != (profile, title):
                changed = True
        if changed or Profile.objects.filter(pk__in=missing_profiles).exists():
            return {}, None, "snapshot rows no longer in the table"
    return meta, rows, ""


def _snapshot_save(
    path: Path,
    parts: list[np.ndarray | SignalColumns],
    n_rows: int,
    *,
    records_kept: npt.NDArray[np.bool_] | None = None,
    **meta: object,
) -> None:
    """Write the rows (record arrays and columns, in id order) under a new name a chunk at a
    time, then the description naming them, renamed into place: a reader sees the old
    snapshot or the new one, never half of one. ``records_kept`` masks the record array's
    rows (the previous snapshot's), so those of deleted profiles are not written again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{threading.get_ident()}-{time.time_ns()}"
    rows_name = f"{path.stem}-{token}.npy"
    out = np.lib.format.open_memmap(
        path.with_name(rows_name), mode="w+", dtype=_SNAPSHOT_ROW, shape=(n_rows,)
    )
    at = 0
    for part in parts:
        if isinstance(part, SignalColumns):
            for name in _COLUMN_DTYPES:
                out[name][at : at + len(part)] = getattr(part, name)
            at += len(part)
            continue
        for start in range(0, part.shape[0], _SNAPSHOT_CHUNK):
            chunk = part[start : start + _SNAPSHOT_CHUNK]
            if records_kept is not None:
                chunk = chunk[records_kept[start : start + _SNAPSHOT_CHUNK]]
            out[at : at + chunk.shape[0]] = chunk
            at += chunk.shape[0]
    if at != n_rows:
        raise ValueError("snapshot rows do not add up")
    out.flush()
    del out
    previous = None
    with contextlib.suppress(OSError, ValueError, KeyError):
        previous = json.loads(path.read_text())["rows"]
    temporary = path.with_name(f".{path.name}.{token}.tmp")
    temporary.write_text(
        json.dumps({"format": _SNAPSHOT_FORMAT, "rows": rows_name, "n_rows": n_rows, **meta})
    )
    temporary.replace(path)
    if previous and previous != rows_name:  # a reader that opened it keeps its mapping
        with contextlib.suppress(OSError):
            path.with_name(previous).unlink()


def signal_columns_snapshot(
    *,
    since: dt.datetime,
    profiles: npt.NDArray[np.int64] | None = None,
    progress: Progress = _no_progress,
) -> tuple[SignalColumns, SnapshotRead]:
    """Non-impression signals since ``since``: a snapshot plus what arrived since.

    The signal log is append-only, and most of what a nightly retrain reads it
    read the night before. Reading the table (PostgreSQL filters ten million
    rows to keep three) costs more than fitting the models, so the rows read
    are kept in a file (``RETRAIN_SIGNAL_CACHE_DIR``, one per database) with a
    *watermark*: the largest id below which every row is known to be
    committed. The next read maps the file and reads only the ids above the
    watermark (an index range scan); rows that left the window are dropped.
    The file holds every region's rows; only those of ``profiles`` (sorted
    ids; all when ``None``) are returned, and only they are copied whole.

    A snapshot is not used, and the table is read in full, when it belongs to
    another database or table (a restored or recreated one), when a sample of
    its rows is no longer in the table though its profile is (rolled back, or
    deleted one by one), or when it is older than :data:`SNAPSHOT_MAX_AGE_DAYS`.
    Without a cache directory, inside a transaction, or on SQLite, every read
    is a full read.

    The rows of profiles deleted since the snapshot was written are dropped from
    the file itself, not only from what is returned: the file is a copy of
    their viewing on the worker's disk, and kept until the next full read it
    outlived their deletion by up to a week (or for good, on a worker that
    retrains no more). Telling them from other regions' profiles takes every
    profile's id (one packed read of the primary key).
    """

    def keeps(epoch: np.ndarray, profile_id: np.ndarray) -> npt.NDArray[np.bool_]:
        mask = epoch >= since.timestamp()
        if profiles is not None:
            mask &= index_of(profiles, profile_id) >= 0
        return mask

    def kept(columns: SignalColumns) -> SignalColumns:
        return columns.subset(keeps(columns.epoch, columns.profile_id))

    queryset = signal_queryset(since=since, with_id=True)
    path = _snapshot_path()
    read_at = timezone.now().timestamp()
    if path is None or connection.in_atomic_block:
        columns = signal_columns(queryset, progress=progress)
        reason = "no snapshot directory" if path is None else "inside a transaction"
        return kept(columns), SnapshotRead("full", reason, 0, len(columns), 0)
    identity = _database_identity()
    stored, previous, reason = _snapshot_load(path, identity, since.timestamp(), read_at)
    watermark = int(stored["watermark"]) if stored else 0
    # Dated before the read: a writer still open then has its rows left above the watermark.
    settled = _settled_before(read_at)
    delta = signal_columns(queryset, progress=progress, after_id=watermark if stored else None)
    new_watermark = watermark
    if settled is not None:
        ready = delta.received < settled
        if ready.any():
            # Up to the last settled row, and below the first unsettled one. A row still
            # uncommitted is invisible here, so "below the first unsettled row" alone is
            # not enough: rows committed after an open writer began have ids above its
            # row's, and the watermark would pass it for good. Its id was taken after the
            # writer began, so after every settled row's (ids are taken in time order):
            # the last settled id is below it.
            limit = int(delta.signal_id[ready].max())
            unsettled = delta.signal_id[~ready]
            if unsettled.size:
                limit = min(limit, int(unsettled.min()) - 1)
            new_watermark = max(watermark, limit)
    parts = []
    n_previous = 0 if previous is None else previous.shape[0]
    living = sorted_pks(Profile.objects.all()) if n_previous else None
    alive = np.ones(n_previous, dtype=bool)
    for start in range(0, n_previous, _SNAPSHOT_CHUNK):
        # Decide on two fields of the mapped records, then copy out only the rows kept.
        records = previous[start : start + _SNAPSHOT_CHUNK]
        alive[start : start + records.shape[0]] = index_of(living, records["profile_id"]) >= 0
        parts.append(_records_columns(records[keeps(records["epoch"], records["profile_id"])]))
    parts.append(kept(delta))
    n_alive = int(alive.sum())
    # Else the stored one is still exact, and holds no deleted profile's rows.
    if previous is None or new_watermark > watermark or n_alive < n_previous:
        settled_delta = delta.subset(delta.signal_id <= new_watermark)
        try:
            _snapshot_save(
                path,
                [part for part in (previous, settled_delta) if part is not None],
                n_alive + len(settled_delta),
                records_kept=alive if n_alive < n_previous else None,
                watermark=new_watermark,
                identity=identity,
                since=float(stored["since"]) if stored else since.timestamp(),
                created_at=float(stored["created_at"]) if stored else read_at,
            )
        except OSError:
            logger.warning("Could not write the signal snapshot %s", path, exc_info=True)
    mode = "incremental" if previous is not None else "full"
    how = SnapshotRead(mode, reason, n_previous, len(delta), new_watermark)
    return SignalColumns.concatenate(parts), how


def training_signals(
    *,
    titles: npt.NDArray[np.int64],
    episodes: EpisodeTable,
    title_runtime_hours: npt.NDArray[np.float32],
    region_code: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    include_impressions: bool = False,
    chunk_size: int = 200_000,
    progress: Progress = _no_progress,
    snapshot: bool = False,
    read_info: dict | None = None,
) -> TrainingSignals:
    """Load signals (of one region's households, or all) into :class:`TrainingSignals`.

    Parameters
    ----------
    titles : array of int64, shape (n_titles,)
        The title index space (:func:`title_ids`).
    episodes : EpisodeTable
        For completion commitment; see :func:`completion_hours`.
    title_runtime_hours : array of float32, shape (n_titles,)
        Runtime of a film (or the typical episode of a series), in hours.
    region_code : str, optional
        Only profiles whose household's home region this is; all when None.
    since, until : datetime, optional
        Half-open window on ``occurred_at``.
    include_impressions : bool
    chunk_size : int
        Rows per fetch; bounds the Python objects alive at once.
    progress : callable, optional
        Called with the number of rows of each chunk read.
    snapshot : bool
        Read through the signal snapshot (:func:`signal_columns_snapshot`; needs
        ``since`` and no impressions): what a retrain does, so that it reads only
        what arrived since the last one.
    read_info : dict, optional
        Filled with how the signals were read (full or incremental, rows).
    """
    if snapshot and since is not None and not include_impressions:
        # What a full read's joins would leave out: deleted profiles, other regions.
        profiles = Profile.objects.all()
        if region_code is not None:
            profiles = profiles.filter(account__home_region_id=region_code)
        known = sorted_pks(profiles)
        columns, how = signal_columns_snapshot(since=since, profiles=known, progress=progress)
        if read_info is not None:
            read_info.update(dataclasses.asdict(how))
        if until is not None:
            columns = columns.subset(columns.epoch < until.timestamp())
    else:
        queryset = signal_queryset(
            region_code=region_code,
            since=since,
            until=until,
            include_impressions=include_impressions,
            with_id=True,
        )
        if connection.vendor == "postgresql":
            columns = signal_columns(queryset, progress=progress)
        else:
            columns = SignalColumns.from_rows(
                signal_arrays(queryset, chunk_size=chunk_size, progress=progress)
            )
        if read_info is not None:
            read_info.update(mode="full", reason="not asked for", delta_rows=len(columns))
    return signals_from_columns(
        columns,
        profiles=np.unique(columns.profile_id),
        titles=titles,
        episodes=episodes,
        title_runtime_hours=title_runtime_hours,
    )


def signals_from_arrays(
    raw: np.ndarray,
    *,
    profiles: npt.NDArray[np.int64],
    titles: npt.NDArray[np.int64],
    episodes: EpisodeTable,
    title_runtime_hours: npt.NDArray[np.float32],
) -> TrainingSignals:
    """:class:`TrainingSignals` from the (n, 7) rows of :func:`signal_arrays`.

    Shared by training (many profiles) and serving (one profile's history), so
    that the two read signals, and weigh completions, identically.
    """
    return signals_from_columns(
        SignalColumns.from_rows(raw),
        profiles=profiles,
        titles=titles,
        episodes=episodes,
        title_runtime_hours=title_runtime_hours,
    )


def signals_from_columns(
    columns: SignalColumns,
    *,
    profiles: npt.NDArray[np.int64],
    titles: npt.NDArray[np.int64],
    episodes: EpisodeTable,
    title_runtime_hours: npt.NDArray[np.float32],
) -> TrainingSignals:
    """:class:`TrainingSignals` from :class:`SignalColumns` (see :func:`signals_from_arrays`)."""
    profile_index = index_of(profiles, columns.profile_id)
    title_index = np.where(columns.title_id >= 0, index_of(titles, columns.title_id), -1).astype(
        np.int32
    )
    kind = columns.kind
    # Signals on titles outside the index (added after it was read) cannot be learned from.
    keep = (title_index >= 0) | (kind == SignalCode.ROW_SCROLL_PAST)
    episode_id, value, timestamp, rewatch = (
        columns.episode_id,
        columns.value,
        columns.epoch,
        columns.rewatch,
    )
    if not keep.all():
        profile_index, title_index, kind = profile_index[keep], title_index[keep], kind[keep]
        episode_id, value, timestamp, rewatch = (
            episode_id[keep],
            value[keep],
            timestamp[keep],
            rewatch[keep],
        )
    hours = completion_hours(
        profile_index=profile_index,
        title_index=title_index,
        episode_id=episode_id,
        kind=kind,
        timestamp=timestamp,
        episodes=episodes,
        title_runtime_hours=title_runtime_hours,
    )
    return TrainingSignals(
        profile_ids=profiles,
        title_ids=titles,
        profile_index=profile_index,
        title_index=title_index,
        episode_id=episode_id,
        kind=kind,
        value=value,
        timestamp=timestamp,
        rewatch=rewatch,
        commitment_hours=hours,
    )


# --- Episodes and completion commitment -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EpisodeTable:
    """Episodes and seasons of the catalogue, for weighing completions by commitment.

    Attributes
    ----------
    episode_ids : numpy.ndarray of int64, shape (n_episodes,), ascending
    season_index : numpy.ndarray of int32, shape (n_episodes,)
    runtime_hours : numpy.ndarray of float32, shape (n_episodes,)
    season_hours : numpy.ndarray of float32, shape (n_seasons,)
        Total runtime of each season.
    season_size : numpy.ndarray of int32, shape (n_seasons,)
        Episodes in each season.
    """

    episode_ids: npt.NDArray[np.int64]
    season_index: npt.NDArray[np.int32]
    runtime_hours: npt.NDArray[np.float32]
    season_hours: npt.NDArray[np.float32]
    season_size: npt.NDArray[np.int32]


def episode_table() -> EpisodeTable:
    """Every episode with its season and runtime: one query."""
    rows = integer_rows(
        Episode.objects.order_by().values_list("pk", "season_id", "runtime_minutes"), 3
    )
    rows = rows[np.argsort(rows[:, 0])]
    seasons, season_index = np.unique(rows[:, 1], return_inverse=True)
    runtime = rows[:, 2] / 60.0
    return EpisodeTable(
        episode_ids=rows[:, 0],
        season_index=season_index.astype(np.int32),
        runtime_hours=runtime.astype(np.float32),
        season_hours=np.bincount(season_index, weights=runtime, minlength=len(seasons)).astype(
            np.float32
        ),
        season_size=np.bincount(season_index, minlength=len(seasons)).astype(np.int32),
    )


class _ReleaseSpan(NamedTuple):
    """What :class:`SeasonReleases` answers for every moment in [since, until)."""

    since: float
    until: float
    episodes_out: npt.NDArray[np.int32]
    newest_out: npt.NDArray[np.float64]
    by_newest: npt.NDArray[np.intp]  # titles with a dated season out, oldest newest first
    newest_of_those: npt.NDArray[np.float64]


class SeasonReleases:
    """How many episodes of each series are out at a moment, and when its newest season came out.

    A season counts from midnight UTC of its ``release_date`` (as a title's
    ``release_day``); one without a date is out. What a profile has left of a
    series is compared with this count, so that a season announced but not out
    is nothing left, and one out (or added to the catalogue) since the profile
    finished the series is. The newest season out makes a series that arrived
    years ago a "New Release" again. Both change only at a release, so those
    of the span between two releases are computed once and shared by every
    request inside it (read-only).

    Parameters
    ----------
    title_index : numpy.ndarray of int32, shape (n,)
        The title, on the title index, of each season (or each episode:
        :meth:`SeriesEpisodes.season_releases`).
    release : numpy.ndarray of float64, shape (n,)
        Unix seconds from which each is out (-inf: no date).
    size : numpy.ndarray of int32, shape (n,)
        Episodes in each (1 for an episode).
    n_titles : int
    """

    def __init__(
        self,
        title_index: npt.NDArray[np.int32],
        release: npt.NDArray[np.float64],
        size: npt.NDArray[np.int32],
        n_titles: int,
    ) -> None:
        self.title_index = title_index
        self.release = release
        self.size = size
        self.n_titles = n_titles
        self._boundaries = np.unique(release[np.isfinite(release)])
        self._out: _ReleaseSpan | None = None

    def _span(self, at: float) -> _ReleaseSpan:
        cached = self._out
        if cached is not None and cached.since <= at < cached.until:
            return cached
        boundaries = self._boundaries
        i = int(np.searchsorted(boundaries, at, side="right"))
        since = float(boundaries[i - 1]) if i > 0 else -np.inf
        until = float(boundaries[i]) if i < boundaries.shape[0] else np.inf
        out = self.release <= at
        counts = np.bincount(
            self.title_index[out], weights=self.size[out], minlength=self.n_titles
        ).astype(np.int32)
        newest = np.full(self.n_titles, -np.inf, dtype=np.float64)
        np.maximum.at(newest, self.title_index[out], self.release[out])
        dated = np.flatnonzero(np.isfinite(newest))
        by_newest = dated[np.argsort(newest[dated], kind="stable")]
        for array in (counts, newest, by_newest):
            array.flags.writeable = False
        span = _ReleaseSpan(since, until, counts, newest, by_newest, newest[by_newest])
        self._out = span
        return span

    def episodes_out(self, at: float) -> npt.NDArray[np.int32]:
        """Episodes out at Unix time ``at`` of each title, shape (n_titles,); read-only."""
        return self._span(at).episodes_out

    def newest_out(self, at: float) -> npt.NDArray[np.float64]:
        """When the newest season out at Unix time ``at`` of each title came out, shape
        (n_titles,); -inf for a title with none out, or none with a date; read-only."""
        return self._span(at).newest_out

    def renewed_since(self, since: float, at: float) -> npt.NDArray[np.intp]:
        """Titles whose newest season out at ``at`` came out at ``since`` or later, oldest
        first: a binary search, not a pass over the catalogue."""
        span = self._span(at)
        return span.by_newest[np.searchsorted(span.newest_of_those, since, side="left") :]


def _release_seconds(dates: Iterable[dt.date | None]) -> npt.NDArray[np.float64]:
    """Unix seconds from which each season is out: midnight UTC of its release date, -inf
    without one."""
    epoch = dt.date(1970, 1, 1)
    return np.array(
        [-np.inf if d is None else (d - epoch).days * SECONDS_PER_DAY for d in dates],
        dtype=np.float64,
    )


@dataclass(frozen=True, slots=True)
class SeriesEpisodes:
    """Every series' episodes in order (season, then episode number), on a title index.

    What the homepage's Continue Watching tiles resume on
    (:func:`~recommendations.selectors.signals.resume_index`), held with the other
    catalogue arrays and re-read with them, so that a tile's episode and the count
    of episodes out that put the series in the row come from one reading.

    Attributes
    ----------
    start : numpy.ndarray of int64, shape (n_titles + 1,)
        Title ``t``'s episodes are ``start[t]:start[t + 1]`` of the arrays below
        (none for a film).
    episode_ids : numpy.ndarray of int64, shape (n_episodes,)
    season_number, episode_number : numpy.ndarray of int32, shape (n_episodes,)
    release : numpy.ndarray of float64, shape (n_episodes,)
        Unix seconds from which the episode's season is out (midnight UTC of its
        release date, as :class:`SeasonReleases` counts it); -inf without a date.
    """

    start: npt.NDArray[np.int64]
    episode_ids: npt.NDArray[np.int64]
    season_number: npt.NDArray[np.int32]
    episode_number: npt.NDArray[np.int32]
    release: npt.NDArray[np.float64]

    def of(self, title_index: int) -> slice:
        """Where title ``title_index``'s episodes are in the arrays."""
        return slice(int(self.start[title_index]), int(self.start[title_index + 1]))

    def season_releases(self) -> SeasonReleases:
        """How many episodes are out when, counted off these episodes, one unit each.

        Derived rather than read again: the count of episodes out that puts a series
        back in Continue Watching and the episode its tile resumes on then come from
        the same reading of the catalogue.
        """
        n_titles = self.start.shape[0] - 1
        title_index = np.repeat(np.arange(n_titles, dtype=np.int32), np.diff(self.start))
        return SeasonReleases(
            title_index=title_index,
            release=self.release,
            size=np.ones(title_index.shape[0], dtype=np.int32),
            n_titles=n_titles,
        )


def series_episodes(titles: npt.NDArray[np.int64]) -> SeriesEpisodes:
    """The episodes of the index's series, in order: two queries (seasons, then episodes)."""
    seasons = list(
        Season.objects.order_by("pk").values_list("pk", "title_id", "number", "release_date")
    )
    season_ids = np.array([r[0] for r in seasons], dtype=np.int64)
    season_release = _release_seconds([r[3] for r in seasons])
    season_title = np.array([r[1] for r in seasons], dtype=np.int64)
    rows = integer_rows(Episode.objects.order_by().values_list("pk", "season_id", "number"), 3)
    season = np.searchsorted(season_ids, rows[:, 1]).clip(max=max(season_ids.shape[0] - 1, 0))
    title = np.full(rows.shape[0], -1, dtype=np.int64)
    if season_ids.shape[0]:
        # An episode of a season added between the two reads waits for the next reading.
        found = season_ids[season] == rows[:, 1]
        title = np.where(found, index_of(titles, season_title[season]), -1)
    keep = title >= 0
    rows, season, title = rows[keep], season[keep], title[keep]
    season_number = np.array([r[2] for r in seasons], dtype=np.int32)[season]
    order = np.lexsort((rows[:, 2], season_number, title))
    title = title[order]
    return SeriesEpisodes(
        start=np.searchsorted(title, np.arange(titles.shape[0] + 1), side="left").astype(np.int64),
        episode_ids=rows[order, 0],
        season_number=season_number[order],
        episode_number=rows[order, 2].astype(np.int32),
        release=season_release[season[order]],
    )


def completion_hours(
    *,
    profile_index: npt.NDArray[np.int32],
    title_index: npt.NDArray[np.int32],
    episode_id: npt.NDArray[np.int64],
    kind: npt.NDArray[np.int8],
    timestamp: npt.NDArray[np.float64],
    episodes: EpisodeTable,
    title_runtime_hours: npt.NDArray[np.float32],
) -> npt.NDArray[np.float32]:
    """Hours of viewing each COMPLETE signal finished; NaN for other kinds.

    - a film (or a completion without an episode): the title's runtime;
    - an episode: the episode's runtime;
    - the completion that finished a whole season for its profile (its last
      not-yet-finished episode, counting each episode's first completion among
      the signals given): the season's total runtime. This is what makes a
      finished 10-episode season weigh more than a film.

    Fully vectorised: distinct (profile, season, episode) first completions
    with ``numpy.unique``, then per (profile, season) counts and latest times.
    """
    n = kind.shape[0]
    hours = np.full(n, np.nan, dtype=np.float32)
    complete = kind == SignalCode.COMPLETE
    if not complete.any():
        return hours
    on_title = complete & (title_index >= 0)
    hours[on_title] = title_runtime_hours[title_index[on_title]]
    episode_pos = index_of(episodes.episode_ids, np.where(complete, episode_id, -1))
    with_episode = complete & (episode_pos >= 0)
    if not with_episode.any():
        return hours
    rows = np.flatnonzero(with_episode)
    positions = episode_pos[rows]
    hours[rows] = episodes.runtime_hours[positions]

    n_seasons = episodes.season_size.shape[0]
    season = episodes.season_index[positions].astype(np.int64)
    group = profile_index[rows].astype(np.int64) * n_seasons + season
    # First completion of each (profile, season, episode): sort by group, episode, time.
    order = np.lexsort((timestamp[rows], positions, group))
    g, e = group[order], positions[order]
    first = np.r_[True, (g[1:] != g[:-1]) | (e[1:] != e[:-1])]
    first_rows = order[first]  # positions in ``rows`` of each episode's first completion
    groups, group_of = np.unique(group[first_rows], return_inverse=True)
    finished = np.bincount(group_of, minlength=groups.shape[0])
    season_of_group = groups % n_seasons
    complete_groups = finished >= episodes.season_size[season_of_group]
    if not complete_groups.any():
        return hours
    latest = np.full(groups.shape[0], -np.inf)
    np.maximum.at(latest, group_of, timestamp[rows][first_rows])
    # The first completion whose time is the group's latest first completion closed the season.
    closes = complete_groups[group_of] & (timestamp[rows][first_rows] == latest[group_of])
    closing_rows = rows[first_rows[closes]]
    hours[closing_rows] = episodes.season_hours[season_of_group[group_of[closes]]]
    return hours


# --- Catalogue --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogueFacts:
    """Per-title facts the candidate filters and ranking features need, shape (n_titles,) each.

    Attributes
    ----------
    maturity : numpy.ndarray of int16
    is_series : numpy.ndarray of bool
    runtime_hours : numpy.ndarray of float32
    release_day : numpy.ndarray of float64
        Release date as Unix seconds (midnight UTC).
    language : numpy.ndarray of int16
        Index of the original language in ``language_codes``.
    language_codes : tuple of str
    """

    maturity: npt.NDArray[np.int16]
    is_series: npt.NDArray[np.bool_]
    runtime_hours: npt.NDArray[np.float32]
    release_day: npt.NDArray[np.float64]
    language: npt.NDArray[np.int16]
    language_codes: tuple[str, ...]


def catalogue_facts(titles: npt.NDArray[np.int64]) -> CatalogueFacts:
    """Facts of every title in the index: one query. Titles deleted since count as unreleased."""
    codes = tuple(Language.objects.order_by("code").values_list("code", flat=True))
    code_index = {code: i for i, code in enumerate(codes)}
    n = titles.shape[0]
    maturity = np.full(n, 255, dtype=np.int16)  # a vanished title is above every limit
    is_series = np.zeros(n, dtype=bool)
    runtime = np.full(n, 2.0, dtype=np.float32)
    release = np.full(n, np.inf)
    language = np.full(n, -1, dtype=np.int16)
    rows = list(
        Title.objects.values_list(
            "pk", "maturity", "kind", "runtime_minutes", "release_date", "original_language_id"
        )
    )
    if rows:
        pks = np.array([r[0] for r in rows], dtype=np.int64)
        at = index_of(titles, pks)
        known = at >= 0
        epoch = dt.date(1970, 1, 1)
        for column, values in (
            (maturity, [r[1] for r in rows]),
            (is_series, [r[2] == Title.Kind.SERIES for r in rows]),
            (runtime, [r[3] / 60.0 for r in rows]),
            (release, [(r[4] - epoch).days * SECONDS_PER_DAY for r in rows]),
            (language, [code_index.get(r[5], -1) for r in rows]),
        ):
            column[at[known]] = np.asarray(values, dtype=column.dtype)[known]
    return CatalogueFacts(
        maturity=maturity,
        is_series=is_series,
        runtime_hours=runtime,
        release_day=release,
        language=language,
        language_codes=codes,
    )


@dataclass(frozen=True, slots=True)
class TitleFeatures:
    """The title x feature indicator matrix of the content model.

    Columns are grouped: genres first (so ``matrix[:, :n_genres]`` is the genre
    table the rankers use), then tags, cast, directors and creators, original
    language.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix of float32, shape (n_titles, n_features)
    feature_weights : numpy.ndarray of float32, shape (n_features,)
        :data:`FEATURE_GROUP_WEIGHTS` per column.
    genre_ids : numpy.ndarray of int64, shape (n_genres,)
    group_sizes : dict of str to int
    feature_names : numpy.ndarray of str, shape (n_features,)
        ``"<group>:<id>"`` (``"language:<code>"``): the vocabulary a fitted content
        model keeps, so that a title added after training is vectorised in it.
    """

    matrix: sp.csr_matrix
    feature_weights: npt.NDArray[np.float32]
    genre_ids: npt.NDArray[np.int64]
    group_sizes: dict[str, int]
    feature_names: npt.NDArray[np.str_] = field(default_factory=lambda: np.empty(0, str))

    @property
    def n_genres(self) -> int:
        return int(self.genre_ids.shape[0])

    def genre_table(self) -> npt.NDArray[np.float32]:
        """Dense (n_titles, n_genres) 0/1 table: cheap to fancy-index per request."""
        return np.asarray(self.matrix[:, : self.n_genres].todense(), dtype=np.float32)


def _pairs(queryset: QuerySet) -> tuple[np.ndarray, np.ndarray]:
    array = integer_rows(queryset.order_by(), 2)
    return array[:, 0], array[:, 1]


def _feature_links(titles: npt.NDArray[np.int64] | None = None) -> list[tuple[str, Any, Any]]:
    """(group, title ids, values) of each feature group, of every title or of ``titles``.

    Five queries, each a ``values_list`` over a link table. Values are ids, and
    language codes for the original language.
    """

    def only(queryset: QuerySet, field: str = "title_id") -> QuerySet:
        return queryset if titles is None else queryset.filter(**{f"{field}__in": titles.tolist()})

    genre_title, genre = _pairs(
        only(Title.genres.through.objects.values_list("title_id", "genre_id"))
    )
    tag_title, tag = _pairs(only(Title.tags.through.objects.values_list("title_id", "tag_id")))
    cast_title, cast = _pairs(
        only(
            Credit.objects.filter(role=Credit.Role.ACTOR, order__lt=CAST_MAX_ORDER).values_list(
                "title_id", "person_id"
            )
        )
    )
    director_title, director = _pairs(
        only(
            Credit.objects.filter(
                Q(role=Credit.Role.DIRECTOR) | Q(role=Credit.Role.CREATOR)
            ).values_list("title_id", "person_id")
        )
    )
    language_rows = list(only(Title.objects.values_list("pk", "original_language_id"), "pk"))
    language_title = np.array([r[0] for r in language_rows], dtype=np.int64)
    language_codes = np.array([r[1] for r in language_rows], dtype=str)
    return [
        ("genre", genre_title, genre),
        ("tag", tag_title, tag),
        ("cast", cast_title, cast),
        ("director", director_title, director),
        ("language", language_title, language_codes),
    ]


def _feature_name(group: str, values: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Each value's column name in the content model: ``"<group>:<id or code>"``."""
    return np.char.add(f"{group}:", np.asarray(values).astype(str)).astype(str)


def title_features(titles: npt.NDArray[np.int64]) -> TitleFeatures:
    """Genres, tags, leading cast, directors/creators and original language per title.

    Five queries, each a ``values_list`` over a link table.
    """
    links = _feature_links()
    from catalog.models import Genre  # the genre vocabulary is every genre, used or not

    genre_ids = np.fromiter(Genre.objects.order_by("pk").values_list("pk", flat=True), np.int64)
    groups: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    _, genre_title, genre = links[0]
    genre_col = index_of(genre_ids, genre)
    groups.append(("genre", genre_title[genre_col >= 0], genre_col[genre_col >= 0], genre_ids))
    for name, owner, values in links[1:]:
        vocabulary, column = np.unique(values, return_inverse=True)
        groups.append((name, owner, column.astype(np.int64), vocabulary))

    rows, cols, weights, names, sizes = [], [], [], [], {}
    offset = 0
    for name, owner, column, vocabulary in groups:
        size = vocabulary.shape[0]
        at = index_of(titles, owner)
        known = at >= 0
        rows.append(at[known])
        cols.append(column[known] + offset)
        weights.append(np.full(size, FEATURE_GROUP_WEIGHTS[name], dtype=np.float32))
        names.append(_feature_name(name, vocabulary))
        sizes[name] = int(size)
        offset += size
    row = np.concatenate(rows) if rows else np.empty(0, np.int64)
    col = np.concatenate(cols) if cols else np.empty(0, np.int64)
    matrix = sp.csr_matrix(
        (np.ones(row.shape[0], dtype=np.float32), (row, col)),
        shape=(titles.shape[0], offset),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return TitleFeatures(
        matrix=matrix,
        feature_weights=np.concatenate(weights) if weights else np.empty(0, np.float32),
        genre_ids=genre_ids,
        group_sizes=sizes,
        feature_names=np.concatenate(names) if names else np.empty(0, str),
    )


@dataclass(frozen=True, slots=True)
class FeatureNames:
    """The content features of a few titles, by name: for titles a fitted model does not know.

    Attributes
    ----------
    row : numpy.ndarray of int64, shape (n,)
        Position of the title in the ids asked for.
    name : numpy.ndarray of str, shape (n,)
        As :attr:`TitleFeatures.feature_names` names columns.
    n_titles : int
    """

    row: npt.NDArray[np.int64]
    name: npt.NDArray[np.str_]
    n_titles: int


def title_feature_names(titles: npt.NDArray[np.int64]) -> FeatureNames:
    """The features of ``titles`` (ascending) by name: five queries filtered to those titles,
    none when there are none."""
    if titles.shape[0] == 0:
        return FeatureNames(np.empty(0, np.int64), np.empty(0, str), 0)
    rows, names = [], []
    for group, owner, values in _feature_links(titles):
        at = index_of(titles, owner)
        rows.append(at[at >= 0].astype(np.int64))
        names.append(_feature_name(group, np.asarray(values)[at >= 0]))
    return FeatureNames(np.concatenate(rows), np.concatenate(names), int(titles.shape[0]))


def titles_with_windows() -> npt.NDArray[np.int64]:
    """Ids of the titles with an availability window in some region, ascending: one query."""
    return np.unique(
        np.fromiter(
            Availability.objects.order_by().values_list("title_id", flat=True).distinct(),
            dtype=np.int64,
        )
    )


# --- Availability -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AvailabilityWindows:
    """Licensing windows as arrays, evaluated at any instant without a query.

    Attributes
    ----------
    region_codes : tuple of str
    region : numpy.ndarray of int16, shape (w,)
        Index into ``region_codes`` of each window.
    title_index : numpy.ndarray of int32, shape (w,)
    starts, ends : numpy.ndarray of float64, shape (w,)
        Unix seconds; -inf and +inf for open ends.
    n_titles : int
    """

    region_codes: tuple[str, ...]
    region: npt.NDArray[np.int16]
    title_index: npt.NDArray[np.int32]
    starts: npt.NDArray[np.float64]
    ends: npt.NDArray[np.float64]
    n_titles: int

    def for_region(self, region_code: str) -> AvailabilityWindows:
        """Only the windows of one region (so each request scans a region's windows only)."""
        if region_code not in self.region_codes:
            keep = np.zeros(self.region.shape[0], dtype=bool)
        else:
            keep = self.region == self.region_codes.index(region_code)
        return AvailabilityWindows(
            region_codes=(region_code,),
            region=np.zeros(int(keep.sum()), dtype=np.int16),
            title_index=self.title_index[keep],
            starts=self.starts[keep],
            ends=self.ends[keep],
            n_titles=self.n_titles,
        )

    def available(self, at: float, region_code: str | None = None) -> npt.NDArray[np.bool_]:
        """Titles inside a window at Unix time ``at`` (in one region, or any), shape (n_titles,)."""
        inside = (self.starts <= at) & (at < self.ends)
        if region_code is not None:
            if region_code not in self.region_codes:
                return np.zeros(self.n_titles, dtype=bool)
            inside &= self.region == self.region_codes.index(region_code)
        mask = np.zeros(self.n_titles, dtype=bool)
        mask[self.title_index[inside]] = True
        return mask

    def arrival(self, release_day: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """When each title became watchable here: the later of its release and first window.

        Call on :meth:`for_region`'s result. Titles without a window arrive never (+inf).
        """
        first_start = np.full(self.n_titles, np.inf)
        np.minimum.at(first_start, self.title_index, self.starts)
        return np.maximum(release_day, first_start)


def availability_windows(
    titles: npt.NDArray[np.int64], *, region_code: str | None = None
) -> AvailabilityWindows:
    """Every availability window (of one region, or all) on the title index: one query.

    The database turns the bounds into Unix seconds: tens of thousands of windows
    as Python datetimes cost most of a second of a retrain.
    """
    queryset = Availability.objects.all()
    if region_code is not None:
        queryset = queryset.filter(region_id=region_code)
    rows = list(
        queryset.order_by().values_list(
            "region_id", "title_id", epoch_expression("starts_at"), epoch_expression("ends_at")
        )
    )
    codes = tuple(sorted({r[0] for r in rows}))
    lookup = {code: i for i, code in enumerate(codes)}
    at = index_of(titles, np.array([r[1] for r in rows], dtype=np.int64))
    keep = at >= 0
    starts = np.array([r[2] for r in rows], dtype=np.float64).reshape(-1)  # NULL -> NaN
    ends = np.array([r[3] for r in rows], dtype=np.float64).reshape(-1)
    return AvailabilityWindows(
        region_codes=codes,
        region=np.array([lookup[r[0]] for r in rows], dtype=np.int16).reshape(-1)[keep],
        title_index=at[keep],
        starts=np.where(np.isnan(starts), -np.inf, starts)[keep],
        ends=np.where(np.isnan(ends), np.inf, ends)[keep],
        n_titles=int(titles.shape[0]),
    )


# --- Profiles ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileGroups:
    """Region and taste cluster of each profile in an index, for trending per group.

    Attributes
    ----------
    region_codes : tuple of str
        All regions (index space of ``region``).
    region : numpy.ndarray of int16, shape (n_profiles,)
    cluster_ids : numpy.ndarray of int64, shape (n_clusters,)
        Clusters that have at least one of the profiles.
    cluster : numpy.ndarray of int32, shape (n_profiles,)
        Index into ``cluster_ids``; -1 for a profile without a cluster.
    """

    region_codes: tuple[str, ...]
    region: npt.NDArray[np.int16]
    cluster_ids: npt.NDArray[np.int64]
    cluster: npt.NDArray[np.int32]


def code_position(field: str, codes: tuple[str, ...]) -> Case:
    """The code in ``field`` as its position in ``codes`` (-1 for another), computed by the
    database so that rows keyed by a code are read as integers only (:func:`integer_rows`)."""
    return Case(
        *(When(**{field: code}, then=Value(i)) for i, code in enumerate(codes)),
        default=Value(-1),
        output_field=IntegerField(),
    )


@dataclass(frozen=True, slots=True)
class ProfileRows:
    """Every profile's region (position in ``region_codes``) and cluster id, as read.

    Attributes
    ----------
    region_codes : tuple of str
    rows : numpy.ndarray of int64, shape (n, 3)
        Profile id, region position, cluster id (-1: none), in no particular order.
    """

    region_codes: tuple[str, ...]
    rows: npt.NDArray[np.int64]


def profile_rows() -> ProfileRows:
    """Every profile's region and cluster: one query, read as integers."""
    codes = tuple(Region.objects.order_by("code").values_list("code", flat=True))
    rows = integer_rows(
        Profile.objects.annotate(region_index=code_position("account__home_region_id", codes))
        .order_by()
        .values_list("pk", "region_index", "taste_cluster_id"),
        3,
    )
    return ProfileRows(region_codes=codes, rows=rows)


@dataclass(frozen=True, slots=True)
class LanguageLinks:
    """The profiles' preferred languages, as read.

    Attributes
    ----------
    language_codes : tuple of str
        Every language code, ascending (index space of ``rows[:, 2]``).
    rows : numpy.ndarray of int64, shape (n, 3)
        Link id, profile id, language position, in no particular order.
    """

    language_codes: tuple[str, ...]
    rows: npt.NDArray[np.int64]


def preferred_language_links(region_code: str) -> LanguageLinks:
    """The preferred languages of the region's profiles: one query, read as integers."""
    codes = tuple(Language.objects.order_by("code").values_list("code", flat=True))
    rows = integer_rows(
        Profile.preferred_languages.through.objects.filter(
            profile__account__home_region_id=region_code
        )
        .annotate(position=code_position("language_id", codes))
        .order_by()
        .values_list("pk", "profile_id", "position"),
        3,
    )
    return LanguageLinks(language_codes=codes, rows=rows)


def profile_groups(
    profiles: npt.NDArray[np.int64], *, read: ProfileRows | None = None
) -> ProfileGroups:
    """The region and cluster of each profile (of ``read``, or read now: one query)."""
    read = read or profile_rows()
    codes, rows = read.region_codes, read.rows
    region = np.full(profiles.shape[0], -1, dtype=np.int16)
    cluster_pk = np.full(profiles.shape[0], -1, dtype=np.int64)
    at = index_of(profiles, rows[:, 0])
    known = at >= 0
    region[at[known]] = rows[known, 1]
    cluster_pk[at[known]] = rows[known, 2]
    cluster_ids = np.unique(cluster_pk[cluster_pk >= 0])
    return ProfileGroups(
        region_codes=codes,
        region=region,
        cluster_ids=cluster_ids,
        cluster=np.where(cluster_pk >= 0, index_of(cluster_ids, cluster_pk), -1).astype(np.int32),
    )
