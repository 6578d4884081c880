"""``manage.py import_catalogue``: titles, genres and availability from a MovieLens-style file."""

import bz2
import datetime as dt
import gzip
import io
import lzma
import os
import tarfile
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.models import Genre, MaturityLevel, Title, TitleLocalization
from catalog.selectors import catalogue_revision
from catalog.services import UNKNOWN_RELEASE_DATE
from recommendations.services.dataset_import import catalogue_import, title_name_and_year
from regions.models import Availability
from tests.db_waits import hold_until_waited_on
from tests.factories import LanguageFactory, RegionFactory, SeasonFactory, TitleFactory
from tests.test_admin import form_data

pytestmark = pytest.mark.django_db
EN_DASH = "\u2013"  # as MovieLens writes year ranges
KOREAN_DRAMA = "드라마"
RUSSIAN_DRAMA = "Драма"

MOVIES = f"""movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
2,Jumanji (1995),Adventure|Children|Fantasy
11,"American President, The (1995)",Comedy|Drama|Romance
171749,Death Note: Desu nôto (2006{EN_DASH}2007),(no genres listed)
176601,Black Mirror,Sci-Fi
"""


@pytest.fixture
def regions():
    LanguageFactory()  # en
    return RegionFactory(code="IN"), RegionFactory(
        code="US", name="United States", time_zone="America/New_York"
    )


def write(tmp_path, text: str, name: str = "movies.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(path, *args: str) -> str:
    out = io.StringIO()
    call_command("import_catalogue", str(path), *args, stdout=out, verbosity=0)
    return out.getvalue()


def snapshot() -> tuple[int, ...]:
    return (
        Title.objects.count(),
        Genre.objects.count(),
        Title.genres.through.objects.count(),
        Availability.objects.count(),
    )


def genres_of(external_id: str) -> list[str]:
    title = Title.objects.get(external_id=external_id)
    return sorted(title.genres.values_list("slug", flat=True))


def test_movielens_movies_become_titles_with_external_ids_genres_and_years(tmp_path, regions):
    # when
    output = run(write(tmp_path, MOVIES), "--region", "IN", "--region", "US")

    # then
    assert "5 titles read: 5 created, 0 updated, 0 unchanged" in output
    assert "10 availability windows opened in IN, US" in output
    toy_story = Title.objects.get(external_id="1")
    assert toy_story.original_name == "Toy Story"
    assert toy_story.release_date == dt.date(1995, 1, 1)
    assert toy_story.kind == Title.Kind.FILM
    assert toy_story.original_language_id == "en"
    assert toy_story.maturity == MaturityLevel.EIGHTEEN
    assert genres_of("1") == ["adventure", "animation", "children", "comedy", "fantasy"]
    assert Title.objects.get(external_id="11").original_name == "American President, The"
    death_note = Title.objects.get(external_id="171749")
    assert death_note.original_name == "Death Note: Desu nôto"
    assert death_note.release_date == dt.date(2006, 1, 1)
    assert genres_of("171749") == []
    no_year = Title.objects.get(external_id="176601")
    assert no_year.original_name == "Black Mirror"
    assert no_year.release_date == UNKNOWN_RELEASE_DATE
    assert Genre.objects.get(slug="sci-fi").name == "Sci-Fi"
    windows = Availability.objects.filter(title=toy_story)
    assert sorted(windows.values_list("region_id", "starts_at", "ends_at")) == [
        ("IN", None, None),
        ("US", None, None),
    ]


def test_an_import_that_changes_served_titles_raises_the_catalogue_revision(
    tmp_path, regions, django_capture_on_commit_callbacks
):
    # given an imported catalogue (bulk writes send no model signals)
    path = write(tmp_path, MOVIES)
    run(path, "--region", "IN,US")
    before = catalogue_revision()

    # when the same file is imported again, then serving is not told to re-read
    with django_capture_on_commit_callbacks(execute=True):
        run(path, "--region", "IN,US")
    assert catalogue_revision() == before

    # when one title's genres change, then it is
    changed = MOVIES.replace(
        "2,Jumanji (1995),Adventure|Children|Fantasy", "2,Jumanji (1995),Horror"
    )
    with django_capture_on_commit_callbacks(execute=True):
        run(write(tmp_path, changed), "--region", "IN,US")
    assert catalogue_revision() == before + 1


def test_the_bars_go_to_the_commands_stderr_and_the_summary_to_its_stdout(
    tmp_path, regions, capsys
):
    # when: an import run with its bars on, its stdout and stderr handed in
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_catalogue", str(write(tmp_path, MOVIES)), stdout=out, stderr=err, verbosity=1
    )

    # then: the reading and storing bars are on the command's stderr, not the process's
    assert "Reading movies.csv" in err.getvalue()
    assert "Storing titles" in err.getvalue()
    assert "Reading movies.csv" not in capsys.readouterr().err
    assert "Storing titles" not in out.getvalue()
    assert "titles read" in out.getvalue()


@pytest.mark.parametrize("value", ["", " , "])
def test_a_region_option_naming_no_region_is_refused_before_anything_is_imported(
    tmp_path, regions, value
):
    # it imported the titles into no region (read as no --region), invisible and unsaid
    path = write(tmp_path, MOVIES)

    with pytest.raises(CommandError, match=r"^--region .* names no region"):
        run(path, "--region", "IN", "--region", value)
    assert snapshot() == (0, 0, 0, 0)


def test_rerunning_updates_titles_and_never_duplicates(tmp_path, regions):
    # given an imported catalogue, then staff set what the source does not know
    path = write(tmp_path, MOVIES)
    run(path, "--region", "IN,US")
    Title.objects.filter(external_id="1").update(runtime_minutes=81, maturity=MaturityLevel.ALL)
    Title.objects.filter(external_id="176601").update(release_date=dt.date(2011, 12, 4))
    before = snapshot()

    # when the same file is imported again
    output = run(path, "--region", "IN,US")

    # then nothing changed and nothing was added
    assert "5 titles read: 0 created, 0 updated, 5 unchanged; 0 genres created" in output
    assert "0 availability windows opened" in output
    assert snapshot() == before

    # when the source renames a title and changes its genres
    changed = MOVIES.replace(
        "2,Jumanji (1995),Adventure|Children|Fantasy", "2,Jumanji (1996),Adventure|Horror"
    )
    output = run(write(tmp_path, changed), "--region", "IN")

    # then that title is updated in place, and staff's fields are kept
    assert "0 created, 1 updated, 4 unchanged; 1 genres created" in output
    jumanji = Title.objects.get(external_id="2")
    assert jumanji.release_date == dt.date(1996, 1, 1)
    assert genres_of("2") == ["adventure", "horror"]
    toy_story = Title.objects.get(external_id="1")
    assert (toy_story.runtime_minutes, toy_story.maturity) == (81, MaturityLevel.ALL)
    assert Title.objects.get(external_id="176601").release_date == dt.date(2011, 12, 4)
    assert Title.objects.count() == 5


