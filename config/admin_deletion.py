"""Delete confirmations that count the rows of the log tables instead of listing them.

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
the deletion itself removes with one ``DELETE`` each) are counted, one
``COUNT`` per table, shown as one line each, and their delete permission is
checked once per table, as Django checks it per row. Everything else is listed
as Django lists it.
"""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.apps import apps
from django.contrib.admin import AdminSite
from django.contrib.admin.utils import NestedObjects, quote
from django.db import router
from django.db.models import Model, QuerySet
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


class _CountingNestedObjects(NestedObjects):
    """Django's collector for the confirmation, leaving the summarised tables' rows unread.

    Their rows take Django's fast-delete path (a queryset kept in
    ``fast_deletes``, never evaluated) whenever the real deletion would: a
    table that gains a delete receiver or a cascade of its own is listed row
    by row again, as the real deletion then reads its rows too.
    """

    def __init__(self, *args: Any, summarised: frozenset[type[Model]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.summarised = summarised

    def can_fast_delete(self, objs: Any, from_field: Any = None) -> bool:
        model = getattr(getattr(objs, "_meta", None), "model", None)
        if model is None and isinstance(objs, QuerySet):
            model = objs.model
        if model not in self.summarised:
            return False
        # Collector's own rule (NestedObjects answers False to keep every row for the page).
        return super(NestedObjects, self).can_fast_delete(objs, from_field=from_field)


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

    def format_callback(obj: Model) -> str:
        # Django's own (get_deleted_objects), which takes no collector of another kind.
        opts = obj._meta
        no_edit_link = f"{capfirst(opts.verbose_name)}: {obj}"
        if not admin_site.is_registered(type(obj)):
            return no_edit_link
        if not admin_site.get_model_admin(type(obj)).has_delete_permission(request, obj):
            perms_needed.add(opts.verbose_name)
        try:
            url = reverse(
                f"{admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                None,
                (quote(obj.pk),),
            )
        except NoReverseMatch:
            return no_edit_link
        return format_html('{}: <a href="{}">{}</a>', capfirst(opts.verbose_name), url, obj)

    to_delete = collector.nested(format_callback)
    protected = [format_callback(obj) for obj in collector.protected]
    model_count = {
        str(model._meta.verbose_name_plural): len(rows)
        for model, rows in collector.model_objs.items()
    }
    counts: dict[type[Model], int] = defaultdict(int)
    for queryset in collector.fast_deletes:
        if queryset.model in models:
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
