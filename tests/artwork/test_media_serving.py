"""How this process serves artwork images (``SERVE_MEDIA``): what clients may keep, and how long."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from artwork.models import ArtworkVariant
from tests.factories import TitleFactory, image_file

pytestmark = pytest.mark.django_db
A_DAY = "public, max-age=86400, immutable"


def test_an_uploaded_image_is_cached_without_asking_as_its_url_names_its_content(settings):
    # given an uploaded frame, stored under its content's digest
    settings.SERVE_MEDIA = True
    variant = ArtworkVariant(title=TitleFactory(), label="Key art", image=image_file())
    variant.full_clean()
    variant.save()
    client = Client()

    # when a client fetches it, and later asks whether it changed
    first = client.get(variant.image.url)
    again = client.get(variant.image.url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])

    # then it may keep it a day without asking again: another picture is another name,
    # so the bytes at this one never change (a day, not more: a deleted variant's file
    # leaves storage a day after it). Without the header every page's tiles were
    # revalidated or fetched again as each client's heuristics chose
    assert (first.status_code, first["Cache-Control"]) == (200, A_DAY)
    assert (again.status_code, again["Cache-Control"]) == (304, A_DAY)


def test_the_same_picture_stored_twice_under_a_free_name_is_cached_alike(settings):
    # given the same bytes stored twice for a title: the second file takes a free name
    # beside the first (its digest and a suffix), the same picture
    settings.SERVE_MEDIA = True
    title = TitleFactory()
    names = []
    for _ in range(2):
        variant = ArtworkVariant(title=title, label="Key art", image=image_file())
        variant.full_clean()
        variant.save()
        names.append(variant.image.url)
    assert names[0] != names[1]

    assert Client().get(names[1])["Cache-Control"] == A_DAY


@pytest.mark.parametrize("name", ["demo-shared/action-01.jpg", "7/poster.jpeg"])
def test_an_image_not_named_by_its_content_is_revalidated(settings, name):
    # given a file under a name that does not say its content (the demo's shared pool,
    # names given before uploads were named by digest): a file written there after the
    # old one was pruned may hold other bytes
    settings.SERVE_MEDIA = True
    stored = default_storage.save(f"artwork/{name}", ContentFile(image_file().read()))

    response = Client().get(default_storage.url(stored))

    # then clients keep it only as long as the server says it has not changed
    assert (response.status_code, response["Cache-Control"]) == (200, "no-cache")
