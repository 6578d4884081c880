"""What an upload through admin becomes before it is stored: one frame, in sRGB."""

import hashlib
import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageCms, PngImagePlugin

from artwork.models import ArtworkVariant
from tests.artwork.icc_profiles import ADOBE_RGB, DISPLAY_P3, cmyk_profile, rgb_profile
from tests.factories import TitleFactory

pytestmark = pytest.mark.django_db
ADD = "/admin/artwork/artworkvariant/add/"
SIZE = (320, 180)
P3 = rgb_profile("Display P3", DISPLAY_P3)
ADOBE = rgb_profile("Adobe RGB (1998)", ADOBE_RGB, gamma=563 / 256)
#: A colour well inside both gamuts, so its sRGB value is not clipped.
ORANGE = (200, 100, 50)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _in_srgb(colour: tuple[int, ...], profile: bytes, mode: str = "RGB") -> tuple[int, ...]:
    """What ``colour`` in ``profile`` is in sRGB, by LittleCMS."""
    pixel = Image.new(mode, (1, 1), colour)
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    srgb = ImageCms.createProfile("sRGB")
    out_mode = "RGBA" if mode == "RGBA" else "RGB"
    intent = ImageCms.Intent.RELATIVE_COLORIMETRIC
    converted = ImageCms.profileToProfile(
        pixel, source, srgb, renderingIntent=intent, outputMode=out_mode
    )
    return converted.getpixel((0, 0))


def _add(admin_client, name: str, data: bytes):
    title = TitleFactory()
    form = {
        "title": title.pk,
        "label": "Key art",
        "image": SimpleUploadedFile(name, data),
        "for_tv": "on",
        "maturity": 0,
        "is_active": "on",
    }
    return admin_client.post(ADD, form)


def _stored(page) -> tuple[ArtworkVariant, bytes]:
    assert page.status_code == 302, page.context["adminform"].form.errors
    variant = ArtworkVariant.objects.get()
    with default_storage.open(variant.image.name) as file:
        return variant, file.read()


def _errors(page) -> str:
    assert page.status_code == 200
    assert not ArtworkVariant.objects.exists()
    return " ".join(page.context["adminform"].form.errors["image"])


def _close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def _assert_named_by_its_stored_bytes(variant: ArtworkVariant, data: bytes, extension: str):
    digest = hashlib.sha256(data).hexdigest()[:32]
    assert variant.image.name == f"artwork/{variant.title_id}/{digest}.{extension}"


@pytest.mark.parametrize(
    ("fmt", "extension", "profile", "tolerance"),
    [
        ("PNG", "png", P3, 1),
        ("JPEG", "jpg", ADOBE, 3),
        ("WEBP", "webp", P3, 4),
    ],
)
def test_an_image_with_a_wide_gamut_profile_is_stored_in_srgb(
    admin_client, fmt, extension, profile, tolerance
):
    # given a flat orange frame exported in Display P3 or Adobe RGB with its profile
    upload = _encode(Image.new("RGB", SIZE, ORANGE), fmt, icc_profile=profile)

    # when a designer uploads it
    variant, stored = _stored(_add(admin_client, f"art.{extension}", upload))

    # then what is stored is the same colour in sRGB, without a profile (many TV apps
    # ignore one, and showed the P3 numbers as if they were sRGB: duller, shifted colours)
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == fmt
        assert "icc_profile" not in image.info
        assert image.mode == "RGB"
        pixel = image.getpixel((100, 100))
    expected = _in_srgb(ORANGE, profile)
    assert expected != ORANGE
    assert _close(pixel, expected, tolerance), (pixel, expected)
    assert (variant.width, variant.height) == SIZE
    # and it is named by the bytes stored, not by the bytes uploaded
    _assert_named_by_its_stored_bytes(variant, stored, extension)


def test_a_transparent_png_with_a_profile_keeps_its_transparency(admin_client):
    colour = (*ORANGE, 90)
    upload = _encode(Image.new("RGBA", SIZE, colour), "PNG", icc_profile=P3)

    _, stored = _stored(_add(admin_client, "logo.png", upload))

    with Image.open(io.BytesIO(stored)) as image:
        assert image.mode == "RGBA"
        assert _close(image.getpixel((5, 5)), _in_srgb(colour, P3, "RGBA"), 1)


