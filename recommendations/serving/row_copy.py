"""The words of a homepage row, its ``title`` and ``reason``, in the profile's display language.

Row generators decide *what* names a row (a :class:`RowCopy`: the kind of
copy and its subject: the seed title's name, a region, a genre, a language);
:func:`row_copy_texts` turns the copies of the rows actually shown into text,
once per page, under ``translation.override`` of the display language. The
messages are Django gettext messages (``pgettext``, named placeholders), so
translations live in ``locale/<lang>/LC_MESSAGES/django.po`` like any Django
project's, and a language without a catalogue reads English.

Names inside the copy come from the catalogue, in English, and are looked up
in the same catalogues: genres and languages by their English name (context
``"genre"``, ``"language"``), regions by the English phrase "in <name>"
(context ``"in region"``), because languages put a region into a sentence in
ways a bare name cannot follow (*no Brasil*, *na Índia*, *இந்தியாவில்*, and
English's own *in the United States*). A name with no translation falls back
to the language's ``native_name`` when the row's language is the display
language, else to the English name; a region to the generic "in %(region)s".

Rows that name a place, a community of viewers or a language can share an
Indian page, so each kind reads as its own: the region's trending row names
the region ("Trending in India"), a taste cluster's row names its viewers
("Popular with Tamil viewers", or "Popular with viewers like you" for those
no keyed community holds; a cluster staff named, "Family", by its name
localised in the display language, and where it has none there, as "viewers
like you" rather than by an English name inside the sentence), and a
language row names what it holds ("Films & Series in Tamil"). A region
whose one cluster is everybody in it has no cluster row beside "Trending in
Brazil" (it held the same titles), so the homepage has no "Popular in
Brazil" row, and no copy for one.

Cost: the catalogues are built once per process and language (Django keeps
them, and warm-up loads them); each row's texts are made once per language
and kept with the title tables, so a page looks its rows' texts up in a
dict, and makes only those it has not seen (none for the rows proposed but
not shown).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from django.utils import translation
from django.utils.translation import pgettext, pgettext_lazy

if TYPE_CHECKING:
    from recommendations.serving.title_tables import TitleTables

#: The source language of the messages; also the fallback of an unsupported display language.
SOURCE_LANGUAGE = "en"
#: Texts kept per tables before they are all forgotten (a few MB at most).
ROW_COPY_CACHE_MAX = 20_000

# Names of the demo catalogue's genres, languages and regions, marked here only so that
# ``makemessages`` keeps their translations (the names themselves come from the
# database at run time). ``tests/recommendations/test_row_copy.py`` checks that every
# name of the demo vocabulary is marked; a catalogue's own new names need a line here.
CATALOGUE_NAMES = (
    # Translators: a genre's name, which is the title of its row as it stands.
    pgettext_lazy("genre", "Action"),
    pgettext_lazy("genre", "Thriller"),
    pgettext_lazy("genre", "Romance"),
    pgettext_lazy("genre", "Comedy"),
    pgettext_lazy("genre", "Drama"),
    pgettext_lazy("genre", "Crime"),
    pgettext_lazy("genre", "Documentary"),
    pgettext_lazy("genre", "Sports"),
    pgettext_lazy("genre", "Animation"),
    pgettext_lazy("genre", "Family"),
    pgettext_lazy("genre", "Horror"),
    pgettext_lazy("genre", "Sci-Fi"),
    pgettext_lazy("genre", "Fantasy"),
    pgettext_lazy("genre", "Mystery"),
    pgettext_lazy("genre", "Musical"),
    pgettext_lazy("genre", "Period & History"),
    # Translators: a language's name as it stands before a noun, where every row puts it
    # ("Hindi films", "Hindi viewers"): its combining form if it has one (ta ஆங்கில, not ஆங்கிலம்).
    pgettext_lazy("language", "Hindi"),
    pgettext_lazy("language", "Tamil"),
    pgettext_lazy("language", "Telugu"),
    pgettext_lazy("language", "Malayalam"),
    pgettext_lazy("language", "English"),
    pgettext_lazy("language", "Korean"),
    pgettext_lazy("language", "Spanish"),
    pgettext_lazy("language", "Japanese"),
    pgettext_lazy("language", "Portuguese"),
    # Translators: a region as it follows "Trending ..." or "Popular ...": "in India".
    pgettext_lazy("in region", "in India"),
    pgettext_lazy("in region", "in United States"),
    pgettext_lazy("in region", "in United Kingdom"),
    pgettext_lazy("in region", "in Brazil"),
    pgettext_lazy("in region", "in South Korea"),
)


class RowCopy(NamedTuple):
    """What names a row: the kind of copy and its subject, made text only if the row is shown.

    ``subject`` is, by ``kind``: the seed title's display name
    (``because_you_watched``, ``because_you_liked``); a region code
    (``trending``, ``new_releases``); a language code
    (``language``, ``popular_with_language``); an English genre name
    (``genre``); empty for the others (``popular_with_you`` among them).
    ``number`` is the days of ``new_releases``, the score of
    ``critically_acclaimed`` and the id of the cluster of ``popular_with``
    (a cluster keyed by no single language, named by its localised name).
    """

    kind: str
    subject: str = ""
    number: int = 0


def copy_language(display_language: str | None) -> str:
    """The catalogue language for a display language: the best of ``LANGUAGES``, else English.

    Django caches the lookup (and clears it when ``LANGUAGES`` changes).
    """
    if not display_language:
        return SOURCE_LANGUAGE
    try:
        return translation.get_supported_language_variant(display_language)
    except LookupError:
        return SOURCE_LANGUAGE


def genre_names_localized(names: Sequence[str], *, display_language: str | None) -> list[str]:
    """Genres' English names as the homepage's genre rows title them in ``display_language``.

    For the other places a genre is named to a profile (title detail's
    ``localized_genres``): the same catalogue language (:func:`copy_language`)
    and the same message (:func:`_genre_name`), so that a genre reads alike on
    the homepage and on a title's page, English where no catalogue translates it.
    """
    with translation.override(copy_language(display_language)):
        return [_genre_name(name) for name in names]


def _genre_name(english: str) -> str:
    """A genre's name in the active language: its row's title as it stands."""
    return pgettext("genre", english)


def row_copy_texts(
    copies: Sequence[RowCopy], *, display_language: str | None, tables: TitleTables
) -> list[tuple[str, str]]:
    """The ``(title, reason)`` of each shown row, in the display language (English without one).

    Texts are made once per language and copy, under one
    ``translation.override``, and kept with ``tables`` (their names are
    what the texts are made of): 2 microseconds for a 12-row page instead
    of 63 for its gettext lookups and formatting (``bench/row_copy.py``).
    """
    language = copy_language(display_language)
    made = tables.row_copy
    missing = [copy for copy in copies if (language, copy) not in made]
    if missing:
        if len(made) > ROW_COPY_CACHE_MAX:  # seeds' names make the keys many; forget all
            made.clear()
        with translation.override(language):
            for copy in missing:
                made[(language, copy)] = _texts(copy, language, tables)
    return [made[(language, copy)] for copy in copies]


def _texts(copy: RowCopy, language: str, tables: TitleTables) -> tuple[str, str]:
    kind, subject = copy.kind, copy.subject
    if kind == "continue_watching":
        return (
            pgettext("row title", "Continue Watching"),
            pgettext("row reason", "Titles you started and have not finished."),
        )
    if kind == "top_picks":
        return (
            pgettext("row title", "Top Picks for You"),
            pgettext("row reason", "The titles we think you are most likely to enjoy now."),
        )
    if kind == "because_you_watched":
        name = {"title": subject}
        return (
            pgettext("row title", "Because you watched %(title)s") % name,
            pgettext("row reason", "Titles like %(title)s, which you watched recently.") % name,
        )
    if kind == "because_you_liked":
        name = {"title": subject}
        return (
            pgettext("row title", "Because you liked %(title)s") % name,
            # Translators: title is any title's name, often romanised: keep it a word of its own,
            # with no ending fused to it (ml not "%(title)s-ന്", which no Latin name can take).
            pgettext("row reason", "You gave %(title)s a thumbs up; these are in the same vein.")
            % name,
        )
    if kind == "trending":
        place = {"in_region": _in_region(subject, tables)}
        return (
            # Translators: in_region is "in India", "in the United States" in your language.
            pgettext("row title", "Trending %(in_region)s") % place,
            pgettext("row reason", "What people %(in_region)s are starting this week.") % place,
        )
    if kind == "popular_with_language":
        spoken = {"language": _language_name(subject, language, tables)}
        return (
            # Translators: language names the viewers of titles in it ("Tamil"), not a
            # people: es "el público inglés" read as the English (people), a nationality.
            pgettext("row title", "Popular with %(language)s viewers") % spoken,
            pgettext("row reason", "Popular with viewers whose taste is like yours (%(language)s).")
            % spoken,
        )
    if kind == "popular_with":
        name = _cluster_name(copy.number, language, tables)
        if name is None:
            return _texts(RowCopy("popular_with_you"), language, tables)
        cluster = {"cluster": name}
        return (
            # Translators: cluster is a community's name as staff gave it in your language,
            # as it stands before "viewers" ("Family"): a word of its own, like a language's.
            pgettext("row title", "Popular with %(cluster)s viewers") % cluster,
            pgettext("row reason", "Popular with viewers whose taste is like yours (%(cluster)s).")
            % cluster,
        )
    if kind == "popular_with_you":
        return (
            pgettext("row title", "Popular with viewers like you"),
            pgettext("row reason", "Popular with viewers whose taste is like yours."),
        )
    if kind == "new_releases":
        # One reason for every tile of the row, which holds titles new in the region and
        # series that arrived long ago and are back with a season out lately: "Arrived in
        # India in the last 90 days" was untrue of the series (15% of the demo's tiles).
        recent = {"in_region": _in_region(subject, tables), "days": copy.number}
        return (
            pgettext("row title", "New Releases"),
            pgettext(
                "row reason",
                # Translators: say both kinds of title the row holds: new in the region, and
                # series (often years old) with a new season. in_region is "in India".
                "New %(in_region)s, or back with a new season, in the last %(days)d days.",
            )
            % recent,
        )
    if kind == "critically_acclaimed":
        return (
            pgettext("row title", "Critically Acclaimed"),
            pgettext("row reason", "Rated %(score)d or more by critics.") % {"score": copy.number},
        )
    if kind == "genre":
        genre = _genre_name(subject)
        # Not "Crime picked for you.", which reads as if a crime had been picked.
        # Translators: genre is the row's title ("Family", "Sci-Fi"): open with it, as a
        # label, rather than fit it into a phrase (es not "Selección de Familiar").
        reason = pgettext("row reason", "%(genre)s films and series, picked for you.")
        return genre, reason % {"genre": genre}
    if kind == "language":
        # Not "Popular in Tamil": the row is the profile's own picks in the language, and
        # "Popular in ..." reads like "Popular in India" and "Popular with Tamil viewers".
        spoken = {"language": _language_name(subject, language, tables)}
        return (
            pgettext("row title", "Films & Series in %(language)s") % spoken,
            pgettext("row reason", "Films and series in %(language)s, picked for you.") % spoken,
        )
    if kind == "watch_again":
        return (
            pgettext("row title", "Watch Again"),
            pgettext("row reason", "Favourites you finished and may want to see again."),
        )
    raise ValueError(f"no copy for rows of kind {kind!r}")


def _in_region(code: str, tables: TitleTables) -> str:
    """The region as a sentence needs it after "Trending": "in India", "no Brasil"."""
    name = tables.region_names.get(code, code)
    phrase = f"in {name}"  # the msgid of a marked region (CATALOGUE_NAMES)
    local = pgettext("in region", phrase)
    if local == phrase:
        # Translators: region is a country's English name as staff typed it: keep it a word
        # of its own, with no case ending fused to it (ta "%(region)s நாட்டில்").
        local = pgettext("in region", "in %(region)s") % {"region": name}
    return local


def _cluster_name(cluster_id: int, language: str, tables: TitleTables) -> str | None:
    """A staff-named cluster's name in the display language, or None where it has none.

    Its ``name`` is the English one. An English name inside another language's
    sentence ("Family दर्शकों में लोकप्रिय") read worse than none, so without a
    localisation the row reads "Popular with viewers like you" in that language.
    """
    localized = tables.cluster_localized_names.get(cluster_id, {})
    if language in localized:
        return localized[language]
    if language == SOURCE_LANGUAGE:
        return tables.cluster_names.get(cluster_id)
    return None


def _language_name(code: str, language: str, tables: TitleTables) -> str:
    """A language's name in the display language.

    Translated where the catalogue has it; else the language's own (native) name
    when it is the display language; else English.
    """
    english = tables.language_names.get(code, code)
    local = pgettext("language", english)
    if local != english or language == SOURCE_LANGUAGE:
        return local
    if code == language:
        return tables.language_native_names.get(code) or english
    return english
