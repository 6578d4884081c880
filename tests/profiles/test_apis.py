import unicodedata

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from profiles.models import Profile
from profiles.selectors import NO_PROFILE
from tests.conftest import token_client
from tests.factories import AccountFactory, LanguageFactory, ProfileFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("v1:profile-list")


def detail_url(profile_id: int) -> str:
    return reverse("v1:profile-detail", args=[profile_id])


def test_requests_without_a_token_are_refused():
    response = APIClient().get(LIST_URL)
    assert response.status_code == 401
    assert response.json()["message"]


def test_a_revoked_or_unknown_token_is_refused():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    response = client.get(LIST_URL)
    assert response.status_code == 401
    assert response.json() == {
        "message": "Invalid or revoked token.",
        "code": "authentication_failed",
        "errors": {},
    }


def test_list_shows_only_the_tokens_own_profiles(api_client, account):
    mine = ProfileFactory(account=account, name="Mine")
    ProfileFactory(name="Theirs")

    response = api_client.get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert [p["id"] for p in body["results"]] == [mine.pk]
    assert body["count"] == 1


def test_create_returns_the_profile_without_its_pin(api_client):
    LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")

    response = api_client.post(
        LIST_URL,
        {"name": "Meena", "preferred_languages": ["ta"], "display_language": "ta", "pin": "2468"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Meena"
    assert body["preferred_languages"] == ["ta"]
    assert body["has_pin"] is True
    assert "pin" not in body
    assert "pin_hash" not in body


def test_a_profile_created_without_a_display_language_takes_its_regions(api_client, account):
    # A household in Brazil adding a profile from a TV that sent no language got English
    # row copy and original names until someone found the setting.
    region = account.home_region

    implicit = api_client.post(LIST_URL, {"name": "Bia"}, format="json")
    explicit = api_client.post(LIST_URL, {"name": "Caio", "display_language": None}, format="json")

    assert implicit.status_code == 201, implicit.json()
    assert implicit.json()["display_language"] == region.default_language_id
    # and null, sent, is what it says: none (English row copy, original names)
    assert explicit.status_code == 201, explicit.json()
    assert explicit.json()["display_language"] is None


def test_sixth_profile_gets_a_400_naming_the_limit(api_client, account):
    for i in range(5):
        ProfileFactory(account=account, name=f"P{i}")

    response = api_client.post(LIST_URL, {"name": "Sixth"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert "at most 5 profiles" in body["message"]
    assert body["errors"]["account"] == ["An account can have at most 5 profiles."]


def test_field_errors_name_the_field_and_the_reason(api_client):
    response = api_client.post(
        LIST_URL, {"name": "", "maturity_limit": 99, "pin": "12"}, format="json"
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"name", "maturity_limit", "pin"}
    assert errors["pin"] == ["The PIN must be exactly 4 digits."]


def test_duplicate_name_is_a_field_error(api_client, account):
    ProfileFactory(account=account, name="Asha")
    ravi = ProfileFactory(account=account, name="Ravi")

    created = api_client.post(LIST_URL, {"name": "ASHA"}, format="json")
    renamed = api_client.patch(f"{LIST_URL}{ravi.pk}/", {"name": "asha"}, format="json")

    for response in (created, renamed):
        assert response.status_code == 400
        assert response.json()["errors"] == {
            "name": ["This account already has a profile with that name."]
        }
    assert sorted(account.profiles.values_list("name", flat=True)) == ["Asha", "Ravi"]


@pytest.mark.parametrize(
    ("taken", "sent"),
    [
        ("Zo\u00eb", "Zoe\u0308"),  # ë composed, then as e and a combining diaeresis
        ("Zoe\u0308", "ZO\u00cb"),
        ("\ud55c\uc2ef", "\u1112\u1161\u11ab\u1109\u1175\u11ba"),  # Hangul syllables, jamo
    ],
)
def test_a_name_written_in_other_code_points_for_the_same_text_is_taken(
    api_client, account, taken, sent
):
    # One device's keyboard composes "ë" (or a Hangul syllable), another's sends its parts:
    # the picker then showed two profiles of one name, which "unique within the account"
    # (the schema) is there to prevent.
    first = api_client.post(LIST_URL, {"name": taken}, format="json")
    assert first.status_code == 201, first.content
    other = ProfileFactory(account=account, name="Ravi")

    created = api_client.post(LIST_URL, {"name": sent}, format="json")
    renamed = api_client.patch(detail_url(other.pk), {"name": sent}, format="json")

    for response in (created, renamed):
        assert response.status_code == 400, response.content
        assert response.json()["errors"] == {
            "name": ["This account already has a profile with that name."]
        }
    # and a name is kept in its composed form (NFC), so that the next one compares with it
    assert first.json()["name"] == unicodedata.normalize("NFC", taken)


@pytest.mark.parametrize(
    "pin",
    [
        "\u0661\u0662\u0663\u0664",
        "\uff11\uff12\uff13\uff14",
        "12a4",
        # blanks around it: a secret is never trimmed into another one ("$" takes "\n" too)
        " 1234",
        "1234 ",
        "1234\n",
        "\t1234",
    ],
)
def test_a_pin_is_four_ascii_digits(api_client, account, pin):
    # given: digits a TV's keypad cannot type (Arabic-Indic, full-width) pass str.isdigit()
    profile = ProfileFactory(account=account, name="Asha")

    # when
    response = api_client.patch(f"{LIST_URL}{profile.pk}/", {"pin": pin}, format="json")

    # then
    assert response.status_code == 400
    assert response.json()["errors"] == {"pin": ["The PIN must be exactly 4 digits."]}
    profile.refresh_from_db()
    assert not profile.has_pin


@pytest.mark.parametrize("pin", [" 2468", "2468\n"])
def test_a_profile_is_not_created_with_a_pin_that_has_blanks_around_it(api_client, account, pin):
    response = api_client.post(LIST_URL, {"name": "Meena", "pin": pin}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"pin": ["The PIN must be exactly 4 digits."]}
    assert not account.profiles.exists()


def test_kids_profile_cannot_be_raised_above_its_cap(api_client):
    response = api_client.post(
        LIST_URL, {"name": "Kid", "is_kids": True, "maturity_limit": 18}, format="json"
    )
    assert response.status_code == 400
    assert "maturity_limit" in response.json()["errors"]


def test_update_and_delete_own_profile(api_client, account):
    profile = ProfileFactory(account=account, name="Old")

    response = api_client.patch(detail_url(profile.pk), {"name": "New"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "New"

    response = api_client.delete(detail_url(profile.pk))
    assert response.status_code == 204
    assert not Profile.objects.filter(pk=profile.pk).exists()


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_accounts_profile_is_a_404(api_client, method):
    other = ProfileFactory(account=AccountFactory(), name="Other")

    response = getattr(api_client, method)(detail_url(other.pk), {"name": "x"}, format="json")

    assert response.status_code == 404
    assert response.json()["message"] == NO_PROFILE  # as for an id no household has
    assert Profile.objects.get(pk=other.pk).name == "Other"


def test_two_households_tokens_are_isolated():
    first, second = AccountFactory(), AccountFactory()
    profile = ProfileFactory(account=first)
    assert token_client(first).get(detail_url(profile.pk)).status_code == 200
    assert token_client(second).get(detail_url(profile.pk)).status_code == 404


# --- PINs and guardians: what a device holding only the household's token may change ------


def with_pin(profile: Profile, pin: str) -> Profile:
    profile.set_pin(pin)
    profile.save()
    return profile


def unlocked(client, profile: Profile, pin: str = "") -> dict[str, str]:
    """The header of ``profile``'s unlock (a profile without a PIN gets a token too)."""
    response = client.post(
        reverse("v1:profile-unlock", args=[profile.pk]), {"pin": pin or "0000"}, format="json"
    )
    assert response.status_code == 200, response.json()
    return {"HTTP_X_PROFILE_UNLOCK": response.json()["token"]}


LIFTS = [{"is_kids": False, "maturity_limit": 18}, {"is_kids": False}, {"maturity_limit": 7}]


def test_a_pin_protected_profiles_pin_cannot_be_removed_or_replaced_without_its_unlock(
    api_client, account
):
    parent = with_pin(ProfileFactory(account=account, name="Parent"), "4321")

    removed = api_client.patch(detail_url(parent.pk), {"pin": None}, format="json")
    replaced = api_client.patch(detail_url(parent.pk), {"pin": "0000"}, format="json")

    assert removed.status_code == replaced.status_code == 403
    assert removed.json()["code"] == "profile_locked"
    parent.refresh_from_db()
    assert parent.check_pin("4321")
    response = api_client.patch(
        detail_url(parent.pk), {"pin": None}, format="json", **unlocked(api_client, parent, "4321")
    )
    assert response.status_code == 200
    assert response.json()["has_pin"] is False


def test_a_pin_protected_profile_cannot_be_deleted_without_its_unlock(api_client, account):
    parent = with_pin(ProfileFactory(account=account, name="Parent"), "4321")

    refused = api_client.delete(detail_url(parent.pk))

    assert refused.status_code == 403
    assert Profile.objects.filter(pk=parent.pk).exists()
    header = unlocked(api_client, parent, "4321")
    assert api_client.delete(detail_url(parent.pk), **header).status_code == 204
    assert not Profile.objects.filter(pk=parent.pk).exists()


@pytest.mark.parametrize("lift", LIFTS)
def test_only_a_guardians_unlock_lifts_a_kids_profiles_limits(api_client, account, lift):
    # given: a parent with a PIN (a guardian) and a kids profile without one
    parent = with_pin(ProfileFactory(account=account, name="Parent"), "4321")
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=0)

    # when: the kids device tries without a token, then with the kids profile's own
    bare = api_client.patch(detail_url(kid.pk), lift, format="json")
    own = api_client.patch(detail_url(kid.pk), lift, format="json", **unlocked(api_client, kid))

    # then both are refused, and the guardian's unlock is accepted
    assert bare.status_code == own.status_code == 403
    assert bare.json()["code"] == "guardian_unlock_required"
    kid.refresh_from_db()
    assert (kid.is_kids, kid.maturity_limit) == (True, 0)
    header = unlocked(api_client, parent, "4321")
    assert api_client.patch(detail_url(kid.pk), lift, format="json", **header).status_code == 200
    kid.refresh_from_db()
    lifted = (lift.get("is_kids", True), lift.get("maturity_limit", 0))
    assert (kid.is_kids, kid.maturity_limit) == lifted


def test_a_kids_profile_with_a_pin_needs_a_guardian_not_its_own_pin_to_be_lifted(
    api_client, account
):
    parent = with_pin(ProfileFactory(account=account, name="Parent"), "4321")
    kid = with_pin(
        ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7), "1111"
    )
    lift = {"is_kids": False, "maturity_limit": 18}

    own = api_client.patch(
        detail_url(kid.pk), lift, format="json", **unlocked(api_client, kid, "1111")
    )
    guardian = api_client.patch(
        detail_url(kid.pk), lift, format="json", **unlocked(api_client, parent, "4321")
    )

    assert own.status_code == 403
    assert guardian.status_code == 200
    assert guardian.json()["is_kids"] is False
    kid.refresh_from_db()
    assert (kid.is_kids, kid.maturity_limit) == (False, 18)


def test_a_guardian_opens_a_profile_its_child_locked_with_a_pin(api_client, account):
    # given: a kids device gave the kids profile a PIN the parent does not know
    parent = with_pin(ProfileFactory(account=account, name="Parent"), "4321")
    teen = with_pin(ProfileFactory(account=account, name="Teen", maturity_limit=13), "2468")
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    other = with_pin(ProfileFactory(account=account, name="Other teen", maturity_limit=13), "1357")
    assert api_client.patch(detail_url(kid.pk), {"pin": "1111"}, format="json").status_code == 200
    guardian = unlocked(api_client, parent, "4321")

    # when / then: without an unlock the profile stays locked; the guardian's unlock
    # tightens it, removes its PIN and deletes a locked teen profile
    assert (
        api_client.patch(detail_url(kid.pk), {"maturity_limit": 0}, format="json").status_code
        == 403
    )
    tightened = api_client.patch(
        detail_url(kid.pk), {"maturity_limit": 0}, format="json", **guardian
    )
    assert tightened.status_code == 200
    cleared = api_client.patch(detail_url(kid.pk), {"pin": None}, format="json", **guardian)
    assert cleared.status_code == 200
    kid.refresh_from_db()
    assert (kid.maturity_limit, kid.has_pin) == (0, False)
    assert api_client.delete(detail_url(teen.pk), **guardian).status_code == 204
    # and the teen's unlock opens neither the parent nor another's profile
    teens = unlocked(api_client, other, "1357")
    assert api_client.delete(detail_url(parent.pk), **teens).status_code == 403
    assert api_client.patch(detail_url(kid.pk), {"pin": "9999"}, format="json").status_code == 200
    assert api_client.delete(detail_url(kid.pk), **teens).status_code == 403


def test_without_a_guardian_a_kids_profile_is_lifted_with_its_own_unlock_only(api_client, account):
    # The household has no PIN outside its kids profile: that PIN is the only credential.
    ProfileFactory(account=account, name="Parent")
    kid = with_pin(
        ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7), "1111"
    )
    lift = {"is_kids": False, "maturity_limit": 18}

    assert api_client.patch(detail_url(kid.pk), lift, format="json").status_code == 403
    kid.refresh_from_db()
    assert (kid.is_kids, kid.maturity_limit) == (True, 7)
    header = unlocked(api_client, kid, "1111")
    assert api_client.patch(detail_url(kid.pk), lift, format="json", **header).status_code == 200
    kid.refresh_from_db()
    assert (kid.is_kids, kid.maturity_limit) == (False, 18)


def test_without_any_pin_a_household_has_no_credential_to_ask_for(api_client, account):
    # The documented limitation: every device holds the same account token.
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)

    response = api_client.patch(detail_url(kid.pk), {"is_kids": False}, format="json")

    assert response.status_code == 200
    kid.refresh_from_db()
    assert kid.is_kids is False


def test_tightening_or_renaming_a_kids_profile_needs_no_guardian(api_client, account):
    with_pin(ProfileFactory(account=account, name="Parent"), "4321")
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)

    response = api_client.patch(
        detail_url(kid.pk), {"name": "Little one", "maturity_limit": 0}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["maturity_limit"]) == ("Little one", 0)


def test_a_guardians_unlock_opens_no_other_guardians_profile(api_client, account):
    parent = with_pin(ProfileFactory(account=account, name="Parent"), "4321")
    other = with_pin(ProfileFactory(account=account, name="Other", maturity_limit=18), "9999")

    response = api_client.patch(
        detail_url(other.pk),
        {"name": "Renamed", "pin": None},
        format="json",
        **unlocked(api_client, parent, "4321"),
    )

    assert response.status_code == 403
    other.refresh_from_db()
    assert other.check_pin("9999")


def test_a_device_cannot_make_itself_a_guardian_by_giving_a_profile_a_pin(api_client, account):
    # given: a parent guardian, a teen profile limited to 13 and an adult one, neither with
    # a PIN, and a kids profile
    parent = with_pin(ProfileFactory(account=account, name="Parent"), "4321")
    teen = ProfileFactory(account=account, name="Teen", maturity_limit=13)
    adult = ProfileFactory(account=account, name="Lodger", maturity_limit=18)
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)

    # when: the adult profile is given a PIN (which would make it a guardian)
    refused = api_client.patch(detail_url(adult.pk), {"pin": "1111"}, format="json")
    # ... and the teen gives itself a PIN (allowed: a teen's PIN lifts nothing) and tries
    # its own unlock on its own limit and on the kid's
    own_pin = api_client.patch(detail_url(teen.pk), {"pin": "2222"}, format="json")
    assert own_pin.status_code == 200
    teen_token = unlocked(api_client, teen, "2222")
    raise_own = api_client.patch(
        detail_url(teen.pk), {"maturity_limit": 18}, format="json", **teen_token
    )
    lift_kid = api_client.patch(detail_url(kid.pk), {"is_kids": False}, format="json", **teen_token)

    # then: all three need the guardian
    for response in (refused, raise_own, lift_kid):
        assert response.status_code == 403
        assert response.json()["code"] == "guardian_unlock_required"
    adult.refresh_from_db()
    teen.refresh_from_db()
    kid.refresh_from_db()
    assert (adult.has_pin, teen.maturity_limit, kid.is_kids) == (False, 13, True)
    header = unlocked(api_client, parent, "4321")
    granted = api_client.patch(detail_url(adult.pk), {"pin": "1111"}, format="json", **header)
    assert granted.status_code == 200
    adult.refresh_from_db()
    assert adult.check_pin("1111")


