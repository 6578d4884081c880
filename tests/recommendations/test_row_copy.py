"""Row titles and reasons are in the profile's display language, from Django's catalogues."""

import ast
import gettext
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import pgettext

from recommendations.demo.vocabulary import GENRE_NAMES, GENRES, LANGUAGES, REGIONS
from recommendations.services.training import model_train
from recommendations.serving import homepage, row_copy
from recommendations.serving.bundle import _same_order
from recommendations.serving.row_copy import CATALOGUE_NAMES, RowCopy
from regions.models import TasteCluster, TasteClusterLocalization
from tests.conftest import token_client
from tests.factories import (
    AccountFactory,
    LanguageFactory,
    ProfileFactory,
    TasteClusterFactory,
    TitleLocalizationFactory,
)
from tests.module_world import the_module_world, world_for_the_module
from tests.recommendations.homepage_world import HomeWorld, build_home_world
from tests.recommendations.test_training import _fresh_serving, record, watch  # noqa: F401

LOCALE = Path(settings.BASE_DIR) / "locale"
#: Words of the English templates; none may show on a translated page.
TEMPLATE_WORDS = re.compile(
    r"\b(Because|watched|liked|Top Picks|Trending|Popular|viewers|picked|Titles|Continue|"
    r"Watching|New Releases|Critically|Acclaimed|Watch Again|Films|series|critics|"
    r"Favourites|Everyone|thumbs)\b"
)
TAMIL = re.compile(r"[\u0B80-\u0BFF]")
DEVANAGARI = re.compile(r"[\u0900-\u097F]")


def url(profile, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"device": "tv", **params}.items())
    return f"/api/v1/profiles/{profile.pk}/homepage/?{query}"


@pytest.fixture(scope="module")
def _home_world(
    django_db_setup, django_db_blocker, tmp_path_factory
) -> Iterator[tuple[Path, HomeWorld]]:
    """Built once for the module (tests/module_world.py), not for each of its tests."""
    with world_for_the_module(django_db_blocker, tmp_path_factory.mktemp("home")) as root:
        world = build_home_world()
        TitleLocalizationFactory(
            title=world.titles["action"][0], language=world.hindi, name="एक्शन 0"
        )
        yield root, world


@pytest.fixture
def page_of(_home_world, settings, db):
    """The homepage of a fresh profile who watched three action films and liked a drama.

    Three titles a row: in this 32-film world a row below the first screen must still bring
    that many new titles, or it is dropped.
    """
    world = the_module_world(settings, _home_world)

    def build(*, display_language, taste_cluster=None, days_ago=0):
        """``days_ago`` moves the profile's viewing back: 40 days is out of trending's window."""
        account = AccountFactory(home_region=world.region)
        profile = ProfileFactory(
            account=account, display_language=display_language, taste_cluster=taste_cluster
        )
        for title in world.titles["action"][:3]:
            watch(profile, title, days_ago=days_ago + 5)
        watch(profile, world.titles["action"][0], days_ago=days_ago + 1)
        record(profile, "thumbs_up", world.titles["drama"][0], days_ago=days_ago + 2)
        model_train(region_code=world.region.code)
        response = token_client(account).get(url(profile, rows=40, items=3))
        assert response.status_code == 200, response.json()
        return response.json()["rows"]

    build.world = world
    return build


def test_a_hindi_profile_reads_its_rows_in_hindi(page_of):
    rows = page_of(display_language=page_of.world.hindi)

    assert len(rows) >= 5
    for row in rows:
        for text in (row["title"], row["reason"]):
            assert DEVANAGARI.search(text), text
            assert not TEMPLATE_WORDS.search(text), text
            assert "%(" not in text, text
    by_type = {row["type"]: row for row in rows}
    # the seed's Hindi name fills the Hindi template; the region and genre are named in Hindi
    seed = page_of.world.titles["action"][0]
    watched = {row["id"]: row["title"] for row in rows if row["type"] == "because_you_watched"}
    assert watched[f"because_you_watched:{seed.pk}"] == "क्योंकि आपने एक्शन 0 देखा"
    assert by_type["trending"]["title"] == "भारत में ट्रेंडिंग"
    genres = {row["title"] for row in rows if row["type"] == "genre"}
    assert genres
    assert genres <= {"एक्शन", "रोमांस", "कॉमेडी", "ड्रामा"}


