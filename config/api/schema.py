"""The OpenAPI schema documents every error an operation can answer, in the API's one shape.

drf-spectacular documents the success response it can see; the errors come
from the exception handler (``config.api.exceptions``), authentication,
permissions and throttles, which it cannot. Listing them by hand on every
view would drift, so they are derived from what each view is made of: a
request body can be refused (400), be of a media type the view does not
parse (415), be larger than Django reads (413) or come without its length
(411, on every write operation, DELETE too: ``config.middleware``; a write no
operation takes is its 405 or 404 instead, as the schema lists none), all four on a
DELETE too, whose body is parsed only to be refused by name, a query string can be
refused (400: every GET and DELETE view checks its parameters,
``config.api.strict``, so even one that reads none refuses an unknown one),
a view that reads a token is 401 without one, a path naming an object can
miss it (404), a profile's path can be PIN-locked (403), a staff-only view
refuses others (403), a throttled view can answer 429, and every view
refuses an ``Accept`` header that names no JSON (406). What only the view
knows (a batch too large, no model trained yet, a wrong PIN) it names in
``schema_errors``, by method, and that wins over the rules. Responses a view declares itself
(``@extend_schema(responses=...)``) are kept as declared. The operations on a
profile's data (its homepage, signals, ...) also get the unlock header they
read, documented once here rather than on each of them, and a 429 or 503 the
`Retry-After` header it carries.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAdminUser

from config.api.exceptions import body_limits_text
from config.api.throttling import SCOPE_SETTINGS, HouseholdRateThrottle
from config.middleware import LENGTH_CHECKED_METHODS
from profiles.unlock import UNLOCK_HEADER

BODY_METHODS = ("POST", "PUT", "PATCH")
#: The methods whose views check the query string; tests/test_api_unknown_input.py holds
#: every such operation of the schema to it.
QUERY_CHECKED_METHODS = ("GET", "DELETE")

#: A profile's data (``/profiles/{id}/homepage/``, ...): checked against its PIN. Not the
#: profile itself (its changes declare their own rule) nor its unlock endpoint.
PROFILE_DATA_PATH = re.compile(r"/profiles/\{[^}]+\}/(?!unlock/)[^/]+/")

UNLOCK_PARAMETER = OpenApiParameter(
    UNLOCK_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="A PIN-protected profile's unlock token, from its unlock endpoint.",
)


#: Every write's body framed without a length (config.middleware.ApiBodyLengthRequired).
LENGTH_REQUIRED = (
    "`length_required`: a body sent without a `Content-Length` header (`Transfer-Encoding: "
    "chunked`) is not read: send it with its length. Answered before the token is checked."
)

#: A profile's data, and its title pages, refused for want of its unlock token.
PROFILE_LOCKED = (
    "`profile_locked`: the profile has a PIN and the request carries no valid unlock token."
)

#: The answers that say when to try again: every throttle's 429, and every 503 the API
#: raises (``wait`` on its exception, which DRF's handler writes as the header).
RETRY_AFTER_CODES = ("429", "503")
RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer"},
}

#: A title's id, in every body that names titles.
TITLE_ID_HELP = "Title id: its details at /api/v1/titles/{title_id}/; `title` on signals."

#: The ids in the API's paths, by the names the URL patterns give them: said once for all.
PATH_PARAMETER_HELP = {
    "profile_id": "A profile of the token's account, as the profile list gives its `id`.",
    "title_id": "Title id, as homepage rows and recommendations give it (`title_id`).",
    "run_id": "Training run id, as starting a retrain answers it (`id`).",
}


#: A request body that refuses undeclared fields (``refuses_unknown_fields``) says so in words
#: too: ``additionalProperties: false`` is for generated clients, the docs page shows this.
REFUSES_UNKNOWN_FIELDS = "A field not listed here, or one given twice, is a 400 naming it."


@extend_schema_serializer(
    description="The body of every error: the first reason in `message`, a machine-readable "
    "`code`, and for a 400 each field's reasons in `errors`."
)
class ErrorSerializer(serializers.Serializer):
    """Documentation only: the body ``config.api.exceptions.exception_handler`` writes."""

    message = serializers.CharField(
        help_text="The first reason, prefixed with where it is: `events[3].title: ...`."
    )
    code = serializers.CharField(
        help_text="Machine-readable: `invalid`, `not_authenticated`, `profile_locked`, "
        "`not_found`, `throttled`, ..."
    )
    errors = serializers.DictField(
        child=serializers.JSONField(),
        help_text="For 400s, every field's reasons, nested as the input is (a batch's events "
        "by index); empty otherwise.",
    )
    retry_after_seconds = serializers.IntegerField(
        required=False, help_text="429 only: when to try again."
    )


def household_limit_text(scope: str) -> str:
    """The 429 of an operation limited per household (``config.api.throttling``), with the
    rate as this server has it set."""
    limit, seconds = HouseholdRateThrottle.rate(scope)
    period = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}[seconds]
    what = (
        "reads (every read but the homepage counts)"
        if scope == "household_reads"
        else ("of these requests")
    )
    return (
        f"`throttled`: this household (every device of the account) has made more than "
        f"{limit:,} {what} this {period} (`{SCOPE_SETTINGS[scope]}`); none is "
        "served until the window ends: wait `Retry-After` seconds (also "
        "`retry_after_seconds`). Set far above what a household makes: it stops a client "
        "stuck in a loop."
    )


def _always_written(serializer: Any, schema: dict[str, Any]) -> list[str]:
    """The response fields a body always holds, for the component's ``required``.

    drf-spectacular copies each field's input ``required`` into the response, and a
    ModelSerializer makes a field optional for input when its model column has a default:
    a profile's ``is_kids`` and a signal's ``row`` were optional in the schema though every
    body holds them, and a client generated from it unwrapped them on every read. A
    serializer writes every readable field of the object it is given; the one that may be
    left out says so by being declared with ``required=False`` (the error's 429-only
    ``retry_after_seconds``).
    """
    serializer = force_instance(serializer)
    declared = getattr(type(serializer), "_declared_fields", {})
    optional = {
        name for name, field in declared.items() if not field.required and not field.read_only
    }
    return sorted(
        name
        for name in schema["properties"]
        if name in schema.get("required", []) or name not in optional
    )


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus the error responses each operation can give."""

    def _resolve_path_parameters(self, variables: list[str]) -> list[dict[str, Any]]:
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if not parameter.get("description") and parameter["name"] in PATH_PARAMETER_HELP:
                parameter["description"] = PATH_PARAMETER_HELP[parameter["name"]]
        return parameters

    def _get_filter_parameters(self) -> list[dict[str, Any]]:
        """A filter's help_text, also on a filter whose type is fixed by extend_schema_field.

        drf-spectacular reads help_text only for filters it types itself, so the signal
        history's `title` (an IdFilter, typed as a bigint id) had no description.
        """
        parameters = super()._get_filter_parameters()
        filters = getattr(getattr(self.view, "filterset_class", None), "base_filters", {})
        for parameter in parameters:
            own = filters.get(parameter["name"])
            if not parameter.get("description") and own and own.extra.get("help_text"):
                parameter["description"] = own.extra["help_text"]
        return parameters

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        named = {getattr(p, "name", None) for p in parameters}
        if PROFILE_DATA_PATH.search(self.path) and UNLOCK_HEADER not in named:
            parameters.append(UNLOCK_PARAMETER)
        return parameters

    def _map_serializer(
        self, serializer: Any, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        """A request body that refuses undeclared fields (a 400) says so: no additional ones.

        Without it the schema allowed any extra key, and a client generated from it, or
        schemathesis, sent bodies the server refuses. Responses stay open, so that adding
        a field to one does not break a client that validates it.
        """
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "response" and "properties" in schema:
            schema["required"] = _always_written(serializer, schema)
        if direction == "request" and getattr(serializer, "refuses_unknown_fields", False):
            schema["additionalProperties"] = False
            own = schema.get("description")
            schema["description"] = (
                f"{own} {REFUSES_UNKNOWN_FIELDS}" if own else REFUSES_UNKNOWN_FIELDS
            )
        return schema

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in self._error_responses():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description),
                    str(code),
                    direction=direction,
                )
        for code in RETRY_AFTER_CODES:
            if code in responses:
                headers = {**responses[code].get("headers", {}), "Retry-After": RETRY_AFTER}
                responses[code] = {**responses[code], "headers": headers}
        return responses

    def _error_responses(self) -> list[tuple[int, str]]:
        view = self.view
        permissions = view.get_permissions()
        # The view's own first: the first of a code is the one documented.
        errors = list(getattr(view, "schema_errors", {}).get(self.method, {}).items())
        if self.method in BODY_METHODS:
            errors.append(
                (
                    400,
                    "Bad input (`invalid`): `errors` names every field or parameter and its "
                    "reason. A body that cannot be parsed: `parse_error`.",
                )
            )
        elif self.method == "DELETE":
            errors.append(
                (
                    400,
                    "Bad input (`invalid`): `errors` names every parameter and its reason, and "
                    "each field of a body sent, which the operation does not read (send none). "
                    "A body that cannot be parsed: `parse_error`.",
                )
            )
        elif self.method in QUERY_CHECKED_METHODS:
            errors.append(
                (400, "Bad input (`invalid`): `errors` names every parameter and its reason.")
            )
        # A DELETE reads no body, but one sent with it is parsed to be named (a 400), so it can
        # be of a media type the API does not read, or too large to read (config.api.strict).
        if self.method in (*BODY_METHODS, "DELETE"):
            errors.append(
                (
                    415,
                    "`unsupported_media_type`: the body is not of a media type the operation "
                    "reads, or is compressed (a `Content-Encoding` other than identity): send "
                    "it uncompressed.",
                )
            )
            errors.append((413, f"{body_limits_text()} (`payload_too_large`)."))
        if self.method in LENGTH_CHECKED_METHODS:
            errors.append((411, LENGTH_REQUIRED))
        # DRF answers a stranger 401 only when the view's first authenticator names a scheme
        # for WWW-Authenticate (the token does); the admin sign-in names none: 403.
        if (
            view.get_authenticators()
            and view.get_authenticate_header(view.request)
            and not all(isinstance(p, AllowAny) for p in permissions)
        ):
            errors.append(
                (
                    401,
                    "No token (`not_authenticated`), or a revoked or unknown one "
                    "(`authentication_failed`).",
                )
            )
        if any(isinstance(p, IsAdminUser) for p in permissions):
            errors.append((403, "Staff only (`permission_denied`)."))
        elif PROFILE_DATA_PATH.search(self.path):
            errors.append((403, PROFILE_LOCKED))
        if "{" in self.path:
            errors.append((404, "Not found, or not this account's (`not_found`)."))
        scope = getattr(view, "throttle_scopes", {}).get(self.method)
        if scope is not None:
            errors.append((429, household_limit_text(scope)))
        elif any(not isinstance(t, HouseholdRateThrottle) for t in view.get_throttles()):
            errors.append((429, "Too many attempts (`throttled`): see `retry_after_seconds`."))
        errors.append(
            (
                406,
                "`not_acceptable`: the `Accept` header names no media type the operation "
                "answers in (JSON).",
            )
        )
        return errors
