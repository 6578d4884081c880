"""The generated OpenAPI schema, and a strict check of a response body against it.

A DRF serializer run on a response (``Serializer(data=body).is_valid()``) is input
validation: it turns ``"5"`` into 5 and ignores keys it does not declare, so it passes
bodies the schema does not describe. JSON Schema with every object closed does not.
"""

import functools

import jsonschema
from drf_spectacular.generators import SchemaGenerator


def api_schema_generate() -> dict:
    """The public schema of the project's URLs, whatever a test's ``urls`` marker says."""
    return SchemaGenerator(urlconf="config.urls").get_schema(request=None, public=True)


@functools.cache
def _api_schema_cached() -> dict:
    # Generating takes a second; only read by assert_matches_operation, never changed.
    return api_schema_generate()


def responses(schema: dict, method: str, path: str) -> dict:
    return schema["paths"][path][method.lower()]["responses"]


def operation_body(schema: dict, method: str, path: str, status: str = "200") -> dict:
    return responses(schema, method, path)[status]["content"]["application/json"]["schema"]


def _openapi_to_json_schema(node: object) -> object:
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema's ``type: [..., "null"]``."""
    if isinstance(node, list):
        return [_openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _openapi_to_json_schema(value) for key, value in node.items()}
    if converted.pop("nullable", False):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        else:  # a $ref or allOf: null or that
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


def assert_matches(schema: dict, body: object, component_ref: str) -> None:
    """``body`` is valid against ``component_ref`` of the generated schema, strictly."""
    components = _openapi_to_json_schema(schema["components"])
    for component in components["schemas"].values():
        if component.get("type") == "object":
            component.setdefault("additionalProperties", False)
    jsonschema.validate(
        body,
        {"$ref": component_ref, "components": components},
        format_checker=jsonschema.FormatChecker(),
    )


def assert_matches_operation(body: object, method: str, path: str, status: str = "200") -> None:
    """``body`` is what the schema documents for ``method path`` answering ``status``."""
    schema = _api_schema_cached()
    assert_matches(schema, body, operation_body(schema, method, path, status)["$ref"])


def assert_answer_documented(response: object, method: str, path: str) -> None:
    """``response`` is an answer the schema documents for ``method path``: its status, its
    media type, its headers and, strictly, its body (or none, where none is documented); an
    error's ``code`` is one its description names."""
    documented = responses(_api_schema_cached(), method, path)
    status = str(response.status_code)
    assert status in documented, f"{method} {path} answered {status}: {response.content[:300]}"
    answer = documented[status]
    for header in answer.get("headers", {}):
        assert response.has_header(header), f"{method} {path} {status} without {header}"
    if "content" not in answer:
        assert response.content == b"", f"{method} {path} {status} has a body"
        return
    media_type = response["Content-Type"].split(";")[0]
    assert media_type in answer["content"], f"{method} {path} {status} is {media_type}"
    body = response.json()
    component = answer["content"][media_type]["schema"]["$ref"]
    assert_matches(_api_schema_cached(), body, component)
    if component == "#/components/schemas/Error":
        # Clients branch on the code: the answer's description names each one it can carry.
        assert f"`{body['code']}`" in answer["description"], (method, path, status, body)
