"""What every answer of the versioned API needs and no view should have to remember."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

API_PREFIX = "/api/v1/"


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
