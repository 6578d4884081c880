"""``manage.py evaluate_artwork_policy``: what a candidate artwork policy would have achieved."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from artwork.evaluation import EVALUATION_DAYS, EvaluationRefused, artwork_policy_evaluate
from recommendations.management.interrupts import interrupts_say
from recommendations.management.options import positive_number, seed, whole_number
from recommendations.progress import fraction_bar


class Command(BaseCommand):
    help = (
        "Estimate, from logged pages and their propensities, the take rate a candidate artwork "
        "policy would have had (IPS and self-normalised IPS with 95% intervals), next to the "
        "logging policy's observed rate and a uniform random policy."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=positive_number,
            default=EVALUATION_DAYS,
            help=f"Evaluate the last N days of closed pages (default {EVALUATION_DAYS:g}).",
        )
        parser.add_argument(
            "--candidate",
            choices=("holdout", "current"),
            default="holdout",
            help=(
                "holdout (default): a policy fitted only on pages before the window; "
                "current: the newest stored policy (optimistic if it learned from the window)."
            ),
        )
        parser.add_argument(
            "--max-impressions",
            type=whole_number(1),
            default=200_000,
            help="Evaluate a random sample of this many of the window's impressions when it "
            "holds more (default 200000).",
        )
        parser.add_argument(
            "--seed", type=seed, default=0, help="Random seed of that sample (default 0)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with (
                interrupts_say(_interrupted),
                fraction_bar(
                    self, "artwork evaluation", verbosity=options["verbosity"]
                ) as progress,
            ):
                result = artwork_policy_evaluate(
                    days=options["days"],
                    candidate=options["candidate"],
                    max_impressions=options["max_impressions"],
                    seed=options["seed"],
                    progress=progress,
                )
        except EvaluationRefused as refused:
            raise CommandError(str(refused)) from refused
        out = self.stdout
        out.write(
            f"Pages {result.since:%Y-%m-%d %H:%M} to {result.until:%Y-%m-%d %H:%M} UTC: "
            f"{result.n_logged} impressions logged, {result.n_used} usable "
            f"({result.n_deterministic} logged deterministically left out; {result.n_gone} of "
            "variants since deactivated kept at probability 0)."
        )
        out.write(
            f"{'policy':<24} {'estimator':<9} {'take rate':>9}  {'95% interval':<17} {'n':>8} "
            f"{'ESS':>8}"
        )
        for row in result.rows:
            # Effective sample size of a reweighted estimate: far below n, the candidate goes
            # where the logs have little data and its interval is not to be trusted.
            ess = "" if row.effective_sample_size is None else f"{row.effective_sample_size:.0f}"
            out.write(
                f"{row.name:<24} {row.estimator:<9} {row.value:>9.4f}  "
                f"[{row.low:.4f}, {row.high:.4f}]  {row.n:>8} {ess:>8}"
            )
        # Each page is scored over the frames it could show: say what that left out, and
        # where the candidate goes with no evidence in the logs.
        out.write(
            f"Run over today's frames, the candidate would have put {result.excluded_share:.1%} "
            "of its choices on frames added since their page: left out, each page is scored "
            "over the frames that existed when it was shown."
        )
        out.write(
            f"{result.unshown_share:.1%} of the candidate's probability fell on frames no "
            "evaluated impression showed (reactivated since, or rarely drawn): the logs hold "
            "no evidence of them."
        )


def _interrupted() -> str:
    return (
        "Interrupted: nothing was written (the evaluation only reads the page log, and "
        "fits its holdout policy in memory)."
    )
