"""A page's row titles and reasons, kept with the title tables, beside making them each time.

    python bench/row_copy.py [--language hi] [--pages 2000]

Twelve rows of every kind a page shows, in a display language with a
catalogue: :func:`~recommendations.serving.row_copy.row_copy_texts` with its
texts already kept (every page after the first that shows these rows) beside
the same call on fresh tables (gettext lookups and formatting each time, what
every page did before the texts were kept). No database: the tables are the
names the texts are made of.
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from recommendations.serving.row_copy import RowCopy, row_copy_texts  # noqa: E402

COPIES = [
    RowCopy("continue_watching", ""),
    RowCopy("top_picks", ""),
    RowCopy("because_you_watched", "Sacred Games"),
    RowCopy("because_you_watched", "Dil Chahta Hai"),
    RowCopy("because_you_liked", "Lagaan"),
    RowCopy("trending", "IN"),
    RowCopy("popular_with_language", "hi"),
    RowCopy("new_releases", "IN", 90),
    RowCopy("critically_acclaimed", "", 80),
    RowCopy("genre", "Drama"),
    RowCopy("genre", "Romance"),
    RowCopy("language", "ta"),
]


def _tables() -> SimpleNamespace:
    return SimpleNamespace(
        row_copy={},
        region_names={"IN": "India"},
        language_names={"hi": "Hindi", "ta": "Tamil"},
        language_native_names={"hi": "हिन्दी", "ta": "தமிழ்"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", default="hi")
    parser.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()
    kept = _tables()
    row_copy_texts(COPIES, display_language=args.language, tables=kept)

    def each_time() -> None:
        row_copy_texts(COPIES, display_language=args.language, tables=_tables())

    def from_kept() -> None:
        row_copy_texts(COPIES, display_language=args.language, tables=kept)

    each_time()  # the language's catalogue loaded before either is timed
    made = min(timeit.repeat(each_time, number=args.pages, repeat=5)) / args.pages * 1e6
    looked_up = min(timeit.repeat(from_kept, number=args.pages, repeat=5)) / args.pages * 1e6
    print(f"Row copy of a {len(COPIES)}-row page in {args.language!r}, microseconds a page")
    print(f"  {'measure':<34}{'kept':>8}{'made each time':>16}{'ratio':>8}")
    print(f"  {'row_copy_texts':<34}{looked_up:>8.1f}{made:>16.1f}{made / looked_up:>7.0f}x")


if __name__ == "__main__":
    main()
