"""What an uploaded artwork file must be before it can reach a homepage."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from PIL import Image, UnidentifiedImageError


def validate_artwork_image(file: File) -> None:
    """Refuse files that are not real images of an allowed format, weight and size.

    Checked by decoding with Pillow, not by the file name: a renamed PDF must
    fail here, not later in a client app.
    """
    limits = settings.TONIGHT
    max_bytes = limits["ARTWORK_MAX_BYTES"]
    if file.size is not None and file.size > max_bytes:
        raise ValidationError(
            f"The image is {file.size / 1_048_576:.1f} MB; the limit is "
            f"{max_bytes / 1_048_576:.1f} MB.",
            code="file_too_large",
        )
    position = file.tell() if hasattr(file, "tell") else None
    try:
        file.seek(0)
        with Image.open(file) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValidationError(
            "The file is not an image that can be read (upload a JPEG, PNG or WebP).",
            code="invalid_image",
        ) from exc
    finally:
        if position is not None:
            file.seek(position)

    allowed = limits["ARTWORK_FORMATS"]
    if image_format not in allowed:
        raise ValidationError(
            f"{image_format} images are not accepted; use one of {', '.join(allowed)}.",
            code="invalid_format",
        )
    min_w, min_h = limits["ARTWORK_MIN_SIZE"]
    max_w, max_h = limits["ARTWORK_MAX_SIZE"]
    if width < min_w or height < min_h:
        raise ValidationError(
            f"The image is {width}x{height} pixels; it must be at least {min_w}x{min_h}.",
            code="image_too_small",
        )
    if width > max_w or height > max_h:
        raise ValidationError(
            f"The image is {width}x{height} pixels; it must be at most {max_w}x{max_h}.",
            code="image_too_large",
        )
