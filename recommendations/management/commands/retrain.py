"""``manage.py retrain --region IN [--cluster tamil] [--wait]``: run a retrain now."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.management.options import positive_number
from recommendations.models import TrainingRun
from recommendations.services.retraining import (
    RetrainError,
    RetrainNotQueued,
    region_retrain_request,
    training_run_request,
)


def run_line(run: TrainingRun) -> str:
    """A run as the command reports it, with or without ``--wait``: status, version, reason."""
    version = f" version #{run.model_version_id}" if run.model_version_id else ""
    error = f" {run.error}" if run.error else ""
    return f"run #{run.pk} {run.taste_cluster}: {run.status}{version}{error}"


class Command(BaseCommand):
    help = (
        "Queue a retrain of one taste cluster (--cluster) or of every cluster of a region, "
        "on the region's queue; --wait follows the runs until they finish, and fails (a "
        "non-zero exit) unless every one succeeded. Without a broker "
        "configured the retrain runs in this process."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--region", required=True, metavar="CODE")
        parser.add_argument("--cluster", metavar="SLUG", help="One cluster (e.g. tamil).")
        parser.add_argument("--wait", action="store_true", help="Wait for the runs to finish.")
        parser.add_argument(
            "--timeout", type=positive_number, default=3600.0, help="Seconds to wait."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        region = options["region"].upper()
        if options["cluster"] is not None and not options["cluster"].strip():
            # Read as "no cluster", it retrained every cluster of the region.
            raise CommandError("--cluster is empty: name a cluster, or leave it out for all.")
        try:
            if options["cluster"]:
                runs = [
                    training_run_request(
                        region_code=region,
                        cluster_slug=options["cluster"],
                        trigger=TrainingRun.Trigger.COMMAND,
                    )
                ]
            else:
                runs = region_retrain_request(
                    region_code=region, trigger=TrainingRun.Trigger.COMMAND
                )
        except (RetrainError, RetrainNotQueued) as error:
            raise CommandError(str(error)) from error
        for run in runs:
            # Without a broker the run has executed in-process by now: it may be finished.
            run.refresh_from_db()
            if not (options["wait"] and run.is_finished):  # else the loop below says it
                self.stdout.write(run_line(run))
        if not options["wait"]:
            return
        deadline = time.monotonic() + options["timeout"]
        pending = {run.pk for run in runs}
        last: dict[int, tuple[str, int]] = {}
        while pending and time.monotonic() < deadline:
            for run in TrainingRun.objects.filter(pk__in=pending).select_related("taste_cluster"):
                state = (run.stage, run.progress)
                if run.is_finished:
                    pending.discard(run.pk)
                    self.stdout.write(run_line(run))
                elif last.get(run.pk) != state:
                    last[run.pk] = state
                    self.stdout.write(f"run #{run.pk}: {run.stage} {run.progress}%")
            if pending:
                time.sleep(1.0)
        if pending:
            raise CommandError(f"Runs still unfinished after the timeout: {sorted(pending)}.")
        # Scripts and cron jobs that wait need to see a retrain that did not succeed.
        unsuccessful = [
            f"run #{run.pk} {run.taste_cluster}: {run.status} ({run.error})"
            for run in TrainingRun.objects.filter(pk__in=[run.pk for run in runs])
            .exclude(status=TrainingRun.Status.SUCCEEDED)
            .select_related("taste_cluster")
            .order_by("pk")
        ]
        if unsuccessful:
            raise CommandError(f"Not every retrain succeeded: {'; '.join(unsuccessful)}.")
