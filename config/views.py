"""The site's front page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Where the API's documentation, the staff console and admin are.

    Whoever opens the server's address (the demo prints its pages' addresses, not this
    one) got Django's "Page not found", which under ``DEBUG`` lists every route.
    Public and reading nothing: it names pages, each of which asks for its own sign-in.
    """
    return render(request, "home.html")
