"""``manage.py seed_demo``: fill the database with the demo world (see ``recommendations.demo``)."""

import argparse
import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account
from recommendations.demo.artwork_variants import FULL_IMAGES_MAX_TITLES
from recommendations.demo.builder import (
    ARTWORK_MODES,
    EARLIEST_AS_OF,
    DemoOptions,
    build_demo,
    demo_data_counts,
    demo_data_exists,
)
from recommendations.demo.history import HISTORY_DAYS
from recommendations.demo.households import ADMIN_PASSWORD, ADMIN_USERNAME, demo_admin_ensure
from recommendations.demo.progress import Advance
from recommendations.demo.tastes import SHOWCASE_ACCOUNT_NAME
from recommendations.management.interrupts import interrupted_status, sigterm_interrupts
from recommendations.management.options import past_date, seed, whole_number
from recommendations.progress import command_bar
from recommendations.schedules import schedules_install
from recommendations.signal_events import EARLIEST_SIGNAL_TIME


def history_end(value: str) -> dt.date:
    """A day the demo's history can end on (``--as-of``): a past date from ``EARLIEST_AS_OF``.

    The history runs HISTORY_DAYS before it: from 1990-01-01, the earliest day a
    past date can be, its signals were from November 1989, before any signal can be
    (``EARLIEST_SIGNAL_TIME``), which the signals API and the imports refuse.
    """
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return past_date(value)  # which says what a date looks like
    if day < EARLIEST_AS_OF:
        raise argparse.ArgumentTypeError(
            f"{day} is too early: the demo's history runs {HISTORY_DAYS} days before "
            f"--as-of, and no signal can be before {EARLIEST_SIGNAL_TIME.date()}; "
            f"give {EARLIEST_AS_OF} or later"
        )
    return past_date(value)


