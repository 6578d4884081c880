"""The project's JSON renderer writes what DRF's own would, faster."""

import datetime as dt
import decimal
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from config.api.renderers import OrjsonRenderer

PAYLOAD = {
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "at": dt.datetime(2026, 12, 2, 20, 30, 15, 123456, tzinfo=dt.UTC),
    "local": dt.datetime(2026, 12, 2, 20, 30, tzinfo=dt.timezone(dt.timedelta(hours=5.5))),
    "day": dt.date(2026, 12, 2),
    "price": decimal.Decimal("9.99"),
    "label": gettext_lazy("Not found."),
    "name": "Sacred Games — सेक्रेड गेम्स",
    "separators": "a\u2028b\u2029c",
    "rows": [{"match": 97, "progress": None, "propensity": 0.125, "ok": True}],
    "ids": (1, 2, 3),
    7: "a non-string key",
}


@pytest.mark.parametrize("key", sorted(PAYLOAD, key=str))
def test_each_kind_of_value_renders_as_drf_renders_it(key):
    value = {key: PAYLOAD[key]}
    assert OrjsonRenderer().render(value) == JSONRenderer().render(value)


def test_a_whole_body_renders_byte_for_byte_as_drf_renders_it():
    assert OrjsonRenderer().render(PAYLOAD) == JSONRenderer().render(PAYLOAD)


def test_an_indented_response_is_left_to_drf():
    renderer = OrjsonRenderer()
    body = renderer.render({"a": 1}, "application/json; indent=2")
    assert body == JSONRenderer().render({"a": 1}, "application/json; indent=2")
    assert b"\n" in body


def test_nothing_renders_as_an_empty_body():
    assert OrjsonRenderer().render(None) == b""
