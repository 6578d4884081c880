"""Input an endpoint does not read is refused, naming it, rather than ignored.

A misspelt field is otherwise silently absent: ``{"isKids": true}`` created an
unrestricted profile, ``?DEVICE=mobile`` served a TV page, ``?limt=5`` the
default page. The signal events already refuse unknown fields; the other
bodies and query strings do the same through these two pieces.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.settings import api_settings

UNKNOWN_FIELD = "Unknown field."
UNKNOWN_PARAMETER = "Unknown parameter."
EMPTY_PARAMETER = "Must not be empty: leave the parameter out for its default."


def _format_parameters() -> frozenset[str]:
    """``?format=json``: DRF's own parameter, which every endpoint understands."""
    name = api_settings.URL_FORMAT_OVERRIDE
    return frozenset({name}) if name else frozenset()


def query_unknown(query: QueryDict, known: Iterable[str]) -> dict[str, list[str]]:
    """Errors for the parameters of ``query`` outside ``known``, and for empty ones.

    An empty value (``?device=``) is refused too: DRF reads it as absent and
    answers with the default, which is not what the client wrote.
    """
    allowed = frozenset(known) | _format_parameters()
    errors: dict[str, list[str]] = {}
    for name in query:
        if name not in allowed:
            errors[name] = [UNKNOWN_PARAMETER]
        elif any(value == "" for value in query.getlist(name)):
            errors[name] = [EMPTY_PARAMETER]
    return errors


def query_parameters_check(request: Request, known: Iterable[str]) -> None:
    """Raise a 400 naming each parameter of the request that the endpoint does not read."""
    errors = query_unknown(request.query_params, known)
    if errors:
        raise exceptions.ValidationError(errors)


class _RefusesUnknown(serializers.Serializer):
    """Reports ``_unknown(data)`` beside the serializer's own field errors, in one 400."""

    def _unknown(self, data: Any) -> dict[str, list[str]]:
        raise NotImplementedError

    def to_internal_value(self, data: Any) -> Any:
        extra = self._unknown(data) if isinstance(data, Mapping) else {}
        try:
            value = super().to_internal_value(data)
        except exceptions.ValidationError as error:
            if extra and isinstance(error.detail, dict):
                raise exceptions.ValidationError({**error.detail, **extra}) from None
            raise
        if extra:
            raise exceptions.ValidationError(extra)
        return value


class KnownFieldsOnly(_RefusesUnknown):
    """A request body's serializer that refuses fields it does not declare."""

    def _unknown(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        # A form post (the browsable API's) carries Django's CSRF token beside the fields.
        ignored = {"csrfmiddlewaretoken"} if isinstance(data, QueryDict) else set()
        return {
            name: [UNKNOWN_FIELD]
            for name in data
            if name not in self.fields and name not in ignored
        }


class KnownParametersOnly(_RefusesUnknown):
    """A query string's serializer that refuses parameters it does not declare, or empty ones."""

    def _unknown(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        if isinstance(data, QueryDict):
            return query_unknown(data, self.fields)
        return {name: [UNKNOWN_PARAMETER] for name in data if name not in self.fields}
