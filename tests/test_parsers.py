"""A JSON object that names a key twice is a 400 naming it, by either of the API's parsers."""

import gzip
import io
import json

import orjson
import pytest
from django.utils import timezone
from rest_framework import exceptions

from config.api.parsers import JSONParser, OrjsonParser
from recommendations.models import Signal
from tests.factories import AvailabilityFactory, TitleFactory

PARSERS = [JSONParser, OrjsonParser]

#: Bodies that name a key twice, and where: as the error's path.
REPEATS = [
    ('{"name": "A", "name": "B"}', "name"),
    ('{"name":"A","name":"B"}', "name"),
    ('{"name" : "A",\n "name"\t: "B"}', "name"),
    ('{"events": [{"kind": "a"}, {"kind": "a", "kind": "b"}]}', "events[1].kind"),
    ('[{"a": 1}, {"b": {"c": 1, "c": 1}}]', "[1].b.c"),
    # a string's colons and escaped quotes, and an escaped spelling of the key
    ('{"row": "a\\":b", "t": "12:00", "t": "13:00"}', "t"),
    ('{"k\\u0065y": 1, "key": 2}', "key"),
    ('{"caf\\u00e9": 1, "café": 2}', "café"),
    # an escaped colon that decodes into as many colons as the repeat drops
    ('{"s": "\\u003a", "a": 1, "a": 2}', "a"),
    # a repeat inside the value that a repeat of its own key drops
    ('{"a": {"b": 1, "b": 2}, "a": 3}', "a"),
]

#: Bodies without a repeat that the orjson parser cannot clear from its bytes alone.
NO_REPEATS = [
    '{"name": "A \\"quoted\\": no key", "b": 1}',
    '{"a" : 1, "b": "x:y:z"}',
    '{"caf\\u00e9": 1, "cafe": 2}',
    '{"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]}',
    '{"events": [{"kind": "play_start", "at": "2026-12-04T21:00:00+05:30"}]}',
    '"a:b"',
    "[]",
]


def parse(parser_class: type, body: str | bytes) -> object:
    data = body.encode() if isinstance(body, str) else body
    return parser_class().parse(io.BytesIO(data), "application/json", {})


@pytest.mark.parametrize("parser_class", PARSERS)
@pytest.mark.parametrize(("body", "where"), REPEATS)
def test_a_repeated_key_is_refused_naming_where(parser_class, body, where):
    with pytest.raises(exceptions.ValidationError) as refused:
        parse(parser_class, body)

    detail = refused.value.detail
    path = []
    while isinstance(detail, dict):
        (name, detail), *_ = detail.items()
        path.append(f"[{name}]" if name.isdigit() else f".{name}")
    assert "".join(path).lstrip(".") == where
    assert detail == ["Give this field once."]


@pytest.mark.parametrize("parser_class", PARSERS)
@pytest.mark.parametrize("body", NO_REPEATS)
def test_a_body_without_repeats_reads_as_json_reads_it(parser_class, body):
    assert parse(parser_class, body) == json.loads(body)


def test_orjson_parses_a_batch_without_the_standard_library(monkeypatch):
    # The cheap check clears an ordinary batch; json.loads would cost it 3-5 times orjson's parse.
    body = orjson.dumps({"events": [{"kind": "play_start", "title": n} for n in range(500)]})
    monkeypatch.setattr("config.api.parsers.json.loads", None)

    assert parse(OrjsonParser, body) == orjson.loads(body)


@pytest.mark.parametrize("parser_class", PARSERS)
@pytest.mark.parametrize("body", ['{"a": ', '{"a": NaN}', '{"a": Infinity}'])
def test_broken_json_is_still_a_parse_error(parser_class, body):
    with pytest.raises(exceptions.ParseError, match="JSON parse error"):
        parse(parser_class, body)


@pytest.mark.django_db
def test_a_profile_patched_with_a_name_twice_keeps_its_name(api_client, profile):
    response = api_client.patch(
        f"/api/v1/profiles/{profile.pk}/",
        data='{"name": "Ravi", "name": "Meera"}',
        content_type="application/json",
    )

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"name": ["Give this field once."]}
    profile.refresh_from_db()
    assert profile.name == "Asha"


@pytest.mark.django_db
def test_an_event_with_two_kinds_stores_nothing(api_client, account, profile):
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    occurred_at = timezone.now().isoformat()
    body = (
        f'{{"events": [{{"kind": "play_start", "title": {title.pk}, "device": "tv", '
        f'"occurred_at": "{occurred_at}", '
        '"client_event_id": "5d0c6c52-44a1-4b8a-9d35-8f1f2f6f3b11", "kind": "complete"}]}'
    )

    response = api_client.post(
        f"/api/v1/profiles/{profile.pk}/signals/", data=body, content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["message"] == "events[0].kind: Give this field once."
    assert not Signal.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("coding", ["gzip", "br", "deflate, gzip"])
def test_a_compressed_body_is_a_415_naming_its_content_encoding(
    api_client, account, profile, coding
):
    # A TV app that gzips its signal batches was told "str is not valid UTF-8: surrogates
    # not allowed" (a 400 about JSON), and a profile body "'utf-8' codec can't decode":
    # neither says that the API reads uncompressed bodies only.
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    event = {
        "kind": "play_start",
        "title": title.pk,
        "device": "tv",
        "occurred_at": timezone.now().isoformat(),
        "client_event_id": "5d0c6c52-44a1-4b8a-9d35-8f1f2f6f3b11",
    }
    bodies = {
        f"/api/v1/profiles/{profile.pk}/signals/": {"events": [event]},
        f"/api/v1/profiles/{profile.pk}/": {"name": "Meera"},
    }

    for path, body in bodies.items():
        response = api_client.generic(
            "POST" if path.endswith("signals/") else "PATCH",
            path,
            gzip.compress(json.dumps(body).encode()),
            content_type="application/json",
            HTTP_CONTENT_ENCODING=coding,
        )

        assert response.status_code == 415, response.content
        assert response.json()["code"] == "unsupported_media_type"
        assert response.json()["message"] == (
            f'Content-Encoding "{coding}" is not supported: send the body uncompressed.'
        )
    assert not Signal.objects.exists()
    profile.refresh_from_db()
    assert profile.name == "Asha"


@pytest.mark.django_db
@pytest.mark.parametrize("coding", ["identity", "IDENTITY", ""])
def test_a_body_sent_as_identity_is_read(api_client, profile, coding):
    response = api_client.patch(
        f"/api/v1/profiles/{profile.pk}/",
        data='{"name": "Meera"}',
        content_type="application/json",
        HTTP_CONTENT_ENCODING=coding,
    )

    assert response.status_code == 200, response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=B"]
)
def test_a_compressed_form_body_is_a_415_too(api_client, profile, content_type):
    # The browsable API's forms go through DRF's form and multipart parsers, not the JSON
    # ones: a compressed body must be refused there as well, not read as garbled fields.
    response = api_client.generic(
        "PATCH",
        f"/api/v1/profiles/{profile.pk}/",
        gzip.compress(b"name=Meera"),
        content_type=content_type,
        HTTP_CONTENT_ENCODING="gzip",
    )

    assert response.status_code == 415, response.content
    assert response.json()["code"] == "unsupported_media_type"
    profile.refresh_from_db()
    assert profile.name == "Asha"
