"""The project's URLs plus the benchmark's floor endpoint; never in production URLs.

``bench/homepage.py`` starts gunicorn with ``ROOT_URLCONF=bench.floor_urls``.
"""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

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


urlpatterns = [
    path("bench/floor/", FloorView.as_view()),
    path("bench/floor-orjson/", FastFloorView.as_view()),
    path("", include("config.urls")),
]
