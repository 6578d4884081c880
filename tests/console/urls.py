"""The site's URLs, with media served from MEDIA_ROOT as it is at request time.

``config.urls`` reads MEDIA_ROOT once, at import; the suite moves it to a
temporary folder per test, so tests that fetch artwork images use this URLconf.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import re_path
from django.views.static import serve

from config.urls import urlpatterns as site_urlpatterns


def media(request: HttpRequest, path: str) -> HttpResponse:
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [
    re_path(r"^{}(?P<path>.*)$".format(settings.MEDIA_URL.lstrip("/")), media),
    *site_urlpatterns,
]
