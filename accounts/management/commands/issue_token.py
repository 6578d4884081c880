"""``manage.py issue_token <account id>``: prints only the new key, so scripts can capture it."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account, ApiToken
from accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for an account and print its key (shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account_id", type=int, help="The household's account id.")
        parser.add_argument(
            "--name",
            default="issued from the command line",
            help="The token's label in admin (default: 'issued from the command line').",
        )

    def handle(self, *args: object, account_id: int, name: str, **options: object) -> None:
        account = Account.objects.filter(pk=account_id).first()
        if account is None:
            raise CommandError(f"No account with id {account_id}.")
        limit = ApiToken._meta.get_field("name").max_length
        if len(name) > limit:
            raise CommandError(f"--name is {len(name)} characters; a token's name holds {limit}.")
        _, key = api_token_create(account=account, name=name)
        self.stdout.write(key)
