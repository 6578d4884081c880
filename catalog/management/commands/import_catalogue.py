"""``manage.py import_catalogue PATH``: titles from a public-style data set (MovieLens)."""

import argparse
from typing import Any

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)

from catalog.models import MaturityLevel
from recommendations.management.file_layout import add_layout_arguments, layout_from_arguments
from recommendations.management.interrupts import import_command_errors
from recommendations.services.dataset_import import (
    CatalogueColumns,
    CatalogueImportResult,
    catalogue_import,
    terminal_progress,
)


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the description's own line breaks kept."""


class Command(BaseCommand):
    help = """Create or update titles from a delimited file, one title per row.

The default layout is MovieLens's movies.csv:

    movieId,title,genres
    1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy

- The item id is kept as the title's external_id: re-running updates those
  titles (name, year, genres) and never duplicates them.
- Names are in --language. A stored title whose original language is another
  one keeps its original name: the file's name becomes its localisation in
  --language (a Tamil file of the same ids adds Tamil names).
- "Name (1995)" gives the name and the release year (1 January); a title
  without a year is dated 1900 so that it never shows as a new release.
- Genres are filed by slug ("Sci-Fi" -> sci-fi; a name in another script,
  such as Korean or Cyrillic, keeps its own letters) and created as needed;
  "(no genres listed)" means none. A file without a genres column
  (--genres-column ''), or a row whose genres field names no genre (empty,
  or separators alone), leaves the genres of titles already stored as they are.
- New titles are films in --language, 18+ unless --maturity says otherwise
  (nobody has rated them, so they are kept from kids), 100 minutes long.
- Each --region gets an open licence window for every title in the file that
  has no window there yet; a title with any window in that region (a licence
  staff set to start later, or one that ended, or one being saved while this
  runs) keeps only its own windows.

The whole file is checked before anything is written: bad lines are reported
as PATH:LINE: reason and nothing is imported. Everything is written in one
transaction (Ctrl-C or SIGTERM keeps nothing, and says where it stopped); --dry-run
does the work and rolls it back."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = CatalogueColumns()
        parser.add_argument(
            "path",
            help="The delimited file, e.g. ml-latest-small/movies.csv: a file on disk, "
            "gzip-compressed (.csv.gz) or not; not an archive (.zip, .tar.gz: extract the "
            "file first), a pipe or standard input ('-').",
        )
        parser.add_argument(
            "--region",
            action="append",
            default=[],
            dest="regions",
            help="Region code the titles are available in (repeat, or IN,US). Default: none.",
        )
        parser.add_argument(
            "--language",
            default="en",
            help="Language of the names: new titles' original language (default: en).",
        )
        parser.add_argument(
            "--maturity",
            type=int,
            choices=MaturityLevel.values,
            default=MaturityLevel.EIGHTEEN,
            help="Maturity level of new titles (default: 18).",
        )
        add_layout_arguments(parser, first_fields="id, title[, genres]")
        parser.add_argument(
            "--id-column",
            default=defaults.item,
            help=f"Column of the item id, kept as the title's external_id (default: "
            f"{defaults.item}).",
        )
        parser.add_argument(
            "--title-column",
            default=defaults.title,
            help=f"Column of the name, with its year in brackets (default: {defaults.title}).",
        )
        parser.add_argument(
            "--genres-column",
            default=defaults.genres,
            help=f"Column of the genres (default: {defaults.genres}); '' when the file has "
            "none (titles already stored keep theirs).",
        )
        parser.add_argument(
            "--genre-separator",
            default=defaults.genre_separator,
            help=f"What separates the genres in the genres field (default: "
            f"'{defaults.genre_separator}').",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and count everything; keep nothing."
        )

    def handle(self, *args: object, **options: Any) -> None:
        for value in options["regions"]:
            if not value.replace(",", "").strip():
                # Read as no --region, the titles went into no region, invisible, unsaid.
                raise CommandError(f"--region {value!r} names no region; give a code, e.g. IN.")
        with import_command_errors(options["path"]):
            result = catalogue_import(
                path=options["path"],
                layout=layout_from_arguments(options),
                columns=CatalogueColumns(
                    item=options["id_column"],
                    title=options["title_column"],
                    genres=options["genres_column"],
                    genre_separator=options["genre_separator"],
                ),
                language=options["language"],
                regions=[code for value in options["regions"] for code in value.split(",")],
                maturity=options["maturity"],
                dry_run=options["dry_run"],
                progress=terminal_progress(enabled=options["verbosity"] > 0, file=self.stderr._out),
            )
        self.stdout.write(self._summary(result))

    def _summary(self, result: CatalogueImportResult) -> str:
        regions = ", ".join(result.regions) or "no region (pass --region to make them visible)"
        text = (
            f"{result.rows} titles read: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged; {result.genres_created} genres created; "
            f"{result.windows_created} availability windows opened in {regions}."
        )
        text = (
            self.style.WARNING(f"Dry run, nothing kept. {text}")
            if result.dry_run
            else self.style.SUCCESS(text)
        )
        if result.unterminated:
            text += "\n" + self.style.WARNING(result.unterminated)
        return text
