"""What an artwork upload becomes before it is stored: one picture, in sRGB, without a profile
or metadata.

Browsers, TV and mobile apps draw artwork with decoders that differ. Several
draw CMYK wrongly or not at all, and many TV apps ignore an embedded ICC
profile, showing a Display P3 or Adobe RGB frame's numbers as if they were
sRGB (duller, shifted colours). A designer who exports for print or for a
wide-gamut screen expects the upload to work, so admin converts such a file to
sRGB with LittleCMS (Pillow's ``ImageCms``) instead of refusing it; the
converted bytes are what is judged, named by their digest, and stored.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from PIL import Image, ImageChops, ImageCms, JpegImagePlugin

from .image_metadata import without_metadata

#: A multi-picture JPEG (phones' gain or depth maps, stereo cameras), shown by its first picture.
MPO = "MPO"
#: Modes whose colours LittleCMS can take from their profile to sRGB, and the mode they become.
#: A palette is expanded first; grey images keep their profile (it is rare and only a tone curve).
CONVERTED_MODE = {"RGB": "RGB", "RGBA": "RGBA", "CMYK": "RGB", "P": "RGB", "PA": "RGBA"}
#: The colorimetric intent keeps in-gamut colours as they are; browsers do the same for images.
INTENT = ImageCms.Intent.RELATIVE_COLORIMETRIC
#: How far (in 8-bit levels) a profile may move a colour and still count as sRGB: the
#: many sRGB profiles in use (v2, v4, compact) differ from LittleCMS's own by a level.
SRGB_TOLERANCE = 2
#: JPEG quality when the source's own tables are unknown; a WebP's, when it was lossy.
QUALITY = 95


@dataclass(frozen=True)
class Colours:
    """Why an image's colours are not screen-ready, and whether admin can convert them."""

    #: "in CMYK colours", "tagged with the colour profile 'Display P3'"
    description: str
    #: The embedded profile the colours are converted from; None when there is none to use.
    profile: ImageCms.ImageCmsProfile | None = field(default=None, compare=False, repr=False)

    @property
    def convertible(self) -> bool:
        return self.profile is not None


def image_colours(image: Image.Image) -> Colours | None:
    """None when the image's numbers are sRGB already (no profile, or an sRGB one).

    Reads the profile, never the pixels. A profile LittleCMS cannot read, or one for
    another colour space than the image's, is ignored, as browsers ignore it.
    """
    raw = image.info.get("icc_profile")
    profile = _profile(raw) if raw else None
    if image.mode == "CMYK":
        if profile is None or profile.profile.xcolor_space.strip() != "CMYK":
            return Colours("in CMYK colours without a colour profile")
        return Colours(f"in CMYK colours ({_name(profile)})", profile)
    if profile is None or image.mode not in CONVERTED_MODE:
        return None
    if _is_srgb(profile):
        return None
    return Colours(f"tagged with the colour profile '{_name(profile)}'", profile)


def artwork_upload_for_screens(*, upload: UploadedFile) -> UploadedFile:
    """The upload as it will be stored: its first picture only, converted to sRGB.

    A file that needs neither is not encoded again (a JPEG loses a little each time):
    only its metadata is cut out (``artwork.image_metadata``), and it is returned
    untouched when it has none. Call it only once the
    header's checks have passed (``validators.validate_artwork_upload``): it
    decodes every pixel, and says so when the file is cut short.
    """
    upload.seek(0)
    try:
        with Image.open(upload) as image:
            fmt, colours = image.format or "", image_colours(image)
            if fmt != MPO and colours is None:
                return _without_metadata(upload, fmt)
            image.seek(0)
            image.load()
            pixels = _in_srgb(image, colours.profile) if colours else image.copy()
            options = _jpeg_options(image) if fmt in ("JPEG", MPO) else {}
    except (OSError, SyntaxError, ValueError) as exc:
        raise unreadable() from exc
    finally:
        upload.seek(0)
    if fmt == "WEBP":
        options = {"lossless": True} if _lossless_webp(upload) else {"quality": QUALITY}
    stored = "JPEG" if fmt == MPO else fmt
    data = _encode(pixels, stored, options)
    return SimpleUploadedFile(upload.name or "artwork", data, content_type=Image.MIME.get(stored))


def _without_metadata(upload: UploadedFile, fmt: str) -> UploadedFile:
    """The upload without its metadata (``artwork.image_metadata``); itself when it has none."""
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    kept = without_metadata(data, fmt)
    if kept == data:
        return upload
    return SimpleUploadedFile(upload.name or "artwork", kept, content_type=Image.MIME.get(fmt))


