"""The project's URLs plus the benchmark's baselines; never in production URLs.

``bench/homepage.py`` starts gunicorn with ``ROOT_URLCONF=bench.floor_urls``.
"""

import dataclasses
from typing import ClassVar

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from uuid6 import uuid7

from profiles.models import Profile
from recommendations.apis.homepage import HomepageApi
from recommendations.services.homepage import page_log_create
from recommendations.serving.homepage import Page, homepage_build
from recommendations.serving.recommend import profile_serving

#: One item of the floor body: the body is as many rows of 20 of these as ``?bytes=`` allows.
_ITEM = {"title_id": 12345, "name": "A title of some length", "match": 87}


class FloorView(APIView):
    """A minimal DRF endpoint returning a JSON body of about ``?bytes=`` bytes.

    Stock DRF, as the issue's floor is defined: its own ``JSONRenderer``, not
    the project's orjson one (:class:`FastFloorView` is the floor with that).
    """

    authentication_classes = ()
    renderer_classes = (JSONRenderer,)
    permission_classes = (AllowAny,)

    def get(self, request: Request) -> Response:
        size = int(request.query_params.get("bytes", 32768))
        per_item = len(str(_ITEM)) + 2
        return Response({"rows": [[_ITEM] * 20] * max(1, size // (20 * per_item))})


class FastFloorView(FloorView):
    """The floor with the project's default renderer (orjson), printed beside it."""

    renderer_classes = api_settings.DEFAULT_RENDERER_CLASSES


class SkeletonView(HomepageApi):
    """The homepage's reads, page log and body, with nothing computed: the page's own floor.

    It is the homepage's view (token and profile read, access checks,
    parameters, body) with only :meth:`page_render` replaced: it reads the
    profile's history and puts it on the serving version's title index, and
    logs the page (one insert), but the page itself is the one this process
    built for the first request from the same device, served again under a
    new id. So the homepage's cost beyond
    this one's is the cost of computing a page, and this one's beyond the
    floor is the cost of the reads and the write every page must make.
    """

    pages: ClassVar[dict[str, Page]] = {}  # by device, one per process

    def page_render(self, *, profile: Profile, params: dict, languages: set[str]) -> Page:
        profile_serving(profile=profile, at=None)  # the history read, and its arrays
        page = self.pages.get(params["device"])
        if page is None:
            page = self.pages[params["device"]] = homepage_build(
                profile=profile,
                device=params["device"],
                n_rows=params["rows"],
                n_items=params["items"],
                language_codes=languages,
            )
        page = dataclasses.replace(page, page_id=uuid7())
        page_log_create(profile=profile, page=page)
        return page


urlpatterns = [
    path("bench/floor/", FloorView.as_view()),
    path("bench/skeleton/<int:profile_id>/", SkeletonView.as_view()),
    path("bench/floor-orjson/", FastFloorView.as_view()),
    path("", include("config.urls")),
]
