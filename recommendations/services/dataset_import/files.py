"""What can be imported as a file: a plain or a gzip-compressed one, which the import reads
more than once. Standard input, pipes, archives and other compressions are refused, with
what to do instead.
"""

import bz2
import gzip
import lzma
import re
import stat
import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, NamedTuple, Protocol

from recommendations.services.dataset_import.exceptions import DatasetImportError

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
