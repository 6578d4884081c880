"""SIGTERM stops a command as Ctrl-C does: with an exception it can answer, not a silent death.

Python ends a process on SIGTERM at once (what ``kill``, ``docker stop`` and ``timeout``
send), without unwinding: a command can neither say what it was doing nor what it kept,
and the shell sees exit status 143 with nothing on stderr. Inside
:func:`sigterm_interrupts` the signal raises :class:`Terminated`, a ``KeyboardInterrupt``,
so the code that answers Ctrl-C answers it too (psycopg cancels the query under way, the
transaction rolls back on the way out), and :func:`interrupted_status` gives the exit
status the shell would have shown.
"""

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import CommandError

from recommendations.services.dataset_import import DatasetImportError, ImportInterrupted


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread was."""


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Inside, the first SIGTERM raises :class:`Terminated` in the main thread.

    Later ones are ignored: the command is already unwinding (rolling back), and a
    second exception in its handler would cut that short, leaving a traceback instead
    of its message. Outside the main thread (a command called from a thread), a signal
    handler cannot be set: nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def interrupted_status(interrupt: BaseException) -> int:
    """The exit status of a command stopped by ``interrupt`` (or an exception it caused):
    128 + the signal's number, as a shell reports a process the signal ended."""
    cause: BaseException | None = interrupt
    while cause is not None:
        if isinstance(cause, Terminated):
            return 128 + signal.SIGTERM
        cause = cause.__cause__
    return 128 + signal.SIGINT


@contextmanager
def interrupts_say(kept: Callable[[], str]) -> Iterator[None]:
    """Inside, Ctrl-C or SIGTERM stops the command with ``kept()`` as its one line on
    stderr, and exit status 130 or 143, rather than a traceback to be read as damage
    (Ctrl-C) or nothing at all (SIGTERM).

    ``kept()`` is asked once the work has unwound (a transaction under way rolled back),
    so it can say where the command was and, truthfully, what stays done.
    """
    try:
        with sigterm_interrupts():
            yield
    except KeyboardInterrupt as interrupted:
        raise CommandError(kept(), returncode=interrupted_status(interrupted)) from None


@contextmanager
def import_command_errors(path: Path) -> Iterator[None]:
    """Inside, an import of ``path`` stops with a ``CommandError`` that says why.

    A refused file says what the import found (``DatasetImportError``); Ctrl-C or
    SIGTERM says where the import was and what was kept (``ImportInterrupted``), rather
    than a traceback from deep in the import (Ctrl-C) to be read as damage, or nothing
    at all (SIGTERM); one before the file was opened (checking the options) says only
    that nothing was imported. Both import commands stop so.
    """
    try:
        with sigterm_interrupts():
            yield
    except DatasetImportError as exc:
        raise CommandError(str(exc)) from exc
    except ImportInterrupted as interrupted:
        raise CommandError(str(interrupted), returncode=interrupted_status(interrupted)) from None
    except KeyboardInterrupt as interrupted:
        raise CommandError(
            f"Interrupted before reading {path}: nothing was imported.",
            returncode=interrupted_status(interrupted),
        ) from None
