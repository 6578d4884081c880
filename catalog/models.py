"""The catalogue: titles and everything needed to describe, localise and rate them."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q, Subquery
from django.db.models.functions import Lower

from config.fields import ScriptSlugField
from config.saved_fields import saved_field_names

#: What a series, its seasons and its episodes refuse (their ``save()``, and admin's pages in
#: the same words). Signals, title states (the episode a series resumes at, those finished)
#: and the page log name a series with its episodes: a season moved to another series took
#: its episodes' history with it in half (the first series' Continue Watching tile kept the
#: progress of an episode it no longer had and resumed none, the other's knew nothing of it,
#: and clients' events naming the pair they knew were refused at ingest), and a series made
#: a film resumed the episode a profile was halfway through as the film's own progress.
SERIES_WITH_SEASONS_NOT_FILM = (
    "A series with seasons cannot become a film: its viewing history is about its episodes. "
    "Delete its seasons first, if they were never its own."
)
SEASON_SERIES_FIXED = (
    "A season's series cannot be changed: its episodes' viewing history is about this "
    "series. For another series, add the season there."
)
EPISODE_SERIES_FIXED = (
    "An episode moves only to a season of its own series: its viewing history is about this "
    "series. For another series, add the episode there."
)


class MaturityLevel(models.IntegerChoices):
    """One ordered scale for titles, artwork and profile limits.

    Regions print their own certificates (U/A 13+, TV-14, 12A); the catalogue
    stores where a title sits on this common scale so that "at most X" is one
    integer comparison on the request path.
    """

    ALL = 0, "All ages"
    SEVEN = 7, "7+"
    THIRTEEN = 13, "13+"
    SIXTEEN = 16, "16+"
    EIGHTEEN = 18, "18+"


class Language(models.Model):
    code = models.CharField(
        primary_key=True,
        max_length=3,
        validators=[
            RegexValidator(r"^[a-z]{2,3}$", "Use an ISO 639-1 code in lower case, e.g. 'ta'.")
        ],
        help_text="ISO 639-1 code, e.g. 'hi', 'ta'.",
    )
    name = models.CharField(max_length=64, help_text="English name, e.g. 'Tamil'.")
    native_name = models.CharField(max_length=64, help_text="Name in the language, e.g. 'தமிழ்'.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Genre(models.Model):
    # Unicode: an imported genre named only in another script ("드라마", "नाटक") is filed
    # under its own letters and signs (catalog.services.genre_slug), and admin must accept
    # that slug.
    slug = ScriptSlugField(max_length=64, unique=True)
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    """A free descriptor staff attach to titles (slow-burn, strong-female-lead, cricket)."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    name = models.CharField(max_length=200, db_index=True)
    external_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "people"
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~Q(external_id=""),
                name="person_external_id_unique",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Title(models.Model):
    class Kind(models.TextChoices):
        FILM = "film", "Film"
        SERIES = "series", "Series"

    kind = models.CharField(max_length=8, choices=Kind.choices, db_index=True)
    original_name = models.CharField(max_length=255, db_index=True)
    synopsis = models.TextField(blank=True, help_text="In the original language.")
    original_language = models.ForeignKey(
        Language, on_delete=models.PROTECT, related_name="original_titles"
    )
    audio_languages = models.ManyToManyField(Language, related_name="audio_titles", blank=True)
    subtitle_languages = models.ManyToManyField(
        Language, related_name="subtitle_titles", blank=True
    )
    release_date = models.DateField(db_index=True)
    runtime_minutes = models.PositiveSmallIntegerField(
        help_text="Film length, or the typical episode length of a series.",
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
    )
    maturity = models.PositiveSmallIntegerField(
        choices=MaturityLevel.choices,
        # Not "All ages": a title nobody has rated must not reach kids' profiles (the
        # catalogue import's rule too), so the admin's form offers 18+ until staff rate it.
        default=MaturityLevel.EIGHTEEN,
        db_index=True,
    )
    critic_score = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        db_index=True,
        validators=[MaxValueValidator(100)],
        help_text="0-100 aggregate of critics' reviews, when known.",
    )
    is_original = models.BooleanField(default=False, db_index=True)
    genres = models.ManyToManyField(Genre, related_name="titles", blank=True)
    tags = models.ManyToManyField(Tag, related_name="titles", blank=True)
    external_id = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="The title's id in the data set or partner feed it was imported from.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["original_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~Q(external_id=""),
                name="title_external_id_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.release_date.year})"

    def save(self, **kwargs: Any) -> None:
        """Refuse to make a stored series with seasons a film, wherever the ORM writes it.

        Its viewing history is about its episodes (``SERIES_WITH_SEASONS_NOT_FILM``);
        admin's title page says so on its kind, and a script, the shell or an API writing
        the row was refused nothing. Its seasons go first. One read, only when a stored
        title is saved as a film with its kind written. The catalogue import sets the kind
        only when it creates a title (``bulk_create``, as its updates are ``bulk_update``
        of names and dates), and ``QuerySet.update()`` bypasses this, as it does every
        ``save()``.
        """
        written = saved_field_names(self, kwargs)
        if (
            self.kind == Title.Kind.FILM
            and not self._state.adding
            and "kind" in written
            and Season.objects.filter(title_id=self.pk)
            .exclude(title__kind=Title.Kind.FILM)
            .exists()
        ):
            raise ValidationError({"kind": SERIES_WITH_SEASONS_NOT_FILM})
        super().save(**kwargs)


