"""``manage.py make_artwork_renditions``: the per-device-class copies of variants stored
before copies were made on upload (or whose making failed)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from artwork.services import artwork_renditions_backfill
from recommendations.management.interrupts import interrupts_say
from recommendations.management.options import whole_number
from recommendations.progress import command_bar


class Command(BaseCommand):
    help = (
        "Store each device class's smaller copy of every artwork image whose variant has "
        "none yet (docs/artwork.md, 'Sizes per device class'). Safe to run again and to "
        "stop: what is done stays done, and a run with nothing left does nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=whole_number(1),
            default=200,
            help="Variants read and marked per statement (default 200).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with (
            interrupts_say(_interrupted),
            command_bar(
                self.stderr,
                desc="artwork renditions",
                unit="variants",
                verbosity=options["verbosity"],
            ) as bar,
        ):

            def progress(done: int, total: int) -> None:
                if bar.total != total:
                    bar.total = total
                bar.update(done - bar.n)

            result = artwork_renditions_backfill(
                batch_size=options["batch_size"], progress=progress
            )
        self.stdout.write(
            f"{result.variants} variant(s) given their renditions ({result.files} file(s) "
            f"written); {result.failed} whose image could not be read."
        )


def _interrupted() -> str:
    return (
        "Interrupted: the variants done so far keep their renditions; run the command again "
        "for the rest (a copy written for a variant not yet marked is reused)."
    )
