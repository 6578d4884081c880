"""Which credential each part of the API accepts: a household's token, or a staff sign-in.

The audit's case: the API took Django's session beside the token, and a signed-in
person linked to one household (``Account.users``) acted as that household. Only
staff can sign in (admin's login form is the one sign-in), so it was staff who
could: one without the console's household permissions read the household's
profiles and homepages, wrote its signals and changed its profiles, none of
which the console lets them, and a person who stopped being staff kept it for
as long as their session lived.
"""

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from console.access import HOUSEHOLDS
from profiles.models import Profile
from recommendations.models import Signal, TrainingRun
from tests.conftest import token_client
from tests.factories import AccountFactory, ProfileFactory, RegionFactory
from tests.openapi import api_schema_generate
from tests.test_admin import form_data

pytestmark = pytest.mark.django_db

PASSWORD = "member-pass-123"

#: A body each household write would accept from its token; a session must not get that far.
WRITES = {
    ("POST", "/api/v1/profiles/"): {"name": "Staff's"},
    ("PATCH", "/api/v1/profiles/{profile_id}/"): {"name": "Renamed"},
    ("DELETE", "/api/v1/profiles/{profile_id}/"): None,
    ("POST", "/api/v1/profiles/{profile_id}/unlock/"): {"pin": "1234"},
    ("POST", "/api/v1/profiles/{profile_id}/signals/"): {
        "events": [{"kind": "thumbs_up", "title_id": 1, "occurred_at": "2026-01-01T20:00:00Z"}]
    },
}


@pytest.fixture(scope="module")
def schema() -> dict:
    return api_schema_generate()


def household_operations(schema: dict) -> list[tuple[str, str]]:
    """Every documented operation except the staff's (``/ops/``)."""
    return [
        (method.upper(), path)
        for path, by_method in schema["paths"].items()
        for method in by_method
        if "/ops/" not in path
    ]


def _member(kind: str):
    """A person linked to one household, as ``kind``: whom a session would have let in."""
    user = get_user_model().objects.create_user(f"{kind}-member", password=PASSWORD)
    # staff without console: may sign in to admin, may not see households; console staff
    # may see them in the console, read only; "household" and "demoted-staff" are not staff
    user.is_staff = kind in {"staff-without-console", "console-staff", "superuser"}
    user.is_superuser = kind == "superuser"
    user.save()
    if kind == "console-staff":
        for label in HOUSEHOLDS:
            app_label, model = label.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=f"view_{model}")
            )
    return user


def _signed_in(user, *, through_login_page: bool = False) -> Client:
    """A browser with ``user``'s session and its CSRF token, as the docs page's requests carry."""
    client = Client(enforce_csrf_checks=True)
    if through_login_page:
        page = client.get("/admin/login/")
        client.post(
            "/admin/login/",
            {
                "username": user.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": page.cookies["csrftoken"].value,
            },
        )
    else:
        client.force_login(user)
    # Opening the docs page loads its start-up script, which carries the CSRF token and
    # sets its cookie (the page itself has no inline script: the Content-Security-Policy).
    client.get("/api/docs/")
    client.get("/api/docs/?script=")
    return client


def _request(client: Client, method: str, url: str, body: object = None):
    csrf = client.cookies["csrftoken"].value
    return client.generic(
        method,
        url,
        data=b"" if body is None else json.dumps(body),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )


def _url(path: str, profile: Profile) -> str:
    url = path.replace("{profile_id}", str(profile.pk)).replace("{title_id}", "1")
    if "/homepage/" in url:
        return f"{url}?device=tv"
    if url.startswith("/api/v1/titles/"):
        return f"{url}?profile={profile.pk}"
    return url


@pytest.mark.parametrize(
    "kind", ["staff-without-console", "console-staff", "superuser", "demoted-staff"]
)
def test_a_signed_in_person_cannot_act_as_their_household_through_the_api(schema, kind):
    # given: a household with a profile, and a person linked to it, signed in with admin's
    # form (a demoted one signed in while still staff)
    household = AccountFactory(home_region=RegionFactory(code="IN"))
    profile = ProfileFactory(account=household, name="Priya", slot=1)
    user = _member(kind)
    household.users.add(user)
    if kind == "demoted-staff":
        user.is_staff = True
        user.save()
    client = _signed_in(user, through_login_page=True)
    assert "_auth_user_id" in client.session, "admin's form signed them in"
    if kind == "demoted-staff":
        user.is_staff = False
        user.save()
    # the console's gate, which the API went past: households are not theirs to see there
    console = client.get("/console/?q=Priya")
    expected = {"console-staff": 200, "superuser": 200, "staff-without-console": 403}
    assert console.status_code == expected.get(kind, 302)  # the demoted: to the login page

    # when: the session calls each of the household's operations, CSRF token and all
    answers = {
        (method, path): _request(
            client, method, _url(path, profile), WRITES.get((method, path))
        ).status_code
        for method, path in household_operations(schema)
    }

    # then: each asks for the household's token, and nothing was read or written
    assert answers == dict.fromkeys(answers, 401)
    assert list(Profile.objects.values_list("name", flat=True)) == ["Priya"]
    assert not Signal.objects.exists()


