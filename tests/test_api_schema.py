"""The OpenAPI schema documents the errors each operation can answer, in the one error shape."""

import datetime as dt
import inspect
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.views import APIView

from artwork.models import DeviceClass
from recommendations.models import SignalKind
from recommendations.selectors.signals import CONTINUE_WATCHING_MAX
from tests.conftest import token_client
from tests.factories import (
    AccountFactory,
    ArtworkVariantFactory,
    AvailabilityFactory,
    ProfileFactory,
    TitleFactory,
)
from tests.openapi import api_schema_generate, assert_matches, operation_body, responses


@pytest.fixture(scope="module")
def schema() -> dict:
    return api_schema_generate()


def test_every_error_is_documented_with_the_error_shape(schema):
    homepage = responses(schema, "GET", "/api/v1/profiles/{profile_id}/homepage/")
    assert {"400", "401", "403", "404"} <= set(homepage)
    body = homepage["400"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Error"}
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"message", "code", "errors"}


def test_only_the_errors_an_operation_can_give(schema):
    # a list refuses a bad limit or an unknown parameter, and cannot miss an object (and,
    # as every operation, refuses an Accept header that names no JSON); as every read of a
    # household's, it is limited per household (config.api.throttling)
    assert set(responses(schema, "GET", "/api/v1/profiles/")) == {
        "200",
        "400",
        "401",
        "406",
        "429",
    }
    # a request body can be refused; a path naming an object can miss it
    assert "400" in responses(schema, "POST", "/api/v1/profiles/")
    assert "404" not in responses(schema, "POST", "/api/v1/profiles/")
    assert "404" in responses(schema, "DELETE", "/api/v1/profiles/{profile_id}/")
    # staff-only operations say so, and which permission each asks for
    poll = responses(schema, "GET", "/api/v1/ops/retrains/{run_id}/")
    assert poll["403"]["description"].startswith("Staff with permission to view training runs")
    retrain = responses(schema, "POST", "/api/v1/ops/retrains/")
    assert "`change_trainingrun`" in retrain["403"]["description"]
    # a profile's data reads its unlock header; the profile list and its unlock do not
    homepage = schema["paths"]["/api/v1/profiles/{profile_id}/homepage/"]["get"]
    assert "X-Profile-Unlock" in [p["name"] for p in homepage["parameters"]]
    unlock = schema["paths"]["/api/v1/profiles/{profile_id}/unlock/"]["post"]
    assert "X-Profile-Unlock" not in [p["name"] for p in unlock.get("parameters", [])]
    assert unlock["responses"]["403"]["description"] == "Wrong PIN (`wrong_pin`)."
    assert "403" not in responses(schema, "GET", "/api/v1/profiles/{profile_id}/")
    # and what only the view knows, for the method that can give it
    assert "413" in responses(schema, "POST", "/api/v1/profiles/{profile_id}/signals/")
    assert "413" not in responses(schema, "GET", "/api/v1/profiles/{profile_id}/signals/")


def operations(schema: dict, *methods: str) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, by_method in schema["paths"].items()
        for method in by_method
        if method.upper() in methods
    ]


def test_every_operation_that_checks_its_query_string_documents_400(schema):
    # Each refuses an unknown, empty or repeated parameter (tests/test_api_unknown_input.py),
    # even one that reads no parameter at all: /profiles/{id}/, continue-watching/, ...
    checked = operations(schema, "GET", "DELETE")
    assert ("DELETE", "/api/v1/profiles/{profile_id}/") in checked
    assert ("GET", "/api/v1/profiles/{profile_id}/continue-watching/") in checked
    undocumented = [op for op in checked if "400" not in responses(schema, *op)]

    assert undocumented == []
    for method, path in checked:
        body = operation_body(schema, method, path, "400")
        assert body == {"$ref": "#/components/schemas/Error"}


def test_every_operation_with_a_body_documents_415_and_413(schema):
    writes = operations(schema, "POST", "PUT", "PATCH")
    assert ("POST", "/api/v1/profiles/{profile_id}/signals/") in writes

    assert [op for op in writes if "415" not in responses(schema, *op)] == []
    # a body past Django's limits (tests/test_api_responses.py), or the signals' own
    assert [op for op in writes if "413" not in responses(schema, *op)] == []


