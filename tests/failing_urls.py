"""The site's URLs and one API operation that fails, for tests of what a 500 leaves behind.

A server under test is started with ``ROOT_URLCONF=tests.failing_urls``: no operation of
the site fails on purpose, and a 500's log lines, headers and body are what on-call and a
client's bug report have to go on.
"""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler500
from config.urls import urlpatterns as site_urlpatterns

#: Where the failing operation is: under the API, before its not-found route.
FAILING_PATH = "/api/v1/test-failure/"


class FailingApi(APIView):
    """Signed in with a household's token, as every API operation, then fails."""

    def get(self, request: Request) -> Response:
        raise RuntimeError("the operation failed on purpose")


urlpatterns = [path(FAILING_PATH.lstrip("/"), FailingApi.as_view()), *site_urlpatterns]

__all__ = ["handler500", "urlpatterns"]
