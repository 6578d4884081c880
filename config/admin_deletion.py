"""Delete confirmations that count rows instead of listing them, for every admin.

Django's confirmation (the delete page and the "Delete selected" action)
loads every object a deletion would cascade to, checks the delete permission
and reverses an admin URL for each, and renders each as a line of the page; it
does the same again on the POST that confirms, before deleting anything. A
profile owns tens of thousands of signals and thousands of logged pages (each
a JSON array of every title shown): with 50,000 signals and 5,000 pages its
confirmation read them all into the web process, took 12.6 s and 250 MB, and
rendered 5.6 MB of HTML; its household's, five times that. A title owns every
profile's signals and states of it, millions for a popular one.

Here the rows of :data:`SUMMARISED` (tables nothing else cascades from, which
the deletion itself removes with one ``DELETE`` each) and of the many-to-many
tables are counted, one ``COUNT`` per table, shown as one line each, and their
delete permission is checked once per table, as Django checks it per row. Everything else is listed
as Django lists it, up to :data:`LISTED_PER_MODEL` objects of each model; the rest
are counted on a line of their own. A language used by 50,000 profiles (which protect it)
formatted each of them, with a query each for the household its name shows: 51,656
queries and over three minutes for a page that could only say the language cannot go; a
region's 20,000 households took 10 s to render. Every object is still checked for its
delete permission, as Django checks it, listed or not. The admin site gives this
confirmation to every admin it registers (:func:`deletion_bounded`).
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.admin.utils import NestedObjects, quote
from django.db import router
from django.db.models import PROTECT, Model, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import capfirst

#: The tables of millions of rows, each owned by a profile, a title or a variant.
SUMMARISED = (
    "recommendations.Signal",
    "recommendations.PageLog",
    "recommendations.ProfileTitleState",
    "artwork.ArtworkVariantDaily",
)

#: Objects of one model a confirmation lists by name; the others are counted. Enough to
#: see what a deletion takes (a household's five profiles, a title's seasons).
LISTED_PER_MODEL = 100


def _counted(model: type[Model] | None, summarised: frozenset[type[Model]]) -> bool:
    """Whether ``model``'s rows are counted rather than read: a summarised table's, or a
    many-to-many table's (a title's audio languages, a profile's preferred ones), whose
    rows name nothing but the two keys ("Profile_preferred_languages object (12)"): a
    language's confirmation read the 80,000 of its profiles' preferences one by one."""
    return model is not None and (model in summarised or model._meta.auto_created)


class _CountingNestedObjects(NestedObjects):
    """Django's collector for the confirmation, leaving the counted tables' rows unread.

    Their rows take Django's fast-delete path (a queryset kept in
    ``fast_deletes``, never evaluated) whenever the real deletion would: a
    table that gains a delete receiver or a cascade of its own is listed row
    by row again, as the real deletion then reads its rows too.
    """

    def __init__(self, *args: Any, summarised: frozenset[type[Model]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.summarised = summarised
        #: Objects protecting the deletion that were counted, not read (:meth:`related_objects`).
        self.protected_unread: dict[type[Model], int] = defaultdict(int)

    def related_objects(self, related_model: type[Model], related_fields: list, objs: Any) -> Any:
        """The related rows, of a protecting relation only the first :data:`LISTED_PER_MODEL`.

        Objects that protect the deletion are shown to say why it cannot be done, which
        the first of them say as well as all: the others are counted, not read (English,
        shown to 51,646 profiles, read each of them). Their delete permission is not
        checked, which matters to nothing: a protected deletion is refused whatever it is.
        """
        related = super().related_objects(related_model, related_fields, objs)
        if not all(field.remote_field.on_delete is PROTECT for field in related_fields):
            return related
        unread = related.count() - LISTED_PER_MODEL
        if unread > 0:
            self.protected_unread[related_model] += unread
        return related.order_by("pk")[:LISTED_PER_MODEL]

    def can_fast_delete(self, objs: Any, from_field: Any = None) -> bool:
        model = getattr(getattr(objs, "_meta", None), "model", None)
        if model is None and isinstance(objs, QuerySet):
            model = objs.model
        if not _counted(model, self.summarised):
            return False
        # Collector's own rule (NestedObjects answers False to keep every row for the page).
        return super(NestedObjects, self).can_fast_delete(objs, from_field=from_field)

    def nested_bounded(
        self, check: Callable[[Model], None], format_callback: Callable[[Model], str]
    ) -> tuple[list, dict[type[Model], int]]:
        """``nested(format_callback)``, formatting at most :data:`LISTED_PER_MODEL` objects
        of each model; and how many of each model were left out.

        An object left out takes the objects under it with it (they are counted, not
        listed apart from what they belong to). ``check`` is called on every object,
        listed or not. Objects are taken in the order of their keys, so the same rows
        are listed each time.
        """
        listed: dict[type[Model], int] = defaultdict(int)
        unlisted: dict[type[Model], int] = defaultdict(int)
        seen: set[Model] = set()

        def walk(obj: Model, shown: bool) -> list:
            if obj in seen:
                return []
            seen.add(obj)
            check(obj)
            model = type(obj)
            shown = shown and listed[model] < LISTED_PER_MODEL
            if shown:
                listed[model] += 1
            else:
                unlisted[model] += 1
            children = [
                item
                for child in _in_key_order(self.edges.get(obj, ()))
                for item in walk(child, shown)
            ]
            if not shown:
                return []
            return [format_callback(obj), children] if children else [format_callback(obj)]

        roots = [
            item for root in _in_key_order(self.edges.get(None, ())) for item in walk(root, True)
        ]
        return roots, dict(unlisted)


def _in_key_order(objs: Sequence[Model] | set[Model]) -> list[Model]:
    return sorted(objs, key=lambda obj: (obj._meta.label, str(obj.pk)))


def _unlisted_line(model: type[Model], count: int) -> str:
    return f"{capfirst(model._meta.verbose_name_plural)}: {count:,} more, not listed one by one"


def deleted_objects_counted(
    objs: Sequence[Model] | QuerySet,
    request: HttpRequest,
    admin_site: AdminSite,
    *,
    summarised: Sequence[str] = SUMMARISED,
) -> tuple[list, dict[str, int], set[str], list]:
    """What :func:`django.contrib.admin.utils.get_deleted_objects` returns, the logs counted.

    Its body, with a collector that leaves the summarised tables' rows unread.

    The summarised tables' rows appear as one line per table ("Signals: 50,000,
    not listed one by one") after the listed objects, and under their plural
    name in the summary of counts.
    """
    if not objs:
        return [], {}, set(), []
    models = frozenset(apps.get_model(label) for label in summarised)
    collector = _CountingNestedObjects(
        using=router.db_for_write(objs[0]._meta.model), origin=objs, summarised=models
    )
    collector.collect(objs)
    perms_needed: set[str] = set()

    def check(obj: Model) -> None:
        # Django's own check (in get_deleted_objects' format_callback), for every object.
        opts = obj._meta
        if admin_site.is_registered(type(obj)) and not admin_site.get_model_admin(
            type(obj)
        ).has_delete_permission(request, obj):
            perms_needed.add(opts.verbose_name)

    def format_callback(obj: Model) -> str:
        # Django's own (get_deleted_objects), which takes no collector of another kind,
        # but for objects the user may not view: Django named them, a profile with its
        # household's name to a catalogue editor deleting a language, and linked them to a
        # page that refuses the user. Their kind and id say what goes or protects.
        opts = obj._meta
        no_edit_link = f"{capfirst(opts.verbose_name)}: {obj}"
        if not admin_site.is_registered(type(obj)):
            return no_edit_link
        if not admin_site.get_model_admin(type(obj)).has_view_or_change_permission(request, obj):
            return f"{capfirst(opts.verbose_name)}: #{obj.pk}"
        try:
            url = reverse(
                f"{admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                None,
                (quote(obj.pk),),
            )
        except NoReverseMatch:
            return no_edit_link
        return format_html('{}: <a href="{}">{}</a>', capfirst(opts.verbose_name), url, obj)

    to_delete, unlisted = collector.nested_bounded(check, format_callback)
    to_delete.extend(_unlisted_line(model, count) for model, count in unlisted.items())
    protected_listed: dict[type[Model], int] = defaultdict(int)
    protected_unlisted: dict[type[Model], int] = defaultdict(int)
    protected = []
    for obj in _in_key_order(collector.protected):
        check(obj)
        if protected_listed[type(obj)] < LISTED_PER_MODEL:
            protected_listed[type(obj)] += 1
            protected.append(format_callback(obj))
        else:
            protected_unlisted[type(obj)] += 1
    for model, count in collector.protected_unread.items():
        protected_unlisted[model] += count
    protected.extend(_unlisted_line(model, count) for model, count in protected_unlisted.items())
    model_count = {
        str(model._meta.verbose_name_plural): len(rows)
        for model, rows in collector.model_objs.items()
    }
    counts: dict[type[Model], int] = defaultdict(int)
    for queryset in collector.fast_deletes:
        if _counted(queryset.model, models):
            counts[queryset.model] += queryset.count()
    for model, count in counts.items():
        if not count:
            continue
        opts = model._meta
        plural = str(opts.verbose_name_plural)
        model_count[plural] = model_count.get(plural, 0) + count
        to_delete.append(f"{capfirst(plural)}: {count:,}, not listed one by one")
        if admin_site.is_registered(model) and not admin_site.get_model_admin(
            model
        ).has_delete_permission(request):
            perms_needed.add(opts.verbose_name)
    return to_delete, model_count, perms_needed, protected


class CountedDeletionAdminMixin:
    """For a ``ModelAdmin`` whose objects own rows of the log tables (:data:`SUMMARISED`)."""

    def get_deleted_objects(
        self, objs: Sequence[Model] | QuerySet, request: HttpRequest
    ) -> tuple[list, dict[str, int], set[str], list]:
        return deleted_objects_counted(objs, request, self.admin_site)  # type: ignore[attr-defined]


@cache
def deletion_bounded(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    """``admin_class`` with :class:`CountedDeletionAdminMixin`, under its own name.

    The admin site registers every ``ModelAdmin`` so (``console.admin_site``): a language,
    a region or a genre (its titles' links), and the installed apps' users and schedules,
    are deleted through the same bounded confirmation as a profile. An admin with a
    ``get_deleted_objects`` of its own keeps it: one of ours inherits the mixin for its
    ``super()`` to reach (``regions.admin.RegionAdmin``).
    """
    if issubclass(admin_class, CountedDeletionAdminMixin) or (
        admin_class.get_deleted_objects is not admin.ModelAdmin.get_deleted_objects
    ):
        return admin_class
    return type(
        admin_class.__name__,
        (CountedDeletionAdminMixin, admin_class),
        {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__},
    )
