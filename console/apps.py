from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Staff console"

    def ready(self) -> None:
        """Link the console from the admin: its index page and its "View site" link.

        The admin is where staff already are; the site has no public page of its
        own, so "View site" leads to what Tonight shows instead of a 404.
        """
        from django.contrib import admin

        admin.site.site_url = "/console/"
        admin.site.index_template = "console/admin_index.html"
