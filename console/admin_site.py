"""The admin site, linked to the console: its index page and its "View site" link."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .access import console_home


class ConsoleLinkedAdminSite(admin.AdminSite):
    """Django's admin, whose front page and "View site" link lead to the console.

    The site has no public page of its own, so "View site" leads to what Tonight
    shows instead of a 404; but being staff does not open the console
    (:mod:`console.access`), so the link leads to the first console page the
    user may open, and staff who may open none get no link rather than a 403.
    """

    index_template = "console/admin_index.html"

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        context["site_url"] = console_home(request.user)
        return context
