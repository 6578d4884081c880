"""Reads of a profile's signals, of the state derived from them, and of what a batch names."""

import datetime as dt
import functools
import itertools
from collections import defaultdict
from collections.abc import Collection, Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Greatest, Least, TruncDate
from django.utils import timezone

from artwork.models import ArtworkVariant
from catalog.models import Episode, MaturityLevel, Season, Title
from catalog.selectors import title_names
from config.db import RowReader
from config.ids import ID_MAX  # ids beyond a bigint name no row; left out of queries
from config.lookups import AnyOf
from profiles.models import Profile
from recommendations.models import PLAY_KINDS, ProfileTitleState, Signal, SignalKind
from regions.models import Availability

# Below this a title was sampled, not started; above it, finished in all but the credits.
CONTINUE_MIN_PROGRESS = 2.0
CONTINUE_MAX_PROGRESS = 95.0


def signal_clock_skew() -> dt.timedelta:
    """How far a client's clock may be off the server's, either way: one bound for every reader.

    ``TONIGHT["SIGNAL_MAX_FUTURE_SKEW_SECONDS"]`` (5 minutes by default, written once, in
    settings). Ingest accepts a stamp up to that far in the future; ingest, the fold and
    its refolds take an episode as out if it was released up to that far after a play's
    stamp; attribution believes a page a play names though the page was generated up to
    that far after the play's stamp. The last is the same bound the other way: a client
    learns a page's id only by receiving the page, so a play stamped before its page says
    the client's clock is behind, not that the page is not its origin (refused, a slow
    clock lost its quick plays to an earlier page the session rule found); further than
    the bound, the id is more likely wrong (stale, or copied) than the clock. One
    statement of the skew rather than several numbers to keep in step.
    """
    return dt.timedelta(seconds=float(settings.TONIGHT["SIGNAL_MAX_FUTURE_SKEW_SECONDS"]))


def signal_history(*, profile: Profile) -> QuerySet[Signal]:
    """The profile's signals, newest first, of titles and artwork within its maturity limit,
    each annotated ``available``: whether its title can be opened and played now.

    Ingest refuses what is above the limit, but a limit lowered since (a profile
    made kids) would otherwise list the ids of the mature titles and frames it
    played, and count them. Those rows are left out, as the title page answers
    404 and Continue Watching hides them; signals without a title (a row scrolled
    past) and of a variant since deleted stay.

    A title no longer licensed in the account's region stays: the history is the
    profile's own record. ``available`` tells a client which rows its Play button
    would fail on, by title detail's rule (licensed in the region now, within the
    limit; every title listed is within it, the others being left out): an
    ``EXISTS`` on the licence windows in the rows' own statement, not a read per
    row. None for a signal without a title.
    """
    now = timezone.now()
    licensed_now = Availability.objects.filter(
        Q(starts_at__isnull=True) | Q(starts_at__lte=now),
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        title_id=OuterRef("title_id"),
        region_id=profile.account.home_region_id,
    )
    history = Signal.objects.filter(profile=profile)
    if profile.maturity_limit < max(MaturityLevel.values):  # nothing rates above the top
        history = history.exclude(title__maturity__gt=profile.maturity_limit).exclude(
            artwork_variant__maturity__gt=profile.maturity_limit
        )
    return history.annotate(
        available=Case(
            When(title_id__isnull=True, then=Value(None)),
            default=Exists(licensed_now),
            output_field=BooleanField(),
        )
    ).order_by("-occurred_at", "-pk")


@dataclass(frozen=True)
class ContinueWatchingItem:
    title_id: int
    name: str
    kind: str
    progress: float
    last_played_at: object
    episode_id: int | None
    season_number: int | None
    episode_number: int | None
    #: Title detail's ``viewing.resume.new_episodes`` (:func:`resume_new_episodes`).
    new_episodes: bool = False


class _JSONArrayLength(Func):
    """The number of elements of a JSON array column."""

    function = "json_array_length"
    output_field = IntegerField()

    def as_postgresql(
        self, compiler: object, connection: object, **extra_context: object
    ) -> tuple[str, list]:
        return self.as_sql(compiler, connection, function="jsonb_array_length", **extra_context)


class _JSONArrayHolds(Func):
    """Whether a JSON array column holds a number column's value as an element."""

    output_field = BooleanField()

    def as_sql(self, compiler: Any, connection: Any, **extra_context: object) -> tuple[str, list]:
        array, element = (compiler.compile(e) for e in self.get_source_expressions())
        # Only the compiled SQL of the two expressions is interpolated; their params follow.
        sql = f"EXISTS (SELECT 1 FROM json_each({array[0]}) AS f WHERE f.value = {element[0]})"  # noqa: S608
        return sql, [*array[1], *element[1]]

    def as_postgresql(
        self, compiler: Any, connection: Any, **extra_context: object
    ) -> tuple[str, list]:
        # A JSON array contains a number it holds as an element (jsonb's @>).
        array, element = (compiler.compile(e) for e in self.get_source_expressions())
        return f"({array[0]} @> to_jsonb({element[0]}))", [*array[1], *element[1]]