def test_every_write_documents_411_and_no_read_does(schema):
    # A body sent without its length is refused unread on every write, DELETE too, before
    # its token is checked (tests/test_api_body_length.py); a read's body is read by none.
    writes = operations(schema, "POST", "PUT", "PATCH", "DELETE")
    assert ("POST", "/api/v1/profiles/{profile_id}/signals/") in writes
    assert ("DELETE", "/api/v1/profiles/{profile_id}/unlock/") in writes

    assert [op for op in writes if "411" not in responses(schema, *op)] == []
    for method, path in writes:
        assert operation_body(schema, method, path, "411") == {"$ref": "#/components/schemas/Error"}
        assert "`length_required`" in responses(schema, method, path)["411"]["description"]
    reads = operations(schema, "GET")
    assert [op for op in reads if "411" in responses(schema, *op)] == []


@pytest.mark.django_db
def test_a_signal_batch_that_is_not_json_is_the_documented_415(schema):
    account = AccountFactory()
    profile = ProfileFactory(account=account)
    documented = operation_body(schema, "POST", "/api/v1/profiles/{profile_id}/signals/", "415")

    response = token_client(account).post(
        f"/api/v1/profiles/{profile.pk}/signals/", data="events", content_type="text/plain"
    )

    assert response.status_code == 415
    assert_matches(schema, response.json(), documented["$ref"])


@pytest.mark.parametrize("path", ["/api/v1/profiles/", "/api/v1/profiles/{profile_id}/signals/"])
def test_the_paginators_bounds_are_documented(schema, path):
    parameters = {p["name"]: p["schema"] for p in schema["paths"][path]["get"]["parameters"]}

    # with the defaults a page has without them: a client sizing its pages reads them here
    assert parameters["limit"] == {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}
    assert parameters["offset"] == {
        "type": "integer",
        "format": "int64",
        "minimum": 0,
        "maximum": 2**63 - 1,
        "default": 0,
    }


def test_request_bodies_say_they_refuse_unknown_fields_and_an_empty_batch(schema):
    # The server refuses both with a 400 (config.api.strict, the signal parser); a schema
    # that allowed them had generated clients, and schemathesis, send what is refused.
    components = schema["components"]["schemas"]
    closed = [
        "ProfileInputRequest",
        "PatchedProfileInputRequest",
        "ProfileUnlockInputRequest",
        "RetrainInputRequest",
        "SignalBatchRequest",
        "SignalEventRequest",
    ]

    assert [
        name for name in closed if components[name].get("additionalProperties") is not False
    ] == []
    assert components["SignalBatchRequest"]["properties"]["events"]["minItems"] == 1
    # a response may grow a field without breaking a client: those stay open
    assert "additionalProperties" not in components["ProfileOutput"]


@pytest.mark.django_db
def test_the_documented_shape_is_what_the_api_answers(schema):
    response = token_client(AccountFactory()).get("/api/v1/profiles/999999/homepage/?device=tv")

    assert response.status_code == 404
    documented = schema["components"]["schemas"]["Error"]["properties"]
    assert set(response.json()) <= set(documented)
    assert set(response.json()) >= set(schema["components"]["schemas"]["Error"]["required"])


@pytest.mark.django_db
def test_the_profile_list_is_the_paginated_shape_the_schema_documents(schema):
    account = AccountFactory()
    ProfileFactory.create_batch(3, account=account)
    documented = operation_body(schema, "GET", "/api/v1/profiles/")

    response = token_client(account).get("/api/v1/profiles/?limit=2&offset=1")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert len(body["results"]) == 2
    assert_matches(schema, body, documented["$ref"])
    operation = schema["paths"]["/api/v1/profiles/"]["get"]
    assert {"limit", "offset"} <= {p["name"] for p in operation["parameters"]}


