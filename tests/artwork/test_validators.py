import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from artwork.models import ArtworkVariant
from artwork.validators import validate_artwork_image
from tests.factories import TitleFactory, image_file

pytestmark = pytest.mark.django_db


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
    assert "the limit is" in str(error.value)


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
