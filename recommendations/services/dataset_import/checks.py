"""What makes a field or an option bad, and how bad lines are reported: the first few as
``path:LINE: reason``, and how many more.
"""

import re
from collections.abc import Sequence
from pathlib import Path

from recommendations.services.dataset_import.exceptions import DatasetImportError
from regions.models import Region

MAX_REPORTED_LINES = 20
# PostgreSQL text cannot hold NUL (psycopg refuses it with DataError, mid-write), and
# Python's csv module reads it as an ordinary character: the row checks refuse it.
NUL = "\x00"


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


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


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