@pytest.mark.django_db
def test_the_signal_history_is_the_paginated_shape_the_schema_documents(schema):
    # given: signals with every field filled in, and one with every nullable field null
    account = AccountFactory()
    profile = ProfileFactory(account=account)
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    variant = ArtworkVariantFactory(title=title)
    now = timezone.now()
    sent = [
        {
            "kind": "impression",
            "title": title.pk,
            "device": "tv",
            "occurred_at": (now - dt.timedelta(minutes=5)).isoformat(),
            "client_event_id": str(uuid.uuid4()),
            "page_id": str(uuid.uuid4()),
            "row": "trending",
            "position": 2,
            "artwork_variant": variant.pk,
        },
        {
            "kind": "hover",
            "title": title.pk,
            "value": 1200,
            "device": "mobile",
            "occurred_at": (now - dt.timedelta(minutes=4)).isoformat(),
            "client_event_id": str(uuid.uuid4()),
        },
        {
            "kind": "row_scroll_past",
            "device": "web",
            "occurred_at": (now - dt.timedelta(minutes=3)).isoformat(),
            "client_event_id": str(uuid.uuid4()),
            "row": "trending",
        },
    ]
    client = token_client(account)
    path = f"/api/v1/profiles/{profile.pk}/signals/"
    posted = client.post(path, {"events": sent}, format="json")
    assert posted.status_code == 200, posted.json()
    documented = operation_body(schema, "GET", "/api/v1/profiles/{profile_id}/signals/")

    # when
    response = client.get(path)

    # then: the page holds them all, nulls included, in the documented shape
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == len(sent)
    nullable = ("title", "episode", "value", "page_id", "position", "artwork_variant")
    scrolled = next(r for r in body["results"] if r["kind"] == "row_scroll_past")
    assert {name: scrolled[name] for name in nullable} == dict.fromkeys(nullable)
    shown = next(r for r in body["results"] if r["kind"] == "impression")
    assert shown["artwork_variant"] == variant.pk
    assert_matches(schema, body, documented["$ref"])


def test_the_matcher_refuses_a_body_of_another_shape(schema):
    documented = operation_body(schema, "GET", "/api/v1/profiles/{profile_id}/signals/")
    with pytest.raises(jsonschema.ValidationError):
        assert_matches(schema, [], documented["$ref"])


def texts(node: object, where: str = "") -> Iterator[tuple[str, str]]:
    """Every description and summary of the schema, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str):
                yield f"{where}/{key}", value
            else:
                yield from texts(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from texts(item, f"{where}[{index}]")


def subclasses(cls: type) -> Iterator[type]:
    for subclass in cls.__subclasses__():
        yield subclass
        yield from subclasses(subclass)


def docstring_clean(doc: str) -> str:
    # as drf-spectacular puts a docstring in the schema (plumbing.get_doc)
    return "\n".join(line.rstrip() for line in inspect.cleandoc(doc).rstrip().split("\n"))


def test_no_description_is_a_docstring(schema):
    # Docstrings say why, to developers: a view's mixin (NoQueryOnWrites) described its
    # operations, a body's base serializer (KnownFieldsOnly) its request bodies. What a
    # client reads is written for it: @extend_schema(description=...), help_text, ...
    classes = {*subclasses(APIView), *subclasses(serializers.Serializer)}
    owners = {base for cls in classes for base in cls.__mro__}
    docstrings = {docstring_clean(owner.__doc__) for owner in owners if owner.__doc__}
    handlers = ("get", "post", "put", "patch", "delete")
    docstrings |= {
        docstring_clean(doc)
        for cls in classes
        for name in handlers
        if (doc := inspect.getdoc(getattr(cls, name, None)))
    }
    assert "NoQueryOnWrites" in {owner.__name__ for owner in owners}

    assert [where for where, text in texts(schema) if text in docstrings] == []


def module_names() -> set[str]:
    """The project's packages and modules, each a part of a dotted path: config, signal_events."""
    root = Path(__file__).resolve().parent.parent
    names = set()
    for package in root.iterdir():
        if (package / "__init__.py").exists():
            names.add(package.name)
            names.update(path.stem for path in package.rglob("*.py"))
            names.update(path.parent.name for path in package.rglob("__init__.py"))
    return names - {"__init__"}


def test_no_description_talks_of_the_code(schema):
    # What a client has no use for: code (``...``), a module path, talk of mixins and tests,
    # or of how the database keeps a rule (a model's help_text, written for admins).
    modules = "|".join(sorted(module_names()))
    internal = re.compile(
        rf"``|\b(?:{modules})\.[a-z_]|Documentation only|Mixed into|\bmixin|\btests?\b"
        r"|\bdatabase\b",
        re.IGNORECASE,
    )
    assert internal.search("parsing uses ``signal_events.event_columns_parse``")
    assert internal.search("what config.api.exceptions.exception_handler writes")
    assert not internal.search("`errors.events.<index>.<field>` lists each problem")
    assert internal.search("so the database itself refuses a sixth profile")

    leaks = [(where, text) for where, text in texts(schema) if internal.search(text)]

    assert leaks == []
    # and the client's texts stay
    operation = schema["paths"]["/api/v1/profiles/{profile_id}/homepage/"]["get"]
    assert operation["description"].startswith("Computed fresh on every request")
    components = schema["components"]["schemas"]
    assert components["Error"]["description"]
    assert components["SignalEventRequest"]["description"]


