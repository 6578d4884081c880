"""URL map: admin, the versioned API, its schema and docs, and artwork images (small sites)."""

import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path, re_path, register_converter
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from artwork.image_names import artwork_name_is_fixed
from config.api.exceptions import api_route_not_found
from config.ids import IdConverter
from config.views import favicon, home, server_error

# The folder of MEDIA_ROOT that artwork images are uploaded to (artwork.models.artwork_upload_to).
ARTWORK_MEDIA_DIR = "artwork"

# Before the apps' URLs are included: their routes name rows as <id:...>.
register_converter(IdConverter, "id")

api_v1 = [
    path("", include("profiles.urls")),
    path("", include("recommendations.urls")),
    path("", include("catalog.urls")),
]


#: What the artwork folder serves, by extension (any case): the formats uploads are stored in
#: (``artwork.image_names``), with ``.jpeg``, which names given before them may have.
ARTWORK_MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}


#: How long clients may keep an artwork image. A day without asking again when its name can
#: only ever hold those bytes (an upload's digest: another picture is another URL); without
#: a header, a page's tiles were revalidated or fetched again as each client's heuristics
#: chose. Not longer: a deleted variant's file leaves storage a day after it
#: (``artwork.services.ORPHAN_GRACE``), and a cache in front of this process should let it
#: go about then too. Any other name is kept only as long as the server says it has not
#: changed (``Last-Modified``).
ARTWORK_CACHED = "public, max-age=86400, immutable"
ARTWORK_REVALIDATED = "no-cache"


def artwork_media(request: HttpRequest, path: str) -> HttpResponse:
    """An artwork image, when this process serves media (``SERVE_MEDIA``).

    Only the artwork folder: model and artwork-policy artefacts live under the same
    MEDIA_ROOT and would otherwise be anyone's to download. Only raster images from it,
    with their type from :data:`ARTWORK_MEDIA_TYPES`: served from admin's own origin, an
    SVG or HTML file put there (by hand, or by code that skipped the upload's checks) ran
    its script with a signed-in admin's session, and the type guessed from the system's
    ``mime.types`` left ``.webp`` untyped where that file is missing. Settings are read per
    request, so the switch and MEDIA_ROOT can change without re-importing the URLs.
    """
    if not settings.SERVE_MEDIA:
        raise Http404("Media are not served by this process.")
    content_type = ARTWORK_MEDIA_TYPES.get(PurePosixPath(path).suffix.lower())
    if content_type is None:
        raise Http404("Only artwork images are served here.")
    response = serve(request, path, document_root=Path(settings.MEDIA_ROOT) / ARTWORK_MEDIA_DIR)
    if response.status_code == 200:
        response["Content-Type"] = content_type
    if response.status_code in (200, 304):
        response["Cache-Control"] = (
            ARTWORK_CACHED if artwork_name_is_fixed(path) else ARTWORK_REVALIDATED
        )
    return response


# Under /api/ a 500 is the API's JSON error shape, naming its request (config/views.py).
handler500 = server_error

urlpatterns = [
    path("", home, name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("console/", include("console.urls")),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Its start-up script from /api/docs/?script=, and its page's styles from a stylesheet
    # (templates/api_docs.html), not inline: the Content-Security-Policy (config/settings.py)
    # takes script and styles from this origin's files only. GET alone: its page renders
    # only templates, and an OPTIONS had DRF's metadata rendered through one, a 500.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", template_name="api_docs.html", http_method_names=["get", "head"]
        ),
        name="api-docs",
    ),
    # Last under /api/: what matches no API route is the API's JSON 404, not Django's page.
    # (?s): "." must match a line break too, or a path holding one (%0A) got that page.
    re_path(r"^api/(?P<rest>(?s:.*))$", api_route_not_found),
]

if not urlsplit(settings.MEDIA_URL).netloc:  # a MEDIA_URL on another host (a CDN) is theirs
    _artwork_prefix = re.escape(f"{settings.MEDIA_URL.lstrip('/')}{ARTWORK_MEDIA_DIR}/")
    urlpatterns += [re_path(rf"^{_artwork_prefix}(?P<path>.*)$", artwork_media)]
