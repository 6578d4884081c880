"""Importing a public-style data set: its catalogue (items) and its interactions.

The MovieLens layout is the default: ``movies.csv`` (``movieId,title,genres``,
genres separated by ``|``) and ``ratings.csv`` (``userId,movieId,rating,
timestamp``, unix seconds). Any other delimited layout works through
:class:`Layout` and the column names (the management commands' options).
Interactions are explicit ratings (:func:`rating_signals`) or implicit weights
such as play counts or minutes watched (:func:`weight_signals`).

Every import has two phases. The whole file is read and checked first, in
memory, with no query per row; if any line is bad nothing is written and
:class:`DatasetImportError` lists the first bad lines as ``path:LINE: reason``.
Only then is everything written, in batches, in one transaction, so a failure
half-way (a lost connection, a full disk) leaves nothing behind either. A dry
run does all of it and rolls the transaction back: it reports exactly what a
real run would store, database checks included, and keeps nothing.

Source ids stay on the rows they became (``Title.external_id`` is the item
id, ``Profile.external_id`` the user id), so results can be joined back to
the data set. Imports write directly, like seed data: the signals API's
horizon, availability and maturity checks are for live clients, not history.
"""

import bz2
import codecs
import csv
import datetime as dt
import gzip
import hashlib
import itertools
import json
import lzma
import math
import os
import re
import stat
import sys
import tarfile
import uuid
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple, Protocol, TextIO

import numpy as np
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Account
from artwork.models import DeviceClass
from catalog.models import Language, MaturityLevel, Title
from catalog.services import (
    EXTERNAL_ID_MAX_LENGTH,
    GENRE_NAME_MAX_LENGTH,
    TITLE_NAME_MAX_LENGTH,
    TitleRecord,
    catalogue_changed,
    genre_slug,
    titles_import,
)
from config.lookups import AnyOf
from profiles.models import MAX_PROFILES_PER_ACCOUNT, Profile
from recommendations.models import ProfileTitleState, Signal, SignalKind
from recommendations.progress import command_bar
from recommendations.services.signals import (
    SIGNAL_FIELDS,
    STATE_FIELDS,
    title_states_fold,
    title_states_save,
)
from recommendations.signal_events import EARLIEST_SIGNAL_TIME, SignalEvent
from regions.models import Availability, Region

BATCH_SIZE = 2000
# Rows of one write chunk: large enough that per-chunk queries vanish in the cost of
# the rows, small enough that a chunk's events and states sit comfortably in memory.
CHUNK_ROWS = 20_000
MAX_REPORTED_LINES = 20
PROGRESS_EVERY = 10_000

HOUSEHOLD_PREFIX = "import:"
# client_event_id = uuid5(namespace, user, item, kind, time[, n]), so that importing the
# same interaction again, from any copy of the file, stores nothing twice. Changed once (3 Dec
# 2026: the time was added so that repeated rows are kept): a database filled by an earlier
# import holds ids without the time, and re-importing one of its files stores it again
# (docs/recommendations.md, "Importing data sets"). Fixed from then on.
IMPORT_EVENT_NAMESPACE = uuid.UUID("4f1c2d8e-6b0a-5d47-9a3e-2f6c8b1e7d50")
# Held for the transaction: two imports at once would number new households alike
# and could both create a profile for the same new source user, or both insert the
# same new titles and genres (the second failing on their unique keys).
IMPORT_LOCK_KEY = 7_405_289_361
PROFILE_NAME_MAX_LENGTH = Profile._meta.get_field("name").max_length

NO_GENRES = "(no genres listed)"  # MovieLens's marker for an empty genre list
_YEAR_SUFFIX = re.compile(r"^(?P<name>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")
EARLIEST_YEAR = 1870
# Line breaks and tabs (with the spaces around them) inside a name; a plain or no-break
# space is the name's own.
_NAME_BREAK = re.compile(r" *[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+[ \t\n\v\f\r]*")
# Unix seconds this large are past the year 5000; milliseconds are, from March 1973.
MILLISECONDS_FROM = 1e11
EARLIEST_SECONDS = EARLIEST_SIGNAL_TIME.timestamp()
# PostgreSQL text cannot hold NUL (psycopg refuses it with DataError, mid-write), and
# Python's csv module reads it as an ordinary character: the row checks refuse it.
NUL = "\x00"


# --- progress -------------------------------------------------------------------------

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


class _LineProgress:
    """Advances a reading bar by the file's lines, which its total counts.

    Counting rows against a total of line breaks stopped short of the total (a
    quoted title over two lines, blank lines) or ran past it (no line break after
    the last row): the bar of a real catalogue ended at 91%.
    """

    def __init__(
        self,
        advance: Advance,
        *,
        total: int | None,
        first: int,
        where: ImportWhereabouts | None = None,
    ) -> None:
        self._advance = advance
        self._total = total
        self._first = first  # the line number of the first data line
        self._done = 0
        self._where = where or ImportWhereabouts(Path())

    def at(self, line: int) -> None:
        """A row starts at ``line``: every line before it is read."""
        self._where.line = line
        done = line - self._first
        if done - self._done >= PROGRESS_EVERY:
            self._advance(done - self._done)
            self._done = done

    def finish(self) -> None:
        if self._total is not None and self._total > self._done:
            self._advance(self._total - self._done)
            self._done = self._total


# --- reading delimited files ----------------------------------------------------------


class DatasetImportError(Exception):
    """The file or the options cannot be imported as they are; nothing was written."""


@dataclass(frozen=True)
class Layout:
    """How a delimited file is written."""

    delimiter: str = ","
    header: bool = True
    # utf-8-sig reads plain UTF-8 and also skips the byte-order mark spreadsheets write.
    encoding: str = "utf-8-sig"
    # False: a '"' is an ordinary character, for files that never quote (IMDb's TSV files
    # hold titles such as '"Crocodile" Dundee', which CSV quoting cannot read).
    quoting: bool = True
    # True: read the file in ``encoding`` even when it looks like UTF-8 (see _utf_8_line).
    force_encoding: bool = False


def layout_from_options(
    *,
    delimiter: str,
    header: bool = True,
    encoding: str = "utf-8-sig",
    quoting: bool = True,
    force_encoding: bool = False,
) -> Layout:
    """A :class:`Layout` from command-line text, where a tab is typed ``\\t`` or ``tab``."""
    if delimiter in ("\\t", "tab", "TAB"):
        delimiter = "\t"
    if not delimiter or delimiter in ("\n", "\r", '"'):
        raise DatasetImportError(
            f"Cannot split fields on {delimiter!r}; give a delimiter like ','."
        )
    _text_encoding_check(encoding)
    return Layout(
        delimiter=delimiter,
        header=header,
        encoding=encoding,
        quoting=quoting,
        force_encoding=force_encoding,
    )


def _text_encoding_check(encoding: str) -> None:
    """Refuse an encoding that cannot decode a file to text, before anything is read.

    ``codecs.lookup`` also knows bytes-to-bytes and str-to-str codecs (base64,
    zlib, rot13), which ``open()`` refuses only when the file is opened, with a
    LookupError no caller expects.
    """
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise DatasetImportError(f"Unknown encoding '{encoding}'.") from None
    if not getattr(info, "_is_text_encoding", True):
        raise DatasetImportError(
            f"'{encoding}' is not a text encoding; give the file's character encoding "
            "with --encoding (utf-8, latin-1, utf-16, ...)."
        )


class _BadLines:
    """Problems by line number: counts them all, keeps the lowest few to report."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._kept: list[tuple[int, str]] = []

    def add(self, line: int, reason: str) -> None:
        self.count += 1
        self._kept.append((line, reason))
        if len(self._kept) > 4 * MAX_REPORTED_LINES:
            self._kept = sorted(self._kept)[:MAX_REPORTED_LINES]

    def listing(self, adjective: str = "bad") -> list[str]:
        """``path:LINE: reason`` of the first lines, and how many more there are."""
        shown = sorted(self._kept)[:MAX_REPORTED_LINES]
        lines = [f"{self.path}:{line}: {reason}" for line, reason in shown]
        if self.count > len(shown):
            lines.append(f"... and {self.count - len(shown)} more {adjective} lines")
        return lines

    def raise_if_any(self, hint: str = "") -> None:
        if not self.count:
            return
        noun = "line" if self.count == 1 else "lines"
        head = f"{self.path}: {self.count} bad {noun}; nothing was imported."
        raise DatasetImportError("\n".join([head, *self.listing(), *([hint] if hint else [])]))


@dataclass
class _Table:
    indexes: tuple[int, ...]  # position of each wanted column, in the order asked for
    width: int  # fields every row must have
    rows: Iterator[tuple[int, list[str]]]  # (line number, fields) of each non-blank row
    # Whether the file's first line (its header, or its first row) ended with the
    # delimiter: only then are a row's empty fields past the last column no data.
    trailing: bool = False


def _records(handle: IO[str], path: Path, layout: Layout) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number of the row's first line, fields), skipping blank lines.

    A one-character delimiter gets the csv module (quoted fields, as in
    MovieLens's ``"American President, The (1995)"``); a longer one, such as
    MovieLens 1M's ``::``, a plain split.
    """
    line = 0
    lines = _without_byte_order_mark(handle)
    try:
        if len(layout.delimiter) == 1:
            reader = csv.reader(
                lines,
                delimiter=layout.delimiter,
                strict=True,
                quoting=csv.QUOTE_MINIMAL if layout.quoting else csv.QUOTE_NONE,
            )
            for fields in reader:
                start, line = line + 1, reader.line_num
                if fields and (len(fields) > 1 or fields[0].strip()):
                    yield start, fields
        else:
            for text in lines:
                line += 1
                text = text.rstrip("\r\n")
                if text.strip():
                    yield line, text.split(layout.delimiter)
    except csv.Error as exc:
        hint = (
            " (a field that starts with a quote but is not quoted? --no-quoting reads "
            "quotes as ordinary characters)"
            if layout.quoting
            else ""
        )
        raise DatasetImportError(
            f"{path}:{line + 1}: unreadable: {exc}{hint}; nothing was imported."
        ) from exc
    except EOFError as exc:
        raise DatasetImportError(
            f"{path} is cut short: its gzip stream stops before its end (an interrupted "
            "download or copy?). Nothing was imported."
        ) from exc
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise DatasetImportError(
            f"{path} is a damaged gzip file ({exc}). Nothing was imported."
        ) from exc
    except UnicodeError as exc:
        # Not only UnicodeDecodeError: utf-16 and utf-32 raise a bare UnicodeError for a
        # file without a byte-order mark, as does the 'undefined' codec for any text.
        # Text is decoded in blocks ahead of the reader, so find the line itself.
        line = _undecodable_line(path, layout.encoding) or line + 1
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
        hint = "give the file's encoding with --encoding"
        name = codecs.lookup(layout.encoding).name
        if name in ("utf-16", "utf-32"):
            hint += f" ({name}-le or {name}-be for a file without a byte-order mark)"
        raise DatasetImportError(
            f"{path}:{line}: not {layout.encoding} text ({reason}); {hint}. Nothing was imported."
        ) from exc


