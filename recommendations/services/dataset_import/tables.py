"""Reading a delimited file as a table: its layout, the wanted columns found by name (or by
place), its rows with their line numbers, the reading bar's count of lines, and a last
line no line break ends.
"""

import codecs
import csv
import gzip
import itertools
import os
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from recommendations.services.dataset_import.checks import _quoted
from recommendations.services.dataset_import.exceptions import DatasetImportError
from recommendations.services.dataset_import.files import (
    _blocks,
    _gzipped,
    _open_text,
    _plain_file_check,
)
from recommendations.services.dataset_import.progress import Advance
from recommendations.services.dataset_import.text_encodings import (
    _control_byte_line,
    _LineBreaks,
    _text_encoding_check,
    _undecodable_line,
    _utf_8_line,
)
from recommendations.services.dataset_import.whereabouts import ImportWhereabouts

PROGRESS_EVERY = 10_000


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