def test_a_tamil_profile_reads_its_rows_in_tamil(page_of):
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")

    rows = page_of(display_language=tamil)

    for row in rows:
        for text in (row["title"], row["reason"]):
            assert TAMIL.search(text), text
            assert not TEMPLATE_WORDS.search(text), text
    by_type = {row["type"]: row for row in rows}
    # no Hindi localisation of the seed for this profile: its original name, in Tamil copy
    seed = page_of.world.titles["action"][0]
    watched = {row["id"]: row["title"] for row in rows if row["type"] == "because_you_watched"}
    assert watched[f"because_you_watched:{seed.pk}"] == "நீங்கள் action 0 பார்த்ததால்"
    assert by_type["top_picks"]["title"] == "உங்களுக்கான சிறந்த தேர்வுகள்"
    assert by_type["trending"]["title"] == "இந்தியாவில் டிரெண்டிங்"
    # the language rows name their languages in Tamil
    languages = {row["title"] for row in rows if row["type"] == "language"}
    assert languages
    assert languages <= {
        "இந்தி மொழித் திரைப்படங்களும் தொடர்களும்",
        "ஆங்கில மொழித் திரைப்படங்களும் தொடர்களும்",
    }


def test_an_english_profile_reads_english(page_of):
    rows = page_of(display_language=page_of.world.english)

    by_type = {row["type"]: row for row in rows}
    seed = page_of.world.titles["action"][0]
    watched = {row["id"]: row["title"] for row in rows if row["type"] == "because_you_watched"}
    assert watched[f"because_you_watched:{seed.pk}"] == "Because you watched action 0"
    assert by_type["because_you_liked"]["reason"] == (
        "You gave drama 0 a thumbs up; these are in the same vein."
    )
    assert by_type["top_picks"]["title"] == "Top Picks for You"
    assert by_type["trending"]["title"] == "Trending in India"
    languages = {row["title"] for row in rows if row["type"] == "language"}
    assert languages
    assert languages <= {"Films & Series in English", "Films & Series in Hindi"}
    genres = {row["title"] for row in rows if row["type"] == "genre"}
    assert genres
    assert genres <= {"Action", "Romance", "Comedy", "Drama"}
    # "Crime picked for you." read as if a crime had been picked
    assert {row["reason"] for row in rows if row["type"] == "genre"} == {
        f"{genre} films and series, picked for you." for genre in genres
    }
    assert all("%(" not in row["title"] + row["reason"] for row in rows)


def test_a_language_without_a_catalogue_reads_english(page_of):
    # Django itself ships French; this project has no French row copy
    french = LanguageFactory(code="fr", name="French", native_name="Français")

    rows = page_of(display_language=french)

    titles = {row["type"]: row["title"] for row in rows}
    assert titles["top_picks"] == "Top Picks for You"
    assert titles["trending"] == "Trending in India"
    # and the page left the request's language as it found it
    assert translation.get_language() == settings.LANGUAGE_CODE


def _fans_in(cluster: TasteCluster, fans: list) -> TasteCluster:
    for fan in fans:
        fan.taste_cluster = cluster
        fan.save()
    return cluster


def _default_cluster(world: HomeWorld) -> TasteCluster:
    """The region's default cluster, "Everyone": everybody no keyed community holds."""
    return TasteClusterFactory(
        region=world.region, slug="default", name="Everyone", is_default=True
    )


def _hindi_viewers(world: HomeWorld) -> TasteCluster:
    hindi_viewers = TasteClusterFactory(region=world.region, slug="hindi", name="Hindi")
    hindi_viewers.languages.set([world.hindi])
    return hindi_viewers


def _trending_and_popular(rows: list[dict]) -> list[str]:
    return [row["title"] for row in rows if row["type"] in ("trending", "popular_in")]


@pytest.mark.parametrize("fans_in_it", ["every fan", "half the fans"])
def test_a_regions_only_cluster_adds_no_row_beside_trending(page_of, fans_in_it):
    """A region's only cluster, its default, is everybody there: its popular row held the
    trending row's titles again as "Popular in India". Not for its data (with half the fans
    unclustered its plays are not quite the region's) but for what it is."""
    world = page_of.world
    everyone = _fans_in(
        _default_cluster(world), world.fans if fans_in_it == "every fan" else world.fans[::2]
    )

    english = page_of(display_language=world.english, taste_cluster=everyone)
    hindi = page_of(display_language=world.hindi, taste_cluster=everyone)

    assert _trending_and_popular(english) == ["Trending in India"]
    assert _trending_and_popular(hindi) == ["भारत में ट्रेंडिंग"]


