"""One error shape for the whole API.

Every error body is ``{"message": str, "code": str, "errors": {field: [reason, ...]}}``
so that client apps need one parser. Nested validation errors (a batch of
events, say) keep their nesting under ``errors``: ``{"events": {"3": {"title": [...]}}}``.
Services raise Django's ``ValidationError``; it is translated here, so that the
rules live once in the service layer and not again in serializers.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

#: Seconds a client is asked to wait before trying again while the database is away.
DATABASE_RETRY_AFTER = 10


class DatabaseUnavailable(exceptions.APIException):
    """The database did not answer (down, restarting, failed over, a connection cut).

    A 503 with ``Retry-After``, which clients and proxies retry, rather than the 500 of an
    operation's bug, which they report: every call during a restart of PostgreSQL was a
    500, and the household's app told them the service was broken.
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service cannot reach its database just now; try again shortly."
    default_code = "database_unavailable"
    wait = DATABASE_RETRY_AFTER  # DRF's Retry-After


#: The SQLSTATEs (prefixes) of an OperationalError that the same call may pass a moment
#: later: a connection lost or refused (08), a transaction the server rolled back to be run
#: again (40: a deadlock, a serialization failure), the server short of resources (53: too
#: many connections, memory, disk), a lock not had in time (55P03), and a statement cut
#: short or a server shutting down or starting (57). An error with no SQLSTATE is the
#: driver's own: no connection at all.
RETRYABLE_SQLSTATES = ("08", "40", "53", "55P03", "57")


def database_unavailable(error: Exception) -> bool:
    """Whether ``error`` says the database is away or busy, for a while, not that the
    operation asked it for what it refuses every time.

    PostgreSQL raises an OperationalError for both: a value past a limit of its own (54,
    program_limit_exceeded) was a 503 "try again shortly" that clients retried for ever,
    on-call reading "database unavailable" of a database that was up.
    """
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(RETRYABLE_SQLSTATES)


class Fold(NamedTuple):
    """Whether to log this error's traceback whole, and how many were folded: since the last
    whole one before it when whole, or with this one when folded."""

    whole: bool
    folded: int