class Command(BaseCommand):
    help = (
        "Seed a deterministic demo: a multilingual catalogue with artwork, households with "
        "profiles (hidden tastes planted for later learning) and a signal history. "
        "Same --seed, same data. Refuses to run over existing demo data unless --flush."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=seed, default=42, help="Random seed (default 42).")
        parser.add_argument(
            "--titles", type=whole_number(20), default=600, help="Catalogue size (default 600)."
        )
        parser.add_argument(
            "--profiles",
            type=whole_number(3),
            default=800,
            help="Profiles to create; households of 1-5 are derived from it (default 800).",
        )
        parser.add_argument(
            "--history",
            type=whole_number(1),
            default=60,
            help="Average signals per profile over the last 60 days (default 60).",
        )
        parser.add_argument(
            "--artwork-images",
            choices=ARTWORK_MODES,
            default="auto",
            help=(
                "full: one JPEG per variant with the title's name on it (about 2-3 ms each); "
                "shared: a fixed pool of untitled images per theme, reused by every variant "
                "(for benchmark-sized catalogues); "
                f"auto (default): full up to {FULL_IMAGES_MAX_TITLES} titles, shared above."
            ),
        )
        parser.add_argument(
            "--as-of",
            type=history_end,
            default=None,
            help=(
                "Date (YYYY-MM-DD) the history ends at, midnight UTC; default today; "
                f"from {EARLIEST_AS_OF} (the history's {HISTORY_DAYS} days come after "
                f"{EARLIEST_SIGNAL_TIME.date()}, the earliest a signal can have). "
                "Release dates and licence windows are relative to it, so a fixed date "
                "makes two runs identical on any day."
            ),
        )
        parser.add_argument(
            "--demo-admin",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=(
                f"Create the published superuser login {ADMIN_USERNAME} / {ADMIN_PASSWORD} "
                "(default: only when DEBUG is on). An existing user of that name is never "
                "changed."
            ),
        )
        existing = parser.add_mutually_exclusive_group()
        existing.add_argument(
            "--flush",
            action="store_true",
            help=(
                "Replace the previous demo data. The previous demo is deleted in the same "
                "transaction the new one is written in, with what was learned from it "
                "(model versions, training runs, page log, artwork policies and daily "
                "take rates), and its files once that commits: a run that fails or is "
                "interrupted leaves it as it was. Nothing serves until train_models, as on "
                "a fresh database."
            ),
        )
        existing.add_argument(
            "--if-empty",
            action="store_true",
            help=(
                "Seed only if the database holds no demo data yet, and otherwise keep it "
                "(what `make demo` runs, so a second run keeps the first run's history)."
            ),
        )

    @contextmanager
    def _progress(self, desc: str, total: int | None, unit: str = "it") -> Iterator[Advance]:
        self._where = desc  # where an interruption says it was
        bar = command_bar(
            self.stderr,
            verbosity=self.verbosity,
            total=total,
            desc=desc,
            unit=unit,
            leave=self.verbosity > 1,
            dynamic_ncols=True,
        )
        try:
            yield bar.update
        finally:
            bar.close()

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        self._where = ""
        started = time.perf_counter()
        replace = False
        if demo_data_exists():
            if options["if_empty"]:
                counts = demo_data_counts()
                self._say(
                    f"Demo data already present ({counts['titles']} titles, "
                    f"{counts['accounts']} households); keeping it.\n"
                    + self._admin(options["demo_admin"])
                )
                return
            if not options["flush"]:
                counts = demo_data_counts()
                raise CommandError(
                    f"The database already holds demo data ({counts['titles']} titles, "
                    f"{counts['accounts']} households). Rerun with --flush to replace it."
                )
            replace = True

        demo = DemoOptions(
            seed=options["seed"],
            titles=options["titles"],
            profiles=options["profiles"],
            history=options["history"],
            artwork_images=options["artwork_images"],
            as_of=options["as_of"],
        )
        committed: list[bool] = []
        try:
            with sigterm_interrupts():
                report = build_demo(
                    demo, self._progress, replace=replace, on_commit=lambda: committed.append(True)
                )
                # The seeder bulk-creates regions (no post_save): give each its nightly
                # retrain here, or a deployment that installed its schedules before seeding
                # has none.
                schedules_install()
        except KeyboardInterrupt as interrupted:
            # A line saying what the database holds now, rather than a traceback to be read
            # as damage (Ctrl-C), or nothing at all (SIGTERM, which killed it at once).
            raise CommandError(
                self._interrupted(committed=bool(committed), replace=replace),
                returncode=interrupted_status(interrupted),
            ) from None

        counts = ", ".join(f"{n} {what}" for what, n in report.counts.items())
        kinds = ", ".join(f"{k} {n}" for k, n in report.signals_by_kind.most_common())
        phases = ", ".join(f"{p} {s:.1f}s" for p, s in report.phase_seconds.items())
        lines = [
            f"Seeded the demo (seed {demo.seed}, history ending {demo.anchor():%Y-%m-%d}) "
            f"in {time.perf_counter() - started:.1f}s.",
            f"  Created: {counts}.",
            f"  Signals: {kinds}.",
            f"  Sessions: {report.sessions['sessions']}, of which "
            f"{report.sessions['pages']} homepage visits "
            f"({report.sessions['pages with a play']} led to a play).",
            f"  Phases:  {phases}.",
            self._admin(options["demo_admin"]),
            f"  Hidden tastes: {report.hidden_tastes_path}",
        ]
        if report.flushed:
            lines.insert(
                2,
                f"  Replaced: the previous demo's {report.flushed['titles']} titles, "
                f"{report.flushed['accounts']} households and {report.flushed['signals']} "
                f"signals; {report.flushed['model versions']} model versions deleted "
                "(run train_models to serve again).",
            )
        if report.showcase_account_id:
            profiles = ", ".join(f"{name} (#{pk})" for pk, name in report.showcase_profiles)
            lines.append(f"  Showcase household #{report.showcase_account_id}: {profiles}.")
        self._say("\n".join(lines))

    def _interrupted(self, *, committed: bool, replace: bool) -> str:
        if committed:
            return (
                "Interrupted after the new demo was committed: it is seeded, but its tables "
                "may not be analysed yet (autovacuum will) and its regions may lack their "
                "nightly retrains: run `manage.py install_schedules`."
            )
        kept = "the previous demo is as it was" if replace else "the database is as it was"
        return (
            f"Interrupted while seeding ({self._where or 'starting'}): nothing was written: "
            f"{kept}, image files and hidden-tastes file included (one transaction)."
        )

    def _admin(self, wanted: bool | None) -> str:
        """Link (and create, if missing) the demo superuser when allowed; say how to sign in."""
        if not (settings.DEBUG if wanted is None else wanted):
            return (
                "  Admin login: none created (DEBUG is off; pass --demo-admin for "
                f"{ADMIN_USERNAME} / {ADMIN_PASSWORD}, or run createsuperuser)."
            )
        showcase = Account.objects.filter(name=SHOWCASE_ACCOUNT_NAME).order_by("pk").first()
        if showcase is None:
            return "  Admin login: none (no showcase household to link it to)."
        if demo_admin_ensure(account=showcase):
            return f"  Admin login: {ADMIN_USERNAME} / {ADMIN_PASSWORD}"
        return f"  Admin login: {ADMIN_USERNAME}, an existing user whose password was kept."

    def _say(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(message)
