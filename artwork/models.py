"""Artwork variants: the candidate thumbnails designers make for each title."""

from django.db import models
from django.db.models import Q

from catalog.models import MaturityLevel, Title

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
    return f"artwork/{instance.title_id}/{filename}"


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
    maturity = models.PositiveSmallIntegerField(
        choices=MaturityLevel.choices,
        default=MaturityLevel.ALL,
        db_index=True,
        help_text="The frame's own rating: a violent frame of a 13+ title can be rated higher.",
    )
    is_active = models.BooleanField(default=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

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
