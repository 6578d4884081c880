"""DRF's JSON renderer, encoding with orjson, and the choice of renderer a request asks for.

A homepage is a 30-40 KB body of a few hundred small dicts; the standard
library's encoder spent more time on it than ranking the page's titles did.
orjson writes the same JSON several times faster. Output matches DRF's
``JSONRenderer`` (UTF-8, compact, datetimes and anything orjson does not know
through DRF's own encoder, U+2028/U+2029 escaped); an indented response (the
``indent`` media-type parameter) is left to DRF's renderer, which is rare and
not worth reproducing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from config.api.strict import one_of

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_LINE_SEPARATOR = "\u2028".encode()
_PARAGRAPH_SEPARATOR = "\u2029".encode()


class OrjsonRenderer(JSONRenderer):
    """:class:`~rest_framework.renderers.JSONRenderer` with orjson doing the encoding."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        # Datetimes pass through to DRF's encoder so they read as DRF writes them
        # (milliseconds, "Z" for UTC); so do Decimals, lazy strings and the rest.
        body = orjson.dumps(data, default=JSONEncoder().default, option=_OPTIONS)
        # Escaped as DRF does, so the JSON is also a strict JavaScript subset.
        if _LINE_SEPARATOR in body or _PARAGRAPH_SEPARATOR in body:
            body = body.replace(_LINE_SEPARATOR, b"\\u2028").replace(
                _PARAGRAPH_SEPARATOR, b"\\u2029"
            )
        return body


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, with a ``?format=`` it cannot write refused as the parameter it is.

    DRF raises ``Http404`` for one, so ``/api/v1/profiles/?format=xml`` was "Not found."
    (404): an answer the profile list does not document, and one that reads, on a
    profile that exists, as the profile missing. It is a 400 naming ``format`` and
    the formats there are, as any other parameter's value not among its choices.
    """

    def filter_renderers(
        self, renderers: Sequence[BaseRenderer], format: str
    ) -> list[BaseRenderer]:
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            # Each once: the schema view has two renderers of each format (two media types).
            formats = one_of(dict.fromkeys(renderer.format for renderer in renderers))
            raise exceptions.ValidationError(
                {self.settings.URL_FORMAT_OVERRIDE: [f'"{format}" is not {formats}.']}
            )
        return matching
