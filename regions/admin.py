"""Regions admin: licensing windows per region, and each region's taste clusters."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django_celery_beat.models import PeriodicTask

from catalog.models import Language
from config.admin_deletion import CountedDeletionAdminMixin
from config.admin_inlines import FixedOnceStoredMixin, QueryOncePerInlineMixin
from config.admin_lists import IndexedSearchAdminMixin, count_subquery
from profiles.models import Profile
from recommendations.schedules import (
    INSTALL_RETRAIN_PERMISSIONS,
    RESCHEDULE_RETRAIN_PERMISSIONS,
    RETRAIN_LOCAL_HOUR,
    region_schedule_exists,
    region_schedule_install,
    region_schedules,
    retrain_schedule_name,
)

from .models import (
    DEFAULT_CLUSTER_KEPT,
    Availability,
    Region,
    TasteCluster,
    TasteClusterLocalization,
)
from .selectors import taste_cluster_ids_labelled
from .services import (
    TASTE_CLUSTER_UPDATABLE,
    region_create,
    region_delete,
    region_update,
    regions_delete,
    taste_cluster_create,
    taste_cluster_default_set,
    taste_cluster_delete,
    taste_cluster_update,
    taste_clusters_delete,
    title_windows_lock,
)


def window_status(availability: Availability) -> str:
    """Where now falls relative to the window, as staff say it."""
    now = timezone.now()
    if availability.starts_at is not None and availability.starts_at > now:
        return "upcoming"
    if availability.ends_at is not None and availability.ends_at <= now:
        return "ended"
    return "current"


class WindowStatusFilter(admin.SimpleListFilter):
    title = "window"
    parameter_name = "window"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("current", "Current"), ("upcoming", "Upcoming"), ("ended", "Ended")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Availability]
    ) -> QuerySet[Availability]:
        now = timezone.now()
        started = Q(starts_at__isnull=True) | Q(starts_at__lte=now)
        not_ended = Q(ends_at__isnull=True) | Q(ends_at__gt=now)
        match self.value():
            case "current":
                return queryset.filter(started & not_ended)
            case "upcoming":
                return queryset.filter(starts_at__gt=now)
            case "ended":
                return queryset.filter(ends_at__lte=now)
        return queryset


class AvailabilityInline(QueryOncePerInlineMixin, admin.TabularInline):
    """A title's windows, edited on the title's page (see ``catalog.admin.TitleAdmin``).

    The region is a plain select (a few dozen regions), whose choices the mixin
    reads once for all rows.
    """

    model = Availability
    fields = ("region", "starts_at", "ends_at", "status")
    readonly_fields = ("status",)
    extra = 0

    @admin.display(description="now")
    def status(self, obj: Availability) -> str:
        return window_status(obj) if obj.pk else "-"


@admin.register(Availability)
class AvailabilityAdmin(IndexedSearchAdminMixin, admin.ModelAdmin):
    list_display = ("title", "region", "starts_at", "ends_at", "status")
    list_select_related = ("title", "region")
    list_filter = ("region", WindowStatusFilter)
    search_fields = ("title__original_name", "=title__external_id")
    autocomplete_fields = ("title",)

    @admin.display(description="now")
    def status(self, obj: Availability) -> str:
        return window_status(obj)

    def save_model(self, request: HttpRequest, obj: Availability, form: Any, change: bool) -> None:
        # Admin's change view runs in a transaction, which the locks last for. A window moved
        # to another title locks both, in the order of their ids as the import locks titles:
        # the new one first deadlocked with an import holding the old one.
        titles = {obj.title_id}
        if change and form.initial.get("title") is not None:
            titles.add(form.initial["title"])
        for title_id in sorted(titles):
            title_windows_lock(title_id=title_id)
        super().save_model(request, obj, form, change)


class TasteClusterFormSet(forms.BaseInlineFormSet):
    """A region's clusters, of which exactly one is ticked as its default.

    An inline's forms check no constraint naming the region they belong to, so a second
    default reached the database: a server error. Counted over the whole page rather
    than each form against the database, so that the default moves in one save. None
    ticked (the default unticked or deleted) left the alphabetically first cluster catching
    everyone; a page that changes no cluster is not refused for a region an older write left
    so (``tonight.W008`` names it). A region's first clusters added with none ticked are
    not refused: the first of them is ticked, as ``taste_cluster_create`` would make it the
    default anyway, and the page says so.
    """

    def clean(self) -> None:
        super().clean()
        kept = [
            form
            for form in self.forms
            if form not in self.deleted_forms
            and (form.instance.pk is not None or form.has_changed())
        ]
        defaults = [form for form in kept if form.cleaned_data.get("is_default")]
        if len(defaults) > 1:
            raise ValidationError(
                "A region has one default taste cluster: tick “is default” on one only."
            )
        changed = self.deleted_forms or any(form.has_changed() for form in self.forms)
        self.first_default: TasteCluster | None = None
        if kept and not defaults and changed and not self._region_has_clusters():
            # A region's first clusters, none ticked: the first saved becomes the default
            # anyway (``taste_cluster_create``), so the page ticks it rather than refuse what
            # the model does, and the region's page says so (``RegionAdmin.save_formset``).
            first = kept[0]
            first.cleaned_data["is_default"] = True
            first.instance.is_default = True
            self.first_default = first.instance
            return
        if kept and not defaults and changed:
            raise ValidationError(
                "A region that has taste clusters has one default, which holds everybody no "
                "keyed community holds: tick “is default” on one. To move it, tick another "
                "cluster and untick (or delete) the former one in the same save."
            )

    def _region_has_clusters(self) -> bool:
        """Whether the region has a cluster stored, read afresh: the page may be older."""
        if self.instance.pk is None or self.instance._state.adding:
            return False
        return TasteCluster.objects.filter(region_id=self.instance.pk).exists()

    def save(self, commit: bool = True) -> list[TasteCluster]:
        """Write the page through ``regions.services`` (commit only; ``RegionAdmin``
        saves it so).

        Renames and languages first; then new clusters, a ticked one moving the default to
        it; then a tick of an existing cluster, which moves the default (the former's
        untick on the page is that move, not a write of its own); the deleted last, in one
        call that reads them together: one by one, the default (listed first) was refused
        while the others were still there. Only a tick the page changed moves the default:
        a page shown before the default moved elsewhere, saved with a rename, leaves it
        where it is.
        """
        if not commit:
            return super().save(commit=False)
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        ticked: list[TasteCluster] = []
        for form in self.initial_forms:
            if form in self.deleted_forms or not form.has_changed():
                continue
            cluster = form.instance
            data = {
                field: form.cleaned_data[field]
                for field in form.changed_data
                if field in TASTE_CLUSTER_UPDATABLE and field != "is_default"
            }
            taste_cluster_update(cluster=cluster, data=data)
            if "is_default" in form.changed_data and form.cleaned_data.get("is_default"):
                ticked.append(cluster)
            self.changed_objects.append((cluster, form.changed_data))
        for form in self.extra_forms:
            if form in self.deleted_forms or not form.has_changed():
                continue
            made = taste_cluster_create(
                region=self.instance,
                slug=form.cleaned_data["slug"],
                name=form.cleaned_data["name"],
                languages=form.cleaned_data.get("languages") or (),
                is_default=bool(form.cleaned_data.get("is_default")),
            )
            if form.instance is self.first_default:
                self.first_default = made
            form.instance = made
            self.new_objects.append(made)
        for cluster in ticked:
            taste_cluster_default_set(cluster=cluster)
        going = [form.instance for form in self.deleted_forms if form.instance.pk is not None]
        if going:
            taste_clusters_delete(clusters=going)
            self.deleted_objects = going
        return self.new_objects + [cluster for cluster, _ in self.changed_objects]


def _first_default_said(cluster: TasteCluster) -> str:
    return (
        f"“{cluster.name}” is {cluster.region_id}'s first taste cluster, so it was made the "
        "region's default (“is default” ticked), which holds everybody no keyed community "
        "holds. To make another cluster the default later, tick it on the region's page."
    )


class TasteClusterInline(QueryOncePerInlineMixin, admin.TabularInline):
    model = TasteCluster
    formset = TasteClusterFormSet
    fields = ("name", "slug", "languages", "is_default")
    autocomplete_fields = ("languages",)
    prepopulated_fields = {"slug": ("name",)}
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[TasteCluster]:
        return super().get_queryset(request).prefetch_related("languages")


@admin.register(Region)
class RegionAdmin(CountedDeletionAdminMixin, IndexedSearchAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "default_language", "time_zone", "cluster_count")
    list_select_related = ("default_language",)
    list_filter = ("default_language",)
    search_fields = ("code", "name")
    autocomplete_fields = ("default_language",)
    inlines = (TasteClusterInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Region]:
        return super().get_queryset(request).annotate(cluster_count=Count("taste_clusters"))

    @admin.display(description="taste clusters", ordering="cluster_count")
    def cluster_count(self, obj: Region) -> int:
        return obj.cluster_count

    def save_model(self, request: HttpRequest, obj: Region, form: Any, change: bool) -> None:
        # A region added here gets its nightly retrain (04:00 in its zone), and a zone changed
        # here moves it. That is adding or rescheduling a retrain, which the Periodic tasks
        # pages allow only with INSTALL_ or RESCHEDULE_RETRAIN_PERMISSIONS: staff without them
        # add or change the region and leave the schedules as operators have them, and are
        # told so. A region left without one gets it when staff who may add one save it.
        may_install = request.user.has_perms(INSTALL_RETRAIN_PERMISSIONS)
        if not change:
            made = region_create(
                code=obj.code,
                name=obj.name,
                default_language=obj.default_language,
                time_zone=obj.time_zone,
                retrain_schedule=may_install,
            )
            obj._state.adding, obj._state.db = False, made._state.db
            if not may_install:
                self._say_no_retrain(request, obj)
            return
        scheduled = region_schedule_exists(region_code=obj.code)
        follow = (
            not scheduled
            or "time_zone" not in form.changed_data
            or request.user.has_perms(RESCHEDULE_RETRAIN_PERMISSIONS)
        )
        data = {field: form.cleaned_data[field] for field in form.changed_data}
        region_update(region=obj, data=data, retrain_schedule_follow=follow)
        if not follow:
            self.message_user(
                request,
                f"{obj.code}'s nightly retrain (Periodic tasks, "
                f"“{retrain_schedule_name(obj.code)}”) was left where it was, not moved to "
                f"{obj.time_zone}: moving it takes change permission on periodic tasks and on "
                "training runs. Ask an operator who has them to move it.",
                messages.WARNING,
            )
        if not scheduled:
            if may_install:
                code = obj.code
                transaction.on_commit(lambda: region_schedule_install(region_code=code))
                self.message_user(
                    request,
                    f"{obj.code} had no nightly retrain: “{retrain_schedule_name(obj.code)}” is "
                    f"installed, at {RETRAIN_LOCAL_HOUR:02d}:00 {obj.time_zone} (Periodic tasks).",
                    messages.INFO,
                )
            else:
                self._say_no_retrain(request, obj)

    def _say_no_retrain(self, request: HttpRequest, obj: Region) -> None:
        self.message_user(
            request,
            f"{obj.code} has no nightly retrain: adding one (Periodic tasks, "
            f"“{retrain_schedule_name(obj.code)}”) takes add permission on periodic tasks and "
            "change permission on training runs. It is added when staff who have them save "
            "this region, or at the next install_schedules.",
            messages.WARNING,
        )

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        # A region deleted takes its nightly retrain with it (regions_delete),
        # which is no relation Django's collector follows: listed here with the rows it
        # does, and asking what deleting it on the Periodic tasks pages asks. Left behind,
        # the schedule would send a retrain of a region that is gone every night.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        schedules = region_schedules(region_codes=[region.pk for region in objs])
        if schedules:
            model_admin = self.admin_site.get_model_admin(PeriodicTask)
            for schedule in schedules:
                deleted.append(
                    format_html(
                        '{}: <a href="{}">{}</a>',
                        capfirst(PeriodicTask._meta.verbose_name),
                        reverse(
                            f"{self.admin_site.name}:django_celery_beat_periodictask_change",
                            args=(schedule.pk,),
                        ),
                        schedule.name,
                    )
                )
                if not model_admin.has_delete_permission(request, schedule):
                    perms_needed.add(PeriodicTask._meta.verbose_name)
            counts[PeriodicTask._meta.verbose_name_plural] = len(schedules)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Region) -> None:
        region_delete(region=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Region]) -> None:
        regions_delete(regions=queryset)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        first = getattr(formset, "first_default", None)
        if first is not None:
            self.message_user(request, _first_default_said(first), messages.INFO)

    def get_readonly_fields(self, request: HttpRequest, obj: Region | None = None) -> tuple:
        # The code is the primary key that accounts and windows point at.
        return ("code",) if obj is not None else ()


class TasteClusterLocalizationInline(QueryOncePerInlineMixin, admin.TabularInline):
    model = TasteClusterLocalization
    verbose_name_plural = "localised names"
    fields = ("language", "name")
    autocomplete_fields = ("language",)
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[TasteClusterLocalization]:
        return super().get_queryset(request).select_related("language")


@admin.register(TasteClusterLocalization)
class TasteClusterLocalizationAdmin(IndexedSearchAdminMixin, admin.ModelAdmin):
    list_display = ("name", "language", "cluster")
    list_select_related = ("language", "cluster")
    list_filter = ("language",)
    search_fields = ("name", "cluster__name")
    autocomplete_fields = ("cluster", "language")


class TasteClusterForm(FixedOnceStoredMixin, forms.ModelForm):
    """A cluster's page, whose region is chosen when the cluster is added and fixed after.

    Its profiles, versions and runs are its region's (``taste_cluster_update`` refuses a
    move too). Disabled rather than read-only: Django checks no constraint that names a
    field its form lacks, and a slug another cluster of the region has, or a second
    default, then reached the database as a server error.
    """

    fixed_once_stored = {
        "region": "Fixed once the cluster exists: for a community of another region, add a "
        "cluster there."
    }
    #: Set by :meth:`clean_is_default` when it ticks a region's first cluster.
    first_of_region = False

    class Meta:
        model = TasteCluster
        fields = ("region", "slug", "name", "languages", "is_default")

    def clean_is_default(self) -> bool:
        """Keep the region's default ticked, and a region's clusters with one.

        Unticked (``taste_cluster_update`` refuses it too) or a keyed cluster added to a region
        without a default, the alphabetically first cluster caught everyone no keyed
        community holds. The default moves on the region's page, which ticks one and
        unticks the other in one save (here, a second default is the constraint's refusal).

        A region's first cluster is its default whatever the box says (``taste_cluster_create``
        makes it so): ticked here, and the page says so (``TasteClusterAdmin.save_model``),
        rather than refused for what the model would have done. Only a region that has
        clusters and none of them its default, as a write that bypassed the model leaves
        it, refuses a keyed one: which of its clusters is to catch everyone is staff's call.
        """
        is_default = self.cleaned_data["is_default"]
        if is_default:
            return is_default
        if self.instance.pk is not None:
            if TasteCluster.objects.filter(pk=self.instance.pk, is_default=True).exists():
                raise ValidationError(
                    f"{DEFAULT_CLUSTER_KEPT} On the region's page, tick another cluster as "
                    "its default and untick this one in the same save."
                )
            return is_default
        region = self.cleaned_data.get("region")
        if region is not None and not region.taste_clusters.exists():
            self.first_of_region = True
            return True
        if region is not None and not region.taste_clusters.filter(is_default=True).exists():
            raise ValidationError(
                f"{region} has no default taste cluster, which holds everybody no keyed "
                "community holds: tick “is default” here, or first give the region its "
                "default on its page."
            )
        return is_default


@admin.register(TasteCluster)
class TasteClusterAdmin(CountedDeletionAdminMixin, IndexedSearchAdminMixin, admin.ModelAdmin):
    list_display = ("name", "region", "slug", "is_default", "language_list", "profile_count")
    list_select_related = ("region",)
    list_filter = ("region", "is_default")
    search_fields = ("name", "slug", "region__code", "region__name")
    search_help_text = "Name, slug or region, or the cluster as lists show it (IN-Tamil)."
    form = TasteClusterForm
    autocomplete_fields = ("languages",)
    prepopulated_fields = {"slug": ("name",)}
    inlines = (TasteClusterLocalizationInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[TasteCluster]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("languages", queryset=Language.objects.order_by("name")))
            .annotate(profile_count=count_subquery(Profile, "taste_cluster"))
        )

    def save_model(
        self, request: HttpRequest, obj: TasteCluster, form: TasteClusterForm, change: bool
    ) -> None:
        if change:
            data = {
                field: form.cleaned_data[field]
                for field in form.changed_data
                if field in TASTE_CLUSTER_UPDATABLE
            }
            taste_cluster_update(cluster=obj, data=data)
        else:
            made = taste_cluster_create(
                region=form.cleaned_data["region"],
                slug=form.cleaned_data["slug"],
                name=form.cleaned_data["name"],
                languages=form.cleaned_data.get("languages") or (),
                is_default=form.cleaned_data["is_default"],
            )
            # The page goes on with its own object (its log entry, its redirect, its
            # localised names' inline): it is the cluster made.
            obj.pk, obj.is_default = made.pk, made.is_default
            obj._state.adding, obj._state.db = False, made._state.db
        if form.first_of_region:
            self.message_user(request, _first_default_said(obj), messages.INFO)

    def save_related(
        self, request: HttpRequest, form: TasteClusterForm, formsets: Any, change: bool
    ) -> None:
        # The languages are the services' to write (save_model); the localised names'
        # inline is saved as Django saves it.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request: HttpRequest, obj: TasteCluster) -> None:
        taste_cluster_delete(cluster=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TasteCluster]) -> None:
        taste_clusters_delete(clusters=queryset)

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        # A region's default is not deleted while the region keeps other clusters
        # (regions.services refuses it, a server error here): listed as what protects the
        # deletion, the clusters it would leave without a default and what to do, so that
        # its delete page and "Delete selected" both refuse it in words.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        going = {cluster.pk for cluster in objs}
        regions = {cluster.region_id for cluster in objs if cluster.is_default}
        left = (
            TasteCluster.objects.filter(region_id__in=regions)
            .exclude(pk__in=going)
            .order_by("region", "slug")
        )
        for cluster in left:
            protected.append(
                f"Taste cluster: {cluster}, which would be left without its region's default. "
                "To delete the default, tick another cluster of the region as its default first "
                "(on the region's page, in the same save)."
            )
        return deleted, counts, perms_needed, protected

    def get_search_conditions(self, term: str) -> list[tuple[str, object]]:
        # Lists name a cluster "IN-Tamil" (its ``__str__``), which is no column: runs and
        # versions are found by it (``recommendations.admin.LabelledSearchMixin``), and
        # the clusters' own list, whose rows staff look it up in, did not find it.
        return [("pk__in", taste_cluster_ids_labelled(containing=term))]

    @admin.display(description="languages")
    def language_list(self, obj: TasteCluster) -> str:
        return ", ".join(language.name for language in obj.languages.all()) or "-"

    @admin.display(description="profiles", ordering="profile_count")
    def profile_count(self, obj: TasteCluster) -> int:
        return obj.profile_count