def _without_byte_order_mark(handle: IO[str]) -> Iterator[str]:
    """The file's lines, without a byte-order mark at the very start.

    ``utf-8-sig`` (the default) and ``utf-16`` drop the mark themselves, but a
    spreadsheet's file read as plain ``--encoding utf-8`` keeps it as U+FEFF: the
    header then lacks its first column under a name that prints the same, and a
    headerless file's first id is stored as another id (U+FEFF and "1"), which a
    second import of the file with the default encoding duplicated.
    """
    first = next(handle, None)
    if first is not None:
        yield first.removeprefix("\ufeff")
        yield from handle


_NON_ASCII = re.compile(rb"[\x80-\xff]")


def _single_byte_breaks(encoding: str) -> bool:
    """Whether ``encoding`` writes a carriage return and a line feed as ASCII does."""
    try:
        return b"\r\n" in "\r\n".encode(encoding)  # (utf-8-sig puts its mark before them)
    except UnicodeError:  # the 'undefined' codec
        return False


class _LineBreaks:
    """Counts a file's line breaks, block by block, as the csv reader and editors count them.

    A line feed, a carriage return, or the two together: a spreadsheet's "CSV
    (Macintosh)" ends its lines with carriage returns alone, and counting line
    feeds alone named its every line 1 in the checks that scan bytes, where the
    rows' own line numbers were right. In an encoding whose line breaks are not
    single bytes (UTF-16, UTF-32), a carriage return's bytes and a line feed's
    are not side by side: there only line feeds are counted, as before.
    """

    def __init__(self, encoding: str) -> None:
        self._returns = _single_byte_breaks(encoding)
        self.lines = 0  # the line breaks of the blocks added so far
        self._after_return = False  # the last block added ended with a carriage return

    def before(self, block: bytes, end: int) -> int:
        """The line breaks of the blocks added and of ``block`` before ``end``."""
        return self.lines + self._count(block, end)

    def add(self, block: bytes) -> None:
        self.lines += self._count(block, len(block))
        self._after_return = block.endswith(b"\r")

    def _count(self, block: bytes, end: int) -> int:
        feeds = block.count(b"\n", 0, end)
        if not self._returns:
            return feeds
        # A carriage return and line feed split between two blocks are one line break.
        split = self._after_return and end > 0 and block.startswith(b"\n")
        return feeds + block.count(b"\r", 0, end) - block.count(b"\r\n", 0, end) - split


def _utf_8_line(path: Path, encoding: str) -> int | None:
    """The first line with a UTF-8 letter beyond ASCII, if a UTF-8 file is read as another.

    Any byte is a letter in latin-1 (and nearly any in cp1252), so a UTF-8 file read
    in one of them raises nothing: "São" is stored as "SÃ£o", in every title of the
    file. A file that decodes whole as UTF-8 and holds a multi-byte sequence is all
    but surely UTF-8: text in a one-byte encoding almost never does (its accented
    letters stand alone, where UTF-8 needs them in pairs with a continuation byte).
    None when the encoding is a Unicode one, the file is ASCII, or it is not UTF-8.
    Reads the file in blocks, ASCII blocks at memory speed.
    """
    if codecs.lookup(encoding).name.startswith("utf"):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    first: int | None = None
    lines = _LineBreaks(encoding)
    for block in _blocks(path):
        if first is None and not block.isascii():
            beyond = _NON_ASCII.search(block)
            first = lines.before(block, beyond.start() if beyond else 0) + 1
        lines.add(block)
        if first is not None:
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                return None
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    return first


# ISO 8859 reads bytes 0x80-0x9F as C1 control characters, which no text uses; the Windows
# code page of the same script reads them as letters and signs (quotes, dashes, the euro): a file
# with one is that code page's. The parts with no such code page get the family's name.
_ISO_8859_WINDOWS = {
    "iso8859-1": "cp1252",
    "iso8859-15": "cp1252",
    "iso8859-2": "cp1250",
    "iso8859-5": "cp1251",
    "iso8859-7": "cp1253",
    "iso8859-9": "cp1254",
    "iso8859-8": "cp1255",
    "iso8859-6": "cp1256",
    "iso8859-4": "cp1257",
    "iso8859-13": "cp1257",
}
_C1_BYTE = re.compile(rb"[\x80-\x9f]")


def _control_byte_line(path: Path, encoding: str) -> tuple[int, int, str] | None:
    """The first line with a byte that ``encoding`` reads as a control character, if ISO 8859.

    Windows files (a spreadsheet's "CSV") are in a Windows code page, and read in
    the ISO 8859 part operators reach for (latin-1) raise nothing: the apostrophe
    of "Don't" (byte 0x92 in cp1252) is stored as U+0092, an invisible control
    character. Returns (line, byte, the Windows code page to read it in); None when the
    encoding is not ISO 8859 or no such byte is there. Reads the file in blocks.
    """
    name = codecs.lookup(encoding).name
    if not name.startswith("iso8859-"):
        return None
    lines = _LineBreaks(encoding)
    for block in _blocks(path):
        found = _C1_BYTE.search(block)
        if found:
            line = lines.before(block, found.start()) + 1
            return line, found[0][0], _ISO_8859_WINDOWS.get(name, "the cp125x of its script")
        lines.add(block)
    return None


def _undecodable_line(path: Path, encoding: str) -> int | None:
    decoder = codecs.getincrementaldecoder(encoding)()
    returns = _single_byte_breaks(encoding)
    number = 0
    try:
        with _open_bytes(path) as handle:
            for raw in handle:
                # A binary file's lines end at line feeds alone; a carriage return ends one too.
                for piece in raw.splitlines(keepends=True) if returns else (raw,):
                    number += 1
                    try:
                        decoder.decode(piece)
                    except UnicodeError:
                        return number
    except (OSError, *_DAMAGED_GZIP):
        pass
    return None


# What reading a damaged gzip stream raises: EOFError when it stops short (a download
# cut short), BadGzipFile (an OSError) on a wrong checksum or length, zlib.error on bad data.
_DAMAGED_GZIP = (EOFError, zlib.error, gzip.BadGzipFile)
_GZIP_MAGIC = b"\x1f\x8b"


def _gzipped(path: Path) -> bool:
    """Whether the file is gzip-compressed, by its first bytes rather than its name."""
    try:
        with path.open("rb") as handle:
            return handle.read(2) == _GZIP_MAGIC
    except OSError:
        return False


def _open_bytes(path: Path) -> IO[bytes]:
    """The file's bytes; a gzip-compressed file's decompressed ones (exports are .csv.gz).

    Every reading of the file goes through here, so a .csv.gz is checked, counted and
    read as its text is, with the same line numbers.
    """
    return gzip.open(path, "rb") if _gzipped(path) else path.open("rb")


def _open_text(path: Path, encoding: str) -> IO[str]:
    """The file's text for the csv module, decompressed when it is gzip-compressed."""
    if _gzipped(path):
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return path.open(encoding=encoding, newline="")


def _blocks(path: Path) -> Iterator[bytes]:
    """The file's bytes in blocks of about 1 MB, for the checks that scan it whole.

    A damaged gzip stream ends the blocks where it breaks: the checks then see less
    than the whole file, and reading its rows refuses it, saying what is wrong.
    """
    with _open_bytes(path) as handle:
        try:
            yield from iter(lambda: handle.read(1 << 20), b"")
        except _DAMAGED_GZIP:
            return


# What a data set comes packed in (MovieLens ships zip archives, others .tar.gz), by
# its first bytes, whatever its name. gzip alone is read as it is (_open_bytes); a tar
# archive is found inside gzip, bzip2 and xz by decompressing the start of its stream.
_ARCHIVES = (
    (b"PK\x03\x04", "a zip archive", "unzip"),
    (b"PK\x05\x06", "a zip archive", "unzip"),  # an empty one
    (b"PK\x07\x08", "a zip archive", "unzip"),  # one of a split set
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "7z x"),
)


