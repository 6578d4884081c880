"""``manage.py install_schedules``: the default periodic tasks, editable in admin afterwards."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from recommendations.schedules import schedules_install


class Command(BaseCommand):
    help = (
        "Create the default django-celery-beat schedules (a nightly retrain per region, the "
        "stale-run reaper, the artwork policy's updates and nightly refit, the nightly prune of "
        "old logs) that do not exist yet; --reset makes Tonight's schedules the defaults "
        "exactly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help=(
                "Restore the defaults: rewrite each one whole (paused ones resume, edits made "
                "in admin go) and delete Tonight's schedules that are not defaults. Other "
                "apps' schedules are kept."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        installed = schedules_install(reset=options["reset"])
        names, removed = installed.names, installed.removed
        self.stdout.write(
            f"Installed {len(names)} schedule(s): {', '.join(names)}" if names else "Up to date."
        )
        if removed:
            self.stdout.write(f"Removed {len(removed)} schedule(s): {', '.join(removed)}")
        if installed.skipped:
            # (the log's warning says what to do; this is the command's summary of it)
            regions = ", ".join(f"{region.code} ({region.zone!r})" for region in installed.skipped)
            self.stderr.write(
                self.style.WARNING(
                    f"Skipped the nightly retrain of {len(installed.skipped)} region(s) whose "
                    f"time zone is not an IANA time zone: {regions}"
                )
            )
        if installed.expiring:
            self.stdout.write(
                f"Gave {len(installed.expiring)} schedule(s) the default expiry: "
                f"{', '.join(installed.expiring)}"
            )