def test_a_community_without_recent_plays_adds_no_row(page_of):
    """Its popularity falls back to the region's: its row was the trending row again, under
    the community's name."""
    world = page_of.world
    _default_cluster(world)
    hindi_viewers = _hindi_viewers(world)

    rows = page_of(display_language=world.english, taste_cluster=hindi_viewers, days_ago=40)

    assert _trending_and_popular(rows) == ["Trending in India"]


def test_a_community_holding_every_recent_viewer_adds_no_row(page_of):
    """Its plays are the region's, so it ranks every pool as trending does."""
    world = page_of.world
    _default_cluster(world)
    hindi_viewers = _fans_in(_hindi_viewers(world), world.fans)

    rows = page_of(display_language=world.english, taste_cluster=hindi_viewers)

    assert _trending_and_popular(rows) == ["Trending in India"]


def test_popularities_rank_alike_only_when_every_cut_keeps_the_same_titles():
    region = np.array([0.0, 0.2, 0.2, 0.9, 0.5], dtype=np.float32)

    # the same order through another increasing map (its own top), ties and zeros kept
    assert _same_order(np.sqrt(region) / 2, region)
    # one pair swapped, or a tie split, or two titles tied that the region tells apart
    assert not _same_order(np.array([0.0, 0.2, 0.2, 0.5, 0.9], dtype=np.float32), region)
    assert not _same_order(np.array([0.0, 0.2, 0.3, 0.9, 0.5], dtype=np.float32), region)
    assert not _same_order(np.array([0.0, 0.2, 0.2, 0.5, 0.5], dtype=np.float32), region)


def test_an_indian_page_tells_its_region_community_and_language_rows_apart(page_of):
    """Beside keyed communities a default cluster is only the viewers they leave: its row is
    not "Popular in India", which read like "Trending in India" above it and like the
    language rows' "Popular in Hindi"."""
    world = page_of.world
    _fans_in(_hindi_viewers(world), world.fans[:4])
    everyone = _fans_in(_default_cluster(world), world.fans[4:])

    english = page_of(display_language=world.english, taste_cluster=everyone)
    hindi = page_of(display_language=world.hindi, taste_cluster=everyone)

    (row,) = [row for row in english if row["type"] == "popular_in"]
    assert row["title"] == "Popular with viewers like you"
    assert row["reason"] == "Popular with viewers whose taste is like yours."
    (row,) = [row for row in hindi if row["type"] == "popular_in"]
    assert row["title"] == "आप जैसे दर्शकों में लोकप्रिय"
    # and rows of different kinds open with different words
    named = [row for row in english if row["type"] in ("trending", "popular_in", "language")]
    assert {row["type"] for row in named} == {"trending", "popular_in", "language"}
    openings = {row["title"].split()[0]: row["type"] for row in named}
    assert openings == {"Trending": "trending", "Popular": "popular_in", "Films": "language"}


def test_a_language_clusters_row_names_its_language_in_the_display_language(page_of):
    world = page_of.world
    _default_cluster(world)
    hindi_viewers = _fans_in(_hindi_viewers(world), world.fans[:4])
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")

    rows = page_of(display_language=tamil, taste_cluster=hindi_viewers)

    (row,) = [row for row in rows if row["type"] == "popular_in"]
    assert row["title"] == "இந்தி பார்வையாளர்களிடம் பிரபலமானவை"


