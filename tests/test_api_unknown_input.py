"""A field or parameter an endpoint does not read is a 400 naming it, never silently ignored."""

import datetime as dt
import re
import uuid

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from profiles.models import Profile
from recommendations.models import Signal, SignalKind, TrainingRun
from tests.factories import (
    LanguageFactory,
    ProfileFactory,
    RegionFactory,
    SignalFactory,
    TasteClusterFactory,
    TitleFactory,
)
from tests.openapi import assert_answer_documented

pytestmark = pytest.mark.django_db

PROFILE = "/api/v1/profiles/{profile_id}/"


def test_a_misspelt_kids_flag_creates_no_profile(api_client, account):
    # It used to create an unrestricted profile: 201, is_kids false, limit 18.
    response = api_client.post("/api/v1/profiles/", {"name": "Tiny", "isKids": True}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"isKids": ["Unknown field."]}
    assert not Profile.objects.filter(name="Tiny").exists()


def test_unknown_fields_are_reported_beside_the_fields_own_errors(api_client, account):
    response = api_client.post("/api/v1/profiles/", {"name": "", "colour": "red"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"name", "colour"}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("patch", "/api/v1/profiles/{profile}/", {"name": "Ravi", "bogus": 1}, "bogus"),
        (
            "post",
            "/api/v1/profiles/{profile}/unlock/",
            {"pin": "1234", "remember": True},
            "remember",
        ),
        (
            "post",
            "/api/v1/profiles/{profile}/signals/",
            {"events": "EVENTS", "device": "tv"},
            "device",
        ),
    ],
)
def test_a_body_with_an_unknown_field_changes_nothing(
    api_client, profile, method, path, body, field
):
    title = TitleFactory()
    now = timezone.now()
    if body.get("events") == "EVENTS":
        body = {**body, "events": [_play(title, now)]}
    if path.endswith("/unlock/"):
        profile.set_pin("1234")
        profile.save()

    response = getattr(api_client, method)(path.format(profile=profile.pk), body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {field: ["Unknown field."]}
    assert not Signal.objects.exists()
    profile.refresh_from_db()
    assert profile.name == "Asha"


def _play(title, now: dt.datetime) -> dict:
    return {
        "kind": "play_start",
        "title": title.pk,
        "device": "tv",
        "occurred_at": (now - dt.timedelta(minutes=5)).isoformat(),
        "client_event_id": str(uuid.uuid4()),
    }


UNKNOWN_QUERY_CASES = [
    ("/api/v1/profiles/", "?limt=5", "limt"),
    ("/api/v1/profiles/{profile}/", "?expand=all", "expand"),
    ("/api/v1/profiles/{profile}/homepage/", "?device=tv&DEVICE=mobile", "DEVICE"),
    ("/api/v1/profiles/{profile}/homepage/", "?device=mobile&row=3", "row"),
    ("/api/v1/profiles/{profile}/recommendations/", "?device=tv&count=5", "count"),
    ("/api/v1/profiles/{profile}/signals/", "?kinds=play_start", "kinds"),
    ("/api/v1/profiles/{profile}/continue-watching/", "?device=tv&limit=3", "limit"),
    ("/api/v1/titles/{title}/", "?profile={profile}&lang=hi", "lang"),
    ("/api/v1/ops/retrains/{run}/", "?verbose=1", "verbose"),
]


@pytest.mark.parametrize(("path", "query", "name"), UNKNOWN_QUERY_CASES)
def test_an_unknown_query_parameter_is_a_400_naming_it(
    api_client, admin_client, profile, path, query, name
):
    title = TitleFactory()
    run = None
    if "{run}" in path:
        cluster = TasteClusterFactory(region=RegionFactory(code="IN"))
        run = TrainingRun.objects.create(region=cluster.region, taste_cluster=cluster)
    url = (path + query).format(profile=profile.pk, title=title.pk, run=run and run.pk)

    response = (admin_client if "/ops/" in path else api_client).get(url)

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {name: ["Unknown parameter."]}


def test_a_profile_deleted_with_an_unknown_parameter_is_kept(api_client, profile):
    response = api_client.delete(f"/api/v1/profiles/{profile.pk}/?force=1")

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"force": ["Unknown parameter."]}
    assert Profile.objects.filter(pk=profile.pk).exists()


