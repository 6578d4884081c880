"""One id per request: in its answer's ``X-Request-ID``, its log lines and a 500's body.

A client's bug report ("the homepage failed at 21:04") matched nothing in web's log: the
access line, the app's lines and a traceback had no field in common, and the client saw
none of them. The id is the proxy's when one sent a well-formed ``X-Request-ID`` (so the
proxy's log and ours match), else a new random one. gunicorn's access line reads it from
the answer's header (``config/gunicorn.py``); the app's lines get it from
:class:`RequestContextFormatter`. Why this and not django-guid: README, "Deploying", Logs.
"""

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

REQUEST_ID_HEADER = "X-Request-ID"
#: What a proxy's id may be to be kept: short, and nothing that could forge another field
#: of a log line (a space, a quote, ``=``) or be unreadable in one.
ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

#: The id of the request this thread is answering; None outside any.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
#: The id of the Celery task this thread is running (``config/celery.py``); None outside any.
current_task_id: ContextVar[str | None] = ContextVar("current_task_id", default=None)


def request_id_for(request: HttpRequest) -> str:
    """The proxy's id for this request when well-formed, else a new one (32 hex digits)."""
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    if ACCEPTED_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


class RequestId:
    """Names each request (``request.request_id``) and its answer (``X-Request-ID``).

    First in ``MIDDLEWARE``, so that every answer, the health check's and a refusal's
    included, carries it, and every line logged while answering. No database, no cache.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def signed_in_as(request: object) -> str | None:
    """Who sent the request, as far as it is already known: a user's id, ``account:<id>``.

    Read only when answering it had found out: a session's user not yet looked up is left
    so, since looking it up here would query a database that may be the very thing failing.
    """
    user = getattr(request, "__dict__", {}).get("user")
    if isinstance(user, SimpleLazyObject):
        user = user._wrapped
        if user is empty:
            return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


class RequestContextFormatter(logging.Formatter):
    """The app's line format, ending with ``request_id=<id>`` while a request is answered,
    and ``task_id=<id>`` while a Celery task runs (in a worker, or inside the request or
    command that ran it without a broker).

    Django's lines about a request (``django.request``: "Internal Server Error: /path") add
    ``user=<id>`` when the request's sender is known (:func:`signed_in_as`). They go on the
    line's first line, before any traceback, so a search for the id finds the traceback's
    head. Never a header, a body or a query string: credentials travel there.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        # Django logs a 4xx or 5xx answer after the middleware returned it, with the request.
        request = getattr(record, "request", None)
        request_id = current_request_id.get() or getattr(request, "request_id", None)
        if request_id is not None:
            line = f"{line} request_id={request_id}"
            user = signed_in_as(request)
            if user is not None:
                line = f"{line} user={user}"
        task_id = current_task_id.get()
        return line if task_id is None else f"{line} task_id={task_id}"


class RefusalsUntraced(logging.Filter):
    """Django's line for a 403 (``Forbidden (Permission denied): /path``) without the
    ``PermissionDenied``'s traceback.

    Django logs a refused request with the exception that refused it. Staff in narrow
    roles meet admin pages they may not open as a matter of course, and a crawl of 921
    admin URLs by four such roles wrote 2,925 tracebacks, burying the errors an on-call
    searches for. The line keeps what was refused, where and to whom (its request id);
    the traceback only ever pointed into Django's permission check.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
