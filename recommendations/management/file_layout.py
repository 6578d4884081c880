"""The delimited-file options of the import commands: ``import_catalogue`` and
``import_interactions``.

Both commands read their file through one :class:`Layout`, so they take the same options
for it, with the same defaults and help, and read them back the same way: an option
added to, or a default changed in, one command alone would have the two read one file
differently.
"""

from collections.abc import Mapping
from typing import Any

from django.core.management.base import CommandParser

from recommendations.services.dataset_import import Layout, layout_from_options


def add_layout_arguments(parser: CommandParser, *, first_fields: str) -> None:
    """Add ``--delimiter``, ``--no-header``, ``--encoding``, ``--force-encoding`` and
    ``--no-quoting``; ``first_fields`` names what a headerless file's first fields are
    (e.g. "id, title[, genres]")."""
    parser.add_argument(
        "--delimiter", default=",", help="Field delimiter: ',' (default), '\\t' or 'tab', '::'."
    )
    parser.add_argument(
        "--no-header",
        action="store_true",
        help=f"The file has no header: its first fields are {first_fields}.",
    )
    parser.add_argument(
        "--encoding",
        default="utf-8-sig",
        help="The file's character encoding, e.g. latin-1, cp1252, utf-16 (default: UTF-8, "
        "with or without a byte-order mark).",
    )
    parser.add_argument(
        "--force-encoding",
        action="store_true",
        help="Read the file in --encoding even though it looks like UTF-8.",
    )
    parser.add_argument(
        "--no-quoting",
        action="store_true",
        help="Quotes are ordinary characters: for files that never quote fields (IMDb's TSV).",
    )


def layout_from_arguments(options: Mapping[str, Any]) -> Layout:
    """The :class:`Layout` of the options :func:`add_layout_arguments` added.

    Raises
    ------
    recommendations.services.dataset_import.DatasetImportError
        On a delimiter or encoding that cannot read a delimited text file.
    """
    return layout_from_options(
        delimiter=options["delimiter"],
        header=not options["no_header"],
        encoding=options["encoding"],
        quoting=not options["no_quoting"],
        force_encoding=options["force_encoding"],
    )
