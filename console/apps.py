from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The staff console; admin links to it through ``console.admin_site``."""

    name = "console"
    verbose_name = "Staff console"