def test_a_staff_named_clusters_row_names_it_in_the_display_language_or_not_at_all(page_of):
    """A cluster keyed by no language ("Family", "Anime fans") read its English name inside
    every language's sentence ("Family दर्शकों में लोकप्रिय"): it reads its localised name,
    and in a language it has none in, "viewers like you" rather than the English name."""
    world = page_of.world
    _default_cluster(world)
    family = _fans_in(
        TasteClusterFactory(region=world.region, slug="family", name="Family"), world.fans[:4]
    )
    TasteClusterLocalization.objects.create(cluster=family, language=world.hindi, name="पारिवारिक")
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")

    english = page_of(display_language=world.english, taste_cluster=family)
    hindi = page_of(display_language=world.hindi, taste_cluster=family)
    in_tamil = page_of(display_language=tamil, taste_cluster=family)

    def popular(rows: list[dict]) -> tuple[str, str]:
        (row,) = [row for row in rows if row["type"] == "popular_in"]
        return row["title"], row["reason"]

    assert popular(english)[0] == "Popular with Family viewers"
    assert popular(hindi) == (
        "पारिवारिक दर्शकों में लोकप्रिय",
        "आपकी जैसी पसंद वाले पारिवारिक दर्शकों में लोकप्रिय।",
    )
    assert popular(in_tamil) == (
        "உங்களைப் போன்ற பார்வையாளர்களிடம் பிரபலமானவை",
        "உங்களைப் போன்ற ரசனை கொண்ட பார்வையாளர்களிடம் பிரபலமானவை.",
    )


def test_only_shown_rows_are_named(page_of, monkeypatch):
    named: list[int] = []
    render = homepage.row_copy_texts

    def counting(copies, **kwargs):
        named.append(len(copies))
        return render(copies, **kwargs)

    monkeypatch.setattr(homepage, "row_copy_texts", counting)
    account = AccountFactory(home_region=page_of.world.region)
    profile = ProfileFactory(account=account)
    for title in page_of.world.titles["action"][:3]:
        watch(profile, title, days_ago=5)
    model_train(region_code=page_of.world.region.code)

    rows = token_client(account).get(url(profile, rows=3, items=4)).json()["rows"]

    assert named == [len(rows)] == [3]


# --- The catalogues themselves -------------------------------------------------------------


def _po_entries(path: Path) -> dict[tuple[str | None, str], str]:
    """(context, msgid) -> msgstr of a .po, its strings wrapped over lines or not.

    Plural entries (``msgid_plural``) are refused: no row copy has one yet, and one
    read as a singular would be checked wrongly. Obsolete entries (``#~``) are left out.
    """
    entries: dict[tuple[str | None, str], str] = {}
    fields: dict[str, str] = {}
    last = ""

    def done() -> None:
        if fields.get("msgid"):  # not the header
            entries[fields.get("msgctxt"), fields["msgid"]] = fields.get("msgstr", "")
        fields.clear()

    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = line.strip()
        if not line:  # between entries
            done()
            continue
        if line.startswith("#"):  # comments, flags, obsolete entries
            continue
        if line.startswith('"'):  # the string of the field above, continued
            fields[last] += ast.literal_eval(line)
            continue
        field, _, quoted = line.partition(" ")
        if field not in ("msgctxt", "msgid", "msgstr"):
            raise ValueError(f"{path}: {field}: a plural entry? teach _po_entries to read it")
        if field != "msgstr" and "msgstr" in fields:  # the next entry, with no blank line
            done()
        fields[field] = ast.literal_eval(quoted)
        last = field
    return entries


