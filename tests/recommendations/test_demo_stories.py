"""The demo's synopses: one story per title, the same in every language it is told in."""

import datetime as dt
import random

from recommendations.demo import catalogue
from recommendations.demo.catalogue import plan_catalogue
from recommendations.demo.stories import (
    CONFLICTS,
    PLACES,
    PROTAGONISTS,
    SYNOPSIS_LANGUAGES,
    Story,
    story_draw,
)
from recommendations.demo.vocabulary import GENRES, LANGUAGE_CODES

AS_OF = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
STOPS = {"hi": "।"}


def story_of(synopsis: str, language: str) -> tuple[int, int, str, int]:
    """Read a synopsis back into (protagonist, place, genre, conflict) positions."""
    (who,) = [i for i, p in enumerate(PROTAGONISTS) if synopsis.startswith(p.forms[language] + " ")]
    rest = synopsis[len(PROTAGONISTS[who].forms[language]) + 1 :]
    (where,) = [i for i, p in enumerate(PLACES) if rest.startswith(p.forms[language] + " ")]
    rest = rest[len(PLACES[where].forms[language]) + 1 :]
    agreement = PROTAGONISTS[who].agreement
    stop = STOPS.get(language, ".")
    (what,) = [
        (genre, k)
        for genre, conflicts in CONFLICTS.items()
        for k, c in enumerate(conflicts)
        if rest == c.forms[language][agreement] + stop
    ]
    return who, where, *what


def named(english: str) -> int:
    (i,) = [i for i, p in enumerate(PROTAGONISTS) if p.forms["en"] == english]
    return i


def test_a_story_reads_the_same_in_every_language_and_its_verbs_agree():
    # given: two sisters (plural, feminine in Hindi) and a cop (singular, masculine) in Mumbai
    mumbai = next(p for p in PLACES if p.forms["en"] == "in Mumbai")
    wedding = CONFLICTS["romance"][1]
    sisters = Story(PROTAGONISTS[named("Two estranged sisters")], mumbai, wedding)
    cop = Story(PROTAGONISTS[named("A retired cop")], mumbai, wedding)

    # when / then
    assert {code: sisters.synopsis(code) for code in SYNOPSIS_LANGUAGES} == {
        "en": "Two estranged sisters in Mumbai find love during a monsoon wedding.",
        "es": "Dos hermanas distanciadas en Bombay encuentran el amor en una boda en pleno monzón.",
        "pt": "Duas irmãs afastadas em Mumbai encontram o amor num casamento em plena monção.",
        "hi": "दो बिछड़ी हुई बहनें मुंबई में बरसात में एक शादी के दौरान प्यार पाती हैं।",
    }
    assert {code: cop.synopsis(code) for code in SYNOPSIS_LANGUAGES} == {
        "en": "A retired cop in Mumbai finds love during a monsoon wedding.",
        "es": "Un policía retirado en Bombay encuentra el amor en una boda en pleno monzón.",
        "pt": "Um policial aposentado em Mumbai encontra o amor num casamento em plena monção.",
        "hi": "एक रिटायर्ड पुलिसवाला मुंबई में बरसात में एक शादी के दौरान प्यार पाता है।",
    }


def test_every_genre_language_and_audience_has_a_story_and_every_phrase_is_whole():
    rnd = random.Random(0)
    for genre in GENRES:
        assert CONFLICTS[genre]
        for language in LANGUAGE_CODES:
            for kids in (False, True):
                story = story_draw(rnd, language=language, genre=genre, kids=kids)
                assert not story.place.languages or language in story.place.languages
    for conflicts in CONFLICTS.values():
        for conflict in conflicts:
            for forms in conflict.forms.values():
                assert not any(mark in form for form in forms for mark in "{|}"), forms
    assert {p.audience for p in PROTAGONISTS} == {"adult", "kids", "all"}


def test_each_planned_title_tells_one_story_in_all_its_synopsis_languages():
    # given
    plan = plan_catalogue(seed=5, n_titles=400, as_of=AS_OF)

    told_in_several = 0
    for title in plan.titles:
        # then: a synopsis in each of its languages that has them, and only those
        assert set(title.synopses) == set(title.names) & set(SYNOPSIS_LANGUAGES)
        stories = {story_of(text, code) for code, text in title.synopses.items()}
        assert len(stories) == 1, title.synopses
        told_in_several += len(title.synopses) > 1
        # and the story fits the title: its first genre, a place its industry films in,
        # a protagonist for its audience
        (who, where, genre, _) = stories.pop()
        assert genre == title.genres[0]
        assert not PLACES[where].languages or title.language in PLACES[where].languages
        assert PROTAGONISTS[who].audience in (
            ("kids", "all") if title.is_kids else ("adult", "all")
        )
    assert told_in_several > len(plan.titles) // 2


def test_synopses_are_deterministic():
    first = plan_catalogue(seed=5, n_titles=60, as_of=AS_OF)
    again = plan_catalogue(seed=5, n_titles=60, as_of=AS_OF)
    other = plan_catalogue(seed=6, n_titles=60, as_of=AS_OF)

    assert [t.synopses for t in again.titles] == [t.synopses for t in first.titles]
    assert [t.synopses for t in other.titles] != [t.synopses for t in first.titles]


def test_rewriting_the_stories_leaves_the_rest_of_the_catalogue_as_it_was(monkeypatch):
    """Stories draw from their own stream: new phrases or a new way of drawing them must
    not rename titles, move their licences or change the histories built on them."""
    # given: the plan as stories are drawn now
    before = plan_catalogue(seed=5, n_titles=60, as_of=AS_OF)

    # when: stories draw three times as much from their stream
    def greedy_draw(rnd: random.Random, **kwargs: object) -> Story:
        rnd.random()
        rnd.random()
        return story_draw(rnd, **kwargs)

    monkeypatch.setattr(catalogue, "story_draw", greedy_draw)
    after = plan_catalogue(seed=5, n_titles=60, as_of=AS_OF)

    # then: other stories, and everything else the same
    def facts(title: catalogue.TitlePlan) -> dict:
        return {k: v for k, v in vars(title).items() if k != "synopses"}

    assert [t.synopses for t in after.titles] != [t.synopses for t in before.titles]
    assert [facts(t) for t in after.titles] == [facts(t) for t in before.titles]
    assert after.people == before.people
