"""A small catalogue and audience for homepage tests: genres, languages, fans, artwork."""

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from catalog.models import MaturityLevel
from tests.factories import (
    AccountFactory,
    AvailabilityFactory,
    CreditFactory,
    GenreFactory,
    LanguageFactory,
    PersonFactory,
    ProfileFactory,
    RegionFactory,
    TagFactory,
    TitleFactory,
)
from tests.recommendations.test_training import watch

NOW = timezone.now()
GENRES = ("action", "romance", "comedy", "drama")
FILMS_PER_GENRE = 8


@dataclass
class HomeWorld:
    region: object
    english: object
    hindi: object
    titles: dict[str, list] = field(default_factory=dict)
    fans: list = field(default_factory=list)

    def all_titles(self) -> list:
        return [t for films in self.titles.values() for t in films]


def build_home_world(*, with_fans: bool = True) -> HomeWorld:
    """Four genres of eight films; the even films are in Hindi, some acclaimed, two recent.

    Two fans per genre watched its films, so CF, content and trending have structure.
    """
    region = RegionFactory()
    english = LanguageFactory()
    hindi = LanguageFactory(code="hi", name="Hindi", native_name="हिन्दी")
    world = HomeWorld(region=region, english=english, hindi=hindi)
    for genre_slug in GENRES:
        genre = GenreFactory(slug=genre_slug, name=genre_slug.title())
        tag = TagFactory(slug=f"{genre_slug}-tag")
        director = PersonFactory(name=f"{genre_slug} director")
        films = []
        for i in range(FILMS_PER_GENRE):
            title = TitleFactory(
                original_name=f"{genre_slug} {i}",
                original_language=hindi if i % 2 == 0 else english,
                critic_score=90 if i in (1, 2) else 50,
                release_date=(NOW - dt.timedelta(days=10)).date()
                if i >= 6
                else dt.date(2019, 1, 1),
                maturity=MaturityLevel.ALL,
            )
            title.genres.add(genre)
            title.tags.add(tag)
            CreditFactory(title=title, person=director, role="director")
            AvailabilityFactory(title=title, region=region, starts_at=NOW - dt.timedelta(days=3650))
            films.append(title)
        world.titles[genre_slug] = films
    if with_fans:
        for genre_slug in GENRES:
            for n in range(2):
                fan = ProfileFactory(account=AccountFactory(home_region=region), name=f"fan {n}")
                for i, title in enumerate(world.titles[genre_slug][:6]):
                    watch(fan, title, days_ago=2 + i + n)
                world.fans.append(fan)
    return world
