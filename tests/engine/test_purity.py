"""The numeric core stays importable without Django (import-linter checks the source too)."""

import subprocess
import sys

MODULES = (
    "als",
    "candidates",
    "confidence",
    "content",
    "metrics",
    "popularity",
    "ranking",
    "split",
)


def test_engine_modules_import_without_django():
    imports = "; ".join(f"import recommendations.engine.{name}" for name in MODULES)
    check = (
        "import sys; "
        f"{imports}; "
        "leaked = sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'django', 'rest_framework', 'celery'}); "
        "assert not leaked, leaked"
    )

    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
