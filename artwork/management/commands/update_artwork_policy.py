"""``manage.py update_artwork_policy``: fold closed impressions into the artwork policy now."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from artwork.services import artwork_policy_update
from recommendations.management.interrupts import interrupts_say
from recommendations.progress import fraction_bar


class Command(BaseCommand):
    help = (
        "Update the artwork bandit from the impressions whose session window has closed "
        "(what beat runs every few minutes), or refit it from the prior with --full."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--full",
            action="store_true",
            help="Refit from the prior over TONIGHT['ARTWORK_TRAINING_DAYS'] of page log.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with (
            interrupts_say(_interrupted),
            fraction_bar(self, "artwork policy", verbosity=options["verbosity"]) as progress,
        ):
            policy = artwork_policy_update(full=options["full"], progress=progress)
        if policy is None:
            self.stdout.write("Artwork policy: nothing new to learn from (no closed pages).")
            return
        rate = policy.n_plays / policy.n_impressions if policy.n_impressions else 0.0
        self.stdout.write(
            f"Artwork policy {policy.pk} ({policy.get_kind_display().lower()}): "
            f"{policy.n_new} new impressions, {policy.n_impressions} in all, "
            f"take rate seen {rate:.2%}, {policy.seconds:.1f} s."
        )


def _interrupted() -> str:
    # The new policy is stored in the transaction that ends the update or refit, so an
    # interruption stores none; a refit rewrites the days before the last policy's
    # watermark each in a transaction of its own, whole (artwork_policy_update).
    return (
        "Interrupted: no new artwork policy was stored (it is written in the update's last "
        "transaction, rolled back), so the newest one serves as before; a refit's days "
        "already rewritten keep their new daily figures, each day whole. Run it again "
        "(beat's next update folds the same pages)."
    )
