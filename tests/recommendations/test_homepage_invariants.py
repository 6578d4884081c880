"""Every page of a small trained demo keeps the homepage's promises, checked title by title.

The other homepage tests each build the one profile a rule is about; this one
builds the page of every profile of a seeded demo (adults, Kids, six display
languages, five regions) on every device at two moments, through the code the
API and the console use, and checks what a client may rely on: the first
screen repeats no title, a row below it shows at least one title no row above
it does, every title may be shown to this profile here and
now, its artwork fits the device and the limit, the rows' words are in the
profile's language, and each row's reason is true of its titles. A rule the
targeted tests miss in a combination they do not build shows here.
"""

import datetime as dt
from collections import defaultdict

import pytest
from django.core.management import call_command
from django.utils import timezone

from artwork.models import ArtworkVariant
from catalog.models import Episode, Season, Title, TitleLocalization
from console.moments import local_moment, region_zone
from profiles.models import Profile
from recommendations.engine.ranking import DEVICE_CLASSES
from recommendations.engine.row_ranking import ROW_TYPES
from recommendations.models import ProfileTitleState
from recommendations.selectors.title_viewing import ResumePoint, resume_point
from recommendations.serving.homepage import (
    ACCLAIMED_MIN_SCORE,
    FIRST_SCREEN_ROWS,
    NEW_RELEASE_DAYS,
    NEW_RELEASE_MAX_AGE_DAYS,
    SEED_MIN_EPISODES,
    SEED_MIN_PROGRESS,
    Page,
    _row_minimum,
    homepage_build,
)
from recommendations.serving.scoring import MATCH_SHOWN_MIN
from regions.models import Availability
from tests.module_world import module_world, the_module_world

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

N_ROWS, N_ITEMS = 12, 20
#: Tuesday morning and Friday night, local time: the row ranker's context differs.
MOMENTS = ((1, 8), (4, 21))
#: Rows of the profile's own titles; every other row is of titles to discover.
_OWN_TITLES_ROWS = frozenset({"continue_watching", "watch_again"})


def _build() -> None:
    call_command(
        "seed_demo",
        "--titles=120",
        "--profiles=60",
        "--seed=5",
        "--artwork-images=shared",
        verbosity=0,
    )
    call_command("train_models", verbosity=0)


_demo = module_world(_build, folder="invariants")


@pytest.fixture
def demo(_demo, settings) -> None:
    the_module_world(settings, _demo)


class _Catalogue:
    """What the checks compare pages against, read once with plain queries."""

    def __init__(self) -> None:
        self.titles = {t["id"]: t for t in Title.objects.values()}
        self.genres: dict[int, set[int]] = defaultdict(set)
        for title, genre in Title.genres.through.objects.values_list("title_id", "genre_id"):
            self.genres[title].add(genre)
        self.names = {
            (language, title): name
            for language, title, name in TitleLocalization.objects.values_list(
                "language_id", "title_id", "name"
            )
            if name
        }
        self.windows: dict[tuple[str, int], list] = defaultdict(list)
        for region, title, starts, ends in Availability.objects.values_list(
            "region_id", "title_id", "starts_at", "ends_at"
        ):
            self.windows[(region, title)].append((starts, ends))
        self.variants = {v["id"]: v for v in ArtworkVariant.objects.values()}
        self.states = {(s.profile_id, s.title_id): s for s in ProfileTitleState.objects.all()}
        self.seasons: dict[int, list[dt.date | None]] = defaultdict(list)
        for title, release in (
            Season.objects.filter(episodes__isnull=False)
            .distinct()
            .values_list("title_id", "release_date")
        ):
            self.seasons[title].append(release)
        self.episodes: dict[int, list[Episode]] = defaultdict(list)
        for episode in Episode.objects.select_related("season").order_by(
            "season__title_id", "season__number", "number"
        ):
            self.episodes[episode.season.title_id].append(episode)
        #: Continue Watching series tiles checked, and those of them not on the last played.
        self.series_resumes_checked = self.series_moved_on = 0

    def resume(self, state: ProfileTitleState, title: int, at: dt.datetime) -> ResumePoint | None:
        """Where title detail's rule (:func:`resume_point`) starts ``title`` at ``at``."""
        point = resume_point(
            state,
            kind=self.titles[title]["kind"],
            episodes=self.episodes[title],
            today=at.astimezone(dt.UTC).date(),
        )
        if point is not None and point.episode_id is not None:
            self.series_resumes_checked += 1
            self.series_moved_on += point.episode_id != state.last_episode_id
        return point

    def name(self, language: str | None, title: int) -> str:
        return self.names.get((language, title)) or self.titles[title]["original_name"]

    def season_out_since(self, title: int, since: dt.datetime, at: dt.datetime) -> bool:
        """Whether the title's newest season out at ``at`` came out at ``since`` or later."""
        out = [
            dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)
            for d in self.seasons[title]
            if d is not None
        ]
        out = [moment for moment in out if moment <= at]
        return bool(out) and max(out) >= since

    def available(self, region: str, title: int, at: dt.datetime) -> bool:
        return any(
            (starts is None or starts <= at) and (ends is None or at < ends)
            for starts, ends in self.windows[(region, title)]
        )

    def arrival(self, region: str, title: int) -> dt.datetime:
        """The later of the release and the first window's start, as serving counts it."""
        starts = [
            s or dt.datetime.min.replace(tzinfo=dt.UTC) for s, _ in self.windows[(region, title)]
        ]
        release = self.titles[title]["release_date"]
        return max(
            min(starts), dt.datetime(release.year, release.month, release.day, tzinfo=dt.UTC)
        )