def test_rerunning_updates_a_series_staff_gave_seasons_and_keeps_it_a_series(tmp_path, regions):
    # given: an imported catalogue, whose Black Mirror staff made a series with a season
    # (Title.save refuses a series with seasons made a film; the import creates titles as
    # films and must not trip on one)
    path = write(tmp_path, MOVIES)
    run(path, "--region", "IN")
    black_mirror = Title.objects.get(external_id="176601")
    black_mirror.kind = Title.Kind.SERIES
    black_mirror.save()
    season = SeasonFactory(title=black_mirror, number=1)

    # when: the source renames it and gives it a year
    output = run(
        write(tmp_path, MOVIES.replace("176601,Black Mirror,", "176601,Black Mirror (2011),")),
        "--region",
        "IN",
    )

    # then: it is updated in place, still a series with its season
    assert "0 created, 1 updated, 4 unchanged" in output
    black_mirror.refresh_from_db()
    assert (black_mirror.kind, black_mirror.release_date) == (
        Title.Kind.SERIES,
        dt.date(2011, 1, 1),
    )
    assert list(black_mirror.seasons.all()) == [season]


def test_a_file_in_another_language_adds_names_and_keeps_the_original(tmp_path, regions):
    # given a catalogue imported in English, and a synopsis staff wrote since
    LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    LanguageFactory(code="hi", name="Hindi", native_name="हिन्दी")
    run(write(tmp_path, MOVIES), "--region", "IN")
    Title.objects.filter(external_id="1").update(synopsis="Toys come alive.")
    toy_story = Title.objects.get(external_id="1")
    TitleLocalization.objects.create(title=toy_story, language_id="hi", name="टॉय स्टोरी")

    # when the same ids are imported with their Tamil names
    tamil = "movieId,title\n1,டாய் ஸ்டோரி (1995)\n2,ஜுமாஞ்சி (1995)\n"
    output = run(write(tmp_path, tamil, name="ta.csv"), "--genres-column", "", "--language", "ta")

    # then the Tamil names are the titles' Tamil localisations, and nothing else is erased
    assert "2 titles read: 0 created, 2 updated, 0 unchanged" in output
    toy_story.refresh_from_db()
    assert (toy_story.original_name, toy_story.original_language_id) == ("Toy Story", "en")
    assert toy_story.synopsis == "Toys come alive."
    assert dict(toy_story.localizations.values_list("language_id", "name")) == {
        "hi": "टॉय स्टोरी",
        "ta": "டாய் ஸ்டோரி",
    }

    # when the Tamil file is imported again with a corrected name, and the English one too
    renamed = tamil.replace("ஜுமாஞ்சி", "ஜுமான்ஜி")
    run(write(tmp_path, renamed, name="ta.csv"), "--genres-column", "", "--language", "ta")
    output = run(write(tmp_path, MOVIES))

    # then the Tamil name is updated in place, and the English import changes nothing
    assert "0 created, 0 updated, 5 unchanged" in output
    jumanji = Title.objects.get(external_id="2")
    assert jumanji.original_name == "Jumanji"
    assert list(jumanji.localizations.values_list("language_id", "name")) == [("ta", "ஜுமான்ஜி")]


def test_a_file_in_another_language_keeps_the_stored_titles_genres(tmp_path, regions):
    # given a catalogue imported in English, with its genres
    LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    run(write(tmp_path, MOVIES), "--region", "IN")
    before = genres_of("1")

    # when a Tamil export of the same ids, its genre names in Tamil, is imported
    tamil = "movieId,title,genres\n1,டாய் ஸ்டோரி (1995),அனிமேஷன்|குழந்தைகள்\n"
    run(write(tmp_path, tamil, name="ta.csv"), "--language", "ta")

    # then the title keeps its genres, and no Tamil-named genre is made for it
    assert genres_of("1") == before
    assert not Genre.objects.filter(name="அனிமேஷன்").exists()


def test_a_file_without_genres_keeps_the_genres_titles_already_have(tmp_path, regions):
    # given an imported catalogue, with genres
    run(write(tmp_path, MOVIES), "--region", "IN")
    before = snapshot()

    # when a file that has no genres column names the same titles
    no_genres = "movieId,title\n1,Toy Story (1995)\n2,Jumanji (1996)\n99,Heat (1995)\n"
    output = run(write(tmp_path, no_genres, name="nog.csv"), "--genres-column", "")

    # then the stored genres are kept (the file does not know them, it does not say "none")
    assert "3 titles read: 1 created, 1 updated, 1 unchanged; 0 genres created" in output
    assert genres_of("1") == ["adventure", "animation", "children", "comedy", "fantasy"]
    assert genres_of("2") == ["adventure", "children", "fantasy"]
    assert Title.objects.get(external_id="2").release_date == dt.date(1996, 1, 1)
    assert genres_of("99") == []
    assert Title.genres.through.objects.count() == before[2]


@pytest.mark.parametrize(
    ("field", "spaced"),
    [("", "   "), ("|", " | ")],  # separators alone: an export that joined empty values
    ids=["empty", "separators"],
)
def test_a_genres_field_naming_no_genre_keeps_the_genres_a_title_already_has(
    tmp_path, regions, field, spaced
):
    # given an imported catalogue, with genres
    run(write(tmp_path, MOVIES), "--region", "IN")

    # when a file with a genres column names no genre on some rows, with or without spaces
    blanks = f"movieId,title,genres\n1,Toy Story (1995),{field}\n2,Jumanji (1995),{spaced}\n"
    blanks += "11,X (1995),Drama\n"
    output = run(write(tmp_path, blanks, name="blanks.csv"))

    # then those rows do not know their genres: the stored ones stay (only "(no genres
    # listed)" says "none"), while a row that names genres still sets them
    assert "3 titles read: 0 created, 1 updated, 2 unchanged" in output
    assert genres_of("1") == ["adventure", "animation", "children", "comedy", "fantasy"]
    assert genres_of("2") == ["adventure", "children", "fantasy"]
    assert genres_of("11") == ["drama"]


