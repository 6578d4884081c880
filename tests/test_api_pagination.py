"""The list endpoints' pages: a `previous` link past the end leads back to results."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from config.api.pagination import LimitOffsetPagination
from tests.factories import ProfileFactory, SignalFactory


def previous_offset(*, count: int, offset: int, limit: int) -> int | None:
    """The offset the paginator's `previous` link names (0 when it names none), or None."""
    request = Request(APIRequestFactory().get("/items/", {"offset": offset, "limit": limit}))
    paginator = LimitOffsetPagination()
    paginator.paginate_queryset(list(range(count)), request)
    link = paginator.get_previous_link()
    if link is None:
        return None
    query = parse_qs(urlsplit(link).query)
    # The first page is named without an offset, as DRF names it: "offset=0" is the same
    # page under a second URL (a second entry in a client's or a proxy's cache).
    assert query.get("offset") != ["0"], link
    return int(query.get("offset", ["0"])[0])


@pytest.mark.parametrize(
    ("count", "offset", "limit", "previous"),
    [
        # past the end: the page of the request's grid (offset less whole limits) that
        # holds the last result, not the one just before the offset (DRF's, itself empty)
        (10, 100, 20, 0),
        (45, 100, 20, 40),
        (45, 61, 20, 41),
        (45, 46, 20, 26),
        (1, 7, 5, 0),
        # nothing to list: the first page, the one there is
        (0, 40, 20, 0),
        # at the end exactly, and within: DRF's, one limit back
        (45, 45, 20, 25),
        (40, 40, 20, 20),
        (45, 30, 20, 10),
        (45, 10, 20, 0),
        (45, 20, 20, 0),
        (45, 0, 20, None),
    ],
)
def test_previous_past_the_end_is_the_last_page_holding_results(count, offset, limit, previous):
    assert previous_offset(count=count, offset=offset, limit=limit) == previous


@pytest.mark.django_db
def test_every_list_endpoints_previous_past_the_end_lists_results(api_client, account):
    # given: three profiles, and three signals of the first
    profiles = [ProfileFactory(account=account) for _ in range(3)]
    SignalFactory.create_batch(3, profile=profiles[0])
    lists = [reverse("v1:profile-list"), reverse("v1:signals", args=[profiles[0].pk])]

    for path in lists:
        # when: a page far past the end, then its previous link
        beyond = api_client.get(path, {"limit": 2, "offset": 100})
        back = api_client.get(beyond.json()["previous"])

        # then
        assert beyond.status_code == back.status_code == 200, path
        assert beyond.json()["results"] == []
        assert beyond.json()["count"] == 3, path
        assert len(back.json()["results"]) == 1, path  # the third, at offset 2 of limit 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("offset", str(2**63)),  # past PostgreSQL's OFFSET (a bigint), and any table's rows
        ("offset", "9" * 5000),  # past the digits int() reads: a 500
        ("limit", "9" * 5000),
        ("offset", "0" * 30 + "1" * 20),
    ],
)
def test_a_limit_or_offset_past_its_range_is_a_400_naming_it_however_long(
    api_client, profile, name, value
):
    response = api_client.get(reverse("v1:profile-list"), {name: value})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [name]


@pytest.mark.django_db
def test_the_largest_offset_is_an_empty_page(api_client, profile):
    response = api_client.get(
        reverse("v1:profile-list"), {"offset": "0" * 30 + str(2**63 - 1), "limit": 1}
    )

    assert response.status_code == 200
    assert response.json()["results"] == []