def test_the_po_reader_reads_wrapped_entries_and_refuses_plural_ones(tmp_path):
    # A translator's editor wraps long lines (Poedit does), which makemessages --no-wrap
    # would not: a wrapped msgid read as "" was taken for the header and skipped, so an
    # untranslated message passed every check below; a plural one was skipped too.
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: xx\\n"\n\n'
        'msgctxt "row reason"\nmsgid ""\n"Titles like %(title)s, "\n"which you watched."\n'
        'msgstr ""\n\n'
        'msgid "Say \\"hi\\""\nmsgstr "Di \\"hola\\""\n',
        encoding="utf-8",
    )

    assert _po_entries(po) == {
        ("row reason", "Titles like %(title)s, which you watched."): "",
        (None, 'Say "hi"'): 'Di "hola"',
    }
    po.write_text(
        'msgid "%(days)d day"\nmsgid_plural "%(days)d days"\n'
        'msgstr[0] "%(days)d día"\nmsgstr[1] "%(days)d días"\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="plural"):
        _po_entries(po)


LANGUAGE_CODES = [code for code, _ in settings.LANGUAGES]


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_every_language_translates_every_message_and_keeps_its_placeholders(code):
    entries = _po_entries(LOCALE / code / "LC_MESSAGES" / "django.po")

    assert len(entries) >= 50
    for (context, msgid), msgstr in entries.items():
        if code == "en":
            continue  # the source: only phrases English itself words differently
        assert msgstr, (code, context, msgid)
        assert sorted(re.findall(r"%\(\w+\)[sd]", msgstr)) == sorted(
            re.findall(r"%\(\w+\)[sd]", msgid)
        ), (code, msgid, msgstr)


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_the_committed_mo_files_are_compiled_from_the_po_files(code):
    """The .mo files are committed (no gettext needed to run); they must match the .po."""
    directory = LOCALE / code / "LC_MESSAGES"
    with (directory / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)

    for (context, msgid), msgstr in _po_entries(directory / "django.po").items():
        key = f"{context}\x04{msgid}" if context else msgid
        assert compiled._catalog.get(key, "") == msgstr, (code, context, msgid)


@pytest.mark.parametrize("code", [code for code in LANGUAGE_CODES if code != "en"])
def test_the_demo_vocabularys_names_are_translated(code):
    """Genre, language and region names come from the database, so only those marked in
    ``row_copy.CATALOGUE_NAMES`` survive ``makemessages``: every demo name must be."""
    genres = {GENRE_NAMES.get(g, g.replace("-", " ").title()) for g in GENRES}
    names = [("genre", name) for name in genres]
    names += [("language", name) for name, _ in LANGUAGES.values()]
    names += [("in region", f"in {region.name}") for region in REGIONS]
    assert len(CATALOGUE_NAMES) == len(names)

    entries = _po_entries(LOCALE / code / "LC_MESSAGES" / "django.po")
    assert [name for name in names if not entries.get(name)] == []


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_no_two_kinds_of_region_community_or_language_row_read_alike(code):
    """In every shipped language, with the names taken out, each of these rows reads its own
    way: "Popular in <region>" and "Popular in <language>" were one phrase in English, Hindi,
    Spanish and Portuguese, and only the name told a region's row from a language's."""
    # names no catalogue translates, so that each can be found in the text and taken out
    tables = SimpleNamespace(
        row_copy={},
        region_names={"XX": "Zedland"},
        language_names={"zz": "Zedish"},
        language_native_names={},
    )
    copies = [
        RowCopy("trending", "XX"),
        RowCopy("popular_with_you"),
        RowCopy("popular_with_language", "zz"),
        RowCopy("language", "zz"),
    ]

    texts = row_copy.row_copy_texts(copies, display_language=code, tables=tables)

    titles = [title for title, _ in texts]
    assert all("Zedland" in t or "Zedish" in t for i, t in enumerate(titles) if i != 1), titles
    frames = [re.sub("Zedland|Zedish", "_", title) for title in titles]
    assert len(set(frames)) == len(frames), frames


# --- Every row with every name the demo has ------------------------------------------------

#: Seed titles as the demo names them: romanised originals, and a localisation in another
#: script. Row copy cannot inflect a title's name, whatever its script.
SEED_NAMES = ("Sacred Games", "Aag ka Dil", "ஆக் கா தில்")
#: Phrases a review of the homepage found on it.
#: pt "assistir" (to watch) takes "a", as the row's title has it ("Porque você assistiu a
#: X"): the reason's relative clause is "a que você assistiu" or "que você viu", not
#: ", que você assistiu".
#: es/pt "el público inglés", "o público inglês": the English (people), a nationality, where
#: the row means viewers of titles in English.
KNOWN_BAD = {
    "es": ("de Familiar", "público inglés", "público coreano", "público japonés"),
    "pt": (", que você assistiu", "público inglês", "público coreano", "público japonês"),
    "ta": ("ஆங்கிலம் மொழி",),
    "ml": ("-ന്",),
}
#: A placeholder with a letter fused to it: an ending that cannot fit every name (ml
#: "%(title)s-ന്", te "%(title)sకి"), as a Latin-script name can take no case ending.
FUSED = re.compile(r"%\(\w+\)s-?(?=[^\W\d_])")
#: Korean particles that are the same after every name (은/는, 이/가, 을/를 are not).
KO_INVARIANT = re.compile(r"에서|에")
#: A noun's dictionary form in -am: ta ஆங்கிலம், te తమిళం, ml മലയാളം. Before another word it
#: takes its combining form (ஆங்கில மொழி), so none may stand before one.
DICTIONARY_AM = {"ta": "ம்", "te": "\N{TELUGU SIGN ANUSVARA}", "ml": "\N{MALAYALAM SIGN ANUSVARA}"}


def _demo_genre_names() -> list[str]:
    return [GENRE_NAMES.get(g, g.replace("-", " ").title()) for g in GENRES]


#: A cluster staff named, keyed by no language, in every shipped language (as it stands
#: before "viewers"), and one named in none: the demo seeds neither.
FAMILY, ANIME_FANS = 1, 2
FAMILY_NAMES = {
    "hi": "पारिवारिक",
    "ta": "குடும்ப",
    "te": "కుటుంబ",
    "ml": "കുടുംബ",
    "ko": "가족",
    "ja": "ファミリー",
    "es": "familiar",
    "pt": "familiar",
}


def _demo_tables() -> SimpleNamespace:
    """The demo's regions and languages, and a region no catalogue names ("in France")."""
    return SimpleNamespace(
        row_copy={},
        region_names={"FR": "France"} | {region.code: region.name for region in REGIONS},
        language_names={code: name for code, (name, _) in LANGUAGES.items()},
        language_native_names={code: native for code, (_, native) in LANGUAGES.items()},
        cluster_names={FAMILY: "Family", ANIME_FANS: "Anime fans"},
        cluster_localized_names={FAMILY: FAMILY_NAMES},
    )


def _every_demo_row() -> list[RowCopy]:
    copies = [RowCopy(kind) for kind in ("continue_watching", "top_picks", "popular_with_you")]
    copies += [RowCopy("watch_again"), RowCopy("critically_acclaimed", number=80)]
    copies += [
        RowCopy(kind, name)
        for name in SEED_NAMES
        for kind in ("because_you_watched", "because_you_liked")
    ]
    copies += [
        RowCopy(kind, region, 30)
        for region in ["FR", *(region.code for region in REGIONS)]
        for kind in ("trending", "new_releases")
    ]
    copies += [
        RowCopy(kind, code) for code in LANGUAGES for kind in ("language", "popular_with_language")
    ]
    copies += [RowCopy("popular_with", number=cluster) for cluster in (FAMILY, ANIME_FANS)]
    return copies + [RowCopy("genre", name) for name in _demo_genre_names()]


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_every_row_reads_well_with_every_name_the_demo_has(code):
    """Every row kind, rendered with every genre, language, region and kind of seed name."""
    tables = _demo_tables()
    copies = _every_demo_row()

    texts = row_copy.row_copy_texts(copies, display_language=code, tables=tables)

    with translation.override(code):
        genres = {pgettext("genre", name) for name in _demo_genre_names()}
        languages = {row_copy._language_name(c, code, tables) for c in LANGUAGES}
    for copy, (title, reason) in zip(copies, texts, strict=True):
        for text in (title, reason):
            assert "%(" not in text, (copy, text)
            for phrase in KNOWN_BAD.get(code, ()):
                assert phrase not in text, (copy, text)
            # a staff-named cluster's English name inside another language's sentence
            if code != "en":
                assert not re.search("Family|Anime", text), (copy, text)
            # "Selección de Familiar": a name capitalised as a row title shows it, bent into a
            # sentence after a preposition, where gender, number and case must agree with it
            if code in ("en", "es", "pt") and copy.kind == "genre":
                assert not re.search(rf"\w\s+{re.escape(title)}", text), (copy, text)
            if code in DICTIONARY_AM:
                for name in genres | languages:
                    if name.endswith(DICTIONARY_AM[code]):
                        assert not re.search(rf"{re.escape(name)}\s+\w", text), (copy, text)


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_a_staff_named_cluster_reads_its_localised_name_else_viewers_like_you(code):
    tables = _demo_tables()
    copies = [RowCopy("popular_with", number=c) for c in (FAMILY, ANIME_FANS)]

    family, anime_fans = row_copy.row_copy_texts(copies, display_language=code, tables=tables)

    like_you = row_copy.row_copy_texts(
        [RowCopy("popular_with_you")], display_language=code, tables=tables
    )[0]
    if code == "en":
        assert family[0] == "Popular with Family viewers"
        assert anime_fans[0] == "Popular with Anime fans viewers"
    else:
        assert FAMILY_NAMES[code] in family[0]
        assert FAMILY_NAMES[code] in family[1]
        assert anime_fans == like_you


@pytest.mark.parametrize(
    ("code", "english", "hindi"),
    [
        ("es", "Popular entre quienes ven en inglés", "Popular entre quienes ven en hindi"),
        ("pt", "Popular entre quem assiste em inglês", "Popular entre quem assiste em hindi"),
    ],
)
def test_a_language_community_is_its_languages_viewers_not_a_nationality(code, english, hindi):
    """ "El público inglés" is the English (people); the row means viewers of English titles."""
    copies = [RowCopy("popular_with_language", "en"), RowCopy("popular_with_language", "hi")]

    texts = row_copy.row_copy_texts(copies, display_language=code, tables=_demo_tables())

    assert [title for title, _ in texts] == [english, hindi]


@pytest.mark.parametrize("code", [code for code in LANGUAGE_CODES if code != "ja"])
def test_no_ending_is_fused_to_a_name(code):
    """A name stands as a word of its own (Japanese writes no spaces: 「%(title)s」を)."""
    entries = _po_entries(LOCALE / code / "LC_MESSAGES" / "django.po")

    fused = []
    for (context, msgid), msgstr in entries.items():
        for match in FUSED.finditer(msgstr):
            if code == "ko" and KO_INVARIANT.match(msgstr, match.end()):
                continue
            fused.append((context, msgid, msgstr))
    assert fused == []


def _row_code_messages() -> set[tuple[str, str]]:
    """(context, msgid) of each ``pgettext`` call with literal arguments in the row code."""
    found = set()
    for path in (Path(settings.BASE_DIR) / "recommendations").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in ("pgettext", "pgettext_lazy")
                and all(isinstance(arg, ast.Constant) for arg in node.args)
            ):
                found.add((node.args[0].value, node.args[1].value))
    return found


