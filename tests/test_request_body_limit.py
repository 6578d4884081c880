"""A body larger than the server reads is refused before a byte of it is read.

Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` caps what it reads into memory, not the
files of a multipart body, which it streams to temporary files first, whoever sent
them: any client holding a CSRF cookie of its own making (it needs no sign-in to
mint one) made every page outside the API read and spool a body of any size, the
CSRF check itself reading it to find its token, and a household's token did the same
on the API (README: "A body over DATA_UPLOAD_MAX_MEMORY_SIZE ... is a 413").
"""

from __future__ import annotations

import io
import random

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from PIL import Image

from artwork.models import ArtworkVariant
from profiles.models import Profile
from tests.conftest import token_client
from tests.factories import TitleFactory
from tests.openapi import assert_answer_documented
from tests.streams import ReadCounted

pytestmark = pytest.mark.django_db

LIMIT = 10_000
BOUNDARY = "tonight-test-boundary"
ARTWORK_ADD = "/admin/artwork/artworkvariant/add/"


@pytest.fixture(autouse=True)
def _small_limit(settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT


def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for name, (filename, data) in files.items():
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _post(client: Client, path: str, body: bytes, method: str = "POST") -> tuple[object, int]:
    """Send ``body`` as a multipart form; the answer, and how many bytes were read of it."""
    stream = ReadCounted(body)
    response = client.generic(
        method,
        path,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        **{
            "wsgi.input": stream,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        },
    )
    return response, stream.taken


def _anonymous() -> Client:
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "a" * 32  # a cookie any client can make up
    return client


def _large_file() -> dict[str, tuple[str, bytes]]:
    return {"upload": ("big.bin", b"x" * (5 * LIMIT))}


@pytest.mark.parametrize("path", ["/admin/login/", "/console/", ARTWORK_ADD, "/nowhere/"])
def test_an_anonymous_body_over_the_limit_is_refused_unread(path):
    response, taken = _post(_anonymous(), path, _multipart({"username": "a"}, _large_file()))

    assert response.status_code == 413
    assert taken == 0


def test_a_signed_in_user_who_is_not_staff_is_refused_as_anyone(client):
    user = get_user_model().objects.create_user("viewer", password="x")
    client.force_login(user)

    response, taken = _post(client, "/console/", _multipart({}, _large_file()))

    assert response.status_code == 413
    assert taken == 0


def test_an_anonymous_sign_in_under_the_limit_is_read_as_before():
    response, taken = _post(_anonymous(), "/admin/login/", _multipart({"username": "a"}, {}))

    # the CSRF check read the form to look for its token, and refused it for want of one
    assert response.status_code == 403
    assert taken > 0


def _png(size: tuple[int, int] = (320, 180)) -> bytes:
    buffer = io.BytesIO()
    # Noise, so the file is larger than LIMIT (a flat colour compresses to almost nothing).
    noise = random.Random(0).randbytes(size[0] * size[1] * 3)
    Image.frombytes("RGB", size, noise).save(buffer, format="PNG")
    return buffer.getvalue()


def test_staff_upload_artwork_larger_than_the_form_limit(admin_client):
    # given: an image larger than the limit on form data, well within the artwork limit
    data = _png()
    assert len(data) > LIMIT
    title = TitleFactory()
    fields = {"title": str(title.pk), "label": "Key art", "for_tv": "on", "maturity": "0"}
    fields["is_active"] = "on"

    response, _ = _post(admin_client, ARTWORK_ADD, _multipart(fields, {"image": ("a.png", data)}))

    assert response.status_code == 302, response.content[:500]
    assert ArtworkVariant.objects.get().title == title


def test_staff_bodies_beyond_any_form_admin_takes_are_refused_unread(admin_client, settings):
    # The most a staff form carries: its fields, and every file Django takes at the artwork limit.
    staff_limit = (
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        + settings.DATA_UPLOAD_MAX_NUMBER_FILES * settings.TONIGHT["ARTWORK_MAX_BYTES"]
    )
    stream = ReadCounted(b"")

    response = admin_client.generic(
        "POST",
        ARTWORK_ADD,
        **{
            "wsgi.input": stream,
            "CONTENT_LENGTH": str(staff_limit + 1),
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        },
    )

    assert response.status_code == 413
    assert stream.taken == 0


PROFILES = "/api/v1/profiles/"


def test_an_api_body_with_a_file_over_the_limit_is_the_documented_413_unread(account):
    response, taken = _post(
        token_client(account), PROFILES, _multipart({"name": "Asha"}, _large_file())
    )

    assert response.status_code == 413, response.content[:300]
    body = response.json()
    assert body["code"] == "payload_too_large"
    assert f"{LIMIT:,} bytes" in body["message"]
    assert response["Cache-Control"] == "private, no-store"
    assert taken == 0
    assert_answer_documented(response, "POST", PROFILES)


@pytest.mark.parametrize("path", ["/api/v1/profiles/{id}/", "/api/v1/profiles/{id}/unlock/"])
def test_a_delete_with_a_body_over_the_limit_is_the_documented_413_unread(account, profile, path):
    # A DELETE reads no body, but one sent with it is still refused, unread, before a 400
    # could name it; the schema lists the 413 on the DELETEs as on the other writes.
    url = path.format(id=profile.pk)

    response, taken = _post(token_client(account), url, _multipart({}, _large_file()), "DELETE")

    assert response.status_code == 413, response.content[:300]
    assert taken == 0
    assert_answer_documented(response, "DELETE", path.replace("{id}", "{profile_id}"))
    assert Profile.objects.filter(pk=profile.pk).exists()


def test_an_api_write_no_operation_takes_is_its_405_whatever_its_size(account, profile):
    # The view answers it without reading the body: what is wrong is the method.
    homepage = f"/api/v1/profiles/{profile.pk}/homepage/"

    response, taken = _post(token_client(account), homepage, _multipart({}, _large_file()))

    assert response.status_code == 405
    assert taken == 0


def test_a_read_is_answered_whatever_length_it_declares():
    # No view reads the body of a GET: it is not refused for one it will never read.
    response, taken = _post(_anonymous(), "/admin/login/", _multipart({}, _large_file()), "GET")

    assert response.status_code == 200
    assert taken == 0