def test_titles_with_windows_staff_set_in_a_region_get_no_open_window_there(tmp_path, regions):
    # given titles imported without a region, then licence windows staff set in US:
    # one that starts next month and one that has ended
    run(write(tmp_path, MOVIES))
    now = timezone.now()
    upcoming = Availability.objects.create(
        title=Title.objects.get(external_id="1"),
        region_id="US",
        starts_at=now + dt.timedelta(days=30),
    )
    lapsed = Availability.objects.create(
        title=Title.objects.get(external_id="2"),
        region_id="US",
        starts_at=now - dt.timedelta(days=400),
        ends_at=now - dt.timedelta(days=35),
    )

    # when the catalogue is imported into US
    output = run(write(tmp_path, MOVIES), "--region", "US")

    # then those titles keep only staff's windows: neither is live now
    assert "3 availability windows opened in US" in output
    assert list(Availability.objects.filter(title__external_id="1")) == [upcoming]
    assert list(Availability.objects.filter(title__external_id="2")) == [lapsed]
    assert Availability.objects.filter(
        title__external_id="11", region_id="US", starts_at=None, ends_at=None
    ).exists()


def test_genres_in_other_scripts_are_filed_and_latin_slugs_stay_as_they_were(tmp_path, regions):
    # given genre names in Korean, Cyrillic and accented Latin
    path = write(
        tmp_path,
        "movieId,title,genres\n"
        f"34,G5 (2000),{KOREAN_DRAMA}\n"
        f"35,Brat (1997),{RUSSIAN_DRAMA}|Comédie\n",
    )

    # when
    run(path)

    # then each is filed by a slug in its own script; an accented Latin name keeps its
    # ASCII slug (as before), and the slugs pass the model's validation (admin edits them)
    assert genres_of("34") == [KOREAN_DRAMA]
    assert genres_of("35") == ["comedie", RUSSIAN_DRAMA.lower()]
    assert Genre.objects.get(slug=KOREAN_DRAMA).name == KOREAN_DRAMA
    for genre in Genre.objects.all():
        genre.full_clean()


CHILDREN_HI = "बाल"  # children
STRENGTH_HI = "बल"  # strength: the same letters without the vowel sign
DRAMA_TA = "நாடகம்"


def test_genres_whose_names_differ_by_a_vowel_sign_stay_two_genres(tmp_path, regions):
    # given: Hindi and Tamil genre names, two of which differ only by a vowel sign (a
    # combining mark, which a Unicode slug dropped: both were filed as "बल", one genre)
    path = write(
        tmp_path,
        "movieId,title,genres\n"
        f"40,Chhota Bheem (2008),{CHILDREN_HI}\n"
        f"41,Bal (2020),{STRENGTH_HI}|{DRAMA_TA}\n",
    )

    # when: imported twice
    run(path)
    before = snapshot()
    run(path)

    # then: each name is its own genre, slugged with every letter and sign it has, found
    # again by the second run, and valid for admin to edit
    assert genres_of("40") == [CHILDREN_HI]
    assert genres_of("41") == sorted([STRENGTH_HI, DRAMA_TA])
    assert Genre.objects.get(slug=DRAMA_TA).name == DRAMA_TA
    assert snapshot() == before
    for genre in Genre.objects.all():
        genre.full_clean()


def test_admin_edits_a_genre_whose_slug_has_vowel_signs(admin_user):
    # given: the admin's form for genres (a ModelForm of the model's fields)
    from django.contrib import admin as django_admin
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = admin_user
    form_class = django_admin.site._registry[Genre].get_form(request)

    # then: a slug with its vowel signs is valid; punctuation still is not
    assert form_class(data={"slug": "नाटक", "name": "नाटक"}).is_valid()
    assert not form_class(data={"slug": "drama!", "name": "Drama"}).is_valid()


def test_a_genre_filed_under_its_old_slug_is_found_again_not_duplicated(tmp_path, regions):
    # given: a genre imported before vowel signs were kept, filed under "नटक"
    old = Genre.objects.create(slug="नटक", name="नाटक")
    path = write(tmp_path, "movieId,title,genres\n42,Natak (2019),नाटक\n")

    # when
    run(path)

    # then: the title joins that genre; no second "नाटक" is created
    assert Genre.objects.filter(name="नाटक").count() == 1
    assert genres_of("42") == ["नटक"]
    assert Title.objects.get(external_id="42").genres.get() == old


def test_a_name_whose_slug_is_another_genres_old_slug_is_not_filed_in_that_genre(tmp_path, regions):
    # given: "बाल" (children) imported before vowel signs were kept, so filed under "बल",
    # which is the slug "बल" (strength) is filed under now
    children = Genre.objects.create(slug=STRENGTH_HI, name=CHILDREN_HI)
    path = write(
        tmp_path,
        "movieId,title,genres\n"
        f"43,Bal (2020),{STRENGTH_HI}\n"
        f"44,Chhota Bheem (2008),{CHILDREN_HI}\n",
    )

    # when
    run(path)
    before = snapshot()
    run(path)

    # then: strength is a genre of its own, and children is still the genre it was
    strength = Title.objects.get(external_id="43").genres.get()
    assert strength.name == STRENGTH_HI
    assert strength != children
    assert Title.objects.get(external_id="44").genres.get() == children
    assert Genre.objects.get(pk=children.pk).name == CHILDREN_HI
    assert snapshot() == before
    for genre in Genre.objects.all():
        genre.full_clean()


def test_a_generic_layout_with_named_columns_and_another_delimiter(tmp_path, regions):
    path = write(
        tmp_path,
        "name\tsku\tcategories\tyear\nKaala (2018)\tT-9\tAction, Drama\t2018\n",
        name="items.tsv",
    )

    output = run(
        path,
        "--delimiter",
        "\\t",
        "--id-column",
        "sku",
        "--title-column",
        "name",
        "--genres-column",
        "categories",
        "--genre-separator",
        ",",
        "--language",
        "hi",
        "--region",
        "IN",
    )

    assert "1 created" in output
    kaala = Title.objects.get(external_id="T-9")
    assert (kaala.original_name, kaala.original_language_id) == ("Kaala", "hi")
    assert genres_of("T-9") == ["action", "drama"]


def test_ids_a_spreadsheet_wrote_as_decimals_are_the_same_ids(tmp_path, regions):
    # given a catalogue saved from a spreadsheet, which wrote every id as a decimal
    spreadsheet = MOVIES.replace("\n1,", "\n1.0,").replace("\n176601,", "\n176601.00,")
    run(write(tmp_path, spreadsheet, name="sheet.csv"))

    # when the clean file is imported too
    output = run(write(tmp_path, MOVIES))

    # then the ids are the ids: no title twice, none stored as "1.0"
    assert "0 created, 0 updated, 5 unchanged" in output
    assert sorted(Title.objects.values_list("external_id", flat=True)) == [
        "1",
        "11",
        "171749",
        "176601",
        "2",
    ]


