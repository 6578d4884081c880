"""Write requirements.lock: the runtime dependencies, and theirs, pinned as installed here.

pyproject.toml gives ranges (``Django>=5.2,<5.3``, ``gunicorn>=22``) and says nothing of the
forty-odd packages those pull in, so every image build resolved afresh: two builds of one
commit a week apart could ship different kombu, redis or scikit-learn releases than the
suite ran on. The Dockerfile installs this file instead, exactly and without resolving, and
``make venv`` constrains the virtualenv to it, so the suite runs on what the image ships.

Read from the installed packages' own metadata (environment markers evaluated here, on
Linux and CPython 3.11 as in the image), not resolved again: after upgrading a package in
the virtualenv and running the suite, ``make lock`` records what passed.
``tests/test_deployment.py`` fails when the lock and the virtualenv differ.
"""

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent

HEADER = """\
# The runtime dependencies, and theirs, exactly as the test suite runs them (Linux,
# CPython 3.11). Written by `make lock` (.ci/lock_requirements.py) from the virtualenv;
# do not edit by hand. The Dockerfile installs exactly these; `make venv` constrains to them.
"""


def runtime_pins(pyproject: Path) -> dict[str, str]:
    """Every distribution the project's runtime dependencies need here, by canonical name,
    with its installed version. Fails naming a dependency that is missing or whose installed
    version is outside the range pyproject.toml allows."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    pending = [(Requirement(line), "") for line in dependencies]
    pins: dict[str, str] = {}
    walked: set[tuple[str, str]] = set()
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{requirement.name} is not installed: make venv") from None
        if not requirement.specifier.contains(version, prereleases=True):
            raise SystemExit(f"{requirement.name} {version} is installed; wanted {requirement}")
        pins[name] = version
        for wanted in ("", *sorted(requirement.extras)):
            if (name, wanted) not in walked:
                walked.add((name, wanted))
                requires = metadata.distribution(requirement.name).requires or []
                pending.extend((Requirement(line), wanted) for line in requires)
    return pins


def render(pins: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={pins[name]}\n" for name in sorted(pins))


def main() -> int:
    lock = ROOT / "requirements.lock"
    lock.write_text(render(runtime_pins(ROOT / "pyproject.toml")))
    print(f"Wrote {lock.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
