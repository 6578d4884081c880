"""Signals admin: a read-only window on tables of tens of millions of rows.

Stock admin behaviour that is fine for the catalogue is not fine here: counting
every row for the paginator, listing the distinct days of the date hierarchy,
and ``icontains`` search on joined tables are each a full scan. This module
replaces those three with index-friendly versions; everything else is stock.
"""

import calendar
import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, TypeVar

import numpy as np
from axes.models import AccessLog
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_permission_codename
from django.core.exceptions import EmptyResultSet, PermissionDenied
from django.core.paginator import Paginator
from django.db import OperationalError, connections, transaction
from django.db.models import Max, Min, Model, QuerySet
from django.forms import BaseForm, ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from artwork.models import ArtworkVariantDaily
from catalog.models import Title
from config.admin_households import households_named, profile_shown
from config.admin_lists import IndexedSearchAdminMixin, OfferedChoicesFilter
from config.admin_users import user_shown, usernames_by_id
from config.charts import Series, has_points, line_chart
from config.ids import id_from_text
from regions.models import Region
from regions.selectors import region_codes_labelled, taste_cluster_ids_labelled

from .engine.row_ranking import ROW_TYPES
from .models import (
    AbandonedTask,
    ModelVersion,
    PageLog,
    ProfileTitleState,
    Signal,
    TrainingRun,
)
from .selectors.attribution import attribution_window, page_impressions_attributed
from .services.model_versions import ModelVersionsInUse, model_versions_delete
from .services.retraining import (
    RetrainError,
    RetrainNotQueued,
    model_version_rollback,
    model_version_staff_activate,
    training_run_request,
)

# How long an exact COUNT(*) may take before the paginator settles for the planner's estimate,
# and MIN/MAX before the date bar settles for the column's statistics.
COUNT_TIMEOUT_MS = 300
# An estimate is never reported below this, so a wrong low guess cannot turn a
# huge result into one unpaginated "show all" page.
ESTIMATE_FLOOR = 1000
# Above this many rows by the planner's estimate, a changelist does not count them or read
# their first and last moment: either reads the whole result (10M signals: 0.3 to 0.5 s
# each, on every page), and the statistics stand in. Below it, the exact figures are quick:
# a day of the benchmark's signals (about 200,000) took 364 ms to count, past the timeout.
EXACT_ROWS_MAX = 100_000

T = TypeVar("T")


class BoundedCountPaginator(Paginator):
    """Counts exactly when that is quick, and estimates when it is not.

    ``COUNT(*)`` over a large table takes seconds and runs on every changelist
    load. The exact count runs under a statement timeout; if it is cancelled,
    PostgreSQL's own row estimate for the same query (from ``EXPLAIN``) stands in.
    Page links are then approximate, which nobody paging through millions of
    rows relies on.
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return super().count
        estimate = self.estimated_rows
        if estimate > EXACT_ROWS_MAX:
            # Counting would only be given up on after COUNT_TIMEOUT_MS.
            return estimate
        count = within_timeout(queryset.db, queryset.count)
        if count is None:
            self.count_cancelled = True
            return max(estimate, ESTIMATE_FLOOR)
        return count

    #: Whether the exact count was given up on: the result's other exact figures (its
    #: first and last moment, :func:`date_bounds`) would read as much, and be too.
    count_cancelled = False

    @cached_property
    def estimated_rows(self) -> int:
        """The planner's estimate of the result, read once for the count and the date bar.

        0 off PostgreSQL (SQLite, in development), which has no such estimate to read:
        the result is then small, and its exact figures are read.
        """
        if connections[self.object_list.db].vendor != "postgresql":
            return 0
        return estimated_rows(self.object_list)


def within_timeout(using: str, read: Callable[[], T]) -> T | None:
    """``read()``, cancelled after :data:`COUNT_TIMEOUT_MS` (None then); PostgreSQL only.

    The timeout is set in a savepoint, and set back before it is released: it is local
    to the transaction, which may be an outer one that goes on. A cancelled read rolls
    the savepoint back, which restores it too.
    """
    connection = connections[using]
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            # The setting as it was, read in the statement that changes it: the subquery
            # (fenced by its OFFSET) gives its row before the outer one sets the timeout.
            cursor.execute(
                "SELECT was, set_config('statement_timeout', %s, true) FROM "
                "(SELECT current_setting('statement_timeout') AS was OFFSET 0) AS setting",
                [str(COUNT_TIMEOUT_MS)],
            )
            previous = cursor.fetchone()[0]
            result = read()
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
            return result
    except OperationalError:
        return None


def estimated_rows(queryset: QuerySet) -> int:
    """How many rows PostgreSQL's planner expects the queryset to hold (one ``EXPLAIN``)."""
    try:
        sql, params = queryset.order_by().query.sql_with_params()
    except EmptyResultSet:  # queryset.none(): an unreadable search
        return 0
    with connections[queryset.db].cursor() as cursor:
        # The SQL is the ORM's own, with its parameters passed separately.
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def column_bounds(model: type[Model], field_name: str, using: str) -> tuple[Any, Any] | None:
    """The smallest and largest value of a column in the planner's statistics; None without.

    ``ANALYZE`` keeps a sample's extremes among the histogram bounds and most
    common values, so these are near the table's own: a handful of rows beyond
    them (a month's first or last signals) may go without a link of their own.
    """
    field = model._meta.get_field(field_name)
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    array = f"{field.db_type(connection)}[]"
    with connection.cursor() as cursor:
        # Only the column's own type is interpolated; names are parameters.
        cursor.execute(
            "SELECT min(v), max(v) FROM pg_stats s, LATERAL unnest("  # noqa: S608
            f"coalesce(s.histogram_bounds::text::{array}, '{{}}') "
            f"|| coalesce(s.most_common_vals::text::{array}, '{{}}')) v "
            "WHERE s.schemaname = current_schema() AND s.tablename = %s AND s.attname = %s",
            [model._meta.db_table, field.column],
        )
        first, last = cursor.fetchone()
    return None if first is None else (first, last)


