"""The file's text encoding, checked before a row is read: a codec that is no text
encoding, a UTF-8 file read as another encoding, a Windows file read as ISO 8859, and the
line a decoding error is on.
"""

import codecs
import re
from pathlib import Path

from recommendations.services.dataset_import.exceptions import DatasetImportError
from recommendations.services.dataset_import.files import _DAMAGED_GZIP, _blocks, _open_bytes


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
