"""Print what a newcomer opens after ``make demo``: the staff pages, the admin login, the API."""

import argparse
import ipaddress
from urllib.parse import urlencode

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils import timezone

from accounts.selectors import account_get_by_name, api_token_list_live, user_active_get
from accounts.services import api_token_create, api_token_revoke
from console.moments import local_moment, region_zone
from profiles.models import Profile
from profiles.selectors import profile_list_with_home_region, profile_with_pin
from profiles.unlock import UNLOCK_HEADER
from recommendations.demo.households import ADMIN_PASSWORD, ADMIN_USERNAME, DEMO_PIN
from recommendations.management.options import whole_number
from recommendations.selectors.training_runs import training_runs_finished_count
from recommendations.serving.cache import NoActiveModel
from recommendations.serving.homepage import FIRST_SCREEN_ROWS, Page, homepage_build

SHOWCASE_ACCOUNT = "The Sharmas (demo)"
DEMO_TOKEN_NAME = "make demo"  # noqa: S105  (a label, not a secret)
# The showcase moment: Friday at nine in the evening, on the living-room TV, when
# both adults are most likely to be watching (their planted hours agree on it).
SHOWCASE_MOMENT = {"device": "tv", "weekday": 4, "hour": 21}
# The rows the showcase's story is about (README's "See it"): Arjun resumes, Priya starts
# new things. Where they stand on each adult's page is measured, not assumed.
STORY_ROWS = {
    "continue_watching": "Continue Watching",
    "new_releases": "New Releases",
    "trending": "Trending",
}