class _Decompressor(Protocol):
    def decompress(self, data: bytes, max_length: int, /) -> bytes: ...


class _Compression(NamedTuple):
    magic: bytes
    kind: str  # of a compressed file: "xz-compressed"
    tar_kind: str  # of a compressed tar archive
    tool: str  # what decompresses it; "" for gzip, which is read as it is
    # What decompresses the start of its stream, to find a tar archive in it; None for
    # zstd, which the standard library (before Python 3.14) cannot read.
    decompressor: Callable[[], _Decompressor] | None


_COMPRESSIONS = (
    _Compression(
        _GZIP_MAGIC,
        "gzip-compressed",
        "a gzip-compressed tar archive",
        "",
        lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    ),
    _Compression(
        b"\xfd7zXZ\x00",
        "xz-compressed",
        "an xz-compressed tar archive",
        "unxz",
        lzma.LZMADecompressor,
    ),
    _Compression(
        b"BZh", "bzip2-compressed", "a bzip2-compressed tar archive", "bunzip2", bz2.BZ2Decompressor
    ),
    _Compression(b"\x28\xb5\x2f\xfd", "zstd-compressed", "", "unzstd", None),
)
# bzip2's magic is checked with its first block's, as "BZh" could start a line of text.
_BZIP2 = re.compile(rb"BZh[1-9]1AY&SY")
# A tar archive starts with its first member's header block, which holds "ustar" here
# (POSIX and GNU tar alike) and a checksum of itself.
_TAR_MAGIC = slice(257, 262)
_TAR_BLOCK = 512
# What is read of a file to tell how it is packed: gzip and xz give the start of their
# text from their first bytes, bzip2 only once its first block (up to 900 kB of text,
# a little more compressed when incompressible) is read whole.
_PEEK_BYTES = 1 << 16
_PEEK_BZIP2_BYTES = 1 << 21


def _is_tar(start: bytes) -> bool:
    """Whether ``start`` is a tar header block: its magic, and its checksum, so that a
    line of text that holds "ustar" at that place is not taken for one."""
    if start[_TAR_MAGIC] != b"ustar" or len(start) < _TAR_BLOCK:
        return False
    try:
        tarfile.TarInfo.frombuf(start[:_TAR_BLOCK], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _decompressed_start(data: bytes, decompressor: _Decompressor) -> bytes:
    """The first bytes ``data`` decompresses to, or b"" when they cannot be had from it.

    A damaged stream is not this check's to report: reading the rows says what is wrong.
    """
    try:
        return decompressor.decompress(data, _TAR_BLOCK)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError):
        return b""


def _packing(start: bytes) -> tuple[str, str] | None:
    """What packs the file whose first bytes are ``start``, and the tool that unpacks it;
    None for a plain file or a gzip-compressed one (read as it is)."""
    for magic, kind, tool in _ARCHIVES:
        if start.startswith(magic):
            return kind, tool
    if _is_tar(start):
        return "a tar archive", "tar -xf"
    for compression in _COMPRESSIONS:
        if not start.startswith(compression.magic):
            continue
        if compression.magic == b"BZh" and not _BZIP2.match(start):
            continue
        opener = compression.decompressor
        if opener is not None and _is_tar(_decompressed_start(start, opener())):
            return compression.tar_kind, "tar -xf"
        if not compression.tool:
            return None  # gzip
        return compression.kind, compression.tool
    return None


# Why neither standard input nor a pipe can be imported, and what to do instead.
_READ_MORE_THAN_ONCE = (
    "the import reads its file more than once, checking it whole before writing anything"
)
STANDARD_INPUT = "-"


def _file_path(path: Path | str) -> Path:
    """``path`` as a :class:`Path`, refusing ``-``, the usual name of standard input.

    Looked up as a file named "-", it was refused as "No such file or directory",
    which said nothing of why standard input cannot be read (:func:`_plain_file_check`).
    Only the text "-" is refused: the command's ``./-`` is a file of that name, though
    a ``Path`` of it prints as "-".
    """
    if isinstance(path, str) and path == STANDARD_INPUT:
        raise DatasetImportError(
            f"'{STANDARD_INPUT}' (standard input) cannot be imported: {_READ_MORE_THAN_ONCE}. "
            "Save the data to a file first and give its path (a .csv.gz is read as it is, "
            f"without zcat; a file named '{STANDARD_INPUT}' is given as ./{STANDARD_INPUT}). "
            "Nothing was imported."
        )
    return Path(path)


def _plain_file_check(path: Path) -> None:
    """Refuse what cannot be imported as it is: standard input or a pipe, an archive
    (zip, tar, .tar.gz, ...), or a file compressed other than by gzip.

    The file is read more than once (the UTF-8 check, the rows, the line count
    of the progress bar), which a pipe or standard input cannot be: the line
    count drained the rows after the first text block, and an import of
    ``zcat ratings.csv.gz | ... /dev/stdin`` stored the first few hundred rows
    and said it succeeded. An archive or a compressed file was refused as text
    in another encoding, naming ``--encoding``, which made it binary noise; a
    .tar.gz, read through gzip as a .csv.gz is, as a header naming no column
    the import wants. A gzip file is read as it is: it can be read again, and
    exports are mostly .csv.gz.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # opening it says why it cannot be read
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise DatasetImportError(
            f"{path} is not a regular file (standard input, or a pipe?): "
            f"{_READ_MORE_THAN_ONCE}. "
            "Save it to a file first (a .csv.gz is read as it is, without zcat). "
            "Nothing was imported."
        )
    try:
        with path.open("rb") as handle:
            start = handle.read(_PEEK_BYTES)
            if _BZIP2.match(start):
                start += handle.read(_PEEK_BZIP2_BYTES - len(start))
    except OSError:
        return
    packing = _packing(start)
    if packing is None:
        return
    kind, tool = packing
    if kind.endswith("archive"):
        advice = f"Extract the file to import from it ({tool}) and give its path"
    else:
        advice = f"Decompress it ({tool}) and give the file's path"
    raise DatasetImportError(
        f"{path} is {kind}: the import reads one delimited text file, plain or "
        f"gzip-compressed. {advice} (a .csv, or a .csv.gz as it is). Nothing was imported."
    )


@contextmanager
def _open_table(
    path: Path, *, layout: Layout, columns: Sequence[tuple[str, str]]
) -> Iterator[_Table]:
    """Open ``path`` and find the wanted columns, given as (option, column name) pairs.

    With a header, columns are found by name (extra columns are allowed); without
    one, the wanted columns are the first fields, in the order given.
    """
    _text_encoding_check(layout.encoding)  # a Layout may come from code, not the options
    _plain_file_check(path)
    try:
        handle = _open_text(path, layout.encoding)
    except OSError as exc:
        raise DatasetImportError(f"Cannot read {path}: {exc.strerror}.") from exc
    line = None if layout.force_encoding else _utf_8_line(path, layout.encoding)
    if line is not None:
        handle.close()
        raise DatasetImportError(
            f"{path}:{line}: the file is UTF-8, not {layout.encoding}: its letters beyond "
            f"ASCII would be stored garbled (São as {'São'.encode().decode('latin-1')}). "
            "Give --encoding utf-8, or --force-encoding to read it as "
            f"{layout.encoding} all the same. Nothing was imported."
        )
    control = None if layout.force_encoding else _control_byte_line(path, layout.encoding)
    if control is not None:
        handle.close()
        line, byte, windows = control
        raise DatasetImportError(
            f"{path}:{line}: byte 0x{byte:02x} is a control character in {layout.encoding}, "
            f"a letter or sign in Windows files: it would be stored as an invisible character "
            f"(an apostrophe as U+0092). Give --encoding {windows}, or --force-encoding to read "
            f"it as {layout.encoding} all the same. Nothing was imported."
        )
    with handle:
        rows = _records(handle, path, layout)
        names = [name for _, name in columns]
        if not layout.header:
            first = next(rows, None)
            if first is None:
                raise DatasetImportError(f"{path} is empty: it has no rows. Nothing was imported.")
            if [f.strip() for f in first[1][: len(names)]] == names:
                # Read as data, MovieLens's header became a title named "title", of genre
                # "genres"; an interactions header, a bad line that hid what was wrong.
                raise DatasetImportError(
                    f"{path}:{first[0]}: this line is a header (it names the columns "
                    f"{_quoted(names)}); drop --no-header. Nothing was imported."
                )
            yield _Table(
                tuple(range(len(names))),
                len(names),
                itertools.chain([first], rows),
                trailing=_ends_empty(first[1], len(names)),
            )
            return
        first = next(rows, None)
        if first is None:
            raise DatasetImportError(f"{path} is empty; expected a header naming {_quoted(names)}.")
        line, header = first
        header = [name.strip() for name in header]
        trailing = len(header) > 1 and not header[-1]
        while len(header) > 1 and not header[-1]:  # a trailing delimiter names no column
            header.pop()
        missing = [name for name in names if name not in header]
        if missing:
            raise DatasetImportError(
                f"{path}:{line}: the header has no column {_quoted(missing)}. "
                f"It names {_quoted(header)}; expected {_quoted(names)}. "
                f"Name your columns with {', '.join(option for option, _ in columns)} "
                "(and check --delimiter)."
            )
        # An export joined from two tables can name a column twice; taking the first said
        # nothing of the other, which may be the one meant.
        for name in names:
            places = [str(at) for at, named in enumerate(header, 1) if named == name]
            if len(places) > 1:
                raise DatasetImportError(
                    f"{path}:{line}: the header names '{name}' twice (columns "
                    f"{', '.join(places[:-1])} and {places[-1]}); rename the one not meant. "
                    "Nothing was imported."
                )
        row = next(rows, None)
        if row is None:
            # An export of the wrong table, or of a query that found nothing: importing
            # nothing and saying "0 ratings read" exited 0, which a script reads as done.
            raise DatasetImportError(
                f"{path} has a header but no rows: nothing to import (the wrong file, or "
                "an export of a query that found nothing?). Nothing was imported."
            )
        yield _Table(
            tuple(header.index(name) for name in names),
            len(header),
            itertools.chain([row], rows),
            trailing=trailing,
        )


def _ends_empty(fields: list[str], width: int) -> bool:
    """Whether ``fields`` run past ``width`` with empty fields only (a trailing delimiter)."""
    return len(fields) > width and not "".join(fields[width:]).strip()


def _fields_fitted(fields: list[str], table: _Table) -> list[str]:
    """A row of more than the table's width without what a trailing delimiter leaves.

    Some exports end every line, or some lines, with the delimiter: the empty
    fields after the last column are no data, and refusing each such line as
    one field too many refused whole files. Only in a file whose first line ends
    so: elsewhere an extra empty field is as likely an unquoted delimiter in a
    name ("3,Hello, World (1999),", empty genres), which trimmed would import
    the title "Hello" of genre "World (1999)"; such a line stays a bad line.
    Called only for rows of the wrong width, so the rows that fit cost nothing more.
    """
    if table.trailing and _ends_empty(fields, table.width):
        return fields[: table.width]
    return fields


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _data_lines(path: Path, layout: Layout) -> int | None:
    """Roughly the rows in the file, for the progress bar's total; a few ms per 100 MB.

    Of a gzip file, the lines of its text, decompressed for the count (about 1 s per
    300 MB of text, against minutes to import them): the bar then counts lines of text
    against lines of text, as for a plain file, where compressed bytes read would need
    a bar of its own that the rows cannot advance.
    """
    try:
        lines, last = _LineBreaks(layout.encoding), b"\n"
        for chunk in _blocks(path):
            lines.add(chunk)
            last = chunk[-1:]
    except OSError:
        return None
    # a last line without a line break is a line too
    count = lines.lines + (last not in (b"\n", b"\r"))
    return max(count - layout.header, 0)


def _unterminated_line(path: Path) -> int | None:
    """The number of the file's last line when no line break ends it, else None.

    A download or copy cut short ends so, and its last row may be cut mid-field
    in a way no check can see: a timestamp "1260759205" cut to "12607" is a time
    in 1970, a genre "Drama" cut to "Dra" a genre of its own. Many whole files
    end so too (hand-made ones), so the import names the line rather than
    refusing it. Spaces or tabs after the last line break are no line.
    """
    try:
        if _gzipped(path):  # no seeking to the end of a stream: read it through
            tail = b""
            for block in _blocks(path):
                tail = tail[-(1 << 16) :] + block
        else:
            with path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(size - (1 << 16), 0))
                tail = handle.read()
    except OSError:
        return None
    end = max(tail.rfind(b"\n"), tail.rfind(b"\r"))
    if not tail[end + 1 :].strip(b" \t\x00"):  # NULs: a UTF-16 or UTF-32 line break's rest
        return None
    return _data_lines(path, Layout(header=False))


def _unterminated_warning(path: Path) -> str:
    line = _unterminated_line(path)
    if line is None:
        return ""
    return (
        f"{path}:{line}: the file ends without a line break: if it was cut short "
        "(an interrupted download or copy), this last row may be incomplete; check it."
    )


_DECIMAL_ID = re.compile(r"(\d+)\.0+")


def _source_id(text: str) -> str:
    """A user or item id as the data set means it: "123.0" is 123.

    Spreadsheets save a column of numeric ids as decimals. Kept as written, "1.0"
    became a second title beside the "1" of a clean copy of the file, and ratings
    saved so named items the catalogue does not know, or new profiles.
    """
    if "." not in text:  # nearly every id: a substring test, not a regex, per field
        return text
    match = _DECIMAL_ID.fullmatch(text)
    return match[1] if match else text


def _nul_in(column: str) -> str:
    """The bad-line reason for a field holding NUL; its other checks are skipped.

    A NUL is a corrupt or binary file, and quoting the field in the other
    reasons would put the NUL into the error message too.
    """
    return f"{column} contains a NUL character"


def _region_codes(codes: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(code.strip().upper() for code in codes if code.strip()))
    known = set(Region.objects.values_list("code", flat=True))
    unknown = [code for code in wanted if code not in known]
    if unknown:
        # A first start's database has no region at all: say where one comes from.
        raise DatasetImportError(
            f"No region {_quoted(unknown)}; known regions: {_quoted(sorted(known)) or 'none'}. "
            "Add it in admin (Regions, Regions) first."
        )
    return wanted


def _import_lock() -> None:
    """Hold the import lock until the transaction ends: one import writes at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK_KEY])