def test_a_session_is_not_read_even_beside_a_households_token():
    # given: a staff session linked to one household, and another household's token
    own, other = AccountFactory(), AccountFactory()
    ProfileFactory(account=own, name="Own")
    ProfileFactory(account=other, name="Other")
    user = _member("superuser")
    own.users.add(user)
    device = token_client(other)
    device.force_login(user)

    # when / then: the token decides whose profiles they are
    listed = device.get("/api/v1/profiles/")
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json()["results"]] == ["Other"]


def test_a_person_who_is_not_staff_cannot_sign_in_at_all():
    # The one sign-in form is admin's; it refuses who is not staff, so a household's people
    # have no session to use anywhere (and the API has no login page of its own).
    user = _member("household")
    AccountFactory().users.add(user)
    client = Client()
    answer = client.post("/admin/login/", {"username": user.username, "password": PASSWORD})
    assert answer.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.get("/api/auth/login/").status_code == 404
    assert client.get("/api-auth/login/").status_code == 404


def _retrain_staff() -> Client:
    user = get_user_model().objects.create_user("operator", password=PASSWORD, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__endswith="_trainingrun"))
    return _signed_in(user)


def test_the_staff_operations_refuse_a_write_without_the_csrf_token():
    # A page on another site can make a signed-in operator's browser post; only the CSRF
    # token, which that page cannot read, tells the operator's own requests apart.
    RegionFactory(code="IN")
    client = _retrain_staff()

    forged = client.post("/api/v1/ops/retrains/", {"region": "IN"}, content_type="application/json")
    assert forged.status_code == 403
    assert "CSRF" in forged.json()["message"]
    assert not TrainingRun.objects.exists()
    # and with it, the operator's request is read (a region without a model: refused as such)
    own = _request(client, "POST", "/api/v1/ops/retrains/", {"region": "IN"})
    assert own.status_code != 403, own.content


def test_the_staff_operations_take_no_household_token():
    # A token is a household's device: it is never staff, so it is no credential there.
    account = AccountFactory()
    device = token_client(account)
    answer = device.get("/api/v1/ops/retrains/1/")
    assert answer.status_code == 403
    assert answer.json()["code"] == "not_authenticated"


def test_the_schema_offers_each_operation_the_credential_it_accepts(schema):
    schemes = schema["components"]["securitySchemes"]
    assert set(schemes) == {"accountToken", "cookieAuth"}
    assert "sign in to admin" in schemes["cookieAuth"]["description"]
    for path, by_method in schema["paths"].items():
        for method, operation in by_method.items():
            staff = "/ops/" in path
            expected = [{"cookieAuth": []}] if staff else [{"accountToken": []}]
            assert operation["security"] == expected, (method, path)
            # without its credential: a token's operation 401, the sign-in's 403
            assert ("401" in operation["responses"]) is not staff, (method, path)
            if staff:
                assert "`not_authenticated`" in operation["responses"]["403"]["description"]


def test_staff_who_may_change_households_cannot_link_themselves_into_one_through_the_api():
    # Changing a household in admin includes its "Users": staff with that permission alone
    # (not profiles', not signals') linked themselves to any household, then read its
    # profiles and changed them with their session. The link now grants nothing in the API.
    household = AccountFactory()
    ProfileFactory(account=household, name="Priya")
    user = get_user_model().objects.create_user("account-clerk", password=PASSWORD, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="accounts", codename__in=["view_account", "change_account"]
        ),
        # Viewing users too: without it admin shows no members field to change (README,
        # "What staff permissions show").
        Permission.objects.get(content_type__app_label="auth", codename="view_user"),
    )
    client = _signed_in(user)
    url = f"/admin/accounts/account/{household.pk}/change/"
    data = form_data(client.get(url))
    data["users"] = [str(user.pk)]
    data["csrfmiddlewaretoken"] = client.cookies["csrftoken"].value
    assert client.post(url, data).status_code == 302
    assert household.users.filter(pk=user.pk).exists()

    answers = [
        _request(client, "GET", "/api/v1/profiles/").status_code,
        _request(client, "POST", "/api/v1/profiles/", {"name": "Clerk's"}).status_code,
    ]
    assert answers == [401, 401]
    assert list(Profile.objects.values_list("name", flat=True)) == ["Priya"]
