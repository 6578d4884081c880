"""What an uploaded artwork file must be before it can reach a homepage."""

from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, UnidentifiedImageError

from .screen_images import MPO, Colours, artwork_upload_for_screens, image_colours, unreadable

ORIENTATION = 0x0112  # the EXIF tag; 1 is upright, 2 to 8 mirror or turn the picture
# Any other value (0 is written by some cameras) is no rotation: readers draw it as stored.
TURNED = range(2, 9)


@dataclass(frozen=True)
class _Header:
    """What an image says of itself before any pixel is decoded."""

    format: str
    width: int
    height: int
    frames: int
    orientation: int
    colours: Colours | None


def validate_artwork_image(file: File) -> None:
    """Refuse files that are not real, still, upright sRGB images of an allowed format and size.

    Checked by decoding with Pillow, not by the file name: a renamed PDF must
    fail here, not later in a client app. The pixels are decoded whole, once the
    header has shown the size within the limits: ``verify()`` checks a PNG's
    chunks but reads nothing of a JPEG's scan, so a JPEG cut short by a failed
    transfer passed, and browsers draw it with its lower part grey.

    The image is served as it is to browsers and to TV and mobile apps, whose
    decoders differ: an animation would play in some and not in others, CMYK
    colours come out wrong or not at all in several, a colour profile other
    than sRGB is ignored by many TV apps, and an EXIF rotation is ignored by apps
    that draw the pixels as stored, so the frame designers chose would show
    turned. Admin's upload field converts what it can first
    (``artwork.screen_images``); this is the rule for what is stored.

    Only an upload is judged. A variant's image already in storage (its form
    saved without a new file) was judged when it came; re-reading it on every
    edit failed on the field's closed file (a server error for any change to a
    variant or to its title's page), and a file stored before a rule existed
    would stop staff from switching its variant off.
    """
    if getattr(file, "_committed", False):
        return
    _check(_read_header(file), converting=False)
    _decode(file)


def validate_artwork_upload(file: File) -> None:
    """What an upload must pass before admin decodes it to convert it to a screen image.

    Every rule but the two a conversion settles: colours it can take to sRGB,
    and a multi-picture JPEG, whose first picture is kept.
    """
    _check(_read_header(file), converting=True)


def _size(n_bytes: int, limit: int) -> str:
    """A byte count in the unit the limit reads in: MiB (5 MiB by default, README), or
    bytes for a limit below a tenth of one, where "0.0 MB" said nothing."""
    if limit < 104_858:
        return f"{n_bytes:,} bytes"
    return f"{n_bytes / 1_048_576:.1f} MiB"


def _read_header(file: File) -> _Header:
    limits = settings.TONIGHT
    max_bytes = limits["ARTWORK_MAX_BYTES"]
    if file.size is not None and file.size > max_bytes:
        raise ValidationError(
            f"The image is {_size(file.size, max_bytes)}; the limit is "
            f"{_size(max_bytes, max_bytes)}.",
            code="file_too_large",
        )
    position = file.tell() if hasattr(file, "tell") else None
    try:
        file.seek(0)
        with Image.open(file) as image:
            header = _Header(
                format=image.format or "",
                width=image.size[0],
                height=image.size[1],
                frames=getattr(image, "n_frames", 1),
                orientation=_orientation(image),
                colours=image_colours(image),
            )
            image.verify()
    except Image.DecompressionBombError as exc:
        # Pillow refuses to open an image of hundreds of millions of pixels (a few
        # kilobytes of PNG can claim them): far past the limit, so say that.
        raise _too_large() from exc
    # ValueError: what Pillow raises for a PNG text chunk that inflates past its limit.
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(
            "The file is not an image that can be read (upload a JPEG, PNG or WebP).",
            code="invalid_image",
        ) from exc
    finally:
        if position is not None:
            file.seek(position)
    return header


def _check(header: _Header, *, converting: bool) -> None:
    limits = settings.TONIGHT
    allowed = limits["ARTWORK_FORMATS"]
    if header.format == MPO and not converting:
        raise ValidationError(
            "The image is an MPO: a JPEG holding several pictures, as some phones and cameras "
            "save them. Upload it through admin, which keeps its first picture, or save that "
            "picture as a plain JPEG.",
            code="image_mpo",
        )
    if header.format not in allowed and header.format != MPO:
        raise ValidationError(
            f"{header.format} images are not accepted; use one of {', '.join(allowed)}.",
            code="invalid_format",
        )
    width, height = header.width, header.height
    min_w, min_h = limits["ARTWORK_MIN_SIZE"]
    max_w, max_h = limits["ARTWORK_MAX_SIZE"]
    if width < min_w or height < min_h:
        raise ValidationError(
            f"The image is {width}x{height} pixels; it must be at least {min_w}x{min_h}.",
            code="image_too_small",
        )
    if width > max_w or height > max_h:
        raise _too_large(f"The image is {width}x{height} pixels; ")
    if header.frames > 1 and header.format != MPO:
        raise ValidationError(
            f"The image is animated ({header.frames} frames); upload a still image.",
            code="image_animated",
        )
    colours = header.colours
    if colours is not None and not (converting and colours.convertible):
        raise _not_srgb(colours)
    if header.orientation in TURNED:
        raise ValidationError(
            f"The image has EXIF orientation {header.orientation}: browsers turn it, apps "
            "that ignore the tag do not. Save it upright, without the rotation.",
            code="image_rotated",
        )