# --- catalogue ------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueColumns:
    item: str = "movieId"
    title: str = "title"
    genres: str = "genres"  # "" when the file has no genres column (stored genres are kept)
    genre_separator: str = "|"


@dataclass(frozen=True)
class CatalogueImportResult:
    rows: int
    created: int
    updated: int
    unchanged: int
    genres_created: int
    windows_created: int
    regions: tuple[str, ...]
    dry_run: bool
    # path:LINE: ... when no line break ends the file (cut short?), else ""
    unterminated: str = ""


def title_name_and_year(text: str) -> tuple[str, int | None]:
    """Split MovieLens's "Heat (1995)" into ("Heat", 1995); a name without a year stays whole.

    A line break or tab inside the name (a spreadsheet cell's, quoted over two lines
    of the file) becomes a space: kept, it was stored in the name, which no admin
    form can write, and it hid the year, dating the title 1900.
    """
    text = _NAME_BREAK.sub(" ", text).strip()
    match = _YEAR_SUFFIX.match(text)
    if match and match["name"]:
        year = int(match["year"])
        if EARLIEST_YEAR <= year <= timezone.now().year + 10:
            return match["name"], year
    return text, None


def _read_catalogue(
    path: Path,
    *,
    layout: Layout,
    columns: CatalogueColumns,
    progress: Progress,
    where: ImportWhereabouts | None = None,
) -> list[TitleRecord]:
    bad = _BadLines(path)
    records: list[TitleRecord] = []
    seen: dict[str, int] = {}
    wanted = [("--id-column", columns.item), ("--title-column", columns.title)]
    if columns.genres:
        wanted.append(("--genres-column", columns.genres))
    total = _data_lines(path, layout)
    with (
        _open_table(path, layout=layout, columns=wanted) as table,
        progress(f"Reading {path.name}", total) as advance,
    ):
        bar = _LineProgress(advance, total=total, first=1 + layout.header, where=where)
        item_at, title_at, *genres_at = table.indexes
        for line, fields in table.rows:
            bar.at(line)
            if len(fields) != table.width:
                fields = _fields_fitted(fields, table)
                if len(fields) != table.width:
                    bad.add(line, f"expected {table.width} fields, found {len(fields)}")
                    continue
            problems = []
            external_id = _source_id(fields[item_at].strip())
            if NUL in external_id:
                problems.append(_nul_in(columns.item))
            elif not external_id:
                problems.append(f"empty {columns.item}")
            elif len(external_id) > EXTERNAL_ID_MAX_LENGTH:
                problems.append(
                    f"{columns.item} is longer than {EXTERNAL_ID_MAX_LENGTH} characters"
                )
            elif external_id in seen:
                problems.append(
                    f"{columns.item} '{external_id}' is already on line {seen[external_id]}"
                )
            else:
                seen[external_id] = line
            name, year = title_name_and_year(fields[title_at])
            if NUL in fields[title_at]:
                problems.append(_nul_in(columns.title))
            elif not name:
                problems.append(f"empty {columns.title}")
            elif len(name) > TITLE_NAME_MAX_LENGTH:
                problems.append(
                    f"{columns.title} is longer than {TITLE_NAME_MAX_LENGTH} characters"
                )
            genres: list[str] = []
            raw_genres = fields[genres_at[0]].strip() if genres_at else ""
            if NUL in raw_genres:
                problems.append(_nul_in(columns.genres))
            elif raw_genres and raw_genres != NO_GENRES:
                for genre in raw_genres.split(columns.genre_separator):
                    genre = genre.strip()
                    if not genre or genre in genres:
                        continue
                    if len(genre) > GENRE_NAME_MAX_LENGTH:
                        problems.append(
                            f"genre '{genre[:20]}...' is longer than {GENRE_NAME_MAX_LENGTH} "
                            "characters"
                        )
                    elif not genre_slug(genre):
                        problems.append(f"genre '{genre}' has no letters or digits to file it by")
                    genres.append(genre)
            if problems:
                bad.add(line, "; ".join(problems))
                continue
            # Without a genres column, or with the row's field naming no genre (empty, or
            # separators alone: "|"), the file does not know them: None keeps stored genres.
            # Only NO_GENRES says "none" and clears them.
            known = bool(genres_at) and (bool(genres) or raw_genres == NO_GENRES)
            records.append(TitleRecord(external_id, name, year, tuple(genres) if known else None))
        bar.finish()
    bad.raise_if_any()
    return records


