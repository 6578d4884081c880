"""Each device class is sent a copy of the artwork sized for it, made with Pillow."""

import datetime as dt
import io
import os

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from PIL import Image

from artwork.image_names import artwork_name_is_fixed
from artwork.models import ArtworkVariant
from artwork.renditions import WIDTHS, rendition_name, rendition_render
from artwork.selection import artwork_arms_load, artwork_choose, artwork_default
from artwork.selectors import variant_image_urls
from artwork.services import ORPHAN_GRACE, artwork_files_prune, artwork_variant_renditions_make
from artwork.validators import ORIENTATION
from catalog.models import MaturityLevel
from config.urls import ARTWORK_CACHED
from tests.factories import ArtworkVariantFactory, AvailabilityFactory, TitleFactory, image_file
from tests.test_admin import form_data

pytestmark = pytest.mark.django_db

DEVICES = ("tv", "mobile", "tablet", "web")
#: Each device class's copy of a 1920x1080 frame: the catalogue's 16:9, at its bound.
FULL_HD_COPIES = {"tv": (1280, 720), "tablet": (800, 450), "web": (640, 360), "mobile": (400, 225)}


def _size_of(name: str) -> tuple[int, int]:
    with default_storage.open(name) as stored, Image.open(stored) as image:
        return image.size