def test_adding_a_profile_that_is_not_for_kids_needs_a_guardian(api_client, account):
    parent = with_pin(ProfileFactory(account=account, name="Parent"), "4321")

    refused = api_client.post(LIST_URL, {"name": "Grown-up"}, format="json")
    kids = api_client.post(
        LIST_URL, {"name": "Tiny", "is_kids": True, "maturity_limit": 0}, format="json"
    )
    header = unlocked(api_client, parent, "4321")
    allowed = api_client.post(LIST_URL, {"name": "Grown-up"}, format="json", **header)

    assert refused.status_code == 403
    assert refused.json()["code"] == "guardian_unlock_required"
    assert kids.status_code == 201
    assert allowed.status_code == 201
    created = Profile.objects.filter(account=account).exclude(pk=parent.pk)
    assert sorted(created.values_list("name", "is_kids")) == [("Grown-up", False), ("Tiny", True)]


@pytest.mark.parametrize("limit", [None, 7])
def test_a_kids_device_cannot_add_a_kids_profile_above_all_ages_without_a_guardian(
    api_client, account, limit
):
    # given: a guardian, and a kids profile for all ages whose limit its device may not raise
    parent = with_pin(ProfileFactory(account=account, name="Parent"), "4321")
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=0)
    raised = api_client.patch(detail_url(kid.pk), {"maturity_limit": 7}, format="json")
    body = {"name": "Kid 2", "is_kids": True} | ({} if limit is None else {"maturity_limit": 7})

    # when: the same device adds a kids profile at 7+ (a kids profile's default) instead
    added = api_client.post(LIST_URL, body, format="json")

    # then: refused as the raise is, and allowed with the guardian's unlock
    assert raised.status_code == added.status_code == 403
    assert added.json()["code"] == "guardian_unlock_required"
    assert not Profile.objects.filter(account=account, name="Kid 2").exists()
    header = unlocked(api_client, parent, "4321")
    granted = api_client.post(LIST_URL, body, format="json", **header)
    assert granted.status_code == 201, granted.json()
    assert (granted.json()["is_kids"], granted.json()["maturity_limit"]) == (True, 7)


