"""The demo catalogue: titles, seasons, episodes, people, credits, names and licences.

Planned entirely in memory from the seed (:func:`plan_catalogue`), then written
with ``bulk_create`` in batches (:func:`write_catalogue`), which returns a
:class:`CatalogueIndex`: the arrays and id maps that the artwork and history
phases need, so that no later phase queries the catalogue row by row.
"""

import datetime as dt
import math
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from catalog.models import (
    Credit,
    Episode,
    MaturityLevel,
    Person,
    Season,
    Title,
    TitleLocalization,
)
from regions.models import Availability

from .bulk_insert import insert_rows
from .progress import Progress
from .reference import ReferenceIds
from .stories import SYNOPSIS_LANGUAGES, story_draw
from .vocabulary import (
    ADJECTIVES,
    CATALOGUE_LANGUAGE_SHARE,
    FIRST_NAMES,
    GENRE_BASE_SHARE,
    GENRE_COMPANIONS,
    GENRE_TAGS,
    GENRES,
    LANGUAGE_CODES,
    LANGUAGE_GENRE_BIAS,
    LANGUAGE_REGIONS,
    LANGUAGE_TAGS,
    LAST_NAMES,
    NOUNS,
    REGION_BY_CODE,
    REGIONS,
    TITLE_SHAPES,
    Word,
)

STREAM_CATALOGUE = 21
# Synopses draw from their own stream, so that rewording or adding stories
# leaves every other fact of the catalogue (and the histories built on it) as it was.
STREAM_STORIES = 22
DEMO_PREFIX = "demo:"
KIDS_SHARE = 0.08
ORIGINAL_SHARE = 0.08
NEW_RELEASE_SHARE = 0.04  # released in the last 30 days
UPCOMING_SHARE = 0.01  # announced, released in the next 30 days
SERIES_SHARE: dict[str, float] = {
    "ko": 0.6,
    "ja": 0.5,
    "en": 0.4,
    "es": 0.45,
    "pt": 0.45,
    "hi": 0.25,
    "ta": 0.15,
    "te": 0.15,
    "ml": 0.15,
}
INDIAN = ("hi", "ta", "te", "ml")
MOOD_OF_GENRE: dict[str, str] = {
    "horror": "dark",
    "thriller": "dark",
    "crime": "dark",
    "mystery": "dark",
    "romance": "warm",
    "family": "warm",
    "comedy": "warm",
    "musical": "warm",
    "drama": "warm",
    "action": "epic",
    "fantasy": "epic",
    "history": "epic",
    "sports": "epic",
    "sci-fi": "epic",
}
# Fixed titles at the head of every catalogue, so that the showcase household
# has something to love at any size: (language, kind, genres, maturity, kids,
# days since release).
ANCHORS: tuple[tuple[str, str, tuple[str, ...], int, bool, int], ...] = (
    ("hi", "film", ("romance", "drama"), MaturityLevel.THIRTEEN, False, 200),
    ("ta", "series", ("action", "thriller"), MaturityLevel.SIXTEEN, False, 400),
    ("hi", "series", ("crime", "thriller"), MaturityLevel.SIXTEEN, False, 900),
    ("hi", "film", ("romance", "comedy"), MaturityLevel.THIRTEEN, False, 600),
    ("hi", "series", ("animation", "family"), MaturityLevel.ALL, True, 500),
    ("ta", "film", ("action", "crime"), MaturityLevel.SIXTEEN, False, 10),
    ("hi", "film", ("romance", "musical"), MaturityLevel.THIRTEEN, False, 5),
    ("en", "film", ("animation", "family"), MaturityLevel.ALL, True, 300),
)


@dataclass
class TitlePlan:
    """Everything about one title except its database id."""

    index: int
    kind: str
    language: str
    genres: tuple[str, ...]
    tags: tuple[str, ...]
    maturity: int
    is_kids: bool
    release_date: dt.date
    runtime: int
    critic_score: int | None
    is_original: bool
    popularity: float
    names: dict[str, str]  # language -> localised name (native script)
    original_name: str
    synopses: dict[str, str]  # language -> the title's one story, told in that language
    audio: tuple[str, ...]
    subtitles: tuple[str, ...]
    seasons: list[tuple[dt.date, list[tuple[str, int]]]] = field(default_factory=list)
    availability: list[tuple[str, dt.datetime | None, dt.datetime | None]] = field(
        default_factory=list
    )
    credits: list[tuple[int, str, str, int]] = field(default_factory=list)


