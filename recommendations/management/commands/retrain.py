"""``manage.py retrain (--region IN [--cluster tamil] | --all) [--wait]``: retrain now."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from tqdm import tqdm

from recommendations.management.interrupts import interrupts_say
from recommendations.management.options import positive_number
from recommendations.models import TrainingRun
from recommendations.progress import command_bar
from recommendations.selectors.training_runs import (
    cluster_region_codes,
    clusters_count,
    clusters_retrained,
    training_run_newest_pk,
    training_run_running,
    training_runs_list,
    training_runs_unsuccessful,
)
from recommendations.services.retraining import (
    RetrainError,
    RetrainNotQueued,
    region_retrain_request,
    retrains_run_here,
    training_run_request,
)
from regions.selectors import region_exists

# A region whose retrain would make no run: its households would have been given a cluster.
_NO_ONE = "Region {code} has no household and no taste cluster: nothing to retrain."
#: How long ``--wait`` waits without ``--timeout``.
WAIT_SECONDS = 3600.0
# "retraining IN: 2/5 clusters [00:12], IN-Tamil: evaluate: global model 40%"
_BAR_FORMAT = "{desc}: {n_fmt}/{total_fmt} clusters [{elapsed}]{postfix}"


def run_line(run: TrainingRun) -> str:
    """A run as the command reports it, with or without ``--wait``: status, version, reason."""
    version = f" version #{run.model_version_id}" if run.model_version_id else ""
    error = f" {run.error}" if run.error else ""
    return f"run #{run.pk} {run.taste_cluster}: {run.status}{version}{error}"


def failure_line(runs: list[TrainingRun]) -> str:
    """The failed runs in one line, each with the stage it failed at and its error."""
    failures = []
    for run in runs:
        stage = f" at stage {run.stage}" if run.stage else ""
        error = " ".join(run.error.split()).rstrip(".") or "no error recorded"
        failures.append(f"run #{run.pk} {run.taste_cluster} failed{stage}: {error}")
    return f"Retrain {'; '.join(failures)}."


def wait_line(run: TrainingRun) -> str:
    """An unfinished run as ``--wait`` follows it: its stage and progress once it has one.

    A queued run has neither (it read "run #5:  0%", as if it had begun).
    """
    if run.status == TrainingRun.Status.QUEUED:
        return f"run #{run.pk}: queued, waiting for a worker"
    return f"run #{run.pk}: {run.stage} {run.progress}%"


class _StageWatch(threading.Thread):
    """Shows on the bar the stage and progress of the retrain running now, as admin shows them.

    Without a broker a retrain runs inside its request, in the command's own thread,
    which then has no moment to look; this thread reads what the run writes to its
    row (its own database connection, closed when it stops).
    """

    def __init__(self, bar: tqdm, *, after_pk: int, regions: list[str], every: float) -> None:
        super().__init__(name="retrain-stage-watch", daemon=True)
        self.bar, self.after_pk, self.regions, self.every = bar, after_pk, regions, every
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.every):
                try:
                    run = training_run_running(after_pk=self.after_pk, region_codes=self.regions)
                except DatabaseError:
                    # A locked SQLite file or a blip: the bar misses a beat, the retrain goes on.
                    connection.close()
                    continue
                if run is not None:
                    self.bar.set_postfix_str(f"{run.taste_cluster}: {run.stage} {run.progress}%")
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


class Command(BaseCommand):
    help = (
        "Queue a retrain of one taste cluster (--cluster), of every cluster of a region "
        "(--region alone) or of every cluster of every region (--all, one region's batch "
        "after another), each region's on its own queue; --wait follows the runs until they "
        "finish, and fails (a non-zero exit) unless every one succeeded. Without a broker "
        "configured the retrain runs in this process, and the command fails if a run did "
        "(a run its gate rejected fails it only with --wait)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument(
            "--region",
            metavar="CODE",
            help="Every taste cluster of this region (e.g. IN), or the --cluster of it.",
        )
        scope.add_argument(
            "--all", action="store_true", help="Every taste cluster of every region."
        )
        parser.add_argument("--cluster", metavar="SLUG", help="One cluster (e.g. tamil).")
        parser.add_argument("--wait", action="store_true", help="Wait for the runs to finish.")
        parser.add_argument(
            "--timeout",
            type=positive_number,
            default=None,
            help=f"With --wait: seconds to wait (default {WAIT_SECONDS:g}).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help=(
                "Leave out a region (or the --cluster) whose every cluster has a retrain that "
                "succeeded already (what `make demo` runs, so a second run keeps the first "
                "run's)."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["cluster"] is not None and not options["cluster"].strip():
            # Read as "no cluster", it retrained every cluster of the region.
            raise CommandError("--cluster is empty: name a cluster, or leave it out for all.")
        if options["all"] and options["cluster"] is not None:
            raise CommandError("--cluster names a cluster of one --region, not of --all.")
        if options["timeout"] is not None and not options["wait"]:
            # Without --wait nothing is waited for: the timeout was ignored in silence.
            raise CommandError("--timeout needs --wait: without it nothing is waited for.")
        if options["all"]:
            targets: list[tuple[str, str | None]] = [
                (code, None) for code in cluster_region_codes()
            ]
            if not targets:
                # As --region refuses such a region: it printed nothing and exited 0.
                raise CommandError(
                    "No region has a household or a taste cluster: nothing to retrain."
                )
        else:
            targets = [(options["region"].upper(), options["cluster"])]
            # Before anything is drawn: a refusal came after a bar of 0/1 clusters.
            refusal = self._refusal(*targets[0])
            if refusal:
                raise CommandError(refusal)
        if options["if_empty"]:
            done = [
                (code, slug)
                for code, slug in targets
                if clusters_retrained(region_code=code, cluster_slug=slug)
            ]
            targets = [target for target in targets if target not in done]
            if done:
                named = ", ".join(f"{code} {slug}" if slug else code for code, slug in done)
                self.stdout.write(f"{named}: retrained already; left out (--if-empty).")
            if not targets:
                return
        # A region without a cluster yet is given its default one by its retrain: one run.
        total = sum(
            1 if slug else max(clusters_count(region_code=code), 1) for code, slug in targets
        )
        self.counted: set[int] = set()  # the runs counted (and said) as finished
        self.requested: list[int] = []  # the runs queued (or run here) so far
        with (
            interrupts_say(self._interrupted),
            self._progress(total, [code for code, _ in targets], options["verbosity"]) as bar,
        ):
            runs = self._request(targets, bar, wait=options["wait"])
            if options["wait"]:
                self._wait(runs, bar, timeout=options["timeout"] or WAIT_SECONDS)
        # A run that failed by the time it was said (in this process, without a broker): a
        # cron job or CI saw exit 0 for a retrain that failed. One its gate refused
        # (rejected) is a retrain that worked and is not fatal, unless --wait asks for success.
        failed = [run for run in runs if run.status == TrainingRun.Status.FAILED]
        if failed:
            raise CommandError(failure_line(failed))

    def _interrupted(self) -> str:
        if retrains_run_here():
            # A run under way was this process's own: _run_here failed it (and its
            # versions not yet gated) on the way out. Whether one had begun is not known
            # here (it runs inside its request, before the request returns its id).
            return (
                "Interrupted while retraining in this process (no broker is configured): "
                "a run under way, if one had begun, was failed with its versions not yet "
                "gated, and its cluster serves as before; the runs said above are kept, the "
                "clusters after it were not retrained."
            )
        if not self.requested:
            return "Interrupted before any retrain was queued: nothing was."
        unfinished = [pk for pk in self.requested if pk not in self.counted]
        if not unfinished:
            return "Interrupted: every run had finished (above); nothing was lost."
        named = ", ".join(f"#{pk}" for pk in unfinished)
        return (
            f"Interrupted while waiting: run(s) {named} go on on the workers (stopping the "
            "command cancels no retrain); admin's Training runs follow them."
        )

    @staticmethod
    def _refusal(code: str, slug: str | None) -> str | None:
        """Why the retrain of ``--region`` (and ``--cluster``) cannot be asked for, if it cannot.

        The requests refuse the same, but only once the progress bar is up: an empty bar
        drawn and wiped before the error read as if a retrain had begun.
        """
        if not region_exists(code=code):
            return f"Unknown region code: {code}."
        if slug is not None and not clusters_count(region_code=code, cluster_slug=slug):
            return f"Region {code} has no taste cluster {slug}."
        if slug is None and code not in cluster_region_codes():
            return _NO_ONE.format(code=code)
        return None

    @contextmanager
    def _progress(self, total: int, regions: list[str], verbosity: int) -> Iterator[tqdm]:
        """A bar of the clusters whose runs finished, with the running one's stage beside it."""
        bar = command_bar(
            self.stderr,
            verbosity=verbosity,
            total=total,
            desc="retraining",
            bar_format=_BAR_FORMAT,
            dynamic_ncols=True,
        )
        watch = _StageWatch(bar, after_pk=training_run_newest_pk(), regions=regions, every=0.5)
        if not bar.disable:
            watch.start()
        try:
            yield bar
        finally:
            if watch.is_alive():
                watch.stop()
            bar.close()

    def _say(self, line: str) -> None:
        """A line on stdout, the bar on stderr cleared for it and drawn again below it."""
        with tqdm.external_write_mode(file=self.stderr._out):
            self.stdout.write(line)

    def _finished(self, run: TrainingRun, bar: tqdm) -> None:
        if run.pk not in self.counted:
            self.counted.add(run.pk)
            bar.update(1)

    def _request(
        self, targets: list[tuple[str, str | None]], bar: tqdm, *, wait: bool
    ) -> list[TrainingRun]:
        runs: list[TrainingRun] = []
        for code, slug in targets:
            bar.set_description_str(f"retraining {code}")
            try:
                if slug:
                    new = [
                        training_run_request(
                            region_code=code, cluster_slug=slug, trigger=TrainingRun.Trigger.COMMAND
                        )
                    ]
                else:
                    new = region_retrain_request(
                        region_code=code, trigger=TrainingRun.Trigger.COMMAND
                    )
            except (RetrainError, RetrainNotQueued) as error:
                raise CommandError(str(error)) from error
            if not new:
                # A region with households always has a cluster by now (its default one).
                raise CommandError(_NO_ONE.format(code=code))
            for run in new:
                # Without a broker the run has executed in-process by now: it may be finished,
                # and is said now, before the next region's (the wait below leaves it out).
                run.refresh_from_db()
                if run.is_finished:
                    self._finished(run, bar)
                if run.is_finished or not wait:
                    self._say(run_line(run))
            runs += new
            self.requested += [run.pk for run in new]
        return runs

    def _wait(self, runs: list[TrainingRun], bar: tqdm, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = {run.pk for run in runs} - self.counted
        last: dict[int, tuple[str, int]] = {}
        while pending and time.monotonic() < deadline:
            for run in training_runs_list(pks=pending):
                state = (run.stage, run.progress)
                if run.is_finished:
                    pending.discard(run.pk)
                    self._finished(run, bar)
                    self._say(run_line(run))
                elif last.get(run.pk) != state:
                    last[run.pk] = state
                    self._say(wait_line(run))
            if pending:
                time.sleep(1.0)
        if pending:
            raise CommandError(f"Runs still unfinished after the timeout: {sorted(pending)}.")
        # Scripts and cron jobs that wait need to see a retrain that did not succeed.
        unsuccessful = [
            f"run #{run.pk} {run.taste_cluster}: {run.status} ({run.error})"
            for run in training_runs_unsuccessful(pks=[run.pk for run in runs])
        ]
        if unsuccessful:
            raise CommandError(f"Not every retrain succeeded: {'; '.join(unsuccessful)}.")
