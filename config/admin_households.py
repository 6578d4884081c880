"""Households and profiles named on admin's pages only to staff who may view them.

A page of another model showed each row's household by name, and a signal's or logged
page's profile by name, to staff given that model alone: an analyst allowed the signals
read every family's name, though admin refused them the households' and profiles' own
lists and the console shows households only with view permission on both. Such staff read
ids instead ("profile #12 (household #3)"), which the lists' searches take
(``profile:<id>``, ``account:<id>``), and their searches leave the households' names
out. The rule is :func:`config.permissions.may_view`'s.

A profile's and a token's own name (``__str__``: "Priya (The Sharmas)") names the household
too: in their pages' title, heading and breadcrumb, their history's and delete
confirmation's, their list's row checkboxes, and admin's messages and log. The rows
admin reads for such staff call the household by its id there (``household_shown_as``).
A household's history names its profiles and tokens as they were logged: to staff who
may not view them, by ids (:func:`history_rows_unnamed`), as its page shows such staff
none of their rows. The lists' order and search help follow suit (the README's "What
staff permissions show").
"""

import json
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.views.main import ChangeList
from django.db.models import CharField, Model, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.http import HttpRequest

from config.admin_history import change_message_rows
from config.permissions import may_view

Shown = Callable[[Model], str]
MakeShown = Callable[..., Shown | None]
AdminClass = TypeVar("AdminClass", bound=admin.ModelAdmin)


@cache
def profile_shown(*, households: bool, profiles: bool) -> Shown | None:
    """A row's ``profile`` as staff read it who may not view households or profiles, or
    None for staff who may view both, who keep admin's own field (the name, linked).

    Cached, so that each request is handed the same function: admin tells a read-only
    field by finding it among the read-only fields, and a new function would not be.
    """
    if households and profiles:
        return None

    @admin.display(description="profile")
    def shown(row: Model) -> str:
        profile = row.profile
        name = profile.name if profiles else f"profile #{profile.pk}"
        household = profile.account.name if households else f"household #{profile.account_id}"
        return f"{name} ({household})"

    return shown


@cache
def household_shown(*, households: bool, profiles: bool) -> Shown | None:
    """A row's ``account`` by id alone for staff who may not view households, else None."""
    if households:
        return None

    # By id: "account" sorts by the households' own order, their names.
    @admin.display(description="account", ordering="account_id")
    def shown(row: Model) -> str:
        return f"household #{row.account_id}"

    return shown


def _through_household(search_field: str) -> bool:
    """Whether a ``search_fields`` entry reads the row's household beyond its id."""
    path = search_field.lstrip("=^@")
    return path.startswith("account__") and path != "account__id"


def history_rows_unnamed(entries: Iterable[LogEntry], hidden: dict[str, Iterable[Model]]) -> None:
    """Name by ids the inline rows that ``entries``' change messages name, of the kinds the
    user may not view.

    ``hidden`` maps each such kind (its ``verbose_name``, as admin logs it) to the page's
    rows of it: a row logged under the name it still has reads "profile #12"; one logged
    under another (renamed since) reads "(name not shown)"; a deleted row's label, which
    names nothing, stays. The entries change in memory, for the page being shown: the log
    keeps the names for staff who may view them.
    """
    ids = {kind: {str(row): f"{kind} #{row.pk}" for row in rows} for kind, rows in hidden.items()}
    for entry in entries:
        messages, rows = change_message_rows(entry.change_message)
        changed = False
        for row in rows:
            if row.get("name") not in ids:
                continue
            kind, name = row["name"], str(row.get("object", ""))
            if re.fullmatch(rf"({re.escape(kind)}( \d+)? )?\(deleted\)", name):
                continue
            row["object"] = ids[kind].get(name, "(name not shown)")
            changed = True
        if changed:
            entry.change_message = json.dumps(messages)


def households_named(**shown: MakeShown) -> Callable[[type[AdminClass]], type[AdminClass]]:
    """A ``ModelAdmin`` whose columns and read-only fields named in ``shown`` are swapped
    for what each makes (see :class:`HouseholdNamesAdminMixin`).

    A subclass with the mixin first, so that it wraps the admin's own ``get_fieldsets`` and
    ``get_readonly_fields`` (the profile's and the token's pages have their own).
    """

    def decorate(admin_class: type[AdminClass]) -> type[AdminClass]:
        return admin_mixed_in(admin_class, HouseholdNamesAdminMixin, households_shown=shown)

    return decorate