def date_bounds(
    queryset: QuerySet, field_name: str, rows: int, *, slow: bool = False
) -> tuple[Any, Any]:
    """The first and last value of the queryset's date field, for the date bar's links.

    Exact when the result is small; for a large one (most of a signal table)
    ``MIN``/``MAX`` of a column without a B-tree index read every row, and the
    column's statistics stand in: the links may then reach a little short of,
    or past, the rows the filters leave. The statistics are as old as the last
    ``ANALYZE``, which autovacuum runs on ten million signals only after a million
    more (days of them), so the table's first and last stored rows (two probes of
    the primary key) widen them: without, the newest days, the ones the list shows
    first, had no link until the next ``ANALYZE``. The table's, as the statistics
    are, not the result's: under a filter (a year long past) the probe would walk
    the key through every row after the filter's last one. ``rows`` is the result's
    estimated size, which its paginator has already read.

    A small result is not always quick to read: one the planner finds by no index (a
    rare kind of signal, the changelist's own filter) is found by reading every row,
    1.7 s at 10 million signals for one page's date bar. Its exact bounds are read
    under the paginator's count timeout (:func:`within_timeout`), and the statistics
    stand in when it is cancelled, or at once when ``slow`` says that counting the
    result already was.
    """
    if rows <= EXACT_ROWS_MAX and not slow:
        read = partial(queryset.aggregate, first=Min(field_name), last=Max(field_name))
        if connections[queryset.db].vendor != "postgresql":
            found = read()
            return found["first"], found["last"]
        found = within_timeout(queryset.db, read)
        if found is not None:
            return found["first"], found["last"]
    bounds = column_bounds(queryset.model, field_name, queryset.db)
    if bounds is None:
        found = queryset.aggregate(first=Min(field_name), last=Max(field_name))
        return found["first"], found["last"]
    stored = queryset.model._default_manager.using(queryset.db).values_list(field_name, flat=True)
    ends = [stored.order_by("pk").first(), stored.order_by("-pk").first()]
    ends = [value for value in ends if value is not None]  # an emptied table
    return min([bounds[0], *ends]), max([bounds[1], *ends])


def date_navigation(cl: ChangeList) -> dict[str, Any]:
    """The date hierarchy's links, from the bounds of the result instead of its distinct dates.

    Django's drill-down runs ``SELECT DISTINCT date_trunc(...)`` over every
    matching row; the bounds are ``MIN``/``MAX`` of a small result, or for a large
    one the column's statistics and two primary-key probes (:func:`date_bounds`).
    The price is that a day or month without signals inside the range still gets a link.
    ``cl``'s paginator is a :class:`BoundedCountPaginator`, whose estimate it reuses.
    Returns the context of ``admin/date_hierarchy.html``.
    """
    field = cl.date_hierarchy
    year_field, month_field, day_field = (f"{field}__{part}" for part in ("year", "month", "day"))
    year, month, day = (cl.params.get(f) for f in (year_field, month_field, day_field))

    def link(filters: dict[str, Any]) -> str:
        return cl.get_query_string(filters, [f"{field}__"])

    def month_title(value: dt.date) -> str:
        return capfirst(formats.date_format(value, "YEAR_MONTH_FORMAT"))

    def day_title(value: dt.date) -> str:
        return capfirst(formats.date_format(value, "MONTH_DAY_FORMAT"))

    if year and month and day:
        chosen = dt.date(int(year), int(month), int(day))
        return {
            "show": True,
            "back": {
                "link": link({year_field: year, month_field: month}),
                "title": month_title(chosen),
            },
            "choices": [{"title": day_title(chosen)}],
        }

    paginator = cl.paginator
    bounds = date_bounds(
        cl.queryset, field, paginator.estimated_rows, slow=paginator.count_cancelled
    )
    if bounds[0] is None:
        return {"show": False}
    first, last = (
        timezone.localtime(bound).date() if isinstance(bound, dt.datetime) else bound
        for bound in bounds
    )
    if not year and first.year == last.year:
        year = str(first.year)
        if first.month == last.month:
            month = str(first.month)

    if year and month:
        y, m = int(year), int(month)
        days = range(1, calendar.monthrange(y, m)[1] + 1)
        dates = [dt.date(y, m, d) for d in days if first <= dt.date(y, m, d) <= last]
        return {
            "show": True,
            "back": {"link": link({year_field: year}), "title": year},
            "choices": [
                {
                    "link": link({year_field: y, month_field: m, day_field: d.day}),
                    "title": day_title(d),
                }
                for d in dates
            ],
        }
    if year:
        y = int(year)
        months = [dt.date(y, m, 1) for m in range(1, 13)]
        months = [
            d
            for d in months
            if (first.year, first.month) <= (y, d.month) <= (last.year, last.month)
        ]
        return {
            "show": True,
            "back": {"link": link({}), "title": "All dates"},
            "choices": [
                {"link": link({year_field: y, month_field: d.month}), "title": month_title(d)}
                for d in months
            ],
        }
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({year_field: str(y)}), "title": str(y)}
            for y in range(first.year, last.year + 1)
        ],
    }


class SortableByChangeList(ChangeList):
    """A changelist that sorts only by the columns ``sortable_by`` names.

    Django's hides the other columns' sort links but still sorts by any column an
    ``?o=`` names: a bookmark from when the signal list's columns sorted, or a
    hand-made URL, sorted ten million rows for a page's hundred (4 to 8 s).
    """

    def get_ordering_field(self, field_name: Any) -> Any:
        if field_name not in self.sortable_by:
            return None
        return super().get_ordering_field(field_name)