def _open_windows_ensure(
    *, title_ids: list[int], regions: Sequence[str], progress: Progress = silent_progress
) -> int:
    """Give every title an open licence window in each region where it has no window at all.

    A title that has any window in a region keeps exactly the windows it has
    there: an open window next to a licence staff set to start next month, or
    one that has ended, would make the title live now, which is what staff's
    window says it must not be. A data set knows nothing of licences.

    That holds for a window staff are saving while the import runs, too: the
    titles about to get one are locked first, as every window's save in admin locks its
    title (``regions.services.title_windows_lock``), so a save under way is waited for and its
    window read, and one that comes after waits for the import. Without the lock,
    a window committed after the read got an open one beside it. Only those
    titles: a re-run, where every title has its windows, locks none. The windows are
    written under a bar of their own (a minute at 87,000 titles).
    """
    if not regions or not title_ids:
        return 0
    missing = _titles_without_window(title_ids, regions)
    if not missing:
        with progress("Opening licence windows", 0):
            return 0
    # FOR NO KEY UPDATE: ingest's inserts of states and signals naming these titles
    # (a foreign key's KEY SHARE) go on; a window's save waits.
    list(
        Title.objects.filter(AnyOf(F("pk"), sorted(missing)))
        .order_by("pk")
        .select_for_update(no_key=True)
        .values_list("pk", flat=True)
    )
    missing = _titles_without_window(sorted(missing), regions)
    new = [
        Availability(title_id=title_id, region_id=region)
        for title_id, regions_left in missing.items()
        for region in regions_left
    ]
    with progress("Opening licence windows", len(new)) as advance:
        for start in range(0, len(new), BATCH_SIZE):
            batch = new[start : start + BATCH_SIZE]
            Availability.objects.bulk_create(batch)
            advance(len(batch))
    if new:
        catalogue_changed()  # bulk writes send no model signals
    return len(new)


def _titles_without_window(title_ids: list[int], regions: Sequence[str]) -> dict[int, list[str]]:
    """Each of ``title_ids`` that has no window in some of ``regions``: those regions."""
    have = set(
        Availability.objects.filter(
            AnyOf(F("title_id"), title_ids), AnyOf(F("region_id"), regions)
        ).values_list("title_id", "region_id")
    )
    missing: dict[int, list[str]] = {}
    for title_id in title_ids:
        left = [region for region in regions if (title_id, region) not in have]
        if left:
            missing[title_id] = left
    return missing


def catalogue_import(
    *,
    path: Path | str,
    layout: Layout = Layout(),
    columns: CatalogueColumns = CatalogueColumns(),
    language: str = "en",
    regions: Sequence[str] = (),
    maturity: int = MaturityLevel.EIGHTEEN,
    dry_run: bool = False,
    progress: Progress = silent_progress,
) -> CatalogueImportResult:
    """Create or update a title per row, keyed by the item id (kept as ``external_id``).

    Genres are filed by slug and created as needed; a "Name (1995)" title gives
    the release year; titles are films in ``language``, available in each of
    ``regions`` through an open window unless they already have a window there
    (staff's licence dates stand). Re-running updates, never duplicates.
    """
    path = _file_path(path)
    if not columns.genre_separator:  # str.split("") raises ValueError on the first row
        raise DatasetImportError(
            "Cannot split genres on an empty --genre-separator; give one like '|' "
            "(or --genres-column '' for a file without genres)."
        )
    if not Language.objects.filter(code=language).exists():
        # Not seed_demo, which this once suggested: on a real database it would plant the
        # demo's households and history beside the imported ones.
        known = _quoted(Language.objects.order_by("code").values_list("code", flat=True))
        raise DatasetImportError(
            f"No language '{language}' (known languages: {known or 'none'}); add it in admin "
            "(Catalog, Languages) first, or name a known one with --language."
        )
    region_codes = _region_codes(regions)
    where = ImportWhereabouts(path)
    progress = where.tracking(progress)
    with where.interruptible(dry_run=dry_run):
        records = _read_catalogue(
            path, layout=layout, columns=columns, progress=progress, where=where
        )
        # A second import of the file meanwhile waits for the lock, then finds the first
        # one's titles and genres stored, rather than inserting them again into unique keys.
        with where.storing(dry_run=dry_run):
            result = titles_import(
                records=records,
                language_code=language,
                maturity=maturity,
                batch_size=BATCH_SIZE,
                progress=progress,
            )
            windows = _open_windows_ensure(
                title_ids=list(result.title_ids.values()), regions=region_codes, progress=progress
            )
        unterminated = _unterminated_warning(path)
        return CatalogueImportResult(
            rows=len(records),
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            genres_created=result.genres_created,
            windows_created=windows,
            regions=tuple(region_codes),
            dry_run=dry_run,
            unterminated=unterminated,
        )


# --- interactions ---------------------------------------------------------------------

# A rating is read on a 5-point scale, x = 5 * rating / rating_scale:
LIKED_FROM = 4.0  # x >= 4: watched to the end
WATCHED_SOME_FROM = 3.0  # 3 <= x < 4: started and left part-way; x < 3: disliked
_EPSILON = 1e-9  # 8 of 10 is 4 of 5, whatever the floating point says
SignalPlan = tuple[tuple[str, float | None], ...]


def rating_signals(rating: float, *, scale: float = 5.0) -> SignalPlan:
    """The signals one rating stands for, as (kind, value) pairs in the order they happened.

    With x = 5 * rating / scale (so 4 of 5 and 8 of 10 mean the same):

    ==============  =====================================================
    x >= 4          play_start, complete; and thumbs_up at the top (x = 5)
    3 <= x < 4      play_start, progress 20·x percent (60 for 3, 70 for 3.5)
    x < 3           play_start, thumbs_down
    ==============  =====================================================

    Why: any rating means the title was at least started. A high rating is
    read as a completion, the strongest implicit signal the confidence matrix
    has for a film, and only the very top of the scale as an explicit thumbs
    up, so that "liked" and "loved" stay apart. A middling rating is a start
    that was not finished (its progress grows with the rating and stays inside
    the continue-watching band). A low rating is an explicit thumbs down, which
    also pushes similar titles down, as a dislike should.
    """
    x = 5.0 * rating / scale
    if x >= LIKED_FROM - _EPSILON:
        liked: SignalPlan = ((SignalKind.PLAY_START, None), (SignalKind.COMPLETE, None))
        if rating >= scale - _EPSILON:
            return (*liked, (SignalKind.THUMBS_UP, None))
        return liked
    if x >= WATCHED_SOME_FROM - _EPSILON:
        return ((SignalKind.PLAY_START, None), (SignalKind.PROGRESS, round(20.0 * x, 1)))
    return ((SignalKind.PLAY_START, None), (SignalKind.THUMBS_DOWN, None))


def weight_signals(weight: float, *, scale: float = 1.0) -> SignalPlan:
    """The signals one implicit weight (a play count, minutes watched) stands for.

    With x = weight / scale, where ``scale`` is the weight of one whole viewing:

    ==============  =====================================================
    x >= 1          play_start, complete
    0 < x < 1       play_start, progress 100·x percent (at least 0.1)
    x = 0           nothing
    ==============  =====================================================

    Why: an implicit weight is evidence that the profile watched, never that
    it disliked, so it maps to play and completion confidence only; a small
    weight is a short viewing, not a thumbs down (which would also push similar
    titles down). Repeated viewings are repeated rows, each its own play.
    """
    x = weight / scale
    if x >= 1.0 - _EPSILON:
        return ((SignalKind.PLAY_START, None), (SignalKind.COMPLETE, None))
    if x > 0.0:
        return ((SignalKind.PLAY_START, None), (SignalKind.PROGRESS, max(round(100.0 * x, 1), 0.1)))
    return ()


_NAMESPACE_SHA1 = hashlib.sha1(IMPORT_EVENT_NAMESPACE.bytes, usedforsecurity=False)


def import_event_id(*, user: str, item: str, kind: str, time: float, repeat: int = 0) -> uuid.UUID:
    """The client_event_id of one imported signal: the same for the same row, every run.

    The row's time (unix seconds, to the microsecond) is part of it, so a user's
    repeated interactions with one item are separate events; ``repeat`` numbers
    rows of the same user, item and time, in file order (left out when 0).
    Equal to ``uuid.uuid5(IMPORT_EVENT_NAMESPACE, "user\\x1fitem\\x1fkind\\x1fTIME")``
    with TIME formatted ``%.6f`` (and ``"\\x1fREPEAT"`` appended when non-zero);
    hashing from a copy of the namespace's digest state saves a third of the time per event.
    """
    digest = _NAMESPACE_SHA1.copy()
    suffix = f"\x1f{repeat}" if repeat else ""
    digest.update(f"{user}\x1f{item}\x1f{kind}\x1f{time:.6f}{suffix}".encode())
    return uuid.UUID(bytes=digest.digest()[:16], version=5)


@dataclass(frozen=True)
class InteractionColumns:
    user: str = "userId"
    item: str = "movieId"
    rating: str = "rating"
    time: str = "timestamp"


@dataclass(frozen=True)
class InteractionImportResult:
    rows: int
    users: int
    households_created: int
    profiles_created: int
    profiles_existing: int
    signals_stored: int
    duplicates: int  # signals already stored by an earlier import
    signals_by_kind: dict[str, int]
    title_states: int  # per-title states created or brought up to date
    titles_unavailable: int  # rated titles with no licence window in the region now
    region: str
    dry_run: bool
    skipped: int = 0  # rows whose item is not in the catalogue (skip_unknown_items)
    skipped_lines: tuple[str, ...] = ()  # the first of them, as path:LINE: reason
    # path:LINE: ... when no line break ends the file (cut short?), else ""
    unterminated: str = ""