def _not_srgb(colours: Colours) -> ValidationError:
    if not colours.convertible:
        return ValidationError(
            f"The image is {colours.description}, so what its colours look like on a screen "
            "cannot be known; save it as RGB (sRGB), or with the colour profile it was "
            "made for.",
            code="image_cmyk",
        )
    return ValidationError(
        f"The image is {colours.description}, which several TV and mobile apps ignore or "
        "show wrongly; upload it through admin, which converts it, or save it as sRGB.",
        code="image_not_srgb",
    )


def _decode(file: File) -> None:
    """Decode every pixel (a few hundred milliseconds at most, at the size limit)."""
    position = file.tell() if hasattr(file, "tell") else None
    try:
        file.seek(0)
        with Image.open(file) as image:
            image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise unreadable() from exc
    finally:
        if position is not None:
            file.seek(position)


def _converted_size_check(converted: File) -> None:
    """Refuse a conversion larger than the byte limit, saying it is the conversion's size.

    A conversion can grow a file past the limit its upload was within: a paletted
    image's colours are expanded, a lossy WebP is encoded again at quality 95. The
    model's check of the stored file then refused it with a size the designer's file
    does not have.
    """
    max_bytes = settings.TONIGHT["ARTWORK_MAX_BYTES"]
    if converted.size is not None and converted.size > max_bytes:
        raise ValidationError(
            f"Converted for screens (to sRGB colours, one picture), the image is "
            f"{_size(converted.size, max_bytes)}; the limit is {_size(max_bytes, max_bytes)}. "
            "Save it in sRGB, or smaller, and upload that.",
            code="file_too_large",
        )


def _too_large(prefix: str = "The image is far too large; ") -> ValidationError:
    max_w, max_h = settings.TONIGHT["ARTWORK_MAX_SIZE"]
    return ValidationError(f"{prefix}it must be at most {max_w}x{max_h}.", code="image_too_large")


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation read at open, without decoding the pixels.

    ``getexif()`` would load a PNG whole to find an eXIf chunk after the image
    data; browsers read only one before it, which ``open`` has put in ``info``.
    """
    raw = image.info.get("exif")
    if not raw:
        return 1
    exif = Image.Exif()
    try:
        exif.load(raw)
    except (OSError, SyntaxError, ValueError):  # a corrupt EXIF block says nothing
        return 1
    value = exif.get(ORIENTATION, 1)
    return value if isinstance(value, int) else 1


class ArtworkImageFormField(forms.ImageField):
    """Django's image form field, converting an upload for screens before the model judges it.

    It also says "too large" for an image Pillow refuses as a bomb: the form field
    opens the upload before the model's validator runs, and its one message for
    every failure ("not an image or a corrupted image") is wrong for a real image
    that is merely far too large.

    Neither the upload's file name nor its length is a reason to refuse it: the file is
    stored under its content's digest and its decoded format's extension
    (``artwork.image_names``), never under that name. Django's field refused a name of
    over the model field's 100 characters, and one whose extension is not among the
    seventy it lists (none, ``.download``), GIF and PDF included, which the checks here
    then refuse anyway by what the file decodes as.
    """

    default_validators: list = []  # no check of the name's extension

    def __init__(self, **kwargs: Any) -> None:
        kwargs["max_length"] = None  # the stored name's limit, not the upload's name's
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        """A new upload, converted to what screens show alike (``artwork.screen_images``)."""
        cleaned = super().clean(data, initial)
        if not isinstance(cleaned, UploadedFile):
            return cleaned  # no new file: the stored one, or cleared
        validate_artwork_upload(cleaned)
        stored = artwork_upload_for_screens(upload=cleaned)
        if stored is not cleaned:
            _converted_size_check(stored)
        return stored

    def to_python(self, data: Any) -> Any:
        try:
            return super().to_python(data)
        except ValidationError as error:
            if isinstance(error.__cause__, Image.DecompressionBombError):
                raise _too_large() from error.__cause__
            raise
