import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from artwork.models import ArtworkVariant
from artwork.validators import validate_artwork_image
from tests.factories import TitleFactory, image_file

pytestmark = pytest.mark.django_db
ORIENTATION = 0x0112  # the EXIF tag


def _variant(upload: SimpleUploadedFile) -> ArtworkVariant:
    return ArtworkVariant(title=TitleFactory(), label="Key art", image=upload)


def test_a_real_jpeg_is_accepted_and_its_size_recorded():
    variant = _variant(image_file(size=(480, 270)))
    variant.full_clean()
    variant.save()
    assert (variant.width, variant.height) == (480, 270)


def test_a_file_that_is_not_an_image_is_rejected_with_a_clear_message():
    upload = SimpleUploadedFile("poster.jpg", b"%PDF-1.7 this is a pdf", content_type="image/jpeg")
    with pytest.raises(ValidationError) as error:
        _variant(upload).full_clean()
    assert "not an image that can be read" in str(error.value.message_dict["image"])


def test_a_disallowed_format_is_rejected_naming_the_allowed_ones():
    with pytest.raises(ValidationError) as error:
        _variant(image_file("art.gif", fmt="GIF")).full_clean()
    message = " ".join(error.value.message_dict["image"])
    assert "GIF images are not accepted" in message
    assert "JPEG, PNG, WEBP" in message


def test_a_file_over_the_byte_limit_is_rejected(settings):
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_MAX_BYTES": 1000}
    buffer = io.BytesIO()
    noise = Image.effect_noise((400, 400), 80).convert("RGB")
    noise.save(buffer, format="PNG")
    upload = SimpleUploadedFile("big.png", buffer.getvalue(), content_type="image/png")
    with pytest.raises(ValidationError) as error:
        validate_artwork_image(upload)
    assert f"The image is {len(buffer.getvalue()):,} bytes; the limit is 1,000 bytes." in str(
        error.value
    )


def test_a_file_over_the_default_limit_is_rejected_in_the_unit_of_the_limit(settings):
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_MAX_BYTES": 5 * 1024 * 1024}
    upload = SimpleUploadedFile("big.png", b"\x89PNG" + bytes(6 * 1024 * 1024))
    with pytest.raises(ValidationError) as error:
        validate_artwork_image(upload)
    assert "The image is 6.0 MiB; the limit is 5.0 MiB." in str(error.value)


@pytest.mark.parametrize(
    ("size", "expected"),
    [((100, 60), "at least 160x90"), ((5000, 200), "at most 4096x4096")],
)
def test_dimensions_outside_the_limits_are_rejected(size, expected):
    with pytest.raises(ValidationError) as error:
        validate_artwork_image(image_file("x.png", size=size, fmt="PNG"))
    assert expected in str(error.value)


def test_a_variant_must_target_at_least_one_device_class():
    variant = _variant(image_file())
    variant.for_tv = variant.for_mobile = variant.for_tablet = variant.for_web = False
    with pytest.raises(ValidationError) as error:
        variant.full_clean()
    assert "at least one device class" in str(error.value)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that says it is ``width`` x ``height`` (1-bit grey) and holds one empty row.

    A real 20000 x 20000 image would cost 50 MB to build here; a bomb only needs
    its header to claim the size, which is all a decoder reads before allocating.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def _upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_a_decompression_bomb_is_refused_as_too_large_not_crashing():
    # given a small file claiming 20000 x 20000 pixels, past Pillow's bomb limit
    bomb = _png_header(20000, 20000)
    assert len(bomb) < 100

    # when it is validated, then it is a validation error saying it is too large
    with pytest.raises(ValidationError) as error:
        validate_artwork_image(_upload("bomb.png", bomb))
    assert error.value.code == "image_too_large"
    assert "at most 4096x4096" in error.value.message


def test_a_png_whose_text_inflates_past_pillows_limit_is_refused_not_crashing():
    # given a real PNG with a compressed comment (zTXt) that inflates to 3 MB, past the
    # limit Pillow puts on a text chunk (a zip bomb in the metadata): Pillow's open()
    # raises ValueError for it, not the OSError of a damaged file
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), (1, 2, 3)).save(buffer, format="PNG")
    png = buffer.getvalue()
    body = b"zTXt" + b"Comment\0\0" + zlib.compress(b"a" * (3 * 1024 * 1024))
    text = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    upload = _upload("art.png", png[:33] + text + png[33:])  # after the 33-byte IHDR

    # when the model validates it (code that sets an image without admin's form), then
    # it is a validation error on the image, as any file it cannot read
    with pytest.raises(ValidationError) as error:
        validate_artwork_image(upload)
    assert error.value.code == "invalid_image"