class Season(models.Model):
    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="seasons")
    number = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    name = models.CharField(max_length=255, blank=True)
    release_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["title", "number"]
        constraints = [
            models.UniqueConstraint(fields=["title", "number"], name="season_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.title.original_name} S{self.number}"

    def save(self, **kwargs: Any) -> None:
        """Refuse to move a stored season to another series, wherever the ORM writes it.

        Its episodes' viewing history is about its series (``SEASON_SERIES_FIXED``); the
        season's admin page shows the series disabled, and a script, the shell or an API
        moved it unrefused. One read, only when the series may be written.
        ``QuerySet.update()`` bypasses this, as it does every ``save()``.
        """
        written = saved_field_names(self, kwargs)
        if (
            not self._state.adding
            and "title" in written
            and Season.objects.filter(pk=self.pk).exclude(title_id=self.title_id).exists()
        ):
            raise ValidationError({"title": SEASON_SERIES_FIXED})
        super().save(**kwargs)


class Episode(models.Model):
    season = models.ForeignKey(Season, on_delete=models.CASCADE, related_name="episodes")
    number = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    name = models.CharField(max_length=255, blank=True)
    runtime_minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(600)]
    )

    class Meta:
        ordering = ["season", "number"]
        constraints = [
            models.UniqueConstraint(fields=["season", "number"], name="episode_number_unique")
        ]

    def __str__(self) -> str:
        return f"S{self.season.number}E{self.number} {self.name}".strip()

    def save(self, **kwargs: Any) -> None:
        """Refuse to move a stored episode to another series' season, wherever the ORM
        writes it.

        Its viewing history is about its series (``EPISODE_SERIES_FIXED``); between seasons
        of its own series it moves (an import that put it in the wrong season is corrected
        so). Admin's episode page refused the move, and a script, the shell or an API made
        it. One read, only when the season may be written. ``QuerySet.update()`` bypasses
        this, as it does every ``save()``.
        """
        written = saved_field_names(self, kwargs)
        if (
            not self._state.adding
            and "season" in written
            and Episode.objects.filter(pk=self.pk)
            .exclude(
                season__title_id=Subquery(
                    Season.objects.filter(pk=self.season_id).values("title_id")[:1]
                )
            )
            .exists()
        ):
            raise ValidationError({"season": EPISODE_SERIES_FIXED})
        super().save(**kwargs)


class Credit(models.Model):
    class Role(models.TextChoices):
        ACTOR = "actor", "Actor"
        DIRECTOR = "director", "Director"
        WRITER = "writer", "Writer"
        CREATOR = "creator", "Creator"

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="credits")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="credits")
    role = models.CharField(max_length=16, choices=Role.choices, db_index=True)
    character = models.CharField(max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(default=0, help_text="Billing order, 0 first.")

    class Meta:
        ordering = ["title", "role", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["title", "person", "role"], name="credit_title_person_role_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.person} — {self.get_role_display()}"


class TitleLocalization(models.Model):
    """A title's name and synopsis in one language; absent languages fall back to the original."""

    title = models.ForeignKey(Title, on_delete=models.CASCADE, related_name="localizations")
    language = models.ForeignKey(Language, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=255)
    synopsis = models.TextField(blank=True)

    class Meta:
        ordering = ["title", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["title", "language"], name="localization_title_language_unique"
            )
        ]
        indexes = [models.Index(Lower("name"), name="localization_name_lower")]

    def __str__(self) -> str:
        return f"{self.name} [{self.language_id}]"


class CatalogueRevision(models.Model):
    """A counter raised after every committed change to what serving filters titles by.

    Serving processes keep the catalogue's facts (maturity, availability
    windows, episodes, time zones) in memory and re-read them on a timer of
    minutes, because reading them costs hundreds of milliseconds. A title
    re-rated above a kids profile's limit, or a licence ended early, must not
    wait for that timer: each process reads this one row with its check for
    newly activated model versions (every few seconds) and re-reads the facts
    when the number moved. One row, so the check is a primary-key lookup.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    revision = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="catalogue_revision_single_row")
        ]

    def __str__(self) -> str:
        return f"catalogue revision {self.revision}"
