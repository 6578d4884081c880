"""Artwork admin: designers' variants, shown as thumbnails so staff judge them by eye."""

from django.contrib import admin, messages
from django.db import models
from django.db.models import F, Func, OuterRef, Prefetch, QuerySet, Subquery
from django.forms import ModelForm
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from config.admin_deletion import CountedDeletionAdminMixin
from config.admin_inlines import (
    FixedOnceStoredMixin,
    InstanceRelationsForm,
    QueryOncePerInlineMixin,
)
from config.admin_lists import IndexedSearchAdminMixin, SemiJoinAdminMixin, count_subquery
from recommendations.admin import ExactKeySearchMixin, LargeTableAdminMixin

from .charts import take_rate_chart
from .models import ArtworkPolicy, ArtworkTheme, ArtworkVariant, ArtworkVariantDaily, DeviceClass
from .renditions import WIDTHS
from .selectors import SHARE_DAYS, artwork_variant_stats, variant_image_urls
from .services import (
    artwork_variant_renditions_make,
    artwork_variants_delete,
    artwork_variants_set_active,
)
from .validators import ArtworkImageFormField

THUMBNAIL_WIDTH = 96
#: The stylesheet of :func:`artwork_thumbnail`'s images, for the admins that show them.
THUMBNAIL_CSS = {"all": ["artwork/admin.css"]}
PREVIEW_WIDTH = 480
# The upload's form field says why an image is refused, even one Pillow will not open.
IMAGE_FIELD = {models.ImageField: {"form_class": ArtworkImageFormField}}


def artwork_thumbnail(variant: ArtworkVariant, width: int = THUMBNAIL_WIDTH) -> SafeString | str:
    """An ``<img>`` of the variant, scaled down by the browser and loaded lazily.

    Width and height attributes are both given (from the stored dimensions) so a
    page of thumbnails does not reflow as images arrive. Its look is in
    :data:`THUMBNAIL_CSS`, which each admin showing one loads: the
    Content-Security-Policy refuses a style attribute.
    """
    if not variant.image:
        return "-"
    height = round(width * variant.height / variant.width) if variant.width else width * 9 // 16
    return format_html(
        '<img src="{}" alt="{}" width="{}" height="{}" loading="lazy" decoding="async" '
        'class="artwork-thumbnail">',
        _thumbnail_url(variant, width),
        variant.label,
        width,
        height,
    )


def _thumbnail_url(variant: ArtworkVariant, width: int) -> str:
    """The narrowest copy per device class still sharp at ``width`` on a 2x screen, else
    the upload: a list of 100 variants downloaded 100 uploads of up to 5 MiB each."""
    urls = variant_image_urls(variant=variant)
    for device, bound in sorted(WIDTHS.items(), key=lambda item: item[1]):
        if bound >= 2 * width:
            return urls[device]
    return variant.image.url


#: What makes a variant the frame its history is about: fixed once it is stored.
FIXED_ONCE_STORED = ("title", "image")
FIXED_HELP = "Fixed once stored: for another picture, add a variant and deactivate this one."


class ArtworkVariantForm(FixedOnceStoredMixin, InstanceRelationsForm):
    """A variant's form: its title and picture can be chosen only when it is added.

    The page log names a variant by id; its logged impressions, its own term in
    the bandit and its daily take rates are all about one picture of one title.
    A picture replaced in place inherited the old one's record, even after a full
    refit (the logs cannot tell which picture a page showed), and its old file
    stayed at its URL. Another picture is another variant: add it, and deactivate
    this one.
    """

    fixed_once_stored = dict.fromkeys(FIXED_ONCE_STORED, FIXED_HELP)


def _themes_prefetch() -> Prefetch:
    return Prefetch("themes", queryset=ArtworkTheme.objects.order_by("slug"))


class ArtworkVariantInlineFormSet(BaseInlineFormSet):
    """A variant ticked for deletion on its title's page goes through the service; one
    added there gets its copies per device class, as on its own page."""

    def save_new(self, form: ModelForm, commit: bool = True) -> ArtworkVariant:
        variant = super().save_new(form, commit=commit)
        if commit:
            artwork_variant_renditions_make(variant=variant)
        return variant

    def delete_existing(self, obj: ArtworkVariant, commit: bool = True) -> None:
        if commit:
            artwork_variants_delete(variants=ArtworkVariant.objects.filter(pk=obj.pk))


class ArtworkVariantInline(QueryOncePerInlineMixin, admin.TabularInline):
    """A title's variants on the title's page (see ``catalog.admin.TitleAdmin``)."""

    model = ArtworkVariant
    form = ArtworkVariantForm
    formset = ArtworkVariantInlineFormSet
    fields = (
        "thumbnail",
        "label",
        "image",
        "themes",
        "for_tv",
        "for_mobile",
        "for_tablet",
        "for_web",
        "maturity",
        "is_active",
    )
    readonly_fields = ("thumbnail",)

    class Media:
        css = THUMBNAIL_CSS

    autocomplete_fields = ("themes",)
    formfield_overrides = IMAGE_FIELD
    show_change_link = True
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[ArtworkVariant]:
        return super().get_queryset(request).prefetch_related(_themes_prefetch())

    @admin.display(description="preview")
    def thumbnail(self, obj: ArtworkVariant) -> SafeString | str:
        return artwork_thumbnail(obj)