class _MidnightUTC(Cast):
    """A date's midnight in UTC, the instant the homepage counts a season's release from.

    A plain cast of a date to ``timestamptz`` takes midnight in the session's time zone,
    which is UTC only while Django's ``SET TIME ZONE`` holds; a pooler in transaction
    mode does not keep it.
    """

    def __init__(self, expression: object) -> None:
        super().__init__(expression, DateTimeField())

    def as_postgresql(
        self, compiler: object, connection: object, **extra_context: object
    ) -> tuple[str, list]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(({sql})::timestamp AT TIME ZONE 'UTC')", params


def episode_is_out(episode: Episode, today: dt.date) -> bool:
    """Whether the episode's season is out: from its release date (UTC), or always without one."""
    release = episode.season.release_date
    return release is None or release <= today


def rewatching_under_way(state: ProfileTitleState) -> bool:
    """A finished title played again since its completion and stopped midway."""
    return (
        state.completed_at is not None
        and state.last_played_at is not None
        and state.last_played_at > state.completed_at
        and CONTINUE_MIN_PROGRESS <= state.progress <= CONTINUE_MAX_PROGRESS
    )


def last_episode_passed(state: ProfileTitleState) -> bool:
    """Whether the series' last episode played was left in its credits, unfinished.

    Beyond ``CONTINUE_MAX_PROGRESS`` a film is done with, not finished: Continue
    Watching leaves it, and Play starts it again from the start. An episode there is
    *passed* alike: Play goes on to the next one, as after a finished one, but while it
    is the last one played it is not finished (no tick, no completion of its season or
    series, no rewatch when played again). Once another episode is played after it,
    the fold finishes it (``title_states_fold``: the viewer saw it to its credits and
    moved on), so only the last episode played is ever passed.
    """
    return (
        state.last_episode_id is not None
        and state.progress > CONTINUE_MAX_PROGRESS
        and state.last_episode_id not in state.completed_episodes
    )


def finished_but_for_credits(
    *, last_passed: bool, finished: bool, episodes_done: int, released: Iterable[float], at: float
) -> bool:
    """Whether a series was finished, but for the credits of its last episode played.

    ``last_passed`` is :func:`last_episode_passed`; ``finished`` whether the state has
    its ``completed_at``; ``episodes_done`` how many episodes it finished, the passed one
    counted; ``released`` when each episode of the series is out (Unix seconds: midnight
    UTC of its season's release date, -inf without one); ``at`` the last play (Unix
    seconds). True when the last episode played was left in its credits and every other
    episode out then was finished: nothing was left, as after a `complete` of that
    episode, which would have finished the series. A season out since makes such a
    series as new as it makes a finished one (Continue Watching's order, the homepage's
    recency, ``new_episodes``); the passed episode itself stays unfinished until another
    is played (no tick, no completion). A passed episode with others out still unwatched
    was no finish: that series counts from its last play, as any series in progress.
    """
    if finished or not last_passed:
        return False
    return episodes_done >= sum(1 for release in released if release <= at)


def state_finished_but_for_credits(state: ProfileTitleState, episodes: Sequence[Episode]) -> bool:
    """:func:`finished_but_for_credits` of a series' state and its ``episodes`` (each with its
    season at hand)."""
    if state.last_played_at is None:
        return False
    return finished_but_for_credits(
        last_passed=last_episode_passed(state),
        finished=state.completed_at is not None,
        episodes_done=len(set(state.completed_episodes) | {state.last_episode_id}),
        released=[_release_moment(e.season.release_date) for e in episodes],
        at=state.last_played_at.timestamp(),
    )


def _release_moment(release: dt.date | None) -> float:
    """Unix seconds from which a season is out: midnight UTC of its release date."""
    if release is None:
        return -float("inf")
    return dt.datetime.combine(release, dt.time(), tzinfo=dt.UTC).timestamp()


