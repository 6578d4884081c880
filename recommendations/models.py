"""Behavioural signals: the raw material every model learns from."""

from django.db import models

from artwork.models import ArtworkVariant, DeviceClass
from catalog.models import Episode, Title
from profiles.models import Profile


class SignalKind(models.TextChoices):
    """What a profile did. The meaning and the ``value`` unit of each kind:

    - impression: a title was shown (value: none); the bandit's and rankers' denominator.
    - hover: the cursor or focus rested on a title (value: milliseconds).
    - preview: an autoplay preview ran (value: seconds watched).
    - row_scroll_past: a whole row was scrolled past quickly (title empty, ``row`` set).
    - play_start: playback began from a recommendation (value: none).
    - search_play: playback began from search (intentional).
    - external_play: playback began from an outside link (intentional).
    - progress: playback checkpoint (value: percent of the title or episode, 0-100).
    - complete: the film or episode was finished (value: none).
    - thumbs_up / thumbs_down: explicit rating (value: none).
    """

    IMPRESSION = "impression", "Impression"
    HOVER = "hover", "Hover"
    PREVIEW = "preview", "Preview"
    ROW_SCROLL_PAST = "row_scroll_past", "Row scrolled past"
    PLAY_START = "play_start", "Play start"
    SEARCH_PLAY = "search_play", "Play from search"
    EXTERNAL_PLAY = "external_play", "Play from external link"
    PROGRESS = "progress", "Progress"
    COMPLETE = "complete", "Complete"
    THUMBS_UP = "thumbs_up", "Thumbs up"
    THUMBS_DOWN = "thumbs_down", "Thumbs down"


class Signal(models.Model):
    """One thing one profile did, as the client reported it.

    Recorded per profile, never per account, so that a household's profiles do
    not contaminate each other. ``client_event_id`` is unique per profile: a
    retried batch stores nothing twice.
    """

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="signals")
    title = models.ForeignKey(
        Title, on_delete=models.CASCADE, related_name="signals", null=True, blank=True
    )
    episode = models.ForeignKey(
        Episode, on_delete=models.SET_NULL, related_name="signals", null=True, blank=True
    )
    kind = models.CharField(max_length=16, choices=SignalKind.choices)
    value = models.FloatField(null=True, blank=True)
    device = models.CharField(max_length=8, choices=DeviceClass.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    client_event_id = models.UUIDField()
    page_id = models.UUIDField(null=True, blank=True)
    row = models.CharField(max_length=64, blank=True, default="")
    position = models.PositiveSmallIntegerField(null=True, blank=True)
    artwork_variant = models.ForeignKey(
        ArtworkVariant, on_delete=models.SET_NULL, related_name="signals", null=True, blank=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "client_event_id"], name="signal_event_unique_per_profile"
            ),
        ]
        indexes = [
            models.Index(fields=["profile", "occurred_at"], name="signal_profile_time"),
            models.Index(fields=["title", "occurred_at"], name="signal_title_time"),
            models.Index(fields=["occurred_at"], name="signal_time"),
            models.Index(
                fields=["page_id"], name="signal_page", condition=models.Q(page_id__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.title_id} by {self.profile_id}"
