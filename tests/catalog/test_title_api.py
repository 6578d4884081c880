"""GET /api/v1/titles/{id}/: localised detail, seasons, credits, artwork; region availability."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import (
    ArtworkThemeFactory,
    ArtworkVariantFactory,
    AvailabilityFactory,
    CreditFactory,
    EpisodeFactory,
    LanguageFactory,
    ProfileFactory,
    RegionFactory,
    SeasonFactory,
    TitleLocalizationFactory,
)

pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture
def series(account):
    season = SeasonFactory(number=1)
    title = season.title
    EpisodeFactory(season=season, number=1, name="Pilot")
    CreditFactory(title=title, role="actor", character="Sartaj")
    variant = ArtworkVariantFactory(title=title, label="rooftop", for_mobile=False)
    variant.themes.add(ArtworkThemeFactory(slug="action"))
    AvailabilityFactory(title=title, region=account.home_region)
    return title


def test_the_detail_is_localised_and_complete(api_client, series):
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    TitleLocalizationFactory(title=series, language=tamil, name="புனித விளையாட்டு", synopsis="x")

    body = api_client.get(f"/api/v1/titles/{series.pk}/?language=ta").json()

    assert body["name"] == "புனித விளையாட்டு"
    assert body["seasons"][0]["episodes"][0]["name"] == "Pilot"
    assert body["credits"][0]["character"] == "Sartaj"
    art = body["artwork"][0]
    assert art["url"].startswith("http://testserver/media/")
    assert art["themes"] == ["action"]
    assert "mobile" not in art["device_classes"]


def test_the_profiles_display_language_is_used(api_client, account, series):
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    TitleLocalizationFactory(title=series, language=tamil, name="தமிழ் பெயர்")
    viewer = ProfileFactory(account=account, name="Meena", display_language=tamil)

    body = api_client.get(f"/api/v1/titles/{series.pk}/?profile={viewer.pk}").json()

    assert body["name"] == "தமிழ் பெயர்"


def test_titles_not_available_in_the_accounts_region_now_are_404(api_client, account, series):
    series.availabilities.update(ends_at=NOW - dt.timedelta(days=1), starts_at=None)
    assert api_client.get(f"/api/v1/titles/{series.pk}/").status_code == 404

    series.availabilities.update(ends_at=None, region=RegionFactory(code="BR", name="Brazil"))
    assert api_client.get(f"/api/v1/titles/{series.pk}/").status_code == 404


def test_an_unknown_language_is_a_400(api_client, series):
    response = api_client.get(f"/api/v1/titles/{series.pk}/?language=zz")
    assert response.status_code == 400
    assert "language" in response.json()["errors"]


def test_an_active_variant_without_an_image_is_left_out(api_client, series):
    broken = ArtworkVariantFactory(title=series, label="lost upload")
    type(broken).objects.filter(pk=broken.pk).update(image="")

    response = api_client.get(f"/api/v1/titles/{series.pk}/")

    assert response.status_code == 200
    assert [art["label"] for art in response.json()["artwork"]] == ["rooftop"]
