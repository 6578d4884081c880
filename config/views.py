"""The site's front page, its icon's old address, Django's CSRF refusal page as served, and
the 500 answer."""

import functools
import hashlib
import re
from base64 import b64encode

from csp.decorators import csp_update
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    HttpResponseServerError,
    JsonResponse,
)
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.html import format_html
from django.views.csrf import builtin_template_path
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.http import require_safe
from django.views.defaults import server_error as django_server_error

#: The site's icon among the static files (static/tonight/), which every base template links.
FAVICON = "tonight/favicon.ico"


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Where the API's documentation, the staff console and admin are.

    Whoever opens the server's address (the demo prints its pages' addresses, not this
    one) got Django's "Page not found", which under ``DEBUG`` lists every route.
    Public and reading nothing: it names pages, each of which asks for its own sign-in.
    """
    return render(request, "home.html")


@require_safe
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """``/favicon.ico``: to the static icon, for what asks the root address without reading a page.

    Pages link the icon (``<link rel="icon">``); feed readers, bookmarks and a browser shown
    an image or a JSON answer ask ``/favicon.ico`` anyway, and admin's pages, which linked
    none, got a 404 each. Not permanent: the static name carries the file's hash in
    production, and a new icon must reach those who kept the old redirect.
    """
    return HttpResponseRedirect(static(FAVICON))


@functools.cache
def csrf_page_style_hashes() -> tuple[str, ...]:
    """The CSP hash sources of the ``<style>`` blocks in Django's own CSRF failure page.

    Read from Django's template, not from the answer: what the page renders (a reason, in
    DEBUG) can never be one of them.
    """
    template = builtin_template_path("csrf_403.html").read_text(encoding="utf-8")
    return tuple(
        f"'sha256-{b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
        for block in re.findall(r"<style>(.*?)</style>", template, re.DOTALL)
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Django's 403 for a form whose CSRF check failed, its ``<style>`` let through by hash.

    ``CSRF_FAILURE_VIEW``. Staff meet it when they send the sign-in form, or any admin
    form, after its CSRF cookie is gone. Django's page styles itself with a ``<style>``
    block, which ``style-src 'self'`` refuses (the page was legible but unstyled); a
    ``403_csrf.html`` of ours would replace it, but Django renders such a template without
    the page's context (the reason, the help it gives under DEBUG). This one answer's
    policy allows that block's exact text and nothing else (a django-csp ``csp_update``).
    """
    allowed = csp_update({"style-src": list(csrf_page_style_hashes())})(django_csrf_failure)
    return allowed(request, reason=reason)


#: The 500's message under the API: what the client can do with it.
SERVER_ERROR = (
    "The server failed to answer this request. If it keeps failing, report it with its request_id."
)


#: The 500 page elsewhere: Django's own, which a person cannot report by anything but the time.
SERVER_ERROR_PAGE = (
    '<!doctype html>\n<html lang="en">\n<head>\n  <title>Server Error (500)</title>\n'
    "</head>\n<body>\n  <h1>Server Error (500)</h1>\n"
    "  <p>If it keeps failing, report it with this request id: <code>{}</code></p>\n"
    "</body>\n</html>\n"
)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: the request's id in the answer, which the traceback's line and the
    access line end with (``config/request_ids.py``).

    Under ``/api/`` the API's one error shape: an operation that raised answered Django's
    HTML "Server Error (500)" page to apps that parse one JSON shape. Elsewhere (admin, the
    console) Django's page, naming the id for the staff member who reports it, who reads no
    headers. Not used with ``DEBUG``, where Django shows its technical page instead.
    """
    request_id = getattr(request, "request_id", None)  # config.request_ids.RequestId
    if not request.path_info.startswith("/api/"):
        if request_id is None:
            return django_server_error(request)
        return HttpResponseServerError(format_html(SERVER_ERROR_PAGE, request_id))
    return JsonResponse(
        {"message": SERVER_ERROR, "code": "server_error", "errors": {}, "request_id": request_id},
        status=500,
    )
