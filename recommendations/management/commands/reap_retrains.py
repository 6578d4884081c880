"""``manage.py reap_retrains``: fail the retrain runs that will never finish, now."""

from typing import Any

from django.core.management.base import BaseCommand

from recommendations.services.retraining import stale_seconds, training_runs_reap


class Command(BaseCommand):
    help = (
        "Fail retrain runs whose worker is gone (no heartbeat for RETRAIN_STALE_SECONDS) and "
        "queued runs no worker took, so that their clusters can retrain again. Beat does this "
        "every minute; without a broker (the demo, `retrain --wait` stopped with Ctrl-C) "
        "nothing does, and a run left 'running' refuses every retrain of its cluster. Also "
        "fails the versions a retrain left ungated after its runs ended (logged, not counted)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        reaped = training_runs_reap()
        self.stdout.write(
            f"{reaped} run(s) failed (no heartbeat for {stale_seconds():.0f} s, or never started)."
        )
