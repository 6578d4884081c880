"""Catalogue admin: where staff describe, localise, credit and schedule titles all day.

Every changelist issues a fixed number of queries whatever the page holds:
foreign keys shown in a column are joined (``list_select_related``) and counts
are correlated subqueries, so a page of 100 titles costs what a page of 1 does.
"""

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from artwork.admin import ArtworkVariantInline
from artwork.models import ArtworkVariant
from artwork.services import artwork_variants_lock
from config.admin_deletion import CountedDeletionAdminMixin
from config.admin_inlines import (
    FixedOnceStoredMixin,
    InstanceRelationsForm,
    QueryOncePerInlineMixin,
)
from config.admin_lists import (
    IndexedSearchAdminMixin,
    OfferedChoicesFilter,
    SemiJoinAdminMixin,
    count_subquery,
)
from regions.admin import AvailabilityInline
from regions.models import Availability, Region

from .models import (
    EPISODE_SERIES_FIXED,
    SERIES_WITH_SEASONS_NOT_FILM,
    Credit,
    Episode,
    Genre,
    Language,
    Person,
    Season,
    Tag,
    Title,
    TitleLocalization,
)

# --- Small reference tables ---------------------------------------------------------


@admin.register(Language)
class LanguageAdmin(IndexedSearchAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "native_name", "title_count")
    search_fields = ("code", "name", "native_name")
    list_filter = ()  # a couple of hundred rows: search is the filter
    ordering = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Language]:
        return (
            super()
            .get_queryset(request)
            .annotate(title_count=count_subquery(Title, "original_language"))
        )

    @admin.display(description="titles (original language)", ordering="title_count")
    def title_count(self, obj: Language) -> int:
        return obj.title_count

    def get_readonly_fields(self, request: HttpRequest, obj: Language | None = None) -> tuple:
        # The code is the primary key and other tables point at it: fix it once created.
        return ("code",) if obj is not None else ()


class _TitleTaxonomyAdmin(IndexedSearchAdminMixin, admin.ModelAdmin):
    """Genres and tags: a slug, a name, and how many titles carry them."""

    list_display = ("name", "slug", "title_count")
    search_fields = ("name", "slug")
    list_filter = ()
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        through = self.model.titles.through  # its foreign key is named after the model
        count = count_subquery(through, self.model._meta.model_name)
        return super().get_queryset(request).annotate(title_count=count)

    @admin.display(description="titles", ordering="title_count")
    def title_count(self, obj: Genre | Tag) -> int:
        return obj.title_count


@admin.register(Genre)
class GenreAdmin(_TitleTaxonomyAdmin):
    pass


@admin.register(Tag)
class TagAdmin(_TitleTaxonomyAdmin):
    pass


# --- People and credits -------------------------------------------------------------


class PersonCreditInline(QueryOncePerInlineMixin, admin.TabularInline):
    model = Credit
    fk_name = "person"
    fields = ("title", "role", "character", "order")
    autocomplete_fields = ("title",)
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Credit]:
        # The title for the row's autocomplete, the person for its heading (str(credit)).
        return super().get_queryset(request).select_related("title", "person")


@admin.register(Person)
class PersonAdmin(IndexedSearchAdminMixin, SemiJoinAdminMixin, admin.ModelAdmin):
    list_display = ("name", "external_id", "credit_count")
    search_fields = ("name", "=external_id")
    search_help_text = "Name, or the exact external id."
    list_filter = ("credits__role",)
    inlines = (PersonCreditInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Person]:
        return super().get_queryset(request).annotate(credit_count=count_subquery(Credit, "person"))

    @admin.display(description="credits", ordering="credit_count")
    def credit_count(self, obj: Person) -> int:
        return obj.credit_count


@admin.register(Credit)
class CreditAdmin(IndexedSearchAdminMixin, admin.ModelAdmin):
    list_display = ("person", "role", "title", "character", "order")
    list_select_related = ("person", "title")
    search_fields = ("person__name", "title__original_name", "character")
    list_filter = ("role",)
    autocomplete_fields = ("title", "person")


# --- Titles ---------------------------------------------------------------------------


class SeasonInline(admin.TabularInline):
    """Seasons of a series; each links to its own page where its episodes are edited."""

    model = Season
    fields = ("number", "name", "release_date", "episode_count")
    readonly_fields = ("episode_count",)
    show_change_link = True
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Season]:
        # Each row's heading is the season's str(), which names its title.
        return (
            super()
            .get_queryset(request)
            .select_related("title")
            .annotate(episode_count=count_subquery(Episode, "season"))
        )

    @admin.display(description="episodes")
    def episode_count(self, obj: Season) -> int | str:
        return getattr(obj, "episode_count", "-")


