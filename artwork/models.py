"""Artwork variants: the candidate thumbnails designers make for each title."""

from django.db import models
from django.db.models import Q

from catalog.models import MaturityLevel, Title

from .image_names import artwork_image_name
from .validators import validate_artwork_image


class DeviceClass(models.TextChoices):
    TV = "tv", "TV"
    MOBILE = "mobile", "Mobile"
    TABLET = "tablet", "Tablet"
    WEB = "web", "Web"


class ArtworkTheme(models.Model):
    """What a frame shows (action, romance, lead-face, moody); the bandit learns per theme."""

    slug = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


def artwork_upload_to(instance: "ArtworkVariant", filename: str) -> str:
    """The stored name of an upload: its content's digest (``artwork.image_names``)."""
    image = getattr(instance, "image", None)
    # Saving a model stores its uncommitted upload, whose bytes are the field's file. A
    # ``FieldFile.save(name, content)`` on a variant that has an image still holds the
    # old one's: that path gets a random name instead of the wrong digest.
    upload = image.file if image and not image._committed else None
    return artwork_image_name(title_id=instance.title_id, filename=filename, file=upload)


class ArtworkVariant(models.Model):
    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="artwork_variants")
    label = models.CharField(
        max_length=100, help_text="What designers call it, e.g. 'Rooftop chase'."
    )
    image = models.ImageField(
        upload_to=artwork_upload_to,
        validators=[validate_artwork_image],
        width_field="width",
        height_field="height",
    )
    width = models.PositiveIntegerField(editable=False, default=0)
    height = models.PositiveIntegerField(editable=False, default=0)
    themes = models.ManyToManyField(ArtworkTheme, related_name="variants", blank=True)
    for_tv = models.BooleanField("TV", default=True, db_index=True)
    for_mobile = models.BooleanField("mobile", default=True, db_index=True)
    for_tablet = models.BooleanField("tablet", default=True, db_index=True)
    for_web = models.BooleanField("web", default=True, db_index=True)
    # ``db_default``: the release still serving while ``migrate`` runs inserts variants too.
    renditions_made = models.BooleanField(
        default=False,
        db_default=False,
        editable=False,
        help_text="Whether every device class's smaller copy of the image is stored "
        "(artwork.renditions); until then every device class is sent the image itself.",
    )
    maturity = models.PositiveSmallIntegerField(
        choices=MaturityLevel.choices,
        default=MaturityLevel.ALL,
        db_index=True,
        help_text="The frame's own rating: a violent frame of a 13+ title can be rated higher.",
    )
    is_active = models.BooleanField(default=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Serving processes compare the newest of these to what they loaded, so a
    # deactivated frame leaves every web process's choices within a second.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["title", "created_at"]
        indexes = [models.Index(fields=["title", "is_active"], name="artwork_title_active")]
        constraints = [
            models.CheckConstraint(
                condition=Q(for_tv=True)
                | Q(for_mobile=True)
                | Q(for_tablet=True)
                | Q(for_web=True),
                name="artwork_has_a_device_class",
                violation_error_message="Pick at least one device class the artwork is meant for.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.title_id})"

    @property
    def device_classes(self) -> list[str]:
        return [d.value for d in DeviceClass if getattr(self, f"for_{d.value}")]


class ArtworkPolicy(models.Model):
    """One version of the artwork bandit's parameters; serving uses the newest.

    Every few minutes an update folds the impressions whose reward window has
    closed into the previous version and stores the result as a new row
    (``kind=incremental``); a full refit starts from the prior over the whole
    training window (``kind=full``). Parameters live in Django storage (an
    ``.npz`` written whole before the row exists), so web processes on other
    machines load the same file and never a half-written one.
    """

    class Kind(models.TextChoices):
        FULL = "full", "Full refit"
        INCREMENTAL = "incremental", "Incremental update"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    trained_since = models.DateTimeField(
        null=True, blank=True, help_text="Start of the page-log window this version has seen."
    )
    trained_through = models.DateTimeField(
        db_index=True,
        help_text="Pages generated before this moment are folded in (their reward window closed).",
    )
    n_impressions = models.PositiveBigIntegerField(default=0, help_text="Impressions seen in all.")
    n_new = models.PositiveBigIntegerField(default=0, help_text="Impressions this version added.")
    n_plays = models.PositiveBigIntegerField(default=0, help_text="Rewarded impressions in all.")
    artefact = models.CharField(max_length=255, help_text="Path of the parameters in storage.")
    seconds = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-pk"]
        verbose_name_plural = "artwork policies"

    def __str__(self) -> str:
        return f"artwork policy {self.pk} ({self.get_kind_display()})"


class ArtworkVariantDaily(models.Model):
    """Impressions and attributed plays of one variant on one device class on one day.

    Daily roll-ups let admin show take rates and traffic shares without reading
    the page log; updates add to them as reward windows close.
    """

    variant = models.ForeignKey(ArtworkVariant, on_delete=models.CASCADE, related_name="daily")
    device = models.CharField(max_length=8, choices=DeviceClass.choices)
    day = models.DateField()
    impressions = models.PositiveIntegerField(default=0)
    plays = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["variant", "device", "day"], name="artwork_daily_unique"
            ),
            models.CheckConstraint(
                condition=Q(plays__lte=models.F("impressions")),
                name="artwork_daily_plays_within_impressions",
            ),
        ]
        indexes = [models.Index(fields=["day"], name="artwork_daily_day")]
        verbose_name = "daily figures of an artwork variant"
        verbose_name_plural = "daily figures of artwork variants"

    def __str__(self) -> str:
        return f"{self.variant_id} {self.device} {self.day}"