def test_a_trailing_delimiter_is_no_extra_field(tmp_path, regions):
    # given exports that end lines with the delimiter: every line, some lines, or none
    every = "movieId,title,genres,\n1,Toy Story (1995),Animation,\n2,Jumanji (1995),Fantasy\n"
    some = "3::Heat (1995)::Crime::\n4::Casino (1995)::Crime\n"

    # when they are imported, then every row is read (the empty fields are no data)
    assert "2 created" in run(write(tmp_path, every))
    assert "2 created" in run(write(tmp_path, some), "--delimiter", "::", "--no-header")
    assert genres_of("3") == ["crime"]

    # but a field with something in it is still one too many
    with pytest.raises(CommandError, match=r"movies.csv:3: expected 3 fields, found 4"):
        run(write(tmp_path, every.replace("Fantasy", "Fantasy,x")))


def test_an_extra_empty_field_is_a_bad_line_where_the_first_line_has_none(tmp_path, regions):
    # given a file whose lines do not end with the delimiter, and a name with an unquoted
    # comma on a line of empty genres: four fields, the last empty
    path = write(
        tmp_path, "movieId,title,genres\n1,Toy Story (1995),Animation\n3,Hello, World (1999),\n"
    )

    # then the line is refused, not imported as the title "Hello" of genre "World (1999)"
    with pytest.raises(CommandError, match=r"movies.csv:3: expected 3 fields, found 4"):
        run(path)
    assert not Title.objects.filter(external_id="3").exists()


def test_a_file_without_a_header_takes_its_columns_in_order(tmp_path, regions):
    path = write(tmp_path, "1::Toy Story (1995)::Animation|Children's\n", name="movies.dat")

    run(path, "--delimiter", "::", "--no-header")

    assert genres_of("1") == ["animation", "childrens"]


def test_a_header_read_as_data_with_no_header_is_refused(tmp_path, regions):
    # given a file with a header, imported as if it had none
    path = write(tmp_path, MOVIES)

    # then its header is not a title named "title", of genre "genres"
    with pytest.raises(CommandError, match=r"movies.csv:1: .*header.*--no-header"):
        run(path, "--no-header")
    assert snapshot() == (0, 0, 0, 0)


def test_a_header_without_the_expected_columns_names_them(tmp_path, regions):
    path = write(tmp_path, "id,name,genres\n1,Toy Story (1995),Animation\n")

    with pytest.raises(CommandError) as error:
        run(path)

    message = str(error.value)
    assert f"{path}:1: the header has no column 'movieId', 'title'" in message
    assert "expected 'movieId', 'title', 'genres'" in message
    assert "--id-column" in message
    assert snapshot() == (0, 0, 0, 0)


def test_a_header_naming_a_column_twice_is_refused_rather_than_one_taken(tmp_path, regions):
    # given an export joined from two tables, with two "title" columns (the original and a
    # translated one): the import took the first without a word, whichever was meant
    path = write(tmp_path, "movieId,title,genres,title\n1,Toy Story (1995),Animation,Toy\n")

    # when it is imported, then the header is refused, naming both places
    with pytest.raises(CommandError) as error:
        run(path)

    message = str(error.value)
    assert f"{path}:1: the header names 'title' twice (columns 2 and 4)" in message
    assert snapshot() == (0, 0, 0, 0)


def test_bad_rows_are_named_by_line_and_nothing_is_imported(tmp_path, regions):
    path = write(
        tmp_path,
        "movieId,title,genres\n"
        "1,Toy Story (1995),Animation\n"
        "2,Jumanji (1995)\n"  # a field short
        ",Heat (1995),Action\n"  # no id
        "1,Toy Story again (1995),Animation\n"  # the id is taken
        "5,,Drama\n"  # no title
        '6,"Quoted\nacross lines (1995)",Drama\n'  # a good row on two lines
        "7,Rocky (1976),!!!\n",  # a genre that cannot be filed
    )

    with pytest.raises(CommandError) as error:
        run(path, "--region", "IN")

    lines = str(error.value).splitlines()
    assert lines[0] == f"{path}: 5 bad lines; nothing was imported."
    assert lines[1:] == [
        f"{path}:3: expected 3 fields, found 2",
        f"{path}:4: empty movieId",
        f"{path}:5: movieId '1' is already on line 2",
        f"{path}:6: empty title",
        f"{path}:9: genre '!!!' has no letters or digits to file it by",
    ]
    assert snapshot() == (0, 0, 0, 0)


def test_a_nul_character_in_any_field_is_a_bad_line(tmp_path, regions):
    # given a file with NUL characters (PostgreSQL text cannot hold them) in each column
    path = write(
        tmp_path,
        "movieId,title,genres\n"
        "1,Toy Story (1995),Animation\n"
        "10,A\x00B (2000),Drama\n"
        "1\x00,Heat (1995),Action\n"
        "12,Rocky (1976),Drama|Sp\x00ort\n",
    )

    # when
    with pytest.raises(CommandError) as error:
        run(path, "--region", "IN")

    # then each line is named and nothing is imported
    assert str(error.value).splitlines() == [
        f"{path}: 3 bad lines; nothing was imported.",
        f"{path}:3: title contains a NUL character",
        f"{path}:4: movieId contains a NUL character",
        f"{path}:5: genres contains a NUL character",
    ]
    assert snapshot() == (0, 0, 0, 0)


def test_only_the_first_twenty_bad_lines_are_listed(tmp_path, regions):
    rows = "".join(f"{n},Title {n}\n" for n in range(1, 31))
    path = write(tmp_path, "movieId,title,genres\n" + rows)

    with pytest.raises(CommandError) as error:
        run(path)

    lines = str(error.value).splitlines()
    assert lines[0].endswith("30 bad lines; nothing was imported.")
    assert len(lines) == 1 + 20 + 1
    assert lines[1] == f"{path}:2: expected 3 fields, found 2"
    assert lines[-1] == "... and 10 more bad lines"


@pytest.mark.parametrize(("text", "args"), [("movieId,title,genres\n", ()), ("", ("--no-header",))])
def test_a_file_without_rows_is_refused(tmp_path, regions, text, args):
    # given a header alone (the wrong file, an export of an empty query), or nothing at all
    path = write(tmp_path, text)

    # when it is imported, then it fails naming the file: until December 2026 it said
    # "0 titles read" and exited 0
    reason = "has a header but no rows" if text else "is empty"
    with pytest.raises(CommandError, match=rf"^{path} {reason}"):
        run(path, *args)
    assert snapshot() == (0, 0, 0, 0)


