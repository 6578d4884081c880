"""Input an endpoint does not read is refused, naming it, rather than ignored.

A misspelt field is otherwise silently absent: ``{"isKids": true}`` created an
unrestricted profile, ``?DEVICE=mobile`` served a TV page, ``?limt=5`` the
default page. The signal events already refuse unknown fields; the other
bodies and query strings do the same through these two pieces.

A parameter given twice is refused too, unless the endpoint reads it as a list
(the signal history's ``kind``): DRF and Django read the last of them, so
``?device=tv&device=web`` served a web page and ``?n=5&n=1`` one title, each a
200 for a request the client may not have meant.
"""

from collections.abc import Iterable, Mapping
from typing import Any

import django_filters
from django.http import QueryDict
from rest_framework import exceptions, relations, serializers
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings

from config.ids import is_id_text

UNKNOWN_FIELD = "Unknown field."
UNKNOWN_PARAMETER = "Unknown parameter."
EMPTY_PARAMETER = "Must not be empty: leave the parameter out for its default."
REPEATED_PARAMETER = "Give this parameter once."
REPEATED_FIELD = "Give this field once."


def one_of(choices: Iterable[object]) -> str:
    """ "one of tv, mobile, tablet, web": what a client may send instead of a wrong value."""
    return "one of " + ", ".join(str(value) for value in choices)


def choice_errors(values: Iterable[object]) -> dict[str, str]:
    """A choice field's error for a value not among ``values``, naming them.

    DRF says only ``"TV" is not a valid choice.`` and django-filter ``Select a valid
    choice. TV is not one of the available choices.``; a client developer who sent
    "TV" should learn what to send instead, as the signal events already say.
    For DRF's fields (``{input}``); :func:`filter_choice_errors` for django-filter's.
    """
    return {"invalid_choice": '"{input}" is not ' + one_of(values) + "."}


def filter_choice_errors(values: Iterable[object]) -> dict[str, str]:
    """:func:`choice_errors` for a django-filter choice filter (a Django form field)."""
    return {"invalid_choice": '"%(value)s" is not ' + one_of(values) + "."}


#: Serializer fields that read every value of a repeated key (``QueryDict.getlist``).
_LIST_FIELDS = (serializers.ListField, serializers.MultipleChoiceField, relations.ManyRelatedField)


def _format_parameters() -> frozenset[str]:
    """``?format=json``: DRF's own parameter, which every endpoint understands."""
    name = api_settings.URL_FORMAT_OVERRIDE
    return frozenset({name}) if name else frozenset()


def query_repeated(query: QueryDict, *, repeatable: Iterable[str] = ()) -> list[str]:
    """The parameters of ``query`` given more than once, except those in ``repeatable``.

    Django reads the last of them (``QueryDict.get``, ``.dict()``), so each is
    a request the client may not have meant. The API's query strings, its form
    bodies (:class:`KnownFieldsOnly`) and the staff console's query strings
    (``console.forms``) refuse them by this one rule.
    """
    lists = frozenset(repeatable)
    return [name for name in query if name not in lists and len(query.getlist(name)) > 1]


def query_unknown(
    query: QueryDict, known: Iterable[str], *, repeatable: Iterable[str] = ()
) -> dict[str, list[str]]:
    """Errors for the parameters of ``query`` outside ``known``, empty ones and repeated ones.

    An empty value (``?device=``) is refused too: DRF reads it as absent and
    answers with the default, which is not what the client wrote. So is a
    parameter given twice, unless it is in ``repeatable``: the endpoint would
    read only the last.
    """
    allowed = frozenset(known) | _format_parameters()
    repeated = frozenset(query_repeated(query, repeatable=repeatable))
    errors: dict[str, list[str]] = {}
    for name in query:
        if name not in allowed:
            errors[name] = [UNKNOWN_PARAMETER]
        elif any(value == "" for value in query.getlist(name)):
            errors[name] = [EMPTY_PARAMETER]
        elif name in repeated:
            errors[name] = [REPEATED_PARAMETER]
    return errors


def query_parameters_check(
    request: Request, known: Iterable[str], *, repeatable: Iterable[str] = ()
) -> None:
    """Raise a 400 naming each parameter the endpoint does not read, or reads once but got twice."""
    errors = query_unknown(request.query_params, known, repeatable=repeatable)
    if errors:
        raise exceptions.ValidationError(errors)


def filterset_repeatable(filterset: type[django_filters.FilterSet]) -> frozenset[str]:
    """The parameters of ``filterset`` that take a list by repetition (``?kind=a&kind=b``).

    They are the filters whose form widget reads every value of its key
    (``SelectMultiple`` and its kin); a comma-separated ``__in`` filter reads one.
    """
    return frozenset(
        name
        for name, declared in filterset.base_filters.items()
        if getattr(declared.field.widget, "allow_multiple_selected", False)
    )


def _repeatable_fields(serializer: serializers.Serializer) -> frozenset[str]:
    return frozenset(
        name for name, field in serializer.fields.items() if isinstance(field, _LIST_FIELDS)
    )


def whole_number_rule(minimum: int, maximum: int | None) -> str:
    """What a count in a query string must be, said the same way by every one of them."""
    bounds = f"from {minimum:,} to {maximum:,}" if maximum is not None else f"at least {minimum:,}"
    return f"Must be a whole number {bounds}."


