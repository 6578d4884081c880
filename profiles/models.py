"""Profiles: the people of a household, each with their own taste and limits."""

import unicodedata

from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.views.decorators.debug import sensitive_variables

from accounts.models import Account
from catalog.models import Language, MaturityLevel
from regions.models import TasteCluster

MAX_PROFILES_PER_ACCOUNT = 5
KIDS_MATURITY_CAP = MaturityLevel.SEVEN
#: A guardian (``profiles.unlock``) is itself unrestricted: a teen profile's PIN lifts nothing.
GUARDIAN_MATURITY_LIMIT = max(MaturityLevel.values)
PIN_LENGTH = 4
PIN_MESSAGE = f"The PIN must be exactly {PIN_LENGTH} digits."


class WholeMatchValidator(RegexValidator):
    """A pattern the whole value must match: ``search()`` with ``$`` takes "1234\\n" too.

    Still a ``RegexValidator``, so that the schema's ``pattern`` is this one's.
    """

    def __call__(self, value: object) -> None:
        if not self.regex.fullmatch(str(value)):
            raise ValidationError(self.message, code=self.code)


#: A PIN as typed, for the API and admin alike: ASCII digits only (``\d`` takes "١٢٣٤", which
#: a TV's keypad cannot type), and never trimmed (" 1234" is refused, not taken as 1234).
validate_pin = WholeMatchValidator(rf"^[0-9]{{{PIN_LENGTH}}}$", PIN_MESSAGE)
#: Also how the profile API tells a client that picked a taken name (its field, not "__all__").
NAME_TAKEN_MESSAGE = "This account already has a profile with that name."
NAME_CONTROL_MESSAGE = "Must not hold a control character, such as a line break or a tab."
NAME_BLANK_MESSAGE = "This field may not be blank."
NAME_MAX_LENGTH = 50
#: A name within the limit as typed that its composed form, as it is saved, is over.
NAME_COMPOSED_TOO_LONG_MESSAGE = (
    f"Ensure this value has at most {NAME_MAX_LENGTH} characters in Unicode's composed form "
    "(NFC), as names are saved: it has {composed}."
)


def validate_profile_name(value: str) -> None:
    """A name a profile picker can draw on one line, with something on it to tap.

    The blank test (``\\S``) asks for one character that is not a blank, so it took
    "Pri\\nya", a tab or a terminal's escape inside a name, and a name of zero-width
    spaces or joiners alone, which Python does not count as blanks but a picker shows as
    nothing. Format characters within visible text stay (a joiner shapes a Devanagari
    conjunct or joins an emoji family), and so do combining marks. For the API (after it
    trims the blanks around a name) and admin alike.
    """
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValidationError(NAME_CONTROL_MESSAGE, code="control_character")
    if all(char.isspace() or unicodedata.category(char) == "Cf" for char in value):
        raise ValidationError(NAME_BLANK_MESSAGE, code="blank")
    # A few letters are longer composed than as typed (U+0958, "क़", is "क" and a nukta in
    # NFC): within the limit as sent, the name saved was over it, and the API's 400 said
    # "it has 55" of the 50 sent, admin's only above the form, naming no field.
    composed = len(unicodedata.normalize("NFC", value))
    if len(value) <= NAME_MAX_LENGTH < composed:
        raise ValidationError(
            NAME_COMPOSED_TOO_LONG_MESSAGE.format(composed=composed), code="max_length"
        )


class Profile(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="profiles")
    slot = models.PositiveSmallIntegerField(
        editable=False,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_PROFILES_PER_ACCOUNT)],
        help_text=(
            "Position 1-5 on the account. Unique per account and bounded, so the database itself "
            "refuses a sixth profile even when two requests race for the fifth slot."
        ),
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH, validators=[validate_profile_name])
    is_kids = models.BooleanField(default=False, db_index=True)
    maturity_limit = models.PositiveSmallIntegerField(
        choices=MaturityLevel.choices, default=MaturityLevel.EIGHTEEN
    )
    preferred_languages = models.ManyToManyField(Language, related_name="+", blank=True)
    display_language = models.ForeignKey(
        Language, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    pin_hash = models.CharField(max_length=128, blank=True, default="", editable=False)
    unlock_generation = models.IntegerField(
        default=0,
        # In the database too: the release still serving while ``migrate`` runs inserts
        # profiles without naming the column.
        db_default=0,
        editable=False,
        help_text=(
            "Counts the times the profile was locked again: an unlock token names the count it "
            "was issued under, so raising it ends every outstanding one (profiles.unlock)."
        ),
    )
    taste_cluster = models.ForeignKey(
        TasteCluster,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="profiles",
        help_text="Recomputed at each retrain from the profile's viewing and languages.",
    )
    external_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "slot"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "slot"],
                name="profile_account_slot_unique",
                violation_error_message=(
                    f"An account can have at most {MAX_PROFILES_PER_ACCOUNT} profiles."
                ),
            ),
            models.CheckConstraint(
                condition=Q(slot__gte=1) & Q(slot__lte=MAX_PROFILES_PER_ACCOUNT),
                name="profile_slot_within_limit",
                violation_error_message=(
                    f"An account can have at most {MAX_PROFILES_PER_ACCOUNT} profiles."
                ),
            ),
            models.UniqueConstraint(
                Lower("name"),
                "account",
                name="profile_name_unique_in_account",
                violation_error_message=NAME_TAKEN_MESSAGE,
            ),
            models.CheckConstraint(
                condition=Q(is_kids=False) | Q(maturity_limit__lte=KIDS_MATURITY_CAP),
                name="profile_kids_maturity_capped",
                violation_error_message=(
                    f"A kids profile's maturity limit is at most {KIDS_MATURITY_CAP.label}."
                ),
            ),
        ]

    #: What ``__str__`` calls the household instead of its name: admin sets it (an
    #: annotation) on the profiles it reads for staff who may not view households
    #: (``config.admin_households``).
    household_shown_as: str | None = None

    def __str__(self) -> str:
        return f"{self.name} ({self.household_shown_as or self.account})"

    def clean(self) -> None:
        if self.is_kids and self.maturity_limit > KIDS_MATURITY_CAP:
            raise ValidationError(
                {
                    "maturity_limit": (
                        f"A kids profile's maturity limit is at most {KIDS_MATURITY_CAP.label}."
                    )
                }
            )

    @property
    def has_pin(self) -> bool:
        return bool(self.pin_hash)

    @sensitive_variables("pin")
    def set_pin(self, pin: str | None) -> None:
        """Store a salted hash of the PIN (never the PIN); ``None`` or "" removes it."""
        if not pin:
            self.pin_hash = ""
            return
        # ASCII digits only: str.isdigit() takes "١٢٣٤", which a TV's keypad cannot type.
        if len(pin) != PIN_LENGTH or not (pin.isascii() and pin.isdigit()):
            raise ValidationError({"pin": PIN_MESSAGE})
        self.pin_hash = make_password(pin)

    @sensitive_variables("pin")
    def check_pin(self, pin: str) -> bool:
        return bool(self.pin_hash) and check_password(pin, self.pin_hash)