def test_without_a_guardian_any_device_adds_a_kids_profile_at_its_default(api_client, account):
    ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=0)

    added = api_client.post(LIST_URL, {"name": "Kid 2", "is_kids": True}, format="json")

    assert added.status_code == 201, added.json()
    assert added.json()["maturity_limit"] == 7


def test_the_schema_documents_the_pin_and_guardian_refusals():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    detail = schema["paths"]["/api/v1/profiles/{profile_id}/"]
    create = schema["paths"]["/api/v1/profiles/"]["post"]

    assert "guardian_unlock_required" in detail["patch"]["responses"]["403"]["description"]
    assert "403" in detail["delete"]["responses"]
    assert "guardian_unlock_required" in create["responses"]["403"]["description"]
    unlock = schema["paths"]["/api/v1/profiles/{profile_id}/unlock/"]["post"]
    assert "429" in unlock["responses"]
    for operation in (detail["patch"], detail["delete"], create):
        assert "X-Profile-Unlock" in [p["name"] for p in operation["parameters"]]


def test_the_schema_says_a_guardians_unlock_deletes_and_what_a_sixth_profile_gets():
    # A guardian's unlock deletes a PIN-protected profile that is not a guardian (above,
    # test_a_guardian_opens_a_profile_its_child_locked_with_a_pin), and a sixth profile's
    # 400 names `account`, which is no field of the body: a client reads both here.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    detail = schema["paths"]["/api/v1/profiles/{profile_id}/"]
    create = schema["paths"]["/api/v1/profiles/"]["post"]

    assert "a guardian's unlock" in detail["delete"]["description"]
    for operation in (detail["delete"], detail["patch"]):
        assert "a guardian's" in operation["responses"]["403"]["description"]
    assert "sixth profile" in create["description"]
    assert "`account`" in create["description"]


