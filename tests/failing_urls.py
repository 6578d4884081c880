"""The site's URLs, one API operation and one page that fail, for tests of what a 500 leaves behind.

A server under test is started with ``ROOT_URLCONF=tests.failing_urls``: no operation of
the site fails on purpose, and a 500's log lines, headers and body are what on-call and a
client's bug report have to go on.
"""

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler500
from config.urls import urlpatterns as site_urlpatterns

#: Where the failing operation is: under the API, before its not-found route.
FAILING_PATH = "/api/v1/test-failure/"
#: Where an operation fails on a query PostgreSQL refuses every time (an OperationalError
#: with the database up): under the API, as FAILING_PATH.
QUERY_REFUSED_PATH = "/api/v1/test-query-refused/"
#: Where the failing page is: outside the API, as admin's and the console's pages are.
FAILING_PAGE = "/test-failure/"


class FailingApi(APIView):
    """Signed in with a household's token, as every API operation, then fails."""

    def get(self, request: Request) -> Response:
        raise RuntimeError("the operation failed on purpose")


class QueryRefusedApi(APIView):
    """Asks PostgreSQL for more than it allows (54000, program_limit_exceeded), every time."""

    authentication_classes = ()
    permission_classes = ()

    def get(self, request: Request) -> Response:
        with connection.cursor() as cursor:
            cursor.execute("SELECT '{{{{{{{1}}}}}}}'::int[]")  # 7 dimensions; at most 6
        return Response({})


def failing_page(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the page failed on purpose")


urlpatterns = [
    path(FAILING_PATH.lstrip("/"), FailingApi.as_view()),
    path(QUERY_REFUSED_PATH.lstrip("/"), QueryRefusedApi.as_view()),
    path(FAILING_PAGE.lstrip("/"), failing_page),
    *site_urlpatterns,
]

__all__ = ["handler500", "urlpatterns"]
