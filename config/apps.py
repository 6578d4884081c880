"""The admin app with Tonight's admin site (``console.admin_site``) as its default site."""

from django.contrib.admin.apps import AdminConfig
from django.db.backends.signals import connection_created
from django.db.models import CharField, TextField


class TonightAdminConfig(AdminConfig):
    # A dotted path, imported once the apps are loaded: the site reads permissions.
    default_site = "console.admin_site.ConsoleLinkedAdminSite"

    def ready(self) -> None:
        from config.lookups import Unaccented, sqlite_unaccented_register

        # The admin's and the console's searches match names without their accents
        # (``config.lookups.Unaccented``); here with the admin, whose searches need it,
        # and before the site's modules load and anything opens a connection.
        CharField.register_lookup(Unaccented)
        TextField.register_lookup(Unaccented)
        connection_created.connect(
            sqlite_unaccented_register, dispatch_uid="config.lookups.sqlite_unaccented"
        )
        super().ready()