def admin_mixed_in(
    admin_class: type[AdminClass], mixin: type, **attributes: Any
) -> type[AdminClass]:
    """``admin_class`` with ``mixin`` first and ``attributes`` set, under its own name.

    First, so that the mixin wraps the admin's own ``get_fieldsets`` and friends; under
    the class's name, module and docstring, so that admin's pages, checks and error
    messages name the class that was written.
    """
    return type(
        admin_class.__name__,
        (mixin, admin_class),
        {
            **attributes,
            "__module__": admin_class.__module__,
            "__qualname__": admin_class.__qualname__,
            "__doc__": admin_class.__doc__,
        },
    )


class HouseholdNamesAdminMixin:
    """Swaps the columns and read-only fields of ``households_shown`` for :data:`Shown`\\ s.

    ``households_shown`` maps a column's or field's name to a function of what the user may
    view (``households`` and ``profiles``, booleans) returning its :data:`Shown`, or None
    to leave the name alone. A field is swapped only where it is read-only (a change
    page's, or every field of a view-only page), never where staff choose it.
    """

    households_shown: dict[str, MakeShown] = {}

    def _shown(self, request: HttpRequest) -> dict[str, Shown]:
        user = request.user
        households = may_view(user, "accounts.account")
        profiles = may_view(user, "profiles.profile")
        made = {
            name: make(households=households, profiles=profiles)
            for name, make in self.households_shown.items()
        }
        return {name: shown for name, shown in made.items() if shown is not None}

    def _swapped(self, request: HttpRequest, names: Sequence[Any]) -> list[Any]:
        shown = self._shown(request)
        return [shown.get(name, name) if isinstance(name, str) else name for name in names]

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        """Without the households' names: found by one, a row said which household bears it.

        Every path through the row's household but its id (its name, its external id, its
        members' sign-ins) is left out for staff who may not view households.
        """
        fields = list(super().get_search_fields(request))
        if may_view(request.user, "accounts.account"):
            return fields
        return [field for field in fields if not _through_household(field)]

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        """The list, its search help saying what the user's search reads.

        The admin's ``search_help_text_without_households``, if it has one, is the help
        for staff who may not view households, who search no household's name
        (:meth:`get_search_fields`). Read off the admin, not defaulted here: the mixin
        comes first in the admin's bases, and its default would hide the admin's own.
        """
        changelist = super().get_changelist_instance(request)
        help_text = getattr(self, "search_help_text_without_households", None)
        if help_text is not None and not may_view(request.user, "accounts.account"):
            changelist.search_help_text = help_text
        return changelist

    def get_ordering(self, request: HttpRequest) -> list[str]:
        """Without the households' names: the rows' order said which name comes first."""
        ordering = list(super().get_ordering(request) or ())
        if may_view(request.user, "accounts.account"):
            return ordering
        kept = []
        for field in ordering:
            descending, path = field.startswith("-"), field.lstrip("-")
            if path == "account":
                # The household sorts by its model's order, its name: by its id instead.
                kept.append("-account_id" if descending else "account_id")
            elif not _through_household(path):
                kept.append(field)
        return kept

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """The rows, each calling its household by its id in its own name (``__str__``) for
        staff who may not view households: the list, each row's pages, admin's messages
        and the log read that name.

        Set on the rows as they are read (an annotation), not on the object a page fetches:
        "Delete selected" and the list's actions read their rows here too.
        """
        queryset = super().get_queryset(request)
        if hasattr(queryset.model, "household_shown_as") and not may_view(
            request.user, "accounts.account"
        ):
            queryset = queryset.annotate(
                household_shown_as=Concat(
                    Value("household #"), Cast("account_id", output_field=CharField())
                )
            )
        return queryset

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        return self._swapped(request, super().get_list_display(request))

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[Any]:
        return self._swapped(request, super().get_readonly_fields(request, obj))

    def get_fieldsets(self, request: HttpRequest, obj: Model | None = None) -> list[Any]:
        """The page's fieldsets, each read-only field of ``households_shown`` swapped."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        if self.has_change_permission(request, obj):
            readonly = set(super().get_readonly_fields(request, obj))
        else:
            readonly = {name for _, options in fieldsets for name in options["fields"]}
        shown = {name: f for name, f in self._shown(request).items() if name in readonly}
        return [
            (title, {**options, "fields": [shown.get(name, name) for name in options["fields"]]})
            for title, options in fieldsets
        ]
