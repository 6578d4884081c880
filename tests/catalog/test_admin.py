"""A season's series and an episode's series are fixed once stored, on their admin pages.

Signals, title states (the episode a series resumes at, the episodes finished) and the
page log name a series with its episodes. A season moved to another series took its
episodes with it: the first series' Continue Watching tile kept the progress of an
episode it no longer had, and resumed nothing; the episode's history stayed with a series
the catalogue no longer listed it under, and ingest refused the clients' events naming
the pair they knew.
"""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from catalog.models import Episode, Season, Title
from tests.factories import (
    EpisodeFactory,
    LanguageFactory,
    SeasonFactory,
    TitleFactory,
    TitleLocalizationFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-12345-xyz"))
    return client


def _series(name: str) -> Title:
    return TitleFactory(original_name=name, kind=Title.Kind.SERIES, runtime_minutes=45)


def test_a_seasons_series_is_shown_but_not_changed_on_its_page(staff):
    # given: season 1 of one series, and another series
    first, other = _series("Gold of Summer"), _series("Impossible Song")
    season = SeasonFactory(title=first, number=1)
    url = f"/admin/catalog/season/{season.pk}/change/"
    form = staff.get(url).context["adminform"].form

    # when: staff post the other series as its title, with a new name
    response = staff.post(
        url,
        {
            "title": str(other.pk),
            "number": "7",
            "name": "The lost season",
            "episodes-TOTAL_FORMS": "0",
            "episodes-INITIAL_FORMS": "0",
            "episodes-MIN_NUM_FORMS": "0",
            "episodes-MAX_NUM_FORMS": "1000",
        },
    )

    # then: the rest is saved, and the season stays with its series
    assert form.fields["title"].disabled
    assert response.status_code == 302
    season.refresh_from_db()
    assert (season.title_id, season.number, season.name) == (first.pk, 7, "The lost season")


def test_a_seasons_number_taken_by_another_of_its_series_is_refused_on_its_page(staff):
    series = _series("Gold of Summer")
    SeasonFactory(title=series, number=1)
    second = SeasonFactory(title=series, number=2)

    response = staff.post(
        f"/admin/catalog/season/{second.pk}/change/",
        {
            "number": "1",
            "episodes-TOTAL_FORMS": "0",
            "episodes-INITIAL_FORMS": "0",
            "episodes-MIN_NUM_FORMS": "0",
            "episodes-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 200
    assert Season.objects.get(pk=second.pk).number == 2


def _episode_posted(episode: Episode, season: Season) -> dict[str, str]:
    return {
        "season": str(season.pk),
        "number": str(episode.number),
        "name": episode.name,
        "runtime_minutes": str(episode.runtime_minutes),
    }


def test_an_episode_is_not_moved_to_another_series_season(staff):
    first, other = _series("Gold of Summer"), _series("Impossible Song")
    episode = EpisodeFactory(season=SeasonFactory(title=first, number=1), number=1)
    elsewhere = SeasonFactory(title=other, number=1)

    response = staff.post(
        f"/admin/catalog/episode/{episode.pk}/change/", _episode_posted(episode, elsewhere)
    )

    assert response.status_code == 200
    assert "season of its own series" in str(response.context["adminform"].form.errors)
    assert Episode.objects.get(pk=episode.pk).season.title_id == first.pk


def test_an_episode_is_moved_to_another_season_of_its_series(staff):
    # (an import that put it in the wrong season of the right series is corrected here)
    series = _series("Gold of Summer")
    episode = EpisodeFactory(season=SeasonFactory(title=series, number=1), number=9)
    second = SeasonFactory(title=series, number=2)

    response = staff.post(
        f"/admin/catalog/episode/{episode.pk}/change/", _episode_posted(episode, second)
    )

    assert response.status_code == 302
    assert Episode.objects.get(pk=episode.pk).season_id == second.pk


def _title_posted(title: Title, **changes: str) -> dict[str, str]:
    data = {
        "original_name": title.original_name,
        "kind": title.kind,
        "original_language": title.original_language_id,
        "release_date": str(title.release_date),
        "runtime_minutes": str(title.runtime_minutes),
        "maturity": str(title.maturity),
    }
    for prefix in ("localizations", "credits", "seasons", "availabilities", "artwork_variants"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return {**data, **changes}


def test_a_series_with_seasons_does_not_become_a_film(staff):
    # given: a series with a season, whose episodes a profile may be halfway through
    series = _series("Gold of Summer")
    SeasonFactory(title=series, number=1)

    # when: staff make it a film on its page
    response = staff.post(
        f"/admin/catalog/title/{series.pk}/change/", _title_posted(series, kind="film")
    )

    # then: refused on its kind (a film resumed the episode's progress as its own)
    assert response.status_code == 200
    assert "kind" in response.context["adminform"].form.errors
    assert Title.objects.get(pk=series.pk).kind == Title.Kind.SERIES


def test_a_series_without_seasons_becomes_a_film(staff):
    series = _series("Gold of Summer")

    response = staff.post(
        f"/admin/catalog/title/{series.pk}/change/", _title_posted(series, kind="film")
    )

    assert response.status_code == 302
    assert Title.objects.get(pk=series.pk).kind == Title.Kind.FILM


# --- Which titles staff have still to localise ---------------------------------------------


def test_the_title_list_finds_the_titles_not_yet_localised_in_a_language(staff):
    # given: Korean, and titles named and described in it, or not
    korean = LanguageFactory(code="ko", name="Korean", native_name="한국어")
    described = {"synopsis": "A heist."}
    TitleFactory(original_language=korean, **described)  # Korean is its own language
    localised = TitleFactory(**described)
    TitleLocalizationFactory(title=localised, language=korean, synopsis="도둑들.")
    unnamed = TitleFactory(**described)
    TitleLocalizationFactory(title=unnamed, language=LanguageFactory(code="hi", name="Hindi"))
    undescribed = TitleFactory(**described)
    TitleLocalizationFactory(title=undescribed, language=korean)  # a name, no synopsis
    nothing_to_describe = TitleFactory(synopsis="")
    TitleLocalizationFactory(title=nothing_to_describe, language=korean)
    url = reverse("admin:catalog_title_changelist")

    # when
    listed = staff.get(url, {"not_localised_in": "ko"}).context["cl"].result_list

    # then
    assert {t.pk for t in listed} == {unnamed.pk, undescribed.pk}


@pytest.mark.parametrize("value", ["xx", "KO", "pt-BR"])
def test_a_language_the_localisation_filter_does_not_offer_is_refused(staff, value):
    LanguageFactory(code="ko", name="Korean")
    url = reverse("admin:catalog_title_changelist")

    response = staff.get(url, {"not_localised_in": value})

    assert response.status_code == 302
    assert response["Location"] == f"{url}?e=1"