def test_dry_run_reports_but_writes_nothing(tmp_path, regions):
    output = run(write(tmp_path, MOVIES), "--region", "IN", "--dry-run")

    assert "Dry run, nothing kept." in output
    assert "5 created" in output
    assert snapshot() == (0, 0, 0, 0)


def test_an_empty_genre_separator_is_refused(tmp_path, regions):
    with pytest.raises(CommandError, match=r"Cannot split genres on an empty --genre-separator"):
        run(write(tmp_path, MOVIES), "--genre-separator", "")
    assert snapshot() == (0, 0, 0, 0)


def test_unknown_regions_and_languages_are_refused(tmp_path, regions):
    path = write(tmp_path, MOVIES)

    with pytest.raises(CommandError, match="No region 'XX'; known regions: 'IN', 'US'"):
        run(path, "--region", "XX")
    with pytest.raises(CommandError, match="No language 'fr'"):
        run(path, "--language", "fr")
    assert snapshot() == (0, 0, 0, 0)


def test_a_fresh_database_says_where_its_language_and_regions_come_from(tmp_path):
    # given a database just migrated, as on a deployment's first start: no language, no region
    path = write(tmp_path, MOVIES)

    # when the catalogue is imported, then each refusal says to add the row in admin, and
    # never to run seed_demo, which would plant the demo's households beside the real ones
    with pytest.raises(CommandError) as language:
        run(path, "--region", "US")
    assert str(language.value) == (
        "No language 'en' (known languages: none); add it in admin (Catalog, Languages) "
        "first, or name a known one with --language."
    )
    LanguageFactory(code="en")
    with pytest.raises(CommandError) as region:
        run(path, "--region", "US")
    assert str(region.value) == (
        "No region 'US'; known regions: none. Add it in admin (Regions, Regions) first."
    )
    assert snapshot() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Heat (1995)", ("Heat", 1995)),
        ("Heat (1995) ", ("Heat", 1995)),
        ("Babylon 5 (1994-1998)", ("Babylon 5", 1994)),
        (f"Stranger Things (2016{EN_DASH} )", ("Stranger Things", 2016)),
        ("1984 (1984)", ("1984", 1984)),
        ("(500) Days of Summer (2009)", ("(500) Days of Summer", 2009)),
        ("Black Mirror", ("Black Mirror", None)),
        ("(1995)", ("(1995)", None)),
        ("Future (3024)", ("Future (3024)", None)),
    ],
)
def test_title_name_and_year(text, expected):
    assert title_name_and_year(text) == expected


def test_a_quoted_title_over_two_lines_is_one_line_with_its_year(tmp_path, regions):
    # given a spreadsheet's export whose title cell holds a line break (quoted, CRLF)
    path = tmp_path / "movies.csv"
    path.write_bytes(
        b'movieId,title,genres\r\n1,"Toy Story\r\n2 (1999)",Animation\r\n2,"Heat\t(1995)",Crime\r\n'
    )

    # when
    run(path)

    # then the name reads as one line, and the year is the title's, not lost to 1900
    toy_story_2 = Title.objects.get(external_id="1")
    assert toy_story_2.original_name == "Toy Story 2"
    assert toy_story_2.release_date == dt.date(1999, 1, 1)
    heat = Title.objects.get(external_id="2")
    assert (heat.original_name, heat.release_date) == ("Heat", dt.date(1995, 1, 1))


def test_a_file_in_another_encoding_is_refused_with_a_hint(tmp_path, regions):
    path = tmp_path / "movies.dat"
    path.write_bytes("1::Toy Story (1995)::Animation\n2::Léon (1994)::Thriller\n".encode("latin-1"))

    with pytest.raises(CommandError, match=r"movies.dat:2: not utf-8-sig text .*--encoding"):
        run(path, "--delimiter", "::", "--no-header")
    assert snapshot() == (0, 0, 0, 0)

    run(path, "--delimiter", "::", "--no-header", "--encoding", "latin-1")

    assert Title.objects.get(external_id="2").original_name == "Léon"


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "iso-8859-15"])
def test_a_utf_8_file_read_in_a_one_byte_encoding_is_refused_unless_forced(
    tmp_path, regions, encoding
):
    # given a UTF-8 file whose first non-ASCII letter is on line 3
    path = write(tmp_path, MOVIES.replace("Jumanji", "Jumanji Über").replace("Black", "São"))

    # when it is read as a one-byte encoding, then it is refused: every such letter would
    # be stored as two or three others ("SÃ£o")
    with pytest.raises(CommandError) as error:
        run(path, "--encoding", encoding)
    message = str(error.value)
    assert f"{path}:3: " in message
    assert "--encoding utf-8" in message
    assert "--force-encoding" in message
    assert snapshot() == (0, 0, 0, 0)

    # when the user says the encoding is right after all, then it is read as asked
    run(path, "--encoding", encoding, "--force-encoding")
    assert Title.objects.get(external_id="176601").original_name == "SÃ£o Mirror"


@pytest.mark.parametrize(("encoding", "instead"), [("latin-1", "cp1252"), ("iso-8859-2", "cp1250")])
def test_a_windows_file_read_as_iso_8859_is_refused_unless_forced(
    tmp_path, regions, encoding, instead
):
    # given a file a Windows spreadsheet saved, with a typographic apostrophe on line 3:
    # byte 0x92, which ISO 8859 reads as an invisible control character (U+0092)
    path = tmp_path / "movies.csv"
    text = "movieId,title,genres\n1,Amélie (2001),Romance\n2,Don\u2019t Look Up (2021),Comedy\n"
    path.write_bytes(text.encode("cp1252"))

    # when it is read as ISO 8859 (the default refuses it as not UTF-8, and latin-1 is the
    # encoding operators reach for), then it is refused at that line, naming the way out
    with pytest.raises(CommandError) as error:
        run(path, "--encoding", encoding)
    message = str(error.value)
    assert f"{path}:3: " in message
    assert "0x92" in message
    assert f"--encoding {instead}" in message
    assert "--force-encoding" in message
    assert snapshot() == (0, 0, 0, 0)

    # when it is read as the Windows code page, then the apostrophe is one
    run(path, "--encoding", "cp1252")
    assert Title.objects.get(external_id="2").original_name == "Don\u2019t Look Up"

    # when the user says the encoding is right after all, then it is read as asked
    run(path, "--encoding", encoding, "--force-encoding")
    assert Title.objects.get(external_id="2").original_name == "Don\x92t Look Up"