@admin.register(ArtworkTheme)
class ArtworkThemeAdmin(IndexedSearchAdminMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "variant_count")
    search_fields = ("name", "slug")
    list_filter = ()  # a dozen rows
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[ArtworkTheme]:
        # A correlated count: Count() over the join grouped every variant's themes, for
        # the page and again for its count (0.1 s at 13,500 variants, every view).
        count = count_subquery(ArtworkVariant.themes.through, "artworktheme")
        return super().get_queryset(request).annotate(variant_count=count)

    @admin.display(description="variants", ordering="variant_count")
    def variant_count(self, obj: ArtworkTheme) -> int:
        return obj.variant_count


def _daily_total(column: str) -> Subquery:
    """A variant's daily figures summed, per row: a subquery, not a join and GROUP BY.

    Grouped over the join, every variant's daily rows (one per device class and
    day) were summed before a page kept a hundred of them, and the count grouped
    them all again: 0.3 s at the bench's 67,000 variants with no daily rows yet.
    A subquery runs for the page's rows only (through the daily table's
    unique (variant, device, day) index); the column does not sort, which would
    run it for every variant.
    """
    # SUM as a plain function: Django would otherwise group the subquery by the variant.
    return Subquery(
        ArtworkVariantDaily.objects.filter(variant=OuterRef("pk"))
        .order_by()
        .annotate(total=Func(F(column), function="SUM"))
        .values("total")[:1],
        output_field=models.BigIntegerField(),
    )