class ExactKeySearchMixin:
    """Search by indexed exact keys only; a substring search would scan the whole table.

    A term is ``profile:<id>``, ``account:<id>`` or ``title:<id>``, or a bare UUID
    for admins that set ``uuid_search_field``.
    """

    key_lookups = {"profile": "profile_id", "account": "profile__account_id", "title": "title_id"}
    uuid_search_field: str | None = None

    def uuid_search(self, queryset: QuerySet, key: uuid.UUID) -> QuerySet:
        """The rows whose ``uuid_search_field`` is ``key``."""
        return queryset.filter(**{self.uuid_search_field: key})

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        prefix, _, value = term.partition(":")
        lookup = self.key_lookups.get(prefix.strip().lower())
        if lookup and value.strip().isdigit():
            key = id_from_text(value)  # None for "²" or 20 digits: no row has that key
            return (queryset.filter(**{lookup: key}) if key else queryset.none()), False
        if self.uuid_search_field:
            try:
                key = uuid.UUID(term)
            except ValueError:
                pass
            else:
                return self.uuid_search(queryset, key), False
        self.message_user(
            request, f"“{term}” is not a search this list understands.", messages.WARNING
        )
        return queryset.none(), False


class LargeTableAdminMixin:
    """A changelist for tables of millions of rows: every figure it shows is bounded.

    The count is :class:`BoundedCountPaginator`'s (and not repeated for the
    "show all" link), the date bar is :func:`date_navigation`'s, and only the
    columns ``sortable_by`` names sort (:class:`SortableByChangeList`). The
    filters offer no "Show counts": each filter's counts read every matching row
    (0.8 s for the signals' two at 850,000; a filter of the page log's regions,
    one subquery per region, ran for minutes at 1.5 million pages).
    """

    paginator = BoundedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "admin/large_table_change_list.html"

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return SortableByChangeList

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        cl = super().get_changelist_instance(request)
        # Called by the template only when the date bar is drawn (not on action POSTs).
        cl.date_navigation = partial(date_navigation, cl)
        return cl