def test_unlocking_a_profile_without_a_pin_answers_a_token_as_the_schema_says(api_client, profile):
    # A picker unlocks whichever profile is tapped; the schema tells the client what a
    # profile without a PIN answers, so it needs no special case (README).
    schema = SchemaGenerator().get_schema(request=None, public=True)
    unlock = schema["paths"]["/api/v1/profiles/{profile_id}/unlock/"]["post"]
    assert "without a PIN" in unlock["description"]

    response = api_client.post(
        reverse("v1:profile-unlock", args=[profile.pk]), {"pin": "0000"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["token"]


def test_turning_kids_on_lowers_the_limit_as_the_schema_says(api_client, profile):
    # A client sends only is_kids; the 18+ it read before is then 7+, which the schema says.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for body in ("ProfileInputRequest", "PatchedProfileInputRequest"):
        is_kids = schema["components"]["schemas"][body]["properties"]["is_kids"]
        assert "lowered to 7" in is_kids["description"]

    response = api_client.patch(detail_url(profile.pk), {"is_kids": True}, format="json")

    assert response.status_code == 200
    assert (response.json()["maturity_limit"], profile.maturity_limit) == (7, 18)


def test_a_name_loses_the_blanks_around_it_as_the_schema_says_and_nothing_else():
    # given: what the schema says of a profile's name on the way in
    schema = SchemaGenerator().get_schema(request=None, public=True)
    name = schema["components"]["schemas"]["ProfileInputRequest"]["properties"]["name"]
    assert (name["minLength"], name["maxLength"], name["pattern"]) == (1, 50, r"\S")
    assert "' Asha ' is saved as 'Asha'" in name["description"]
    client = token_client(AccountFactory())

    # when / then: blanks around a name are the one thing of a body the API trims (README)
    created = client.post(LIST_URL, {"name": " Asha\n"}, format="json")
    assert created.status_code == 201
    assert created.json()["name"] == "Asha"
    # and what the schema refuses is refused, not trimmed into something it accepts
    padded = " " + "A" * 50 + " "
    blank = " \t\n"
    for refused in (padded, blank):
        response = client.patch(detail_url(created.json()["id"]), {"name": refused}, format="json")
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["name"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Pri\nya", "control"),  # a line break inside it, which the picker would draw
        ("A\tB", "control"),
        ("\x1b[31mRed", "control"),  # a terminal's escape, as an operator's log shows it
        ("Ravi\x7f", "control"),
        ("\u200b", "blank"),  # a zero-width space: nothing on the picker to tap
        (" \u2060\ufeff ", "blank"),
        ("\u200d\u200c", "blank"),
    ],
)
def test_a_name_with_a_control_character_or_nothing_visible_is_a_400(
    api_client, profile, name, reason
):
    # \S took every one of these: they are not blanks to Python, but a name a profile
    # picker draws as two lines, colours a log with, or shows as nothing at all.
    created = api_client.post(LIST_URL, {"name": name}, format="json")
    renamed = api_client.patch(detail_url(profile.pk), {"name": name}, format="json")

    message = {
        "control": "Must not hold a control character, such as a line break or a tab.",
        "blank": "This field may not be blank.",
    }[reason]
    for response in (created, renamed):
        assert response.status_code == 400, response.content
        assert response.json()["errors"] == {"name": [message]}
    assert list(Profile.objects.values_list("name", flat=True)) == ["Asha"]


@pytest.mark.parametrize(
    "name",
    [
        "Meena",
        "क्\u200dष",  # a joiner shapes the Devanagari conjunct: a format character in a name
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # one family emoji, joined
        "Ré\u0301my",
        " Asha2\n",  # blanks around it, the line break among them, are still trimmed
    ],
)
def test_a_name_with_visible_text_is_kept_joiners_and_marks_included(api_client, name):
    response = api_client.post(LIST_URL, {"name": name}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["name"] == name.strip()


@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_language_given_twice_is_a_400_found_before_the_list_is_looked_up(
    api_client, profile, method
):
    # given: a list repeating one code, as a 2 MiB body can 350,000 times; each item was
    # looked up on its own (a query each, 20,000 took 11 s, the PATCH under the household's
    # lock) and the repeats then dropped without a word
    LanguageFactory(code="ta", name="Tamil", native_name="Tamil")
    body = {"name": "Meena", "preferred_languages": ["ta"] * 500}
    url = LIST_URL if method == "post" else detail_url(profile.pk)

    # when
    with CaptureQueriesContext(connection) as queries:
        response = getattr(api_client, method)(url, body, format="json")

    # then: refused at the repeat, naming the field and the code; nothing changed
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {
        "preferred_languages": ['"ta" is given more than once: give each language once.']
    }
    assert len(queries) < 20
    assert list(Profile.objects.values_list("name", flat=True)) == [profile.name]
    assert not profile.preferred_languages.exists()


def test_the_schema_documents_locking_a_profile_again():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    lock = schema["paths"]["/api/v1/profiles/{profile_id}/unlock/"]["delete"]

    # any device of the household may lock: no unlock header, no 403; a 404 for another's
    # (and a 411 for a body sent chunked, as on every write, and the 413 and 415 of a body
    # sent at all, which it reads only to refuse)
    assert set(lock["responses"]) == {"204", "400", "401", "404", "406", "411", "413", "415"}
    assert "X-Profile-Unlock" not in [p["name"] for p in lock.get("parameters", [])]
    assert "every device" in lock["description"]


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"display_language": "xx"}, {"display_language": ['No language with code "xx".']}),
        (
            {"preferred_languages": ["ta", "xx"]},
            {"preferred_languages": ['No language with code "xx".']},
        ),
        ({"display_language": 5}, {"display_language": ['Must be a language code, such as "ta".']}),
        (
            {"preferred_languages": [["ta"]]},
            {"preferred_languages": ['Must be a language code, such as "ta".']},
        ),
        # PostgreSQL text cannot hold NUL: looked up, it was a 500 (found by schemathesis)
        (
            {"display_language": "t\x00a"},
            {"display_language": ['Must be a language code, such as "ta".']},
        ),
        (
            {"preferred_languages": ["ta", "\x00"]},
            {"preferred_languages": ['Must be a language code, such as "ta".']},
        ),
    ],
)
def test_an_unknown_language_is_refused_in_the_apis_words(api_client, profile, change, errors):
    # DRF's own sentence was the ORM's lookup: "Object with code=xx does not exist."
    LanguageFactory(code="ta", name="Tamil", native_name="Tamil")

    response = api_client.patch(detail_url(profile.pk), change, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == errors
    profile.refresh_from_db()
    assert profile.display_language_id is None
    assert not profile.preferred_languages.exists()


#: 50 characters as typed, 55 once composed: U+0958 (DEVANAGARI LETTER QA) is one of the
#: letters NFC writes as two (क and a nukta), which Unicode never composes back.
LENGTHENED_NAME = "Q" * 45 + "\u0958" * 5


def test_a_name_within_50_characters_that_composing_lengthens_past_them_is_a_400_saying_so(
    api_client, account
):
    profile = ProfileFactory(account=account, name="Asha")

    created = api_client.post(LIST_URL, {"name": LENGTHENED_NAME}, format="json")
    renamed = api_client.patch(detail_url(profile.pk), {"name": LENGTHENED_NAME}, format="json")

    # then: the field named, and why a name of 50 characters is over 50
    for response in (created, renamed):
        assert response.status_code == 400, response.content
        assert response.json()["errors"] == {
            "name": [
                "Ensure this value has at most 50 characters in Unicode's composed form "
                "(NFC), as names are saved: it has 55."
            ]
        }
    assert list(account.profiles.values_list("name", flat=True)) == ["Asha"]