def host_name(value: str) -> str:
    """An argparse type: a host the printed URLs can name (``--host``), not a URL or blank.

    A blank one printed ``http://:8000/admin/``, a URL ``http://http://...``: every line
    broken, after the showcase household's token had been replaced. An IPv6 address is
    given back in brackets, as a URL names it.
    """
    try:
        return f"[{ipaddress.IPv6Address(value.strip('[]'))}]"
    except ValueError:
        pass
    if not value or any(c.isspace() or c in "/:@?#[]" for c in value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a host name or address (e.g. 127.0.0.1, demo.example.com; "
            "the port is --port)"
        )
    return value


def _admin_login() -> str:
    """The demo's published login if it works here; seed_demo keeps an existing admin's own."""
    user = user_active_get(username=ADMIN_USERNAME)
    if user is not None and user.is_staff and user.check_password(ADMIN_PASSWORD):
        return f"user: {ADMIN_USERNAME}, password: {ADMIN_PASSWORD}"
    return "sign in as a staff user; `manage.py createsuperuser` makes one"


def _retrain_lines(base: str) -> list[str]:
    """Where the taste clusters' retrains are, and how many finished.

    A run's stages, progress and timings are what admin shows of a Celery retrain, and
    ``make demo`` retrains every cluster once; a newcomer would not find them unprompted.
    """
    finished = training_runs_finished_count()
    if not finished:
        said = "none yet: `manage.py retrain --all --wait` makes one per taste cluster"
    else:
        said = (
            "1 finished run, with its stages"
            if finished == 1
            else f"{finished} finished runs, with their stages"
        )
    return [
        f"  Retrains:  {base}{reverse('admin:recommendations_trainingrun_changelist')}   ({said})",
        f"  Models:    {base}{reverse('console:models')}   (versions, and each taste cluster's "
        "retrains charted)",
    ]


class Command(BaseCommand):
    help = (
        "Print the demo's URLs and credentials, with a fresh API token for the showcase household."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host",
            default="127.0.0.1",
            type=host_name,
            help="Host the printed URLs name (default 127.0.0.1).",
        )
        parser.add_argument(
            "--port",
            default=8000,
            type=whole_number(1, 65535),
            help="Port the printed URLs name (default 8000).",
        )

    def handle(self, *args: object, host: str, port: int, **options: object) -> None:
        account = account_get_by_name(name=SHOWCASE_ACCOUNT)
        if account is None:
            raise CommandError(
                f"No '{SHOWCASE_ACCOUNT}' household: run `manage.py seed_demo` first."
            )
        # One live demo token at a time: each `make demo` replaces the previous one.
        for old in api_token_list_live(account=account, name=DEMO_TOKEN_NAME):
            api_token_revoke(token=old)
        _, key = api_token_create(account=account, name=DEMO_TOKEN_NAME)

        base = f"http://{host}:{port}"
        profiles = profile_list_with_home_region(account=account)
        adults = [p for p in profiles if not p.is_kids][:2]
        lines = [
            "",
            "Tonight is ready.",
            f"  Admin:     {base}/admin/   ({_admin_login()})",
            "",
            "  See it (log in as admin first):",
        ]
        pages = _showcase_pages(adults)
        for i, adult in enumerate(adults):
            preview = {"account": account.pk, "profile": adult.pk, **SHOWCASE_MOMENT}
            lines.append(
                f"  {'Preview:' if i == 0 else '':<11}"
                f"{base}{reverse('console:preview')}?{urlencode(preview)}"
                f"   ({adult.name}'s homepage, Friday 21:00 on a TV{_story(pages, i)})"
            )
        if profiles:
            compare = {"account": account.pk, **SHOWCASE_MOMENT}
            names = [p.name for p in profiles]
            names = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
            lines.append(
                f"  Compare:   {base}{reverse('console:compare')}?{urlencode(compare)}"
                f"   ({names} side by side)"
            )
        if len(adults) == 2:
            lines.append(f"             {_difference(adults, pages)}")
        # A profile whose PIN is the demo's, so a newcomer can try unlocking one. Checked,
        # not assumed: a profile given another PIN since the seed is passed over.
        locked = profile_with_pin(pin=DEMO_PIN)
        if locked is not None:
            preview = {"account": locked.account_id, "profile": locked.pk, **SHOWCASE_MOMENT}
            lines.append(
                f"  PIN:       {base}{reverse('console:preview')}?{urlencode(preview)}"
                f"   ({locked.name} of {locked.account.name}: PIN {DEMO_PIN}, as on every "
                "demo profile with one; its API token: `manage.py issue_token "
                f"{locked.account_id}`)"
            )
        lines += _retrain_lines(base)
        lines += [
            "",
            f"  API docs:  {base}/api/docs/   (Authorize: `Token <key>` with the key below)",
            f"  Household: {account.name}, token {key}",
        ]
        for profile in profiles:
            lines.append(
                f"  Profiles:  curl -H 'Authorization: Token {key}' "
                f"{base}/api/v1/profiles/{profile.pk}/"
                + f"   ({profile.name}{', a kids profile' if profile.is_kids else ''})"
            )
        for profile in adults:
            unlock = ""
            # A PIN-protected adult's homepage is a 403 without its unlock: say how to get one.
            if profile.has_pin:
                known = profile.check_pin(DEMO_PIN)  # the demo's, unless changed since the seed
                body = f'{{"pin": "{DEMO_PIN if known else "<PIN>"}"}}'
                lines.append(
                    f"  Unlock:    curl -X POST -H 'Authorization: Token {key}' "
                    f"-H 'Content-Type: application/json' -d '{body}' "
                    f"{base}/api/v1/profiles/{profile.pk}/unlock/   "
                    f"({profile.name}, PIN {DEMO_PIN if known else 'its own'})"
                )
                unlock = f"-H '{UNLOCK_HEADER}: <token from Unlock>' "
            lines.append(
                f"  Homepage:  curl -H 'Authorization: Token {key}' {unlock}"
                f"'{base}/api/v1/profiles/{profile.pk}/homepage/?device=tv&rows=12&items=20'"
                f"   ({profile.name})"
            )
        lines.append("")
        self.stdout.write("\n".join(lines))


def _showcase_pages(adults: list[Profile]) -> list[Page] | None:
    """The adults' real (unlogged) pages at the showcase moment; None before training.

    Built, not logged: printing URLs must not add pages to the training log.
    """
    if not adults:
        return None
    at = local_moment(
        weekday=SHOWCASE_MOMENT["weekday"],
        hour=SHOWCASE_MOMENT["hour"],
        zone=region_zone(adults[0].account.home_region),
        now=timezone.now(),
    )
    try:
        return [
            homepage_build(profile=profile, device=SHOWCASE_MOMENT["device"], at=at)
            for profile in adults
        ]
    except NoActiveModel:
        return None


def _story(pages: list[Page] | None, index: int) -> str:
    """Where the story's rows are on that page: ": 17 rows; Continue Watching row 1, ...".

    The showcase is opened to see a profile that resumes get Continue Watching first
    and one that starts new things get New Releases higher; saying where those rows
    landed catches a demo whose row ranker did not learn the planted habits.
    """
    if pages is None:
        return ""
    types = [row.type for row in pages[index].rows]
    where = [
        f"{label} row {types.index(kind) + 1}" if kind in types else f"no {label} row"
        for kind, label in STORY_ROWS.items()
    ]
    return f": {len(types)} rows; {', '.join(where)}"


def _difference(adults: list[Profile], pages: list[Page] | None) -> str:
    """How far apart the two adults' first screens are, measured on real (unlogged) pages.

    The showcase is only worth opening if the two pages differ; saying by how
    much, right here, catches a demo whose models failed to learn the tastes.
    """
    if pages is None:
        return "(no trained model yet: run `manage.py train_models`)"
    first, second = adults
    titles = [
        {item.title_id for row in page.rows[:FIRST_SCREEN_ROWS] for item in row.items}
        for page in pages
    ]
    common = len(titles[0] & titles[1])
    return (
        f"({first.name} and {second.name} share {common} of the "
        f"{len(titles[0] | titles[1])} titles on their first screens then)"
    )