def test_a_utf_16_file_without_a_byte_order_mark_is_refused_with_a_hint(tmp_path, regions):
    # given a UTF-16 file without a byte-order mark, which the utf-16 codec cannot read
    path = tmp_path / "movies.csv"
    path.write_bytes("movieId,title,genres\n1,Toy Story (1995),Animation\n".encode("utf-16-le"))

    # when it is read as utf-16, then it is refused, naming the problem and the way out
    with pytest.raises(CommandError) as error:
        run(path, "--encoding", "utf-16")
    message = str(error.value)
    assert f"{path}:1: not utf-16 text (UTF-16 stream does not start with BOM)" in message
    assert "utf-16-le or utf-16-be" in message
    assert snapshot() == (0, 0, 0, 0)

    # when it is read with the byte order given, then it is imported
    run(path, "--encoding", "utf-16-le")
    assert Title.objects.get(external_id="1").original_name == "Toy Story"


@pytest.mark.parametrize("encoding", ["rot13", "base64", "zlib"])
def test_a_codec_that_is_not_a_text_encoding_is_refused(tmp_path, regions, encoding):
    with pytest.raises(CommandError, match=f"'{encoding}' is not a text encoding"):
        run(write(tmp_path, MOVIES), "--encoding", encoding)
    assert snapshot() == (0, 0, 0, 0)


@contextmanager
def _standard_input_of(data: bytes):
    """The path by which a command reads ``data`` piped to it, as ``/dev/stdin`` is."""
    reader, writer = os.pipe()
    try:
        os.write(writer, data)  # less than a pipe holds
        os.close(writer)
        yield Path(f"/dev/fd/{reader}")
    finally:
        os.close(reader)


def test_a_pipe_is_refused_rather_than_read_in_part(tmp_path, regions):
    # given standard input or a pipe (``zcat movies.csv.gz | import_catalogue /dev/stdin``),
    # whose first text block (8192 bytes) ends at the end of a line and more rows follow:
    # the import reads the file more than once, and its second reading (counting lines for
    # the progress bar) drained the rows after the first block, so 322 of 1399 titles were
    # imported and the command said it succeeded
    head = "movieId,title,genres\n"
    rows = [f"{n},Film {n} (1995),Drama\n" for n in range(1, 1400)]
    size, count = len(head), 0
    while size + len(rows[count]) <= 8192 - 40:
        size += len(rows[count])
        count += 1
    last = f"{count + 1},F (1995),Drama\n"
    rows[count] = last.replace("F", "F" + "x" * (8192 - size - len(last)), 1)
    data = (head + "".join(rows)).encode()
    assert data.index(b"\n", 8191) == 8191  # the first block ends with a whole line

    # when it is imported, then it is refused before anything is read, with the way out
    with _standard_input_of(data) as stdin, pytest.raises(CommandError) as error:
        run(stdin)
    message = str(error.value)
    assert f"{stdin} is not a regular file" in message
    assert "Save it to a file first" in message
    assert snapshot() == (0, 0, 0, 0)


def test_a_dash_for_standard_input_is_refused_saying_why_and_what_to_do(
    tmp_path, regions, monkeypatch
):
    # given '-', the usual name of standard input (``zcat movies.csv.gz | import_catalogue -``):
    # until December 2026 it was looked up as a file named '-', "Cannot read -: No such
    # file or directory", which said nothing of why standard input cannot be read
    monkeypatch.chdir(tmp_path)

    # when it is imported, then the refusal says why and what to do instead
    with pytest.raises(CommandError) as error:
        run("-")
    assert error.value.returncode == 1
    assert str(error.value) == (
        "'-' (standard input) cannot be imported: the import reads its file more than "
        "once, checking it whole before writing anything. Save the data to a file first "
        "and give its path (a .csv.gz is read as it is, without zcat; a file named '-' "
        "is given as ./-). Nothing was imported."
    )
    assert snapshot() == (0, 0, 0, 0)

    # and a file that is named '-' is read when given as ./-
    write(tmp_path, MOVIES, name="-")
    assert "5 titles read: 5 created" in run("./-")


@pytest.mark.parametrize(
    ("compress", "kind", "tool"),
    [
        (bz2.compress, "bzip2-compressed", "bunzip2"),
        (lzma.compress, "xz-compressed", "unxz"),
        (lambda data: _zipped(data), "a zip archive", "unzip"),
    ],
)
def test_a_compressed_file_is_refused_as_compressed_not_as_another_encoding(
    tmp_path, regions, compress, kind, tool
):
    # given MovieLens's movies.csv compressed (MovieLens ships zip archives)
    path = tmp_path / "movies.csv.x"
    path.write_bytes(compress(MOVIES.encode()))

    # when it is imported, then the refusal says what the file is, not "give the file's
    # encoding" (any one-byte encoding decodes it, into a header of binary noise)
    with pytest.raises(CommandError) as error:
        run(path)
    message = str(error.value)
    assert f"{path} is {kind}" in message
    assert f"({tool})" in message
    assert "a .csv.gz as it is" in message
    assert "--encoding" not in message
    assert snapshot() == (0, 0, 0, 0)


def _tarred(data: bytes, mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        member = tarfile.TarInfo("ml-latest-small/movies.csv")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "archive", "kind", "tool"),
    [
        ("movies.tar", lambda data: _tarred(data), "a tar archive", "tar -xf"),
        ("movies.tar.gz", lambda data: _tarred(data, "w:gz"), "a gzip-compressed tar", "tar -xf"),
        ("movies.tgz", lambda data: _tarred(data, "w:gz"), "a gzip-compressed tar", "tar -xf"),
        (
            "movies.tar.bz2",
            lambda data: _tarred(data, "w:bz2"),
            "a bzip2-compressed tar",
            "tar -xf",
        ),
        ("movies.tar.xz", lambda data: _tarred(data, "w:xz"), "an xz-compressed tar", "tar -xf"),
        ("ml-latest-small.zip", lambda data: _zipped(data), "a zip archive", "unzip"),
        ("empty.zip", lambda data: _zipped(None), "a zip archive", "unzip"),
    ],
)
def test_an_archive_is_refused_as_an_archive_saying_to_extract_it(
    tmp_path, regions, name, archive, kind, tool
):
    # given movies.csv in an archive, as data sets are shipped: a tar archive, even
    # gzip-compressed (which the import decompresses as it reads), was read as text, and
    # refused for a header of its member's name and NUL bytes that "has no column movieId"
    path = tmp_path / name
    path.write_bytes(archive(MOVIES.encode()))

    # when it is imported, then the refusal names the file, says what it is and what to do
    with pytest.raises(CommandError) as error:
        run(path)
    message = str(error.value)
    assert message.startswith(f"{path} is {kind}")
    assert f"Extract the file to import from it ({tool})" in message
    assert "(a .csv, or a .csv.gz as it is)" in message
    assert "header" not in message
    assert "\x00" not in message
    assert snapshot() == (0, 0, 0, 0)