def resume_index(
    episode_ids: Sequence[int],
    out: Sequence[bool],
    *,
    last_episode_id: int | None,
    finished: Container[int],
    rewatching: bool,
    last_passed: bool,
) -> int | None:
    """Where in a series' ``episode_ids`` (in order) to resume: the rule of :func:`resume_episode`.

    ``out[i]`` says whether episode ``i``'s season is out; ``finished`` holds the
    episodes the profile finished (it may hold others); ``rewatching`` whether a
    rewatch of the last episode played is under way (:func:`rewatching_under_way`);
    ``last_passed`` whether the last episode played, unfinished, was left in its
    credits (:func:`last_episode_passed`): Play goes on past it as past a finished
    one, and never comes back to it. Plain ids and flags, so that the homepage
    applies the rule to its in-memory episode lists without a model instance per
    episode.
    """
    last = next((i for i, pk in enumerate(episode_ids) if pk == last_episode_id), None)
    if last is not None and (rewatching or (last_episode_id not in finished and not last_passed)):
        return last
    passed = last if last_passed else None
    n = len(episode_ids)
    start = last + 1 if last is not None else 0
    for i in itertools.chain(range(start, n), range(n)):  # after the last played, then from 1
        if out[i] and i != passed and episode_ids[i] not in finished:
            return i
    return None


def resume_episode(
    state: ProfileTitleState, episodes: list[Episode], *, today: dt.date
) -> Episode | None:
    """The episode of a series to resume: the unfinished last one, or the next.

    A rewatch under way resumes the episode being rewatched. Otherwise the last
    episode played if it is unfinished and not left in its credits
    (:func:`last_episode_passed`, as a film there is not resumed), else the next
    episode not finished (nor passed) after the last one played, or after the series' last
    episode the first one left from the start: a profile that watched only a
    finale still has the series to watch, and one that finished the series before
    a new season came out resumes at that season's first episode. An episode of a
    season not out yet (``release_date`` after ``today``, UTC) is never next. None
    when nothing out is left. ``episodes`` are the series' own, in order, each with
    its season at hand (the title page has them prefetched; Continue Watching reads
    them for all its series at once). The rule itself is :func:`resume_index`'s,
    which the homepage's Continue Watching row applies too.
    """
    at = resume_index(
        [e.pk for e in episodes],
        [episode_is_out(e, today) for e in episodes],
        last_episode_id=state.last_episode_id,
        finished=set(state.completed_episodes),
        rewatching=rewatching_under_way(state),
        last_passed=last_episode_passed(state),
    )
    return None if at is None else episodes[at]


def episode_resume_progress(
    progress: float, *, episode_id: int, last_episode_id: int | None, any_finished: bool
) -> float:
    """How far into ``episode_id`` a series resumes: the rule of :func:`resume_progress`.

    ``progress`` is the state's (the last episode played's); ``any_finished`` whether
    the profile finished any episode of the series. Progress that names no episode is
    never resumed past the credits, as a named one is not (:func:`last_episode_passed`):
    it is a finished episode's 100% whose episode was deleted since (its id leaves the
    state, its progress stays), or a series' completion stored before ingest refused
    one naming no episode; resumed, it read "S1:E1 at 100%".
    """
    unnamed = last_episode_id is None and not any_finished
    if unnamed:
        return progress if progress <= CONTINUE_MAX_PROGRESS else 0.0
    return progress if episode_id == last_episode_id else 0.0


def resume_progress(state: ProfileTitleState, episode: Episode | None) -> float:
    """How far into the film (``episode`` None) or into ``episode`` playback resumes, in percent.

    A film resumes from where it stopped while it is midway (more than a sample, short
    of the credits) and not finished, or being rewatched; otherwise from the start.
    An episode resumes at the state's progress only if it is the last one played (or
    none was named and none finished: progress sent without an episode is the
    progress of where the series resumes, as the homepage shows it); a following
    episode starts at 0, never at a finished episode's 100%
    (:func:`episode_resume_progress`).
    """
    if episode is None:
        midway = CONTINUE_MIN_PROGRESS <= state.progress <= CONTINUE_MAX_PROGRESS
        resumable = (midway and state.completed_at is None) or rewatching_under_way(state)
        return state.progress if resumable else 0.0
    return episode_resume_progress(
        state.progress,
        episode_id=episode.pk,
        last_episode_id=state.last_episode_id,
        any_finished=bool(state.completed_episodes),
    )


def resume_new_episodes(
    state: ProfileTitleState, episode: Episode | None, episodes: Sequence[Episode]
) -> bool:
    """Whether Play starting ``episode`` of a series starts something new to the profile.

    The series was finished (or was but for a finale's credits,
    :func:`state_finished_but_for_credits`: a season out since is as new) and
    ``episode`` is one it has not finished. Not "no rewatch under way": a rewatched
    episode since deleted leaves the state's rewatch behind with nothing of it to
    resume, and an episode out since the series was finished, started and stopped
    midway, reads as a rewatch too. ``episodes`` are the series' own, each with its
    season at hand. Title detail and ``/continue-watching/`` read it so; the homepage's
    tiles by the same rule from its arrays (``serving.resume``).
    """
    return (
        episode is not None
        and (state.completed_at is not None or state_finished_but_for_credits(state, episodes))
        and episode.pk not in state.completed_episodes
    )


