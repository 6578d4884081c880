"""An import stopped by a signal, as an operator or a container stop does it: in a child process.

Each import runs ``manage.py`` on the test database and is held at a chosen point by a
lock this test's other session holds (the signal table, or the import lock itself), so
the signal comes while the import is there, whatever the machine's speed; the import
says where it was and what was kept, and what it says is checked against the database.
"""

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from catalog.models import Title
from recommendations.models import Signal
from recommendations.services.dataset_import import IMPORT_LOCK_KEY
from tests.factories import LanguageFactory, RegionFactory
from tests.processes import ROOT, current_database_url
from tests.recommendations.test_dataset_import import MOVIES, RATINGS, snapshot, write

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def holding(statement: str) -> Iterator[int]:
    """Another session that ran ``statement`` in an open transaction, until the block ends;
    yields its backend pid."""
    holder = connections.create_connection("default")
    holder.ensure_connection()
    raw = holder.connection
    raw.autocommit = False
    try:
        raw.execute(statement)
        yield raw.execute("SELECT pg_backend_pid()").fetchone()[0]
    finally:
        raw.rollback()
        holder.close()


def waited_on(holder_pid: int, process: subprocess.Popen, *, seconds: float = 60) -> None:
    """Return once some session waits on ``holder_pid``'s locks (the import, held there);
    fail if the process ends first or nothing waits within ``seconds``."""
    watcher = connections.create_connection("default")
    try:
        with watcher.cursor() as cursor:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    pytest.fail(f"the import ended (exit {process.returncode}) before it waited")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                    [holder_pid],
                )
                if cursor.fetchone()[0]:
                    return
                time.sleep(0.05)
    finally:
        watcher.close()
    pytest.fail("the import never waited on the lock held for it")


def manage(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    """``manage.py *args`` on the test database in a child process; its stderr's file."""
    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            preexec_fn=_ctrl_c_as_in_a_shell,
        )
    return process, stderr


def _ctrl_c_as_in_a_shell() -> None:
    """Ctrl-C delivered to the child and acted on by default, as a shell starts a command.

    A process keeps its blocked signals across exec (and ignored ones: Python then installs
    no KeyboardInterrupt): in the whole suite, something earlier leaves the worker process
    with SIGINT blocked (tests/conftest.py, ``_sigint_kept``, names the test), and every
    command here sent Ctrl-C while it waited on a lock waited out the test's 60 s instead.
    """
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stopped(process: subprocess.Popen, signum: int) -> int:
    process.send_signal(signum)
    try:
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.fixture
def catalogue(tmp_path) -> None:
    LanguageFactory()
    RegionFactory(code="IN")
    call_command(
        "import_catalogue", str(write(tmp_path, MOVIES, "movies.csv")), stdout=io.StringIO()
    )


def test_sigterm_while_storing_signals_says_where_and_that_nothing_was_kept(tmp_path, catalogue):
    # given: an import of ratings held as it begins storing signals (the signal table is
    # locked against writes by another session), its households already created
    before = snapshot()
    path = write(tmp_path, RATINGS)
    with holding(f'LOCK TABLE "{Signal._meta.db_table}" IN SHARE MODE') as holder:
        process, stderr = manage(tmp_path, "import_interactions", str(path), "--region", "IN")
        waited_on(holder, process)

        # when: it is sent SIGTERM, as `docker stop` or `kill` do
        status = stopped(process, signal.SIGTERM)

    # then: it says where it was and what it kept, and exits as a process SIGTERM ends
    # (143); until December 2026 it died on the spot, saying nothing
    said = stderr.read_text()
    assert status == 128 + signal.SIGTERM, said
    assert (
        "Interrupted while storing signals (0 of 11 rows): nothing was imported (the import "
        "writes in one transaction, rolled back). Run it again to import the file." in said
    )
    assert "Traceback" not in said
    # and: it is true, the households it had created are gone with the rest
    assert snapshot() == before


def test_ctrl_c_while_waiting_for_another_import_says_so(tmp_path, catalogue):
    # given: a catalogue import waiting for another import to finish (it holds the lock)
    path = write(tmp_path, "movieId,title,genres\n6,Heat (1995),Action|Crime\n", "heat.csv")
    with holding(f"SELECT pg_advisory_lock({IMPORT_LOCK_KEY})") as holder:
        process, stderr = manage(tmp_path, "import_catalogue", str(path))
        waited_on(holder, process)

        # when: the operator presses Ctrl-C
        status = stopped(process, signal.SIGINT)

    # then: it says what it was waiting for, and that it kept nothing, with Ctrl-C's status
    said = stderr.read_text()
    assert status == 128 + signal.SIGINT, said
    assert (
        "Interrupted while waiting for another import to finish (one import writes at a "
        "time): nothing was imported" in said
    )
    assert not Title.objects.filter(external_id="6").exists()