@pytest.mark.parametrize("code", LANGUAGE_CODES)
def test_every_message_of_the_row_code_is_in_every_catalogue(code):
    """A message added to the code without ``make messages`` read English on every page."""
    entries = _po_entries(LOCALE / code / "LC_MESSAGES" / "django.po")
    messages = _row_code_messages()

    assert len(messages) >= 50
    missing = [key for key in messages if key not in entries]
    untranslated = [key for key in messages if code != "en" and not entries.get(key)]
    assert (missing, untranslated) == ([], [])


def test_a_regions_popular_row_has_no_copy_left_to_translate():
    # The homepage asks for no "Popular in <region>" row (a region's only cluster adds none
    # beside "Trending in <region>"), so its copy, and the catalogues' entries, are gone.
    tables = SimpleNamespace(
        row_copy={}, region_names={"XX": "Zedland"}, language_names={}, language_native_names={}
    )

    with pytest.raises(ValueError, match="popular_in_region"):
        row_copy.row_copy_texts(
            [RowCopy("popular_in_region", "XX")], display_language="en", tables=tables
        )
    left = [
        code
        for code in LANGUAGE_CODES
        if ("row title", "Popular %(in_region)s")
        in _po_entries(LOCALE / code / "LC_MESSAGES" / "django.po")
    ]
    assert left == []


def test_a_rows_texts_are_made_once_per_language_and_kept_with_the_title_tables(monkeypatch):
    # given: tables with nothing made yet, and a count of texts made
    tables = SimpleNamespace(
        row_copy={}, region_names={"IN": "India"}, language_names={}, language_native_names={}
    )
    made = []
    make = row_copy._texts
    monkeypatch.setattr(row_copy, "_texts", lambda *a: made.append(a[0]) or make(*a))
    copies = [RowCopy("top_picks", ""), RowCopy("trending", "IN")]

    # when: two pages in Hindi, one in English
    first = row_copy.row_copy_texts(copies, display_language="hi", tables=tables)
    again = row_copy.row_copy_texts(copies, display_language="hi", tables=tables)
    english = row_copy.row_copy_texts(copies, display_language="en", tables=tables)

    # then
    assert again == first
    assert english[1][0] == "Trending in India"
    assert first[1][0] != english[1][0]
    assert made == copies + copies  # Hindi once, English once
