"""Per-device-class copies of an artwork image, sized for the screens that show them.

An upload is stored as it came (up to 4096x4096 and 5 MiB), and every device class was
sent it: a phone's homepage of 240 tiles downloaded TV-sized pictures. Here each image
gets, per device class, a copy no wider than that class's tiles need (:data:`WIDTHS`),
made with Pillow when the image is stored. Nothing is made where the upload is already
that narrow (never enlarged): that class is served the upload itself.

The name of a copy is its image's with the device class before the extension
(:func:`rendition_name`): built from what serving already holds (the image's name and
width, and the variant's ``renditions_made``), with no query and no look in storage.
A copy of an image named for good (a content digest) is named for good too: its
bytes follow from the image's, so it is served ``immutable`` like the upload.

This module is the pictures and their names alone (no database, no storage):
:mod:`artwork.services` stores them.
"""

from __future__ import annotations

import io
import posixpath
import re
from collections.abc import Callable

from django.utils.encoding import filepath_to_uri
from PIL import Image, ImageOps

from .screen_images import _lossless_webp

#: The widest copy each device class is sent, in pixels; the height follows the image's
#: aspect (the catalogue's frames are 16:9: 1280x720, 800x450, 640x360, 400x225). Why these
#: (docs/artwork.md, "Sizes per device class"): a TV's 1080p screen shows the focused tile and
#: the detail page's backdrop at up to two thirds of its width; a tablet's rows hold three
#: tiles of ~400 points at 2x; a browser's six tiles of ~300 CSS pixels at 2x; a phone's
#: two and a half tiles of ~150 points, at 2x to 3x.
WIDTHS: dict[str, int] = {"tv": 1280, "tablet": 800, "web": 640, "mobile": 400}

#: The format a copy is encoded in, from its name's extension: the upload's own family, so
#: that the extension (which sets the Content-Type) and the name can be built without
#: opening the file.
FORMATS: dict[str, str] = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}

#: JPEG quality of a copy. Measured on the demo's frames and photographs scaled to 400 and
#: 1280 wide (docs/artwork.md): 85 is 35-45% smaller than 95 and indistinguishable on a
#: tile; below 80 ringing shows around title text. Lossy WebP gets the same number (its
#: scale differs, but 85 sits as far from its artefacts). Baseline, not progressive: some
#: TV decoders still draw progressive JPEGs slowly or not at all.
JPEG_QUALITY = 85
WEBP_QUALITY = 85
_PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}
_ORIENTATION = 0x0112  # the EXIF tag
#: A file name a URL carries as it is (``filepath_to_uri`` leaves it unchanged).
_URL_SAFE = re.compile(r"[0-9A-Za-z._~-]+")


def rendition_width(*, width: int, device: str) -> int | None:
    """The width of ``device``'s copy of an image ``width`` wide; None when the image is
    already no wider than the device class needs (it is served as stored: never enlarged)."""
    bound = WIDTHS[device]
    return bound if width > bound else None


def rendition_name(*, image: str, device: str) -> str | None:
    """``artwork/<title>/<digest>.<device>.<ext>`` for ``artwork/<title>/<digest>.<ext>``.

    Deterministic, so serving builds the URL without asking anything. None for a name
    whose extension is no format a copy can be encoded in (none of the names uploads get).
    """
    stem, extension = posixpath.splitext(image)
    if extension.lower() not in FORMATS:
        return None
    return f"{stem}.{device}{extension}"


def rendition_served(*, image: str, width: int, device: str) -> str | None:
    """The name of ``device``'s copy of ``image`` (``width`` wide), once its variant's copies
    are made; None where the device class is sent the image itself (narrow enough already,
    or a name no copy is made for)."""
    if rendition_width(width=width, device=device) is None:
        return None
    return rendition_name(image=image, device=device)


def rendition_urls(
    *, image: str, width: int, image_url: str, ask: Callable[[str], str]
) -> dict[str, str]:
    """The URL each device class is sent once ``image``'s copies are made: its copy's, or
    ``image_url`` (storage's for ``image``) where it has none.

    Storage's ``url()`` is tens of microseconds (``urljoin``; an object store may sign):
    asked for every copy of 70,000 frames, it was most of a process's warm-up. Where the
    image's URL ends in its file name as it stands, with no query (the file system's, an
    object store's without signing), a copy's URL, in the same folder, is that URL with
    the device class before the extension: built so. Otherwise (a signed URL) each copy's
    is asked of storage (``ask``).
    """
    stem, extension = posixpath.splitext(image)
    if extension.lower() not in FORMATS:
        return dict.fromkeys(WIDTHS, image_url)
    base = posixpath.basename(image)
    derived = (
        "?" not in image_url
        and "#" not in image_url
        and image_url.endswith("/" + (base if _URL_SAFE.fullmatch(base) else filepath_to_uri(base)))
    )
    urls = {}
    for device, bound in WIDTHS.items():
        if width <= bound:
            urls[device] = image_url
        elif derived:
            urls[device] = f"{image_url[: -len(extension)]}.{device}{extension}"
        else:
            urls[device] = ask(f"{stem}.{device}{extension}")
    return urls


