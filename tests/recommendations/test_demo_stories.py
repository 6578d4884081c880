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
STOPS = {"hi": "।", "ja": "。"}
GAPS = {"ja": ""}  # Japanese runs who, where and what together


def story_of(synopsis: str, language: str) -> tuple[int, int, str, int]:
    """Read a synopsis back into (protagonist, place, genre, conflict) positions."""
    gap = GAPS.get(language, " ")
    (who,) = [i for i, p in enumerate(PROTAGONISTS) if synopsis.startswith(p.forms[language] + gap)]
    rest = synopsis[len(PROTAGONISTS[who].forms[language] + gap) :]
    (where,) = [i for i, p in enumerate(PLACES) if rest.startswith(p.forms[language] + gap)]
    rest = rest[len(PLACES[where].forms[language] + gap) :]
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
        "ta": "மனக்கசப்பால் பிரிந்த இரு சகோதரிகள் மும்பையில் மழைக்காலத் திருமணம் ஒன்றில் காதலைக் கண்டடைகிறார்கள்.",
        "te": "దూరమైన ఇద్దరు అక్కాచెల్లెళ్లు ముంబైలో వర్షాకాలంలో జరిగే ఒక పెళ్లిలో ప్రేమను కనుగొంటారు.",
        "ml": "അകന്നുകഴിയുന്ന രണ്ട് സഹോദരിമാർ മുംബൈയിൽ മഴക്കാലത്തെ ഒരു കല്യാണത്തിനിടെ പ്രണയം കണ്ടെത്തുന്നു.",
        "ko": "사이가 멀어진 두 자매가 뭄바이에서 장마철 결혼식에서 사랑을 찾는다.",
        "ja": "疎遠になった二人の姉妹がムンバイで雨季の結婚式で恋に出会う。",
    }
    assert {code: cop.synopsis(code) for code in SYNOPSIS_LANGUAGES} == {
        "en": "A retired cop in Mumbai finds love during a monsoon wedding.",
        "es": "Un policía retirado en Bombay encuentra el amor en una boda en pleno monzón.",
        "pt": "Um policial aposentado em Mumbai encontra o amor num casamento em plena monção.",
        "hi": "एक रिटायर्ड पुलिसवाला मुंबई में बरसात में एक शादी के दौरान प्यार पाता है।",
        "ta": "ஓய்வுபெற்ற போலீஸ்காரன் ஒருவன் மும்பையில் மழைக்காலத் திருமணம் ஒன்றில் காதலைக் கண்டடைகிறான்.",
        "te": "ఒక రిటైర్డ్ పోలీసు అధికారి ముంబైలో వర్షాకాలంలో జరిగే ఒక పెళ్లిలో ప్రేమను కనుగొంటాడు.",
        "ml": "വിരമിച്ച ഒരു പോലീസുകാരൻ മുംബൈയിൽ മഴക്കാലത്തെ ഒരു കല്യാണത്തിനിടെ പ്രണയം കണ്ടെത്തുന്നു.",
        "ko": "은퇴한 경찰이 뭄바이에서 장마철 결혼식에서 사랑을 찾는다.",
        "ja": "引退した警官がムンバイで雨季の結婚式で恋に出会う。",
    }


def test_tamil_and_telugu_verbs_agree_with_their_own_genders():
    """A gang of friends is feminine in Hindi (टोली) but "it" in Tamil and Telugu, and a
    baby elephant masculine in Hindi; a girl is feminine in all three."""
    # given: three subjects in Chennai, where the gang and the elephant fight for the land
    chennai = next(p for p in PLACES if p.forms["en"] == "in Chennai")
    land = CONFLICTS["drama"][1]
    told = {
        english: Story(PROTAGONISTS[named(english)], chennai, land)
        for english in ("A gang of friends", "A clumsy baby elephant", "A curious little girl")
    }

    # when
    verbs = {
        english: tuple(story.synopsis(code).split()[-1] for code in ("hi", "ta", "te"))
        for english, story in told.items()
    }

    # then
    assert verbs == {
        "A gang of friends": ("है।", "போராடுகிறது.", "పోరాడుతుంది."),
        "A clumsy baby elephant": ("है।", "போராடுகிறது.", "పోరాడుతుంది."),
        "A curious little girl": ("है।", "போராடுகிறாள்.", "పోరాడుతుంది."),
    }
    assert told["A gang of friends"].synopsis("hi").endswith("लड़ती है।")
    assert told["A clumsy baby elephant"].synopsis("hi").endswith("लड़ता है।")


def test_every_language_the_demo_names_titles_in_has_synopses():
    assert set(SYNOPSIS_LANGUAGES) == set(LANGUAGE_CODES)
    for phrases in (
        *(p.forms for p in PROTAGONISTS),
        *(p.forms for p in PLACES),
        *(c.forms for cs in CONFLICTS.values() for c in cs),
    ):
        assert set(phrases) == set(SYNOPSIS_LANGUAGES)
        assert all(phrases.values())


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
        # then: a synopsis in each of its languages
        assert set(title.synopses) == set(title.names)
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