def test_every_get_and_delete_endpoint_of_the_schema_refuses_unknown_parameters():
    # A new endpoint must join the cases above: each view checks its own parameters, and
    # the schema documents a 400 for every GET and DELETE (config.api.schema).
    schema = SchemaGenerator().get_schema(request=None, public=True)
    gets = {path for path, operations in schema["paths"].items() if "get" in operations}
    deletes = {path for path, operations in schema["paths"].items() if "delete" in operations}
    covered = {re.sub(r"\{\w+\}", "{}", path) for path, _, _ in UNKNOWN_QUERY_CASES}

    assert {re.sub(r"\{\w+\}", "{}", path) for path in gets} <= covered
    # the case above, and locking again (among the WRITE_CASES below)
    assert deletes == {"/api/v1/profiles/{profile_id}/", "/api/v1/profiles/{profile_id}/unlock/"}


WRITE_CASES = [
    ("post", "/api/v1/profiles/", {"name": "Tiny"}),
    ("patch", "/api/v1/profiles/{profile}/", {"name": "Ravi"}),
    ("delete", "/api/v1/profiles/{profile}/", None),
    ("post", "/api/v1/profiles/{profile}/unlock/", {"pin": "1234"}),
    ("delete", "/api/v1/profiles/{profile}/unlock/", None),
    ("post", "/api/v1/profiles/{profile}/signals/", "EVENTS"),
    ("post", "/api/v1/ops/retrains/", {"region": "IN"}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITE_CASES)
def test_a_write_with_a_query_parameter_is_a_400_and_changes_nothing(
    api_client, admin_client, profile, method, path, body
):
    # POST .../signals/?dry_run=1 stored the events: the parameter looked understood.
    RegionFactory(code="IN")
    profile.set_pin("1234")
    profile.save()
    if body == "EVENTS":
        body = {"events": [_play(TitleFactory(), timezone.now())]}
    client = admin_client if "/ops/" in path else api_client
    url = path.format(profile=profile.pk) + "?dry_run=1"

    encoding = {"content_type": "application/json"} if "/ops/" in path else {"format": "json"}

    response = getattr(client, method)(url, body, **encoding)

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"dry_run": ["Unknown parameter."]}
    assert not Signal.objects.exists()
    assert not TrainingRun.objects.exists()
    # not renamed or deleted, and not locked again (its unlocks not ended)
    assert list(Profile.objects.values_list("name", "unlock_generation")) == [("Asha", 0)]
    assert "token" not in response.json()  # no unlock token issued either


def test_every_write_of_the_schema_is_among_the_write_cases():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    writes = {
        (method, re.sub(r"\{\w+\}", "{}", path))
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete")
    }
    covered = {(method, re.sub(r"\{\w+\}", "{}", path)) for method, path, _ in WRITE_CASES}

    assert writes <= covered


DELETE_PATHS = ["/api/v1/profiles/{profile_id}/", "/api/v1/profiles/{profile_id}/unlock/"]


@pytest.mark.parametrize("path", DELETE_PATHS)
@pytest.mark.parametrize(
    ("body", "content_type", "errors"),
    [
        ('{"pin": "1234"}', "application/json", {"pin": ["Unknown field."]}),
        ('{"confirm": true}', "application/json", {"confirm": ["Unknown field."]}),
        ("[1]", "application/json", {"non_field_errors": ["Send no body: this reads none."]}),
        ("null", "application/json", {"non_field_errors": ["Send no body: this reads none."]}),
        ("confirm=yes", "application/x-www-form-urlencoded", {"confirm": ["Unknown field."]}),
    ],
)
def test_a_delete_with_a_body_is_a_400_naming_it_and_changes_nothing(
    api_client, profile, path, body, content_type, errors
):
    # A DELETE reads no body: {"pin": "1234"} or {"confirm": true} on a deletion looked
    # understood, and the profile went (or every unlock ended) whatever the body said.
    profile.set_pin("1234")  # so that a deletion the body did not stop would also need it
    profile.save()
    url = path.format(profile_id=profile.pk)

    response = api_client.delete(url, body, content_type=content_type)

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == errors
    assert_answer_documented(response, "delete", path)
    # not deleted, and not locked again (its unlocks not ended)
    assert list(Profile.objects.values_list("name", "unlock_generation")) == [("Asha", 0)]


@pytest.mark.parametrize("path", DELETE_PATHS)
def test_a_delete_with_a_body_the_api_does_not_parse_is_the_documented_415(
    api_client, profile, path
):
    response = api_client.delete(
        path.format(profile_id=profile.pk), "yes", content_type="text/plain"
    )

    assert response.status_code == 415, response.content
    assert_answer_documented(response, "delete", path)
    assert Profile.objects.filter(pk=profile.pk).exists()


@pytest.mark.parametrize("path", DELETE_PATHS)
@pytest.mark.parametrize("body", ["", "{}"])
def test_a_delete_with_no_body_or_an_empty_object_is_done(api_client, profile, path, body):
    # An empty object asks for nothing the operation leaves unread: some clients send one.
    response = api_client.delete(
        path.format(profile_id=profile.pk), body, content_type="application/json"
    )

    assert response.status_code == 204, response.content


