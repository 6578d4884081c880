"""The server's own address says where its pages are, to anyone, reading nothing."""

import re

import pytest


@pytest.mark.django_db
def test_the_front_page_links_the_docs_schema_console_and_admin(client, django_assert_num_queries):
    # when: somebody opens the server's address, signed in to nothing
    with django_assert_num_queries(0):
        page = client.get("/")

    # then: a page (it was Django's "Page not found") naming the four places
    assert page.status_code == 200
    links = re.findall(r'href="([^"]+)"', page.content.decode())
    assert {"/api/docs/", "/api/schema/", "/console/", "/admin/"} <= set(links)
    # and each is there: the docs for anyone, the others behind their own sign-in
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/console/").status_code == 302
    assert client.get("/admin/").status_code == 302


def test_the_front_page_takes_no_writes(client):
    assert client.post("/").status_code == 405