def _page_faults(page: Page, profile: Profile, at: dt.datetime, device: str, known: _Catalogue):
    """Each broken promise of ``page`` as ``(check, detail)``."""
    region, language, limit = (
        profile.account.home_region_id,
        profile.display_language_id,
        profile.maturity_limit,
    )
    ids = [row.id for row in page.rows]
    if len(set(ids)) != len(ids):
        yield "row ids repeat", ids
    if len(page.rows) > N_ROWS:
        yield "too many rows", ids
    first_screen = [i.title_id for row in page.rows[:FIRST_SCREEN_ROWS] for i in row.items]
    if len(set(first_screen)) != len(first_screen):
        yield "a title twice in the first screen", ids[:FIRST_SCREEN_ROWS]
    above = set(first_screen)
    for row in page.rows[FIRST_SCREEN_ROWS:]:
        titles = {item.title_id for item in row.items}
        if titles <= above:
            yield "a row below the first screen with nothing new", row.id
        above |= titles
    for row in page.rows:
        titles = [item.title_id for item in row.items]
        if not _row_minimum(row.type, N_ITEMS) <= len(titles) <= N_ITEMS:
            yield "row length", (row.id, len(titles))
        if len(set(titles)) != len(titles):
            yield "a title twice in a row", row.id
        if "%(" in row.title + row.reason or not row.title or not row.reason:
            yield "row copy unfinished", (row.title, row.reason)
        if row.type in ("because_you_watched", "because_you_liked"):
            seed = int(row.id.split(":", 1)[1])
            state = known.states.get((profile.pk, seed))
            if known.name(language, seed) not in row.title:
                yield "seed not named as its items are", (row.title, known.name(language, seed))
            if known.titles[seed]["maturity"] > limit or not known.available(region, seed, at):
                yield "seed the profile may not see", row.id
            if state is not None and state.thumbs == ProfileTitleState.Thumbs.DOWN:
                yield "seed the profile dislikes", row.id
            if seed in titles:
                yield "seed in its own row", row.id
        if row.type == "because_you_watched":
            # "...which you watched recently": finished, several episodes, most of a film.
            is_series = known.titles[seed]["kind"] == Title.Kind.SERIES
            if state is None or not (
                state.completed_at is not None
                or (is_series and len(state.completed_episodes) >= SEED_MIN_EPISODES)
                or (not is_series and (state.progress or 0) >= SEED_MIN_PROGRESS)
            ):
                yield "seed the profile did not watch", row.id
        for item in row.items:
            yield from _item_faults(item, row, profile, at, device, known)


