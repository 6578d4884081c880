import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from artwork.models import ArtworkVariant
from tests.factories import (
    ArtworkVariantFactory,
    LanguageFactory,
    TitleFactory,
    TitleLocalizationFactory,
)
from tests.test_admin import form_data

pytestmark = pytest.mark.django_db
CHANGE = "/admin/artwork/artworkvariant/{}/change/"


def _stored_cmyk(title_id: int) -> str:
    """An image stored before today's rules (CMYK was accepted then), as a migration left it."""
    buffer = io.BytesIO()
    Image.new("CMYK", (320, 180), (0, 50, 100, 0)).save(buffer, format="JPEG")
    return default_storage.save(f"artwork/{title_id}/old.jpg", ContentFile(buffer.getvalue()))


def _form(variant: ArtworkVariant, **changes: object) -> dict[str, object]:
    data = {
        "title": variant.title_id,
        "label": variant.label,
        "for_tv": "on",
        "maturity": variant.maturity,
        "is_active": "on",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_a_variant_whose_stored_image_predates_a_rule_can_still_be_switched_off(admin_client):
    # given a variant whose stored image today's upload rules would refuse
    title = TitleFactory()
    variant = ArtworkVariant.objects.create(title=title, label="Old", image=_stored_cmyk(title.pk))

    # when staff switch it off on its page, leaving the image as it is
    page = admin_client.post(CHANGE.format(variant.pk), _form(variant, is_active=None))

    # then it is saved: the rules judge an upload, not a file stored long ago
    assert page.status_code == 302, page.context["adminform"].form.errors
    variant.refresh_from_db()
    assert not variant.is_active


def test_a_variant_is_switched_off_on_its_page(admin_client):
    # given an ordinary variant, uploaded under today's rules
    variant = ArtworkVariantFactory()

    # when staff untick "active" on its page and save, the image left as it is
    page = admin_client.post(CHANGE.format(variant.pk), _form(variant, is_active=None))

    # then it is saved (it was a server error: the validator read the stored file's closed
    # handle) and stamped, so serving processes drop it within a second
    assert page.status_code == 302, page.context["adminform"].form.errors
    before = variant.updated_at
    variant.refresh_from_db()
    assert not variant.is_active
    assert variant.updated_at > before


def test_a_title_page_with_artwork_saves(admin_client):
    # given a title with a variant, shown on the title's page in the artwork inline
    variant = ArtworkVariantFactory()
    url = f"/admin/catalog/title/{variant.title_id}/change/"
    data = form_data(admin_client.get(url))

    # when the page is saved as it is
    page = admin_client.post(url, data)

    # then it saves, and the variant is unchanged
    assert page.status_code == 302, page.context and [
        form.errors for inline in page.context["inline_admin_formsets"] for form in inline.formset
    ]
    variant.refresh_from_db()
    assert variant.is_active


def _png(colour: tuple[int, int, int]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), colour).save(buffer, format="PNG")
    return SimpleUploadedFile("new.png", buffer.getvalue(), content_type="image/png")


def test_a_stored_variant_keeps_its_picture_and_title(admin_client):
    # given a variant the policy has learned from, and another title
    variant = ArtworkVariantFactory()
    image, title = variant.image.name, variant.title_id
    other = TitleFactory()

    # when staff post another picture and another title on its page
    page = admin_client.post(
        CHANGE.format(variant.pk), _form(variant, title=other.pk, image=_png((0, 200, 0)))
    )

    # then both stay: its logged impressions, its own term in the bandit and its daily take
    # rates are of that picture of that title, and the page log names the variant only
    assert page.status_code == 302, page.context["adminform"].form.errors
    variant.refresh_from_db()
    assert (variant.image.name, variant.title_id) == (image, title)


def test_a_new_variant_takes_its_picture_and_title(admin_client):
    title = TitleFactory()
    page = admin_client.post(
        "/admin/artwork/artworkvariant/add/",
        {**_form(ArtworkVariant(title=title, label="New")), "image": _png((0, 0, 200))},
    )

    assert page.status_code == 302, page.context["adminform"].form.errors
    assert ArtworkVariant.objects.get(title=title).image.name.endswith(".png")


def test_the_title_page_adds_a_variant_but_keeps_a_stored_ones_picture(admin_client):
    # given a title's page with one stored variant
    variant = ArtworkVariantFactory()
    url = f"/admin/catalog/title/{variant.title_id}/change/"
    data = form_data(admin_client.get(url))
    prefix = next(key for key in data if key.endswith("-TOTAL_FORMS") and "artwork" in key)
    prefix = prefix.removesuffix("-TOTAL_FORMS")

    # when staff upload another picture over it and add a second variant
    data[f"{prefix}-TOTAL_FORMS"] = "2"
    data[f"{prefix}-0-image"] = _png((0, 200, 0))
    data.update(
        {
            f"{prefix}-1-label": "Second",
            f"{prefix}-1-image": _png((0, 0, 200)),
            f"{prefix}-1-for_tv": "on",
            f"{prefix}-1-maturity": "0",
            f"{prefix}-1-is_active": "on",
        }
    )
    image = variant.image.name
    page = admin_client.post(url, data)

    # then the second is added and the first keeps its picture
    assert page.status_code == 302, page.context and [
        form.errors for inline in page.context["inline_admin_formsets"] for form in inline.formset
    ]
    variant.refresh_from_db()
    assert variant.image.name == image
    assert ArtworkVariant.objects.filter(title_id=variant.title_id).count() == 2


def test_a_titles_artwork_is_found_by_the_titles_name_in_another_language(admin_client):
    # given: a Tamil film known to catalogue staff by its Hindi and French names too,
    # each holding the term, and another title's artwork
    hindi = LanguageFactory(code="hi", name="Hindi", native_name="हिन्दी")
    french = LanguageFactory(code="fr", name="French", native_name="Français")
    film = TitleFactory(original_name="Kaadhal Kottai")
    TitleLocalizationFactory(title=film, language=hindi, name="प्रेम का किला (Le Fort)")
    TitleLocalizationFactory(title=film, language=french, name="Le Fort de l'amour")
    frames = {ArtworkVariantFactory(title=film, label=label).pk for label in ("Poster", "Duo")}
    ArtworkVariantFactory(title=TitleFactory(original_name="Other"), label="Poster")
    url = reverse("admin:artwork_artworkvariant_changelist")

    # when
    by_hindi = admin_client.get(url, {"q": "प्रेम का किला"})
    with CaptureQueriesContext(connection) as queries:
        by_both = admin_client.get(url, {"q": "le fort"})

    # then: the title's frames, each once, though both of its localised names match, and
    # without a DISTINCT over the variants (the date bar's distinct days aside)
    for response in (by_hindi, by_both):
        assert response.status_code == 200
        listed = [variant.pk for variant in response.context["cl"].result_list]
        assert sorted(listed) == sorted(frames)
    distinct = [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"]]
    assert [sql for sql in distinct if "DISTINCT DATE_TRUNC" not in sql] == []
