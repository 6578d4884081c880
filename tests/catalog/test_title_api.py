"""GET /api/v1/titles/{id}/: localised detail, seasons, credits, artwork; region and profile."""

import datetime as dt

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from catalog.models import MaturityLevel
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
    TitleFactory,
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


def detail(client, title, profile, query="", **headers):
    return client.get(f"/api/v1/titles/{title.pk}/?profile={profile.pk}{query}", **headers)


def test_the_detail_is_localised_and_complete(api_client, profile, series):
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    TitleLocalizationFactory(title=series, language=tamil, name="புனித விளையாட்டு", synopsis="x")

    body = detail(api_client, series, profile, "&language=ta").json()

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

    body = detail(api_client, series, viewer).json()

    assert body["name"] == "தமிழ் பெயர்"


def test_the_synopsis_is_the_languages_own_else_the_originals(api_client, profile, series):
    # given: a Tamil synopsis, a Telugu name without one, and no Malayalam localisation
    series.synopsis = "A cop takes on a crime lord."
    series.save()
    for code, name, native in (("ta", "Tamil", "தமிழ்"), ("te", "Telugu", "తెలుగు")):
        LanguageFactory(code=code, name=name, native_name=native)
    LanguageFactory(code="ml", name="Malayalam", native_name="മലയാളം")
    TitleLocalizationFactory(
        title=series, language_id="ta", name="தாதா", synopsis="ஒரு போலீஸ்காரன் மோதுகிறான்."
    )
    TitleLocalizationFactory(title=series, language_id="te", name="దాదా", synopsis="")

    # when
    synopses = {
        code: detail(api_client, series, profile, f"&language={code}").json()["synopsis"]
        for code in ("ta", "te", "ml")
    }

    # then: the original's, wherever the language has none
    assert synopses == {
        "ta": "ஒரு போலீஸ்காரன் மோதுகிறான்.",
        "te": "A cop takes on a crime lord.",
        "ml": "A cop takes on a crime lord.",
    }


def test_titles_not_available_in_the_accounts_region_now_are_404(api_client, profile, series):
    series.availabilities.update(ends_at=NOW - dt.timedelta(days=1), starts_at=None)
    assert detail(api_client, series, profile).status_code == 404

    series.availabilities.update(ends_at=None, region=RegionFactory(code="BR", name="Brazil"))
    assert detail(api_client, series, profile).status_code == 404


def test_an_unknown_language_is_a_400_naming_it(api_client, profile, series):
    response = detail(api_client, series, profile, "&language=zz")
    assert response.status_code == 400
    # in the API's words, not the ORM's "Object with code=zz does not exist."
    assert response.json()["errors"] == {"language": ['No language with code "zz".']}


def test_a_language_with_a_nul_character_is_a_400_naming_it(api_client, profile, series):
    # PostgreSQL text cannot hold NUL: the lookup raised, a 500 (found by schemathesis)
    response = detail(api_client, series, profile, "&language=t%00a")

    assert response.status_code == 400
    assert response.json()["errors"] == {"language": ['Must be a language code, such as "ta".']}


def test_an_active_variant_without_an_image_is_left_out(api_client, profile, series):
    broken = ArtworkVariantFactory(title=series, label="lost upload")
    type(broken).objects.filter(pk=broken.pk).update(image="")

    response = detail(api_client, series, profile)

    assert response.status_code == 200
    assert [art["label"] for art in response.json()["artwork"]] == ["rooftop"]


def test_the_profile_is_required(api_client, series):
    # Without it there would be no maturity limit to apply: a kids device could leave it out.
    response = api_client.get(f"/api/v1/titles/{series.pk}/")

    assert response.status_code == 400
    assert "profile" in response.json()["errors"]


def test_a_kids_profile_gets_neither_titles_nor_artwork_above_its_limit(api_client, account):
    # given: an 18+ title, and an all-ages one with an 18+ frame beside an all-ages one
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    adult = ProfileFactory(account=account, name="Adult")
    mature = TitleFactory(maturity=MaturityLevel.EIGHTEEN)
    AvailabilityFactory(title=mature, region=account.home_region)
    family = TitleFactory(maturity=MaturityLevel.ALL)
    AvailabilityFactory(title=family, region=account.home_region)
    ArtworkVariantFactory(title=family, label="gore", maturity=MaturityLevel.EIGHTEEN)
    ArtworkVariantFactory(title=family, label="picnic", maturity=MaturityLevel.ALL)

    # then: the kid is told what it is told of a title that does not exist
    above_limit = detail(api_client, mature, kid)
    assert above_limit.status_code == 404
    assert detail(api_client, mature, adult).status_code == 200
    nonexistent = api_client.get(f"/api/v1/titles/{mature.pk + 1000}/", {"profile": kid.pk})
    assert above_limit.json() == nonexistent.json()
    assert above_limit.json()["message"] == "No title with this id is available to this profile."
    kids_art = [art["label"] for art in detail(api_client, family, kid).json()["artwork"]]
    adult_art = [art["label"] for art in detail(api_client, family, adult).json()["artwork"]]
    assert kids_art == ["picnic"]
    assert sorted(adult_art) == ["gore", "picnic"]


def test_a_pin_protected_profile_needs_its_unlock_token(api_client, account, series):
    parent = ProfileFactory(account=account, name="Parent")
    parent.set_pin("4321")
    parent.save()

    locked = detail(api_client, series, parent)
    token = api_client.post(
        f"/api/v1/profiles/{parent.pk}/unlock/", {"pin": "4321"}, format="json"
    ).json()["token"]
    unlocked = detail(api_client, series, parent, HTTP_X_PROFILE_UNLOCK=token)

    assert locked.status_code == 403
    assert locked.json()["code"] == "profile_locked"
    assert unlocked.status_code == 200


def test_the_schema_says_the_profile_is_required_and_may_be_locked():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/titles/{title_id}/"]["get"]

    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["profile"]["required"] is True
    assert "X-Profile-Unlock" in parameters
    assert {"400", "403", "404"} <= set(operation["responses"])


def test_a_season_says_when_it_comes_out_so_an_announced_one_is_not_offered(
    api_client, profile, series
):
    # given: season 1 out (no date known), season 2 announced for next month
    announced = (NOW + dt.timedelta(days=30)).date()
    season_two = SeasonFactory(title=series, number=2, release_date=announced)
    EpisodeFactory(season=season_two, number=1, name="Return")

    body = detail(api_client, series, profile).json()

    # then: the client can tell the announced season from the one it may play
    assert [(s["number"], s["release_date"]) for s in body["seasons"]] == [
        (1, None),
        (2, announced.isoformat()),
    ]
