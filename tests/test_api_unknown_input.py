"""A field or parameter an endpoint does not read is a 400 naming it, never silently ignored."""

import datetime as dt
import re
import uuid

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from profiles.models import Profile
from recommendations.models import Signal, TrainingRun
from tests.factories import ProfileFactory, RegionFactory, TasteClusterFactory, TitleFactory

pytestmark = pytest.mark.django_db


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
    ("/api/v1/profiles/{profile}/homepage/", "?DEVICE=mobile", "DEVICE"),
    ("/api/v1/profiles/{profile}/homepage/", "?device=mobile&row=3", "row"),
    ("/api/v1/profiles/{profile}/recommendations/", "?count=5", "count"),
    ("/api/v1/profiles/{profile}/signals/", "?kinds=play_start", "kinds"),
    ("/api/v1/profiles/{profile}/continue-watching/", "?limit=3", "limit"),
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


def test_every_get_endpoint_of_the_schema_refuses_unknown_parameters():
    # A new endpoint must join the cases above: each view checks its own parameters.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    gets = {path for path, operations in schema["paths"].items() if "get" in operations}
    covered = {re.sub(r"\{\w+\}", "{}", path) for path, _, _ in UNKNOWN_QUERY_CASES}

    assert {re.sub(r"\{\w+\}", "{}", path) for path in gets} <= covered


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/profiles/{profile}/homepage/?device=", "device"),
        ("/api/v1/profiles/{profile}/recommendations/?n=", "n"),
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


def test_drfs_format_parameter_is_still_understood(api_client, account):
    ProfileFactory(account=account)

    response = api_client.get("/api/v1/profiles/?format=json&limit=1")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


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
