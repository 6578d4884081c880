"""Recording a batch of signals exactly once, with the derived per-title state beside it.

The API sends a batch as columns (``EventColumns``): every step reads the batch
a field at a time, and the hot path builds no object per event except for the
few events that change per-title state.
"""

import dataclasses
import datetime as dt
import uuid
from collections.abc import (
    Callable,
    Collection,
    Hashable,
    Iterable,
    Mapping,
    MutableMapping,
    Sequence,
    Set,
)
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import orjson
import psycopg
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import Season, Title
from config.lookups import AnyOf
from profiles.models import Profile
from recommendations.engine.split import Rating
from recommendations.models import PLAY_KINDS, ProfileTitleState, Signal, SignalKind
from recommendations.selectors.attribution import attribution_window
from recommendations.selectors.signals import (
    CONTINUE_MAX_PROGRESS,
    CONTINUE_MIN_PROGRESS,  # noqa: F401
    SignalReferences,
    Window,
    last_episode_passed,
    page_reports_stored,
    signal_clock_skew,
    signal_event_ids_stored,
    signal_references_get,
    title_states_get,
    title_states_log_read,
)
from recommendations.signal_events import (
    EventColumns,
    EventErrors,
    SignalEvent,
    logged_event,
)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

#: What moves playback (progress, the episode): ordered by ``playback_at``.
PLAYBACK_KINDS = PLAY_KINDS | {SignalKind.PROGRESS, SignalKind.COMPLETE}
#: A rating: the latest of them by time is the pair's thumbs (a clear leaves none).
RATING_KINDS = frozenset({SignalKind.THUMBS_UP, SignalKind.THUMBS_DOWN, SignalKind.THUMBS_CLEARED})
STATE_KINDS = PLAYBACK_KINDS | RATING_KINDS
#: Why a series' ``complete`` without an ``episode`` refuses its batch (docs/signals.md).
SERIES_COMPLETE_WITHOUT_EPISODE = "A completion of a series names the episode finished."
_THUMBS_OF = {
    SignalKind.THUMBS_UP: ProfileTitleState.Thumbs.UP,
    SignalKind.THUMBS_DOWN: ProfileTitleState.Thumbs.DOWN,
    SignalKind.THUMBS_CLEARED: ProfileTitleState.Thumbs.NONE,
}
#: Each rating kind, and each rated state's thumbs (none: cleared), as the engine's
#: ``Rating``, whose order settles ratings at one instant (``_rating_replaces``).
_RATING_OF = {
    SignalKind.THUMBS_UP: Rating.UP,
    SignalKind.THUMBS_DOWN: Rating.DOWN,
    SignalKind.THUMBS_CLEARED: Rating.CLEARED,
}
_STATE_RATING = {
    ProfileTitleState.Thumbs.UP: Rating.UP,
    ProfileTitleState.Thumbs.DOWN: Rating.DOWN,
    ProfileTitleState.Thumbs.NONE: Rating.CLEARED,
}


class SignalBatchRejected(Exception):
    """The batch refers to things the profile may not signal about; nothing was stored."""

    def __init__(self, errors: EventErrors) -> None:
        super().__init__(errors.summary())
        self.errors = errors


@dataclass(frozen=True)
class BatchResult:
    received: int
    new: int
    duplicates: int
    # Events left out because their title or episode does not exist (deleted since), by
    # index. An artwork variant that does not exist leaves its event out no more: the
    # event is stored without it (``_unseen_variants``).
    rejected: EventErrors = field(default_factory=EventErrors)