def client_text(description: str | None) -> str:
    """A description without the list of choices drf-spectacular writes for an enum."""
    lines = (description or "").splitlines()
    return "\n".join(line for line in lines if not line.startswith("* `")).strip()


def undescribed(schema: dict) -> list[str]:
    """Every parameter and every body field (request or response) a client reads nothing on."""
    missing = [
        f"{method.upper()} {path} {parameter['in']} {parameter['name']}"
        for path, by_method in schema["paths"].items()
        for method, operation in by_method.items()
        for parameter in operation.get("parameters", [])
        if not client_text(parameter.get("description"))
    ]
    missing += [
        f"{name}.{field}"
        for name, component in schema["components"]["schemas"].items()
        for field, definition in component.get("properties", {}).items()
        if not client_text(definition.get("description"))
    ]
    return missing


def test_every_parameter_and_field_says_what_it_is(schema):
    # A path's id, a signal's episode, a page's next link: a client reading the docs page (or
    # a generated client's doc comments) learns what each holds and where its value comes
    # from. An enum's generated list of choices is not that, alone.
    assert client_text("* `tv` - TV\n* `web` - Web") == ""
    assert client_text("The device class asking.\n\n* `tv` - TV") == "The device class asking."

    assert undescribed(schema) == []


def test_a_field_that_may_be_null_says_null_not_empty(schema):
    # A client tests a nullable field against null; "empty" reads as "" or [] (which a
    # string like a credit's character, or a list like a film's seasons, rightly are).
    wrong = [
        f"{name}.{field}: {definition['description']}"
        for name, component in schema["components"]["schemas"].items()
        for field, definition in component.get("properties", {}).items()
        if definition.get("nullable") and "empty" in client_text(definition.get("description"))
    ]

    assert wrong == []


def test_large_numbers_are_written_one_way(schema):
    # One limit, one spelling: the batch's "Up to 1,000 events" and its field's "at most
    # 1000" read as two numbers. Years, ISO and RFC numbers are not limits.
    bare = re.compile(r"(?<![\d,.:-])(?<!ISO )(?<!RFC )\d{4,}(?![\d,-])")
    assert bare.search("at most 1000 (more is a 400)")
    assert not bare.search("at most 1,000; ISO 8601, RFC 3339, 2026-01-31")

    assert [(where, text) for where, text in texts(schema) if bare.search(text)] == []


def test_the_batch_limits_name_the_status_each_gives(schema):
    # Too many events is a 400 naming `events`; only a body over the byte limit is a 413.
    path = "/api/v1/profiles/{profile_id}/signals/"
    assert "1,048,576 bytes" in responses(schema, "POST", path)["413"]["description"]
    events = schema["components"]["schemas"]["SignalBatchRequest"]["properties"]["events"]
    assert "at most 1,000 (more is a 400)" in events["description"]


def test_continue_watching_says_how_many_titles_it_lists(schema):
    # A homepage's Continue Watching row holds up to `items` (75) titles; the list stops
    # at its cap, which a client paging nothing must be told.
    path = "/api/v1/profiles/{profile_id}/continue-watching/"
    body = operation_body(schema, "GET", path)["$ref"].rsplit("/", 1)[1]
    results = schema["components"]["schemas"][body]["properties"]["results"]

    assert f"at most {CONTINUE_WATCHING_MAX}" in results["description"]


def test_continue_watching_says_why_it_is_one_list_not_pages(schema):
    # Every other list is a LimitOffsetPagination page: a client developer reading this one
    # must learn it has `results` alone, and why, before a `limit` comes back a 400.
    path = "/api/v1/profiles/{profile_id}/continue-watching/"
    operation = schema["paths"][path]["get"]
    body = operation_body(schema, "GET", path)["$ref"].rsplit("/", 1)[1]

    assert list(schema["components"]["schemas"][body]["properties"]) == ["results"]
    assert "Not paginated, on purpose" in operation["description"]
    assert "`limit` and `offset` are refused (400)" in operation["description"]


def test_an_event_says_a_row_scroll_past_names_no_tile(schema):
    # The batch refuses a scroll-past with a title, episode, position or artwork variant:
    # a client reading the schema learns it before its first 400.
    event = schema["components"]["schemas"]["SignalEventRequest"]["properties"]

    assert (
        "a row_scroll_past takes no title, episode, position or artwork_variant"
        in (event["title"]["description"])
    )