def _item_faults(item, row, profile, at, device, known):
    region, limit = profile.account.home_region_id, profile.maturity_limit
    title = known.titles[item.title_id]
    state = known.states.get((profile.pk, item.title_id))
    finished = state is not None and state.completed_at is not None
    where = (row.id, item.title_id)
    if title["maturity"] > limit:
        yield "title above the maturity limit", where
    if not known.available(region, item.title_id, at):
        yield "title not available in the region", where
    if item.name != known.name(profile.display_language_id, item.title_id):
        yield "title name not in the display language", where
    if item.variant_id is not None:
        variant = known.variants[item.variant_id]
        if variant["title_id"] != item.title_id or not variant["is_active"]:
            yield "artwork not the title's active artwork", where
        if not variant[f"for_{device}"]:
            yield "artwork not for the device", where
        if variant["maturity"] > limit:
            yield "artwork above the maturity limit", where
    if not 0 < item.propensity <= 1:
        yield "artwork propensity", where
    if item.match is not None and not MATCH_SHOWN_MIN <= item.match <= 99:
        yield "match out of range", (where, item.match)
    if (item.progress is not None) != (row.type == "continue_watching"):
        yield "progress outside Continue Watching, or none in it", (where, item.progress)
    if row.type == "continue_watching" and state is None:
        yield "Continue Watching a title never played", where
    if (item.resume is not None) != (row.type == "continue_watching"):
        yield "resume outside Continue Watching, or none in it", (where, item.resume)
    if item.resume is not None and state is not None:
        expected = known.resume(state, item.title_id, at)
        if item.resume != expected:
            yield "resume not where title detail resumes", (where, item.resume, expected)
        if item.resume.progress != item.progress:
            yield "resume's progress not the tile's", (where, item.resume, item.progress)
    if row.type == "watch_again" and not finished:
        yield "Watch Again a title not finished", where
    if row.type not in _OWN_TITLES_ROWS and finished:
        yield "a finished title in a row to discover", where
    # New here and released lately, or a series with a season out lately.
    new_season = row.type == "new_releases" and known.season_out_since(
        item.title_id, at - dt.timedelta(days=NEW_RELEASE_DAYS), at
    )
    if (
        row.type == "new_releases"
        and not new_season
        and not (
            at - dt.timedelta(days=NEW_RELEASE_DAYS) <= known.arrival(region, item.title_id) <= at
        )
    ):
        yield "New Releases a title not new here", where
    if (
        row.type == "new_releases"
        and not new_season
        and title["release_date"] < (at - dt.timedelta(days=NEW_RELEASE_MAX_AGE_DAYS)).date()
    ):
        yield "New Releases a title released long ago", where
    if row.type == "critically_acclaimed" and (title["critic_score"] or 0) < ACCLAIMED_MIN_SCORE:
        yield "Critically Acclaimed below the score", where
    key = row.id.split(":", 1)[-1]
    if row.type == "genre" and int(key) not in known.genres[item.title_id]:
        yield "genre row holds a title of another genre", where
    if row.type == "language" and title["original_language_id"] != key:
        yield "language row holds a title in another language", where


@pytest.mark.usefixtures("demo")
def test_every_page_of_the_demo_keeps_the_homepages_promises():
    # given: a seeded, trained demo, and every profile of it
    known = _Catalogue()
    profiles = list(Profile.objects.select_related("account__home_region").order_by("pk"))
    now = timezone.now()

    # when: each profile's page on every device at each moment, as the console builds it
    faults: dict[str, list] = defaultdict(list)
    types: set[str] = set()
    kids_shown = 0
    for profile in profiles:
        zone = region_zone(profile.account.home_region)
        for weekday, hour in MOMENTS:
            at = local_moment(weekday=weekday, hour=hour, zone=zone, now=now)
            for device in DEVICE_CLASSES:
                page = homepage_build(
                    profile=profile, device=device, at=at, n_rows=N_ROWS, n_items=N_ITEMS
                )
                types.update(row.type for row in page.rows)
                if profile.is_kids:
                    kids_shown += sum(len(row.items) for row in page.rows)
                for check, detail in _page_faults(page, profile, at, device, known):
                    faults[check].append((profile.pk, device, at.isoformat(), detail))

    # then: no page broke a rule; and the pages were varied enough to say so (Kids and
    # adults, several display languages, most kinds of row; which few rows a ranker puts
    # below the twelfth may change)
    assert {check: cases[:3] for check, cases in faults.items()} == {}
    assert {p.is_kids for p in profiles} == {True, False}
    # the maturity checks had something to refuse: Kids pages with titles, in a catalogue
    # (titles and frames) that also holds what no Kids profile may see
    kids_limit = max(p.maturity_limit for p in profiles if p.is_kids)
    assert kids_shown > 0
    assert any(t["maturity"] > kids_limit for t in known.titles.values())
    assert any(v["maturity"] > kids_limit for v in known.variants.values())
    assert len({p.display_language_id for p in profiles}) >= 5
    assert len(types) >= len(ROW_TYPES) - 2
    # series tiles were checked, some resuming past the episode last played
    assert known.series_resumes_checked > 0
    assert known.series_moved_on > 0