class TitleLocalizationInline(QueryOncePerInlineMixin, admin.TabularInline):
    model = TitleLocalization
    verbose_name_plural = "localised names"
    fields = ("language", "name", "synopsis")
    autocomplete_fields = ("language",)
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[TitleLocalization]:
        return super().get_queryset(request).select_related("language")


class TitleCreditInline(QueryOncePerInlineMixin, admin.TabularInline):
    model = Credit
    fk_name = "title"
    fields = ("person", "role", "character", "order")
    autocomplete_fields = ("person",)
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Credit]:
        # The row's autocomplete and its heading (str(credit)) both show the person.
        return super().get_queryset(request).select_related("person")


class AvailableInRegionFilter(OfferedChoicesFilter):
    """ "What can viewers in India watch today?" is staff's most common catalogue question."""

    title = "available now in"
    parameter_name = "available_in"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(r.code, str(r)) for r in Region.objects.order_by("code")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Title]) -> QuerySet[Title]:
        region_code = self.choice()
        if not region_code:
            return queryset
        now = timezone.now()
        windows = (
            Availability.objects.filter(title=OuterRef("pk"), region_id=region_code)
            .exclude(starts_at__gt=now)
            .exclude(ends_at__lte=now)
        )
        return queryset.filter(Exists(windows))


class NotLocalisedInFilter(OfferedChoicesFilter):
    """Titles a language's viewers would read in another: no name in it, or no synopsis.

    Where a title has no localisation in a profile's display language, the API
    shows its original name and synopsis, often in another script; the title's
    page lists the names it has, and this lists, among the languages the homepage
    is translated into, the titles still to do. A title is not missing its own
    original language; one without any synopsis needs only a name.
    """

    title = "not localised in"
    parameter_name = "not_localised_in"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        codes = [code for code, _ in settings.LANGUAGES]
        return [(lang.code, lang.name) for lang in Language.objects.filter(code__in=codes)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Title]) -> QuerySet[Title]:
        code = self.choice()
        if not code:
            return queryset
        done = TitleLocalization.objects.filter(title=OuterRef("pk"), language_id=code).exclude(
            synopsis="", title__synopsis__gt=""
        )
        return queryset.exclude(original_language_id=code).exclude(Exists(done))


class TitleForm(InstanceRelationsForm):
    """A title's page, which keeps a series with seasons a series.

    A film's viewing history is read as one programme's, a series' as its episodes':
    made a film, a series with seasons resumed the episode a profile was halfway
    through as the film's own progress, and its seasons stayed listed. Its seasons go
    first (a title imported with the wrong kind has no history yet to lose). Said here on
    the field; ``Title.save`` refuses it wherever else the ORM writes a title.
    """

    def clean_kind(self) -> str:
        kind = self.cleaned_data["kind"]
        if (
            self.instance.pk is not None
            and kind == Title.Kind.FILM
            and self.instance.kind != Title.Kind.FILM
            and self.instance.seasons.exists()
        ):
            raise ValidationError(SERIES_WITH_SEASONS_NOT_FILM)
        return kind


@admin.register(Title)
class TitleAdmin(
    CountedDeletionAdminMixin, IndexedSearchAdminMixin, SemiJoinAdminMixin, admin.ModelAdmin
):
    list_display = (
        "original_name",
        "kind",
        "original_language",
        "release_year",
        "maturity",
        "critic_score",
        "is_original",
        "variant_count",
    )
    list_select_related = ("original_language",)
    list_filter = (
        "kind",
        "maturity",
        ("original_language", admin.RelatedOnlyFieldListFilter),
        "genres",
        "is_original",
        AvailableInRegionFilter,
        NotLocalisedInFilter,
    )
    search_fields = ("original_name", "localizations__name", "=external_id")
    search_help_text = (
        "Original or localised name, accents aside, or the exact external id. A search of "
        "one or two letters alone finds the names that begin with them."
    )
    short_terms_match_prefixes = True
    date_hierarchy = "release_date"
    autocomplete_fields = (
        "original_language",
        "audio_languages",
        "subtitle_languages",
        "genres",
        "tags",
    )
    readonly_fields = ("created_at",)
    form = TitleForm
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "original_name",
                    ("kind", "is_original"),
                    "original_language",
                    ("release_date", "runtime_minutes"),
                    ("maturity", "critic_score"),
                    "synopsis",
                )
            },
        ),
        ("Languages", {"fields": ("audio_languages", "subtitle_languages")}),
        ("Classification", {"fields": ("genres", "tags")}),
        ("Provenance", {"fields": ("external_id", "created_at"), "classes": ("collapse",)}),
    )
    # The windows inline needs no title_windows_lock: the title's own save (an UPDATE of
    # its row, before any inline) holds the lock the catalogue import waits on.
    inlines = (
        TitleLocalizationInline,
        TitleCreditInline,
        SeasonInline,
        AvailabilityInline,
        ArtworkVariantInline,
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Title]:
        return (
            super()
            .get_queryset(request)
            .annotate(variant_count=count_subquery(ArtworkVariant, "title"))
        )

    # A title's deletion takes its artwork variants and their daily figures with it: the
    # variants are locked first, as their own deletion locks them (artwork_variants_lock).
    def delete_model(self, request: HttpRequest, obj: Title) -> None:
        self.delete_queryset(request, Title.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Title]) -> None:
        with transaction.atomic():
            artwork_variants_lock(
                variants=ArtworkVariant.objects.filter(title__in=queryset.values("pk"))
            )
            queryset.delete()

    @admin.display(description="year", ordering="release_date")
    def release_year(self, obj: Title) -> int:
        return obj.release_date.year

    @admin.display(description="artwork", ordering="variant_count")
    def variant_count(self, obj: Title) -> int:
        return obj.variant_count