class QueryIntegerField(serializers.IntegerField):
    """A count in a query string (``?rows=12``), written as ASCII digits; a 400 naming it else.

    DRF reads the text with ``int()`` after dropping a trailing ``.0``, so ``?rows=3_0``
    asked for 30 rows, ``?rows=٣`` for 3, and ``?items=12.0`` and ``?items=+5`` for 12 and
    5: a 200 for text that is not an integer as the schema writes one, where a client's
    bug should be told. Ids in query strings and paths follow the same rule
    (:func:`config.ids.is_id_text`).

    Every refusal gives the one rule, as the paginator's ``limit`` does
    (:func:`whole_number_rule`): DRF's own sentences told ``?rows=-1`` "A valid
    integer is required.", which it is, not that it is below the range.
    """

    def __init__(self, **kwargs: Any) -> None:
        # Before DRF's __init__, which writes the range messages into its validators.
        rule = whole_number_rule(kwargs.get("min_value", 0), kwargs.get("max_value"))
        codes = ("invalid", "min_value", "max_value", "max_string_length")
        given = kwargs.get("error_messages", {})
        kwargs["error_messages"] = {**dict.fromkeys(codes, rule), **given}
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and not is_id_text(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class NoQueryOnWrites:
    """For an API view whose writes read no query string: any parameter on them is a 400.

    ``POST .../signals/?dry_run=1`` stored the events: a parameter the write does
    not read looked understood. Mixed into every view with a write method (a
    test holds every write of the schema to it); reads check their own
    parameters, which differ per endpoint. It runs after authentication and
    permissions, as DRF's ``initial`` orders them, so a stranger still gets 401.
    """

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if request.method not in SAFE_METHODS:
            query_parameters_check(request, ())


NO_BODY = "Send no body: this reads none."


def body_unread_check(request: Request) -> None:
    """Raise a 400 naming what a body sent to an operation that reads none holds.

    ``DELETE .../profiles/{id}/`` with ``{"pin": "1234"}`` or ``{"confirm": true}``
    deleted the profile whatever the body said, and locking again ended every unlock: a
    field the operation never read looked understood, where every other body refuses
    one ("Unknown field."). The body is parsed as any other (415 for a media type the
    API does not read, ``parse_error`` for broken JSON); an empty one, or ``{}``, asks
    for nothing left unread. Called once the profile is found, so another household's
    profile is still a 404 whatever came with it, and before anything is changed.
    """
    if not _has_body(request):
        return
    data = request.data
    if not isinstance(data, Mapping):
        raise exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [NO_BODY]})
    names = [*data, *request.FILES]
    if names:
        raise exceptions.ValidationError({name: [UNKNOWN_FIELD] for name in names})


def _has_body(request: Request) -> bool:
    # A body without a length (chunked) never gets here: config.middleware answers it 411.
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return True


def json_type_error(field: serializers.Field, value: Any) -> str | None:
    """Why a JSON body's ``value`` is not of the type ``field``'s schema gives, None if it is.

    DRF reads a JSON body as it reads a form, whose values are all strings, so it
    converts: ``{"is_kids": "no"}`` and ``{"is_kids": 0}`` were false,
    ``{"maturity_limit": "7"}`` was 7, ``{"name": 123}`` the name "123", ``{"pin":
    1234}`` unlocked, and ``{"display_language": ""}`` removed the language (a
    related field reads "" as null for forms). A form body keeps that reading.
    Null is left to the field (``allow_null``).
    """
    if value is None:
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.ChoiceField) and not isinstance(
        field, serializers.MultipleChoiceField
    ):
        # Of a choice's type: whether it is one is the field's own error, naming the choices.
        if any(type(value) is type(key) for key in field.choices):
            return None
        return f"Must be {one_of(field.choices)}."
    if isinstance(field, serializers.IntegerField):
        return None if type(value) is int else "Must be an integer."
    if isinstance(field, serializers.CharField):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, relations.RelatedField) and value == "":
        return "Must not be empty: null for none."
    return None


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
    """A request body's serializer that refuses fields it does not declare.

    A form body (``name=A&name=B``) can repeat a key as a query string can;
    only a field that reads a list may. A JSON body's repeated keys are
    refused by its parser (``config.api.parsers``).
    """

    #: Read by ``config.api.schema``: the body's schema says ``additionalProperties: false``.
    refuses_unknown_fields = True

    def _unknown(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        if not isinstance(data, QueryDict):
            errors = {name: [UNKNOWN_FIELD] for name in data if name not in self.fields}
            for name, value in data.items():
                reason = name in self.fields and json_type_error(self.fields[name], value)
                if reason:
                    errors[name] = [reason]
            return errors
        # A form post (the browsable API's) carries Django's CSRF token beside the fields.
        repeated = frozenset(query_repeated(data, repeatable=_repeatable_fields(self)))
        errors: dict[str, list[str]] = {}
        for name in data:
            if name not in self.fields:
                if name != "csrfmiddlewaretoken":
                    errors[name] = [UNKNOWN_FIELD]
            elif name in repeated:
                errors[name] = [REPEATED_FIELD]
        return errors


class KnownParametersOnly(_RefusesUnknown):
    """A query string's serializer that refuses parameters it does not declare, empty or repeated.

    A list field (``ListField``, ``many=True``) may be repeated: it reads every value.
    """

    def _unknown(self, data: Mapping[str, Any]) -> dict[str, list[str]]:
        if isinstance(data, QueryDict):
            return query_unknown(data, self.fields, repeatable=_repeatable_fields(self))
        return {name: [UNKNOWN_PARAMETER] for name in data if name not in self.fields}