class ReadOnlyAdmin(admin.ModelAdmin):
    """For tables only the signal ingestion service writes.

    ``recommendations.services.signals`` stores each event once and keeps
    ``ProfileTitleState`` in step with it in the same transaction; a row added,
    edited or deleted here by itself would break both. Rows still go when the
    profile or title they belong to is deleted, which is why the delete
    permission stays (the admin checks it for every cascaded row) while every
    way to delete them one by one is removed.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "show_delete": False}
        )

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        raise PermissionDenied


@admin.register(Signal)
@households_named(profile=profile_shown)
class SignalAdmin(LargeTableAdminMixin, ExactKeySearchMixin, ReadOnlyAdmin):
    """What clients reported, to look at when a homepage needs explaining."""

    list_display = (
        "occurred_at",
        "kind",
        "profile",
        "title",
        "device",
        "value",
        "row",
        "position",
        "variant",
    )
    list_select_related = ("profile__account", "title")
    # Only choice filters: a related-object filter would list every profile or title.
    list_filter = ("kind", "device")
    date_hierarchy = "occurred_at"
    # Newest stored first: the primary key's index gives a page straight off; no index
    # orders by occurred_at (BRIN only, to spare every insert), and sorting ten million
    # rows for each page's hundred took 4 to 8 s. Rows are stored as batches arrive, so
    # this is occurred_at's order but for a late (offline) batch. For the same reason
    # no column sorts: each would sort the whole result.
    ordering = ("-pk",)
    sortable_by = ()
    search_fields = ("=page_id",)  # draws the search box; ExactKeySearchMixin does the matching
    search_help_text = "A page id (UUID), or profile:<id>, account:<id>, title:<id>."
    uuid_search_field = "page_id"

    def uuid_search(self, queryset: QuerySet, key: uuid.UUID) -> QuerySet:
        """A page's signals, among its profile's: page_id has no index, the profile has.

        A page was shown to one profile, so its signals are that profile's. A page
        the log no longer holds (pruned) leaves only the page_id itself, read from
        every signal.
        """
        profile_id = PageLog.objects.filter(pk=key).values_list("profile_id", flat=True).first()
        if profile_id is not None:
            queryset = queryset.filter(profile_id=profile_id)
        return queryset.filter(page_id=key)

    @admin.display(description="variant", ordering="artwork_variant_id")
    def variant(self, obj: Signal) -> int | None:
        # The id alone: joining variants for their labels would widen every page's query.
        return obj.artwork_variant_id


class CompletedFilter(admin.SimpleListFilter):
    title = "completed"
    parameter_name = "completed"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("yes", "Completed"), ("no", "Not completed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(completed_at__isnull=self.value() == "no")
        return queryset


@admin.register(ProfileTitleState)
@households_named(profile=profile_shown)
class ProfileTitleStateAdmin(LargeTableAdminMixin, ExactKeySearchMixin, ReadOnlyAdmin):
    """Where a profile stands with each title: what "Continue Watching" and "Watch Again" read."""

    list_display = (
        "profile",
        "title",
        "play_count",
        "progress",
        "completed_at",
        "completed_seasons",
        "rewatch_count",
        "thumbs",
        "last_event_at",
    )
    list_select_related = ("profile__account", "title")
    list_filter = ("thumbs", CompletedFilter)
    search_fields = ("=profile__id",)  # draws the search box; ExactKeySearchMixin does the matching
    search_help_text = "profile:<id>, account:<id> or title:<id>."
    # A row per profile and title it touched, millions: a sorted column sorted them all
    # for each page (0.3 s at 500,000 rows by play count). Newest stored first.
    ordering = ("-pk",)
    sortable_by = ()


class PageRegionFilter(OfferedChoicesFilter):
    """The regions pages may be served in, from the regions table.

    ``region`` is a plain code on the page (pages keep no foreign key, like
    signals), for which Django's own filter lists the distinct values stored:
    ``SELECT DISTINCT`` over every logged page on each view (0.5 s at 1.5 million).
    """

    title = "region"
    parameter_name = "region"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return list(Region.objects.order_by("code").values_list("code", "name"))

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        region_code = self.choice()
        return queryset.filter(region=region_code) if region_code else queryset


#: Said on every page's credits: a number alone read as 1-based beside the 0-based items.
PLAYS_CREDITED_COUNTING = (
    "Rows and positions count from 0 (the top row, the first tile), as in the items below, "
    "the signals' position and the API."
)


@admin.register(PageLog)
@households_named(profile=profile_shown)
class PageLogAdmin(LargeTableAdminMixin, ExactKeySearchMixin, ReadOnlyAdmin):
    """Logged homepages: what a profile was shown, to explain a page or an attribution.

    Millions of rows, as the signals are: the count is bounded, no column sorts
    (by generated_at, which has a BRIN index only, a page sorted every row: 1.5 s
    at 1.5 million; by device, 5 s), and no filter lists the values stored (see
    :class:`PageRegionFilter`).
    """

    list_display = (
        "generated_at",
        "profile",
        "device",
        "region",
        "cluster",
        "hour",
        "model_version",
    )
    list_filter = ("device", PageRegionFilter)
    search_fields = ("=profile__id",)  # replaced by the exact-key search
    key_lookups = {"profile": "profile_id", "account": "profile__account_id"}
    uuid_search_field = "id"
    # A version's label names its cluster ("#5 cluster IN-Tamil (active)").
    list_select_related = ("profile__account", "model_version__taste_cluster")
    # Newest first: the key is a UUIDv7, in the order pages were generated.
    ordering = ("-pk",)
    sortable_by = ()
    readonly_fields = (
        "id",
        "profile",
        "generated_at",
        "device",
        "region",
        "cluster",
        "hour",
        "weekday",
        "model_version",
        "plays_credited",
        "rows",
        "items",
    )

    @admin.display(description="plays credited")
    def plays_credited(self, obj: PageLog) -> str:
        """Which shown tiles later plays were credited to, and how: the labels the rankers
        and the artwork policy learn from this page, read as training reads them.

        Rows and positions are counted from 0, as the page's ``items`` below, the signals'
        stored ``position`` and the API count them, and the row is named by the id a
        signal's ``row`` carries: an analyst matching a credit here with a signal or an
        export read "position 3" beside a signal's 2 for the same tile.

        Without it, attribution could be checked only by calling the selector from a shell
        (a client developer's flow found no way to see a play's credit). One page's read:
        a fixed handful of queries on this one page.
        """
        moment = obj.generated_at
        found = page_impressions_attributed(
            since=moment, until=moment + dt.timedelta(microseconds=1), page_ids=[obj.pk]
        )
        mine = found.page == (found.page_ids.index(obj.pk) if obj.pk in found.page_ids else -1)
        seen = int((mine & found.seen).sum())
        played = np.flatnonzero(mine & found.played)
        titles = dict(
            Title.objects.filter(pk__in=found.title_id[played].tolist()).values_list(
                "pk", "original_name"
            )
        )
        lines = [
            f"{int(mine.sum())} tiles; {seen} reported on screen by the client; "
            f"{played.shape[0]} credited with a play (within "
            f"{attribution_window().total_seconds() / 60:g} minutes of the page, or naming it).",
            PLAYS_CREDITED_COUNTING,
        ]
        for i in played.tolist():
            title_id = int(found.title_id[i])
            how = "the play named this page" if found.exact[i] else "session window"
            at = dt.datetime.fromtimestamp(float(found.played_at[i]), tz=dt.UTC)
            row = int(found.row[i])
            row_id = obj.rows[row][0] if 0 <= row < len(obj.rows) else "?"
            lines.append(
                f"row {row} {row_id} ({ROW_TYPES[int(found.row_type[i])]}), "
                f"position {int(found.position[i])}: {titles.get(title_id, '?')} "
                f"(#{title_id}), artwork #{int(found.variant_id[i])} at propensity "
                f"{float(found.propensity[i]):.3f}; played {at:%Y-%m-%d %H:%M:%S} UTC ({how})"
            )
        return "\n".join(lines)


def gate_summary(metrics: object) -> str:
    """A retrain gate's verdict in a line: both NDCG@10 figures, their paired difference with
    its standard error and profiles, the margin and z it was judged with, and why the recipe
    judged was the one served (the best on the choice half, or a default kept).

    The figures alone mislead on a small cluster (a standard error of a quarter of NDCG@10
    at 30 profiles), so the page says how sure each verdict was."""
    gate = metrics.get("gate") if isinstance(metrics, dict) else None
    if not isinstance(gate, dict) or not gate:
        return "-"
    text = _gate_verdict(gate)
    # Why this recipe: the best on the choice half, or the default kept for want of profiles.
    chosen_on = gate.get("recipe_chosen_on")
    if isinstance(chosen_on, dict) and chosen_on.get("reason"):
        text += f"; recipe {gate.get('recipe')}: {chosen_on['reason']}"
    return text


def _gate_verdict(gate: dict) -> str:
    verdict = {True: "passed", False: "refused"}.get(gate.get("passed"), "not judged")
    candidate, active = gate.get("candidate_ndcg@10"), gate.get("active_ndcg@10")
    if gate.get("activated") is False:
        verdict = "passed, not activated"
    if candidate is None:
        return f"{verdict}: no held-out figure for the new version"
    text = f"{verdict}: NDCG@10 {candidate:.4f}"
    if active is None:
        return f"{text}; no active version judged against"
    text += f" vs {active:.4f} (active #{gate.get('active_version')})"
    paired = gate.get("paired") or {}
    if paired:
        se = paired.get("se")
        text += (
            f"; paired difference {paired.get('difference') or 0.0:+.4f}, standard error "
            f"{'unknown' if se is None else f'{se:.4f}'} over {paired.get('profiles', 0)} "
            "profiles"
        )
    margin, z = gate.get("margin"), gate.get("z")
    if margin is not None:
        text += f"; margin {margin * 100:g}%"
    # A run gated before the guardrail compared the figures alone.
    text += f", z {z:g}" if z is not None else ", figures alone"
    return text


class JsonShownMixin:
    """Read-only JSON fields shown indented, a key a line, with their help text.

    Django shows a read-only JSON field on one line: a retrain's metrics (each cluster's
    holdout table, the gate) filled the run's page, the one README sends newcomers to,
    with a screen-tall paragraph of braces. Each field named in ``json_shown`` is shown
    by a ``<name>_shown`` method of the admin (:meth:`json_shown_html`) in its place.
    """

    json_shown: tuple[str, ...] = ()

    def json_shown_in(self, names: list[str]) -> list[str]:
        return [f"{name}_shown" if name in self.json_shown else name for name in names]

    def get_exclude(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        # Shown by their methods instead: left in the form, they were editable text boxes.
        return [*(super().get_exclude(request, obj) or ()), *self.json_shown]

    def json_shown_html(self, obj: Model, name: str) -> str:
        text = json.dumps(getattr(obj, name), indent=2, ensure_ascii=False)
        help_text = obj._meta.get_field(name).help_text
        if not help_text:
            return format_html('<pre class="json">{}</pre>', text)
        # A span: admin indents a div.help inside a row by the label's width a second time.
        shown = '<pre class="json">{}</pre><span class="help">{}</span>'
        return format_html(shown, text, help_text)


class LabelledSearchMixin(IndexedSearchAdminMixin):
    """A search of runs or versions as their lists show them.

    A row is named by its number (``#12``: ``=id``, :class:`IndexedSearchAdminMixin`), its
    region by its label ("India (IN)") and its cluster by its ("IN-Tamil"), neither of which
    is a column (:func:`~regions.selectors.region_codes_labelled`,
    :func:`~regions.selectors.taste_cluster_ids_labelled`). Django's search compared the id
    as text, so "#12" found nothing, and matched each column on its own, so "IN-Tamil" did
    not either. Each is found off the rows' keys' indexes; a region's code, matched as a
    field, was the rows' own column (``region_id``), which no index answers.
    """

    def get_search_conditions(self, term: str) -> list[tuple[str, object]]:
        return [
            ("region__in", region_codes_labelled(containing=term)),
            ("taste_cluster__in", taste_cluster_ids_labelled(containing=term)),
        ]


@admin.register(ModelVersion)
class ModelVersionAdmin(JsonShownMixin, LabelledSearchMixin, admin.ModelAdmin):
    """Trained model versions: what each one learned from, and which one serves each scope.

    Versions are created only by training (``manage.py train_models``), so the
    add page is closed and every field is read-only; the one thing staff do
    here is activate a version (a rollback is activating a retired one). A
    retrain's ``ready`` version is refused: it serves only by passing its gate
    (:func:`~recommendations.services.retraining.model_version_staff_activate`).
    """

    list_display = (
        "id",
        "scope",
        "region",
        "taste_cluster",
        "status",
        "serving_mode",
        "n_profiles",
        "n_titles",
        "n_signals",
        "created_at",
        "activated_at",
    )
    list_filter = ("status", "scope", "serving_mode", "region")
    list_select_related = ("region", "taste_cluster")
    search_fields = ("=id", "taste_cluster__slug")  # and the region's and cluster's labels
    autocomplete_fields = ("region", "taste_cluster")
    ordering = ("-created_at",)
    actions = ("activate",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # A version's label names its cluster: the training runs' autocomplete lists labels,
        # and the activate action and a refused delete report them. The list's own joins too:
        # a changelist leaves out list_select_related when the queryset joins anything.
        return super().get_queryset(request).select_related(*self.list_select_related)

    json_shown = ("metrics",)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return self.json_shown_in(["gate", *(field.name for field in self.model._meta.fields)])

    @admin.display(description="metrics")
    def metrics_shown(self, obj: ModelVersion) -> str:
        return self.json_shown_html(obj, "metrics")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    # Both deletions go through the service, which deletes the versions' artefact files
    # once the admin's transaction commits (Django's would leave them in storage for good),
    # and refuses a version in use (the active one of its scope, one a retrain is judging).
    def delete_model(self, request: HttpRequest, obj: ModelVersion) -> None:
        model_versions_delete(versions=ModelVersion.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        model_versions_delete(versions=queryset)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Django's view deletes in a transaction, with its log entry: the refusal rolls both
        # back, and is said on the version's page instead of a server error.
        try:
            return super().delete_view(request, object_id, extra_context)
        except ModelVersionsInUse as refused:
            self.message_user(request, str(refused), messages.ERROR)
            return HttpResponseRedirect(
                reverse(
                    f"{self.admin_site.name}:recommendations_modelversion_change",
                    args=[object_id],
                )
            )

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions["delete_selected"] = (
                type(self).delete_selected_refusing_in_use,
                name,
                description,
            )
        return actions

    @admin.action(permissions=["delete"])
    def delete_selected_refusing_in_use(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        """Django's "Delete selected", all or nothing: a version in use refuses the lot.

        Django logs the deletions before it deletes, outside any transaction; in one, the
        refusal takes the log entries back with it.
        """
        try:
            with transaction.atomic():
                return delete_selected(self, request, queryset)
        except ModelVersionsInUse as refused:
            self.message_user(request, str(refused), messages.ERROR)
            return None

    @admin.display(description="retrain gate")
    def gate(self, obj: ModelVersion) -> str:
        return gate_summary(obj.metrics)

    # Switching what is served is a change, not a view: a view-only staff user must not.
    @admin.action(
        description="Activate (serve) the selected version of its scope", permissions=["change"]
    )
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        versions = list(queryset)
        if len(versions) != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        try:
            version = model_version_staff_activate(version=versions[0])
        except ValueError as refused:
            self.message_user(request, str(refused), messages.ERROR)
            return
        self.message_user(request, f"Version #{version.pk} now serves {version.scope_label}.")


# --- Retraining (issue 6) ---------------------------------------------------------------------

_CHART_SERIES = (("cluster", "#1f77b4"), ("region", "#ff7f0e"), ("global", "#2ca02c"))
_CHART_RUNS = 20


@admin.action(description="Roll back to this version (serve it again)", permissions=["change"])
def roll_back_to_version(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> None:
    versions = list(queryset)
    if len(versions) != 1:
        modeladmin.message_user(request, "Select exactly one version.", messages.ERROR)
        return
    try:
        version = model_version_rollback(version=versions[0])
    except ValueError as refused:
        modeladmin.message_user(request, str(refused), messages.ERROR)
        return
    modeladmin.message_user(request, f"Rolled back: version #{version.pk} serves again.")


ModelVersionAdmin.actions = (*ModelVersionAdmin.actions, roll_back_to_version)


@admin.register(TrainingRun)
@usernames_by_id(requested_by=user_shown("requested_by", "requested by"))
class TrainingRunAdmin(JsonShownMixin, LabelledSearchMixin, admin.ModelAdmin):
    """Retrains: who asked, how far along, how long each stage took, and what came out.

    Runs are created by requesting a retrain (the action below, ``manage.py
    retrain``, the staff API, the schedules), never by hand, so every field is
    read-only. The change page charts the cluster's holdout figures across its
    recent runs: its own model against the region and global models.
    """

    list_display = (
        "id",
        "region",
        "taste_cluster",
        "status",
        "stage",
        "progress_percent",
        "trigger",
        "requested_by",
        "model_version",
        "created_at",
        "seconds",
    )
    list_filter = ("status", "trigger", "region")
    list_select_related = (
        "region",
        "taste_cluster",
        "requested_by",
        "model_version__taste_cluster",  # a version's label names its cluster
    )
    # And the region's and cluster's labels; a task id is copied from a worker's log.
    search_fields = ("=id", "taste_cluster__slug", "=celery_task_id")
    autocomplete_fields = ("region", "taste_cluster", "requested_by", "model_version")
    ordering = ("-created_at",)
    actions = ("retrain_now",)
    readonly_fields = ("gate", "metrics_chart")
    json_shown = ("timings", "data_sizes", "metrics")

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        fields = ["gate", "metrics_chart", *(field.name for field in self.model._meta.fields)]
        return self.json_shown_in(fields)

    @admin.display(description="timings")
    def timings_shown(self, obj: TrainingRun) -> str:
        return self.json_shown_html(obj, "timings")

    @admin.display(description="data sizes")
    def data_sizes_shown(self, obj: TrainingRun) -> str:
        return self.json_shown_html(obj, "data_sizes")

    @admin.display(description="metrics")
    def metrics_shown(self, obj: TrainingRun) -> str:
        return self.json_shown_html(obj, "metrics")

    @admin.display(description="gate")
    def gate(self, obj: TrainingRun) -> str:
        return gate_summary(obj.metrics)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # A queued or running run holds its cluster (and its version is judged when it
        # ends): deleted, its version would never be gated nor failed. Django's bulk
        # delete asks this of every selected run and refuses the lot if one says no.
        if obj is not None and not obj.is_finished:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="progress", ordering="progress")
    def progress_percent(self, obj: TrainingRun) -> str:
        return f"{obj.progress}%"

    @admin.display(description="seconds")
    def seconds(self, obj: TrainingRun) -> str:
        if obj.started_at is None:
            return "-"
        end = obj.finished_at or timezone.now()
        return f"{(end - obj.started_at).total_seconds():.0f}"

    # Starting a retrain (and, through its gate, changing what is served) needs change permission.
    @admin.action(description="Retrain now (the selected runs' clusters)", permissions=["change"])
    def retrain_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        # The clusters only: selected across every run, the runs (metrics and all) would be
        # read into memory for a few distinct pairs.
        clusters = queryset.order_by().values_list("region_id", "taste_cluster__slug").distinct()
        for region_code, slug in sorted(clusters):
            try:
                run = training_run_request(
                    region_code=region_code,
                    cluster_slug=slug,
                    trigger=TrainingRun.Trigger.ADMIN,
                    requested_by=request.user,
                )
            except (RetrainError, RetrainNotQueued) as error:
                self.message_user(request, str(error), messages.ERROR)
                continue
            # Without a broker the run has already executed in this request: say how it ended.
            run.refresh_from_db()
            level = {
                TrainingRun.Status.REJECTED: messages.WARNING,
                TrainingRun.Status.FAILED: messages.ERROR,
            }.get(run.status, messages.INFO)
            self.message_user(
                request, f"Run #{run.pk} ({region_code}-{slug}): {run.status}. {run.error}", level
            )

    @admin.display(description="holdout NDCG@10 across runs")
    def metrics_chart(self, obj: TrainingRun) -> str:
        """An inline SVG line chart of the cluster's recent runs (no script, no build step)."""
        runs = list(
            TrainingRun.objects.filter(taste_cluster_id=obj.taste_cluster_id)
            .exclude(metrics={})
            .order_by("-created_at")
            .values_list("pk", "metrics")[:_CHART_RUNS]
        )[::-1]
        slug = obj.taste_cluster.slug
        points: dict[str, list[tuple[int, float]]] = {name: [] for name, _ in _CHART_SERIES}
        for position, (_, metrics) in enumerate(runs):
            row = (metrics.get("clusters") or {}).get(slug) or {}
            for name, _ in _CHART_SERIES:
                value = row.get(f"ndcg@10_{name}")
                if isinstance(value, int | float):
                    points[name].append((position, float(value)))
        series = [Series(name, colour, points[name]) for name, colour in _CHART_SERIES]
        if not has_points(series):
            return "No evaluated runs yet."
        return line_chart(
            series=series, x_labels=[f"#{pk}" for pk, _ in runs], label="NDCG@10 per run"
        )


@admin.register(AbandonedTask)
class AbandonedTaskAdmin(admin.ModelAdmin):
    """Tasks given up after their worker process was lost on every delivery.

    Written by the workers only (``recommendations.services.deliveries``): every field
    is read-only. Deleting a row once its cause is dealt with is allowed.
    """

    list_display = ("created_at", "name", "task_id", "deliveries")
    list_filter = ("name",)
    search_fields = ("name", "=task_id")
    ordering = ("-created_at",)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# --- Celery beat's schedules (Periodic tasks) ---------------------------------------------


def _permission(model: type[Model], action: str) -> str:
    return f"{model._meta.app_label}.{get_permission_codename(action, model._meta)}"


#: What admin's "Retrain now" asks for (its ``permissions=["change"]`` on training runs).
RETRAIN_PERMISSION = _permission(TrainingRun, "change")


@dataclass(frozen=True)
class TaskGate:
    """What staff need, beyond the periodic task permissions, to start a task through
    a schedule: what the project's own admin asks for the same operation."""

    permissions: frozenset[str]
    #: Said in admin's refusal: "Only staff with <needs> may ...".
    needs: str
    #: Whether stopping the task (pausing or deleting its schedule) asks the same. Stopping
    #: a retrain or the prune only leaves undone what the schedule would have done; a task
    #: whose runs undo what is left stuck (the reaper) is as much the operation stopped as
    #: started, and staff who may pause it but not resume it could leave it stopped for good.
    stopping: bool = False


_RETRAIN_GATE = TaskGate(
    frozenset({RETRAIN_PERMISSION}),
    "change permission on training runs (as for “Retrain now”)",
)
#: The prune deletes page logs, the signals and pages of deleted profiles, model versions
#: (with their files: what "Roll back" could serve again) and the artwork daily figures: at
#: any moment, and with a schedule of one's own as often as one likes. Admin deletes none
#: of these rows without the model's delete permission.
_PRUNE_GATE = TaskGate(
    frozenset(
        _permission(model, "delete")
        for model in (PageLog, Signal, ModelVersion, ArtworkVariantDaily, AccessLog)
    ),
    "delete permission on page logs, signals, model versions, artwork daily figures and "
    "sign-in records (what the prune deletes)",
)
#: The reaper fails the runs a dead worker left "running" and the ones no worker took, and
#: the versions their retrains left unjudged: as only staff who may change runs do. Paused,
#: it leaves them so, and each such run blocks its cluster's next retrain: pausing or
#: deleting it asks the same as running or resuming it.
_REAPER_GATE = TaskGate(_RETRAIN_GATE.permissions, _RETRAIN_GATE.needs, stopping=True)
#: Each task whose schedule starts something staff need more than the schedule
#: permissions for: the retrains and refits (the nightly refit is ``artwork.update_policy``
#: with ``full``), the reaper and the prune.
TASK_GATES: dict[str, TaskGate] = {
    "recommendations.retrain_region": _RETRAIN_GATE,
    "recommendations.retrain_cluster": _RETRAIN_GATE,
    "recommendations.retrain_clusters": _RETRAIN_GATE,
    "artwork.update_policy": _RETRAIN_GATE,
    "recommendations.reap_training_runs": _REAPER_GATE,
    "recommendations.prune_logs": _PRUNE_GATE,
}
#: Celery's own canvas tasks (``celery.chain``, ``celery.starmap``, ...) run whatever task
#: their arguments name: they ask for every gate's permissions.
_CANVAS_GATE = TaskGate(
    frozenset().union(*(gate.permissions for gate in TASK_GATES.values())),
    " and ".join(dict.fromkeys(gate.needs for gate in TASK_GATES.values())),
)
MAY_NOT = "Only staff with {needs} may {what} a periodic task of {task}: {names}."


def task_gate(task: str) -> TaskGate | None:
    """What a schedule of ``task`` asks of staff beyond the schedule permissions; ``None``
    when nothing (a task that neither retrains nor deletes, such as ``celery.backend_cleanup``)."""
    if task in TASK_GATES:
        return TASK_GATES[task]
    if task.startswith("celery.") and task != "celery.backend_cleanup":
        return _CANVAS_GATE
    return None


def may_start(request: HttpRequest, task: str) -> bool:
    """Whether the user may start ``task`` through a schedule (add, save, run or enable one)."""
    gate = task_gate(task)
    return gate is None or request.user.has_perms(gate.permissions)


def may_stop(request: HttpRequest, task: str) -> bool:
    """Whether the user may stop ``task``'s schedule (pause or delete it), beyond the periodic
    task permissions: as they may start it, for a gate that holds stopping too."""
    gate = task_gate(task)
    return gate is None or not gate.stopping or request.user.has_perms(gate.permissions)


def _refusals(
    request: HttpRequest, tasks: list[tuple[str, str]], what: str, *, stopping: bool = False
) -> list[str]:
    """Admin's refusal for each gated task among ``tasks`` ((name, task) pairs) the user may
    not start (with ``stopping``, stop); empty when there is none."""
    may = may_stop if stopping else may_start
    refused: dict[str, list[str]] = {}
    for name, task in tasks:
        if not may(request, task):
            refused.setdefault(task, []).append(name)
    return [
        MAY_NOT.format(
            needs=task_gate(task).needs,  # type: ignore[union-attr]
            what=what,
            task=task,
            names=", ".join(sorted(names)),
        )
        for task, names in sorted(refused.items())
    ]


def _guarded_form(
    form: type[ModelForm], request: HttpRequest, check: Callable[..., None]
) -> type[ModelForm]:
    """``form`` whose ``clean`` calls ``check(form, data, request)``."""

    class GateGuardedForm(form):  # type: ignore[misc,valid-type]
        def clean(self) -> dict[str, Any]:
            data = super().clean()
            check(self, data, request)
            return data

    return GateGuardedForm


def _refuse_gated_task(form: BaseForm, data: dict[str, Any], request: HttpRequest) -> None:
    task = data.get("task") or ""
    field = "regtask" if data.get("regtask") else "task"
    for refusal in _refusals(request, [(data.get("name") or task, task)], "add or change"):
        form.add_error(field, refusal)
    # A schedule made to run another task no longer runs its own: for the reaper, as
    # stopped as paused (``TaskGate.stopping``). The instance still holds the task as saved.
    saved: PeriodicTask = form.instance  # type: ignore[attr-defined]
    if saved.pk is not None and saved.task != task:
        for refusal in _refusals(request, [(saved.name, saved.task)], "stop", stopping=True):
            form.add_error(field, refusal)


admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    """django-celery-beat's page, its list's actions asking for change permission.

    Its four actions (enable, disable, toggle, run now) declare no permission, and
    Django offers such an action to anyone who may see the list: staff allowed only
    to look at the schedules could pause every region's nightly retrain, or run one
    (a retrain, the prune of old logs) now, past the change permission on training
    runs that "Retrain now" asks for. Pausing or running a schedule is changing it.

    A schedule of a gated task (``task_gate``: the retrains, the reaper, the prune) asks for
    its gate's permissions too before it is added, saved, run or enabled: each of those
    starts the task, which the project's own admin allows only with them. Pausing and
    deleting one stop it, and stay with the periodic task permissions, except where the
    gate holds stopping too (``TaskGate.stopping``: the reaper), which then asks the same
    in both directions.
    """

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> type[ModelForm]:
        # The task is checked as saved (a schedule made a retrain is refused too), whatever
        # else the form changes: a retrain's schedule, moved, is a retrain started.
        form = super().get_form(request, obj, **kwargs)
        return _guarded_form(form, request, _refuse_gated_task)

    def _refused(
        self,
        request: HttpRequest,
        queryset: QuerySet[PeriodicTask],
        what: str,
        *,
        stopping: bool = False,
    ) -> bool:
        """Says so and answers True when ``queryset`` holds a task the user may not start
        (with ``stopping``, stop)."""
        tasks = list(queryset.values_list("name", "task"))
        refusals = _refusals(request, tasks, what, stopping=stopping)
        for refusal in refusals:
            self.message_user(request, f"{refusal} Nothing was changed.", messages.ERROR)
        return bool(refusals)

    @admin.action(
        description=beat_admin.PeriodicTaskAdmin.enable_tasks.short_description,
        permissions=["change"],
    )
    def enable_tasks(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        if not self._refused(request, queryset, "enable"):
            super().enable_tasks(request, queryset)

    @admin.action(
        description=beat_admin.PeriodicTaskAdmin.disable_tasks.short_description,
        permissions=["change"],
    )
    def disable_tasks(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        if not self._refused(request, queryset, "pause", stopping=True):
            super().disable_tasks(request, queryset)

    @admin.action(
        description=beat_admin.PeriodicTaskAdmin.toggle_tasks.short_description,
        permissions=["change"],
    )
    def toggle_tasks(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        # Toggling a running task off is pausing it, which asks what "Disable" asks.
        enabling = self._refused(request, queryset.filter(enabled=False), "enable")
        pausing = self._refused(request, queryset.filter(enabled=True), "pause", stopping=True)
        if not (enabling or pausing):
            super().toggle_tasks(request, queryset)

    def has_delete_permission(self, request: HttpRequest, obj: PeriodicTask | None = None) -> bool:
        # Per schedule: the delete page, "Delete selected" and the deletion of a crontab or
        # interval (which takes the periodic tasks on it with it) all ask this of each.
        return super().has_delete_permission(request, obj) and (
            obj is None or may_stop(request, obj.task)
        )

    @admin.action(
        description=beat_admin.PeriodicTaskAdmin.run_tasks.short_description, permissions=["change"]
    )
    def run_tasks(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        if not self._refused(request, queryset, "run"):
            super().run_tasks(request, queryset)


def _refuse_gated_schedule(form: BaseForm, data: dict[str, Any], request: HttpRequest) -> None:
    schedule = form.instance  # type: ignore[attr-defined]
    if schedule.pk is None or not form.has_changed():
        return
    tasks = list(schedule.periodictask_set.values_list("name", "task"))
    for refusal in _refusals(request, tasks, "reschedule"):
        form.add_error(None, refusal)


class RetrainScheduleGuardMixin:
    """A schedule (crontab, interval, ...) that a gated task's periodic task uses is that
    task's timing: changing it to fire in a minute starts it, so it asks what the
    periodic task would. Schedules used by other tasks stay with their own permissions."""

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> type[ModelForm]:
        form = super().get_form(request, obj, **kwargs)
        return _guarded_form(form, request, _refuse_gated_schedule)


for _model, _beat_admin in (
    (ClockedSchedule, beat_admin.ClockedScheduleAdmin),
    (CrontabSchedule, beat_admin.CrontabScheduleAdmin),
    (IntervalSchedule, beat_admin.IntervalScheduleAdmin),
    (SolarSchedule, beat_admin.SolarScheduleAdmin),
):
    admin.site.unregister(_model)
    admin.site.register(
        _model, type(_beat_admin.__name__, (RetrainScheduleGuardMixin, _beat_admin), {})
    )
