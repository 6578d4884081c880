"""How far an import got, and what an interruption then means: the import's one
transaction (after the import lock, one import writing at a time; rows written in
batches of :data:`BATCH_SIZE`) and what was kept when Ctrl-C came.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction

from recommendations.services.dataset_import.progress import Advance, Progress

BATCH_SIZE = 2000
# Held for the transaction: two imports at once would number new households alike
# and could both create a profile for the same new source user, or both insert the
# same new titles and genres (the second failing on their unique keys).
IMPORT_LOCK_KEY = 7_405_289_361


class ImportInterrupted(KeyboardInterrupt):
    """An import stopped by Ctrl-C or a termination signal (``__cause__``), with what the
    operator needs to know: where it was, and what was kept (:class:`ImportWhereabouts`).

    A ``KeyboardInterrupt`` still: whatever does not know it stops as before.
    """


@dataclass
class ImportWhereabouts:
    """How far an import got, for the message of an interruption.

    Every phase is one of the progress bars (:meth:`tracking`); the reading phase also
    knows its line. Nothing is written before the whole file is read and checked, and
    then everything in one transaction: an interruption keeps nothing, unless it came
    as the transaction committed (then the file may be stored) or after.
    """

    path: Path
    phase: str = ""  # the bar's description ("Storing signals"); "" before the first
    done: int = 0
    total: int | None = None
    line: int | None = None  # the row being read, while the file is read
    state: str = "reading"  # reading, locking, writing, committing, committed

    def tracking(self, progress: Progress) -> Progress:
        """``progress``, each phase and count noted here as it goes."""

        @contextmanager
        def tracked(desc: str, total: int | None) -> Iterator[Advance]:
            self.phase, self.done, self.total = desc, 0, total
            with progress(desc, total) as advance:

                def step(n: int) -> None:
                    self.done += n
                    advance(n)

                yield step

        return tracked

    def interrupted(self, *, dry_run: bool) -> str:
        """What an interruption now means: where, and what was kept."""
        again = "Run it again to import the file."
        if self.state in ("committing", "committed") and dry_run:
            return "Interrupted as the dry run ended: nothing was kept (a dry run keeps nothing)."
        if self.state == "committing":
            return (
                "Interrupted as the import was committing: it may have been stored, or not. "
                f"{again} A second run stores nothing twice."
            )
        if self.state == "committed":
            return f"Interrupted after the import was stored: all of {self.path} was imported."
        if self.state == "reading" and self.line is not None:
            where = f"at {self.path}:{self.line}, reading the file"
        elif self.state == "reading":
            where = f"while checking {self.path}"
        elif self.state == "locking":
            where = "while waiting for another import to finish (one import writes at a time)"
        else:
            count = f"{self.done} of {self.total} rows" if self.total is not None else ""
            verb = "after" if self.total is not None and self.done >= self.total else "while"
            where = f"{verb} {self.phase[:1].lower()}{self.phase[1:]}" + (
                f" ({count})" if count else ""
            )
        if dry_run:
            why = "a dry run keeps nothing"
        elif self.state == "reading":
            why = "nothing is written before the whole file is read and checked"
        else:
            why = "the import writes in one transaction, rolled back"
        return f"Interrupted {where}: nothing was imported ({why}). {again}"

    @contextmanager
    def storing(self, *, dry_run: bool) -> Iterator[None]:
        """Inside, the import's one transaction, after the import lock (one import writes
        at a time); rolled back for a dry run. Each step is noted for what an interruption
        says was kept (:meth:`interrupted`)."""
        with transaction.atomic():
            self.state = "locking"
            _import_lock()
            self.state = "writing"
            yield
            if dry_run:
                transaction.set_rollback(True)
            self.state = "committing"
        self.state = "committed"

    @contextmanager
    def interruptible(self, *, dry_run: bool) -> Iterator[None]:
        """Inside, Ctrl-C (or what a command turns SIGTERM into) raises
        :class:`ImportInterrupted` saying where it came and what was kept."""
        try:
            yield
        except ImportInterrupted:
            raise
        except KeyboardInterrupt as interrupt:
            raise ImportInterrupted(self.interrupted(dry_run=dry_run)) from interrupt


def _import_lock() -> None:
    """Hold the import lock until the transaction ends: one import writes at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK_KEY])