def rendition_names(*, image: str, width: int) -> dict[str, str]:
    """Every device class's copy of the image that needs one: device class -> name."""
    names = {}
    for device in WIDTHS:
        name = rendition_served(image=image, width=width, device=device)
        if name is not None:
            names[device] = name
    return names


def rendition_render(data: bytes, *, name: str, width: int) -> tuple[bytes, tuple[int, int]]:
    """One copy of ``data`` (:func:`renditions_render`): its bytes and its size."""
    return renditions_render(data, widths={name: width})[name]


def renditions_render(
    data: bytes, *, widths: dict[str, int]
) -> dict[str, tuple[bytes, tuple[int, int]]]:
    """``data`` (an image) scaled to each of ``widths`` (a copy's name -> its width; the
    image's own width if narrower), each encoded in the format its name's extension says:
    name -> (bytes, size). Decoded once for all of them.

    Turned upright first: a copy is encoded afresh, without the EXIF that said how to
    turn it, so drawn as stored it would show turned in browsers too. (Uploads with a turn
    are refused, but code that stores a file without the upload's checks is not judged.)
    The colour profile is kept (uploads are sRGB, grey ones may carry a tone curve);
    nothing else of the upload's metadata is written.
    """
    copies: dict[str, tuple[bytes, tuple[int, int]]] = {}
    if not widths:
        return copies
    widest = max(widths.values())
    with Image.open(io.BytesIO(data)) as source:
        lossless = source.format == "WEBP" and _lossless_webp(io.BytesIO(data))
        profile = source.info.get("icc_profile")
        if source.format == "JPEG":
            # Decode at a DCT scale (1/2, 1/4, 1/8) no narrower than 1.5 times the widest
            # copy: the decoder's scaling is itself a clean reduction, and a 4096-wide
            # upload decoded at 2048 for a 1280 copy is a quarter of the pixels to decode
            # and resize (Pillow's thumbnail() asks for twice, which leaves 4096 whole).
            # The width is the upright picture's: a quarter turn (EXIF 5 to 8) makes it
            # the stored height.
            turned = source.getexif().get(_ORIENTATION, 1) in (5, 6, 7, 8)
            side = widest * 3 // 2
            source.draft(source.mode, (1, side) if turned else (side, 1))
        upright = ImageOps.exif_transpose(source)
        for name, width in widths.items():
            fmt = FORMATS[posixpath.splitext(name)[1].lower()]
            picture = _scaled(_screen_mode(upright, fmt), width)
            copies[name] = (
                _encoded(picture, fmt, profile=profile, lossless=lossless),
                picture.size,
            )
    return copies


def _scaled(picture: Image.Image, width: int) -> Image.Image:
    if picture.width <= width:
        return picture
    height = max(1, round(picture.height * width / picture.width))
    # Blended with premultiplied alpha: straight alpha bleeds a transparent pixel's hidden
    # colour into its opaque neighbours (dark fringes around a cut-out).
    straight = picture.mode
    if straight in _PREMULTIPLIED:
        picture = picture.convert(_PREMULTIPLIED[straight])
    picture = picture.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return picture.convert(straight) if picture.mode != straight else picture


def _encoded(picture: Image.Image, fmt: str, *, profile: bytes | None, lossless: bool) -> bytes:
    options: dict[str, object] = {}
    if profile:
        options["icc_profile"] = profile
    if fmt == "JPEG":
        options |= {"quality": JPEG_QUALITY, "optimize": True}
    elif fmt == "PNG":
        options |= {"optimize": True}
    else:
        options |= {"lossless": True} if lossless else {"quality": WEBP_QUALITY}
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _screen_mode(picture: Image.Image, fmt: str) -> Image.Image:
    """A mode Pillow resizes well and ``fmt`` encodes: 8 bits, RGB(A) or grey.

    A palette is expanded (resizing it would pick colours, not blend them); 16-bit grey
    is taken to 8 bits by its top byte (Pillow's own conversion clips at 255, a white
    picture); only PNG and WebP keep transparency, which JPEG originals never have.
    """
    mode = picture.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        scale = 1 / 256 if mode != "I" or picture.getextrema()[1] > 255 else 1
        picture = picture.point(lambda value: value * scale).convert("L")
    elif mode in ("P", "PA"):
        alpha = mode == "PA" or "transparency" in picture.info
        picture = picture.convert("RGBA" if alpha else "RGB")
    elif mode == "1":
        picture = picture.convert("L")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        picture = picture.convert("RGB")
    elif mode == "RGB" and "transparency" in picture.info:
        picture = picture.convert("RGBA")
    if fmt == "JPEG" and picture.mode in ("RGBA", "LA"):
        picture = picture.convert(picture.mode[:-1])
    return picture