class EpisodeInline(admin.TabularInline):
    model = Episode
    fields = ("number", "name", "runtime_minutes")
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[Episode]:
        # Each row's heading is the episode's str(), which names its season: one query a
        # row without the join.
        return super().get_queryset(request).select_related("season")


#: Signals, title states (the episode a series resumes at, those finished) and the page
#: log name a series with its episodes. A season moved to another series took its
#: episodes' history with it in half: the first series' Continue Watching tile kept the
#: progress of an episode it no longer had and resumed none, the other's knew nothing of
#: it, and clients' events naming the pair they knew were refused at ingest.
SERIES_FIXED_HELP = (
    "Fixed once stored: its episodes' viewing history is about this series. For another "
    "series, add the season there."
)


class SeasonForm(FixedOnceStoredMixin, InstanceRelationsForm):
    """A season's page: its series is chosen when it is added, and fixed after (disabled, so
    that the series' constraint on season numbers is still checked; ``Season.save`` refuses
    a move wherever else the ORM writes one)."""

    fixed_once_stored = {"title": SERIES_FIXED_HELP}


class EpisodeForm(InstanceRelationsForm):
    """An episode's page: it moves between seasons of its own series only (see above; said
    here on the field, ``Episode.save`` refuses it wherever else the ORM writes one)."""

    def clean_season(self) -> Season:
        season = self.cleaned_data["season"]
        stored = self.instance.season if self.instance.pk is not None else None
        if stored is not None and season.title_id != stored.title_id:
            raise ValidationError(EPISODE_SERIES_FIXED)
        return season


@admin.register(Season)
class SeasonAdmin(IndexedSearchAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "title", "number", "name", "release_date", "episode_count")
    list_select_related = ("title",)
    list_filter = (("title__original_language", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("title__original_name", "name")
    autocomplete_fields = ("title",)
    form = SeasonForm
    inlines = (EpisodeInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Season]:
        # The title for str(season), which names it: the episode page's season autocomplete
        # lists seasons through this queryset (not the changelist's list_select_related),
        # and read each one's title in a query of its own.
        return (
            super()
            .get_queryset(request)
            .select_related("title")
            .annotate(episode_count=count_subquery(Episode, "season"))
        )

    @admin.display(description="episodes", ordering="episode_count")
    def episode_count(self, obj: Season) -> int:
        return obj.episode_count


@admin.register(Episode)
class EpisodeAdmin(IndexedSearchAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "series", "season_number", "number", "name", "runtime_minutes")
    list_select_related = ("season__title",)
    list_filter = (("season__title__original_language", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("name", "season__title__original_name")
    autocomplete_fields = ("season",)
    form = EpisodeForm

    @admin.display(description="series", ordering="season__title__original_name")
    def series(self, obj: Episode) -> str:
        return obj.season.title.original_name

    @admin.display(description="season", ordering="season__number")
    def season_number(self, obj: Episode) -> int:
        return obj.season.number


@admin.register(TitleLocalization)
class TitleLocalizationAdmin(IndexedSearchAdminMixin, admin.ModelAdmin):
    list_display = ("name", "language", "title")
    list_select_related = ("language", "title")
    list_filter = ("language",)
    search_fields = ("name", "title__original_name")
    search_help_text = (
        "Localised or original name, accents aside. A search of one or two letters alone "
        "finds the names that begin with them."
    )
    short_terms_match_prefixes = True
    autocomplete_fields = ("title", "language")