@dataclass
class CataloguePlan:
    """The whole planned catalogue: titles, and the people their credits point at."""

    titles: list[TitlePlan]
    people: list[tuple[str, str]]  # (name, industry language)


@dataclass
class CatalogueIndex:
    """What later phases need to know about the catalogue, by title position (0..T-1)."""

    title_ids: list[int]
    names: list[str]
    languages: list[str]
    language_index: np.ndarray  # (T,) int16 into LANGUAGE_CODES
    genres: list[tuple[str, ...]]
    genre_matrix: np.ndarray  # (T, G) float32; each row sums to 1 over the title's genres
    maturity: np.ndarray  # (T,) int16
    is_kids: list[bool]
    is_series: list[bool]
    popularity: np.ndarray  # (T,) float32, log-popularity centred on 0
    release_ts: np.ndarray  # (T,) float64, epoch seconds
    critic: np.ndarray  # (T,) int16, -1 when unknown
    runtime: list[int]
    # Per title: seasons -> [(episode id, runtime minutes)], empty for films.
    episodes: list[list[list[tuple[int, int]]]]
    season_release_ts: list[list[float]]  # per title, per season
    # Region -> (available from, available until) epoch seconds per title, for the
    # window that is current during the history; +inf "from" means never.
    availability: dict[str, tuple[np.ndarray, np.ndarray]]


# --- Planning --------------------------------------------------------------------------


def _weighted(rnd: random.Random, weights: Mapping[str, float]) -> str:
    return rnd.choices(list(weights), weights=list(weights.values()))[0]


def _pick_genres(rnd: random.Random, language: str, kids: bool) -> tuple[str, ...]:
    if kids:
        first = rnd.choice(("animation", "animation", "family"))
        second = rnd.choice(("family", "comedy", "fantasy", "musical"))
        return (first,) if second == first else (first, second)
    bias = LANGUAGE_GENRE_BIAS.get(language, {})
    weights = {g: GENRE_BASE_SHARE[g] * bias.get(g, 1.0) for g in GENRES}
    if language != "ja":
        weights["animation"] *= 0.3  # adult animation is mostly anime
    first = _weighted(rnd, weights)
    chosen = [first]
    count = rnd.choices((1, 2, 3), weights=(0.3, 0.5, 0.2))[0]
    companions = [g for g in GENRE_COMPANIONS[first] if g not in ("family", "animation")]
    while len(chosen) < count and companions:
        g = rnd.choice(companions)
        companions.remove(g)
        chosen.append(g)
    return tuple(chosen)


def _maturity(rnd: random.Random, genres: tuple[str, ...], kids: bool) -> int:
    if kids:
        return rnd.choice((MaturityLevel.ALL, MaturityLevel.ALL, MaturityLevel.SEVEN))
    first = genres[0]
    if first == "horror":
        options = (MaturityLevel.SIXTEEN, MaturityLevel.EIGHTEEN)
    elif first in ("crime", "thriller"):
        options = (MaturityLevel.SIXTEEN,) * 4 + (MaturityLevel.EIGHTEEN, MaturityLevel.THIRTEEN)
    elif first in ("action", "sci-fi", "fantasy", "mystery"):
        options = (MaturityLevel.THIRTEEN, MaturityLevel.THIRTEEN, MaturityLevel.SIXTEEN)
    elif first in ("documentary", "sports", "history"):
        options = (MaturityLevel.SEVEN, MaturityLevel.THIRTEEN)
    elif first == "family":
        options = (MaturityLevel.ALL, MaturityLevel.SEVEN)
    else:
        options = (MaturityLevel.THIRTEEN,) * 3 + (MaturityLevel.SEVEN, MaturityLevel.SIXTEEN)
    return int(rnd.choice(options))


def _pick_word(rnd: random.Random, words: tuple[Word, ...], mood: str, kids: bool) -> Word:
    weights = []
    for w in words:
        if kids and w.mood == "dark":
            weights.append(0.0)
        else:
            weights.append(4.0 if w.mood == mood else 1.0)
    return rnd.choices(words, weights=weights)[0]


