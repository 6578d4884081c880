"""Shared plumbing for the benchmarks: a scratch PostgreSQL database, a gunicorn, a table.

Benchmarks print each figure beside a baseline measured in the same run, so the
ratio means something on a shared, noisy machine where absolute times do not.
"""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def work_tree(revision: str) -> Iterator[tuple[Path, str]]:
    """A detached work tree of ``revision`` for the block, its ``var/`` this checkout's.

    Yields the tree and the revision's short hash, the label its figures print under.
    """
    git = ["git", "-C", str(ROOT)]
    label = subprocess.run(
        [*git, "rev-parse", "--short", revision], capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="tonight-ab-") as scratch:
        tree = Path(scratch) / "tree"
        subprocess.run([*git, "worktree", "add", "--detach", "-q", str(tree), revision], check=True)
        try:
            (tree / "var").symlink_to(ROOT / "var", target_is_directory=True)
            yield tree, label
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=True)


def bench_database_url(name: str) -> str:
    """A database of the benchmark's own, so it never touches dev or test data."""
    base = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/")
    url = urlparse(base)
    return url._replace(path=f"/{name}").geturl()


def bench_media_root(database_url: str) -> Path:
    """The media directory of one bench database: its model artefacts, artwork policy and images.

    Model artefacts are stored under their version's id, and every database
    numbers its versions from 1; a bench database sharing ``var/media`` with
    the demo's, or with a bench database of another catalogue, would serve
    their files as its own (a ``make demo`` after preparing the homepage
    benchmark used to replace its models with the demo's).
    """
    name = urlparse(database_url).path.lstrip("/")
    return ROOT / "var" / "bench" / name / "media"


def ensure_database(url: str, *, fresh: bool) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def django_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY=env.get("SECRET_KEY", "bench-only-secret-key"),
        CELERY_BROKER_URL="",
        OPENBLAS_NUM_THREADS="1",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        MEDIA_ROOT=str(bench_media_root(database_url)),
    )
    return env


def setup_django(database_url: str) -> None:
    os.environ.update(django_env(database_url))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    port: int
    pid: int


@contextlib.contextmanager
def gunicorn_server(
    database_url: str, *, workers: int = 2, extra_env: dict | None = None, root: Path = ROOT
) -> Iterator[Server]:
    """Serve the project with gunicorn on a free port for the duration of the block.

    ``root`` is the checkout to serve (another revision's work tree, to compare
    two revisions in one run); this interpreter's environment runs it.
    """
    port = free_port()
    env = django_env(database_url) | {"PYTHONPATH": str(root)} | (extra_env or {})
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=root,
        env=env,
        # config/gunicorn.py writes an access line per request to stdout, as in production:
        # written (its cost is the server's), not printed among the benchmark's tables.
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not start")
        yield Server(port=port, pid=process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextlib.contextmanager
def gunicorn(
    database_url: str, *, workers: int = 2, extra_env: dict | None = None
) -> Iterator[int]:
    """:func:`gunicorn_server`, yielding only the port."""
    with gunicorn_server(database_url, workers=workers, extra_env=extra_env) as server:
        yield server.port


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree_cpu(root_pid: int) -> float:
    """CPU seconds used so far by a process and its direct children (gunicorn and workers)."""
    pids = [root_pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == root_pid:
                    pids.append(int(entry.name))
    return sum(_cpu_of(pid) for pid in pids)


def database_cpu(database_url: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to this database.

    Only this database's backends count, so other work on a shared machine does not.
    """
    name = urlparse(database_url).path.lstrip("/")
    admin = urlparse(database_url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin) as conn:
        pids = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [name]
            ).fetchall()
        ]
    return sum(_cpu_of(pid) for pid in pids)


def print_table(
    title: str,
    rows: list[tuple[str, str, str, str]],
    headers: tuple[str, str, str, str] = ("measure", "Tonight", "baseline", "ratio"),
) -> None:
    """Rows of (measure, figure, baseline, ratio), or of the columns ``headers`` names."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(4)]
    print(f"\n{title}")
    for row in [headers, *rows]:
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
