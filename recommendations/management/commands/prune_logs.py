"""``manage.py prune_logs``: delete page logs, admin sign-ins, the artwork variants'
daily figures and model versions past their keep, and the signals and pages of deleted
profiles, now.

Like the nightly task, it also deletes the artwork files no variant names
(``artwork.services.artwork_files_prune``); ``--dry-run`` counts only the rows.
"""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Model
from django.utils import timezone

from artwork.selectors import artwork_daily_cut, artwork_daily_expired_count
from artwork.services import artwork_daily_prune, artwork_files_prune
from profiles.selectors import profile_orphans_count
from profiles.services import profile_orphans_prune
from recommendations.management.interrupts import interrupts_say
from recommendations.models import PageLog, Signal
from recommendations.progress import fraction_bar
from recommendations.selectors.model_versions import model_versions_expired_count
from recommendations.selectors.retention import (
    page_log_cut,
    page_logs_expired_count,
    sign_in_logs_expired_count,
)
from recommendations.services.model_versions import model_versions_prune
from recommendations.services.retention import page_logs_prune, sign_in_logs_prune


class Command(BaseCommand):
    help = (
        "Delete the page logs older than TONIGHT_PAGE_LOG_KEEP_DAYS, in bounded batches, and "
        "the admin sign-ins older than TONIGHT_SIGN_IN_LOG_KEEP_DAYS, the artwork daily "
        "figures older than TONIGHT_ARTWORK_DAILY_KEEP_DAYS and the model versions no "
        "rollback, ranker training or staff need (TONIGHT_MODEL_VERSIONS_KEPT, "
        "TONIGHT_MODEL_VERSION_KEEP_DAYS), with their files, and the signals and page logs "
        "of profiles that no longer exist (what beat runs nightly)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count what would be deleted.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tonight = settings.TONIGHT
        now = timezone.now()
        cut = page_log_cut(now=now)
        kept = (
            f"older than {cut:%Y-%m-%d %H:%M} UTC (TONIGHT_PAGE_LOG_KEEP_DAYS="
            f"{tonight['PAGE_LOG_KEEP_DAYS']})"
        )
        sign_ins = (
            f"sign-in(s) older than {tonight['SIGN_IN_LOG_KEEP_DAYS']} days "
            f"(TONIGHT_SIGN_IN_LOG_KEEP_DAYS)"
        )
        daily = (
            f"artwork daily figure(s) from before {artwork_daily_cut(now=now):%Y-%m-%d} "
            f"(TONIGHT_ARTWORK_DAILY_KEEP_DAYS={tonight['ARTWORK_DAILY_KEEP_DAYS']})"
        )
        versions = (
            "model version(s) no rollback, ranker training or staff need "
            f"(TONIGHT_MODEL_VERSIONS_KEPT={tonight['MODEL_VERSIONS_KEPT']}, "
            f"TONIGHT_MODEL_VERSION_KEEP_DAYS={tonight['MODEL_VERSION_KEEP_DAYS']})"
        )
        if options["dry_run"]:
            orphans = profile_orphans_count()
            self.stdout.write(
                f"Would delete {page_logs_expired_count(now=now)} page log(s) {kept}, "
                f"{artwork_daily_expired_count(now=now)} {daily}, "
                f"{model_versions_expired_count(now=now)} {versions}, "
                f"{sign_in_logs_expired_count(now=now)} {sign_ins} and "
                f"{_orphans(orphans)}; nothing deleted (--dry-run)."
            )
            return
        self.deleting = "admin sign-ins"  # where an interruption says it was
        with interrupts_say(self._interrupted):
            # Sign-ins first, as the nightly task does: their one statement runs even when
            # a long page backlog is interrupted.
            sign_ins_deleted = sign_in_logs_prune()
            self.deleting = "artwork files no variant names"
            files = artwork_files_prune(now=now)
            self.deleting = "artwork daily figures"
            daily_deleted = artwork_daily_prune(now=now)
            self.deleting = "model versions"
            versions_deleted = model_versions_prune(now=now)
            self.deleting = "page logs"
            with fraction_bar(self, "page logs", verbosity=options["verbosity"]) as progress:
                pages = page_logs_prune(now=now, progress=progress)
            self.deleting = "the rows of deleted profiles"
            with fraction_bar(self, "deleted profiles", verbosity=options["verbosity"]) as progress:
                orphans = profile_orphans_prune(progress=progress)
        self.stdout.write(
            f"Deleted {pages} page log(s) {kept}, {sign_ins_deleted} {sign_ins}, "
            f"{daily_deleted} {daily}, {versions_deleted} {versions}, {files} artwork "
            f"file(s) no variant names and {_orphans(orphans)}."
        )

    def _interrupted(self) -> str:
        # Each statement (a bounded batch) commits on its own, the one under way rolls back.
        return (
            f"Interrupted while deleting {self.deleting}: what was deleted before it is "
            "gone (each batch commits on its own; the batch under way was rolled back), "
            "the rest is kept. Run it again to delete the rest."
        )


def _orphans(counts: dict[type[Model], int]) -> str:
    return f"{counts[Signal]} signal(s) and {counts[PageLog]} page log(s) of deleted profiles"
