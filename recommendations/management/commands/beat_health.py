"""``manage.py beat_health``: whether Celery beat is alive and sending (compose's healthcheck)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from recommendations.management.options import whole_number
from recommendations.schedules import BEAT_GRACE_SECONDS, OverdueSchedule, schedules_overdue

TIME = "%Y-%m-%d %H:%M:%S %Z"


def _last_sent(schedule: OverdueSchedule) -> str:
    """A fresh install's schedules were never sent: the time their clock started is their
    creation, not a send (it read "last sent" with the install's time)."""
    if schedule.last_sent is None:
        return f"never sent since its schedule changed at {schedule.changed:{TIME}}"
    return f"last sent {schedule.last_sent:{TIME}}"


class Command(BaseCommand):
    help = (
        "Fail (exit 1) when Celery beat is behind: an enabled interval schedule (the reaper, "
        "artwork policy updates) not sent within its interval plus --grace seconds, or the "
        "database beat reads its schedules from is unreachable. Beat's container runs it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace",
            type=whole_number(0),
            default=BEAT_GRACE_SECONDS,
            help=f"Seconds a send may be late (default {BEAT_GRACE_SECONDS}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            overdue = schedules_overdue(grace_seconds=options["grace"])
        except DatabaseError as error:
            raise CommandError(f"Cannot read the schedules from the database: {error}") from error
        if overdue:
            raise CommandError(
                "Beat is behind: "
                + "; ".join(
                    f"'{schedule.name}' (every {schedule.every.total_seconds():.0f} s) "
                    + _last_sent(schedule)
                    for schedule in overdue
                )
                + "."
            )
        self.stdout.write("Beat is sending its schedules on time.")