def _reference_errors(
    profile: Profile, columns: EventColumns, references: SignalReferences
) -> tuple[EventErrors, EventErrors, list[int]]:
    """Check every event's title, episode and artwork variant against what they name.

    Returns the errors of events that name a title or episode that does not exist (or
    reads as absent: above the profile's maturity limit, a title not licensed in the
    account's region at the event's time, an episode of a title above the limit), the
    other errors, apart (only those refuse the batch), and the positions of the events
    whose artwork variant reads as absent so (``_unseen_variants``). An id that exists
    but does not fit the event (another title's episode or variant, an episode not out
    at the event's time) is a client's error, and refuses it; but an episode or variant
    of another title reads as absent when that title would, named by the event (above
    the limit, or not licensed here at the event's time): "Belongs to another title."
    told any caller which ids are episodes and frames of titles it is not shown.

    An episode played, progressed or completed must have been out at the event's time.

    Titles are judged once per distinct title; only events of a title in doubt
    (unknown, above the maturity limit, or licensed in windows rather than
    open-endedly) are looked at one by one, so a clean batch costs a few set
    operations, not a loop over its events.
    """
    errors, absent = EventErrors(), EventErrors()
    limit = profile.maturity_limit
    titles, windows = references.titles, references.windows
    # A licence is judged at the event's stamp, but never after its receipt: a fast clock's
    # stamp is folded as of the receipt (``_store``), and a stamp up to the skew ahead let a
    # play of a title whose licence starts in a minute through (a title no page, nor its
    # title page, offered yet), while refusing one of a title licensed until a minute from
    # now, played while it was.
    now = timezone.now()

    def licensed(title_id: int, occurred_at: dt.datetime) -> bool:
        return _licensed_at(windows.get(title_id, ()), min(occurred_at, now))

    missing: set[int] = set()
    doubtful: set[int] = set()
    for title_id in set(columns.title_id) - {None, 0}:
        facts = titles.get(title_id)
        # Above the limit reads as absent, as on the title page: a Kids profile must not
        # learn from the error which ids are mature titles.
        if facts is None or facts[1] > limit:
            missing.add(title_id)
            doubtful.add(title_id)
        elif (None, None) not in windows.get(title_id, ()):
            doubtful.add(title_id)

    # Events whose title reads as absent: it does not exist, is above the limit, or was not
    # licensed in the account's region at the event's time. One answer for the three, as
    # the title page's 404: "Was not available in the account's region" told a caller which
    # ids are titles (licensed elsewhere, or here at another time), and a Kids profile which
    # ids it is hidden.
    title_absent: set[int] = set()
    if doubtful:
        for index, title_id, occurred_at in zip(
            columns.index, columns.title_id, columns.occurred_at, strict=True
        ):
            if title_id not in doubtful:
                continue
            if title_id in missing or not licensed(title_id, occurred_at):
                absent.add(index, "title", f"No title with id {title_id}.")
                title_absent.add(index)

    # A series is finished an episode at a time: a completion naming none finished nothing
    # the state can tick, and folded it left the series "S1:E1 at 100%" everywhere.
    series = {t for t, (kind, _) in titles.items() if kind == Title.Kind.SERIES} - missing
    if series and SignalKind.COMPLETE in columns.kind:
        for index, kind, title_id, episode_id in zip(
            columns.index, columns.kind, columns.title_id, columns.episode_id, strict=True
        ):
            if (
                kind == SignalKind.COMPLETE
                and not episode_id
                and title_id in series
                and index not in title_absent
            ):
                errors.add(index, "episode", SERIES_COMPLETE_WITHOUT_EPISODE)

    def shown_at(title_id: int, occurred_at: dt.datetime) -> bool:
        """Whether an event naming ``title_id`` at ``occurred_at`` would find it (another
        title's episode or variant: its title's licence is read with the batch's)."""
        facts = titles.get(title_id)
        return facts is not None and facts[1] <= limit and licensed(title_id, occurred_at)

    # An event whose title reads as absent is reported for its title alone.
    if any(columns.episode_id):
        episode_titles, releases = references.episode_titles, references.episode_releases
        # Judged at the latest moment the event can have happened: its stamp plus the clock
        # skew ingest tolerates (one bound, either way: signal_clock_skew), but
        # never after its receipt (a fast clock's stamp is folded as of the receipt). A
        # play in a premiere's first minutes from a clock running behind is stamped before
        # midnight; refused, it took the rest of its batch with it.
        skew = signal_clock_skew()
        for index, kind, title_id, episode_id, occurred_at in zip(
            columns.index,
            columns.kind,
            columns.title_id,
            columns.episode_id,
            columns.occurred_at,
            strict=True,
        ):
            if not episode_id or index in title_absent:
                continue
            owner = episode_titles.get(episode_id)
            # An episode of a title above the limit, or of another title not licensed here
            # at the event's time, reads as absent, as its title does: left out alike, or
            # the answer would tell which ids are episodes of titles the caller is not shown.
            if owner is None or owner[1] > limit:
                absent.add(index, "episode", f"No episode with id {episode_id}.")
            elif owner[0] != title_id:
                if shown_at(owner[0], occurred_at):
                    errors.add(index, "episode", "Belongs to another title.")
                else:
                    absent.add(index, "episode", f"No episode with id {episode_id}.")
            elif (
                kind in PLAYBACK_KINDS
                and episode_id in releases
                and releases[episode_id] > min(occurred_at + skew, now).astimezone(dt.UTC).date()
            ):
                # Nobody played an episode before its season came out (midnight UTC, as
                # the fold counts seasons out): folded, it would be finished before it
                # existed, and count against what is left of the series once out.
                errors.add(index, "episode", "Was not released at that time.")

    unseen: list[int] = []
    if any(columns.artwork_variant_id):
        variants = references.variants
        for position, (index, title_id, variant_id, occurred_at) in enumerate(
            zip(
                columns.index,
                columns.title_id,
                columns.artwork_variant_id,
                columns.occurred_at,
                strict=True,
            )
        ):
            if not variant_id or index in title_absent:
                continue
            variant = variants.get(variant_id)
            # Above the limit (its own rating or its title's), or another title's that is
            # not licensed here at the event's time, reads as deleted, and is answered
            # alike: no caller may learn which ids are frames of titles it is not shown.
            if variant is None or variant[1] > limit:
                unseen.append(position)
            elif variant[0] != title_id:
                if shown_at(variant[0], occurred_at):
                    errors.add(index, "artwork_variant", "Belongs to another title.")
                else:
                    unseen.append(position)
    return absent, errors, unseen


def _licensed_at(windows: Iterable[Window], moment: dt.datetime) -> bool:
    """Whether one of a title's licence windows in the region holds ``moment``."""
    return any(
        (start is None or start <= moment) and (end is None or moment < end)
        for start, end in windows
    )


def _unseen_variants(columns: EventColumns, positions: Sequence[int]) -> EventColumns:
    """The batch with the artwork variants at ``positions`` taken off their events.

    A variant is what the tile showed, as ``page_id``, ``row`` and ``position`` say
    where: none of them is the event. A frame deleted since a device queued its play
    (or above the profile's maturity limit, which must read the same) left the play
    out whole, and with it Continue Watching's title and attribution's play, though
    no resend could ever store it; the page, row and position, never checked for
    existence, were kept. Now the event is stored without the variant, and said
    nothing of in the response, as the other references ingest adjusts are not
    (a deletion racing the commit stores the deleted variant's id as it was).
    """
    if not positions:
        return columns
    variants = list(columns.artwork_variant_id)
    for position in positions:
        variants[position] = None
    return dataclasses.replace(columns, artwork_variant_id=variants)


def _first_occurrences(keys: Sequence[Hashable], stored: Set[Hashable] = frozenset()) -> list[int]:
    """Positions of the keys (event ids, skipped rows) neither in ``stored`` nor earlier."""
    seen = set(stored)
    fresh = []
    for position, event_id in enumerate(keys):
        if event_id not in seen:
            seen.add(event_id)
            fresh.append(position)
    return fresh


#: A moment of the fold: an aware datetime (ingest) or epoch seconds (the demo seeder).
Moment = dt.datetime | int
_State = TypeVar("_State")


