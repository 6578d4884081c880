"""``manage.py simulate_traffic``: demo profiles browse real homepages and send real signals."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.demo.traffic import (
    COMMIT_EVERY,
    demo_pages_logged,
    demo_profiles_exist,
    traffic_simulate,
)
from recommendations.management.interrupts import interrupts_say
from recommendations.management.options import moment, seed, whole_number
from recommendations.progress import command_bar
from recommendations.selectors.model_versions import model_version_active_exists
from recommendations.serving.cache import NoActiveModel


class Command(BaseCommand):
    help = (
        "Drive seeded demo profiles, acting out their hidden tastes, through the homepage "
        "service (pages rendered and logged) and the signals service (impressions, hovers, "
        "plays, progress, scroll-pasts), at moments over the last few days. Run after "
        "seed_demo and train_models; train_models again afterwards learns from the logs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--profiles",
            type=whole_number(1),
            default=200,
            help="Profiles taking part (default 200).",
        )
        parser.add_argument(
            "--sessions", type=whole_number(1), default=10, help="Visits per profile (default 10)."
        )
        parser.add_argument(
            "--days",
            type=whole_number(1),
            default=5,
            help="Spread over the last N days (default 5).",
        )
        parser.add_argument("--seed", type=seed, default=0, help="Random seed (default 0).")
        parser.add_argument(
            "--until",
            type=moment,
            default=None,
            help=(
                "The simulated now: sessions fall in the days before it (ISO 8601 date or "
                "time; a date is its midnight UTC; default now). The seed_demo --as-of date "
                "here and as train_models --at gives the same world on any day."
            ),
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help=(
                "Do nothing if the demo's profiles have logged pages already (for make "
                "demo); pages of other households do not count."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.pages: tuple[int, int | None] | None = None  # pages simulated, of how many
        with interrupts_say(self._interrupted):
            self._handle(options)

    def _interrupted(self) -> str:
        if self.pages is None:
            return "Interrupted before simulating any page: nothing was written."
        done, total = self.pages
        kept = done // COMMIT_EVERY * COMMIT_EVERY
        return (
            f"Interrupted after {done} of {total or '?'} page(s): the first {kept} are kept, "
            f"with their signals (every {COMMIT_EVERY} sessions commit together; the "
            "batch under way was rolled back)."
            + (
                " Run again, it simulates its sessions afresh beside those kept "
                "(with --if-empty it now does nothing)."
                if kept
                else " Run it again to simulate them."
            )
        )

    def _handle(self, options: dict[str, Any]) -> None:
        if not demo_profiles_exist():
            # Else it simulated "0 pages for 0 profiles" and exited 0 (after an import, say).
            raise CommandError(
                "No demo profiles to drive: run seed_demo first (the simulation acts out the "
                "tastes it plants; imported households have none)."
            )
        if options["if_empty"] and demo_pages_logged():
            self.stdout.write(
                "The demo's profiles have logged pages already; nothing simulated (--if-empty)."
            )
            return
        if not model_version_active_exists():
            # Before the bar: a bar of 0 pages stood above this refusal (NoActiveModel, below,
            # still answers a region that has no model of its own and no global one).
            raise CommandError(
                "No model serves yet: run `manage.py train_models` first (the simulation "
                "browses real homepages)."
            )
        bar = command_bar(
            self.stderr,
            verbosity=options["verbosity"],
            desc="simulating",
            unit="pages",
            leave=True,
            dynamic_ncols=True,
        )

        def start(total: int) -> None:
            self.pages = (0, total)
            bar.total = total
            bar.refresh()

        def progress(pages: int) -> None:
            done, total = self.pages or (0, None)
            self.pages = (done + pages, total)
            bar.update(pages)

        try:
            report = traffic_simulate(
                profiles=options["profiles"],
                sessions=options["sessions"],
                days=options["days"],
                seed=options["seed"],
                now=options["until"],
                progress=progress,
                on_start=start,
            )
        except NoActiveModel as error:
            raise CommandError(f"{error}") from error
        finally:
            bar.close()
        self.stdout.write(
            f"Simulated {report.pages} pages for {report.profiles} profiles in "
            f"{report.seconds:.1f}s: {report.signals} signals ({report.impressions} "
            f"impressions, {report.plays} plays, {report.scroll_pasts} scroll-pasts)."
        )
