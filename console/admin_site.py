"""The admin site, linked to the console: its index page and its "View site" link."""

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from config.admin_deletion import deletion_bounded
from config.admin_lists import lookup_values_checked
from config.admin_users import may_view_users

from .access import console_home


class ConsoleLinkedAdminSite(admin.AdminSite):
    """Django's admin, whose front page and "View site" link lead to the console.

    The site has no public page of its own, so "View site" leads to what Tonight
    shows instead of a 404; but being staff does not open the console
    (:mod:`console.access`), so the link leads to the first console page the
    user may open, and staff who may open none get no link rather than a 403.
    Every list it registers refuses a filter value no date can hold as a bad lookup, and
    every delete confirmation lists a bounded number of objects of each model.
    """

    index_template = "console/admin_index.html"

    def register(
        self,
        model_or_iterable: type[Model] | Iterable[type[Model]],
        admin_class: type[admin.ModelAdmin] | None = None,
        **options: Any,
    ) -> None:
        """Register as Django does, every list refusing a filter value no date can hold
        (``config.admin_lists.LookupValuesCheckedChangeList``): ours, and Django's own
        user list, which had a 500 for ``?date_joined__year=0``; and every delete
        confirmation bounded (``config.admin_deletion.deletion_bounded``): a language's
        listed each of the 50,000 profiles it is shown to, for minutes."""
        bounded = deletion_bounded(admin_class or admin.ModelAdmin)
        super().register(model_or_iterable, lookup_values_checked(bounded), **options)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        context["site_url"] = console_home(request.user)
        # The history pages' "User" column (templates/admin/object_history.html).
        context["users_named"] = may_view_users(request.user)
        return context
