"""Running the project's own commands in a child process, as a deployment or a user would."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def run_python(
    *args: str, env: dict[str, str], cwd: Path = ROOT, timeout: float = 180
) -> subprocess.CompletedProcess:
    """``python *args`` with this interpreter, its output captured; the caller checks it."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def current_database_url() -> str:
    """The URL of the database this test runs on, for a child process to reach it too."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}{password}@{host}/{db['NAME']}"


def free_port() -> int:
    """A TCP port on this machine's loopback address that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn_serving(
    *, port: int, env: dict[str, str], stdout: Path, stderr: Path
) -> Iterator[subprocess.Popen]:
    """``gunicorn -c config/gunicorn.py config.wsgi`` as web runs it, one worker, on ``port``.

    Its output goes to the two files; it is stopped, worker and all, when the block ends.
    The caller waits for it to answer (what it answers is often the test's point).
    """
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-c",
                "config/gunicorn.py",
                "--workers=1",
                f"--bind=127.0.0.1:{port}",
                "config.wsgi",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: the worker is stopped with it
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