def test_an_rgb_png_with_a_transparent_colour_and_a_profile_keeps_its_transparency(admin_client):
    # given an RGB PNG whose transparency is one colour (a tRNS chunk, not an alpha channel)
    # on the left half, tagged Display P3
    picture = Image.new("RGB", SIZE, ORANGE)
    picture.paste((0, 255, 0), (0, 0, SIZE[0] // 2, SIZE[1]))
    upload = _encode(picture, "PNG", icc_profile=P3, transparency=(0, 255, 0))

    _, stored = _stored(_add(admin_client, "logo.png", upload))

    # then the converted picture is transparent where the upload was, opaque elsewhere
    with Image.open(io.BytesIO(stored)) as image:
        converted = image.convert("RGBA")
        assert converted.getpixel((5, 5))[3] == 0
        assert _close(converted.getpixel((SIZE[0] - 5, 5)), (*_in_srgb(ORANGE, P3), 255), 1)


def test_a_cmyk_jpeg_with_its_press_profile_is_stored_as_srgb(admin_client):
    # given a print export: CMYK with the press profile Photoshop embeds by default
    profile = cmyk_profile("Coated test press")
    ink = (0, 128, 255, 0)
    upload = _encode(Image.new("CMYK", SIZE, ink), "JPEG", icc_profile=profile, quality=95)

    variant, stored = _stored(_add(admin_client, "print.jpg", upload))

    # then it is stored as an RGB JPEG of the colour the press profile says it is
    with Image.open(io.BytesIO(stored)) as image:
        assert (image.format, image.mode) == ("JPEG", "RGB")
        assert "icc_profile" not in image.info
        pixel = image.getpixel((100, 100))
    assert _close(pixel, _in_srgb(ink, profile, "CMYK"), 4), pixel
    _assert_named_by_its_stored_bytes(variant, stored, "jpg")


def test_a_cmyk_jpeg_without_a_profile_is_refused_naming_its_colours(admin_client):
    # given CMYK numbers with no profile to say which press they are for
    upload = _encode(Image.new("CMYK", SIZE, (0, 50, 100, 0)), "JPEG")

    message = _errors(_add(admin_client, "print.jpg", upload))

    # then it is refused: any conversion would guess its colours
    assert "CMYK" in message
    assert "colour profile" in message
    assert "sRGB" in message


def test_an_srgb_tagged_image_is_stored_as_uploaded(admin_client):
    # given a JPEG tagged with an sRGB profile (what most tools export)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    upload = _encode(Image.new("RGB", SIZE, ORANGE), "JPEG", icc_profile=srgb)

    _, stored = _stored(_add(admin_client, "art.jpg", upload))

    # then it is not decoded and encoded again (a JPEG loses a little every time)
    assert stored == upload


def test_a_cut_cmyk_jpeg_is_refused_as_cut_short(admin_client):
    profile = cmyk_profile()
    noise = Image.merge("CMYK", [Image.effect_noise(SIZE, 60)] * 4)
    upload = _encode(noise, "JPEG", icc_profile=profile)

    message = _errors(_add(admin_client, "print.jpg", upload[: len(upload) * 6 // 10]))

    assert "cut short or damaged" in message


def _mpo() -> bytes:
    """A phone's multi-picture JPEG: the picture, then a second one (a depth or gain map)."""
    first = Image.new("RGB", SIZE, (200, 0, 0))
    second = Image.new("RGB", SIZE, (0, 0, 200))
    return _encode(first, "MPO", save_all=True, append_images=[second])


def test_a_multi_picture_jpeg_is_stored_as_its_first_picture(admin_client):
    # given an MPO, which phones and cameras save as .jpg, and browsers show as its first picture
    upload = _mpo()
    with Image.open(io.BytesIO(upload)) as image:
        assert (image.format, image.n_frames) == ("MPO", 2)

    variant, stored = _stored(_add(admin_client, "IMG_0001.jpg", upload))

    # then it is stored as a plain JPEG of that first picture
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG"
        assert getattr(image, "n_frames", 1) == 1
        assert _close(image.getpixel((100, 100)), (200, 0, 0), 3)
    _assert_named_by_its_stored_bytes(variant, stored, "jpg")


def test_a_multi_picture_jpegs_metadata_is_not_stored_with_its_first_picture(admin_client):
    # given a phone's MPO with its EXIF (where it was taken) and a comment
    first = Image.new("RGB", SIZE, (200, 0, 0))
    upload = _encode(
        first, "MPO", save_all=True, append_images=[first], exif=_gps_exif(), comment=b"jane.doe"
    )

    _, stored = _stored(_add(admin_client, "IMG_0001.jpg", upload))

    # then its first picture is stored without them: the comment came along, as Pillow's
    # JPEG encoder writes the one its source image read
    assert b"jane.doe" not in stored
    assert b"PhoneMaker" not in stored


def test_a_multi_picture_jpeg_saved_without_admin_is_refused_naming_it():
    # given an MPO given to the model directly (no conversion on that path)
    variant = ArtworkVariant(
        title=TitleFactory(), label="Key art", image=SimpleUploadedFile("IMG.jpg", _mpo())
    )

    with pytest.raises(ValidationError) as error:
        variant.full_clean()

    message = " ".join(error.value.message_dict["image"])
    assert "MPO" in message
    assert "several pictures" in message


def test_a_wide_gamut_image_saved_without_admin_is_refused_naming_its_profile():
    upload = _encode(Image.new("RGB", SIZE, ORANGE), "PNG", icc_profile=P3)
    variant = ArtworkVariant(
        title=TitleFactory(), label="Key art", image=SimpleUploadedFile("art.png", upload)
    )

    with pytest.raises(ValidationError) as error:
        variant.full_clean()

    message = " ".join(error.value.message_dict["image"])
    assert "Display P3" in message
    assert "sRGB" in message


def test_a_lossless_webp_stays_lossless(admin_client):
    upload = _encode(Image.new("RGB", SIZE, ORANGE), "WEBP", icc_profile=P3, lossless=True)

    _, stored = _stored(_add(admin_client, "art.webp", upload))

    # then it is encoded without loss again (VP8L), not as a lossy VP8 picture
    assert b"VP8L" in stored[:64]
    with Image.open(io.BytesIO(stored)) as image:
        assert "icc_profile" not in image.info
        assert image.getpixel((5, 5)) == _in_srgb(ORANGE, P3)


def test_a_paletted_png_with_a_profile_is_stored_in_srgb(admin_client):
    paletted = Image.new("RGB", SIZE, ORANGE).quantize(colors=4)
    colour = paletted.convert("RGB").getpixel((5, 5))
    upload = _encode(paletted, "PNG", icc_profile=ADOBE)

    _, stored = _stored(_add(admin_client, "art.png", upload))

    with Image.open(io.BytesIO(stored)) as image:
        assert "icc_profile" not in image.info
        assert image.convert("RGB").getpixel((5, 5)) == _in_srgb(colour, ADOBE)


@pytest.mark.parametrize(
    "name",
    [
        "Rooftop chase, key art, final approved version for all devices 2026-12-07 v12 (1).jpg"
        " - a designer's long file name.jpg",
        "poster",
    ],
)
def test_admin_stores_an_image_whatever_its_designers_file_name(admin_client, name):
    # given a real JPEG under a file name of over 100 characters, or of none at all
    data = _encode(Image.new("RGB", SIZE, ORANGE), "JPEG")
    assert len(name) > 100 or "." not in name

    # when staff add it, then it is stored under its content's digest: the name is never
    # kept, so neither its length (Django's form refused one over the field's 100
    # characters) nor its extension (refused when missing) is a reason to refuse it
    variant, stored = _stored(_add(admin_client, name, data))
    assert stored == data
    _assert_named_by_its_stored_bytes(variant, data, "jpg")


def test_an_upload_its_conversion_takes_past_the_byte_limit_is_refused_saying_so(
    admin_client, settings
):
    # given a paletted PNG with a profile, within the byte limit, which its conversion to
    # sRGB expands to full colour (a noisy 16-colour frame: its PNG grows threefold)
    paletted = Image.effect_noise(SIZE, 40).convert("RGB").quantize(colors=16)
    upload = _encode(paletted, "PNG", icc_profile=ADOBE)
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_MAX_BYTES": len(upload) + 1000}

    # when staff add it, then it is refused for what the conversion made of it, which is
    # what would be stored: it said "The image is 88,907 bytes; the limit is 30,344
    # bytes." of a file of 29,344, which left the designer nothing to go on
    message = _errors(_add(admin_client, "art.png", upload))
    assert "converted" in message.lower()
    assert "sRGB" in message


def _gps_exif() -> bytes:
    """EXIF as a phone writes it: its maker, and where the picture was taken."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (12.0, 58.0, 0.0)
    return exif.tobytes()


XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">/Users/jane.doe/Clients/key-art.psd</x:xmpmeta>'


def _with_metadata(fmt: str, image: Image.Image, **options: object) -> bytes:
    if fmt == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Author", "jane.doe")
        text.add_itxt("XML:com.adobe.xmp", XMP.decode(), zip=True)
        options["pnginfo"] = text
    elif fmt == "JPEG":
        options["comment"] = b"jane.doe"
    # and, after the picture, what some phones append (a "motion photo"'s video)
    return _encode(image, fmt, exif=_gps_exif(), xmp=XMP, **options) + b"ftypmp42 jane.doe"


@pytest.mark.parametrize(
    ("fmt", "extension", "options"),
    [
        ("JPEG", "jpg", {"quality": 90}),
        ("JPEG", "jpg", {"quality": 90, "progressive": True}),
        ("PNG", "png", {}),
        ("WEBP", "webp", {"lossless": True}),
        ("WEBP", "webp", {"quality": 80}),
    ],
)
def test_an_upload_is_stored_without_its_metadata_and_with_its_pixels(
    admin_client, fmt, extension, options
):
    # given an sRGB upload carrying where it was taken (EXIF GPS), who made it and the
    # path it was made from (a comment, a PNG text chunk, XMP), and a video after it
    image = Image.effect_noise(SIZE, 40).convert("RGB")
    upload = _with_metadata(fmt, image, **options)
    assert b"PhoneMaker" in upload

    variant, stored = _stored(_add(admin_client, f"art.{extension}", upload))

    # then none of it is stored, served to every client at a public URL, and its pixels are
    # the upload's own, not encoded again
    assert b"jane.doe" not in stored
    assert b"PhoneMaker" not in stored
    with Image.open(io.BytesIO(stored)) as kept, Image.open(io.BytesIO(upload)) as sent:
        assert not {"exif", "xmp", "comment", "Author"} & set(kept.info)
        assert kept.tobytes() == sent.tobytes()
    _assert_named_by_its_stored_bytes(variant, stored, extension)


def test_a_comment_between_a_progressive_jpegs_scans_is_cut_and_its_scans_kept(admin_client):
    # given a progressive JPEG with a comment between its first and second scans, as JPEG
    # allows, whose text holds the bytes of the end-of-picture marker (0xFF 0xD9)
    image = Image.effect_noise(SIZE, 40).convert("RGB")
    data = _encode(image, "JPEG", quality=90, progressive=True)
    second_scan = data.index(b"\xff\xda", data.index(b"\xff\xda") + 2)
    comment = b"\xff\xfe\x00\x0cjane\xff\xd9.doe"
    upload = data[:second_scan] + comment + data[second_scan:]

    variant, stored = _stored(_add(admin_client, "art.jpg", upload))

    # then the comment is cut like one before the scans, and every scan is kept: the copy
    # stopped at the first 0xFF 0xD9 after the first scan's marker, so it kept the
    # comment, ended inside it, and the upload was refused as cut short
    assert b"jane" not in stored
    with Image.open(io.BytesIO(stored)) as kept, Image.open(io.BytesIO(upload)) as sent:
        assert kept.tobytes() == sent.tobytes()
    _assert_named_by_its_stored_bytes(variant, stored, "jpg")


def _with_other_carrier(fmt: str, data: bytes) -> bytes:
    """``data`` with metadata in a segment or chunk no list of metadata names: a JPEG's
    APP12 (Photoshop's "Ducky": its comment and copyright), a PNG's private chunk (Adobe
    Fireworks keeps its whole editable document in some), a WebP's chunk of its own."""
    text = b"jane.doe /Users/jane.doe/Clients/key-art.psd"
    if fmt == "JPEG":
        segment = b"\xff\xec" + struct.pack(">H", 2 + 5 + len(text)) + b"Ducky" + text
        return data[:2] + segment + data[2:]
    if fmt == "PNG":
        chunk = struct.pack(">I", len(text)) + b"mkTS" + text
        chunk += struct.pack(">I", zlib.crc32(chunk[4:]))
        return data[:33] + chunk + data[33:]  # after the signature and IHDR
    body = data[12:] + b"JUNK" + struct.pack("<I", len(text)) + text
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


@pytest.mark.parametrize(
    ("fmt", "extension", "options"),
    [
        ("JPEG", "jpg", {"quality": 90}),
        ("PNG", "png", {}),
        ("WEBP", "webp", {"lossless": True, "exif": _gps_exif()}),  # VP8X: room for chunks
    ],
)
def test_an_uploads_metadata_is_cut_whatever_carries_it(admin_client, fmt, extension, options):
    # given an upload whose metadata is in a segment or chunk that says nothing of pixels,
    # but is not one of those that usually carry metadata
    image = Image.effect_noise(SIZE, 40).convert("RGB")
    upload = _with_other_carrier(fmt, _encode(image, fmt, **options))

    variant, stored = _stored(_add(admin_client, f"art.{extension}", upload))

    # then it is cut too: only what says how to draw the pixels is kept, not all but a list
    # of the usual carriers (EXIF, XMP, comments, text), which let these through
    assert b"jane.doe" not in stored
    with Image.open(io.BytesIO(stored)) as kept, Image.open(io.BytesIO(upload)) as sent:
        assert kept.tobytes() == sent.tobytes()
    _assert_named_by_its_stored_bytes(variant, stored, extension)
