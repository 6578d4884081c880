"""``manage.py rollback_model --version ID``: serve an earlier model version again."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommendations.models import ModelVersion
from recommendations.selectors.model_versions import model_version_get
from recommendations.services.retraining import model_version_rollback


class Command(BaseCommand):
    help = (
        "Make an earlier model version (a retired one: it served before) the active one of its "
        "scope again, retiring the current one, in one transaction. Serving picks it up within "
        "seconds."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # ``--version ID`` names the model version, replacing Django's "show its version" flag.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--version", type=int, required=True, metavar="ID", help="The model version's id."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        version = model_version_get(pk=options["version"])
        if version is None:
            raise CommandError(f"No model version #{options['version']}.")
        if version.status == ModelVersion.Status.ACTIVE:
            # Rolling back to what serves changes nothing; "active again" read as if it had.
            self.stdout.write(
                f"Model version #{version.pk} ({version.scope_label}) is already the active one; "
                "nothing changed."
            )
            return
        try:
            version = model_version_rollback(version=version)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Model version #{version.pk} ({version.scope_label}) is active again.")
