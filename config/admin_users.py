"""Users named on admin's pages only to staff who may view users; others read "user #5".

A training run's "requested by" and a household's members showed their usernames (a
member's is often an e-mail address) to every role given the run or the household alone:
an ML engineer read who on the staff asked for each retrain, a support agent every
member's sign-in, though admin refuses both the users' own list. The rule is the one for
households' names (``config.admin_households``, :func:`config.permissions.may_view`),
applied to the user model: staff who may not view users read ids. So do the history
pages' "User" column (``templates/admin/object_history.html``).

Searches keep a member's username and e-mail (the household and profile lists' "a
member's username or e-mail") for staff who may view households: support finds the
household of the person who writes in by the sign-in they give, and the list shows no
username it was not given. Staff who may not view households search neither
(``config.admin_households``).
"""

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.http import HttpRequest

from config.admin_households import admin_mixed_in
from config.permissions import may_view

Shown = Callable[[Model], str]
AdminClass = TypeVar("AdminClass", bound=admin.ModelAdmin)


def user_label() -> str:
    """The user model as :func:`may_view` names it (``auth.user``)."""
    return get_user_model()._meta.label_lower


def may_view_users(user: Any) -> bool:
    return may_view(user, user_label())


@cache
def user_shown(field: str, description: str) -> Shown:
    """A row's user ``field`` (a foreign key) by its id: "user #5", or "-" for none.

    Cached, so that each request is handed the same function: admin tells a read-only
    field by finding it among the read-only fields, and a new function would not be.
    """

    @admin.display(description=description, ordering=f"{field}_id")
    def shown(row: Model) -> str:
        pk = getattr(row, f"{field}_id")
        return "-" if pk is None else f"user #{pk}"

    return shown


@cache
def users_shown(field: str, description: str) -> Shown:
    """A row's users ``field`` (a many-to-many) by their ids: "user #5, user #9"."""

    @admin.display(description=description)
    def shown(row: Model) -> str:
        ids = getattr(row, field).order_by("pk").values_list("pk", flat=True)
        return ", ".join(f"user #{pk}" for pk in ids) or "-"

    return shown


def usernames_by_id(**shown: Shown) -> Callable[[type[AdminClass]], type[AdminClass]]:
    """A ``ModelAdmin`` whose fields and columns named in ``shown`` read ids for staff who
    may not view users (see :class:`UsernamesAdminMixin`).

    A subclass with the mixin first, so that it wraps the admin's own
    ``get_readonly_fields`` and ``get_fieldsets`` (a training run's page has its own).
    """

    def decorate(admin_class: type[AdminClass]) -> type[AdminClass]:
        return admin_mixed_in(admin_class, UsernamesAdminMixin, usernames_shown=shown)

    return decorate


class UsernamesAdminMixin:
    """Swaps the fields and columns of ``usernames_shown`` for ids, for staff who may not
    view users.

    ``usernames_shown`` maps a field's name to its :data:`Shown`. The field leaves the
    page's form for such staff (they could not pick a user: the picker asks view on users),
    so a save keeps it as it was; its :data:`Shown` stands read-only in its place.
    """

    usernames_shown: dict[str, Shown] = {}

    def _hidden(self, request: HttpRequest) -> dict[str, Shown]:
        return {} if may_view_users(request.user) else self.usernames_shown

    def _swapped(self, request: HttpRequest, names: Sequence[Any]) -> list[Any]:
        hidden = self._hidden(request)
        return [hidden.get(name, name) if isinstance(name, str) else name for name in names]

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        return self._swapped(request, super().get_list_display(request))

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[Any]:
        """The admin's own, with each :data:`Shown` beside them: the field it stands for
        stays named among them, so that the form leaves it out."""
        fields = list(super().get_readonly_fields(request, obj))
        return fields + [shown for shown in self._hidden(request).values() if shown not in fields]

    def get_fieldsets(self, request: HttpRequest, obj: Model | None = None) -> list[Any]:
        """The page's fieldsets, each field of ``usernames_shown`` in its :data:`Shown`."""
        fieldsets = super().get_fieldsets(request, obj)
        hidden = self._hidden(request)
        if not hidden:
            return fieldsets
        # Django's own fieldsets list the read-only fields too, the Shown ones included.
        standing = set(hidden.values())
        return [
            (
                title,
                {
                    **options,
                    "fields": [
                        hidden.get(name, name) if isinstance(name, str) else name
                        for name in options["fields"]
                        if not (callable(name) and name in standing)
                    ],
                },
            )
            for title, options in fieldsets
        ]