def _render_name(
    shape: str, lang: str, n: Word, m: Word, a: Word, article: bool
) -> tuple[str, str]:
    """The (romanised, native) name of a title of this shape in ``lang``."""
    nr, nn = n.forms[lang]
    mr, mn = m.forms[lang]
    ar, an = a.forms[lang]
    if lang == "en":
        the = "The " if article else ""
        name = {"n": f"{the}{nr}", "an": f"{the}{ar} {nr}", "nm": f"{nr} of {mr}"}[shape]
        return name, name
    if shape == "n":
        return nr, nn
    if shape == "an":
        if lang in ("es", "pt"):
            return f"{nr} {ar}", f"{nn} {an}"
        if lang == "ja":
            return f"{ar} {nr}", f"{an}{nn}"
        return f"{ar} {nr}", f"{an} {nn}"
    # shape "nm": n of m
    if lang in ("es", "pt"):
        return f"{nr} de {mr}", f"{nn} de {mn}"
    if lang == "hi":
        ka, ka_native = ("ki", "की") if n.hi_feminine else ("ka", "का")
        return f"{mr} {ka} {nr}", f"{mn} {ka_native} {nn}"
    if lang == "ko":
        return f"{mr}-ui {nr}", f"{mn}의 {nn}"
    if lang == "ja":
        return f"{mr} no {nr}", f"{mn}の{nn}"
    return f"{mr} {nr}", f"{mn} {nn}"


def _people_pools(
    rng: np.random.Generator, counts: Counter
) -> tuple[list[tuple[str, str]], dict[str, np.ndarray]]:
    """People per film industry; pool size grows with the industry's output."""
    people: list[tuple[str, str]] = []
    pools: dict[str, np.ndarray] = {}
    for lang in LANGUAGE_CODES:
        size = max(12, int(counts.get(lang, 0) * 0.9) + 10)
        firsts, lasts = FIRST_NAMES[lang], LAST_NAMES[lang]
        combos = [(f, last) for f in firsts for last in lasts]
        order = rng.permutation(len(combos))
        start = len(people)
        for i in range(size):
            first, last = combos[int(order[i % len(combos)])]
            if i < len(combos):
                name = f"{first} {last}"
            else:
                name = f"{first} {chr(65 + (i // len(combos)) % 26)}. {last}"
            people.append((name, lang))
        pools[lang] = np.arange(start, start + size)
    return people, pools