class FoldedEvent(Protocol):
    """What the fold reads of an event: a ``SignalEvent``, or a seeded one."""

    @property
    def index(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def title_id(self) -> int | None: ...
    @property
    def episode_id(self) -> int | None: ...
    @property
    def value(self) -> float | None: ...
    @property
    def occurred_at(self) -> Moment: ...


STATE_FIELDS = (
    "first_played_at",
    "last_played_at",
    "last_event_at",
    "play_count",
    "progress",
    "last_episode",
    "completed_episodes",
    "completed_seasons",
    "completed_at",
    "rewatch_count",
    "thumbs",
    "thumbs_at",
    "playback_at",
)


def title_states_fold(
    *,
    profile_id: int,
    states: MutableMapping[int, _State],
    events: Iterable[FoldedEvent],
    title_kinds: Mapping[int, str],
    season_episodes: Mapping[int, Mapping[int, Set[int]]],
    season_releases: Mapping[int, Moment] | None = None,
    release_skew: dt.timedelta | int | None = None,
    new_state: Callable[[int, Moment], _State] | None = None,
) -> set[int]:
    """Fold one profile's new events into ``states`` (title id -> state), in memory.

    The one place the rules of derived state live: the signals API, bulk imports
    and the demo seeder all call it, so imported, seeded and live history mean the
    same. ``states`` must hold the profile's stored state of every title the events
    touch; missing titles get a fresh state (``new_state``, from the title id and
    the moment of its first event; by default a ``ProfileTitleState`` of the
    profile). ``title_kinds`` maps each title to
    its kind, ``season_episodes`` (title -> season -> episode ids) every title
    with an episode completion among the events. The events must all come after
    those ``states`` folded (the order of the log: by moment, then as stored): the
    state keeps which episodes are finished, not when, nor what its later events made
    of the earlier ones, so a finished episode counts as finished before any event
    folded into it. Ingest folds a title again from its log for an event older than
    its state's playback (``_states_refolded``). ``season_releases`` (season id -> the
    moment it comes out, midnight UTC of its release date; a season without one is
    out) keeps a season announced but not out at an event's time from counting
    against the series' completion: a profile that finished every released episode
    has finished the series for now.

    A play, progress or completion of an episode whose season was not out at the
    event's time is passed over, as ingest refuses it: the log still holds such
    events from before ingest did (December 2026), and folded they finished an
    episode nobody could have watched, which then counted against what is left of
    the series once out. ``release_skew`` (a moment's difference: a timedelta, or
    seconds) is the clock skew ingest tolerates before a release (a stamp within it
    is the client's clock, not the episode), so that the fold keeps every event
    ingest keeps. Only the seasons in ``season_episodes`` are judged: an episode of a
    title missing from it counts as out (ingest refuses such events before its fold,
    so it reads only the seasons of titles with a completion).
    Returns the indexes of the events that are rewatches.

    An episode is finished by its ``complete``, or once another episode is played after
    it was left in its credits (passed, ``last_episode_passed``): as of that last
    playback, so before the play that moved on. Not a ``complete``: nothing of the log
    changes, and the models' completion weight reads ``complete`` signals only.

    Events are applied in the order they happened, not the order they arrived,
    so a late-arriving older event cannot overwrite newer progress or thumbs; ratings
    at the same moment go by kind, a thumbs down first (``_rating_replaces``).
    Moments are only compared, never converted: ingest's are aware datetimes, the
    seeder's epoch seconds (the same rules without a datetime per event).
    """
    engaging = sorted(
        (e for e in events if e.kind in STATE_KINDS and e.title_id),
        key=lambda e: e.occurred_at,
    )
    rewatches: set[int] = set()
    first_done: dict[int, Moment] = {}
    releases = season_releases or {}
    for event in engaging:
        at = event.occurred_at
        if (
            releases
            and event.episode_id
            and event.kind in PLAYBACK_KINDS
            and not _episode_out(
                event.episode_id,
                season_episodes.get(event.title_id, {}),
                releases,
                at if release_skew is None else at + release_skew,
            )
        ):
            continue
        state = states.get(event.title_id)
        if state is None:
            state = states[event.title_id] = (
                ProfileTitleState(profile_id=profile_id, title_id=event.title_id, last_event_at=at)
                if new_state is None
                else new_state(event.title_id, at)
            )
        state.last_event_at = max(state.last_event_at, at)
        # Playback has its own clock: a thumbs given later must not make an older, late
        # progress look stale, as the shared last_event_at did.
        is_latest = False
        if event.kind in PLAYBACK_KINDS:
            is_latest = state.playback_at is None or at >= state.playback_at
            if is_latest:
                if (
                    event.episode_id
                    and event.episode_id != state.last_episode_id
                    and last_episode_passed(state)
                ):
                    # Moved on from an episode left in its credits: the viewer saw it to
                    # the end, so it is finished as of its last playback (its credits),
                    # before this event, as a completion then would have finished it.
                    _episode_finish(
                        state,
                        state.last_episode_id,
                        state.playback_at,
                        first_done=first_done,
                        title_seasons=season_episodes.get(event.title_id, {}),
                        releases=releases,
                    )
                state.playback_at = at
            elif (
                event.kind == SignalKind.PROGRESS
                and event.episode_id
                and event.value > CONTINUE_MAX_PROGRESS
                and state.last_episode_id not in (None, event.episode_id)
                and event.episode_id not in state.completed_episodes
            ):
                # An older report of an episode's credits arriving after a later play of
                # another episode (an offline device's upload): passed, and moved on from
                # since, as the log folded in time order says.
                _episode_finish(
                    state,
                    event.episode_id,
                    at,
                    first_done=first_done,
                    title_seasons=season_episodes.get(event.title_id, {}),
                    releases=releases,
                )
        if event.kind in PLAY_KINDS:
            # A film is rewatched by a play after its completion, not by a late-arriving
            # play from before it (an offline device's upload).
            already_done = (
                event.episode_id in state.completed_episodes
                and first_done.get(event.episode_id, at) <= at
                if event.episode_id
                else title_kinds[event.title_id] == Title.Kind.FILM
                and state.completed_at is not None
                and state.completed_at < at
            )
            if already_done:
                state.rewatch_count += 1
                rewatches.add(event.index)
            state.play_count += 1
            if state.first_played_at is None or at < state.first_played_at:
                state.first_played_at = at
            if state.last_played_at is None or at > state.last_played_at:
                state.last_played_at = at
            if is_latest:
                # Progress is the last episode played's: starting another one (the next,
                # after finishing one at 100%) starts it at 0, as a rewatch does.
                other_episode = bool(event.episode_id) and event.episode_id != state.last_episode_id
                state.progress = 0.0 if already_done or other_episode else state.progress
                state.last_episode_id = event.episode_id or state.last_episode_id
        elif event.kind in PLAYBACK_KINDS and state.last_played_at is None:
            # Progress or a completion with no play before it (a play_start lost, an
            # episode marked finished) was still played: without a play's moment the
            # title page resumed it while Continue Watching and the homepage, which
            # read that moment, left it out as never played.
            state.first_played_at = state.last_played_at = at
        if event.kind == SignalKind.PROGRESS:
            if is_latest:
                state.progress = event.value
                state.last_episode_id = event.episode_id or state.last_episode_id
        elif event.kind == SignalKind.COMPLETE:
            if is_latest:
                state.progress = 100.0
                state.last_episode_id = event.episode_id or state.last_episode_id
            if event.episode_id:
                _episode_finish(
                    state,
                    event.episode_id,
                    at,
                    first_done=first_done,
                    title_seasons=season_episodes.get(event.title_id, {}),
                    releases=releases,
                )
            elif title_kinds[event.title_id] == Title.Kind.FILM and (
                state.completed_at is None or at < state.completed_at
            ):
                state.completed_at = at
        elif event.kind in RATING_KINDS and _rating_replaces(state, event.kind, at):
            # A clear keeps its time too: an older thumbs arriving after it stays cleared.
            state.thumbs = _THUMBS_OF[event.kind]
            state.thumbs_at = at
    return rewatches


def _rating_replaces(state: Any, kind: str, at: Moment) -> bool:
    """Whether a rating of ``kind`` at ``at`` is the state's thumbs from now on.

    The latest by time is; of ratings at the very same instant (two devices, one
    moment), the strongest by the engine's :class:`~recommendations.engine.split.Rating`
    (a thumbs down, then a clear, then a thumbs up), as confidence and the holdout read
    them, so that the state never says liked where they say disliked. Kept as a maximum
    of (moment, rating), it comes out the same whatever the order and the batches the
    ratings arrive in. Until December 2026 the later in the log won such a tie.
    """
    if state.thumbs_at is None or at > state.thumbs_at:
        return True
    return at == state.thumbs_at and _RATING_OF[kind] >= _STATE_RATING[state.thumbs]


def _episode_finish(
    state: Any,
    episode_id: int,
    at: Moment,
    *,
    first_done: dict[int, Moment],
    title_seasons: Mapping[int, Set[int]],
    releases: Mapping[int, Moment],
) -> None:
    """Count ``episode_id`` finished at ``at`` in ``state``, with its seasons and series.

    One rule for an episode's ``complete`` and for one passed then moved on from
    (:func:`title_states_fold`), so that both finish seasons and series alike.
    """
    newly_done = episode_id not in state.completed_episodes
    if newly_done:
        state.completed_episodes = [*state.completed_episodes, episode_id]
        first_done[episode_id] = at
    elif episode_id in first_done:
        first_done[episode_id] = min(first_done[episode_id], at)
    done = set(state.completed_episodes)
    state.completed_seasons = sum(1 for eps in title_seasons.values() if eps <= done)
    # Out at the event's time: released at or before it (midnight UTC).
    released = [
        eps for season_id, eps in title_seasons.items() if releases.get(season_id, at) <= at
    ]
    if released and all(eps <= done for eps in released):
        every = set().union(*released)
        if every <= first_done.keys():
            # Finished with the last episode finished, whichever arrived last.
            state.completed_at = max(first_done[e] for e in every)
        elif state.completed_at is None or (newly_done and at > state.completed_at):
            # This event finished what was out: the first time, or again after
            # a season came out (an offline device's older report of an episode
            # finished before does not move the completion).
            state.completed_at = at


def _episode_out(
    episode_id: int,
    title_seasons: Mapping[int, Set[int]],
    releases: Mapping[int, Moment],
    at: Moment,
) -> bool:
    """Whether the episode's season was out at ``at`` (one not found, or undated, is)."""
    for season_id, episodes in title_seasons.items():
        if episode_id in episodes:
            return season_id not in releases or releases[season_id] <= at
    return True


# (column, attribute) of every stored field of a state, for the JSON the upsert reads.
_STATE_KEYS = tuple(
    (field.column, field.attname)
    for field in map(ProfileTitleState._meta.get_field, ("profile", "title", *STATE_FIELDS))
)
_STATE_TABLE = ProfileTitleState._meta.db_table
_STATE_COLUMNS = ", ".join(
    f'"{ProfileTitleState._meta.get_field(name).column}"'
    for name in ("profile", "title", *STATE_FIELDS)
)
_PG_STATE_UPSERT = (
    f"INSERT INTO {_STATE_TABLE} ({_STATE_COLUMNS})"  # noqa: S608
    f" SELECT {_STATE_COLUMNS} FROM jsonb_populate_recordset(NULL::{_STATE_TABLE}, %s::jsonb)"
    ' ON CONFLICT ("profile_id", "title_id") DO UPDATE SET '
    + ", ".join(
        f'"{column}" = EXCLUDED."{column}"'
        for column in (ProfileTitleState._meta.get_field(name).column for name in STATE_FIELDS)
    )
)


def title_states_save(
    *, states: Iterable[ProfileTitleState], batch_size: int | None = None
) -> None:
    """Insert new states and overwrite stored ones: one upsert per ``batch_size`` states.

    On PostgreSQL the states travel as one JSON document (orjson writes it at C
    speed) that the table's own row type reads back, instead of the ORM
    compiling an INSERT with a placeholder per field of every state.
    """
    if connection.vendor != "postgresql":
        ProfileTitleState.objects.bulk_create(
            states,
            batch_size=batch_size,
            update_conflicts=True,
            unique_fields=["profile", "title"],
            update_fields=list(STATE_FIELDS),
        )
        return
    rows = [
        {
            column: _in_utc(value) if isinstance(value, dt.datetime) else value
            for column, value in ((column, getattr(s, attname)) for column, attname in _STATE_KEYS)
        }
        for s in states
    ]
    size = batch_size or len(rows)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            cursor.execute(_PG_STATE_UPSERT, [orjson.dumps(rows[start : start + size]).decode()])


def _first_reports(profile_id: int, columns: EventColumns) -> EventColumns:
    """The batch without the reports of what the profile already reported of a page: a
    scroll-past of a (page, row) already skipped, an impression of a tile (page, row,
    title) already on screen.

    A row is scrolled past at most once per page, and a tile comes on screen once per page
    as far as anything learnt is concerned (the client contract, docs/signals.md), but a
    client that reports one again under a new event id (a tile scrolled back into view, a
    retried batch, two devices showing one page) doubled the row ranker's scroll-past rate,
    the confidence's penalty, its tiles seen per row type and the title ranker's times
    shown without a play. Of several in the batch, the earliest is kept: when the row was
    first skipped, the tile first seen. Each is looked for among those stamped from its
    page's issue on, less the clock skew (``_skipped_since``, ``_shown_since``): no client
    saw a row or a tile before its page was made, so the rule loses nothing to the bound.
    One query for both kinds, and only for a batch holding either that names a page.
    Called under the profile's lock, so a concurrent batch cannot slip one in between.
    """
    skips, shows = [], []
    for position, (kind, page_id) in enumerate(zip(columns.kind, columns.page_id, strict=True)):
        if page_id is None:
            continue
        if kind == SignalKind.IMPRESSION:
            shows.append(position)
        elif kind == SignalKind.ROW_SCROLL_PAST:
            skips.append(position)
    if not skips and not shows:
        return columns
    page_ids, rows, occurred_at = columns.page_id, columns.row, columns.occurred_at
    stored = page_reports_stored(
        profile_id=profile_id,
        skipped_pages={page_ids[position] for position in skips},
        shown_pages={page_ids[position] for position in shows},
        shown_since=_shown_since((page_ids[p], occurred_at[p]) for p in shows) if shows else None,
        skipped_since=_skipped_since({page_ids[position] for position in skips}) if skips else None,
    )
    repeats: set[int] = set()
    for positions, keys, seen in (
        (skips, lambda p: (page_ids[p], rows[p]), stored.skipped),
        (shows, lambda p: (page_ids[p], rows[p], columns.title_id[p]), stored.shown),
    ):
        if not positions:
            continue
        positions.sort(key=occurred_at.__getitem__)
        first = _first_occurrences(list(map(keys, positions)), seen)
        if len(first) < len(positions):
            repeats.update(set(positions) - {positions[i] for i in first})
    if not repeats:
        return columns
    return columns.take([position for position in range(len(columns)) if position not in repeats])


def _page_issued(page_id: str, *, latest: dt.datetime) -> dt.datetime | None:
    """When the page of ``page_id`` was made, if its id says so: a UUIDv7 from no later than
    ``latest``; else None (not one the homepage issued).

    The homepage's page ids are UUIDv7s of the moment the page was made
    (``serving.homepage.homepage_render``, the traffic simulation's ``page_id_at``).
    """
    page = uuid.UUID(page_id)
    if page.version != 7:
        return None
    # Compared as milliseconds: a client's id may carry any 48-bit time, up to the year
    # 10889, past the last date a datetime holds (an OverflowError, a 500).
    milliseconds = page.int >> 80
    if milliseconds > (latest - _EPOCH) // dt.timedelta(milliseconds=1):
        return None
    return _EPOCH + dt.timedelta(milliseconds=milliseconds)


def _skipped_since(page_ids: Iterable[str]) -> dt.datetime | None:
    """How far back a batch's scroll-pasts of ``page_ids`` are looked for: from the earliest
    page's issue, less the clock skew a client's stamp may run behind by. None (no bound)
    if a page's id does not carry its issue.

    A row is skipped only once its page is on screen, so every report of the page's rows
    is stamped after its issue, within the skew. Unbounded, the look-up read every one of
    the profile's non-impression signals (43 ms at 20,000), for every batch with a skip.
    """
    skew = signal_clock_skew()
    latest = timezone.now() + skew
    issued = []
    for page_id in page_ids:
        moment = _page_issued(page_id, latest=latest)
        if moment is None:
            return None
        issued.append(moment)
    return min(issued) - skew


def _shown_since(shown: Iterable[tuple[str, dt.datetime]]) -> dt.datetime:
    """How far back a batch's impressions (``shown``: page id, stamp) are looked for: from
    the earliest of their pages' issue, less the clock skew, as a scroll-past is; for a
    page whose id carries no issue, from the session window and the skew before the
    batch's earliest impression of it.

    A tile comes on screen only once its page is, so the issue loses no earlier report
    however long the page stayed open, and is a shorter range than the session window's
    for a page reported within the window of its issue: the usual case. A page without a
    time keeps a bound rather than none, at the cost of a tile reported again more than
    the window after its first report being stored again: a profile's impressions are
    most of its log and are never pruned, so every one of them is read unbounded (210 ms
    for 80,000, for every batch), where the window reads a session's (0.07 ms).
    """
    skew = signal_clock_skew()
    latest = timezone.now() + skew
    window = attribution_window()
    issued: dict[str, dt.datetime | None] = {}
    bounds = []
    for page_id, at in shown:
        if page_id not in issued:
            issued[page_id] = _page_issued(page_id, latest=latest)
        moment = issued[page_id]
        bounds.append(at - window if moment is None else moment)
    return min(bounds) - skew


def _store(profile: Profile, columns: EventColumns, references: SignalReferences) -> int:
    """Store events none of which is stored yet, folding them into the per-title states.

    Only the events that can change a state (plays, progress, completions,
    thumbs: a fifth of a typical batch) become objects. The fold comes first
    because it flags rewatches on the rows; the states are written after the
    rows, so a COPY that meets a stored event (``_StoredBefore``) leaves nothing
    else to undo.
    """
    columns = _first_reports(profile.pk, columns)
    if not columns:
        return 0
    title_ids = columns.title_id
    engaging = [
        columns.event(position)
        for position, kind in enumerate(columns.kind)
        if kind in STATE_KINDS and title_ids[position]
    ]
    # Nothing happened after the server received it: an event stamped ahead by a client
    # clock running fast (within the allowed skew) is ordered as of now, else it would
    # outrank what another device, or the same user a minute later, does next (a thumbs
    # down stamped 4 minutes ahead kept a thumbs up given 1 minute later from counting).
    # The log keeps the time as the client sent it, and this moment as its receipt.
    now = timezone.now()
    for event in engaging:
        if event.occurred_at > now:
            event.occurred_at = now
    states: dict[int, ProfileTitleState] = {}
    rewatches: set[int] = set()
    if engaging:
        states = title_states_get(profile_id=profile.pk, title_ids={e.title_id for e in engaging})
        late = _titles_folded_past(states, engaging)
        title_kinds = {pk: kind for pk, (kind, _) in references.titles.items()}
        _seasons_read(
            references,
            {t for t in late if title_kinds.get(t) == Title.Kind.SERIES}
            | _passed_moved_on(states, engaging),
        )
        rewatches = title_states_fold(
            profile_id=profile.pk,
            states=states,
            events=[e for e in engaging if e.title_id not in late] if late else engaging,
            title_kinds=title_kinds,
            season_episodes=references.season_episodes,
            season_releases=references.season_releases,
            release_skew=signal_clock_skew(),
        )
        if late:
            refolded, late_rewatches = _states_refolded(
                profile_id=profile.pk,
                title_ids=late,
                title_kinds=title_kinds,
                references=references,
                unstored=[e for e in engaging if e.title_id in late],
            )
            states.update(refolded)
            rewatches |= late_rewatches
    inserted = _insert(profile, columns, rewatches, received_at=now)
    if states:
        title_states_save(states=states.values())
    return inserted


def _titles_folded_past(
    states: Mapping[int, ProfileTitleState], events: Iterable[SignalEvent]
) -> set[int]:
    """The titles whose stored state has folded playback later than one of ``events``.

    Folding such an event into the state is not folding the log in order: what the state
    made of the later events (the progress a play reset, the first play's moment, an episode
    passed then moved on from, the plays after a completion that are rewatches) depends on
    what came before them, and the state does not keep enough to undo it. So those titles
    are folded again from the log (``_states_refolded``). A rating is not ordered against
    playback (the latest by its own clock wins, however late it arrives), and an event at
    the moment of the last one folded comes after it in the log too (a larger id), so
    neither is late. Read from the states already read: no query.
    """
    return {
        e.title_id
        for e in events
        if e.kind in PLAYBACK_KINDS
        and (state := states.get(e.title_id)) is not None
        and state.playback_at is not None
        and e.occurred_at < state.playback_at
    }


def _passed_moved_on(
    states: Mapping[int, ProfileTitleState], events: Iterable[SignalEvent]
) -> set[int]:
    """The titles whose stored last episode, passed, a playback of another episode among
    ``events`` moves on from, so finishes (``title_states_fold``)."""
    return {
        e.title_id
        for e in events
        if e.episode_id
        and e.kind in PLAYBACK_KINDS
        and (state := states.get(e.title_id)) is not None
        and state.last_episode_id != e.episode_id
        and last_episode_passed(state)
    }


def _seasons_read(references: SignalReferences, title_ids: Collection[int]) -> None:
    """Add the seasons of ``title_ids`` to ``references``.

    A batch's own references hold the seasons of the titles it finishes episodes of
    itself (a completion, credits); moving on from a passed episode stored before, or
    folding a title again for a late report (:func:`_states_refolded`), finishes
    episodes too, which without them counted no season. Rare: a query only then.
    """
    title_ids = set(title_ids) - references.season_episodes.keys()
    if not title_ids:
        return
    read = signal_references_get(
        region_id="", title_ids=(), episode_ids=(), variant_ids=(), season_titles=title_ids
    )
    references.season_episodes.update(read.season_episodes)
    references.season_releases.update(read.season_releases)


def _states_refolded(
    *,
    profile_id: int,
    title_ids: Collection[int],
    title_kinds: Mapping[int, str],
    references: SignalReferences,
    unstored: Sequence[SignalEvent] = (),
) -> tuple[dict[int, ProfileTitleState], set[int]]:
    """The profile's states of ``title_ids`` folded from its signal log alone, in order.

    The one refold: ``title_states_refold`` repairs stored states with it, and ingest folds
    with it the titles a late batch reaches back into (``_titles_folded_past``), its own
    events (``unstored``, not yet in the log) among them. Those go after the stored events
    of the same moment, as their larger ids order them in the log; so a batch's states are
    what a refold of the log finds once it is stored. ``references`` must hold the seasons
    of the series among ``title_ids``. An episode deleted since is left as its deletion
    leaves the state: neither the last one played (its progress gone with it) nor among the
    finished ones (``title_states_episode_prune``). Returns the states (a title with no
    event left, every one passed over, has none) and the indexes of ``unstored``'s
    rewatches. One read of the log, by the profile's index.
    """
    events = [
        # Negative: never the position of one of ``unstored`` folded beside them.
        logged_event(
            index=-pk,
            kind=kind,
            title_id=title_id,
            episode_id=episode_id,
            value=value,
            occurred_at=folded_at,
        )
        for pk, title_id, episode_id, kind, value, folded_at in title_states_log_read(
            profile_id=profile_id, title_ids=title_ids, kinds=STATE_KINDS
        )
    ]
    events.extend(unstored)  # the fold's sort is stable: after the stored at a tie
    folded: dict[int, ProfileTitleState] = {}
    rewatches = title_states_fold(
        profile_id=profile_id,
        states=folded,
        events=events,
        title_kinds=title_kinds,
        season_episodes=references.season_episodes,
        season_releases=references.season_releases,
        release_skew=signal_clock_skew(),
    )
    for title_id, state in folded.items():
        existing = set().union(*references.season_episodes.get(title_id, {}).values())
        if state.last_episode_id is not None and state.last_episode_id not in existing:
            state.last_episode_id = None
            state.progress = 0.0
        state.completed_episodes = [e for e in state.completed_episodes if e in existing]
    return folded, {index for index in rewatches if index >= 0}


# Every stored column of a signal, in COPY order; the dataset import and the demo seeder
# write the same rows and share this list.
SIGNAL_FIELDS = (
    "profile",
    "title",
    "episode",
    "kind",
    "value",
    "device",
    "occurred_at",
    "received_at",
    "client_event_id",
    "page_id",
    "row",
    "position",
    "artwork_variant",
    "is_rewatch",
)
_QUOTED_COLUMNS = ", ".join(f'"{Signal._meta.get_field(name).column}"' for name in SIGNAL_FIELDS)
_PG_COPY = f"COPY {Signal._meta.db_table} ({_QUOTED_COLUMNS}) FROM STDIN"


_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _in_utc(moment: dt.datetime) -> dt.datetime:
    """An aware datetime in UTC: PostgreSQL refuses offsets of 16 hours or more, Python not."""
    return moment if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _copy_text(
    profile_id: int, columns: EventColumns, rewatches: set[int], *, received_at: dt.datetime
) -> str:
    """The batch as COPY text, one line per event in ``SIGNAL_FIELDS`` order, in one pass.

    Kinds, devices and UUIDs were validated, so only the free-text ``row`` needs
    COPY's escaping (once per distinct row id).
    """
    received = received_at.isoformat()
    times = columns.occurred_at_text
    if times is None:
        times = [_in_utc(moment).isoformat() for moment in columns.occurred_at]
    rows = {row: row.translate(_COPY_ESCAPES) for row in set(columns.row)}
    null = _NULL
    return "".join(
        [
            f"{profile_id}\t{null if title is None else title}\t"
            f"{null if episode is None else episode}\t{kind}\t"
            f"{null if value is None else value}\t{device}\t{occurred_at}\t"
            f"{received}\t{event_id}\t{null if page is None else page}\t{rows[row]}\t"
            f"{null if position is None else position}\t{null if variant is None else variant}\t"
            f"{'t' if index in rewatches else 'f'}\n"
            for (
                index,
                kind,
                title,
                episode,
                value,
                device,
                occurred_at,
                event_id,
                page,
                row,
                position,
                variant,
            ) in zip(
                columns.index,
                columns.kind,
                columns.title_id,
                columns.episode_id,
                columns.value,
                columns.device,
                times,
                columns.client_event_id,
                columns.page_id,
                columns.row,
                columns.position,
                columns.artwork_variant_id,
                strict=True,
            )
        ]
    )


class _StoredBefore(Exception):
    """The COPY met an event the profile had already stored; its transaction must roll back."""


_EVENT_UNIQUE = "signal_event_unique_per_profile"


def _insert(
    profile: Profile, columns: EventColumns, rewatches: set[int], *, received_at: dt.datetime
) -> int:
    """Insert the events; returns how many were stored.

    ``received_at`` is the moment the fold ordered events stamped after it at: the
    log's receipt is that moment, so that what is refolded from the log (training's
    title states, a late upload's episode completions) places them where ingest did.

    On PostgreSQL, COPY: the cheapest way in. It has no ON CONFLICT, so the
    unique (profile, client_event_id) index refuses the whole COPY if any event
    was stored before; that raises ``_StoredBefore``.
    """
    if connection.vendor == "postgresql":
        text = _copy_text(profile.pk, columns, rewatches, received_at=received_at)
        try:
            with connection.cursor() as cursor, cursor.cursor.copy(_PG_COPY) as copy:
                copy.write(text)
        except psycopg.errors.UniqueViolation as clash:
            if clash.diag.constraint_name != _EVENT_UNIQUE:
                raise
            raise _StoredBefore from clash
        return len(columns)
    created = Signal.objects.bulk_create(
        [
            Signal(
                profile=profile,
                title_id=e.title_id,
                episode_id=e.episode_id,
                kind=e.kind,
                value=e.value,
                device=e.device,
                occurred_at=e.occurred_at,
                client_event_id=e.client_event_id,
                page_id=e.page_id,
                row=e.row,
                position=e.position,
                artwork_variant_id=e.artwork_variant_id,
                is_rewatch=e.index in rewatches,
            )
            for e in map(columns.event, range(len(columns)))
        ],
        ignore_conflicts=True,
    )
    return len(created)


_PROFILE_LOCK = f"SELECT 1 FROM {Profile._meta.db_table} WHERE id = %s FOR UPDATE"  # noqa: S608


def _profile_lock(profile_id: int) -> None:
    """Lock the profile's row until the transaction ends (SQLite locks the whole database).

    Raises ``Profile.DoesNotExist`` if the row is gone: a deletion committed after
    the request read the profile. The log has no foreign keys, so the batch stored
    anyway outlived the deletion, and its states broke theirs at commit (a 500).
    """
    if connection.features.has_select_for_update:
        with connection.cursor() as cursor:
            cursor.execute(_PROFILE_LOCK, [profile_id])
            if cursor.fetchone() is None:
                raise Profile.DoesNotExist(f"Profile {profile_id} was deleted.")


def signal_batch_record(*, profile: Profile, events: list[SignalEvent]) -> BatchResult:
    """Store a validated batch of events once: ``signal_columns_record`` for event objects."""
    return signal_columns_record(profile=profile, columns=EventColumns.from_events(events))


def signal_columns_record(*, profile: Profile, columns: EventColumns) -> BatchResult:
    """Store a shape-checked batch once, in one transaction, and update the derived state.

    Raises ``SignalBatchRejected``, storing nothing, if any event names a title,
    episode or artwork variant the profile may not signal about. Events naming a
    title or episode that does not exist are the exception: a device's offline
    queue holds events of things deleted since, which no resend can ever store,
    and refusing the batch took every other event with them. Those are left out
    and returned in ``rejected`` (what is above the profile's maturity limit reads
    as absent here too, as everywhere, and so does a title not licensed in the
    account's region at the event's time: the answer must not tell which ids are
    titles). An artwork variant that does not exist (or
    reads so) is only what the tile showed: its event is stored without it
    (``_unseen_variants``). The profile row
    is locked for the transaction: batches of one profile are applied one after
    another, so two devices resending the same events cannot both count them,
    and the derived state never loses an update. Batches of different profiles
    do not wait for each other.

    The derived state's foreign keys (its title, its last episode) are checked at
    commit: a title or episode deleted after the batch's references were checked
    refuses the commit, and nothing is stored. That was a 500; the batch is now
    checked and stored once more, so its events of what was deleted read as
    absent, as if the deletion had come before the check. Once: a second
    deletion racing the retry is as rare as a 500 should be. The log itself has
    no foreign keys (docs/signals.md): an event whose deleted id no state names
    is stored, as it would have been just before the deletion.

    Raises ``Profile.DoesNotExist``, storing nothing, if the profile is deleted
    before the batch locks it.
    """
    try:
        return _columns_record(profile, columns)
    except IntegrityError as failure:
        if not isinstance(failure.__cause__, psycopg.errors.ForeignKeyViolation):
            raise
        return _columns_record(profile, columns)


def signal_columns_references_check(*, profile: Profile, columns: EventColumns) -> EventErrors:
    """Every reference problem of well-formed events, for a batch refused for its shape.

    A batch with a malformed event is refused before its references are read, and its
    400 then named only the malformed events: a client that left out what the 400
    named was refused again, for an event of a title not licensed then, say, though
    docs/signals.md promises every bad event in the one answer.
    ``columns`` holds the events that passed the shape checks; the errors returned are
    those ``signal_columns_record`` would have refused or left out (ids that do not
    exist too: the batch is refused whole anyway; not an artwork variant that does not
    exist, which would be stored without it). Stores nothing and locks nothing.
    """
    if not columns:
        return EventErrors()
    _, _, absent, errors = _references_check(profile, columns)
    errors.extend(absent)
    return errors


def _references_check(
    profile: Profile, columns: EventColumns
) -> tuple[SignalReferences, EventColumns, EventErrors, EventErrors]:
    """Read what the batch names and judge it: the references, the batch without the
    artwork variants that read as absent (``_unseen_variants``), then the errors of
    ``_reference_errors``."""
    title_ids = set(columns.title_id)
    title_ids.discard(None)
    episode_ids = set(columns.episode_id)
    episode_ids.discard(None)
    variant_ids = set(columns.artwork_variant_id)
    variant_ids.discard(None)
    references = signal_references_get(
        region_id=profile.account.home_region_id,
        title_ids=title_ids,
        episode_ids=episode_ids,
        variant_ids=variant_ids,
        # The seasons of the titles whose episodes the batch may finish: by a completion,
        # or by credits reached (an episode passed, then moved on from, title_states_fold).
        season_titles={
            title_id
            for kind, title_id, episode_id, value in zip(
                columns.kind, columns.title_id, columns.episode_id, columns.value, strict=True
            )
            if episode_id
            and (
                kind == SignalKind.COMPLETE
                or (
                    kind == SignalKind.PROGRESS
                    and value is not None
                    and value > CONTINUE_MAX_PROGRESS
                )
            )
        }
        if episode_ids
        else (),
    )
    absent, errors, unseen = _reference_errors(profile, columns, references)
    return references, _unseen_variants(columns, unseen), absent, errors


def _columns_record(profile: Profile, columns: EventColumns) -> BatchResult:
    """Check the batch's references and store it: ``signal_columns_record``, tried once."""
    references, columns, absent, errors = _references_check(profile, columns)
    if errors:
        errors.extend(absent)  # refused whole: the 400 names every problem of every event
        raise SignalBatchRejected(errors)
    received = len(columns)
    if absent:
        columns = columns.take(
            [
                position
                for position, index in enumerate(columns.index)
                if index not in absent.by_index
            ]
        )
        if not columns:
            return BatchResult(received=received, new=0, duplicates=0, rejected=absent)
    storable = len(columns)
    if len(set(columns.client_event_id)) < storable:  # the same event twice in one batch
        columns = columns.take(_first_occurrences(columns.client_event_id))
    if connection.vendor == "postgresql":
        # Most batches are new: let the unique index, which COPY consults for every row
        # anyway, find a resent event instead of looking each one up first. If it finds
        # one, the transaction rolls back (before any state is written) and the batch is
        # stored again below without the events stored before.
        try:
            with transaction.atomic():
                _profile_lock(profile.pk)
                inserted = _store(profile, columns, references)
        except _StoredBefore:
            pass
        else:
            return BatchResult(
                received=received, new=inserted, duplicates=storable - inserted, rejected=absent
            )
    with transaction.atomic():
        _profile_lock(profile.pk)
        stored = signal_event_ids_stored(
            profile_id=profile.pk, client_event_ids=columns.client_event_id
        )
        if stored:
            columns = columns.take(_first_occurrences(columns.client_event_id, stored))
        inserted = _store(profile, columns, references) if columns else 0
    return BatchResult(
        received=received, new=inserted, duplicates=storable - inserted, rejected=absent
    )


_PG_EPISODE_PRUNE = (
    f"UPDATE {_STATE_TABLE} SET completed_episodes = COALESCE(("  # noqa: S608
    " SELECT jsonb_agg(f ORDER BY n) FROM jsonb_array_elements(completed_episodes)"
    " WITH ORDINALITY AS x(f, n) WHERE f <> to_jsonb(%(episode)s::bigint)), '[]'::jsonb),"
    " progress = CASE WHEN last_episode_id = %(episode)s THEN 0 ELSE progress END"
    f" WHERE title_id = (SELECT title_id FROM {Season._meta.db_table} WHERE id = %(season)s)"
    " AND (completed_episodes @> to_jsonb(%(episode)s::bigint)"
    " OR last_episode_id = %(episode)s AND progress <> 0)"
)


def title_states_episode_prune(*, episode_id: int, season_id: int) -> int:
    """Drop a deleted episode from its title's states; returns how many states changed.

    Its id would otherwise stay counted among the finished (the list has no foreign
    key), and "fewer finished than out" undercount what is left. Where it was the last
    episode played, its progress goes with it: the deletion clears the states'
    ``last_episode`` (SET_NULL), and the progress left naming no episode was read as
    that of the episode the series resumes on ("Resume S1:E1 at 40%" of an episode
    never played). The states of the title alone are read (by its index), so deleting
    an episode costs one statement.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_EPISODE_PRUNE, {"episode": episode_id, "season": season_id})
            return cursor.rowcount
    title_id = Season.objects.filter(pk=season_id).values_list("title_id", flat=True).first()
    pruned = [
        state
        for state in ProfileTitleState.objects.filter(title_id=title_id)
        if episode_id in state.completed_episodes
        or (state.last_episode_id == episode_id and state.progress != 0)
    ]
    for state in pruned:
        state.completed_episodes = [e for e in state.completed_episodes if e != episode_id]
        if state.last_episode_id == episode_id:
            state.progress = 0.0
    ProfileTitleState.objects.bulk_update(pruned, ["completed_episodes", "progress"])
    return len(pruned)


@dataclass(frozen=True)
class StateRefold:
    """What folding a (profile, title) state again from the log changes, or would."""

    profile_id: int
    title_id: int
    # Episodes the stored state counts finished and the log, folded again, does not.
    unfinished: list[int]
    # The stored fields that change (``completed_episodes`` compared as a set).
    fields: list[str]
    # Nothing of the log makes a state any more: every event of it was passed over.
    removed: bool
    # Episodes the log, folded again, counts finished and the stored state does not (a
    # passed episode moved on from, folded before the fold finished it).
    finished: list[int] = field(default_factory=list)


def _state_changes(stored: ProfileTitleState, folded: ProfileTitleState) -> list[str]:
    """The fields of ``STATE_FIELDS`` where ``folded`` differs from ``stored``."""
    changed = []
    for name in STATE_FIELDS:
        attname = ProfileTitleState._meta.get_field(name).attname
        before, after = getattr(stored, attname), getattr(folded, attname)
        if name == "completed_episodes":
            # Ingest appends in the order reports arrive, the refold in the order they
            # happened: the same episodes finished is the same state.
            before, after = set(before), set(after)
        if before != after:
            changed.append(name)
    return changed


def title_states_refold(
    *, profile_id: int, title_ids: Collection[int], dry_run: bool = False
) -> list[StateRefold]:
    """Fold the profile's stored states of ``title_ids`` again from its signal log alone.

    The repair of states folded before ingest refused a play, progress or completion
    of an episode not out at the event's time (December 2026): the fold passes over
    those now, as ingest does, and the states kept them; and of states folded before
    the fold finished a passed episode moved on from (December 2026); and of states
    folded before ratings at one instant went by kind (``_rating_replaces``, December
    2026), which kept the later in the log. Under the profile's lock, as
    ingest writes states, so a batch recorded meanwhile is folded in, not lost. Only
    the states the refold changes are written (so a second run writes nothing); a
    state of which nothing is left (every event passed over) is deleted, as ingest
    would never have made it. The rewatch flags of the signal rows are history and
    are not rewritten. With ``dry_run``, nothing is locked or written. Returns the
    states that change, or would.

    The refold is today's reading of the log: with today's seasons and release dates
    (an episode deleted since is neither the state's last episode nor among the
    finished ones, as its deletion leaves the state).
    """
    title_ids = sorted(set(title_ids))
    with transaction.atomic():
        if not dry_run:
            try:
                _profile_lock(profile_id)
            except Profile.DoesNotExist:
                return []
        stored = title_states_get(profile_id=profile_id, title_ids=title_ids)
        references = signal_references_get(
            region_id="",  # kinds and seasons only: no licence is asked for
            title_ids=stored.keys(),
            episode_ids=(),
            variant_ids=(),
            season_titles=stored.keys(),
        )
        title_kinds = {pk: kind for pk, (kind, _) in references.titles.items()}
        folded, _ = _states_refolded(
            profile_id=profile_id,
            title_ids=title_kinds.keys(),
            title_kinds=title_kinds,
            references=references,
        )
        changes, changed, removed = [], [], []
        for title_id in title_kinds:
            before, after = stored[title_id], folded.get(title_id)
            fields = list(STATE_FIELDS) if after is None else _state_changes(before, after)
            if not fields:
                continue
            done = set() if after is None else set(after.completed_episodes)
            changes.append(
                StateRefold(
                    profile_id=profile_id,
                    title_id=title_id,
                    unfinished=[e for e in before.completed_episodes if e not in done],
                    finished=[] if after is None else sorted(done - set(before.completed_episodes)),
                    fields=fields,
                    removed=after is None,
                )
            )
            if after is None:
                removed.append(title_id)
            else:
                changed.append(after)
        if not dry_run:
            if changed:
                title_states_save(states=changed)
            if removed:
                ProfileTitleState.objects.filter(
                    AnyOf(F("title_id"), removed), profile_id=profile_id
                ).delete()
    return changes
