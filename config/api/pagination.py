"""Pagination shared by every list endpoint."""

from typing import Any

from rest_framework import exceptions, pagination
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param

from config.api.strict import whole_number_rule
from config.ids import ID_MAX

#: The largest offset: PostgreSQL's ``OFFSET`` is a bigint, and no table holds more rows.
OFFSET_MAX = ID_MAX


def _whole_number(request: Request, name: str, *, minimum: int, maximum: int) -> int | None:
    """The query parameter ``name`` as an int in its range; None when absent; else a 400.

    DRF's paginator falls back to its default for "abc", "-1" or "0" and clamps
    a limit above its ceiling, so a client's mistake came back as a page it
    did not ask for, with a 200. Digits beyond the maximum's are refused before
    ``int()`` reads them: past 4,300 it raises (a 500).
    """
    raw = request.query_params.get(name)
    if raw is None:
        return None
    digits = raw.lstrip("0") or "0"
    if not (
        raw.isascii()
        and raw.isdigit()
        and len(digits) <= len(str(maximum))
        and minimum <= int(digits) <= maximum
    ):
        raise exceptions.ValidationError({name: [whole_number_rule(minimum, maximum)]})
    return int(digits)


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """Limit/offset with a ceiling, so one request cannot ask for a whole table."""

    default_limit = 50
    max_limit = 500

    @property
    def query_parameters(self) -> tuple[str, str]:
        """The parameters this paginator reads, for the list views' unknown-parameter check."""
        return (self.limit_query_param, self.offset_query_param)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """DRF's two parameters, with the ranges that ``get_limit`` and ``get_offset`` enforce
        and the defaults they fall back to."""
        bounds = {
            self.limit_query_param: {
                "minimum": 1,
                "maximum": self.max_limit,
                "default": self.default_limit,
            },
            self.offset_query_param: {
                "format": "int64",
                "minimum": 0,
                "maximum": OFFSET_MAX,
                "default": 0,
            },
        }
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"] = {**parameter["schema"], **bounds.get(parameter["name"], {})}
        return parameters

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """DRF's page shape, with what each of its fields holds for a client."""
        paginated = super().get_paginated_response_schema(schema)
        described = {
            "count": "How many results there are in all, on every page.",
            "next": "The URL of the next page; null on the last.",
            "previous": "The URL of the previous page; null on the first. Past the last "
            "result (an offset at or beyond `count`), the page that holds the last result "
            "(the offset less as many whole limits as that takes; the first page when there "
            "are none).",
            "results": "This page's results.",
        }
        for name, description in described.items():
            paginated["properties"][name]["description"] = description
        # Every page holds all four (`next` and `previous` null at the ends); DRF's shape
        # required only two, so a generated client made the links optional as well as null.
        paginated["required"] = sorted(described)
        return paginated

    def get_previous_link(self) -> str | None:
        """DRF's link one limit back, except from past the last result: the page holding it.

        DRF steps back one limit from any offset, so from past the end (a stale link,
        results deleted since, an offset typed by hand: count 10, offset 100, limit 20)
        it led to offset 80, as empty, and a client following `previous` to get back met
        empty pages all the way. Past the end it now steps back as many whole limits as
        reach the last result (offset 0 there; 40 for count 45), so the page is on the same
        grid as DRF's steps (following `previous` from it lists every result once, with no
        overlap), rather than ``count - limit``, which would start a shifted grid.
        """
        if self.offset <= 0:
            return None
        offset = self.offset - self.limit
        if self.offset > self.count:
            past = self.offset - self.count  # offset count - 1 holds the last result
            offset = self.offset - (past // self.limit + 1) * self.limit
        url = replace_query_param(
            self.request.build_absolute_uri(), self.limit_query_param, self.limit
        )
        if offset <= 0:
            return remove_query_param(url, self.offset_query_param)
        return replace_query_param(url, self.offset_query_param, offset)

    def get_limit(self, request: Request) -> int:
        limit = _whole_number(request, self.limit_query_param, minimum=1, maximum=self.max_limit)
        return self.default_limit if limit is None else limit

    def get_offset(self, request: Request) -> int:
        offset = _whole_number(request, self.offset_query_param, minimum=0, maximum=OFFSET_MAX)
        return 0 if offset is None else offset