def plan_catalogue(*, seed: int, n_titles: int, as_of: dt.datetime) -> CataloguePlan:
    """Plan ``n_titles`` titles: everything but database ids."""
    rng = np.random.default_rng([seed, STREAM_CATALOGUE])
    rnd = random.Random(int(rng.integers(2**63)))
    stories = random.Random(int(np.random.default_rng([seed, STREAM_STORIES]).integers(2**63)))
    today = as_of.date()

    languages = [a[0] for a in ANCHORS[:n_titles]]
    languages += rnd.choices(
        list(CATALOGUE_LANGUAGE_SHARE),
        weights=list(CATALOGUE_LANGUAGE_SHARE.values()),
        k=n_titles - len(languages),
    )
    people, pools = _people_pools(rng, Counter(languages))
    # Star power: a few people appear in many titles of their industry.
    star_weights = {lang: 1.0 / np.arange(1, len(p) + 1) ** 0.8 for lang, p in pools.items()}
    star_weights = {lang: w / w.sum() for lang, w in star_weights.items()}

    quality = rng.normal(0.0, 1.0, n_titles)
    seen_names: Counter = Counter()
    titles: list[TitlePlan] = []
    for i, lang in enumerate(languages):
        if i < len(ANCHORS):
            _, kind, genres, maturity, kids, days_ago = ANCHORS[i]
            release = today - dt.timedelta(days=days_ago)
        else:
            kids = rnd.random() < KIDS_SHARE
            genres = _pick_genres(rnd, lang, kids)
            series_p = SERIES_SHARE[lang] + (0.2 if genres[0] == "documentary" else 0.0)
            kind = "series" if rnd.random() < series_p else "film"
            maturity = _maturity(rnd, genres, kids)
            r = rnd.random()
            if r < NEW_RELEASE_SHARE:
                days_ago = rnd.randint(0, 29)
            elif r < NEW_RELEASE_SHARE + UPCOMING_SHARE:
                days_ago = -rnd.randint(3, 30)
            elif rnd.random() < 0.5:
                days_ago = rnd.randint(30, 1500)
            else:
                days_ago = rnd.randint(30, 15 * 365)
            release = today - dt.timedelta(days=days_ago)
        is_original = (i < len(ANCHORS) and i in (1, 2)) or rnd.random() < ORIGINAL_SHARE
        recency = max(0.0, 1.0 - days_ago / 365) if days_ago >= 0 else 0.5
        popularity = float(0.6 * quality[i] + rnd.gauss(0, 0.8) + 0.8 * recency)
        popularity += 0.6 if is_original else 0.0
        popularity += 1.5 if i < len(ANCHORS) else 0.0
        critic = None
        if rnd.random() < 0.7 or i < len(ANCHORS):
            critic = int(min(99, max(15, round(62 + 12 * quality[i] + rnd.gauss(0, 8)))))

        # Names: one concept rendered in every language, numbered like sequels on reuse.
        mood = "warm" if kids else MOOD_OF_GENRE.get(genres[0], "neutral")
        shape = rnd.choices([s for s, _ in TITLE_SHAPES], weights=[w for _, w in TITLE_SHAPES])[0]
        n = _pick_word(rnd, NOUNS, mood, kids)
        m = _pick_word(rnd, NOUNS, mood, kids)
        while m is n:
            m = _pick_word(rnd, NOUNS, mood, kids)
        a = _pick_word(rnd, ADJECTIVES, mood, kids)
        article = rnd.random() < 0.4
        rendered = {code: _render_name(shape, code, n, m, a, article) for code in LANGUAGE_CODES}
        original_name = rendered[lang][0]
        seen_names[(lang, original_name)] += 1
        sequel = seen_names[(lang, original_name)]
        suffix = f" {sequel}" if sequel > 1 else ""
        original_name += suffix

        # Licences: the language's natural regions, everywhere for originals and hits.
        region_p = dict(LANGUAGE_REGIONS[lang])
        is_global = is_original or popularity > 2.2
        regions = [r.code for r in REGIONS if is_global or rnd.random() < region_p.get(r.code, 0.0)]
        if not regions:
            regions = [max(region_p, key=region_p.__getitem__)]
        if i < len(ANCHORS) and "IN" not in regions:
            regions.insert(0, "IN")
        availability = _availability(rnd, regions, release, as_of, anchored=i < len(ANCHORS))

        local_langs = {lang, "en"}
        for region in regions:
            local_langs.add(REGION_BY_CODE[region].default_language)
            if region == "US" and rnd.random() < 0.3:
                local_langs.add("es")
        names = {code: rendered[code][1] + suffix for code in sorted(local_langs)}
        story = story_draw(stories, language=lang, genre=genres[0], kids=kids)
        synopses = {code: story.synopsis(code) for code in names if code in SYNOPSIS_LANGUAGES}
        audio = [lang]
        if lang in INDIAN and rnd.random() < 0.5:
            audio += [c for c in INDIAN if c != lang and rnd.random() < 0.6]
        if lang != "en" and rnd.random() < 0.35:
            audio.append("en")
        subtitles = sorted(local_langs | {"en"})

        tags = _pick_tags(rnd, genres, lang)
        if kind == "film" and kids:
            runtime = rnd.randint(70, 100)
        elif kind == "film":
            runtime = rnd.randint(125, 175) if lang in INDIAN else rnd.randint(85, 140)
        elif kids:
            runtime = rnd.randint(11, 22)
        else:
            runtime = {"ja": 24, "ko": 65}.get(lang) or rnd.randint(28, 55)
        plan = TitlePlan(
            index=i,
            kind=kind,
            language=lang,
            genres=tuple(genres),
            tags=tags,
            maturity=int(maturity),
            is_kids=kids,
            release_date=release,
            runtime=runtime,
            critic_score=critic,
            is_original=is_original,
            popularity=popularity,
            names=names,
            original_name=original_name,
            synopses=synopses,
            audio=tuple(dict.fromkeys(audio)),
            subtitles=tuple(subtitles),
            availability=availability,
        )
        if kind == "series":
            plan.seasons = _seasons(rnd, release, today, runtime, lang, n, m, a, kids=kids)
        plan.credits = _credits(rng, rnd, lang, kind, pools, star_weights)
        titles.append(plan)

    pops = np.array([t.popularity for t in titles])
    centre = float(pops.mean()) if len(pops) else 0.0
    for t in titles:
        t.popularity -= centre
    return CataloguePlan(titles=titles, people=people)