def test_every_delete_of_the_schema_is_among_the_delete_paths():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    assert {path for path, operations in schema["paths"].items() if "delete" in operations} == set(
        DELETE_PATHS
    )


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/profiles/{profile}/homepage/?device=", "device"),
        ("/api/v1/profiles/{profile}/recommendations/?device=tv&n=", "n"),
        ("/api/v1/titles/{title}/?profile={profile}&language=", "language"),
    ],
)
def test_an_empty_parameter_is_a_400_not_its_default(api_client, profile, path, name):
    title = TitleFactory()

    response = api_client.get(path.format(profile=profile.pk, title=title.pk))

    assert response.status_code == 400
    assert response.json()["errors"] == {
        name: ["Must not be empty: leave the parameter out for its default."]
    }


REPEATED_QUERY_CASES = [
    ("/api/v1/profiles/{profile}/homepage/", "?device=tv&device=web", "device"),
    ("/api/v1/profiles/{profile}/homepage/", "?device=tv&rows=3&items=5&rows=4", "rows"),
    ("/api/v1/profiles/{profile}/recommendations/", "?device=tv&n=5&n=1", "n"),
    ("/api/v1/titles/{title}/", "?profile={profile}&profile={other}", "profile"),
    ("/api/v1/titles/{title}/", "?profile={profile}&language=hi&language=ta", "language"),
    ("/api/v1/profiles/{profile}/signals/", "?device=tv&device=web", "device"),
    ("/api/v1/profiles/{profile}/signals/", "?title={title}&title={other}", "title"),
    ("/api/v1/profiles/{profile}/signals/", "?limit=5&limit=1", "limit"),
    ("/api/v1/profiles/", "?offset=0&offset=1", "offset"),
]


@pytest.mark.parametrize(("path", "query", "name"), REPEATED_QUERY_CASES)
def test_a_repeated_query_parameter_is_a_400_naming_it(api_client, profile, path, query, name):
    # Django and DRF read the last of them: ?device=tv&device=web served a web page.
    title = TitleFactory()
    other = ProfileFactory(account=profile.account)
    url = (path + query).format(profile=profile.pk, title=title.pk, other=other.pk)

    response = api_client.get(url)

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {name: ["Give this parameter once."]}


def test_the_signal_historys_kind_filter_still_takes_several_kinds(api_client, profile):
    for kind in (SignalKind.PLAY_START, SignalKind.COMPLETE, SignalKind.THUMBS_UP):
        SignalFactory(profile=profile, kind=kind)

    response = api_client.get(
        f"/api/v1/profiles/{profile.pk}/signals/?kind=play_start&kind=complete"
    )

    assert response.status_code == 200, response.content
    assert {s["kind"] for s in response.json()["results"]} == {"play_start", "complete"}


def test_a_form_body_naming_a_field_twice_changes_nothing(api_client, profile):
    response = api_client.patch(
        f"/api/v1/profiles/{profile.pk}/",
        "name=Ravi&name=Meera",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"name": ["Give this field once."]}
    profile.refresh_from_db()
    assert profile.name == "Asha"


def test_a_form_body_naming_an_unknown_field_changes_nothing(api_client, profile):
    # A form post (the browsable API's) is refused an unknown field as a JSON body is.
    response = api_client.patch(
        f"/api/v1/profiles/{profile.pk}/",
        "name=Ravi&nickname=R",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"nickname": ["Unknown field."]}
    profile.refresh_from_db()
    assert profile.name == "Asha"


