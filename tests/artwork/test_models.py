import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from artwork.models import ArtworkVariant
from tests.factories import TitleFactory

pytestmark = pytest.mark.django_db


def _bytes(fmt: str, colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), colour).save(buffer, format=fmt)
    return buffer.getvalue()


def _stored(title, name: str, data: bytes) -> ArtworkVariant:
    variant = ArtworkVariant(title=title, label="Key art", image=SimpleUploadedFile(name, data))
    variant.full_clean()
    variant.save()
    return variant


def test_an_image_is_stored_under_its_content_and_its_real_format():
    # given a PNG a designer saved as "poster.jpg"
    title = TitleFactory()
    data = _bytes("PNG", (10, 20, 30))

    variant = _stored(title, "poster.jpg", data)

    # then its name is its content's digest with the extension of what it is, so it is
    # served as a PNG (a name's extension sets the Content-Type), and nobody can guess a
    # frame's URL from its designer's file name before it is shown
    digest = hashlib.sha256(data).hexdigest()[:32]
    assert variant.image.name == f"artwork/{title.pk}/{digest}.png"


def test_another_picture_under_the_same_file_name_gets_another_url(settings):
    # given a storage that overwrites a taken name (as object stores do by default:
    # django-storages' S3 file_overwrite), and a variant whose picture staff replace with
    # another one named the same
    default = settings.STORAGES["default"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**default, "OPTIONS": {**default.get("OPTIONS", {}), "allow_overwrite": True}},
    }
    title = TitleFactory()
    variant = _stored(title, "poster.jpg", _bytes("JPEG", (200, 0, 0)))
    first = variant.image.url

    variant.image = SimpleUploadedFile("poster.jpg", _bytes("JPEG", (0, 0, 200)))
    variant.full_clean()
    variant.save()

    # then the URL changes with the picture, whatever the storage does with a taken name:
    # a client or CDN that cached the old URL never shows the new picture under it
    assert variant.image.url != first
    assert variant.image.name.endswith(".jpg")
