"""Regions, what is available in them, and their taste clusters."""

import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models, router, transaction
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


def region_lock(*, region_code: str, using: str) -> None:
    """Hold the region's row until the transaction ends, before its default cluster is read
    to be moved, kept or left behind (``TasteCluster.save``, ``regions.receivers``).

    Each of those reads the region's clusters and writes by what it read: unserialised, a
    cluster ticked while another was deleted or added left the region without a default,
    or with two (the constraint's refusal, a server error). ``FOR NO KEY UPDATE``: rows
    that point at the region (accounts, windows) are written meanwhile.
    """
    list(
        Region._default_manager.using(using)
        .select_for_update(no_key=True)
        .filter(pk=region_code)
        .values_list("pk")
    )


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
#: other clusters (``TasteCluster.save``, ``regions.receivers``, admin's pages).
DEFAULT_CLUSTER_KEPT = (
    "A region that has taste clusters has one default, which holds everybody no keyed "
    "community holds: it is not unticked, nor deleted while the region has other clusters. "
    "To move it, tick another cluster of the region as its default (which unticks this one)."
)


class TasteClusterQuerySet(models.QuerySet["TasteCluster"]):
    def delete(self) -> tuple[int, dict[str, int]]:
        """Delete in a savepoint of the caller's transaction (see ``TasteCluster.delete``)."""
        with transaction.atomic(using=self.db):
            return super().delete()

    delete.alters_data = True
    delete.queryset_only = True


class TasteCluster(models.Model):
    """A viewing community within a region, keyed by languages (IN-Tamil, IN-Hindi).

    Each region that has clusters has exactly one default, which holds everybody whose
    viewing points to no keyed community. With none, the assignment put them in the
    region's alphabetically first cluster (``recommendations.services.clusters``): a
    region's first cluster is made its default, ticking another cluster moves the default to
    it, the default is not unticked, and it is not deleted while the region keeps other
    clusters (``regions.receivers``), each under the region's lock. A region left
    without one by a write that bypasses these (``QuerySet.update()``, a data migration) is
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

    objects = TasteClusterQuerySet.as_manager()

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

    def save(self, **kwargs: Any) -> None:
        """Refuse to move a cluster that exists to another region, or to untick its region's
        default, wherever the ORM writes it; ticked, move the region's default to it.

        Its profiles are households of its region, placed by that region's retrains, and
        its versions and runs were trained on that region's signals. Moved (its admin page
        offered the region), its profiles were served another region's community model
        and logged under it, that region's retrains counted a cluster none of their
        profiles was in, and its versions named one region and served in another. A
        community of another region is a new cluster there.

        The default holds everybody no keyed community holds (``DEFAULT_CLUSTER_KEPT``):
        unticked in the shell or a script, its region had none, and the alphabetically first
        cluster caught everyone. It moves in one write instead: a cluster saved ticked
        unticks the region's former default first, in the same transaction, with the
        region's row locked so that two clusters ticked at once move it in turn.

        Only a tick the caller set moves the default or is refused: a new cluster's, or one
        that differs from the tick this object last read or wrote. A save that leaves the
        tick alone writes the one the database has, read under the region's lock: an object
        loaded before the default moved away from it (or to it) and saved to rename it took
        the default back, the last writer winning, or was refused as an untick. The object
        then holds the database's tick.

        One read and the region's lock when the tick is written (a full save), one read when
        only the region is: clusters are saved rarely, by staff. ``QuerySet.update()``
        bypasses this, as it does every ``save()``.
        """
        written = saved_field_names(self, kwargs)
        region_written = "region" in written
        default_written = "is_default" in written
        if not (region_written or default_written):
            super().save(**kwargs)
            return
        using = kwargs.get("using") or router.db_for_write(TasteCluster, instance=self)
        clusters = TasteCluster._default_manager.using(using)
        with transaction.atomic(using=using):
            if default_written:
                # The region's row first: two clusters ticked at once each unticked the
                # default their statement saw, then the later one's tick met the earlier
                # one's and the constraint refused it (a server error). Serialised here, the
                # later save sees the earlier's default, unticks it and wins. No key lock:
                # rows that point at the region (accounts, windows) are written meanwhile.
                region_lock(region_code=self.region_id, using=using)
            stored = None
            if self.pk is not None:
                stored = clusters.filter(pk=self.pk).values_list("region_id", "is_default").first()
            if stored is not None and region_written and stored[0] != self.region_id:
                raise ValidationError(
                    {
                        "region": (
                            "A taste cluster's region cannot be changed: its profiles, model "
                            "versions and training runs belong to its region. Add a cluster in "
                            "the other region instead."
                        )
                    }
                )
            if default_written:
                self.is_default = self._is_default_to_write(
                    clusters, stored_default=None if stored is None else stored[1]
                )
            super().save(**kwargs)
        if default_written:
            self._is_default_remember()

    def _is_default_to_write(
        self, clusters: models.QuerySet["TasteCluster"], *, stored_default: bool | None
    ) -> bool:
        """The tick to write, the region's row locked; a tick the caller set unticks the
        region's former default first. ``stored_default`` is None for a cluster not stored."""
        if stored_default is not None:
            since = getattr(self, "_is_default_stored", stored_default)
            if self.is_default == since:
                return stored_default
            if not self.is_default:
                if stored_default:
                    raise ValidationError({"is_default": DEFAULT_CLUSTER_KEPT})
                return False
        if self.is_default:
            clusters.filter(region_id=self.region_id, is_default=True).exclude(pk=self.pk).update(
                is_default=False
            )
            return True
        # A region's first cluster: with none ticked, the invariant did not hold until staff
        # ticked one (and W008 named the region meanwhile). A region that has clusters and
        # no default, left so by a write that bypassed this, is left to staff.
        return not clusters.filter(region_id=self.region_id).exists()

    def delete(self, using: str | None = None, keep_parents: bool = False) -> tuple[int, dict]:
        """Delete in a savepoint of the caller's transaction.

        ``regions.receivers`` refuses a region's default while the region keeps other
        clusters, raising inside Django's deletion, whose transaction has no savepoint:
        a caller that caught the refusal in its own transaction (a script, a view) could
        run no further query in it. The savepoint takes the refusal back alone. A
        queryset's ``delete()`` does the same (``TasteClusterQuerySet``).
        """
        alias = using or router.db_for_write(TasteCluster, instance=self)
        with transaction.atomic(using=alias):
            return super().delete(using=using, keep_parents=keep_parents)

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> "TasteCluster":
        cluster = super().from_db(db, field_names, values)
        cluster._is_default_remember()
        return cluster

    def refresh_from_db(
        self, using: str | None = None, fields: Any = None, from_queryset: Any = None
    ) -> None:
        if fields is not None:
            fields = list(fields)
        refreshed = (
            "is_default" in fields
            if fields is not None
            else "is_default" not in self.get_deferred_fields()
        )
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        if refreshed:
            self._is_default_remember()

    def _is_default_remember(self) -> None:
        """Keep the tick as this object last read or wrote it: ``save`` moves the default
        only when the caller changed it since (Django tracks no field's changes)."""
        if "is_default" in self.__dict__:
            self._is_default_stored: bool = self.is_default

    def clean(self) -> None:
        """Refuse a slug that another cluster of the region has in other letters' case.

        Retrains, the ``retrain`` command and the staff API name a cluster by its slug
        whatever its case (``--cluster Tamil``), so ``tamil`` and ``Tamil`` in one region
        named either of them: the lookup refuses such a name as ambiguous, and this keeps
        a second one from being made. The same slug exactly is the unique constraint's.
        """
        super().clean()
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