@pytest.mark.parametrize("compress", [lambda data: data, gzip.compress])
def test_text_that_holds_a_tar_archives_magic_where_it_would_be_is_text(
    tmp_path, regions, compress
):
    # given a catalogue whose bytes 257-261 spell "ustar", as a tar header's do
    head = "movieId,title,genres\n1,"
    name = "x" * (257 - len(head)) + "ustar Wars (1977)"
    rows = "".join(f"{n},Film {n} (1990),Drama\n" for n in range(2, 22))
    data = f"{head}{name},Sci-Fi\n{rows}".encode()
    assert data[257:262] == b"ustar"
    assert len(data) > 512  # a whole tar header block's length
    path = tmp_path / "movies.csv"
    path.write_bytes(compress(data))

    # when it is imported, then it is read as the text it is (a tar header has a checksum)
    assert "21 titles read: 21 created" in run(path)
    assert Title.objects.get(external_id="1").original_name == name.removesuffix(" (1977)")


@pytest.mark.parametrize("name", ["movies.csv.gz", "movies.csv"])
def test_a_gzip_compressed_catalogue_is_read_as_it_is(tmp_path, regions, name):
    # given movies.csv gzip-compressed, named as such or not: its bytes say what it is
    path = tmp_path / name
    path.write_bytes(gzip.compress(MOVIES.encode()))

    # when it is imported, then its titles are the plain file's
    assert "5 titles read: 5 created" in run(path, "--region", "IN")
    assert Title.objects.get(external_id="11").original_name == "American President, The"


def test_a_gzip_compressed_windows_file_read_as_iso_8859_is_refused(tmp_path, regions):
    path = tmp_path / "movies.csv.gz"
    path.write_bytes(
        gzip.compress("movieId,title,genres\n1,Don\u2019t (1995),Drama\n".encode("cp1252"))
    )

    with pytest.raises(CommandError, match=r"movies.csv.gz:2: byte 0x92 is a control character"):
        run(path, "--encoding", "latin-1")
    assert snapshot() == (0, 0, 0, 0)


