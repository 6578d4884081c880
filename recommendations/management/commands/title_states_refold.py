"""``manage.py title_states_refold``: fold again the title states holding plays of episodes
before they were out.

Ingest refuses a play, progress or completion of an episode whose season was not out
at the event's time since December 2026; states folded before kept such events (an
episode "finished" before it existed, which Play then skips and the series counts).
This finds the (profile, title) pairs whose log holds one and folds those states
again from the log, by the rule ingest folds with now. A command, not a migration:
a season staff postponed after people watched it matches the same test, and its
viewers' states would lose what they really watched, so the dry run is for review
first (docs/signals.md, "Derived state").

With ``--passed`` it folds instead the states whose log holds an episode's credits
(progress above 95%): those folded before the fold finished such an episode once another
was played after it (December 2026) kept it unfinished. With ``--rating-ties``, the states
whose log holds ratings of different kinds at one moment: those folded before the fold
let the strongest kind win such a tie (a thumbs down, then a clear; December 2026) kept
the later in the log.
"""

from collections import defaultdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.selectors import episode_numbers, title_names
from recommendations.management.interrupts import interrupts_say
from recommendations.progress import command_bar
from recommendations.selectors.signals import (
    credits_playback_pairs,
    early_playback_pairs,
    rating_tie_pairs,
    signal_clock_skew,
)
from recommendations.services.signals import StateRefold, title_states_refold


class Command(BaseCommand):
    help = (
        "Fold again from the signal log the title states whose log holds a play, progress or "
        "completion of an episode not out at the event's time (taken by ingest before "
        "December 2026). Review --dry-run first: a season postponed after it was watched "
        "matches too."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List the states that would change, and the episodes no longer finished; "
            "write nothing.",
        )
        parser.add_argument(
            "--passed",
            action="store_true",
            help="Fold instead the states whose log holds an episode's credits (progress above "
            "95%%), which finish it once another episode was played after it.",
        )
        parser.add_argument(
            "--rating-ties",
            action="store_true",
            help="Fold instead the states whose log holds ratings of different kinds at one "
            "moment, which go by kind (a thumbs down, then a clear, then a thumbs up).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.profiles: tuple[int, int] | None = None  # profiles refolded, of how many
        with interrupts_say(lambda: self._interrupted(dry_run=options["dry_run"])):
            self._handle(options)

    def _interrupted(self, *, dry_run: bool) -> str:
        if dry_run or self.profiles is None:
            return "Interrupted before refolding any title state: nothing was changed."
        done, total = self.profiles
        return (
            f"Interrupted after refolding the title states of {done} of {total} profile(s): "
            "those are kept (each profile's are folded in a transaction of its own; the one "
            "under way was rolled back), the others are unchanged. Run it again to fold "
            "the rest (a state already folded is not changed again)."
        )

    def _handle(self, options: dict[str, Any]) -> None:
        dry_run = options["dry_run"]
        if options["passed"] and options["rating_ties"]:
            raise CommandError("Give --passed or --rating-ties, not both: each is its own run.")
        if options["passed"]:
            pairs = credits_playback_pairs()
            holding = "an episode's credits"
        elif options["rating_ties"]:
            pairs = rating_tie_pairs()
            holding = "ratings of different kinds at one instant"
        else:
            pairs = early_playback_pairs(skew=signal_clock_skew())
            holding = "a play of an episode before it was out"
        if not pairs:
            # A database whose log ingest only took since December 2026 (or a fresh one):
            # a bar counting to zero and a sentence of zeros read like a run that did work.
            self.stdout.write(f"Nothing to refold: no title state's log holds {holding}.")
            return
        by_profile: dict[int, list[int]] = defaultdict(list)
        for profile_id, title_id in pairs:
            by_profile[profile_id].append(title_id)
        changes: list[StateRefold] = []
        with command_bar(
            self.stderr,
            verbosity=options["verbosity"],
            total=len(pairs),
            desc="title states",
            unit="states",
            dynamic_ncols=True,
        ) as bar:
            # A profile at a time, each in its own transaction under its lock: a long run
            # holds no profile's batches waiting for more than its own states.
            self.profiles = (0, len(by_profile))
            for done, (profile_id, title_ids) in enumerate(by_profile.items(), start=1):
                changes += title_states_refold(
                    profile_id=profile_id, title_ids=title_ids, dry_run=dry_run
                )
                self.profiles = (done, len(by_profile))
                bar.update(len(title_ids))
        self._list(changes, dry_run=dry_run)
        verb = "Would fold again" if dry_run else "Folded again"
        self.stdout.write(
            f"{verb} {len(changes)} of the {len(pairs)} title state(s) whose log holds "
            f"{holding}; the other {len(pairs) - len(changes)} already "
            f"read as the log folds now." + (" Nothing written (--dry-run)." if dry_run else "")
        )

    def _list(self, changes: list[StateRefold], *, dry_run: bool) -> None:
        """One line per state: its profile, its title, and the episodes no longer finished."""
        names = title_names(title_ids=[c.title_id for c in changes], language=None)
        numbers = {
            pk: f"S{season}E{number}"
            for pk, (season, number) in episode_numbers(
                episode_ids=[e for c in changes for e in (*c.unfinished, *c.finished)]
            ).items()
        }
        for change in changes:
            episodes = ", ".join(f"{numbers.get(e, 'deleted')} (#{e})" for e in change.unfinished)
            newly = ", ".join(f"{numbers.get(e, 'deleted')} (#{e})" for e in change.finished)
            what = (
                "no state left (every event passed over)"
                if change.removed
                else f"changes {', '.join(change.fields)}"
            )
            self.stdout.write(
                f"{'would refold' if dry_run else 'refolded'}: profile {change.profile_id}, "
                f"title {change.title_id} ({names.get(change.title_id, '?')}): no longer "
                f"finished: {episodes or 'none'}; "
                + (f"newly finished: {newly}; " if newly else "")
                + what
            )
