"""``manage.py retrain_health``: whether every taste cluster's retrains still end well."""

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from recommendations.management.options import whole_number
from recommendations.models import TrainingRun
from recommendations.selectors.training_runs import ClusterRetrainState, clusters_retrain_state

TIME = "%Y-%m-%d %H:%M %Z"
#: A night's retrain, and half a day more for one that ran late or was retried.
DEFAULT_HOURS = 36


def _problem(state: ClusterRetrainState, *, since: dt.datetime, hours: int) -> str | None:
    """What is wrong with the cluster's retrains, in a line; None when nothing is."""
    name = f"{state.region_code}-{state.slug}"
    if state.newest_status == TrainingRun.Status.FAILED:
        error = state.newest_error.strip().splitlines()[0] if state.newest_error.strip() else ""
        return f"{name}: run #{state.newest_pk} failed" + (f" ({error})" if error else "")
    if state.ended_well_at is None or state.ended_well_at < since:
        last = f"last {state.ended_well_at:{TIME}}" if state.ended_well_at else "never"
        return f"{name}: no retrain ended well in the last {hours} h ({last})"
    return None


class Command(BaseCommand):
    help = (
        "Fail (exit 1) naming each taste cluster whose newest finished retrain failed, or "
        "none of whose retrains succeeded (or was refused by its gate) within --hours; "
        "clusters that never retrained are left out. For an alert: admin and the staff "
        "console show the same runs to staff who look."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours",
            # At most a century: a trillion hours back is before the year 1 (a traceback).
            type=whole_number(1, 24 * 365 * 100),
            default=DEFAULT_HOURS,
            help=f"Hours within which a retrain must have ended well (default {DEFAULT_HOURS}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        hours = options["hours"]
        since = timezone.now() - dt.timedelta(hours=hours)
        try:
            states = clusters_retrain_state()
        except DatabaseError as error:
            raise CommandError(f"Cannot read the retrains from the database: {error}") from error
        problems = [
            problem
            for state in states
            if (problem := _problem(state, since=since, hours=hours)) is not None
        ]
        if problems:
            raise CommandError("Retrains need a look: " + "; ".join(problems) + ".")
        self.stdout.write(
            f"Retrains are healthy: {len(states)} taste clusters, each ended well within {hours} h."
        )
