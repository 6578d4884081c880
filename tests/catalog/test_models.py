"""What a series, its seasons and its episodes refuse wherever the ORM writes them.

Signals, title states and the page log name a series with its episodes. Admin's pages
kept a season with its series, an episode with its series and a series with seasons a
series (tests/catalog/test_admin.py), but an import, a shell session, a data migration or
an API writing the same rows was refused nothing: a season moved in the shell left the
first series' Continue Watching tile with the progress of an episode it no longer had.
"""

import pytest
from django.core.exceptions import ValidationError

from catalog.models import Episode, Season, Title
from tests.factories import EpisodeFactory, SeasonFactory, TitleFactory

pytestmark = pytest.mark.django_db


def _series(name: str) -> Title:
    return TitleFactory(original_name=name, kind=Title.Kind.SERIES, runtime_minutes=45)


def test_a_season_is_not_moved_to_another_series_from_the_shell():
    # given: season 1 of one series, with an episode, and another series
    first, other = _series("Gold of Summer"), _series("Silver of Winter")
    season = SeasonFactory(title=first, number=1)
    EpisodeFactory(season=season, number=1)

    # when: a script or the shell moves the season to the other series
    season = Season.objects.get(pk=season.pk)
    season.title = other
    with pytest.raises(ValidationError) as refused:
        season.save()

    # then: refused on its series, saying what to do; it stays with its series
    assert list(refused.value.message_dict) == ["title"]
    assert "add the season there" in str(refused.value)
    assert Season.objects.get(pk=season.pk).title_id == first.pk
    with pytest.raises(ValidationError):
        Season.objects.update_or_create(pk=season.pk, defaults={"title": other})
    assert Season.objects.get(pk=season.pk).title_id == first.pk


def test_a_season_is_saved_when_its_series_stays():
    season = SeasonFactory(number=1)

    season.name = "The first"
    season.save()
    Season.objects.get(pk=season.pk).save(update_fields=["name"])

    assert Season.objects.get(pk=season.pk).name == "The first"


def test_an_episode_is_not_moved_to_another_series_season_from_the_shell():
    # given: an episode of one series' season 1, and another series' season 1
    first, other = _series("Gold of Summer"), _series("Silver of Winter")
    own = SeasonFactory(title=first, number=1)
    episode = EpisodeFactory(season=own, number=1)
    elsewhere = SeasonFactory(title=other, number=1)

    # when: a script moves it there
    episode = Episode.objects.get(pk=episode.pk)
    episode.season = elsewhere
    with pytest.raises(ValidationError) as refused:
        episode.save()

    # then: refused on its season, and it stays with its series
    assert list(refused.value.message_dict) == ["season"]
    assert "season of its own series" in str(refused.value)
    assert Episode.objects.get(pk=episode.pk).season.title_id == first.pk
    moved = Episode.objects.get(pk=episode.pk)
    moved.season_id = elsewhere.pk
    with pytest.raises(ValidationError):
        moved.save(update_fields=["season"])
    assert Episode.objects.get(pk=episode.pk).season_id == own.pk


def test_an_episode_moves_between_seasons_of_its_own_series_from_the_shell():
    # (an import that put it in the wrong season of the right series is corrected so)
    series = _series("Gold of Summer")
    episode = EpisodeFactory(season=SeasonFactory(title=series, number=1), number=9)
    second = SeasonFactory(title=series, number=2)

    episode.season = second
    episode.save()
    episode.name = "Renamed"
    episode.save(update_fields=["name"])

    assert Episode.objects.get(pk=episode.pk).season_id == second.pk


def test_a_series_with_seasons_does_not_become_a_film_from_the_shell():
    # given: a series with a season, whose episodes a profile may be halfway through
    series = _series("Gold of Summer")
    SeasonFactory(title=series, number=1)

    # when: a script makes it a film
    title = Title.objects.get(pk=series.pk)
    title.kind = Title.Kind.FILM
    with pytest.raises(ValidationError) as refused:
        title.save()

    # then: refused on its kind (a film resumed the episode's progress as its own)
    assert list(refused.value.message_dict) == ["kind"]
    assert "Delete its seasons first" in str(refused.value)
    assert Title.objects.get(pk=series.pk).kind == Title.Kind.SERIES
    with pytest.raises(ValidationError):
        Title.objects.update_or_create(pk=series.pk, defaults={"kind": Title.Kind.FILM})
    assert Title.objects.get(pk=series.pk).kind == Title.Kind.SERIES


def test_a_series_without_seasons_becomes_a_film_and_a_film_is_saved_as_one():
    # (a title imported with the wrong kind has no seasons, nor any history to lose)
    series = _series("Gold of Summer")
    film = TitleFactory(original_name="Toy Story")

    series.kind = Title.Kind.FILM
    series.save()
    film.original_name = "Toy Story 2"
    film.save()
    with_seasons = _series("Silver of Winter")
    SeasonFactory(title=with_seasons, number=1)
    with_seasons.original_name = "Silver of Spring"
    with_seasons.save(update_fields=["original_name"])

    assert Title.objects.get(pk=series.pk).kind == Title.Kind.FILM
    assert Title.objects.get(pk=film.pk).original_name == "Toy Story 2"
    assert Title.objects.get(pk=with_seasons.pk).original_name == "Silver of Spring"


def test_update_fields_given_as_a_generator_are_saved_and_still_checked():
    # given: a series with a season and an episode, and a season of another series
    series, other = _series("Gold of Summer"), _series("Silver of Winter")
    season = SeasonFactory(title=series, number=1)
    episode = EpisodeFactory(season=season, number=1)
    elsewhere = SeasonFactory(title=other, number=1)

    # when: each is renamed with update_fields given as a generator, read once
    for row, name_field in ((series, "original_name"), (season, "name"), (episode, "name")):
        setattr(row, name_field, "Renamed")
        row.save(update_fields=(field for field in [name_field]))

    # then: each rename is stored (the save's own test of the fields consumed them, and
    # Django then wrote none), and a move named so is refused as one named in a list is
    assert Title.objects.get(pk=series.pk).original_name == "Renamed"
    assert Season.objects.get(pk=season.pk).name == "Renamed"
    assert Episode.objects.get(pk=episode.pk).name == "Renamed"
    episode.season = elsewhere
    with pytest.raises(ValidationError):
        episode.save(update_fields=(field for field in ["season"]))
    assert Episode.objects.get(pk=episode.pk).season_id == season.pk


def test_a_move_named_by_its_column_in_update_fields_is_refused():
    # (Django takes a foreign key's column name, "season_id", as the field in update_fields)
    series, other = _series("Gold of Summer"), _series("Silver of Winter")
    season = SeasonFactory(title=series, number=1)
    episode = EpisodeFactory(season=season, number=1)
    elsewhere = SeasonFactory(title=other, number=1)

    season.title_id = _series("Bronze of Autumn").pk
    with pytest.raises(ValidationError):
        season.save(update_fields=["title_id"])
    episode.season_id = elsewhere.pk
    with pytest.raises(ValidationError):
        episode.save(update_fields=["season_id"])

    assert Season.objects.get(pk=season.pk).title_id == series.pk
    assert Episode.objects.get(pk=episode.pk).season_id == season.pk
