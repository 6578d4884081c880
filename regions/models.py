"""Regions, what is available in them, and their taste clusters."""

import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

from catalog.models import Language, Title
from config.saved_fields import saved_field_names


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not an IANA time zone (e.g. 'Asia/Kolkata').")


class Region(models.Model):
    code = models.CharField(
        primary_key=True,
        max_length=2,
        validators=[RegexValidator(r"^[A-Z]{2}$", "Use an ISO 3166-1 alpha-2 code, e.g. 'IN'.")],
    )
    name = models.CharField(max_length=100)
    default_language = models.ForeignKey(Language, on_delete=models.PROTECT, related_name="+")
    time_zone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        help_text="IANA zone used for time of day and weekday on homepages.",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        # Admin searches match this label: regions.selectors.region_codes_labelled.
        return f"{self.name} ({self.code})"

    def save(self, **kwargs: Any) -> None:
        """Refuse a zone that is not an IANA name wherever the ORM writes one.

        Field validators run in admin's form only, and the database cannot check a zone
        name; a bad one written from the shell, a script or ``update_or_create`` broke
        every ``install_schedules`` (compose's ``migrate`` service, so nothing started)
        and the serving catalogue's load, every region's homepages with it. A write that
        leaves the zone alone does not check it. Bulk writes, ``QuerySet.update()`` and
        data migrations' historical models still bypass this: ``install_schedules`` skips
        such a region with a warning.
        """
        if "time_zone" in saved_field_names(self, kwargs):
            try:
                validate_time_zone(self.time_zone)
            except ValidationError as error:
                raise ValidationError({"time_zone": error.messages}) from None
        super().save(**kwargs)


class Availability(models.Model):
    """A licensing window: the title may be shown in the region between the two instants.

    Open ends mean "since forever" and "until further notice". A title can have
    several windows in one region (a licence that lapsed and was renewed).
    """

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="availabilities")
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="availabilities")
    starts_at = models.DateTimeField(null=True, blank=True, db_index=True)
    ends_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name_plural = "availabilities"
        ordering = ["region", "title", "starts_at"]
        indexes = [models.Index(fields=["region", "title"], name="availability_region_title")]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gt=F("starts_at")),
                name="availability_window_ordered",
                violation_error_message="The window must end after it starts.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.title_id} in {self.region_id}"


#: Why a region's default cluster is neither unticked nor deleted while the region keeps
#: other clusters (``regions.services``, ``TasteCluster.clean``, admin's pages).
#: Why a cluster's region is not changed once it exists (``regions.services``, ``clean``).
TASTE_CLUSTER_REGION_FIXED = (
    "A taste cluster's region cannot be changed: its profiles, model versions and training "
    "runs belong to its region. Add a cluster in the other region instead."
)
DEFAULT_CLUSTER_KEPT = (
    "A region that has taste clusters has one default, which holds everybody no keyed "
    "community holds: it is not unticked, nor deleted while the region has other clusters. "
    "To move it, tick another cluster of the region as its default (which unticks this one)."
)


class TasteCluster(models.Model):
    """A viewing community within a region, keyed by languages (IN-Tamil, IN-Hindi).

    Each region that has clusters has exactly one default, which holds everybody whose
    viewing points to no keyed community. With none, the assignment put them in the
    region's alphabetically first cluster (``recommendations.services.clusters``).

    Add, change, tick and delete clusters through ``regions.services``
    (``taste_cluster_create``, ``taste_cluster_update``, ``taste_cluster_default_set``,
    ``taste_clusters_delete``), which keep that default under the region's lock: a
    region's first cluster is made its default, ticking another moves the default to it,
    the default is not unticked, nor deleted while the region keeps other clusters, and a
    cluster's region is fixed once it exists. The database holds what it can whatever
    writes the row: one default per region at most (``cluster_one_default_per_region``).
    ``clean()`` refuses a move to another region, so that a form, or a script that calls
    ``full_clean()``, is refused in words. A bare ``save()``, ``delete()`` or
    ``QuerySet.update()`` checks none of the rest; a region it leaves without a default is
    named by ``migrate``'s warning ``tonight.W008``.
    """

    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="taste_clusters")
    slug = models.SlugField(max_length=64)
    name = models.CharField(
        max_length=100,
        help_text=(
            "In English. A cluster keyed by no language (or by several) is named on homepages "
            "by this name as it stands before 'viewers' ('Popular with Family viewers'), and "
            "in another display language by its localised name, else not at all."
        ),
    )
    languages = models.ManyToManyField(Language, related_name="taste_clusters", blank=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["region", "-is_default", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["region", "slug"], name="cluster_region_slug_unique"),
            models.UniqueConstraint(
                fields=["region"],
                condition=Q(is_default=True),
                name="cluster_one_default_per_region",
                violation_error_message="This region already has a default cluster.",
            ),
        ]

    def __str__(self) -> str:
        # Admin searches match this label: regions.selectors.taste_cluster_ids_labelled.
        return f"{self.region_id}-{self.name}"

    def clean(self) -> None:
        """Refuse a move to another region, and a slug that another cluster of the region has
        in other letters' case.

        The first is ``regions.services``' rule, said here for forms and ``full_clean()``,
        which call no service before the write (an untick of the default is not refused
        here: a region's page unticks it in the save that ticks another). Retrains, the ``retrain``
        command and the staff API name a cluster by its slug whatever its case (``--cluster
        Tamil``), so ``tamil`` and ``Tamil`` in one region named either of them: the lookup
        refuses such a name as ambiguous, and this keeps a second one from being made. The
        same slug exactly is the unique constraint's.
        """
        super().clean()
        if self.pk is not None and not self._state.adding:
            stored = TasteCluster.objects.filter(pk=self.pk).values_list("region_id", flat=True)
            region_code = stored.first()
            if region_code is not None and self.region_id and region_code != self.region_id:
                raise ValidationError({"region": TASTE_CLUSTER_REGION_FIXED})
        if not self.region_id or not self.slug:
            return
        clash = (
            TasteCluster.objects.filter(region_id=self.region_id, slug__iexact=self.slug)
            .exclude(slug=self.slug)
            .exclude(pk=self.pk)
            .values_list("slug", flat=True)
            .first()
        )
        if clash is not None:
            raise ValidationError(
                {
                    "slug": (
                        f"This region's cluster “{clash}” has this slug in other letters' "
                        "case: retrains and the staff API name a cluster by its slug whatever "
                        "its case, so each names one cluster."
                    )
                }
            )


class TasteClusterLocalization(models.Model):
    """A taste cluster's name in one language, for the homepage row that names its viewers.

    Only a cluster keyed by no single language is named by its name (one keyed by a
    language is named by the language, translated from the catalogues); an English name
    inside a Hindi sentence read worse than no name, so a display language with no
    localisation reads "Popular with viewers like you" instead.
    """

    cluster = models.ForeignKey(
        TasteCluster, on_delete=models.CASCADE, related_name="localizations"
    )
    language = models.ForeignKey(Language, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(
        max_length=100,
        help_text="As it stands where the language's row title puts it: before 'viewers'.",
    )

    class Meta:
        ordering = ["cluster", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "language"], name="cluster_localization_language_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} [{self.language_id}]"
