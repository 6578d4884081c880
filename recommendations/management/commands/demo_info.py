"""Print what a newcomer opens after ``make demo``: the admin login, API docs and a homepage."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account, ApiToken
from accounts.services import api_token_create, api_token_revoke

SHOWCASE_ACCOUNT = "The Sharmas (demo)"
DEMO_TOKEN_NAME = "make demo"  # noqa: S105  (a label, not a secret)


class Command(BaseCommand):
    help = (
        "Print the demo's URLs and credentials, with a fresh API token for the showcase household."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default=8000, type=int)

    def handle(self, *args: object, host: str, port: int, **options: object) -> None:
        account = Account.objects.filter(name=SHOWCASE_ACCOUNT).first()
        if account is None:
            raise CommandError(
                f"No '{SHOWCASE_ACCOUNT}' household: run `manage.py seed_demo` first."
            )
        # One live demo token at a time: each `make demo` replaces the previous one.
        for old in ApiToken.objects.filter(account=account, name=DEMO_TOKEN_NAME, revoked_at=None):
            api_token_revoke(token=old)
        _, key = api_token_create(account=account, name=DEMO_TOKEN_NAME)

        base = f"http://{host}:{port}"
        profiles = list(account.profiles.order_by("slot"))
        lines = [
            "",
            "Tonight is ready.",
            f"  Admin:     {base}/admin/   (user: admin, password: tonight-demo)",
            f"  API docs:  {base}/api/docs/",
            f"  Household: {account.name}, token {key}",
        ]
        for profile in profiles:
            lines.append(
                f"  Profiles:  curl -H 'Authorization: Token {key}' "
                f"{base}/api/v1/profiles/{profile.pk}/"
                + ("   (kids)" if profile.is_kids else f"   ({profile.name})")
            )
        for profile in [p for p in profiles if not p.is_kids][:2]:
            lines.append(
                f"  Homepage:  curl -H 'Authorization: Token {key}' "
                f"'{base}/api/v1/profiles/{profile.pk}/homepage/?device=tv&rows=12&items=20'"
                f"   ({profile.name})"
            )
        lines.append("")
        self.stdout.write("\n".join(lines))
