"""How an import reports its phases: one reporter per phase, taking counts of rows done;
silent for tests and tasks, a command's bar on its stderr otherwise.
"""

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol, TextIO

from recommendations.progress import command_bar

Advance = Callable[[int], None]


class Progress(Protocol):
    """Opens a progress reporter for one phase; the reporter takes a count of rows done."""

    def __call__(self, desc: str, total: int | None) -> AbstractContextManager[Advance]: ...


@contextmanager
def silent_progress(desc: str, total: int | None) -> Iterator[Advance]:
    """Reports nothing: for tests, tasks and other callers without a terminal."""
    yield lambda n: None


def terminal_progress(*, enabled: bool = True, file: TextIO | None = None) -> Progress:
    """Bars on ``file`` (the command's stderr; the process's if none), so that stdout
    keeps only the summary (and can be piped), and a caller that hands the command a
    stderr of its own gets the bars there, as every other command's: redrawn on a
    terminal, a few plain lines elsewhere (``command_bar``)."""

    @contextmanager
    def progress(desc: str, total: int | None) -> Iterator[Advance]:
        with command_bar(
            sys.stderr if file is None else file,
            verbosity=1 if enabled else 0,
            desc=desc,
            total=total,
            unit=" rows",
            unit_scale=True,
            leave=True,
            dynamic_ncols=True,
        ) as bar:
            yield bar.update

    return progress