def test_admin_says_a_decompression_bomb_is_too_large(admin_client):
    # given the admin's add form and a bomb
    title = TitleFactory()
    page = admin_client.post(
        "/admin/artwork/artworkvariant/add/",
        {
            "title": title.pk,
            "label": "Key art",
            "image": _upload("bomb.png", _png_header(20000, 20000)),
            "for_tv": "on",
            "maturity": 0,
            "is_active": "on",
        },
    )

    # then the form names the reason, not "not an image or a corrupted image"
    assert page.status_code == 200
    errors = page.context["adminform"].form.errors["image"]
    assert any("at most 4096x4096" in message for message in errors), errors
    assert not ArtworkVariant.objects.exists()


def _animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (320, 180), (60 * i, 0, 0)) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format=fmt, save_all=True, append_images=frames[1:])
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "fmt"), [("a.png", "PNG"), ("a.webp", "WEBP")])
def test_an_animated_image_is_refused(name, fmt):
    with pytest.raises(ValidationError) as error:
        _variant(_upload(name, _animated(fmt))).full_clean()
    assert "animated (3 frames)" in " ".join(error.value.message_dict["image"])


def test_a_cmyk_image_is_refused_asking_for_rgb():
    buffer = io.BytesIO()
    Image.new("CMYK", (320, 180), (0, 50, 100, 0)).save(buffer, format="JPEG")

    with pytest.raises(ValidationError) as error:
        _variant(_upload("print.jpg", buffer.getvalue())).full_clean()
    assert "CMYK" in " ".join(error.value.message_dict["image"])
    assert "RGB" in " ".join(error.value.message_dict["image"])


def _jpeg_with_orientation(orientation: int, size: tuple[int, int] = (320, 180)) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    buffer = io.BytesIO()
    Image.new("RGB", size, (0, 0, 200)).save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_an_image_turned_by_its_exif_orientation_is_refused(orientation):
    # given a frame stored 180 x 320 that browsers would show turned, as 320 x 180
    upload = _upload("phone.jpg", _jpeg_with_orientation(orientation, size=(180, 320)))

    # then it is refused: TV and mobile apps that ignore the tag would show it turned
    with pytest.raises(ValidationError) as error:
        _variant(upload).full_clean()
    assert f"EXIF orientation {orientation}" in " ".join(error.value.message_dict["image"])


def test_upright_paletted_and_greyscale_images_are_accepted():
    for name, data in [
        ("upright.jpg", _jpeg_with_orientation(1)),
        # 0 is no orientation (some cameras write it); readers draw it as stored
        ("unset.jpg", _jpeg_with_orientation(0)),
        ("palette.png", _png(Image.new("RGB", (320, 180), (1, 2, 3)).convert("P"))),
        ("grey.png", _png(Image.new("LA", (320, 180)))),
    ]:
        variant = _variant(_upload(name, data))
        variant.full_clean()
        variant.save()
        assert (variant.width, variant.height) == (320, 180)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _cut(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


def _noise(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((480, 270), 60).convert("RGB").save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_image_is_refused(fmt):
    # given the first half of a real image (an upload cut short): Pillow's verify() reads
    # a PNG's chunks but not a JPEG's scan, and browsers draw a cut JPEG half grey
    upload = _upload("cut.jpg", _cut(_noise(fmt), 0.5))

    # then it is refused as unreadable, whatever the format
    with pytest.raises(ValidationError) as error:
        _variant(upload).full_clean()
    assert "not an image that can be read" in " ".join(error.value.message_dict["image"])


def test_admin_refuses_a_truncated_jpeg(admin_client):
    title = TitleFactory()
    page = admin_client.post(
        "/admin/artwork/artworkvariant/add/",
        {
            "title": title.pk,
            "label": "Key art",
            "image": _upload("cut.jpg", _cut(_noise("JPEG"), 0.6)),
            "for_tv": "on",
            "maturity": 0,
            "is_active": "on",
        },
    )

    # then the form says why: the file is cut short, not Django's "either not an image or
    # a corrupted image", which replaced the validator's message of the same error code
    assert page.status_code == 200
    errors = " ".join(page.context["adminform"].form.errors["image"])
    assert "cut short or damaged" in errors
    assert "Upload a valid image" not in errors
    assert not ArtworkVariant.objects.exists()
