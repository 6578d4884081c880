"""The site's front page, and its icon's old address."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_safe

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