def _next_episodes(
    states: list[ProfileTitleState], *, today: dt.date
) -> tuple[dict[int, Episode], dict[int, list[Episode]]]:
    """For each series state, the episode to resume (:func:`resume_episode`), if any; and
    every series' episodes in order, as read for it."""
    series = [s for s in states if s.title.kind == Title.Kind.SERIES]
    if not series:
        return {}, {}
    episodes: dict[int, list[Episode]] = {}
    for episode in (
        Episode.objects.filter(season__title_id__in=[s.title_id for s in series])
        .select_related("season")
        .order_by("season__number", "number")
    ):
        episodes.setdefault(episode.season.title_id, []).append(episode)
    resume = {}
    for state in series:
        following = resume_episode(state, episodes.get(state.title_id, []), today=today)
        if following is not None:
            resume[state.title_id] = following
    return resume, episodes


# How many titles /continue-watching/ lists, the most recent: it has no pages.
CONTINUE_WATCHING_MAX = 40


def continue_watching(
    *, profile: Profile, limit: int = CONTINUE_WATCHING_MAX
) -> list[ContinueWatchingItem]:
    """Titles the profile started and has not finished, most recently played first.

    A finished title being resumed counts as played when its newest season out came out,
    if that is later: a series back for a new season is as recent as the season. So does
    a series finished but for the credits of its last episode played
    (:func:`finished_but_for_credits`).

    A series counts while it has an episode left to watch: fewer of its episodes
    finished than are out (a season counts from its release date), so a season
    announced is nothing left, and a season out since the series was finished (or
    added to the catalogue since) brings it back; and while :func:`resume_episode`
    finds one, so that the last episode out left in its credits, the others
    finished, is nothing left either (the query counts it among the finished ones,
    as the homepage does). A film counts while its progress
    is between a sample and the credits; a finished title again once played since
    and stopped midway (a rewatch). Thumbed-down titles never return.
    Like the homepage and title detail, only titles available in the account's
    region now and within the profile's maturity limit: a licence that ended,
    or a limit lowered since (a profile made kids), hides what was started.
    The homepage's Continue Watching row applies the same rule
    (:func:`recommendations.serving.recommend.history_on_index`), to the titles of its
    catalogue arrays: the serving version's and those added since its training, read
    with the arrays (every ``CATALOGUE_REFRESH_SECONDS``, and within a version check
    of a catalogue edit). A title added since their last read is listed here first.
    """
    now = timezone.now()
    today = now.date()  # UTC, as release dates are read everywhere
    midway = Q(progress__gte=CONTINUE_MIN_PROGRESS, progress__lte=CONTINUE_MAX_PROGRESS)
    replaying = Q(completed_at__isnull=False, last_played_at__gt=F("completed_at"))
    available_now = Availability.objects.filter(
        Q(starts_at__isnull=True) | Q(starts_at__lte=now),
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        title_id=OuterRef("title_id"),
        region_id=profile.account.home_region_id,
    )
    episodes_out = (
        Episode.objects.filter(
            Q(season__release_date__isnull=True) | Q(season__release_date__lte=today),
            season__title_id=OuterRef("title_id"),
        )
        .order_by()
        .values("season__title_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    # A finished series back for a season out since counts from that season's release, as
    # on the homepage (scoring.continue_watching_since): the newest season out, midnight UTC.
    newest_out = (
        Season.objects.filter(
            Q(release_date__isnull=True) | Q(release_date__lte=today),
            title_id=OuterRef("title_id"),
            episodes__isnull=False,
        )
        .order_by()
        .values("title_id")
        .annotate(newest=Max("release_date"))
        .values("newest")
    )
    # The episodes out at the last play: a series whose last episode played was left in its
    # credits with every other one out then finished was finished but for those credits
    # (finished_but_for_credits), and back for a season out since as a finished one is.
    last_play = ExpressionWrapper(OuterRef("last_played_at"), output_field=DateTimeField())
    episodes_out_then = (
        Episode.objects.filter(
            Q(season__release_date__isnull=True)
            | Q(season__release_date__lte=TruncDate(last_play, tzinfo=dt.UTC)),
            season__title_id=OuterRef("title_id"),
        )
        .order_by()
        .values("season__title_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    passed = Q(last_episode__isnull=False, progress__gt=CONTINUE_MAX_PROGRESS) & ~Q(
        _JSONArrayHolds("completed_episodes", "last_episode")
    )
    series = Q(title__kind=Title.Kind.SERIES)
    states = list(
        ProfileTitleState.objects.filter(
            Exists(available_now),
            profile=profile,
            last_played_at__isnull=False,
            title__maturity__lte=profile.maturity_limit,
        )
        .exclude(thumbs=ProfileTitleState.Thumbs.DOWN)
        .annotate(
            # The finished episodes, and the last one played if it was passed
            # (last_episode_passed), as the homepage counts them: a series whose only
            # episode left was passed is nothing left, here in the query, so that it
            # takes none of the places read below.
            episodes_finished=_JSONArrayLength("completed_episodes")
            + Case(
                When(passed, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
            episodes_out=Coalesce(Subquery(episodes_out), 0),
        )
        .filter(
            series & Q(episodes_finished__lt=F("episodes_out"))
            | midway & (replaying | Q(completed_at__isnull=True) & ~series)
        )
        .annotate(
            since=Case(
                When(
                    Q(completed_at__isnull=False)
                    | series
                    & passed
                    & Q(episodes_finished__gte=Coalesce(Subquery(episodes_out_then), 0)),
                    then=Greatest(
                        "last_played_at",
                        Coalesce(_MidnightUTC(Subquery(newest_out)), "last_played_at"),
                    ),
                ),
                default="last_played_at",
            )
        )
        .select_related("title")
        .order_by("-since", "-last_played_at")[: limit * 2]
    )
    resume, episodes = _next_episodes(states, today=today)
    states = [s for s in states if s.title.kind == Title.Kind.FILM or s.title_id in resume][:limit]
    display_language = profile.display_language_id
    names = title_names(title_ids=[s.title_id for s in states], language=display_language)
    items = []
    for state in states:
        episode = resume.get(state.title_id)
        items.append(
            ContinueWatchingItem(
                title_id=state.title_id,
                name=names[state.title_id],
                kind=state.title.kind,
                # The query keeps only films midway or being rewatched: their own progress.
                progress=resume_progress(state, episode),
                last_played_at=state.last_played_at,
                episode_id=episode.pk if episode else None,
                season_number=episode.season.number if episode else None,
                episode_number=episode.number if episode else None,
                new_episodes=resume_new_episodes(state, episode, episodes.get(state.title_id, ())),
            )
        )
    return items


Window = tuple[dt.datetime | None, dt.datetime | None]


@dataclass
class SignalReferences:
    """What a batch of signals names, read for the whole batch at once."""

    # title id -> (kind, maturity)
    titles: dict[int, tuple[str, int]] = field(default_factory=dict)
    # title id -> its licence windows in the account's region (none: never licensed there)
    windows: dict[int, list[Window]] = field(default_factory=lambda: defaultdict(list))
    # episode id -> (its title's id, that title's maturity)
    episode_titles: dict[int, tuple[int, int]] = field(default_factory=dict)
    # episode id -> its season's release date, for the episodes named whose season has one
    episode_releases: dict[int, dt.date] = field(default_factory=dict)
    # artwork variant id -> (title id, the higher of its maturity and its title's)
    variants: dict[int, tuple[int, int]] = field(default_factory=dict)
    # title id -> season id -> episode ids, for the titles asked for in ``season_titles``
    season_episodes: dict[int, dict[int, set[int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    # season id -> the moment it comes out (midnight UTC of its release date), for those
    # seasons that have one (none: out); a moment, as the fold compares it with event times
    season_releases: dict[int, dt.datetime] = field(default_factory=dict)


def _id_array(ids: Iterable[int]) -> str:
    """Ids as one PostgreSQL array literal: one text parameter instead of a list to adapt."""
    return "{" + ",".join(str(i) for i in ids if i <= ID_MAX) + "}"


_TAG_TITLE, _TAG_EPISODE, _TAG_VARIANT, _TAG_SEASON_EPISODE = range(4)
# Table names come from the models, values are parameters.
_REFERENCES_SQL = f"""
    SELECT {_TAG_TITLE}, t.id, t.kind, t.maturity, a.id, NULL::bigint, a.starts_at, a.ends_at
      FROM {Title._meta.db_table} t
      LEFT JOIN {Availability._meta.db_table} a ON a.title_id = t.id AND a.region_id = %s
     WHERE t.id = ANY(%s::bigint[] || ARRAY(
               SELECT s.title_id FROM {Episode._meta.db_table} e
                 JOIN {Season._meta.db_table} s ON s.id = e.season_id
                WHERE e.id = ANY(%s::bigint[])
           ) || ARRAY(
               SELECT v.title_id FROM {ArtworkVariant._meta.db_table} v
                WHERE v.id = ANY(%s::bigint[])
           ))
    UNION ALL
    SELECT {_TAG_EPISODE}, e.id, NULL, et.maturity, s.title_id,
           s.release_date - DATE '1970-01-01', NULL, NULL
      FROM {Episode._meta.db_table} e JOIN {Season._meta.db_table} s ON s.id = e.season_id
      JOIN {Title._meta.db_table} et ON et.id = s.title_id
     WHERE e.id = ANY(%s::bigint[])
    UNION ALL
    SELECT {_TAG_VARIANT}, v.id, NULL, GREATEST(v.maturity, vt.maturity), v.title_id,
           NULL, NULL, NULL
      FROM {ArtworkVariant._meta.db_table} v JOIN {Title._meta.db_table} vt ON vt.id = v.title_id
     WHERE v.id = ANY(%s::bigint[])
    UNION ALL
    SELECT {_TAG_SEASON_EPISODE}, e.id, NULL, s.release_date - DATE '1970-01-01', s.title_id,
           s.id, NULL, NULL
      FROM {Episode._meta.db_table} e JOIN {Season._meta.db_table} s ON s.id = e.season_id
     WHERE s.title_id = ANY(%s::bigint[])
"""  # noqa: S608
# Each row: (tag, id, kind, maturity, ref, season, starts_at, ends_at), where ``ref`` is the
# licence of a title row (NULL: none in the region) and the title of every other row. The
# titles of the named episodes and variants are read as the named titles are, with their
# licences: one of another title must read as absent when its title would (ingest's
# ``_reference_errors``), without a round trip that only an existing id would cost. An
# episode's maturity is its title's, a variant's the higher of its own and its title's: an
# episode or frame of a title above the limit must read as absent, not as another title's.
# A season's episode has its season's release date in the maturity column, as days since
# 1970-01-01 (NULL: no date, out); a named episode has it in the season column, so.
_EPOCH_DAY = dt.date(1970, 1, 1)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def signal_references_get(
    *,
    region_id: str,
    title_ids: Collection[int],
    episode_ids: Collection[int],
    variant_ids: Collection[int],
    season_titles: Collection[int],
) -> SignalReferences:
    """The titles (with their licence windows in ``region_id``), episodes and artwork
    variants a batch names, the titles of those episodes and variants (so, with their
    licences), and the episodes by season of ``season_titles``.

    One statement on PostgreSQL, whatever the batch names: a round trip and a
    query plan per table were a large share of a batch's cost.
    """
    references = SignalReferences()
    if connection.vendor != "postgresql":
        return _signal_references_orm(
            references, region_id, title_ids, episode_ids, variant_ids, season_titles
        )
    with connection.cursor() as cursor:
        cursor.execute(
            _REFERENCES_SQL,
            [
                region_id,
                _id_array(title_ids),
                _id_array(episode_ids),
                _id_array(variant_ids),
                _id_array(episode_ids),
                _id_array(variant_ids),
                _id_array(season_titles),
            ],
        )
        rows = cursor.fetchall()
    titles, windows = references.titles, references.windows
    for tag, pk, kind, maturity, ref, season_id, starts_at, ends_at in rows:
        if tag == _TAG_TITLE:
            titles[pk] = (kind, maturity)
            if ref is not None:
                windows[pk].append((starts_at, ends_at))
        elif tag == _TAG_EPISODE:
            references.episode_titles[pk] = (ref, maturity)
            if season_id is not None:
                references.episode_releases[pk] = _EPOCH_DAY + dt.timedelta(days=season_id)
        elif tag == _TAG_VARIANT:
            references.variants[pk] = (ref, maturity)
        else:
            references.season_episodes[ref][season_id].add(pk)
            if maturity is not None:
                references.season_releases[season_id] = _EPOCH + dt.timedelta(days=maturity)
    return references


def _signal_references_orm(
    references: SignalReferences,
    region_id: str,
    title_ids: Collection[int],
    episode_ids: Collection[int],
    variant_ids: Collection[int],
    season_titles: Collection[int],
) -> SignalReferences:
    """The same reads through the ORM, for the demo's embedded SQLite."""
    for pk, title_id, maturity, released in Episode.objects.filter(
        AnyOf(F("pk"), episode_ids)
    ).values_list("pk", "season__title_id", "season__title__maturity", "season__release_date"):
        references.episode_titles[pk] = (title_id, maturity)
        if released is not None:
            references.episode_releases[pk] = released
    references.variants.update(
        (pk, (title_id, max(maturity, title_maturity)))
        for pk, title_id, maturity, title_maturity in ArtworkVariant.objects.filter(
            AnyOf(F("pk"), variant_ids)
        ).values_list("pk", "title_id", "maturity", "title__maturity")
    )
    owners = {title_id for title_id, _ in references.episode_titles.values()}
    owners.update(title_id for title_id, _ in references.variants.values())
    for pk, kind, maturity, licence, starts_at, ends_at in (
        Title.objects.filter(AnyOf(F("pk"), {*title_ids, *owners}))
        .annotate(
            licence=FilteredRelation(
                "availabilities", condition=Q(availabilities__region_id=region_id)
            )
        )
        .values_list(
            "pk", "kind", "maturity", "licence__pk", "licence__starts_at", "licence__ends_at"
        )
    ):
        references.titles[pk] = (kind, maturity)
        if licence is not None:
            references.windows[pk].append((starts_at, ends_at))
    for episode_id, season_id, title_id, released in Episode.objects.filter(
        AnyOf(F("season__title_id"), season_titles)
    ).values_list("pk", "season_id", "season__title_id", "season__release_date"):
        references.season_episodes[title_id][season_id].add(episode_id)
        if released is not None:
            references.season_releases[season_id] = dt.datetime.combine(
                released, dt.time(), tzinfo=dt.UTC
            )
    return references


def signal_event_ids_stored(*, profile_id: int, client_event_ids: Collection[str]) -> set[str]:
    """Which of ``client_event_ids`` (canonical UUID text) the profile has already stored."""
    if connection.vendor != "postgresql":
        return {
            str(stored)
            for stored in Signal.objects.filter(
                profile_id=profile_id, client_event_id__in=client_event_ids
            ).values_list("client_event_id", flat=True)
        }
    with connection.cursor() as cursor:
        # The ids travel as one array literal and come back as text: no UUID objects either way.
        cursor.execute(
            f"SELECT client_event_id::text FROM {Signal._meta.db_table}"  # noqa: S608
            " WHERE profile_id = %s AND client_event_id = ANY(%s::uuid[])",
            [profile_id, "{" + ",".join(client_event_ids) + "}"],
        )
        return {event_id for (event_id,) in cursor.fetchall()}


@dataclass(frozen=True)
class PageReports:
    """What a profile has already reported on screen of some pages: the once-per-page keys."""

    skipped: set[tuple[str, str]] = field(default_factory=set)  # (page id, row)
    shown: set[tuple[str, str, int]] = field(default_factory=set)  # (page id, row, title id)


def page_reports_stored(
    *,
    profile_id: int,
    skipped_pages: Collection[str],
    shown_pages: Collection[str],
    shown_since: dt.datetime | None = None,
    skipped_since: dt.datetime | None = None,
) -> PageReports:
    """The rows of ``skipped_pages`` the profile has already reported scrolled past since
    ``skipped_since``, and the tiles (row, title) of ``shown_pages`` it has already reported
    on screen since ``shown_since``: one statement for both, whichever the batch holds.

    The kinds are written into the statement, not passed, so that PostgreSQL reads each
    branch through its partial index from its bound on (engaged signals; impressions: a
    profile's impressions are most of its log, and are never pruned). Without a bound, a
    branch reads every one of the profile's signals of its index.
    """
    # Per branch: its marker in the rows, the kind reported, its pages, its bound, and the
    # title it reads (a skip is of a row, not a title).
    wanted = [
        (marker, kind, pages, since, title)
        for marker, kind, pages, since, title in (
            (0, SignalKind.ROW_SCROLL_PAST, skipped_pages, skipped_since, "0"),
            (1, SignalKind.IMPRESSION, shown_pages, shown_since, "title_id"),
        )
        if pages
    ]
    reports = PageReports()
    if not wanted:
        return reports
    rows: list[tuple[int, str, str, int]] = []
    if connection.vendor != "postgresql":
        for marker, kind, pages, since, _ in wanted:
            found = Signal.objects.filter(profile_id=profile_id, kind=kind, page_id__in=pages)
            if since is not None:
                found = found.filter(occurred_at__gte=since)
            rows += [
                (marker, str(page_id), row, title_id if marker else 0)
                for page_id, row, title_id in found.values_list("page_id", "row", "title_id")
            ]
    else:
        table = Signal._meta.db_table
        branches, params = [], []
        for marker, kind, pages, since, title in wanted:
            branches.append(
                f"SELECT {marker}, page_id::text, row, {title} FROM {table}"  # noqa: S608
                f" WHERE profile_id = %s AND kind = '{kind.value}'"
                + ("" if since is None else " AND occurred_at >= %s")
                + " AND page_id = ANY(%s::uuid[])"
            )
            params += [profile_id, *([] if since is None else [since])]
            params += ["{" + ",".join(pages) + "}"]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(branches), params)
            rows = cursor.fetchall()
    for shown_kind, page_id, row, title_id in rows:
        if shown_kind:
            reports.shown.add((page_id, row, title_id))
        else:
            reports.skipped.add((page_id, row))
    return reports


@functools.cache
def _states_query() -> tuple[str, RowReader[ProfileTitleState]]:
    reader = RowReader(ProfileTitleState, alias="s")
    quote = connection.ops.quote_name
    # Only quoted identifiers of the model are interpolated.
    sql = (
        f"SELECT {reader.columns} FROM {quote(ProfileTitleState._meta.db_table)} s "  # noqa: S608
        f"WHERE s.{quote('profile_id')} = %s AND s.{quote('title_id')} = ANY(%s::bigint[])"
    )
    return sql, reader


def title_states_get(
    *, profile_id: int, title_ids: Collection[int]
) -> dict[int, ProfileTitleState]:
    """The profile's stored per-title states of ``title_ids``, by title id."""
    if connection.vendor != "postgresql":
        return {
            state.title_id: state
            for state in ProfileTitleState.objects.filter(
                AnyOf(F("title_id"), title_ids), profile_id=profile_id
            )
        }
    # Plain SQL read into instances: the ORM's query compilation cost more than the read.
    sql, reader = _states_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [profile_id, _id_array(title_ids)])
        rows = cursor.fetchall()
    states = (reader.instance(row) for row in rows)
    return {state.title_id: state for state in states}


def early_playback_pairs(*, skew: dt.timedelta) -> list[tuple[int, int]]:
    """The (profile, title) pairs with a state whose log holds a play, progress or
    completion of an episode not out at the event's time, in order.

    Judged as the fold judges it (``title_states_fold``): at the event's stamp or its
    receipt, whichever is earlier, plus the clock skew ingest tolerates, against
    its season's release (midnight UTC). Ingest refuses such events since December
    2026; the pairs found hold some it took before. One pass over the log's
    playback events of an episode: a one-off repair's read, not a request's.
    """
    playback = [*PLAY_KINDS, SignalKind.PROGRESS, SignalKind.COMPLETE]
    with_state = ProfileTitleState.objects.filter(
        profile_id=OuterRef("profile_id"), title_id=OuterRef("title_id")
    )
    return list(
        Signal.objects.filter(
            Exists(with_state),
            kind__in=playback,
            episode__season__title_id=F("title_id"),
            episode__season__release_date__isnull=False,
        )
        .alias(
            judged=ExpressionWrapper(
                Least("occurred_at", "received_at") + Value(skew), output_field=DateTimeField()
            ),
            released=_MidnightUTC("episode__season__release_date"),
        )
        .filter(released__gt=F("judged"))
        .order_by("profile_id", "title_id")
        .values_list("profile_id", "title_id")
        .distinct()
    )


def credits_playback_pairs() -> list[tuple[int, int]]:
    """The (profile, title) pairs with a state whose log holds an episode's progress
    past ``CONTINUE_MAX_PROGRESS`` (its credits), in order.

    Since December 2026 the fold finishes such an episode (passed) once another is
    played after it; the states folded before kept it unfinished. One pass over the
    log's progress events: a one-off repair's read, not a request's.
    """
    with_state = ProfileTitleState.objects.filter(
        profile_id=OuterRef("profile_id"), title_id=OuterRef("title_id")
    )
    return list(
        Signal.objects.filter(
            Exists(with_state),
            kind=SignalKind.PROGRESS,
            episode__isnull=False,
            value__gt=CONTINUE_MAX_PROGRESS,
        )
        .order_by("profile_id", "title_id")
        .values_list("profile_id", "title_id")
        .distinct()
    )


def rating_tie_pairs() -> list[tuple[int, int]]:
    """The (profile, title) pairs with a state whose log holds ratings of different kinds
    at one moment, in order.

    The moment is the fold's (the stamp or the receipt, whichever is earlier). Until
    December 2026 the fold let the later of such ratings in the log win; since, the
    strongest kind does (a thumbs down, then a clear), as confidence reads them, so a state
    folded before may say liked where its log now says disliked. One pass over the log's
    ratings: a one-off repair's read, not a request's.
    """
    with_state = ProfileTitleState.objects.filter(
        profile_id=OuterRef("profile_id"), title_id=OuterRef("title_id")
    )
    ratings = [SignalKind.THUMBS_UP, SignalKind.THUMBS_DOWN, SignalKind.THUMBS_CLEARED]
    tied = (
        Signal.objects.filter(Exists(with_state), kind__in=ratings)
        .annotate(folded_at=Least("occurred_at", "received_at"))
        .values("profile_id", "title_id", "folded_at")
        .annotate(kinds=Count("kind", distinct=True))
        .filter(kinds__gt=1)
        .values_list("profile_id", "title_id")
    )
    return sorted(set(tied))


def title_states_log_read(
    *, profile_id: int, title_ids: Collection[int], kinds: Collection[str]
) -> list[tuple[int, int, int | None, str, float | None, dt.datetime]]:
    """The profile's signals of ``kinds`` (those that change a state) of ``title_ids``,
    as the fold places them.

    Rows of (signal id, title id, episode id, kind, value, moment), the moment being
    the stamp or the receipt, whichever is earlier (ingest folded an event stamped
    ahead by a fast clock as of its receipt), in that order.
    """
    return list(
        Signal.objects.filter(
            AnyOf(F("title_id"), title_ids), profile_id=profile_id, kind__in=list(kinds)
        )
        .annotate(folded_at=Least("occurred_at", "received_at"))
        .order_by("folded_at", "pk")
        .values_list("pk", "title_id", "episode_id", "kind", "value", "folded_at")
    )