@dataclass
class _Ratings:
    """The checked rows as parallel arrays, one entry per rating, in file order."""

    users: list[str]  # source user id by user number
    user: np.ndarray  # user number, int64
    title: np.ndarray  # title id, int64
    rating: np.ndarray  # float64 (a rating, or a weight)
    time: np.ndarray  # unix seconds, float64
    line: np.ndarray  # line number in the file, int64
    # Earlier rows of the same user, item and time, in file order (0 for most rows), int64.
    repeat: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Rows left out because their item is not in the catalogue (--skip-unknown-items).
    skipped: int = 0
    skipped_lines: tuple[str, ...] = ()


def _rating_value(text: str, *, column: str, scale: float, weights: bool) -> float:
    """A rating of 0 to ``scale`` (or a weight of 0 or more); ValueError says why."""
    if NUL in text:
        raise ValueError(_nul_in(column))
    try:
        rating = float(text)
    except ValueError:
        raise ValueError(f"{column} '{text}' is not a number") from None
    if weights:
        if not 0 <= rating < math.inf:  # also refuses nan
            raise ValueError(f"{column} {text} is not a weight of 0 or more")
    elif not 0 <= rating <= scale:  # also refuses nan
        raise ValueError(f"{column} {text} is outside 0-{scale:g} (see --rating-scale)")
    return rating


def _epoch_seconds(text: str, *, column: str, now: float) -> float:
    """Unix seconds (MovieLens) or an ISO 8601 date-time with an offset, from
    ``EARLIEST_SIGNAL_TIME`` to ``now``; ValueError says why."""
    if NUL in text:
        raise ValueError(_nul_in(column))
    moment: dt.datetime | None = None
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{column} '{text}' is neither unix seconds nor an ISO 8601 date-time"
            ) from None
        if moment.tzinfo is None:
            # The corrected value itself: "add 'Z'" to a bare date ("2024-03-01Z") is no ISO time.
            raise ValueError(
                f"{column} '{text}' has no time zone offset (for UTC write '{moment.isoformat()}Z')"
            ) from None
        seconds = moment.timestamp()
    if math.isnan(seconds):
        raise ValueError(f"{column} '{text}' is not a time")
    if seconds < EARLIEST_SECONDS:
        # Most often 0 or 1, an exporter's null: imported, it was history from 1970 that
        # the confidence weights and the fold took as real.
        raise ValueError(
            f"{column} '{text}' is before {EARLIEST_SIGNAL_TIME:%Y-%m-%d} "
            "(a placeholder for no time?)"
        )
    if seconds > now:
        # Exports from JavaScript and Java write milliseconds: 13 digits, past the year 5000.
        # Only a number can be: a date-time that far ahead is a wrong date, not a unit.
        numeric = moment is None and seconds >= MILLISECONDS_FROM
        hint = " (milliseconds? give unix seconds)" if numeric else ""
        raise ValueError(f"{column} '{text}' is in the future{hint}")
    return seconds


def _read_ratings(
    path: Path,
    *,
    layout: Layout,
    columns: InteractionColumns,
    scale: float,
    title_ids: dict[str, int],
    progress: Progress,
    weights: bool = False,
    skip_unknown_items: bool = False,
    where: ImportWhereabouts | None = None,
) -> _Ratings:
    bad = _BadLines(path)
    unknown = _BadLines(path)  # lines whose one problem is an item not in the catalogue
    users: dict[str, int] = {}
    user_of, title_of, rating_of, time_of, line_of = (
        array("q"),
        array("q"),
        array("d"),
        array("d"),
        array("q"),
    )
    now = timezone.now().timestamp()
    wanted = [
        ("--user-column", columns.user),
        ("--item-column", columns.item),
        ("--rating-column", columns.rating),
        ("--time-column", columns.time),
    ]
    total = _data_lines(path, layout)
    with (
        _open_table(path, layout=layout, columns=wanted) as table,
        progress(f"Reading {path.name}", total) as advance,
    ):
        bar = _LineProgress(advance, total=total, first=1 + layout.header, where=where)
        user_at, item_at, rating_at, time_at = table.indexes
        width = table.width
        for line, fields in table.rows:
            bar.at(line)
            if len(fields) != width:
                fields = _fields_fitted(fields, table)
                if len(fields) != width:
                    bad.add(line, f"expected {width} fields, found {len(fields)}")
                    continue
            problems = []
            user = _source_id(fields[user_at].strip())
            if NUL in user:
                problems.append(_nul_in(columns.user))
            elif not user:
                problems.append(f"empty {columns.user}")
            elif len(user) > EXTERNAL_ID_MAX_LENGTH:
                problems.append(
                    f"{columns.user} is longer than {EXTERNAL_ID_MAX_LENGTH} characters"
                )
            item = _source_id(fields[item_at].strip())
            title_id = title_ids.get(item)
            unknown_item = ""
            if NUL in item:
                problems.append(_nul_in(columns.item))
            elif not item:
                problems.append(f"empty {columns.item}")
            elif title_id is None:
                unknown_item = (
                    f"unknown item {columns.item} '{item}' (not in the catalogue; "
                    "run import_catalogue first)"
                )
                problems.append(unknown_item)
            try:
                rating = _rating_value(
                    fields[rating_at].strip(), column=columns.rating, scale=scale, weights=weights
                )
            except ValueError as exc:
                problems.append(str(exc))
            try:
                seconds = _epoch_seconds(fields[time_at].strip(), column=columns.time, now=now)
            except ValueError as exc:
                problems.append(str(exc))
            if problems == [unknown_item]:
                # A title deleted since the catalogue was imported, or a wrong --item-column:
                # nothing but the item can be wrong with the line.
                unknown.add(line, unknown_item)
                if not skip_unknown_items:
                    bad.add(line, unknown_item)
                continue
            if problems:
                bad.add(line, "; ".join(problems))
                continue
            number = users.get(user)
            if number is None:
                number = users[user] = len(users)
            user_of.append(number)
            title_of.append(title_id)
            rating_of.append(rating)
            time_of.append(seconds)
            line_of.append(line)
        bar.finish()

    bad.raise_if_any(
        f"{unknown.count} {'line names' if unknown.count == 1 else 'lines name'} only an "
        "item not in the catalogue (a title deleted since it was imported?): "
        "--skip-unknown-items skips those, imports the other rows and lists them."
        if unknown.count and not skip_unknown_items
        else ""
    )
    if unknown.count and not line_of:
        # --skip-unknown-items is for the few titles deleted since the catalogue import. A
        # file none of whose items are known is the wrong file, or the right one against
        # the wrong catalogue: skipping every row stored nothing and exited 0, as if done.
        rows = (
            f"all {unknown.count} of its rows name items"
            if unknown.count > 1
            else "its one row names an item"
        )
        raise DatasetImportError(
            "\n".join(
                [
                    f"{path}: {rows} not in the catalogue; nothing was imported.",
                    "Is it the wrong file, or the right one for another environment's "
                    f"catalogue (run import_catalogue with its items first), or is "
                    f"--item-column not the items' column ('{columns.item}')?",
                    *unknown.listing("skipped"),
                ]
            )
        )
    user = np.frombuffer(user_of, dtype=np.int64)
    title = np.frombuffer(title_of, dtype=np.int64)
    times = np.frombuffer(time_of, dtype=np.float64)
    line = np.frombuffer(line_of, dtype=np.int64)
    return _Ratings(
        users=list(users),
        user=user,
        title=title,
        rating=np.frombuffer(rating_of, dtype=np.float64),
        time=times,
        line=line,
        repeat=_same_instant_repeats(user, title, times, line),
        skipped=unknown.count,
        skipped_lines=tuple(unknown.listing("skipped")),
    )


def _same_instant_repeats(
    user: np.ndarray, title: np.ndarray, times: np.ndarray, line: np.ndarray
) -> np.ndarray:
    """Per row: how many earlier rows (in file order) have the same user, item and time.

    A user's repeated interactions with one item are kept (implicit logs are
    full of them); their event ids differ by time, and by this count when even
    the time is the same. Sorted in numpy rather than kept in a dict of pairs,
    which would cost about 150 bytes per row on files of tens of millions of rows.
    """
    repeat = np.zeros(line.shape[0], dtype=np.int64)
    if line.shape[0] < 2:
        return repeat
    order = np.lexsort((line, times, title, user))
    u, t, s = user[order], title[order], times[order]
    same = np.r_[False, (u[1:] == u[:-1]) & (t[1:] == t[:-1]) & (s[1:] == s[:-1])]
    if not same.any():
        return repeat
    group_start = np.maximum.accumulate(np.where(same, 0, np.arange(len(order))))
    repeat[order] = np.arange(len(order)) - group_start
    return repeat


