"""``manage.py import_interactions PATH``: ratings or weights of a public-style data set."""

import argparse
from typing import Any

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)

from artwork.models import DeviceClass
from profiles.models import MAX_PROFILES_PER_ACCOUNT
from recommendations.management.file_layout import add_layout_arguments, layout_from_arguments
from recommendations.management.interrupts import import_command_errors
from recommendations.services.dataset_import import (
    InteractionColumns,
    InteractionImportResult,
    interactions_import,
    terminal_progress,
)


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the description's own line breaks kept."""


class Command(BaseCommand):
    help = """Import ratings (or implicit weights) as per-profile signals, one per row.

The default layout is MovieLens's ratings.csv (timestamp in unix seconds;
ISO 8601 with an offset is accepted too; from 1990-01-01, as 0 or 1 is an
exporter's placeholder for no time):

    userId,movieId,rating,timestamp
    1,31,2.5,1260759144

Items are matched to titles by external_id: run import_catalogue first.
Each source user becomes a profile (external_id = user id) in a household
account (external_id import:<n>) of --profiles-per-household profiles in
--region; a user imported before keeps their profile.

How a rating becomes signals, on x = 5 * rating / --rating-scale, all at the
rating's time:

    x >= 4       play_start, complete (+ thumbs_up at the top of the scale)
    3 <= x < 4   play_start, progress 20*x percent (60 for 3, 70 for 3.5)
    x < 3        play_start, thumbs_down

Implicit data (play counts, minutes watched: user, item, weight, timestamp)
is imported with --weight-column NAME. On x = weight / --weight-scale (the
weight of one whole viewing, default 1), never a thumbs down:

    x >= 1       play_start, complete
    0 < x < 1    play_start, progress 100*x percent
    x = 0        nothing

Per-title states (completions, thumbs, progress) follow from these signals by
the same rules as live signals. Each signal's client_event_id is derived from
(user, item, kind, time), so re-running an import stores nothing twice, and
a user's repeated rows for one item (a later rating, another play) are each
kept. Imports write history directly: the signals API's 30-day horizon does
not apply.

The whole file is checked before anything is written: bad lines (missing
fields, ratings that are not numbers or out of scale, negative weights, bad
times, unknown items, NUL characters) are reported as PATH:LINE: reason and nothing is
imported; with --skip-unknown-items, lines whose only problem is an item not
in the catalogue (a title deleted since) are skipped and listed instead, and
the rest is imported; a file with no known item at all is still refused (the
wrong file, or another catalogue's). Everything is written in one transaction (Ctrl-C or
SIGTERM keeps nothing, and says where it stopped); --dry-run does the work and rolls it
back."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = InteractionColumns()
        parser.add_argument(
            "path",
            help="The delimited file, e.g. ml-latest-small/ratings.csv: a file on disk, "
            "gzip-compressed (.csv.gz) or not; not an archive (.zip, .tar.gz: extract the "
            "file first), a pipe or standard input ('-').",
        )
        parser.add_argument(
            "--region", required=True, help="Home region of new households, e.g. IN."
        )
        parser.add_argument(
            "--profiles-per-household",
            type=int,
            choices=range(1, MAX_PROFILES_PER_ACCOUNT + 1),
            default=1,
            metavar=f"1..{MAX_PROFILES_PER_ACCOUNT}",
            help="Source users per household account (default: 1).",
        )
        parser.add_argument(
            "--rating-scale",
            type=float,
            default=5.0,
            help="The best possible rating (default: 5); ratings run from 0 to it.",
        )
        parser.add_argument(
            "--device",
            choices=DeviceClass.values,
            default=DeviceClass.WEB,
            help="Device class recorded on the signals (default: web).",
        )
        add_layout_arguments(parser, first_fields="user, item, rating, time")
        parser.add_argument(
            "--user-column",
            default=defaults.user,
            help=f"Column of the source user id, kept as the profile's external_id (default: "
            f"{defaults.user}).",
        )
        parser.add_argument(
            "--item-column",
            default=defaults.item,
            help=f"Column of the item id, a title's external_id (default: {defaults.item}).",
        )
        value = parser.add_mutually_exclusive_group()
        value.add_argument(
            "--rating-column",
            default=defaults.rating,
            help=f"Column of the rating (default: {defaults.rating}).",
        )
        value.add_argument(
            "--weight-column",
            metavar="NAME",
            help="The file holds implicit weights (play counts, minutes) in this column.",
        )
        parser.add_argument(
            "--weight-scale",
            type=float,
            default=None,
            help="With --weight-column: the weight of one whole viewing (default: 1).",
        )
        parser.add_argument(
            "--time-column",
            default=defaults.time,
            help=f"Column of the time: unix seconds, or ISO 8601 with an offset (default: "
            f"{defaults.time}).",
        )
        parser.add_argument(
            "--skip-unknown-items",
            action="store_true",
            help="Skip rows whose item is not in the catalogue (titles deleted since), "
            "import the rest and list the skipped lines. A file none of whose items are "
            "in the catalogue is refused all the same.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and count everything; keep nothing."
        )

    def handle(self, *args: object, **options: Any) -> None:
        weights = options["weight_column"] is not None
        if options["weight_scale"] is not None and not weights:
            raise CommandError("--weight-scale needs --weight-column.")
        with import_command_errors(options["path"]):
            result = interactions_import(
                path=options["path"],
                region=options["region"],
                layout=layout_from_arguments(options),
                columns=InteractionColumns(
                    user=options["user_column"],
                    item=options["item_column"],
                    rating=options["weight_column"] if weights else options["rating_column"],
                    time=options["time_column"],
                ),
                profiles_per_household=options["profiles_per_household"],
                rating_scale=options["rating_scale"],
                weights=weights,
                weight_scale=1.0 if options["weight_scale"] is None else options["weight_scale"],
                device=options["device"],
                dry_run=options["dry_run"],
                progress=terminal_progress(enabled=options["verbosity"] > 0, file=self.stderr._out),
                skip_unknown_items=options["skip_unknown_items"],
            )
        self.stdout.write(self._summary(result, noun="weights" if weights else "ratings"))

    def _summary(self, result: InteractionImportResult, *, noun: str) -> str:
        kinds = ", ".join(f"{kind} {count}" for kind, count in result.signals_by_kind.items())
        lines = [
            f"{result.rows} {noun} of {result.users} users read.",
            f"Households created: {result.households_created} in {result.region}; "
            f"profiles created: {result.profiles_created}, "
            f"already imported: {result.profiles_existing}.",
            f"Signals stored: {result.signals_stored}" + (f" ({kinds})" if kinds else "") + "; "
            f"duplicates (already stored): {result.duplicates}.",
            f"Per-title states written: {result.title_states}.",
        ]
        if result.titles_unavailable:
            lines.append(
                self.style.WARNING(
                    f"{result.titles_unavailable} rated titles are not available in "
                    f"{result.region} now: they will not be recommended there "
                    f"(import_catalogue --region {result.region})."
                )
            )
        if result.skipped:
            noun = "line" if result.skipped == 1 else "lines"
            its = "its item is" if result.skipped == 1 else "their items are"
            lines.append(
                self.style.WARNING(f"{result.skipped} {noun} skipped: {its} not in the catalogue.")
            )
            lines += result.skipped_lines
        if result.unterminated:
            lines.append(self.style.WARNING(result.unterminated))
        if result.dry_run:
            lines.insert(0, self.style.WARNING("Dry run, nothing kept."))
        return "\n".join(lines)