def _image_bytes(size: tuple[int, int], fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    mode = "RGBA" if options.pop("alpha", False) else "RGB"
    Image.new(mode, size, (200, 40, 40, 128)[: len(mode)]).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _big_variant(**fields: object) -> ArtworkVariant:
    return ArtworkVariantFactory(image=image_file(size=(1920, 1080)), **fields)


def test_a_full_hd_frame_gets_a_copy_per_device_class_at_that_class_width():
    # given a 1920x1080 upload
    variant = _big_variant()

    # when its copies are made
    written = artwork_variant_renditions_make(variant=variant)

    # then one per device class, each at its class's width and the frame's aspect, as a
    # JPEG like the upload, named for the upload and the device class
    stem = variant.image.name.removesuffix(".jpg")
    assert sorted(written) == sorted(f"{stem}.{device}.jpg" for device in DEVICES)
    for device, size in FULL_HD_COPIES.items():
        name = f"{stem}.{device}.jpg"
        assert _size_of(name) == size
        with default_storage.open(name) as stored, Image.open(stored) as image:
            assert image.format == "JPEG"
    variant.refresh_from_db()
    assert variant.renditions_made


def test_a_frame_is_never_enlarged_only_the_classes_that_need_a_smaller_copy_get_one():
    # given a 480x270 frame (the demo's size) and a 700x394 one
    small = ArtworkVariantFactory(image=image_file(size=(480, 270)))
    middling = ArtworkVariantFactory(image=image_file(size=(700, 394)))

    # when their copies are made
    small_written = artwork_variant_renditions_make(variant=small)
    middling_written = artwork_variant_renditions_make(variant=middling)

    # then only the classes narrower than the frame get a copy; the others are sent the
    # upload itself, never a copy larger than it
    assert [name.rsplit(".", 2)[1] for name in small_written] == ["mobile"]
    assert sorted(name.rsplit(".", 2)[1] for name in middling_written) == ["mobile", "web"]
    assert _size_of(small_written[0]) == (400, 225)
    urls = variant_image_urls(variant=small)
    assert urls["tv"] == urls["tablet"] == urls["web"] == small.image.url
    assert urls["mobile"] == default_storage.url(small_written[0])
    for name in middling_written:
        assert _size_of(name)[0] == WIDTHS[name.rsplit(".", 2)[1]]


def test_names_follow_from_the_image_and_the_device_class_and_are_made_once():
    # given a variant whose copies are made
    variant = _big_variant()
    first = artwork_variant_renditions_make(variant=variant)
    stamps = {name: default_storage.get_modified_time(name) for name in first}

    # when they are made again
    again = artwork_variant_renditions_make(variant=variant)

    # then nothing is written, and the names are the image's with the device class
    assert again == []
    assert {name: default_storage.get_modified_time(name) for name in first} == stamps
    assert rendition_name(image="artwork/7/0123abcd.png", device="tablet") == (
        "artwork/7/0123abcd.tablet.png"
    )
    # a copy of a digest-named upload is named for good too (served immutable)
    assert all(artwork_name_is_fixed(name) for name in first)
    assert not artwork_name_is_fixed("artwork/demo-shared/action-00.mobile.jpg")


def test_a_copy_keeps_its_uploads_format_family_and_transparency():
    # given a transparent PNG and a lossless transparent WebP, 1000 wide
    png = _image_bytes((1000, 500), "PNG", alpha=True)
    webp = _image_bytes((1000, 500), "WEBP", alpha=True, lossless=True)

    # when each is copied for a phone
    png_copy, png_size = rendition_render(png, name="a/x.mobile.png", width=400)
    webp_copy, webp_size = rendition_render(webp, name="a/x.mobile.webp", width=400)

    # then the PNG stays a PNG with its alpha, the WebP a lossless WebP (VP8L)
    assert png_size == webp_size == (400, 200)
    with Image.open(io.BytesIO(png_copy)) as image:
        assert (image.format, image.mode) == ("PNG", "RGBA")
        assert image.getpixel((200, 100))[3] == 128
    assert webp_copy[12:16] == b"VP8L"


def test_a_copy_of_an_image_with_an_exif_turn_is_upright():
    # given a 1000x500 picture whose EXIF says to turn it a quarter (6): such uploads are
    # refused, but code can store a file without the upload's checks
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    data = _image_bytes((1000, 500), "JPEG", exif=exif.tobytes())

    # when it is copied for a phone
    copy, size = rendition_render(data, name="a/x.mobile.jpg", width=400)

    # then the copy is upright (as browsers show the upload), without the tag to say so
    assert size == (400, 800)
    with Image.open(io.BytesIO(copy)) as image:
        assert image.size == (400, 800)
        assert image.getexif().get(ORIENTATION) is None


def test_serving_sends_each_device_its_copy_and_the_upload_while_none_is_made():
    # given two titles with a 1920x1080 frame each: one's copies made, the other's not yet
    made = _big_variant()
    artwork_variant_renditions_make(variant=made)
    waiting = _big_variant()
    titles = [made.title_id, waiting.title_id]

    # when pages are chosen for each device class
    urls = {
        device: artwork_choose(
            title_ids=titles,
            device=device,
            maturity_limit=MaturityLevel.EIGHTEEN,
            taste={},
            hour=20,
        ).url
        for device in DEVICES
    }

    # then each device class gets its own copy of the first, and the upload of the second
    stem = made.image.name.removesuffix(".jpg")
    for device in DEVICES:
        assert urls[device] == [
            default_storage.url(f"{stem}.{device}.jpg"),
            default_storage.url(waiting.image.name),
        ]
    # continue-watching's default frame too
    default = artwork_default(
        title_ids=titles, device="mobile", maturity_limit=MaturityLevel.EIGHTEEN
    )
    assert default.url == urls["mobile"]


def test_urls_are_asked_of_storage_once_per_load_and_follow_copies_made_since():
    # given arms loaded and filled before a variant's copies were made
    variant = _big_variant()
    before = artwork_arms_load()
    before.fill_urls()
    artwork_variant_renditions_make(variant=variant)

    # when the arms are re-read, reusing what the previous load asked
    after = artwork_arms_load()
    after.reuse_urls(before)

    # then the variant, whose copies are now made, is not given the old URLs
    assert after._device_urls[1, 0] is None
    after.fill_urls()
    mobile = after.urls(np.array([0], dtype=np.intp), 1)
    assert mobile == [default_storage.url(variant.image.name.replace(".jpg", ".mobile.jpg"))]
    assert after.url(0) == default_storage.url(variant.image.name)


def test_title_detail_lists_a_url_per_device_class_and_keeps_url_as_the_upload(
    api_client, account, profile
):
    # given a title with a 1920x1080 frame whose copies are made
    variant = _big_variant()
    artwork_variant_renditions_make(variant=variant)
    AvailabilityFactory(title=variant.title, region=account.home_region)
    path = f"/api/v1/titles/{variant.title_id}/?profile={profile.pk}"

    # when title detail is asked without a device, and by a phone
    plain = api_client.get(path).json()["artwork"][0]
    phone = api_client.get(path + "&device=mobile").json()["artwork"][0]

    # then url stays the upload (clients written before copies), urls name each copy, and
    # a phone that says so gets its own copy as url
    stem = "http://testserver" + default_storage.url(variant.image.name).removesuffix(".jpg")
    assert plain["url"] == f"{stem}.jpg"
    assert plain["urls"] == {device: f"{stem}.{device}.jpg" for device in DEVICES}
    assert phone["url"] == f"{stem}.mobile.jpg"
    assert api_client.get(path + "&device=fridge").status_code == 400


def test_the_backfill_command_makes_missing_copies_once_with_a_progress_bar():
    # given variants stored before copies were made: two sharing one image, one small, and
    # one whose file is gone from storage
    shared = _big_variant()
    twin = ArtworkVariant.objects.create(
        title=TitleFactory(), label="twin", image=shared.image.name, width=1920, height=1080
    )
    small = ArtworkVariantFactory()  # 320x180: no class needs a smaller copy
    lost = _big_variant()
    default_storage.delete(lost.image.name)

    # when the backfill runs twice
    out, err = io.StringIO(), io.StringIO()
    call_command("make_artwork_renditions", stdout=out, stderr=err)
    again = io.StringIO()
    call_command("make_artwork_renditions", stdout=again, stderr=io.StringIO())

    # then the readable ones are marked made, the shared image's copies written once, the
    # lost one left to be sent its (missing) upload and tried again; the bar said how far
    assert set(ArtworkVariant.objects.filter(renditions_made=True)) == {shared, twin, small}
    assert "3 variant(s) given their renditions (4 file(s) written); 1 whose" in out.getvalue()
    assert "artwork renditions" in err.getvalue()
    assert "4/4" in err.getvalue()
    assert "0 variant(s) given their renditions (0 file(s) written); 1 whose" in again.getvalue()
    for device, size in FULL_HD_COPIES.items():
        assert _size_of(shared.image.name.replace(".jpg", f".{device}.jpg")) == size


def test_the_prune_keeps_the_copies_of_named_images_and_deletes_those_of_deleted_ones():
    # given two variants with copies, one deleted, all written over a day ago
    kept, gone = _big_variant(), _big_variant()
    kept_files = [kept.image.name, *artwork_variant_renditions_make(variant=kept)]
    gone_files = [gone.image.name, *artwork_variant_renditions_make(variant=gone)]
    gone.delete()
    moment = (timezone.now() - ORPHAN_GRACE - dt.timedelta(hours=1)).timestamp()
    for name in kept_files + gone_files:
        os.utime(default_storage.path(name), (moment, moment))

    # when the nightly prune runs
    deleted = artwork_files_prune()

    # then the deleted variant's upload and copies go, the kept one's stay
    assert deleted == 5
    assert all(default_storage.exists(name) for name in kept_files)
    assert not any(default_storage.exists(name) for name in gone_files)


def test_a_copy_is_served_immutable_like_its_upload(settings):
    settings.SERVE_MEDIA = True
    variant = _big_variant()
    name = artwork_variant_renditions_make(variant=variant)[0]

    response = Client().get(default_storage.url(name))

    assert response.status_code == 200
    assert response["Cache-Control"] == ARTWORK_CACHED
    assert response["Content-Type"] == "image/jpeg"


def test_an_upload_through_admin_gets_its_copies(admin_client):
    # given a 1920x1080 upload on the variant's add page
    form = {
        "title": TitleFactory().pk,
        "label": "Key art",
        "image": SimpleUploadedFile("key.jpg", _image_bytes((1920, 1080))),
        "for_tv": "on",
        "maturity": 0,
        "is_active": "on",
    }

    # when it is saved
    page = admin_client.post("/admin/artwork/artworkvariant/add/", form)

    # then the variant is stored with its copies made
    assert page.status_code == 302
    variant = ArtworkVariant.objects.get()
    assert variant.renditions_made
    for device, size in FULL_HD_COPIES.items():
        assert _size_of(variant.image.name.replace(".jpg", f".{device}.jpg")) == size


def test_a_variant_added_on_its_titles_page_gets_its_copies(admin_client):
    # given a title's page, with one stored variant in its artwork inline
    stored = ArtworkVariantFactory()
    url = f"/admin/catalog/title/{stored.title_id}/change/"
    data = form_data(admin_client.get(url))
    prefix = next(key for key in data if key.endswith("-TOTAL_FORMS") and "artwork" in key)
    prefix = prefix.removesuffix("-TOTAL_FORMS")

    # when staff add a 1920x1080 frame there
    data[f"{prefix}-TOTAL_FORMS"] = "2"
    data.update(
        {
            f"{prefix}-1-label": "Second",
            f"{prefix}-1-image": SimpleUploadedFile("new.jpg", _image_bytes((1920, 1080))),
            f"{prefix}-1-for_tv": "on",
            f"{prefix}-1-maturity": "0",
            f"{prefix}-1-is_active": "on",
        }
    )
    page = admin_client.post(url, data)

    # then it is stored with its copies made
    assert page.status_code == 302
    added = ArtworkVariant.objects.get(title_id=stored.title_id, label="Second")
    assert added.renditions_made
    assert _size_of(added.image.name.replace(".jpg", ".mobile.jpg")) == (400, 225)


def test_admin_draws_its_thumbnails_from_the_copies(admin_client):
    # given a 1920x1080 frame whose copies are made
    variant = _big_variant()
    artwork_variant_renditions_make(variant=variant)
    stem = default_storage.url(variant.image.name).removesuffix(".jpg")

    # when staff list the variants and open this one
    listed = admin_client.get("/admin/artwork/artworkvariant/").content.decode()
    page = admin_client.get(f"/admin/artwork/artworkvariant/{variant.pk}/change/")

    # then the list's 96-wide thumbnail is the phone's copy and the 480-wide preview the
    # TV's (sharp on a 2x screen), not the upload
    assert f'src="{stem}.mobile.jpg"' in listed
    assert f'src="{stem}.tv.jpg"' in page.content.decode()