def _natural_key(user: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order ("2" before "10"), then the rest alphabetically."""
    if user.isascii() and user.isdigit():
        return (0, int(user), "")
    return (1, 0, user)


def _profile_name(user: str, slot: int, taken: set[str]) -> str:
    name = f"User {user}"
    if len(name) > PROFILE_NAME_MAX_LENGTH or name.lower() in taken:
        name = f"User {user[:30]} (#{slot})"  # the slot makes it unique in the household
    taken.add(name.lower())
    return name


def _households_assign(
    *, users: list[str], region: str, per_household: int, progress: Progress
) -> tuple[list[int], set[int], int, int]:
    """Profile id of each source user (by user number), creating households for new users.

    A user imported before keeps their profile and household. New users fill new
    households of ``per_household`` profiles, in natural id order, so the
    grouping does not depend on the order of the file's rows.
    The existing profiles are locked (in id order) until the transaction ends.
    The new households and profiles are written batch by batch under a bar of new
    profiles: a data set of 110,000 users takes over half a minute.
    Returns (profile ids, the profiles that already existed, households and profiles created).
    """
    while True:
        known: dict[str, int] = {}
        for external_id, pk in (
            Profile.objects.filter(
                AnyOf(F("external_id"), users), account__external_id__startswith=HOUSEHOLD_PREFIX
            )
            .order_by("-pk")  # should a user have two profiles, the oldest wins
            .values_list("external_id", "pk")
        ):
            known[external_id] = pk
        # The signals API serialises each profile's batches on its row; so does this. A
        # profile deleted since it was read is not locked: read again, its user is new.
        locked = Profile.objects.select_for_update().filter(AnyOf(F("pk"), sorted(known.values())))
        if len(locked.order_by("pk").values_list("pk", flat=True)) == len(known):
            break
    new_users = sorted((user for user in users if user not in known), key=_natural_key)
    numbers = (
        external_id.removeprefix(HOUSEHOLD_PREFIX)
        for external_id in Account.objects.filter(
            external_id__startswith=HOUSEHOLD_PREFIX
        ).values_list("external_id", flat=True)
    )
    last = max((int(n) for n in numbers if n.isascii() and n.isdigit()), default=0)

    groups = [
        new_users[start : start + per_household]
        for start in range(0, len(new_users), per_household)
    ]
    profile_ids = dict(known)
    with progress("Creating profiles", len(new_users)) as advance:
        for start in range(0, len(groups), BATCH_SIZE):
            batch = groups[start : start + BATCH_SIZE]
            accounts = Account.objects.bulk_create(
                [
                    Account(
                        name=f"Imported household {last + k}",
                        home_region_id=region,
                        external_id=f"{HOUSEHOLD_PREFIX}{last + k}",
                    )
                    for k in range(start + 1, start + len(batch) + 1)
                ]
            )
            profiles = []
            for account, members in zip(accounts, batch, strict=True):
                taken: set[str] = set()
                profiles += [
                    Profile(
                        account_id=account.pk,
                        slot=slot,
                        name=_profile_name(user, slot, taken),
                        external_id=user,
                    )
                    for slot, user in enumerate(members, 1)
                ]
            Profile.objects.bulk_create(profiles, batch_size=BATCH_SIZE)
            profile_ids.update((p.external_id, p.pk) for p in profiles)
            advance(len(profiles))
    return (
        [profile_ids[user] for user in users],
        set(known.values()),
        len(groups),
        len(new_users),
    )


NULL = "\\N"  # COPY's text-format NULL


def _copy_sql(model: type[Signal] | type[ProfileTitleState], fields: Sequence[str]) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(f).column) for f in fields)
    return f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"


class _Appender:
    """Appends new signals and new per-title states: COPY on PostgreSQL, the ORM elsewhere.

    COPY takes rows as text straight from tuples, several times faster than
    ``bulk_create`` (whose per-value field preparation dominates at hundreds of
    thousands of rows) and than the signals API's one-statement insert. It has
    no ON CONFLICT, which is safe here: stored events were filtered out and
    stored states loaded beforehand, under the profile locks the import holds,
    and the unique indexes would still refuse a duplicate (failing the whole
    import, never storing anything twice). States loaded from the database are
    written back by the signals service's own upsert.
    """

    SIGNAL_COLUMNS = SIGNAL_FIELDS
    STATE_COLUMNS = ("profile", "title", *STATE_FIELDS)

    def __init__(self, *, received_at: dt.datetime) -> None:
        self.use_copy = connection.vendor == "postgresql"
        self._received = received_at.isoformat()
        self._signal_sql = _copy_sql(Signal, self.SIGNAL_COLUMNS)
        self._state_sql = _copy_sql(ProfileTitleState, self.STATE_COLUMNS)
        self._signals: list[str] = []
        self._signal_objects: list[Signal] = []
        self._new_states: list[ProfileTitleState] = []
        self._stored_states: list[ProfileTitleState] = []
        # A rating's signals and state share one instant: format each instant once.
        self._times: dict[dt.datetime | None, str] = {None: NULL}

    def _time(self, moment: dt.datetime | None) -> str:
        text = self._times.get(moment)
        if text is None:  # None is cached from the start, so ``moment`` is a datetime here
            text = self._times[moment] = moment.isoformat()
        return text

    def add_signals(self, profile_id: int, events: list[SignalEvent], rewatches: set[int]) -> None:
        if self.use_copy:
            received = self._received
            self._signals += [
                f"{profile_id}\t{e.title_id}\t{NULL}\t{e.kind}\t"
                f"{NULL if e.value is None else e.value}\t{e.device}\t"
                f"{self._time(e.occurred_at)}\t{received}\t{e.client_event_id}\t"
                f"{NULL}\t\t{NULL}\t{NULL}\t{'t' if e.index in rewatches else 'f'}\n"
                for e in events
            ]
        else:
            self._signal_objects += [
                Signal(
                    profile_id=profile_id,
                    title_id=e.title_id,
                    kind=e.kind,
                    value=e.value,
                    device=e.device,
                    occurred_at=e.occurred_at,
                    client_event_id=e.client_event_id,
                    is_rewatch=e.index in rewatches,
                )
                for e in events
            ]

    def add_states(self, states: Iterable[ProfileTitleState]) -> None:
        for state in states:
            (self._stored_states if state.pk else self._new_states).append(state)

    def flush(self) -> None:
        new_states = self._new_states
        if self.use_copy:
            self._copy(self._signal_sql, self._signals)
            self._copy(self._state_sql, [self._state_line(s) for s in new_states])
            new_states = []
        else:
            Signal.objects.bulk_create(self._signal_objects, batch_size=BATCH_SIZE)
        title_states_save(states=[*self._stored_states, *new_states], batch_size=BATCH_SIZE)
        self._signals, self._signal_objects = [], []
        self._new_states, self._stored_states = [], []
        self._times = {None: NULL}

    def _state_line(self, s: ProfileTitleState) -> str:
        """One COPY line in the order of ``STATE_COLUMNS``."""
        time = self._time
        return (
            f"{s.profile_id}\t{s.title_id}\t{time(s.first_played_at)}\t"
            f"{time(s.last_played_at)}\t{time(s.last_event_at)}\t{s.play_count}\t"
            f"{s.progress}\t{NULL if s.last_episode_id is None else s.last_episode_id}\t"
            f"{json.dumps(s.completed_episodes)}\t{s.completed_seasons}\t"
            f"{time(s.completed_at)}\t{s.rewatch_count}\t{s.thumbs}\t{time(s.thumbs_at)}\t"
            f"{time(s.playback_at)}\n"
        )

    @staticmethod
    def _copy(sql: str, lines: list[str]) -> None:
        if lines:
            # Django's cursor wraps psycopg's; COPY lives on the latter.
            with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                copy.write("".join(lines))


@dataclass
class _Tally:
    stored: int = 0
    duplicates: int = 0
    states: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)


def _rows_of_pairs_sql(
    model: type[Signal] | type[ProfileTitleState], select: str, key: tuple[str, str]
) -> str:
    """``SELECT select`` of the rows whose two ``key`` fields hold one of a list of pairs.

    The statement's two parameters are the pairs' first values and their second
    values, arrays that ``unnest`` zips back into pairs, joined to the table on the
    two columns of its unique index: whatever the plan, each pair is a probe of
    that index, and no row is tested against a whole list.

    These lookups were first a list per column (``a = ANY(%s) AND b = ANY(%s)``,
    the pairs then picked out in Python), and an import runs them once a chunk:
    psycopg prepares a statement on its third run (``PREPARE_THRESHOLD``), and
    PostgreSQL plans a prepared statement for its values five times, then settles
    on its generic plan, made for arrays of unknown length (and not hashed). In it,
    on PostgreSQL before 17, the signals' unique index was probed with every event
    for every profile: a thousand returning profiles by forty thousand events made
    119 million index page visits, 19 s, where the seven chunks before took 0.3 s.
    The states were read by profile, each compared with the whole list of titles.
    A re-run of 400,000 ratings took 9 min 34 s; its first run, 1 min 24 s.
    """
    quote = connection.ops.quote_name
    first, second = (model._meta.get_field(name) for name in key)
    # Only the model's own table, column names and column types are interpolated.
    return (
        f"SELECT {select} FROM {quote(model._meta.db_table)} AS t"  # noqa: S608
        f" JOIN unnest(%s::{first.db_type(connection)}[], %s::{second.db_type(connection)}[])"
        f" AS pair (a, b) ON t.{quote(first.column)} = pair.a AND t.{quote(second.column)} = pair.b"
    )


def _events_stored(pairs: list[tuple[int, uuid.UUID]]) -> set[tuple[int, uuid.UUID]]:
    """Which of these (profile id, client event id) pairs are stored signals already."""
    profile_ids = [pk for pk, _ in pairs]
    event_ids = [event_id for _, event_id in pairs]
    if connection.vendor == "postgresql":
        sql = _rows_of_pairs_sql(
            Signal, "t.profile_id, t.client_event_id", ("profile", "client_event_id")
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [profile_ids, event_ids])
            return set(cursor.fetchall())
    # SQLite has no unnest: a list per column, then the pairs among the rows found.
    found = Signal.objects.filter(
        AnyOf(F("profile_id"), set(profile_ids)), AnyOf(F("client_event_id"), event_ids)
    ).values_list("profile_id", "client_event_id")
    return set(found).intersection(pairs)


def _states_stored(pairs: set[tuple[int, int]]) -> list[ProfileTitleState]:
    """The stored per-title states of these (profile id, title id) pairs."""
    profile_ids = [pk for pk, _ in pairs]
    title_ids = [title_id for _, title_id in pairs]
    if connection.vendor == "postgresql":
        sql = _rows_of_pairs_sql(ProfileTitleState, "t.*", ("profile", "title"))
        return list(ProfileTitleState.objects.raw(sql, [profile_ids, title_ids]))
    found = ProfileTitleState.objects.filter(
        AnyOf(F("profile_id"), set(profile_ids)), AnyOf(F("title_id"), set(title_ids))
    )
    return [state for state in found if (state.profile_id, state.title_id) in pairs]


def _store_chunk(
    groups: list[tuple[int, np.ndarray]],
    *,
    ratings: _Ratings,
    profile_ids: list[int],
    existing_profiles: set[int],
    items: dict[int, str],
    title_kinds: dict[int, str],
    scale: float,
    device: str,
    sink: _Appender,
    tally: _Tally,
    weights: bool = False,
) -> None:
    """Store the signals and derived states of a chunk of users (user number, row indexes).

    Profiles that existed before this import may already hold some of these
    events (an earlier run) and states (live activity too): those are read in
    one query each for the whole chunk. New profiles need no query at all.
    """
    plans: dict[float, SignalPlan] = {}
    to_signals = weight_signals if weights else rating_signals
    events_of: dict[int, list[SignalEvent]] = {}
    index = 0
    for user_number, rows in groups:
        user = ratings.users[user_number]
        events = events_of[profile_ids[user_number]] = []
        for row in rows.tolist():
            rating = float(ratings.rating[row])
            plan = plans.get(rating)
            if plan is None:
                plan = plans[rating] = to_signals(rating, scale=scale)
            title_id = int(ratings.title[row])
            item = items[title_id]
            seconds = float(ratings.time[row])
            repeat = int(ratings.repeat[row])
            occurred_at = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
            for kind, value in plan:
                events.append(
                    SignalEvent(
                        index=index,
                        kind=kind,
                        title_id=title_id,
                        episode_id=None,
                        value=value,
                        device=device,
                        occurred_at=occurred_at,
                        client_event_id=import_event_id(
                            user=user, item=item, kind=kind, time=seconds, repeat=repeat
                        ),
                        page_id=None,
                        row="",
                        position=None,
                        artwork_variant_id=None,
                    )
                )
                index += 1

    states_of: dict[int, dict[int, ProfileTitleState]] = {pk: {} for pk in events_of}
    returning = [pk for pk in events_of if pk in existing_profiles]
    if returning:
        stored = _events_stored(
            [(pk, e.client_event_id) for pk in returning for e in events_of[pk]]
        )
        for pk in returning:
            fresh = [e for e in events_of[pk] if (pk, e.client_event_id) not in stored]
            tally.duplicates += len(events_of[pk]) - len(fresh)
            events_of[pk] = fresh
        touched = {(pk, e.title_id) for pk in returning for e in events_of[pk]}
        for state in _states_stored(touched):
            states_of[state.profile_id][state.title_id] = state

    for pk, events in events_of.items():
        if not events:
            continue
        rewatches = title_states_fold(
            profile_id=pk,
            states=states_of[pk],
            events=events,
            title_kinds=title_kinds,
            season_episodes={},  # imported ratings are of whole titles, never episodes
        )
        sink.add_signals(pk, events, rewatches)
        sink.add_states(states_of[pk].values())
        tally.stored += len(events)
        tally.states += len(states_of[pk])
        tally.by_kind.update(e.kind for e in events)
    sink.flush()


def _user_chunks(ratings: _Ratings) -> Iterator[list[tuple[int, np.ndarray]]]:
    """Chunks of about CHUNK_ROWS rows, of whole users: (user number, row indexes in time order).

    A user's rows never straddle two chunks, so each profile's state is folded once.
    """
    order = np.lexsort((ratings.line, ratings.time, ratings.user))  # stable: file order on ties
    by_user = ratings.user[order]
    starts = np.flatnonzero(np.r_[True, by_user[1:] != by_user[:-1]]) if len(order) else []
    bounds = np.r_[starts, len(order)].astype(np.int64).tolist()
    chunk: list[tuple[int, np.ndarray]] = []
    rows = 0
    for start, end in itertools.pairwise(bounds):
        chunk.append((int(by_user[start]), order[start:end]))
        rows += end - start
        if rows >= CHUNK_ROWS:
            yield chunk
            chunk, rows = [], 0
    if chunk:
        yield chunk


def _titles_unavailable(*, title_ids: np.ndarray, region: str) -> int:
    now = timezone.now()
    rated = np.unique(title_ids).tolist()
    available = (
        Availability.objects.filter(AnyOf(F("title_id"), rated), region_id=region)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .values("title_id")
        .distinct()
        .count()
    )
    return len(rated) - available


def interactions_import(
    *,
    path: Path | str,
    region: str,
    layout: Layout = Layout(),
    columns: InteractionColumns = InteractionColumns(),
    profiles_per_household: int = 1,
    rating_scale: float = 5.0,
    weights: bool = False,
    weight_scale: float = 1.0,
    device: str = DeviceClass.WEB,
    dry_run: bool = False,
    progress: Progress = silent_progress,
    skip_unknown_items: bool = False,
) -> InteractionImportResult:
    """Turn each rating into the signals :func:`rating_signals` says it stands for.

    With ``weights`` the column named ``columns.rating`` holds implicit weights
    (play counts, minutes watched) instead, turned into signals by
    :func:`weight_signals` with ``weight_scale`` the weight of one whole viewing.

    Each source user becomes a profile (``external_id`` = user id) in a household
    account (``external_id`` = ``import:<n>``) of ``profiles_per_household``
    profiles in ``region``; items are matched to titles by ``external_id``, so
    the catalogue is imported first. Each signal's ``client_event_id`` is derived
    from (user, item, kind, time), so re-running an import stores nothing twice,
    and a user's repeated rows for one item are each kept.
    The per-title states are folded by the same function the signals API uses.

    A row whose item is not in the catalogue is a bad line, unless
    ``skip_unknown_items``: then a row with no other problem is left out and
    counted, and the rest is imported (a title deleted since the catalogue
    import must not keep a whole history out). A file with no known item at all
    is refused all the same: it is the wrong file, not a few deleted titles.
    """
    path = _file_path(path)
    if not 1 <= profiles_per_household <= MAX_PROFILES_PER_ACCOUNT:
        raise DatasetImportError(
            f"A household has 1 to {MAX_PROFILES_PER_ACCOUNT} profiles, "
            f"not {profiles_per_household}."
        )
    if not (math.isfinite(rating_scale) and rating_scale > 0):
        raise DatasetImportError(f"The rating scale must be positive, not {rating_scale}.")
    if not (math.isfinite(weight_scale) and weight_scale > 0):
        raise DatasetImportError(f"The weight scale must be positive, not {weight_scale}.")
    if device not in DeviceClass.values:
        raise DatasetImportError(
            f"No device class '{device}'; use one of {_quoted(DeviceClass.values)}."
        )
    if not region.strip():
        raise DatasetImportError("Give the households' region.")
    (region,) = _region_codes([region])

    title_ids: dict[str, int] = {}
    title_kinds: dict[int, str] = {}
    for external_id, pk, kind in Title.objects.exclude(external_id="").values_list(
        "external_id", "pk", "kind"
    ):
        title_ids[external_id] = pk
        title_kinds[pk] = kind
    where = ImportWhereabouts(path)
    progress = where.tracking(progress)
    with where.interruptible(dry_run=dry_run):
        ratings = _read_ratings(
            path,
            layout=layout,
            columns=columns,
            scale=rating_scale,
            title_ids=title_ids,
            progress=progress,
            weights=weights,
            skip_unknown_items=skip_unknown_items,
            where=where,
        )
        items = {pk: external_id for external_id, pk in title_ids.items()}

        tally = _Tally()
        with where.storing(dry_run=dry_run):
            profile_ids, existing, households, created = _households_assign(
                users=ratings.users,
                region=region,
                per_household=profiles_per_household,
                progress=progress,
            )

            sink = _Appender(received_at=timezone.now())
            with progress("Storing signals", len(ratings.line)) as advance:
                for chunk in _user_chunks(ratings):
                    _store_chunk(
                        chunk,
                        ratings=ratings,
                        profile_ids=profile_ids,
                        existing_profiles=existing,
                        items=items,
                        title_kinds=title_kinds,
                        scale=weight_scale if weights else rating_scale,
                        device=device,
                        sink=sink,
                        tally=tally,
                        weights=weights,
                    )
                    advance(sum(len(rows) for _, rows in chunk))
            unavailable = _titles_unavailable(title_ids=ratings.title, region=region)
        unterminated = _unterminated_warning(path)
        return InteractionImportResult(
            rows=len(ratings.line),
            users=len(ratings.users),
            households_created=households,
            profiles_created=created,
            profiles_existing=len(existing),
            signals_stored=tally.stored,
            duplicates=tally.duplicates,
            signals_by_kind=dict(sorted(tally.by_kind.items())),
            title_states=tally.states,
            titles_unavailable=unavailable,
            region=region,
            dry_run=dry_run,
            skipped=ratings.skipped,
            skipped_lines=ratings.skipped_lines,
            unterminated=unterminated,
        )
