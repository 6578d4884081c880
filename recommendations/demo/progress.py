"""How the builder reports progress without depending on a terminal.

The management command passes a tqdm-backed reporter; tests and other callers
can pass :func:`silent_progress`. Keeping tqdm out of the builder keeps the
builder callable from anywhere (a Celery task, a test) without output.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

Advance = Callable[[int], None]


class Progress(Protocol):
    def __call__(
        self, desc: str, total: int | None, unit: str = "it"
    ) -> AbstractContextManager[Advance]: ...


@contextmanager
def silent_progress(desc: str, total: int | None, unit: str = "it") -> Iterator[Advance]:
    """A progress reporter that reports nothing."""
    yield lambda n=1: None