def _pick_tags(rnd: random.Random, genres: tuple[str, ...], lang: str) -> tuple[str, ...]:
    pool = [tag for g in genres for tag in GENRE_TAGS[g]]
    pool += list(LANGUAGE_TAGS.get(lang, ())) * 2
    count = rnd.choices((0, 1, 2, 3), weights=(0.1, 0.35, 0.35, 0.2))[0]
    return tuple(sorted({rnd.choice(pool) for _ in range(count)}))


def _availability(
    rnd: random.Random,
    regions: list[str],
    release: dt.date,
    as_of: dt.datetime,
    *,
    anchored: bool,
) -> list[tuple[str, dt.datetime | None, dt.datetime | None]]:
    """Licence windows: mostly open, some ended, some starting later, some renewed."""
    released_at = dt.datetime.combine(release, dt.time(), tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    windows = []
    for region in regions:
        r = 0.0 if anchored else rnd.random()
        if released_at > as_of - 60 * day:
            # Recent and upcoming titles open on their release day.
            windows.append((region, released_at, None))
        elif r < 0.78:
            windows.append((region, released_at if rnd.random() < 0.5 else None, None))
        elif r < 0.86:
            ends = as_of - rnd.randint(1, 120) * day
            starts = max(released_at, ends - rnd.randint(200, 1500) * day)
            windows.append((region, starts if starts < ends else None, ends))
        elif r < 0.92:
            windows.append((region, as_of + rnd.randint(3, 60) * day, None))
        elif r < 0.96:
            windows.append((region, None, as_of + rnd.randint(3, 30) * day))
        else:
            first_end = as_of - rnd.randint(300, 600) * day
            if released_at < first_end:
                windows.append((region, released_at, first_end))
            windows.append((region, as_of - rnd.randint(70, 200) * day, None))
    return windows


def _seasons(
    rnd: random.Random,
    release: dt.date,
    today: dt.date,
    runtime: int,
    lang: str,
    *words: Word,
    kids: bool = False,
) -> list[tuple[dt.date, list[tuple[str, int]]]]:
    most = max(1, min(4, (today - release).days // 365 + 1))
    count = min(most, rnd.choices((1, 2, 3, 4), weights=(0.45, 0.3, 0.15, 0.1))[0])
    seasons = []
    for s in range(count):
        episodes = []
        taken: set[str] = set()
        for _ in range(rnd.randint(6, 10)):
            word = rnd.choice(words) if rnd.random() < 0.5 else rnd.choice(NOUNS)
            name = _episode_name(word.forms[lang][0], lang, taken, kids=kids)
            taken.add(name)
            episodes.append((name, max(5, runtime + rnd.randint(-5, 5))))
        seasons.append((release + dt.timedelta(days=365 * s), episodes))
    return seasons


def _episode_name(drawn: str, lang: str, taken: set[str], *, kids: bool) -> str:
    """``drawn``, or the first noun after it not yet a name in its season (none dark for kids).

    A title page listed "Sitara", "Baarish", "Sitara", "Sitara". The substitute is
    found without a random draw, so every later draw, and the demo built from
    them, is what it was.
    """
    if drawn not in taken:
        return drawn
    names = [noun.forms[lang][0] for noun in NOUNS if not (kids and noun.mood == "dark")]
    start = names.index(drawn) + 1 if drawn in names else 0
    for name in names[start:] + names[:start]:
        if name not in taken:
            return name
    return drawn  # a season longer than the nouns: cannot happen at 6-10 episodes


def _credits(
    rng: np.random.Generator,
    rnd: random.Random,
    lang: str,
    kind: str,
    pools: dict[str, np.ndarray],
    star_weights: dict[str, np.ndarray],
) -> list[tuple[int, str, str, int]]:
    pool, weights = pools[lang], star_weights[lang]
    n_actors = min(len(pool), rnd.randint(3, 6))
    actors = pool[rng.choice(len(pool), size=n_actors, replace=False, p=weights)].tolist()
    if lang in INDIAN and rnd.random() < 0.1:
        # Pan-Indian casting: a star from a neighbouring industry.
        other = rnd.choice([c for c in INDIAN if c != lang])
        guest = int(pools[other][int(rng.choice(len(pools[other]), p=star_weights[other]))])
        actors[-1] = guest
    firsts = FIRST_NAMES[lang]
    credits, cast = [], set()
    for k, p in enumerate(actors):
        character = _character_name(rnd.choice(firsts), firsts, cast)
        cast.add(character)
        credits.append((int(p), "actor", character, k))
    crew = pool[rng.choice(len(pool), size=min(len(pool), 3), replace=False)].tolist()
    credits.append((int(crew[0]), "director", "", 0))
    if rnd.random() < 0.6:
        credits.append((int(crew[1]), "writer", "", 0))
    if kind == "series":
        credits.append((int(crew[2]), "creator", "", 0))
    return credits


# --- Writing ---------------------------------------------------------------------------


def write_catalogue(
    plan: CataloguePlan, *, ref: ReferenceIds, as_of: dt.datetime, progress: Progress
) -> CatalogueIndex:
    """Insert the planned catalogue; the caller holds the transaction."""
    titles = plan.titles
    with progress("Catalogue: people", len(plan.people), "people") as advance:
        person_ids = insert_rows(
            Person,
            ("name", "external_id"),
            [(name, f"{DEMO_PREFIX}n{i}") for i, (name, _) in enumerate(plan.people)],
            return_ids=True,
            advance=advance,
        )

    with progress("Catalogue: titles", len(titles), "titles") as advance:
        title_ids = insert_rows(
            Title,
            (
                "kind",
                "original_name",
                "synopsis",
                "original_language_id",
                "release_date",
                "runtime_minutes",
                "maturity",
                "critic_score",
                "is_original",
                "external_id",
            ),
            [
                (
                    t.kind,
                    t.original_name,
                    t.synopses.get(t.language) or t.synopses.get("en", ""),
                    t.language,
                    t.release_date,
                    t.runtime,
                    t.maturity,
                    t.critic_score,
                    t.is_original,
                    f"{DEMO_PREFIX}t{t.index}",
                )
                for t in titles
            ],
            return_ids=True,
            advance=advance,
        )

    links = (
        (Title.genres.through, "genre_id", [(t, ref.genres[g]) for t in titles for g in t.genres]),
        (Title.tags.through, "tag_id", [(t, ref.tags[g]) for t in titles for g in t.tags]),
        (Title.audio_languages.through, "language_id", [(t, c) for t in titles for c in t.audio]),
        (
            Title.subtitle_languages.through,
            "language_id",
            [(t, c) for t in titles for c in t.subtitles],
        ),
    )
    total = sum(len(pairs) for _, _, pairs in links)
    with progress("Catalogue: genres, tags, languages", total, "rows") as advance:
        for through, column, pairs in links:
            rows = [(title_ids[t.index], value) for t, value in pairs]
            insert_rows(through, ("title_id", column), rows, advance=advance)

    season_rows, season_keys = [], []
    for t in titles:
        for number, (release, _) in enumerate(t.seasons, start=1):
            season_rows.append((title_ids[t.index], number, f"Season {number}", release))
            season_keys.append((t.index, number - 1))
    episodes: list[list[list[tuple[int, int]]]] = [[] for _ in titles]
    with progress("Catalogue: seasons and episodes", len(season_rows), "seasons") as advance:
        season_ids = insert_rows(
            Season, ("title_id", "number", "name", "release_date"), season_rows, return_ids=True
        )
        episode_rows, episode_keys = [], []
        for season_id, (t_index, s_index) in zip(season_ids, season_keys, strict=True):
            for number, (name, runtime) in enumerate(titles[t_index].seasons[s_index][1], 1):
                episode_rows.append((season_id, number, name, runtime))
                episode_keys.append((t_index, s_index, runtime))
        episode_ids = insert_rows(
            Episode,
            ("season_id", "number", "name", "runtime_minutes"),
            episode_rows,
            return_ids=True,
        )
        for episode_id, (t_index, s_index, runtime) in zip(episode_ids, episode_keys, strict=True):
            seasons = episodes[t_index]
            while len(seasons) <= s_index:
                seasons.append([])
            seasons[s_index].append((episode_id, runtime))
        advance(len(season_rows))

    credit_rows = [
        (title_ids[t.index], person_ids[p], role, character, order)
        for t in titles
        for p, role, character, order in _unique_credits(t.credits)
    ]
    localization_rows = [
        (title_ids[t.index], code, name, t.synopses.get(code, ""))
        for t in titles
        for code, name in t.names.items()
    ]
    availability_rows = [
        (title_ids[t.index], region, s, e) for t in titles for region, s, e in t.availability
    ]
    total = len(credit_rows) + len(localization_rows) + len(availability_rows)
    with progress("Catalogue: credits, names, licences", total, "rows") as advance:
        insert_rows(
            Credit,
            ("title_id", "person_id", "role", "character", "order"),
            credit_rows,
            advance=advance,
        )
        insert_rows(
            TitleLocalization,
            ("title_id", "language_id", "name", "synopsis"),
            localization_rows,
            advance=advance,
        )
        insert_rows(
            Availability,
            ("title_id", "region_id", "starts_at", "ends_at"),
            availability_rows,
            advance=advance,
        )

    return _index(plan, title_ids, episodes, as_of)


def _character_name(drawn: str, firsts: tuple[str, ...], cast: set[str]) -> str:
    """``drawn``, or the first name after it no other character of the title has.

    A title's credits had two actors as "Revathi" (229 of the demo's 600 titles). The
    substitute is found without a random draw, as an episode's name is
    (:func:`_episode_name`), so every later draw, and the demo built from them, is what
    it was.
    """
    if drawn not in cast:
        return drawn
    start = firsts.index(drawn) + 1
    for name in firsts[start:] + firsts[:start]:
        if name not in cast:
            return name
    return drawn  # more actors than names: cannot happen at 3-6 of 14 or more


def _unique_credits(credits: list[tuple[int, str, str, int]]) -> list[tuple[int, str, str, int]]:
    seen, unique = set(), []
    for credit in credits:
        key = (credit[0], credit[1])
        if key not in seen:
            seen.add(key)
            unique.append(credit)
    return unique


def _index(
    plan: CataloguePlan,
    title_ids: list[int],
    episodes: list[list[list[tuple[int, int]]]],
    as_of: dt.datetime,
) -> CatalogueIndex:
    titles = plan.titles
    n = len(titles)
    genre_pos = {g: k for k, g in enumerate(GENRES)}
    lang_pos = {c: k for k, c in enumerate(LANGUAGE_CODES)}
    genre_matrix = np.zeros((n, len(GENRES)), dtype=np.float32)
    for t in titles:
        for g in t.genres:
            genre_matrix[t.index, genre_pos[g]] = 1.0 / len(t.genres)
    release_ts = np.array(
        [dt.datetime.combine(t.release_date, dt.time(), tzinfo=dt.UTC).timestamp() for t in titles]
    )
    availability = {}
    for region in REGION_BY_CODE:
        start = np.full(n, math.inf)
        end = np.full(n, math.inf)
        availability[region] = (start, end)
    horizon = as_of.timestamp()
    for t in titles:
        # The latest window that has started by the end of the history is the one
        # that governs it; earlier (lapsed) windows ended before the history began.
        for region, s, e in sorted(
            t.availability, key=lambda w: w[1] or dt.datetime.min.replace(tzinfo=dt.UTC)
        ):
            s_ts = s.timestamp() if s else -math.inf
            if s_ts >= horizon:
                continue
            start, end = availability[region]
            start[t.index] = max(s_ts, release_ts[t.index])
            end[t.index] = e.timestamp() if e else math.inf
    return CatalogueIndex(
        title_ids=title_ids,
        names=[t.original_name for t in titles],
        languages=[t.language for t in titles],
        language_index=np.array([lang_pos[t.language] for t in titles], dtype=np.int16),
        genres=[t.genres for t in titles],
        genre_matrix=genre_matrix,
        maturity=np.array([t.maturity for t in titles], dtype=np.int16),
        is_kids=[t.is_kids for t in titles],
        is_series=[t.kind == "series" for t in titles],
        popularity=np.array([t.popularity for t in titles], dtype=np.float32),
        release_ts=release_ts,
        critic=np.array(
            [-1 if t.critic_score is None else t.critic_score for t in titles], dtype=np.int16
        ),
        runtime=[t.runtime for t in titles],
        episodes=episodes,
        season_release_ts=[
            [
                dt.datetime.combine(release, dt.time(), tzinfo=dt.UTC).timestamp()
                for release, _ in t.seasons
            ]
            for t in titles
        ],
        availability=availability,
    )