def test_a_form_body_may_carry_djangos_csrf_token_beside_its_fields(api_client, profile):
    # The browsable API's form sends the token with the fields; it is not an unknown field.
    response = api_client.patch(
        f"/api/v1/profiles/{profile.pk}/",
        "csrfmiddlewaretoken=abc&name=Ravi",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200, response.content
    profile.refresh_from_db()
    assert profile.name == "Ravi"


def test_a_form_body_may_repeat_a_list_field(api_client, profile):
    LanguageFactory(code="ta", name="Tamil", native_name="Tamil")
    LanguageFactory(code="hi", name="Hindi", native_name="Hindi")

    response = api_client.patch(
        f"/api/v1/profiles/{profile.pk}/",
        "preferred_languages=ta&preferred_languages=hi",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200, response.content
    assert sorted(response.json()["preferred_languages"]) == ["hi", "ta"]


def test_drfs_format_parameter_is_still_understood(api_client, account):
    ProfileFactory(account=account)

    response = api_client.get("/api/v1/profiles/?format=json&limit=1")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/profiles/"), ("GET", PROFILE), ("POST", "/api/v1/profiles/")],
)
def test_a_format_the_api_does_not_write_is_a_400_naming_the_parameter(
    api_client, profile, method, path
):
    # DRF answered "Not found." (404), on the profile list too, which documents no 404, and
    # on a profile that exists: it read as a missing object, not as a parameter's value.
    url = path.format(profile_id=profile.pk) + "?format=xml"

    response = api_client.generic(method, url, '{"name": "A"}', "application/json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"format": ['"xml" is not one of json.']}
    assert_answer_documented(response, method, path)


def test_the_schemas_formats_are_each_named_once_when_one_is_refused(client):
    # The schema has two renderers of each format (two media types apiece), and the
    # refusal listed the renderers: "one of yaml, yaml, json, json."
    response = client.get("/api/schema/?format=xml")

    assert response.status_code == 400, response.content
    assert b'"xml" is not one of yaml, json.' in response.content


def test_a_retrain_with_an_unknown_field_is_not_queued(admin_client):
    RegionFactory(code="IN")

    response = admin_client.post(
        "/api/v1/ops/retrains/",
        {"region": "IN", "clusters": ["tamil"]},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"clusters": ["Unknown field."]}
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        # DRF reads a JSON body as it reads a form, where every value is a string: "no"
        # was false, "7" was 7, 123 was the name "123", and "" removed the display language.
        ({"name": 123}, "name", "Must be a string."),
        ({"is_kids": "no"}, "is_kids", "Must be true or false."),
        ({"is_kids": 1}, "is_kids", "Must be true or false."),
        ({"maturity_limit": "7"}, "maturity_limit", "Must be one of 0, 7, 13, 16, 18."),
        ({"maturity_limit": True}, "maturity_limit", "Must be one of 0, 7, 13, 16, 18."),
        ({"display_language": ""}, "display_language", "Must not be empty: null for none."),
        ({"pin": 4321}, "pin", "Must be a string."),
    ],
)
def test_a_json_body_value_of_the_wrong_type_is_a_400_not_converted(
    api_client, profile, body, field, reason
):
    profile.display_language = LanguageFactory(code="ta")
    profile.save()

    response = api_client.patch(f"/api/v1/profiles/{profile.pk}/", body, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["errors"] == {field: [reason]}
    profile.refresh_from_db()
    assert (profile.name, profile.is_kids, profile.display_language_id) == ("Asha", False, "ta")
    assert not profile.has_pin


def test_an_unlock_with_a_pin_that_is_a_number_is_a_400(api_client, profile):
    profile.set_pin("1234")
    profile.save()

    response = api_client.post(
        f"/api/v1/profiles/{profile.pk}/unlock/", {"pin": 1234}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"pin": ["Must be a string."]}


def test_a_form_body_still_reads_its_strings(api_client, profile):
    # A form has only strings: the browsable API's forms send "true" and "13".
    response = api_client.patch(
        f"/api/v1/profiles/{profile.pk}/", {"name": "Ravi", "maturity_limit": "13"}
    )

    assert response.status_code == 200, response.json()
    profile.refresh_from_db()
    assert (profile.name, profile.maturity_limit) == ("Ravi", 13)


@pytest.mark.parametrize(
    ("method", "path", "field", "wrong", "values"),
    [
        ("get", "/api/v1/profiles/{profile}/homepage/", "device", "TV", "tv, mobile, tablet, web"),
        (
            "get",
            "/api/v1/profiles/{profile}/recommendations/",
            "device",
            "phone",
            "tv, mobile, tablet, web",
        ),
        ("get", "/api/v1/profiles/{profile}/signals/", "device", "TV", "tv, mobile, tablet, web"),
        ("get", "/api/v1/profiles/{profile}/signals/", "kind", "bogus", "impression, hover"),
        ("patch", "/api/v1/profiles/{profile}/", "maturity_limit", 5, "0, 7, 13, 16, 18"),
    ],
)
def test_a_value_not_among_a_fields_choices_is_answered_with_the_choices(
    api_client, profile, method, path, field, wrong, values
):
    # A client developer who sent "TV" learns what to send instead, wherever the field is
    # (the signals' own events said so; the homepage said only "not a valid choice")
    url = path.format(profile=profile.pk)
    if method == "get":
        response = api_client.get(url, {field: wrong})
    else:
        response = api_client.patch(url, {field: wrong}, format="json")

    assert response.status_code == 400
    (message,) = response.json()["errors"][field]
    assert str(wrong) in message
    assert values in message, message
