"""Pagination shared by every list endpoint."""

from rest_framework import pagination


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """Limit/offset with a ceiling, so one request cannot ask for a whole table."""

    default_limit = 50
    max_limit = 500
