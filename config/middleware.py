"""What every answer of the versioned API needs and no view should have to remember, the
container's health check, which must be answered before anything else looks at the request,
and the refusal of a body too large to read, before anything reads it.
"""

import logging
from collections.abc import Callable

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.cache import patch_cache_control

from config.api.exceptions import api_route_not_found, body_too_large_message

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
API_ROOT = "/api/"
HEALTH_PATH = "/healthz"
LIVENESS_PATH = "/livez"


class HealthCheck:
    """``GET /healthz``: 200 when this process can reach its database, else 503 (ready);
    ``GET /livez``: 200 whenever the process answers at all (alive).

    First in ``MIDDLEWARE`` but for the request id, so neither host validation nor the
    https redirect sees them: an orchestrator probes ``127.0.0.1`` over plain http inside
    the container, which a production ``ALLOWED_HOSTS`` (the public name) would
    refuse with a 400 and ``SECURE_SSL_REDIRECT`` answer with a 301. They say
    nothing but whether the process can serve, or is alive. A liveness probe that asked
    the database (Kubernetes restarts a process whose liveness fails) would restart every
    web process at once while PostgreSQL is down, which a restart cannot cure.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == LIVENESS_PATH:
            return JsonResponse({"status": "ok"})
        if request.path_info != HEALTH_PATH:
            return self.get_response(request)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError as error:
            # The why for on-call, whose only other line is Django's "Service Unavailable:
            # /healthz"; not in the answer, which anyone may read (it names hosts).
            logger.warning("Health check failed: database unreachable: %s", error)
            return JsonResponse({"status": "database unreachable"}, status=503)
        return JsonResponse({"status": "ok"})


class ContentSecurityPolicy(CSPMiddleware):
    """django-csp's ``Content-Security-Policy`` on the HTML pages, none on the versioned API.

    A JSON answer runs no script, and the library builds the policy twice for every
    answer (about 45 us by timeit), even for a path its ``EXCLUDE_URL_PREFIXES`` leaves
    out: on the homepage and every other API call that is work for nothing.
    """

    def process_request(self, request: HttpRequest) -> None:
        if not request.path_info.startswith(API_PREFIX):
            super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            return response
        return super().process_response(request, response)


class NulInUrlRefused:
    """A NUL (``%00``) in the path or query string of a page outside the API: 400, not a 500.

    PostgreSQL refuses a NUL in any string, and Django's own admin filters, search
    box and date drill-down hand query values to the database unchecked: a staff
    member's mistyped URL was a 500 and an error report for on-call. So does admin's
    object id in the path, for the models keyed by text (a region's code, a language's):
    ``/admin/regions/region/I%00N/change/`` was a 500 too. Forms refuse a NUL field by
    field already (Django's ``ProhibitNullCharactersValidator``); the API refuses it
    naming the parameter, and its paths match no route (a 404), so its paths are left
    to it. Two substring tests: nothing a request outside this case would notice.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            "%00" in request.META.get("QUERY_STRING", "") or "\x00" in request.path_info
        ) and not request.path_info.startswith(API_ROOT):
            return HttpResponseBadRequest(
                "The address holds a NUL character (%00), which no page accepts.",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


class PrivateApiResponses:
    """``Cache-Control: private, no-store`` on every answer under ``/api/v1/``.

    Every answer there is for one account's token: a homepage computed for one
    profile at one moment and logged under its page id, that household's
    profiles, a title localised and filtered for one profile. A cache between
    client and server (a proxy, a CDN put in front of the artwork, the
    client's own HTTP stack) that kept one would show a page nobody computed
    for that request, and the plays it led to would be attributed to a page
    logged for another moment. Shared caches should not store the answer to a
    request with ``Authorization`` anyway (RFC 9111, section 3.5); this says
    so to every cache, whatever its configuration. A view that sets its own
    ``Cache-Control`` keeps it; the schema and docs pages are left cacheable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(API_PREFIX) and not response.has_header("Cache-Control"):
            patch_cache_control(response, private=True, no_store=True)
        return response


#: The methods whose body an operation may read; a body of any other is read by none.
LENGTH_CHECKED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: The 411's message: what the client must do.
LENGTH_REQUIRED = (
    "The body came without a Content-Length (Transfer-Encoding: {coding}), which the API "
    "does not read: send the body with a Content-Length header."
)


class ApiBodyLengthRequired:
    """A write under ``/api/v1/`` whose body has no ``Content-Length``: 411, unread.

    gunicorn passes a chunked body (``Transfer-Encoding: chunked``) on with no
    ``CONTENT_LENGTH``, and Django then reads no body at all (it ignores gunicorn's
    ``wsgi.input_terminated``): a signal batch was refused for missing ``events``, a
    profile for missing ``name``, a rename answered 200 with nothing renamed and a
    delete went ahead, the body dropped in silence. Reading it instead would put the
    size limits on a length nobody declared. RFC 9110 gives a request refused for want
    of its length a 411. Answered before the token is checked (the framing is wrong
    whoever sends it) and without reading a byte of the body. A request without
    ``Transfer-Encoding``, every read among them, costs one lookup in its headers.

    Only a write some operation takes (:func:`operation_takes`): a chunked ``POST`` to a
    homepage, or to a path with no route, was a 411, and a client that sent its length
    then met the 405 or the 404 that said what was really wrong. Those are left to the
    routing and the view, which read no body to answer them.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        coding = request.META.get("HTTP_TRANSFER_ENCODING")
        if (
            coding is None
            or request.META.get("CONTENT_LENGTH")
            or request.method not in LENGTH_CHECKED_METHODS
            or not request.path_info.startswith(API_PREFIX)
            or not operation_takes(request)
        ):
            return self.get_response(request)
        return JsonResponse(
            {
                "message": LENGTH_REQUIRED.format(coding=coding),
                "code": "length_required",
                "errors": {},
            },
            status=411,
        )


def operation_takes(request: HttpRequest) -> bool:
    """Whether the view the request's path resolves to has an operation for its method.

    What the view would answer itself: DRF's ``http_method_names`` and a handler method
    (as ``APIView.allowed_methods`` lists them), or a viewset's action for the method.
    The API's not-found route takes nothing; a plain function view is taken to read a body,
    which its method check, if it has one, cannot tell from outside. Resolving costs what
    the request's own routing does, and only a write that came without its length pays it.
    """
    try:
        match = resolve(request.path_info, urlconf=getattr(request, "urlconf", None))
    except Resolver404:
        return False
    view = match.func
    if view is api_route_not_found:
        return False
    method = (request.method or "").lower()
    actions = getattr(view, "actions", None)
    if actions is not None:  # a viewset routed with its actions by method
        return method in actions
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return True
    initkwargs = getattr(view, "view_initkwargs", {})
    names = initkwargs.get("http_method_names", view_class.http_method_names)
    return method in names and hasattr(view_class, method)


def body_limit(request: HttpRequest) -> int | None:
    """The most bytes of body this request may declare before anything reads it; None: no limit.

    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` everywhere, except outside the API for staff signed in,
    whose artwork uploads in admin are files of up to ``TONIGHT["ARTWORK_MAX_BYTES"]`` each
    (a title's page adds several variants at once): their fields, and as many such files as
    Django takes in one form (``DATA_UPLOAD_MAX_NUMBER_FILES``).
    """
    form_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if form_limit is None:
        return None
    if request.path_info.startswith(API_ROOT):
        return form_limit  # no operation takes a file, the staff ones included
    user = getattr(request, "user", None)
    if user is None or not (user.is_active and user.is_staff):
        return form_limit
    files = settings.DATA_UPLOAD_MAX_NUMBER_FILES
    if files is None:
        return None
    return form_limit + files * settings.TONIGHT["ARTWORK_MAX_BYTES"]


class RequestBodyLimited:
    """A write's body declared larger than :func:`body_limit` allows: 413, not a byte read.

    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is Django's cap on what it reads into memory; the
    files of a multipart body are not counted against it but streamed to temporary
    files, whatever their size, as soon as anything reads the form. The CSRF check
    reads it to find its token, before any sign-in is asked for, so any client that
    made up a CSRF cookie had every page spool a body of any size to disk while it
    held a worker; and a household's token did the same with a file on the API, whose
    413 said the limit was 2 MiB. Only the declared ``Content-Length`` is looked at: a
    body without one (chunked) is one Django reads none of (:class:`ApiBodyLengthRequired`).

    After ``AuthenticationMiddleware`` (staff get the artwork uploads' limit), inside
    :class:`PrivateApiResponses` (an API 413 is an API answer like any). A read (GET,
    HEAD, ...), whose body nothing reads, and an API write that no operation takes, left
    to its 405 or 404, which read no body either, are answered as before, as by the 411.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in LENGTH_CHECKED_METHODS:
            return self.get_response(request)  # a read's body is read by none
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # as Django reads it: no body
        if declared <= (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or declared):
            return self.get_response(request)  # the common case, without a session read
        limit = body_limit(request)
        if limit is None or declared <= limit:
            return self.get_response(request)
        if request.path_info.startswith(API_ROOT):
            if not operation_takes(request):
                return self.get_response(request)
            return JsonResponse(
                {"message": body_too_large_message(), "code": "payload_too_large", "errors": {}},
                status=413,
            )
        return HttpResponse(
            f"The request's body is over {limit:,} bytes, the most this page reads.",
            status=413,
            content_type="text/plain; charset=utf-8",
        )