def _zipped(data: bytes | None) -> bytes:
    """A zip archive holding ``data`` as movies.csv; an empty archive for None."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if data is not None:
            archive.writestr("movies.csv", data)
    return buffer.getvalue()


@pytest.mark.parametrize("header", [True, False])
def test_a_byte_order_mark_is_not_data_whatever_the_encoding_given(tmp_path, regions, header):
    # given a spreadsheet's UTF-8 file, with its byte-order mark, read as plain utf-8
    path = tmp_path / "movies.csv"
    text = ("movieId,title,genres\n" if header else "") + "1,Toy Story (1995),Animation\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    options = ("--encoding", "utf-8") if header else ("--encoding", "utf-8", "--no-header")

    # when it is imported, and again with the default encoding
    run(path, *options)
    run(path, *options[2:])

    # then the mark is neither a header's name nor part of the first id: one title, id "1"
    assert list(Title.objects.values_list("external_id", flat=True)) == ["1"]


def test_a_tab_file_whose_titles_start_with_quotes_is_read_with_no_quoting(tmp_path, regions):
    # given a tab-separated file that does not quote fields, as IMDb's title files
    tsv = 'movieId\ttitle\tgenres\n20\t"Crocodile" Dundee (1986)\tComedy\n21\tA "B" (1990)\tDrama\n'
    path = write(tmp_path, tsv, name="titles.tsv")

    # when it is read with quoting, then the refusal names the way out
    with pytest.raises(CommandError) as error:
        run(path, "--delimiter", "tab")
    assert f"{path}:2: unreadable" in str(error.value)
    assert "--no-quoting" in str(error.value)
    assert snapshot() == (0, 0, 0, 0)

    # when it is read with --no-quoting, then quotes are part of the names
    run(path, "--delimiter", "tab", "--no-quoting")
    assert Title.objects.get(external_id="20").original_name == '"Crocodile" Dundee'
    assert Title.objects.get(external_id="21").original_name == 'A "B"'


def _rival_import(path, started: threading.Event, blocked: threading.Event) -> None:
    """Import ``path`` in a transaction held open until another session waits on this one."""
    try:
        with transaction.atomic():
            catalogue_import(path=path, regions=["IN"])
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_store_it_once_without_an_error(tmp_path, regions):
    # given one import of a file that has written its titles and genres, not yet committed
    path = write(tmp_path, MOVIES)
    started, blocked = threading.Event(), threading.Event()
    rival = threading.Thread(target=_rival_import, args=(path, started, blocked))
    rival.start()
    try:
        assert started.wait(30)
        # when a second import of the same file runs meanwhile
        output = run(path, "--region", "IN")
    finally:
        rival.join()

    # then it waited for the first and found everything stored: no duplicate-key error
    assert blocked.is_set(), "the second import never waited on the first"
    assert "5 titles read: 0 created, 0 updated, 5 unchanged; 0 genres created" in output
    assert Title.objects.count() == 5


@pytest.fixture
def staff(client: Client) -> Client:
    client.force_login(get_user_model().objects.create_superuser("staff", "s@example.com", None))
    return client


def _staff_saves(post, saved: list, started: threading.Event, blocked: threading.Event) -> None:
    """``post()`` an admin page in a transaction held open until another session waits on it."""
    try:
        with transaction.atomic():
            saved.append(post().status_code)
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


def _window_posts(staff: Client, title: Title, starts_at: dt.datetime) -> dict:
    """Staff adding a US window from ``starts_at`` to ``title``, on either admin page."""
    day, time = starts_at.strftime("%Y-%m-%d"), starts_at.strftime("%H:%M:%S")

    def on_the_title_page():
        url = reverse("admin:catalog_title_change", args=[title.pk])
        data = form_data(staff.get(url))
        data.update(
            {
                "availabilities-TOTAL_FORMS": "1",
                "availabilities-0-region": "US",
                "availabilities-0-starts_at_0": day,
                "availabilities-0-starts_at_1": time,
            }
        )
        return staff.post(url, data)

    def on_the_windows_page():
        return staff.post(
            reverse("admin:regions_availability_add"),
            {"title": title.pk, "region": "US", "starts_at_0": day, "starts_at_1": time},
        )

    return {"title page": on_the_title_page, "windows page": on_the_windows_page}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("page", ["title page", "windows page"])
def test_a_window_staff_are_saving_while_the_import_runs_is_the_titles_only_one(
    tmp_path, regions, staff, page
):
    # given titles imported without a region, and staff saving a US licence that starts
    # next month for one of them, not yet committed
    path = write(tmp_path, MOVIES)
    run(path)
    toy_story = Title.objects.get(external_id="1")
    starts_at = (timezone.now() + dt.timedelta(days=30)).replace(microsecond=0)
    post = _window_posts(staff, toy_story, starts_at)[page]
    saved: list[int] = []
    started, blocked = threading.Event(), threading.Event()
    rival = threading.Thread(target=_staff_saves, args=(post, saved, started, blocked))
    rival.start()
    try:
        assert started.wait(30)
        # when the catalogue is imported into US meanwhile
        output = run(path, "--region", "US")
    finally:
        rival.join()

    # then the import waited for staff's save and left the title their window alone: an
    # open window beside it would make the title live now, a month early
    assert saved == [302]
    windows = Availability.objects.filter(title=toy_story, region_id="US")
    assert list(windows.values_list("starts_at", "ends_at")) == [(starts_at, None)]
    assert "4 availability windows opened in US" in output
    assert blocked.is_set(), "the import never waited on staff's save"


def _import_holding(first: int, title_ids: list[int], failed: list, started, blocked) -> None:
    """An import that has locked title ``first`` (its lowest) and, once staff wait on it, the
    rest of ``title_ids``, as ``_open_windows_ensure`` locks them: in order of their ids."""
    from recommendations.services.dataset_import.catalogue import _open_windows_ensure
    from regions.services import title_windows_lock

    try:
        with transaction.atomic():
            title_windows_lock(title_id=first)
            started.set()
            hold_until_waited_on(blocked)
            _open_windows_ensure(title_ids=title_ids, regions=["IN"])
    except Exception as error:  # reported by the test
        failed.append(error)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_window_moved_to_another_title_while_the_import_runs_waits_for_it_without_deadlock(
    regions, staff
):
    # given a US window of one title, and an import into IN that has locked that title, the
    # lower id of the two it is about to give an open window
    low, high = TitleFactory(), TitleFactory()
    assert low.pk < high.pk
    window = Availability.objects.create(title=low, region_id="US")
    failed: list = []
    started, blocked = threading.Event(), threading.Event()
    rival = threading.Thread(
        target=_import_holding, args=(low.pk, [low.pk, high.pk], failed, started, blocked)
    )
    rival.start()
    try:
        assert started.wait(30)
        # when staff move the window to the other title meanwhile
        url = reverse("admin:regions_availability_change", args=[window.pk])
        data = form_data(staff.get(url))
        data["title"] = str(high.pk)
        response = staff.post(url, data)
    finally:
        rival.join()

    # then both finish, one after the other: staff's save took the titles' locks in the
    # import's order (the moved-to title first, then the moved-from one, was a deadlock,
    # and PostgreSQL cancelled one side)
    assert blocked.is_set(), "staff's save never waited on the import"
    assert failed == []
    assert response.status_code == 302
    assert Availability.objects.get(pk=window.pk).title_id == high.pk
    assert set(Availability.objects.filter(region_id="IN").values_list("title_id", flat=True)) == {
        low.pk,
        high.pk,
    }


def test_a_catalogue_without_a_line_break_at_its_end_names_its_last_line(tmp_path, regions):
    # when a catalogue ends without a line break, as a download cut short does
    # (the last genre "Drama" cut to "Dra", which would become a genre of its own)
    cut = write(tmp_path, 'movieId,title,genres\n1,"Heat,\nThe (1995)",Crime\n2,Sabrina,Dra')
    output = run(cut)

    # then its titles are imported, and the summary names the line to check
    assert "2 titles read" in output
    assert f"{cut}:4: the file ends without a line break" in output
    # and a file that ends with one says nothing of it
    assert "line break" not in run(write(tmp_path, "movieId,title,genres\n2,Sabrina,Drama\r\n"))


def test_ctrl_c_while_storing_titles_says_nothing_was_imported(tmp_path, regions, monkeypatch):
    from tests.recommendations.test_dataset_import import _interrupted_while

    monkeypatch.setattr(
        "catalog.management.commands.import_catalogue.terminal_progress",
        _interrupted_while("Storing titles"),
    )

    # when the operator presses Ctrl-C with the first titles stored
    with pytest.raises(CommandError) as interrupted:
        call_command("import_catalogue", str(write(tmp_path, MOVIES)), "--region", "IN")

    # then the command says so in a line, where it was, with the shell's exit status for
    # Ctrl-C, and nothing was kept
    assert str(interrupted.value) == (
        "Interrupted after storing titles (5 of 5 rows): nothing was imported (the import "
        "writes in one transaction, rolled back). Run it again to import the file."
    )
    assert interrupted.value.returncode == 130
    assert snapshot() == (0, 0, 0, 0)


# A classic Mac file ("CSV (Macintosh)" from a spreadsheet) ends its lines with a carriage
# return alone, which editors and the csv reader count as line breaks.
CR_ONLY = "movieId,title,genres\r1,Toy Story (1995),Animation\r2,{name} (1994),Thriller\r"


@pytest.mark.parametrize(
    ("name", "encoding", "written_as", "says"),
    [
        ("Léon", None, "latin-1", "not utf-8-sig text"),
        ("Léon", "latin-1", "utf-8", "the file is UTF-8, not latin-1"),
        ("Don\u2019t", "latin-1", "cp1252", "byte 0x92 is a control character"),
    ],
)
def test_an_encoding_problem_in_a_file_of_carriage_returns_names_its_line(
    tmp_path, regions, name, encoding, written_as, says
):
    # given a file whose lines end in a carriage return alone, its odd letter on line 3
    path = tmp_path / "movies.csv"
    path.write_bytes(CR_ONLY.format(name=name).encode(written_as))

    # when it is read in an encoding that does not fit, then the refusal names line 3,
    # as an editor numbers it, not line 1 (the file holds no line feed)
    with pytest.raises(CommandError) as error:
        run(path, *(("--encoding", encoding) if encoding else ()))
    message = str(error.value)
    assert f"{path}:3: {says}" in message
    assert snapshot() == (0, 0, 0, 0)