def test_a_batchs_duplicates_are_documented_as_every_report_stored_once(schema):
    # A client counting `duplicates` as resends (the same client_event_id) would read a
    # tile reported again under a new id, which the service also counts there, as a bug.
    result = schema["components"]["schemas"]["SignalBatchResult"]["properties"]
    duplicates = result["duplicates"]["description"]

    assert "client_event_id" in duplicates
    assert "impression" in duplicates
    assert "row_scroll_past" in duplicates
    assert "under a new client_event_id" in duplicates


def test_every_signal_kind_is_documented_including_a_removed_rating(schema):
    # A client that offers "remove rating" finds the kind to send, and what it does.
    components = schema["components"]["schemas"]
    kind = components["SignalEventRequest"]["properties"]["kind"]
    enum = components[kind["allOf"][0]["$ref"].rsplit("/", 1)[1]]["enum"]

    assert set(enum) == set(SignalKind.values)
    assert "thumbs_cleared" in enum
    assert "thumbs_cleared removes the title's rating" in kind["description"]


def _response_components(schema: dict) -> set[str]:
    """Every component a response body may hold, followed through its references."""
    refs = re.compile(r"#/components/schemas/(\w+)")
    found: set[str] = set()
    todo = [
        name
        for operations in schema["paths"].values()
        for operation in operations.values()
        if isinstance(operation, dict)
        for answer in operation.get("responses", {}).values()
        for name in refs.findall(repr(answer))
    ]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo += refs.findall(repr(schema["components"]["schemas"][name]))
    return found


def test_every_field_a_response_always_has_is_required(schema):
    # A client generated from the schema (a TV app's Kotlin or Swift models) makes an
    # optional field an optional type: is_kids, a signal's row or a page's `next` had to be
    # unwrapped on every read although the API always writes them. Only a field that a
    # body really leaves out may be optional.
    sometimes_absent = {("Error", "retry_after_seconds")}  # 429 only
    components = schema["components"]["schemas"]

    optional = sorted(
        (name, field)
        for name in _response_components(schema)
        for field in components[name].get("properties", {})
        if field not in components[name].get("required", [])
        and (name, field) not in sometimes_absent
    )

    assert optional == []