def unreadable() -> ValidationError:
    """The refusal of a file whose header reads but whose pixels do not decode.

    Its own code, not Django's ``invalid_image``: a model form replaces the message of a
    model validator's error with its field's message for the same code, and admin said
    "either not an image or a corrupted image" for a file merely cut short.
    """
    return ValidationError(
        "The file is not an image that can be read: it is cut short or damaged "
        "(upload the whole file again).",
        code="image_damaged",
    )


def _in_srgb(image: Image.Image, source: ImageCms.ImageCmsProfile | None) -> Image.Image:
    if source is None:  # the header's check refuses colours it cannot convert
        raise ValueError("no colour profile to convert the image's colours from")
    # An RGB PNG's transparent colour (its tRNS chunk) is in ``info``, which the transform
    # does not carry: made an alpha channel first, as a palette's transparency is, or the
    # converted picture came out opaque where the upload was transparent.
    if image.mode in ("P", "PA") or (image.mode == "RGB" and "transparency" in image.info):
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    mode = CONVERTED_MODE[image.mode]
    try:
        transform = ImageCms.buildTransform(source, _srgb(), image.mode, mode, INTENT)
    except ImageCms.PyCMSError as exc:
        raise ValueError(str(exc)) from exc
    return transform.apply(image)


def _encode(pixels: Image.Image, fmt: str, options: dict[str, object]) -> bytes:
    """``pixels`` as ``fmt``, without a profile or metadata.

    No EXIF: the validator has refused a turned image, and nothing else in it is
    for screens. A JPEG keeps the source's quantisation and subsampling, so the
    designer's choice of quality carries over; a lossless WebP stays lossless.
    """
    # Encoders write what ``info`` carries (PNG's the profile, JPEG's an MPO's comment, its
    # first picture's copy): keep only what draws the pixels, so a Pillow that writes more
    # from it writes nothing of the source's metadata either.
    pixels.info = {key: pixels.info[key] for key in ("transparency",) if key in pixels.info}
    buffer = io.BytesIO()
    pixels.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _jpeg_options(source: Image.Image) -> dict[str, object]:
    tables = getattr(source, "quantization", None)
    if not tables:
        return {"quality": QUALITY}
    sampling = JpegImagePlugin.get_sampling(source)
    # A CMYK source has no chroma subsampling to keep; the encoder's default (4:2:0) then.
    return {"qtables": tables, **({"subsampling": sampling} if sampling >= 0 else {})}


def _lossless_webp(upload: UploadedFile) -> bool:
    """Whether the WebP's bitstream is VP8L (lossless) rather than VP8, from its RIFF chunks."""
    try:
        upload.seek(12)
        while len(header := upload.read(8)) == 8:
            kind, size = header[:4], int.from_bytes(header[4:], "little")
            if kind in (b"VP8L", b"VP8 "):
                return kind == b"VP8L"
            upload.seek(size + (size & 1), io.SEEK_CUR)
        return False
    finally:
        upload.seek(0)


@cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@cache
def _probe() -> Image.Image:
    """Every combination of nine levels per channel: 729 colours across the whole cube."""
    levels = [0, 32, 64, 96, 128, 160, 192, 224, 255]
    image = Image.new("RGB", (len(levels) ** 2, len(levels)))
    image.putdata([(r, g, b) for b in levels for r in levels for g in levels])
    return image


def _is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    """Whether the profile moves no colour by more than a rounding step on its way to sRGB.

    By what it does, not by its name: "sRGB" profiles come under many names, and a
    profile named "sRGB" need not be one.
    """
    try:
        transform = ImageCms.buildTransform(profile, _srgb(), "RGB", "RGB", INTENT)
    except ImageCms.PyCMSError:
        return True  # not an RGB profile: ignored, as browsers ignore it
    moved = transform.apply(_probe())
    largest = max(high for _, high in ImageChops.difference(_probe(), moved).getextrema())
    return largest <= SRGB_TOLERANCE


def _profile(raw: bytes) -> ImageCms.ImageCmsProfile | None:
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(raw))
    except (OSError, ImageCms.PyCMSError, TypeError, ValueError):
        return None


def _name(profile: ImageCms.ImageCmsProfile) -> str:
    try:
        name = ImageCms.getProfileDescription(profile).strip()
    except ImageCms.PyCMSError:
        name = ""
    return name or "unnamed"
