"""The admin app with Tonight's admin site (``console.admin_site``) as its default site."""

from django.contrib.admin.apps import AdminConfig


class TonightAdminConfig(AdminConfig):
    # A dotted path, imported once the apps are loaded: the site reads permissions.
    default_site = "console.admin_site.ConsoleLinkedAdminSite"
