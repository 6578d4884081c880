"""Running the project's own commands in a child process, as a deployment or a user would."""

import subprocess
import sys
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