class TracebackThrottle:
    """One error's traceback whole at most once per interval, in this process.

    During a database outage every API call is a 503 whose cause is the same refused
    connection: logged whole each time, ten minutes at 300 calls a second wrote 180,000
    tracebacks (each about 40 lines), burying whatever else failed. The first says all
    there is to say until the interval is over; the calls after it still get a line each,
    which names their request. ``clock`` is a monotonic clock in seconds, given by tests.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()  # a gthread worker answers on several threads
        self._last_whole: float | None = None
        self._folded = 0

    def fold(self, *, every: float) -> Fold:
        """Whether the error now being logged goes whole (``every`` seconds after the last
        whole one, or the first) or folded."""
        with self._lock:
            now = self._clock()
            if self._last_whole is None or now - self._last_whole >= every:
                folded, self._folded, self._last_whole = self._folded, 0, now
                return Fold(whole=True, folded=folded)
            self._folded += 1
            return Fold(whole=False, folded=self._folded)


#: This process's throttle of the ``database_unavailable`` tracebacks.
database_tracebacks = TracebackThrottle()


def _log_database_unavailable(request: Request | None, error: Exception) -> None:
    """Logged as the 500 was, at ERROR, naming the call (and, by the formatter, its id); the
    cause's traceback (a refused connection, a statement timeout, a deadlock), which is the
    on-call's to read, whole at most every ``DATABASE_UNAVAILABLE_TRACEBACK_SECONDS``.
    """
    # The path is the client's: escaped, as Django escapes it in its request lines, so a
    # line break in it cannot start a forged line.
    path = str(getattr(request, "path", "?")).encode("unicode_escape").decode("ascii")
    method = getattr(request, "method", "?")
    every = settings.DATABASE_UNAVAILABLE_TRACEBACK_SECONDS
    fold = database_tracebacks.fold(every=every)
    if fold.whole:
        since = f" ({fold.folded} tracebacks folded since the last one)" if fold.folded else ""
        logger.error("database unavailable: %s %s%s", method, path, since, exc_info=error)
        return
    cause = f"{type(error).__name__}: {str(error).strip()}".splitlines()[0]
    logger.error(
        "database unavailable: %s %s (%s; traceback folded, %d since the last one logged, "
        "which is at most every %s s)",
        method,
        path,
        cause.encode("unicode_escape").decode("ascii"),
        fold.folded,
        every,
    )


def _first_message(detail: Any, path: str = "") -> str | None:
    """The first reason in ``detail``, prefixed with where it is: ``events[3].title: ...``."""
    if isinstance(detail, str):
        return f"{path}: {detail}" if path else detail
    if isinstance(detail, list | tuple):
        for item in detail:
            found = _first_message(item, path)
            if found:
                return found
    if isinstance(detail, dict):
        for key, value in detail.items():
            key = str(key)
            if key == "non_field_errors":
                child = path
            elif key.isdigit():
                child = f"{path}[{key}]"
            else:
                child = f"{path}.{key}" if path else key
            found = _first_message(value, child)
            if found:
                return found
    return None


def _normalise(detail: Any) -> Any:
    """Strip DRF's ErrorDetail wrappers and index lists of per-item errors by position."""
    if isinstance(detail, dict):
        return {str(key): _normalise(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if any(isinstance(item, dict) for item in detail):
            return {str(i): _normalise(item) for i, item in enumerate(detail) if item}
        return [str(item) for item in detail]
    return [str(detail)]


#: An API path no route matches (a mistyped path, or an id that is not a number).
NO_ROUTE = "No API route matches this path; the API's routes are listed at /api/docs/."


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The body is larger than the server reads."


def body_limits_text() -> str:
    """Django's limits on a body every write reads, as the 413's schema and message say them."""
    return (
        f"A body over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes, or a form of more "
        f"than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} fields"
    )


def body_too_large_message() -> str:
    """The 413's message for a body past ``DATA_UPLOAD_MAX_MEMORY_SIZE``, however it was found."""
    return (
        f"The body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes, the most "
        "the API reads: send a smaller one."
    )


def _payload_too_large(exc: Exception) -> PayloadTooLarge:
    """Django's refusal of a body past its limits, in the API's shape.

    Django raises it while DRF parses the body, as a ``SuspiciousOperation`` that
    DRF's handler does not know: it became Django's HTML "Bad Request (400)" page
    (and an ERROR in the security log), where every API error is the one JSON
    shape. RFC 9110 gives content larger than the server will process a 413.
    """
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(body_too_large_message())
    if isinstance(exc, TooManyFieldsSent):
        return PayloadTooLarge(
            f"The form has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} fields."
        )
    return PayloadTooLarge(
        f"The form has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES:,} files."
    )


def _query_too_long(request: Request | None) -> bool:
    """Whether the query string has more parameters than Django reads, as it counts them.

    Django raises the same ``TooManyFieldsSent`` for a query string as for a form body
    (``urllib.parse.parse_qsl``'s count: one more than its ``&``s): a query string is bad
    input, a 400 on any operation, not a body too large.
    """
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    query = request.META.get("QUERY_STRING", "") if request is not None else ""
    return bool(query) and limit is not None and query.count("&") + 1 > limit


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, TooManyFieldsSent) and _query_too_long(context.get("request")):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        exc = exceptions.ValidationError(
            [f"The query string has more than {limit:,} parameters, the most the API reads."]
        )
    elif isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        exc = _payload_too_large(exc)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        # The raiser's sentence names what was not found ("No profile with this id
        # on this account."); a bare Http404 reads as DRF's default.
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif database_unavailable(exc):
        _log_database_unavailable(context.get("request"), exc)
        exc = DatabaseUnavailable()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        errors = _normalise(exc.detail)
        if not isinstance(errors, dict):
            errors = {"non_field_errors": errors}
        message = _first_message(exc.detail) or "Invalid input."
        code = "invalid"
    else:
        detail = getattr(exc, "detail", str(exc))
        errors = {}
        message = str(detail) if not isinstance(detail, dict | list) else _first_message(detail)
        code = getattr(exc, "default_code", "error")
        if isinstance(detail, exceptions.ErrorDetail):
            code = detail.code

    response.data = {"message": message, "code": code, "errors": errors}
    if isinstance(exc, DatabaseUnavailable):
        response.data["request_id"] = getattr(context.get("request"), "request_id", None)
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        wait = getattr(exc, "wait", None)
        if wait is not None:
            response.data["retry_after_seconds"] = int(wait)
    return response


@csrf_exempt
def api_route_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """The last route under ``/api/``: what no other API route matched, as JSON.

    Without it a client that mistypes a path, or sends an id that is not one
    (``/titles/abc/``), gets Django's HTML page where the API promises one
    JSON shape (a ``handler404`` would not do: Django does not call it while
    DEBUG is on, as in the demo). A path missing only its trailing slash
    is redirected for reads, as ``APPEND_SLASH`` did, and named for writes,
    whose body a redirect would lose.

    Exempt from Django's CSRF check, as DRF's views are: otherwise every write
    here met the check's HTML 403 page before this JSON, since a token client
    sends no CSRF cookie. It changes nothing, so there is nothing to forge.
    """
    del rest
    path = request.path_info
    if not path.endswith("/") and _is_api_route(f"{path}/"):
        if request.method in ("GET", "HEAD"):
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(f"{path}/" + (f"?{query}" if query else ""))
        return _api_not_found_body(f"API paths end with a slash: send this to {path}/.")
    return _api_not_found_body(NO_ROUTE)


def _is_api_route(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.func is not api_route_not_found


def _api_not_found_body(message: str) -> JsonResponse:
    return JsonResponse(
        {"message": message, "code": exceptions.NotFound.default_code, "errors": {}},
        status=404,
    )
