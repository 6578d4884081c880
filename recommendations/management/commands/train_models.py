"""``manage.py train_models``: train and activate recommendation models now, with progress."""

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from recommendations.management.interrupts import interrupted_status, sigterm_interrupts
from recommendations.management.options import moment, seed
from recommendations.progress import command_bar, running_clock
from recommendations.selectors.training import signal_newest_at, signals_exist
from recommendations.services.training import model_train
from regions.selectors import region_codes

# The bar while signals are read: "IN: read signals: 1.2M rows [00:04, 310k rows/s]".
_COUNTING_FORMAT = "{desc}: {n_fmt}{unit} [{elapsed}, {rate_fmt}]"
# The other stages: "IN: als [00:09]", its clock running (running_clock); those that count
# their work say how far: "IN: page logs: title ranker rows 340/1200 pages [00:05]".
_STAGE_FORMAT = "{desc} [{elapsed}]"


class Command(BaseCommand):
    help = (
        "Train recommendation models from the signals and activate them: the global model "
        "and each region's (--all, the default), or the named regions only (--region)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        # Exclusive, as retrain's: --all beside --region trained every region in silence.
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument(
            "--region",
            action="append",
            default=[],
            metavar="CODE",
            help="Train this region's model (repeatable), e.g. --region IN.",
        )
        scope.add_argument(
            "--all",
            action="store_true",
            help="Train the global model and every region's (the default without --region).",
        )
        parser.add_argument("--seed", type=seed, default=0, help="Random seed (default 0).")
        parser.add_argument(
            "--at",
            type=moment,
            default=None,
            help=(
                "End of the training window: train on what was known then (ISO 8601 date "
                "or time; a date is its midnight UTC; default now)."
            ),
        )
        parser.add_argument(
            "--no-activate",
            action="store_true",
            help="Store the new versions as ready without serving them.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        codes = [code.upper() for code in options["region"]]
        unknown = sorted(set(codes) - set(region_codes()))
        if unknown:
            raise CommandError(f"Unknown region code(s): {', '.join(unknown)}.")
        scopes: list[str | None] = list(codes)
        if not codes:
            scopes = [None, *region_codes()]
        self.under_way: tuple[str, str] | None = None  # the scope and step being trained
        try:
            with sigterm_interrupts():
                for code in scopes:
                    self._train(
                        code,
                        seed=options["seed"],
                        activate=not options["no_activate"],
                        at=options["at"],
                    )
        except KeyboardInterrupt as interrupted:
            # What an operator needs after Ctrl-C (or SIGTERM), rather than a traceback to
            # be read as damage or, for SIGTERM, nothing: the version under way was failed
            # (model_train), so its scope serves what it served; those said above are kept.
            raise CommandError(
                self._interrupted(), returncode=interrupted_status(interrupted)
            ) from None

    def _interrupted(self) -> str:
        if self.under_way is None:
            return (
                "Interrupted with no version under way: the versions trained (above) are "
                "kept; the scopes not listed there were not trained."
            )
        label, step = self.under_way
        return (
            f"Interrupted while training {label} ({step}): its new version was failed and "
            f"{label} serves as before; the versions trained before it (above) are kept."
        )

    def _train(
        self, region_code: str | None, *, seed: int, activate: bool, at: dt.datetime | None
    ) -> None:
        label = region_code or "global"
        if not signals_exist(region_code=region_code):
            self.stdout.write(f"{label}: no signals, skipped.")
            return
        # A model of no signals would be activated over a good one (and every profile then
        # ranked by nothing): the window, not the table, is what training reads.
        until = at or timezone.now()
        since = until - dt.timedelta(days=settings.TONIGHT.get("TRAINING_WINDOW_DAYS", 365))
        if not signals_exist(region_code=region_code, since=since, until=until):
            latest = signal_newest_at(region_code=region_code)
            raise CommandError(
                f"{label}: no signals in the training window {since:%Y-%m-%d} to "
                f"{until:%Y-%m-%d} (the newest is from {latest:%Y-%m-%d}); train as of a time "
                f"after it with --at, e.g. --at {latest:%Y-%m-%d}T23:59Z."
            )
        started = time.perf_counter()
        bar = command_bar(
            self.stderr,
            verbosity=self.verbosity,
            desc=f"{label}: starting",
            unit=" rows",
            unit_scale=True,
            bar_format=_STAGE_FORMAT,
            dynamic_ncols=True,
        )

        current = ["starting"]

        def stage(name: str) -> None:
            # set_description_str: set_description appends its own ": " to the one the
            # format has ("read signals: : 0rows").
            current[0] = name
            self.under_way = (label, name)
            bar.bar_format = _STAGE_FORMAT
            bar.set_description_str(f"{label}: {name}")

        def progress(rows: int) -> None:
            # Only reading signals reports rows; the stages after it show no counter.
            bar.bar_format = _COUNTING_FORMAT
            bar.update(rows)

        def count(done: int, total: int, unit: str) -> None:
            # Told often (each page): the clock's next tick draws it, but for the first and
            # the last, which the step may not last long enough to see.
            bar.set_description_str(
                f"{label}: {current[0]} {done}/{total} {unit}", refresh=done in (0, total)
            )

        self.under_way = (label, "starting")
        try:
            with running_clock(bar):
                version = model_train(
                    region_code=region_code,
                    random_state=seed,
                    activate=activate,
                    at=at,
                    stage=stage,
                    progress=progress,
                    count=count,
                )
        finally:
            bar.close()
        self.under_way = None
        self.stdout.write(
            f"{label}: version #{version.pk} {version.status} in "
            f"{time.perf_counter() - started:.1f}s — {version.n_profiles} profiles, "
            f"{version.n_titles} titles, {version.n_signals} signals, "
            f"{version.n_interactions} interactions, ranker {version.serving_mode}, "
            f"{_row_ranker_summary(version.metrics)}."
        )


def _row_ranker_summary(metrics: dict) -> str:
    """ "row ranker learned (held-out log loss 0.164 vs the prior's 0.203)", or why not."""
    selection = metrics.get("row_ranker_selection") or {"mode": metrics.get("row_ranker", "prior")}
    learned, prior = selection.get("learned_log_loss"), selection.get("prior_log_loss")
    if learned is None or prior is None:
        return f"row ranker {selection['mode']} (too few logged rows to compare)"
    return (
        f"row ranker {selection['mode']} (held-out log loss {learned:.3f} learned "
        f"vs {prior:.3f} prior)"
    )
