"""The retrain's signal read: packed spans read in parallel, and the snapshot between retrains.

Both must give exactly what a plain read of the table gives. The snapshot's
tests commit their data (``transaction=True``): a snapshot is only kept and
used outside a transaction, where the rows it describes are committed.
"""

import contextlib
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from django.db import connection, transaction
from django.utils import timezone

from profiles.models import Profile
from profiles.services import profile_delete
from recommendations.models import Signal
from recommendations.selectors import training as data
from tests.factories import ProfileFactory, SignalFactory
from tests.recommendations.demo_world import seed_small_demo


def _read(region_code: str | None = None, **options: object) -> data.TrainingSignals:
    titles = data.title_ids()
    at = timezone.now()
    return data.training_signals(
        titles=titles,
        episodes=data.episode_table(),
        title_runtime_hours=data.catalogue_facts(titles).runtime_hours,
        region_code=region_code,
        since=at - dt.timedelta(days=365),
        until=at,
        **options,
    )


def _assert_same(expected: data.TrainingSignals, got: data.TrainingSignals) -> None:
    np.testing.assert_array_equal(got.profile_ids, expected.profile_ids)
    for name in ("profile_index", "title_index", "episode_id", "kind", "rewatch"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)
    for name in ("value", "timestamp", "commitment_hours"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), err_msg=name)


def _by_id(columns: data.SignalColumns) -> np.ndarray:
    names = ("signal_id", "profile_id", "title_id", "episode_id", "kind", "epoch", "rewatch")
    return np.column_stack([getattr(columns, name) for name in (*names, "received")])


@pytest.fixture
def small_world(settings, tmp_path) -> None:
    seed_small_demo(settings, tmp_path, titles=60, profiles=150, seed=9)


