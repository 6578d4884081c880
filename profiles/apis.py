"""The "who's watching?" endpoints: a household's profiles, for its own token only."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account
from accounts.selectors import account_for_request
from catalog.models import MaturityLevel
from catalog.serializers import LanguageCodeField
from config.api.pagination import LimitOffsetPagination
from config.api.schema import ErrorSerializer
from config.api.strict import (
    KnownFieldsOnly,
    NoQueryOnWrites,
    body_unread_check,
    choice_errors,
    query_parameters_check,
)
from config.api.throttling import HOUSEHOLD_READS

from .models import Profile, validate_pin, validate_profile_name
from .selectors import profile_for_request, profile_get, profile_list
from .services import (
    LIMIT_MESSAGE,
    profile_change_locked,
    profile_create,
    profile_create_locked,
    profile_delete,
    profile_unlocks_end,
    profile_update,
)
from .unlock import (
    UNLOCK_HEADER,
    profile_change_check,
    profile_create_check,
    profile_unlock,
)

UNLOCK_PARAMETER = OpenApiParameter(
    UNLOCK_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Unlock token of the profile, or of a guardian (see the operation).",
)
GUARDIAN_RULE = (
    "A guardian is an unrestricted profile of the account (not kids, 18+) that has a PIN. "
    "When the household has one, its unlock token is needed to add a profile other than a "
    "kids profile for all ages (`maturity_limit` 0; a kids profile's default is 7), or to "
    "lift a restriction of another profile (turn kids off, raise the "
    "maturity limit, give an adult profile a PIN and so make it a guardian); a kids or teen "
    "profile's own unlock never lifts its own limits (403 "
    "`guardian_unlock_required`). A guardian's unlock also opens any PIN-protected profile "
    "that is not a guardian, to change or delete it. A household without a guardian has no "
    "credential that tells a parent's device from a child's, so these changes are open to any "
    "of its devices."
)


#: What a client reads on a profile's fields, the same in the body it sends and the one it reads.
PROFILE_NAME_HELP = "Shown on the profile picker; unique within the account."
PROFILE_IS_KIDS_HELP = "A kids' profile: its maturity limit is at most 7."
PROFILE_MATURITY_HELP = (
    "The highest maturity of the titles and artwork it is shown: 0 (all ages), 7, 13, 16 or 18."
)
NAME_TRIMMED_HELP = (
    "Blanks around it are dropped: ' Asha ' is saved as 'Asha'. It may not hold a control "
    "character (a line break, a tab) within it, nor be only invisible characters. It is saved "
    "in Unicode's composed form (NFC): an 'e' and a combining diaeresis is the name 'ë'; its "
    "50 characters are counted so composed."
)
PROFILE_LANGUAGES_HELP = "Codes of the languages the profile likes to watch in, e.g. 'ta'."


def pin_field(**kwargs: Any) -> serializers.CharField:
    """A PIN as the client sent it: a secret is never trimmed into another one.

    DRF strips the blanks around a text field, so " 1234" and "1234\n" were taken as
    1234 although the schema's pattern refuses them; they are a 400 naming ``pin``
    instead, and an unlock sending one is refused before its PIN is checked or counted.
    """
    return serializers.CharField(
        trim_whitespace=False,
        validators=[validate_pin],
        **kwargs,
    )


@contextmanager
def _household_kept() -> Iterator[None]:
    """A change whose household is deleted while it waits for the household's lock: a 401.

    A change of a household's profiles waits on the account's row lock, which staff's
    deletion of the household holds until it commits; the change then found no account,
    a 500. It is answered as a request sent after the deletion is: its token went with
    the household.
    """
    try:
        yield
    except Account.DoesNotExist:
        raise exceptions.AuthenticationFailed("Invalid or revoked token.") from None


class ProfileOutputSerializer(serializers.ModelSerializer):
    maturity_label = serializers.CharField(
        source="get_maturity_limit_display",
        read_only=True,
        help_text="The maturity limit as people read it, e.g. '13+'.",
    )
    display_language = serializers.CharField(
        source="display_language_id",
        allow_null=True,
        help_text="ISO 639-1 code of the language its texts are shown in; null when none is set.",
    )
    preferred_languages = serializers.SlugRelatedField(
        slug_field="code", many=True, read_only=True, help_text=PROFILE_LANGUAGES_HELP
    )
    has_pin = serializers.BooleanField(
        read_only=True,
        help_text="Whether the profile has a PIN: its data then needs its unlock token.",
    )

    class Meta:
        model = Profile
        fields = [
            "id",
            "slot",
            "name",
            "is_kids",
            "maturity_limit",
            "maturity_label",
            "display_language",
            "preferred_languages",
            "has_pin",
        ]
        # The model's help_text on slot is for developers (how the database keeps the bound).
        extra_kwargs = {
            "id": {"help_text": "The profile's id, in the paths of its operations."},
            "slot": {"help_text": "Position 1-5 on the account."},
            "name": {"help_text": PROFILE_NAME_HELP},
            "is_kids": {"help_text": PROFILE_IS_KIDS_HELP},
            "maturity_limit": {"help_text": PROFILE_MATURITY_HELP},
        }


class ProfileInputSerializer(KnownFieldsOnly):
    # The one text the API trims (README): a name typed with a stray blank is still the
    # name. DRF trimmed it before its checks, so a 52-character " name " passed the 50 the
    # schema says; the checks are made on the name as sent, as the schema's, then trimmed.
    name = serializers.CharField(
        max_length=50,
        trim_whitespace=False,
        validators=[RegexValidator(r"\S", "This field may not be blank.", code="blank")],
        help_text=f"{PROFILE_NAME_HELP} {NAME_TRIMMED_HELP}",
    )
    is_kids = serializers.BooleanField(
        required=False,
        help_text=f"{PROFILE_IS_KIDS_HELP} Turned on without a maturity_limit, a limit above 7 "
        "is lowered to 7 (a new kids profile's default); turned off, the limit stays as it is.",
    )
    maturity_limit = serializers.ChoiceField(
        choices=MaturityLevel.choices,
        required=False,
        help_text=PROFILE_MATURITY_HELP,
        error_messages=choice_errors(MaturityLevel.values),
    )
    display_language = LanguageCodeField(
        required=False,
        allow_null=True,
        help_text="The language its homepage, titles' names and synopses are shown in: a "
        "catalogue language's code, ISO 639-1 in lower case, e.g. 'pt' (not 'pt-BR' or 'PT'); "
        "null removes it (English row copy, original names). Left out when the profile is "
        "created, the household's region's language (pt in Brazil). The API reads no "
        "Accept-Language.",
    )
    preferred_languages = LanguageCodeField(
        many=True, required=False, help_text=f"{PROFILE_LANGUAGES_HELP} Each code once."
    )
    pin = pin_field(
        required=False,
        allow_null=True,
        write_only=True,
        help_text="Four digits, nothing around them; null removes the PIN. Stored hashed, "
        "never returned.",
    )

    def validate_name(self, value: str) -> str:
        # After the trim: a line break around a name is a blank dropped, inside it a 400,
        # told beside the body's other errors rather than after them (the model's own check).
        name = value.strip()
        validate_profile_name(name)
        return name


class ProfileListCreateApi(NoQueryOnWrites, GenericAPIView):
    schema_errors = {  # config.api.schema
        "POST": {
            403: "`guardian_unlock_required`: see the operation's description; "
            f"`profile_locked` when the {UNLOCK_HEADER} sent has expired or is not valid."
        }
    }
    # Declared on the view, not built in get(), so that the schema documents the
    # paginated body and its limit/offset parameters from the same class that answers.
    pagination_class = LimitOffsetPagination
    throttle_scopes = HOUSEHOLD_READS  # config.api.throttling

    def get_queryset(self) -> QuerySet[Profile]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no account
            return Profile.objects.none()
        return profile_list(account=account_for_request(self.request))

    def get_serializer_class(self) -> type[serializers.Serializer]:
        # The browsable API builds its forms from this (a GenericAPIView without it is a
        # 500 for a signed-in browser); the views below name their serializers themselves.
        if self.request is not None and self.request.method == "POST":
            return ProfileInputSerializer
        return ProfileOutputSerializer

    @extend_schema(
        operation_id="profiles_list",
        responses=ProfileOutputSerializer(many=True),
        summary="List the account's profiles",
    )
    def get(self, request: Request) -> Response:
        query_parameters_check(request, self.paginator.query_parameters)
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ProfileOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="profiles_create",
        request=ProfileInputSerializer,
        responses={201: ProfileOutputSerializer},
        summary="Add a profile (at most five per account)",
        description=(
            "A sixth profile is refused with a 400 `invalid` whose `errors` name `account` "
            f'("{LIMIT_MESSAGE}"); deleting one frees its slot. ' + GUARDIAN_RULE
        ),
        parameters=[UNLOCK_PARAMETER],
    )
    @sensitive_variables("serializer")
    def post(self, request: Request) -> Response:
        account = account_for_request(request)
        serializer = ProfileInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _household_kept(), profile_create_locked(account=account):
            profile_create_check(
                request=request,
                account_id=account.pk,
                is_kids=serializer.validated_data.get("is_kids", False),
                maturity_limit=serializer.validated_data.get("maturity_limit"),
            )
            fields = serializer.validated_data
            if "display_language" not in fields:
                # A TV that sends no language gets the household's market's, not English
                # row copy and original names in Brazil until someone finds the setting.
                fields = {**fields, "display_language": account.home_region.default_language}
            profile = profile_create(account=account, **fields)
        return Response(ProfileOutputSerializer(profile).data, status=status.HTTP_201_CREATED)


class ProfileDetailApi(NoQueryOnWrites, APIView):
    schema_errors = {  # config.api.schema
        "DELETE": {
            403: "`profile_locked`: neither the profile's own unlock nor, for a profile that "
            "is not a guardian, a guardian's was sent (or the one sent has expired)."
        }
    }
    throttle_scopes = HOUSEHOLD_READS  # config.api.throttling

    @extend_schema(
        operation_id="profiles_retrieve", responses=ProfileOutputSerializer, summary="One profile"
    )
    def get(self, request: Request, profile_id: int) -> Response:
        profile = profile_get(account=account_for_request(request), profile_id=profile_id)
        query_parameters_check(request, ())
        return Response(ProfileOutputSerializer(profile).data)

    @extend_schema(
        operation_id="profiles_partial_update",
        request=ProfileInputSerializer(partial=True),
        responses={
            200: ProfileOutputSerializer,
            403: OpenApiResponse(
                ErrorSerializer,
                description="`profile_locked` (neither the profile's own unlock nor, for a "
                "profile that is not a guardian, a guardian's was sent) or "
                "`guardian_unlock_required` (the change lifts a restriction).",
            ),
        },
        summary="Change a profile",
        description=(
            "A PIN-protected profile needs its own unlock token (403 `profile_locked`), so its "
            "PIN cannot be removed or replaced without it. " + GUARDIAN_RULE
        ),
        parameters=[UNLOCK_PARAMETER],
    )
    @sensitive_variables("serializer", "changes")
    def patch(self, request: Request, profile_id: int) -> Response:
        account = account_for_request(request)
        with (
            _household_kept(),
            profile_change_locked(account=account, profile_id=profile_id) as profile,
        ):
            serializer = ProfileInputSerializer(data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            changes = serializer.validated_data
            profile_change_check(request=request, profile=profile, changes=changes)
            profile = profile_update(profile=profile, **changes)
        return Response(ProfileOutputSerializer(profile).data)

    @extend_schema(
        operation_id="profiles_destroy",
        responses={204: None},
        summary="Delete a profile",
        description=(
            "A PIN-protected profile needs its own unlock token, or, unless it is itself a "
            "guardian, a guardian's unlock (403 `profile_locked`): a guardian is an "
            "unrestricted profile of the account (not kids, 18+) that has a PIN, so a child who "
            "locks its own profile with a PIN does not lock the parent out of deleting it. A "
            "profile without a PIN needs none."
        ),
        parameters=[UNLOCK_PARAMETER],
    )
    def delete(self, request: Request, profile_id: int) -> Response:
        account = account_for_request(request)
        with (
            _household_kept(),
            profile_change_locked(account=account, profile_id=profile_id) as profile,
        ):
            body_unread_check(request)
            profile_change_check(request=request, profile=profile)
            profile_delete(profile=profile)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileUnlockInputSerializer(KnownFieldsOnly):
    pin = pin_field(help_text="The profile's four-digit PIN, nothing around it.")


class ProfileUnlockOutputSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="Send as the X-Profile-Unlock header on this profile's homepage, "
        "recommendations, signals, continue watching, title details, and its changes; a "
        "guardian's token also lifts other profiles' restrictions."
    )
    expires_in = serializers.IntegerField(
        help_text="Seconds the token stays valid, unless the profile is locked again sooner "
        "(DELETE on this path)."
    )


class ProfileUnlockApi(NoQueryOnWrites, APIView):
    schema_errors = {  # config.api.schema
        "POST": {
            403: "Wrong PIN (`wrong_pin`).",
            429: "Too many wrong PINs for this profile (`throttled`): see `retry_after_seconds`.",
            503: "`pin_checks_unavailable`: wrong PINs cannot be counted now; try again "
            "after `Retry-After` seconds.",
        }
    }

    @extend_schema(
        operation_id="profiles_unlock",
        request=ProfileUnlockInputSerializer,
        responses={200: ProfileUnlockOutputSerializer},
        summary="Exchange a profile's PIN for a short-lived unlock token",
        description=(
            "Wrong PINs get 403 and are rate-limited per profile, by default 5 a minute and "
            "20 a day (429 with `retry_after_seconds` once a limit is reached, even for the "
            "right PIN; attempts are counted before the PIN is checked, so concurrent guesses "
            "cannot exceed it). A new PIN starts with a fresh budget: a guardian's unlock can "
            "set one for a profile that is not a guardian. A profile without a PIN answers a "
            "token for any four digits, counting nothing, so a client unlocks every profile "
            "it opens alike."
        ),
    )
    @sensitive_variables("serializer")
    def post(self, request: Request, profile_id: int) -> Response:
        profile, _ = profile_for_request(
            request, account=account_for_request(request), profile_id=profile_id
        )
        serializer = ProfileUnlockInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, expires_in = profile_unlock(profile=profile, pin=serializer.validated_data["pin"])
        return Response(
            ProfileUnlockOutputSerializer({"token": token, "expires_in": expires_in}).data
        )

    @extend_schema(
        operation_id="profiles_lock",
        request=None,
        responses={204: None},
        summary="Lock the profile again: end every unlock token it has given",
        description=(
            "Every unlock token of the profile stops opening it, on every device of the "
            "household, before its hour is up (403 `profile_locked` on its data and changes, "
            "`guardian_unlock_required` where a guardian's unlock was needed); its PIN unlocks "
            "it again. For a device left unlocked (a guardian's unlock on a shared TV lifts "
            "the kids' limits). Any device of the household may lock any of its profiles, "
            "with no unlock token: locking opens nothing, and the most it costs a profile's "
            "owner is typing the PIN again. The wrong-PIN limit is not reset. Answers 204 "
            "however often it is called, and for a profile without a PIN (which has nothing "
            "to end)."
        ),
    )
    def delete(self, request: Request, profile_id: int) -> Response:
        profile, _ = profile_for_request(
            request, account=account_for_request(request), profile_id=profile_id
        )
        body_unread_check(request)
        profile_unlocks_end(profile=profile)
        return Response(status=status.HTTP_204_NO_CONTENT)