@pytest.mark.django_db
def test_an_event_the_api_stores_is_one_the_schema_allows(schema):
    # An event not shown in a row names no row and no position: the API stores null and ""
    # as "none" (and gives "" back in the history), so the schema may not refuse them, or a
    # client validating against it refuses what it reads back, and schemathesis calls the
    # API wrong for storing them.
    account = AccountFactory()
    profile = ProfileFactory(account=account)
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    at = (timezone.now() - dt.timedelta(minutes=5)).isoformat()
    base = {"kind": "play_start", "title": title.pk, "device": "tv", "occurred_at": at}
    events = [
        {**base, "client_event_id": str(uuid.uuid4()), "row": None, "position": None},
        {**base, "client_event_id": str(uuid.uuid4()), "row": ""},
    ]
    body = {"events": events}

    response = token_client(account).post(
        f"/api/v1/profiles/{profile.pk}/signals/", body, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["new"] == len(events)
    assert_matches(schema, body, "#/components/schemas/SignalBatchRequest")


def test_the_row_ranker_is_documented_with_its_values_as_the_title_ranker_is(schema):
    # Both are 'prior' or 'learned'; a client generated from the schema got an enum for one
    # and a free string for the other, and had to compare the row ranker's by hand.
    page = schema["components"]["schemas"]["HomepageOutput"]["properties"]

    def values(prop: dict) -> list[str]:
        ref = prop["allOf"][0]["$ref"] if "allOf" in prop else prop.get("$ref")
        return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["enum"] if ref else []

    assert values(page["row_ranker"]) == values(page["ranker"]) == ["prior", "learned"]


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_503_the_api_raises_says_when_to_try_again():
    # Every view module is imported by the URLs, so every error the API raises is known.
    import config.urls  # noqa: F401

    unavailable = {
        error.__name__: getattr(error, "wait", None)
        for error in _subclasses(APIException)
        if error.status_code == 503
    }

    assert set(unavailable) >= {"PinChecksUnavailable", "ModelUnavailable"}
    assert {name for name, wait in unavailable.items() if not wait} == set()


def test_every_503_and_429_documents_its_retry_after_header(schema):
    answered = [
        (method, path, code, response)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for code, response in operation.get("responses", {}).items()
        if code in ("429", "503")
    ]

    assert {code for _, _, code, _ in answered} == {"429", "503"}
    for method, path, code, response in answered:
        header = response.get("headers", {}).get("Retry-After")
        assert header, (method, path, code)
        assert header["schema"] == {"type": "integer"}


def _enum_values(schema: dict, prop: dict) -> list | None:
    """The values a property is documented to take, through its reference; None if free."""
    ref = prop["allOf"][0]["$ref"] if "allOf" in prop else prop.get("$ref")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["enum"] if ref else None


def test_response_fields_of_a_fixed_set_of_values_are_documented_as_enums(schema):
    # A title's kind, a credit's role, a title's maturity and the device classes of its
    # artwork only ever hold their model's choices; documented as a free string (or any
    # integer) they became a String in a generated client, compared by hand with literals
    # copied from the description, as the row ranker was.
    from catalog.models import Credit, MaturityLevel, Title

    components = schema["components"]["schemas"]
    detail = components["TitleDetail"]["properties"]
    documented = {
        "TitleDetail.kind": _enum_values(schema, detail["kind"]),
        "ContinueWatchingItem.kind": _enum_values(
            schema, components["ContinueWatchingItem"]["properties"]["kind"]
        ),
        "Credit.role": _enum_values(schema, components["Credit"]["properties"]["role"]),
        "TitleDetail.maturity": _enum_values(schema, detail["maturity"]),
        "Variant.device_classes": _enum_values(
            schema, components["Variant"]["properties"]["device_classes"]["items"]
        ),
    }

    assert documented == {
        "TitleDetail.kind": Title.Kind.values,
        "ContinueWatchingItem.kind": Title.Kind.values,
        "Credit.role": Credit.Role.values,
        "TitleDetail.maturity": MaturityLevel.values,
        "Variant.device_classes": DeviceClass.values,
    }
    # and the enums that were already there keep their names, which generated clients use
    assert {"DeviceEnum", "MaturityLimitEnum", "KindEnum"} <= set(components)
    assert components["KindEnum"]["enum"] == SignalKind.values


def test_a_training_runs_figures_are_documented_as_objects(schema):
    # Each is a JSON object ({} before the run has any); a schema of no type let a client
    # generator make them an untyped value.
    run = schema["components"]["schemas"]["TrainingRun"]["properties"]

    assert {name: run[name].get("type") for name in ("timings", "data_sizes", "metrics")} == (
        dict.fromkeys(("timings", "data_sizes", "metrics"), "object")
    )


def test_a_retrain_refused_for_a_busy_cluster_says_so(schema):
    # The 409's body is a run, like the 201's: without a description a client could not
    # tell a run refused (never to start) from one queued.
    answers = responses(schema, "POST", "/api/v1/ops/retrains/")

    assert "busy" in answers["409"]["description"]
    assert "`rejected`" in answers["409"]["description"]
    assert answers["201"]["description"]


def test_the_docs_try_it_out_body_for_signals_is_a_batch_the_api_takes(schema):
    # /api/docs/ fills "Try it out" from the operation's example; without one it filled each
    # field's type ("occurred_at": "string", "title": 0), a 400 naming six fields.
    from django.conf import settings

    from recommendations.services.signals import signal_clock_skew
    from recommendations.signal_events import parse_events

    body = schema["paths"]["/api/v1/profiles/{profile_id}/signals/"]["post"]["requestBody"]
    examples = body["content"]["application/json"]["examples"]
    (example,) = examples.values()
    events = example["value"]["events"]
    # as the server reads it, a moment after the example's last event
    latest = max(dt.datetime.fromisoformat(event["occurred_at"]) for event in events)
    parsed, errors = parse_events(
        events,
        now=latest + dt.timedelta(minutes=1),
        max_future=signal_clock_skew(),
        max_age=dt.timedelta(days=settings.TONIGHT["SIGNAL_MAX_AGE_DAYS"]),
    )
    assert not errors, errors.as_detail()
    assert [event.kind for event in parsed] == ["play_start", "progress"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/profiles/{profile_id}/homepage/",
        "/api/v1/profiles/{profile_id}/recommendations/",
        "/api/v1/profiles/{profile_id}/continue-watching/",
    ],
)
def test_every_list_drawn_for_a_screen_requires_its_device(schema, path):
    # The device changes the ranking features and the frames chosen: a client generated
    # from the schema must be made to send it, from the same four values everywhere.
    (device,) = (p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "device")

    assert device["required"] is True
    assert device["schema"]["enum"] == DeviceClass.values