@pytest.mark.django_db
def test_packed_spans_read_what_the_cursor_reads(small_world):
    # given: the signals as the plain cursor path reads them (SQLite's way)
    queryset = data.signal_queryset(with_id=True)
    by_cursor = data.SignalColumns.from_rows(
        np.concatenate([np.array(rows, dtype=np.float64) for rows in data._chunks(queryset, 999)])
    )
    order = np.argsort(by_cursor.signal_id)

    # when: PostgreSQL packs them, in many spans (on this transaction's connection)
    packed = data.signal_columns(queryset, id_span=300)

    # then: the same rows and values, ordered by id
    assert len(packed) == len(by_cursor) > 2_000
    np.testing.assert_array_equal(_by_id(packed), _by_id(by_cursor)[order])
    np.testing.assert_array_equal(packed.value, by_cursor.value[order])
    # and: what arrived after an id, alone
    middle = int(packed.signal_id[len(packed) // 2])
    later = data.signal_columns(queryset, after_id=middle, id_span=300)
    np.testing.assert_array_equal(later.signal_id, packed.signal_id[packed.signal_id > middle])


@pytest.fixture
def committed_world(small_world, settings, tmp_path, monkeypatch) -> None:
    """The small world, committed, with a snapshot directory of the test's own, and rows that
    count as settled as soon as they are received."""
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_SIGNAL_CACHE_DIR": str(tmp_path / "cache")}
    monkeypatch.setattr(data, "SNAPSHOT_SETTLE_SECONDS", 0.0)
    monkeypatch.setattr(data, "READ_ID_SPAN", 700)  # several spans: two connections read them


@pytest.fixture
def reader_threads(monkeypatch) -> list[str]:
    """The names of the threads that read spans on connections of their own."""
    import threading

    names: list[str] = []
    read = data._read_spans_on_own_connection

    def recording(*args: object) -> None:
        names.append(threading.current_thread().name)
        read(*args)

    monkeypatch.setattr(data, "_read_spans_on_own_connection", recording)
    return names


def _arrive(n: int) -> list[int]:
    """``n`` new signals: copies of existing ones, received now, as an ingest would store them."""
    now = timezone.now()
    rows = list(Signal.objects.exclude(kind="impression").order_by("pk")[:n])
    for row in rows:
        row.pk = None
        row.client_event_id = uuid.uuid4()
        row.occurred_at = now - dt.timedelta(hours=1)
    return [signal.pk for signal in Signal.objects.bulk_create(rows)]


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_plus_what_arrived_since_reads_what_the_table_holds(
    committed_world, reader_threads
):
    # given: a first read, which reads the table in full (two connections) and keeps a snapshot
    first: dict = {}
    _assert_same(_read(), _read(snapshot=True, read_info=first))
    assert first["mode"] == "full"
    assert first["reason"] == "no snapshot"
    assert sorted(set(reader_threads)) == ["signal-read-0", "signal-read-1"]

    # when: signals arrive, a profile is deleted (its signals with it), and the next reads come
    arrived = _arrive(40)
    gone = Profile.objects.filter(signals__isnull=False).order_by("-pk").first()
    gone.delete()
    second: dict = {}
    incremental = _read(snapshot=True, read_info=second)

    # then: only what arrived was read from the table, and the result is the table's
    assert second["mode"] == "incremental"
    assert second["delta_rows"] == len(arrived)
    assert second["snapshot_rows"] == first["delta_rows"]
    assert second["watermark"] == max(arrived)
    _assert_same(_read(), incremental)
    assert gone.pk not in incremental.profile_ids
    # and: a region's read through the snapshot is that region's
    region: dict = {}
    _assert_same(_read("IN"), _read("IN", snapshot=True, read_info=region))
    assert region["mode"] == "incremental"
    assert region["delta_rows"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_is_not_trusted_beyond_what_it_can_vouch_for(committed_world):
    # given: a snapshot of the table
    _read(snapshot=True)
    description = data._snapshot_path()
    assert description is not None
    stored = json.loads(description.read_text())

    # when: it names another database (a restored or recreated one)
    description.write_text(json.dumps({**stored, "identity": "another"}))
    other: dict = {}
    _assert_same(_read(), _read(snapshot=True, read_info=other))
    # then: the table is read in full
    assert (other["mode"], other["reason"]) == ("full", "snapshot of another database or table")

    # when: rows it holds are no longer in the table (deleted behind its back)
    Signal.objects.filter(pk=int(json.loads(description.read_text())["watermark"])).delete()
    gone: dict = {}
    _assert_same(_read(), _read(snapshot=True, read_info=gone))
    assert (gone["mode"], gone["reason"]) == ("full", "snapshot rows no longer in the table")


@contextlib.contextmanager
def _writer_held_open(n: int) -> Iterator[list[int]]:
    """``n`` signals written by a transaction on another connection, left open (uncommitted)
    for the block's length and committed when it ends; yields their ids."""
    written: list[int] = []
    failed: list[BaseException] = []
    began, release = threading.Event(), threading.Event()

    def write() -> None:
        try:
            with transaction.atomic():
                written.extend(_arrive(n))
                began.set()
                release.wait(timeout=60)
        except BaseException as error:
            failed.append(error)
        finally:
            began.set()
            connection.close()

    thread = threading.Thread(target=write, name="open-writer", daemon=True)
    thread.start()
    try:
        assert began.wait(timeout=60), "the writer never wrote"
        if failed:
            raise failed[0]
        yield written
    finally:
        release.set()
        thread.join(timeout=60)
    assert not thread.is_alive(), "the writer never committed"
    if failed:
        raise failed[0]


@pytest.mark.django_db(transaction=True)
def test_rows_committed_while_a_writer_is_open_stay_above_the_watermark(committed_world):
    # given: a snapshot of the table
    _read(snapshot=True)
    settled = _arrive(2)  # committed before the writer began, below its row's id

    with _writer_held_open(1) as uncommitted:
        # when: rows arrive (committed) while another transaction writing signals is open,
        # with a lower id than theirs; the snapshot read cannot see that transaction's row
        arrived = _arrive(5)
        assert max(uncommitted) < min(arrived)
        held: dict = {}
        _assert_same(_read(), _read(snapshot=True, read_info=held))

        # then: the watermark stays before the open transaction's row, so that it is read
        # once committed, and what arrived meanwhile is read again next time
        assert held["mode"] == "incremental"
        assert held["delta_rows"] == len(settled) + len(arrived)
        assert held["watermark"] < min(uncommitted)
        again: dict = {}
        _read(snapshot=True, read_info=again)
        assert again["delta_rows"] == len(arrived)

    # when: the writer has committed
    after: dict = {}
    incremental = _read(snapshot=True, read_info=after)

    # then: its row is read with the others, and the result is the table's
    assert after["mode"] == "incremental"
    assert after["delta_rows"] >= len(arrived) + len(uncommitted)
    assert after["watermark"] == max(arrived)
    _assert_same(_read(), incremental)


@pytest.mark.parametrize("skew", [30.0, 300.0], ids=["30s", "5min"])
@pytest.mark.django_db(transaction=True)
def test_an_app_clock_behind_the_databases_does_not_move_the_watermark_past_an_open_writer(
    committed_world, monkeypatch, skew
):
    """``received_at`` is stamped by the app's clock and a writer's start by the database's:
    compared as they were, an app behind the database counted rows received after the writer
    began as received before it, and the watermark passed its row for good."""
    # given: the app's clock (ingest and retrain alike) behind the database's; a snapshot
    machine = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: machine() - dt.timedelta(seconds=skew))
    _read(snapshot=True)

    with _writer_held_open(1) as uncommitted:
        # when: rows arrive (committed) while a transaction writing signals is open
        arrived = _arrive(3)
        assert max(uncommitted) < min(arrived)
        held: dict = {}
        _read(snapshot=True, read_info=held)

        # then: the watermark stays before the open transaction's row
        assert held["watermark"] < min(uncommitted)

    # and: once it has committed, the snapshot holds the table
    _assert_same(_read(), _read(snapshot=True))


def _server_kwargs() -> dict[str, object]:
    """psycopg's keywords for the test database's server (any database on it)."""
    from django.db import connection

    given = connection.settings_dict
    names = {"HOST": "host", "PORT": "port", "USER": "user", "PASSWORD": "password"}
    return {name: given[key] for key, name in names.items() if given[key]}


@contextlib.contextmanager
def _database_and_its_copy(table: str) -> Iterator[tuple[str, str]]:
    """Two scratch databases holding ``table``, the second copied from the first, so that its
    relations have the first's OIDs (as a test database and its template's other copies do).

    The test database cannot be the template: ``CREATE DATABASE ... TEMPLATE`` wants no other
    session on it, and the test holds one. Both are dropped at the end."""
    import psycopg
    from psycopg.sql import SQL, Identifier

    stem = f"hygiene_oid_{uuid.uuid4().hex[:8]}"
    ours, copy = f"{stem}_ours", f"{stem}_copy"
    with psycopg.connect(dbname="postgres", autocommit=True, **_server_kwargs()) as admin:
        try:
            admin.execute(SQL("CREATE DATABASE {} TEMPLATE template0").format(Identifier(ours)))
            with psycopg.connect(dbname=ours, autocommit=True, **_server_kwargs()) as made:
                made.execute(SQL("CREATE TABLE {} (id bigint)").format(Identifier(table)))
            admin.execute(
                SQL("CREATE DATABASE {} TEMPLATE {}").format(Identifier(copy), Identifier(ours))
            )
            yield ours, copy
        finally:
            for name in (ours, copy):
                admin.execute(
                    SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(Identifier(name))
                )


@contextlib.contextmanager
def _insert_held_open(database: str, table: str) -> Iterator[None]:
    """A transaction on ``database`` that has inserted into ``table`` (holding the table's
    RowExclusiveLock), open for the block's length."""
    import psycopg
    from psycopg.sql import SQL, Identifier

    with psycopg.connect(dbname=database, **_server_kwargs()) as writer:
        writer.execute(SQL("INSERT INTO {} VALUES (1)").format(Identifier(table)))
        try:
            yield
        finally:
            writer.rollback()


def _oid(database: str, table: str) -> int:
    import psycopg

    with psycopg.connect(dbname=database, autocommit=True, **_server_kwargs()) as reader:
        return reader.execute("SELECT %s::regclass::oid", [table]).fetchone()[0]


def test_a_writer_on_another_database_does_not_hold_the_watermark_back(
    monkeypatch, django_db_blocker
):
    """pg_locks lists the whole server's locks, and a relation's OID is only unique within its
    database: a writer on a copy of ours locks a table of our signal table's OID."""
    from django.db import connections

    table = Signal._meta.db_table
    default = connections["default"]
    with django_db_blocker.unblock(), _database_and_its_copy(table) as (ours, copy):
        # given: our database and a copy of it, whose signal table has our table's OID
        assert _oid(ours, table) == _oid(copy, table)
        # A configured alias, as django.contrib.postgres looks its connections up by alias.
        monkeypatch.setitem(connections.settings, "ours", {**default.settings_dict, "NAME": ours})
        ours_connection = connections["ours"]
        monkeypatch.setattr(data, "connection", ours_connection)
        try:
            # when: a transaction writing the copy's signal table is open, and ours is read
            with _insert_held_open(copy, table):
                read_at = time.time() + 60  # after the writer began, whatever the clocks say
                settled = data._settled_before(read_at)

            # then: our rows are settled as though no one wrote
            assert settled == read_at - data.SNAPSHOT_SETTLE_SECONDS

            # and: a writer on ours still holds the watermark back (the check is alive)
            with _insert_held_open(ours, table):
                read_at = time.time() + 60
                held = data._settled_before(read_at)
            assert held is not None
            assert held < read_at - data.SNAPSHOT_SETTLE_SECONDS - 30
        finally:
            ours_connection.close()
            del connections["ours"]


@pytest.mark.django_db
def test_packed_integer_rows_are_the_querysets_rows_with_null_as_minus_one(small_world):
    # given: profiles, some without a taste cluster (NULL)
    Profile.objects.filter(pk__in=Profile.objects.order_by("pk").values("pk")[:20]).update(
        taste_cluster=None
    )
    queryset = Profile.objects.values_list("pk", "taste_cluster_id", "account_id")
    expected = sorted(tuple(-1 if v is None else v for v in row) for row in queryset)

    # when
    rows = data.integer_rows(queryset.order_by(), 3)

    # then
    assert rows.dtype == np.int64
    assert sorted(map(tuple, rows.tolist())) == expected
    assert (rows[:, 1] == -1).sum() >= 20


def _reader(names: list[str]):
    def read() -> int:
        names.append(threading.current_thread().name)
        return Profile.objects.count()

    return read


@pytest.mark.django_db(transaction=True)
def test_a_read_beside_runs_on_its_own_thread_and_hands_back_its_result_or_error():
    ProfileFactory.create_batch(3)  # committed: the other connection sees them
    names: list[str] = []

    wait = data.read_beside(_reader(names))

    assert wait() == 3
    assert names == ["read-beside"]
    with pytest.raises(ZeroDivisionError):
        data.read_beside(lambda: 1 // 0)()


@pytest.mark.django_db
def test_a_read_beside_inside_a_transaction_runs_here_and_sees_its_rows(small_world):
    # given: a change this transaction has not committed (another connection would not see it)
    Profile.objects.filter(pk=Profile.objects.order_by("pk").values("pk")[:1]).delete()
    names: list[str] = []

    # when
    count = data.read_beside(_reader(names))()

    # then
    assert count == Profile.objects.count()
    assert names == [threading.current_thread().name]


@pytest.mark.django_db
def test_the_databases_epoch_seconds_are_pythons_to_the_bit():
    # given: moments with microseconds, before 1970, and far ahead
    from django.db import connection

    moments = [
        dt.datetime(2026, 12, 2, 16, 3, 5, 123457, tzinfo=dt.UTC),
        dt.datetime(1969, 7, 20, 20, 17, 40, 999999, tzinfo=dt.UTC),
        dt.datetime(2099, 1, 1, 0, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        *(
            dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(m))
            for m in np.random.default_rng(3).integers(0, 10**14, 200)
        ),
    ]
    expression = data.epoch_expression("occurred_at").sql

    # when
    with connection.cursor() as cursor:
        got = []
        for moment in moments:
            sql = f'SELECT {expression} FROM (SELECT %s AS "occurred_at") AS t'  # noqa: S608
            cursor.execute(sql, [moment])
            got.append(cursor.fetchone()[0])

    # then: exactly datetime.timestamp(), the nearest double to the exact seconds
    assert got == [moment.timestamp() for moment in moments]


def _snapshot_rows() -> np.ndarray:
    """The rows the snapshot file holds now (read whole, not mapped)."""
    description = data._snapshot_path()
    assert description is not None
    stored = json.loads(description.read_text())
    return np.load(description.with_name(stored["rows"]), allow_pickle=False)


@pytest.mark.django_db(transaction=True)
def test_a_deleted_profiles_signals_leave_the_snapshot_at_the_next_read(committed_world):
    # given: a snapshot holding a profile's signals
    _read(snapshot=True)
    before = _snapshot_rows()
    gone = int(before["profile_id"][0])
    theirs = int((before["profile_id"] == gone).sum())
    assert theirs > 0

    # when: the profile is deleted, and a retrain reads through the snapshot again
    profile_delete(profile=Profile.objects.get(pk=gone))
    after_delete: dict = {}
    _assert_same(_read(), _read(snapshot=True, read_info=after_delete))

    # then: the file on the worker's disk no longer holds the profile's signals
    after = _snapshot_rows()
    assert gone not in set(after["profile_id"].tolist())
    assert after.shape[0] == before.shape[0] - theirs
    np.testing.assert_array_equal(
        after["signal_id"], before["signal_id"][before["profile_id"] != gone]
    )
    # and: nothing else was given up for it: the read stayed incremental
    assert after_delete["mode"] == "incremental"


@pytest.mark.django_db
def test_a_stored_value_too_small_for_a_float32_reads_as_zero_not_as_an_error():
    # given: values that ingest now stores as 0 but a row from before that rule may hold
    # (PostgreSQL's float8 -> float4 cast refuses them: "value out of range: underflow",
    # which failed every retrain reading the row), beside ordinary ones
    values = [1e-310, -5e-324, 1e-39, 1.2e-38, 0.5, 0.0, None]
    stored = [SignalFactory(kind="progress", value=value).pk for value in values]
    queryset = data.signal_queryset(with_id=True).filter(pk__in=stored)

    # when: PostgreSQL packs them
    packed = data.signal_columns(queryset)

    # then: each as float32 holds it, the tiny ones as 0
    assert packed.signal_id.tolist() == sorted(stored)
    np.testing.assert_array_equal(
        packed.value, np.array([0, 0, 0, 1.2e-38, 0.5, 0, np.nan], np.float32)
    )