@admin.register(ArtworkVariant)
class ArtworkVariantAdmin(
    CountedDeletionAdminMixin, IndexedSearchAdminMixin, SemiJoinAdminMixin, admin.ModelAdmin
):
    list_display = (
        "thumbnail",
        "label",
        "title",
        "theme_list",
        "devices",
        "maturity",
        "is_active",
        "dimensions",
        "impressions",
        "take_rate",
        "created_at",
    )
    list_display_links = ("thumbnail", "label")
    list_select_related = ("title",)
    list_filter = (
        "is_active",
        "themes",
        "for_tv",
        "for_mobile",
        "for_tablet",
        "for_web",
        "maturity",
        "renditions_made",
    )
    # The title's names as the title list searches them: staff know a title by its name in
    # their language. Each field is matched on its own table, so a title with two matching
    # names lists its frames once, without DISTINCT over the summed figures.
    search_fields = ("label", "title__original_name", "title__localizations__name")
    search_help_text = "The frame's label, or its title's original or localised name."
    date_hierarchy = "created_at"
    autocomplete_fields = ("title", "themes")
    form = ArtworkVariantForm
    formfield_overrides = IMAGE_FIELD
    readonly_fields = (
        "preview",
        "width",
        "height",
        "renditions_made",
        "created_at",
        "performance",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "title",
                    "label",
                    "image",
                    "preview",
                    ("width", "height", "renditions_made"),
                )
            },
        ),
        ("How it does, per device class", {"fields": ("performance",)}),
        (
            "Where it may be shown",
            {
                "fields": (
                    "themes",
                    ("for_tv", "for_mobile", "for_tablet", "for_web"),
                    "maturity",
                    "is_active",
                    "created_at",
                )
            },
        ),
    )
    actions = ("activate", "deactivate")

    class Media:
        css = THUMBNAIL_CSS

    def get_queryset(self, request: HttpRequest) -> QuerySet[ArtworkVariant]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related(_themes_prefetch())
            .annotate(shown=_daily_total("impressions"), taken=_daily_total("plays"))
        )

    # Not sortable: sorted, the list summed every variant's roll-ups of every day before
    # keeping a hundred (0.7 s at 1.6 million rows, and more each day). The console's
    # artwork page lists the most shown variants from the last days' roll-ups.
    @admin.display(description="impressions")
    def impressions(self, obj: ArtworkVariant) -> int:
        return obj.shown or 0

    @admin.display(description="take rate")
    def take_rate(self, obj: ArtworkVariant) -> str:
        return f"{obj.taken / obj.shown:.1%}" if obj.shown else "-"

    @admin.display(description="impressions, attributed plays and take rate")
    def performance(self, obj: ArtworkVariant) -> SafeString | str:
        """Per device class: the figures with a 95% interval, the observed share, and a chart."""
        if obj.pk is None:
            return "-"
        stats = artwork_variant_stats(variant=obj)
        if not any(s.impressions for s in stats):
            return "Not shown yet: figures appear once pages showing it have closed their session."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    DeviceClass(s.device).label,
                    s.impressions,
                    s.plays,
                    f"{s.take_rate:.2%}" if s.take_rate is not None else "-",
                    f"{s.low:.2%} - {s.high:.2%}" if s.low is not None else "-",
                    f"{s.share:.0%}" if s.share is not None else "-",
                )
                for s in stats
            ),
        )
        return format_html(
            "<table><thead><tr><th>device</th><th>impressions</th><th>attributed plays</th>"
            "<th>take rate</th><th>95% interval</th>"
            "<th>share of its title's impressions, last {} days</th></tr>"
            "</thead><tbody>{}</tbody></table>{}",
            SHARE_DAYS,
            rows,
            take_rate_chart(stats),
        )

    @admin.display(description="image")
    def thumbnail(self, obj: ArtworkVariant) -> SafeString | str:
        return artwork_thumbnail(obj)

    @admin.display(description="preview")
    def preview(self, obj: ArtworkVariant) -> SafeString | str:
        return artwork_thumbnail(obj, width=PREVIEW_WIDTH)

    @admin.display(description="themes")
    def theme_list(self, obj: ArtworkVariant) -> str:
        return ", ".join(theme.name for theme in obj.themes.all()) or "-"

    @admin.display(description="devices")
    def devices(self, obj: ArtworkVariant) -> str:
        return ", ".join(DeviceClass(d).label for d in obj.device_classes)

    @admin.display(description="size")
    def dimensions(self, obj: ArtworkVariant) -> str:
        return f"{obj.width} x {obj.height}"

    def save_model(
        self, request: HttpRequest, obj: ArtworkVariant, form: ModelForm, change: bool
    ) -> None:
        """A new upload gets its copies per device class in the same transaction, so
        serving reads the variant with them from the start (a few hundred milliseconds
        for a 4096-wide image)."""
        super().save_model(request, obj, form, change)
        if not change or "image" in form.changed_data:
            artwork_variant_renditions_make(variant=obj)

    # Both deletions lock the variants before deleting their daily figures, as a policy
    # update writing figures meanwhile otherwise failed the deletion's commit.
    def delete_model(self, request: HttpRequest, obj: ArtworkVariant) -> None:
        artwork_variants_delete(variants=ArtworkVariant.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ArtworkVariant]) -> None:
        artwork_variants_delete(variants=queryset)

    @admin.action(description="Activate selected variants", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[ArtworkVariant]) -> None:
        self._set_active(request, queryset, active=True)

    @admin.action(description="Deactivate selected variants", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[ArtworkVariant]) -> None:
        self._set_active(request, queryset, active=False)

    def _set_active(
        self, request: HttpRequest, queryset: QuerySet[ArtworkVariant], *, active: bool
    ) -> None:
        changed = artwork_variants_set_active(variants=queryset, active=active)
        state = "activated" if active else "deactivated"
        self.message_user(request, f"{changed} variant(s) {state}.", messages.SUCCESS)


@admin.register(ArtworkPolicy)
class ArtworkPolicyAdmin(admin.ModelAdmin):
    """The policy's versions: what each update folded in. Written by updates only."""

    list_display = (
        "pk",
        "created_at",
        "kind",
        "trained_through",
        "n_impressions",
        "n_new",
        "n_plays",
        "take_rate",
        "seconds",
    )
    list_filter = ("kind",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Updates prune old versions themselves (ARTWORK_POLICIES_KEPT). Deleting the newest
        # in admin (a "roll back") made the next update fold its pages again from the older
        # watermark, adding them to the daily figures a second time, and left its file.
        return False

    @admin.display(description="take rate seen")
    def take_rate(self, obj: ArtworkPolicy) -> str:
        return f"{obj.n_plays / obj.n_impressions:.2%}" if obj.n_impressions else "-"


@admin.register(ArtworkVariantDaily)
class ArtworkVariantDailyAdmin(LargeTableAdminMixin, ExactKeySearchMixin, admin.ModelAdmin):
    """The daily roll-ups behind the take rates; written by policy updates only.

    A row per variant, device class and day: millions, like the signals, so the
    list is bounded the same way. Stock, it counted every row twice and listed the
    distinct months of every row for its date bar (1.2 s at 1.6 million rows), and
    its search by label joined every row to its variant.
    """

    list_display = ("day", "variant", "device", "impressions", "plays")
    list_select_related = ("variant",)
    list_filter = ("device",)
    date_hierarchy = "day"
    # Newest stored first, off the primary key: updates add each day's rows as it closes.
    ordering = ("-pk",)
    sortable_by = ()
    search_fields = ("=variant__id",)  # draws the search box; ExactKeySearchMixin matches
    search_help_text = "variant:<id> or title:<id>."
    key_lookups = {"variant": "variant_id", "title": "variant__title_id"}
    raw_id_fields = ("variant",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
