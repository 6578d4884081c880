"""Artwork URLs are asked of storage off the request path, once per image."""

import numpy as np
import pytest
from django.core.files.storage import default_storage

from artwork.selection import artwork_arms_load
from tests.factories import ArtworkVariantFactory

pytestmark = pytest.mark.django_db


def test_a_reload_reuses_the_urls_it_had_and_leaves_only_new_images_to_ask_for():
    ArtworkVariantFactory.create_batch(3)
    before = artwork_arms_load()
    before.fill_urls()
    added = ArtworkVariantFactory()
    after = artwork_arms_load()

    after.reuse_urls(before)

    missing = [after.images[i] for i, url in enumerate(after._urls.tolist()) if url is None]
    assert missing == [added.image.name]
    after.fill_urls()
    every = np.arange(len(after.images))
    assert after.urls(every) == [default_storage.url(image) for image in after.images]
    assert after.url(int(every[-1])) == default_storage.url(after.images[-1])
