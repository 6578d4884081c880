"""A profile's ranked recommendations: the Django side of the request path.

Queries per request: the active-version check (at most every few seconds),
the profile's recent signals, its title states, its languages; the caller
adds the localised names. Everything catalogue-wide comes from the process's
cached :class:`~recommendations.serving.bundle.ServingBundle`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import connection
from django.utils import timezone

from catalog.models import Episode, Season
from profiles.models import Profile
from recommendations.engine.candidates import CandidatePool
from recommendations.engine.confidence import SignalCode
from recommendations.engine.ranking import DEVICE_CLASSES
from recommendations.engine.row_ranking import ROW_TYPES
from recommendations.models import ProfileTitleState, Signal, SignalKind
from recommendations.selectors.signals import finished_but_for_credits
from recommendations.selectors.training import (
    epoch_expression,
    index_of,
    signal_weights,
    signals_from_arrays,
)
from recommendations.services.signals import CONTINUE_MAX_PROGRESS, CONTINUE_MIN_PROGRESS
from recommendations.serving.bundle import CatalogueArrays, ServingBundle
from recommendations.serving.cache import serving_bundle
from recommendations.serving.scoring import ProfileHistory, RankedPool, ScoringContext, rank_profile

# The newest signals read per request, impressions apart: enough for months of a heavy
# viewer's engagement, and a bound on the request's cost whatever the profile did.
HISTORY_MAX_SIGNALS = 3000
# The newest impressions read per request, bounded on their own: every page logs a few
# dozen, so under one bound they were most of a history (71% of a demo profile's) and
# pushed out the plays the fold-in needs. They only count how often a title was shown.
HISTORY_MAX_IMPRESSIONS = 1000
# Fold-in reads the same window as training.
_DEFAULT_WINDOW_DAYS = 365


@functools.cache
def _history_sql() -> str:
    """The profile's newest signals, in :func:`signal_queryset`'s columns, as plain SQL
    (see :func:`_history_sql_leaving_out`).

    Built once per process: constructing the equivalent queryset (a CASE over
    eleven kinds) costs more per request than running it. Two more columns
    make the homepage's row engagement countable from the same rows (the row
    type's index in ``ROW_TYPES``: -1 for no row, -2 for an unknown type; the
    device's index in ``DEVICE_CLASSES``), so it needs no query of its own.

    Everything but impressions is bounded by one limit, impressions by their
    own: a page logs a few dozen of them, and under a shared bound a heavy
    viewer's plays were pushed out by what they were merely shown.
    Parameters (:func:`_history_params`): profile id, since, until, limit,
    then the same for impressions.
    """
    return _history_sql_leaving_out(0)


def _history_sql_leaving_out(pages: int) -> str:
    """:func:`_history_sql`, less the signals naming any of ``pages`` page ids, left out
    before the bounds (each branch takes the ids after ``until``).

    Training's only (a page's request never read what named the page or a later one);
    serving reads :func:`_history_sql`, which has no such condition.
    """
    where = "WHERE profile_id = %s AND occurred_at >= %s AND occurred_at < %s AND "
    if pages:
        page = connection.ops.quote_name(Signal._meta.get_field("page_id").column)
        placeholders = ", ".join(["%s"] * pages)
        where += f"({page} IS NULL OR {page} NOT IN ({placeholders})) AND "
    return _history_sql_where(where)


def _history_sql_where(where: str) -> str:
    """:func:`_history_sql`'s two bounded branches, each under ``where`` (ending in ``AND``)
    and then its kind, newest first, each up to a ``LIMIT %s``."""
    quote = connection.ops.quote_name
    table = quote(Signal._meta.db_table)
    codes = " ".join(
        f"WHEN '{kind.value}' THEN {int(SignalCode[kind.name])}" for kind in SignalKind
    )
    row = quote("row")
    # A row id's type is what precedes its first colon (``because_you_watched:123``); one
    # cut and a simple CASE on it, not a prefix test per type (the history read's costliest
    # expression).
    if connection.vendor == "postgresql":
        row_type = f"split_part({row}, ':', 1)"
    else:
        row_type = f"substr({row}, 1, instr({row} || ':', ':') - 1)"
    row_types = " ".join(f"WHEN '{name}' THEN {i}" for i, name in enumerate(ROW_TYPES))
    devices = " ".join(f"WHEN '{name}' THEN {i}" for i, name in enumerate(DEVICE_CLASSES))
    epoch = epoch_expression("occurred_at").sql
    # Only constants of this module and quoted identifiers are interpolated.
    select = (
        f"SELECT profile_id, COALESCE(title_id, -1), COALESCE(episode_id, -1), "  # noqa: S608
        f"CASE kind {codes} END, value, {epoch}, is_rewatch, "
        f"CASE WHEN {row} = '' THEN -1 ELSE CASE {row_type} {row_types} ELSE -2 END END, "
        f"CASE device {devices} ELSE 0 END FROM {table} "
    )
    newest = " ORDER BY occurred_at DESC LIMIT %s"
    # Two bounded branches, each a range scan of its own partial index (the kind is a
    # literal, as in the indexes' conditions, so even a generic plan can use them) that
    # stops at its bound: on the (profile, time) index alone, a profile with few plays
    # and a year of impressions had every impression fetched to find its plays.
    impression = f"kind = '{SignalKind.IMPRESSION.value}'"
    return (
        f"SELECT * FROM ({select}{where}NOT ({impression}){newest}) AS engaged "  # noqa: S608
        f"UNION ALL SELECT * FROM ({select}{where}{impression}{newest}) AS shown"
    )


#: Columns of :attr:`HistoryRows.signals` beyond :func:`signals_from_arrays`'s seven.
ROW_TYPE_COLUMN, DEVICE_COLUMN = 7, 8


def too_little_history(history: ProfileHistory) -> bool:
    """Fewer than ``TONIGHT["CLUSTER_MIN_HISTORY_TITLES"]`` titles engaged with (not just shown)."""
    signals = history.signals
    engaged = (signals.title_index >= 0) & (signals.kind != SignalCode.IMPRESSION)
    minimum = int(settings.TONIGHT.get("CLUSTER_MIN_HISTORY_TITLES", 3))
    return np.unique(signals.title_index[engaged]).shape[0] < minimum


@dataclass(frozen=True, slots=True)
class Recommendation:
    title_id: int
    score: float
    match: int | None
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Recommendations:
    """The top of a profile's ranked pool, and which model produced it."""

    model_version: int
    ranker: str
    personalised: bool
    results: list[Recommendation]


@dataclass(frozen=True, slots=True)
class HistoryRows:
    """A profile's history as read from the database, before it is put on a title index.

    Kept apart from :class:`ProfileHistory` so that a request that changes model
    version (a cluster model's profile with too little history falls back to
    its region's) re-indexes what it read instead of reading it again.

    Attributes
    ----------
    signals : numpy.ndarray of float64, shape (n, 9)
        :func:`_history_sql`'s columns, newest first.
    states : numpy.ndarray of float64, shape (k, 8)
        Title id, completed (0 no, 1 yes, 2 yes and played again since: a rewatch
        under way), rewatch count, thumbs (1 up, -1 down, 0),
        last played (Unix seconds, NaN if never), progress percent where the
        title resumes: the film's, or the last played episode's, or 0 for a
        series whose last played episode is finished (it resumes on the next,
        as :func:`~recommendations.selectors.signals.continue_watching` says),
        unless the whole series is: then the last played episode's, which is
        below 100 only while it is being rewatched; then whether the last
        played episode is resumed (1: unfinished and not left in its credits,
        :func:`~recommendations.selectors.signals.last_episode_passed`; else 0),
        and how many episodes are finished or passed (the finished ones, and the
        last played if left in its credits: what is left of a series is the
        episodes out beyond them, as a film in its credits has nothing left).
    complete_after : float
        Unix time after which ``signals`` holds every signal of the profile
        other than impressions (bounded apart, ``HISTORY_MAX_IMPRESSIONS``):
        the window's start, or the oldest such signal read when
        ``HISTORY_MAX_SIGNALS`` cut the history short.
    impressions_cut : bool
        Whether ``HISTORY_MAX_IMPRESSIONS`` was reached (older impressions
        exist and were not read).
    at : float
        The moment read as of (Unix seconds): which seasons of a series are out.
    episodes : numpy.ndarray of float64, shape (m, 3)
        What a series' Continue Watching tile needs to know where it resumes
        (:func:`~recommendations.selectors.signals.resume_index`), for the series
        that may be in the row (:func:`_episodes_sql`): title id, episode id, and 1
        for its last episode played (2 if it was left in its credits, unfinished:
        passed) or 0 for an episode finished. The finished ones only where the rule
        reads them: not while the last episode played is resumed (unfinished and not
        in its credits) or being rewatched, whatever else is finished. The passed
        flags also tell which series were finished but for those credits
        (:attr:`~recommendations.serving.scoring.ProfileHistory.completed`).
        As they are now, whatever ``at``, like the states (training, which puts the
        states as of each page in their place, does not use these); which series may be
        in the row counts the seasons out by the later of now and ``at``.
    """

    signals: npt.NDArray[np.float64]
    states: npt.NDArray[np.float64]
    complete_after: float
    # Required: a default of "never" would count every announced season as out.
    at: float
    impressions_cut: bool = False
    episodes: npt.NDArray[np.float64] = dataclasses.field(
        default_factory=lambda: np.empty((0, 3), dtype=np.float64)
    )


def profile_history_rows(
    *,
    profile_id: int,
    at: dt.datetime | None,
    unread_pages: Sequence[uuid.UUID] = (),
    with_states: bool = True,
) -> HistoryRows:
    """The profile's newest signals and all its title states: one round trip.

    Signals are bounded (``HISTORY_MAX_SIGNALS``, impressions apart by
    ``HISTORY_MAX_IMPRESSIONS``, and the training window) so a heavy viewer
    costs what anyone costs; what must survive the bound (titles
    in progress, completed, thumbed) is in the derived title states, which
    fold the whole history. Both are read by one statement (:func:`_history_read_sql`):
    a second round trip cost more than either indexed lookup.

    ``unread_pages`` is training's: a logged page's request never read the signals
    naming it (or a later page), which a client clock behind the server's stamps before
    the page. They are left out before the bounds, as that request's read was bounded
    without them. Serving passes none and reads the statement it always reads.

    ``with_states=False`` is training's too: it puts the states as of each page in their
    place (folded from the signals), so reading today's states and their episodes for
    every logged page was two scans of the profile's title states for nothing. The rows
    then have none.
    """
    now = at or timezone.now()
    window = history_window()
    until = at or now + dt.timedelta(days=1)  # "now" includes events with a little clock skew
    since = now - window
    # Impressions only count what was seen before the page: a client clock running ahead
    # must not take places under their bound that the page then leaves uncounted.
    field = Signal._meta.get_field("page_id")
    unread = [field.get_db_prep_value(page, connection) for page in unread_pages]
    params = _history_params(profile_id, since, until, shown_until=now, unread=unread)
    if not with_states:
        statement = _history_sql_leaving_out(len(unread))
    else:
        # The episodes branch counts the seasons out on the later of now and the page's
        # moment (UTC): a page for a later evening needs a series whose season is out by
        # then, and a page of the past reads what is out now, as the states are now's.
        out_on = max(now, timezone.now()).astimezone(dt.UTC).date()
        day = out_on if connection.vendor == "postgresql" else out_on.isoformat()
        params += [profile_id, day, profile_id]
        if unread:
            statement = _history_read_sql_over(_history_sql_leaving_out(len(unread)))
        else:
            statement = _history_read_sql()
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    return _history_rows(np.array(rows, dtype=np.float64).reshape(-1, 9), since=since, now=now)


def _history_rows(
    both: npt.NDArray[np.float64], *, since: dt.datetime, now: dt.datetime
) -> HistoryRows:
    """:class:`HistoryRows` from the rows of :func:`_history_read_sql` (or of its signals
    alone), in the order the database returned them."""
    limit = HISTORY_MAX_SIGNALS
    marker = both[:, 0]  # a signal's profile id; -1 a title state, -2 an episode of one
    signals = both[marker >= 0]
    if signals.shape[0] > 1:
        # Newest first across both branches (and UNION ALL promises no order anyway).
        signals = signals[np.argsort(-signals[:, 5], kind="stable")]
    shown = signals[:, 3] == SignalCode.IMPRESSION
    engaged = signals[~shown]
    cut = engaged.shape[0] >= limit
    return HistoryRows(
        signals=signals,
        states=both[marker == _STATE][:, _STATE_COLUMNS],
        episodes=both[marker == _STATE_EPISODE][:, 1:4],
        # Signals tied with the oldest one read may be left out, so not that instant itself.
        complete_after=float(engaged[-1, 5]) if cut else since.timestamp() - 1e-6,
        impressions_cut=int(np.count_nonzero(shown)) >= HISTORY_MAX_IMPRESSIONS,
        at=now.timestamp(),
    )


@dataclass(frozen=True, slots=True)
class HistoryAsOf:
    """A logged page's history read for training: the profile's signals before ``at``,
    less those naming ``unread_pages`` (see :func:`profile_history_rows`)."""

    profile_id: int
    at: dt.datetime
    unread_pages: Sequence[uuid.UUID]


def profiles_history_rows(reads: Sequence[HistoryAsOf]) -> list[HistoryRows]:
    """``profile_history_rows(profile_id=..., at=..., unread_pages=..., with_states=False)``
    of each of ``reads``, the same rows in the same order, in one statement.

    Training reads the history of every logged page it learns from (thousands): a
    statement each was a round trip each, most of the read's time on a busy machine. On
    PostgreSQL each read is the same two bounded branches, run per page by a ``LATERAL``
    join over the pages passed as arrays (one statement text whatever the pages, so one
    prepared statement), each page's unread ids a slice of one array; the rows come back
    page after page, each page's in its own branches' order. Elsewhere, a read each.
    """
    if connection.vendor != "postgresql":
        return [
            profile_history_rows(
                profile_id=read.profile_id,
                at=read.at,
                unread_pages=read.unread_pages,
                with_states=False,
            )
            for read in reads
        ]
    if not reads:
        return []
    window = history_window()
    with connection.cursor() as cursor:
        cursor.execute(_histories_sql(), _histories_params(reads))
        rows = cursor.fetchall()
    both = np.array(rows, dtype=np.float64).reshape(-1, 10)
    # Page by page, each page's rows in the order they came (a stable sort).
    both = both[np.argsort(both[:, 0], kind="stable")]
    bounds = np.searchsorted(both[:, 0], np.arange(len(reads) + 1))
    return [
        _history_rows(both[bounds[i] : bounds[i + 1], 1:], since=read.at - window, now=read.at)
        for i, read in enumerate(reads)
    ]


def _histories_params(reads: Sequence[HistoryAsOf]) -> list[object]:
    """:func:`_histories_sql`'s parameters for ``reads``."""
    window = history_window()
    field = Signal._meta.get_field("page_id")
    unread: list[object] = []
    first, last = [], []
    for read in reads:
        first.append(len(unread) + 1)  # a slice of a PostgreSQL array counts from 1
        unread.extend(field.get_db_prep_value(page, connection) for page in read.unread_pages)
        last.append(len(unread))  # a slice ending before it starts is empty
    return [
        unread,
        list(range(len(reads))),
        [read.profile_id for read in reads],
        [read.at - window for read in reads],
        [read.at for read in reads],
        first,
        last,
        HISTORY_MAX_SIGNALS,
        HISTORY_MAX_IMPRESSIONS,
    ]


@functools.cache
def _histories_sql() -> str:
    """:func:`profiles_history_rows`' statement (PostgreSQL's): each page's
    :func:`_history_sql_leaving_out` with its own parameters taken from the page's row.

    Parameters: every page's unread ids (one array), then the pages' positions, profiles,
    window starts, moments, and their unread ids' first and last positions in that array
    (arrays, one element a page), then the two bounds.
    """
    page = connection.ops.quote_name(Signal._meta.get_field("page_id").column)
    # The outer columns' names are not the signals' (profile_id, page_id, occurred_at), so
    # within the branches those name the signal's.
    where = (
        "WHERE profile_id = q._profile AND occurred_at >= q._since "
        "AND occurred_at < q._until AND "
        f"({page} IS NULL OR NOT ({page} = ANY(q._unread))) AND "
    )
    pages = (
        "SELECT u.*, (%s::uuid[])[u._first:u._last] AS _unread FROM unnest("
        "%s::integer[], %s::bigint[], %s::timestamptz[], %s::timestamptz[], "
        "%s::integer[], %s::integer[]) AS u(_page, _profile, _since, _until, _first, _last)"
    )
    return (
        f"WITH q AS ({pages}) SELECT q._page, h.* FROM q "  # noqa: S608
        f"CROSS JOIN LATERAL ({_history_sql_where(where)}) AS h"
    )


def history_window() -> dt.timedelta:
    """How far back a request reads signals: the training window, so fold-in sees what
    training saw."""
    return dt.timedelta(days=settings.TONIGHT.get("TRAINING_WINDOW_DAYS", _DEFAULT_WINDOW_DAYS))


def _history_params(
    profile_id: int,
    since: dt.datetime,
    until: dt.datetime,
    *,
    shown_until: dt.datetime,
    unread: Sequence[object] = (),
) -> list[object]:
    """:func:`_history_sql`'s parameters (with ``unread`` page ids,
    :func:`_history_sql_leaving_out`'s): the bounds are read now, so tests can lower them."""
    return [
        *(profile_id, since, until, *unread, HISTORY_MAX_SIGNALS),
        *(profile_id, since, shown_until, *unread, HISTORY_MAX_IMPRESSIONS),
    ]


#: Where :func:`_history_read_sql` puts the title states' columns (title id, completed,
#: rewatch count, thumbs, last played, progress, last episode resumed, episodes
#: finished or passed) among the signals' nine, by type.
_STATE_COLUMNS = [1, 2, 3, 7, 5, 4, 6, 8]
#: The first column of a title state's row and of an episode's (a signal's is its profile).
_STATE, _STATE_EPISODE = -1, -2
#: :attr:`HistoryRows.episodes`' flag of a last episode played left in its credits (passed).
_EPISODE_PASSED = 2


@functools.cache
def _history_read_sql() -> str:
    """:func:`_history_sql`'s signals, then the profile's title states, in one statement.

    States are read as numbers (:attr:`HistoryRows.states`) rather than
    datetimes and strings, so all the rows become one numpy array without a
    Python loop per row. A state row has -1 for the profile id (a signal's is
    the profile's) and its eight numbers in columns of the same types as the
    signals' (:data:`_STATE_COLUMNS`), so both branches of the ``UNION ALL``
    are one row type. Then the episodes Continue Watching resumes from
    (:attr:`HistoryRows.episodes`), a row each, -2 for the profile id.
    Parameters: :func:`_history_params`, then the profile id twice.
    """
    return _history_read_sql_over(_history_sql())


def _history_read_sql_over(signals: str) -> str:
    """``signals`` (:func:`_history_sql` or a variant of it), then the title states, then
    their episodes."""
    quote = connection.ops.quote_name
    table = quote(ProfileTitleState._meta.db_table)
    up, down = ProfileTitleState.Thumbs.UP.value, ProfileTitleState.Thumbs.DOWN.value
    epoch = epoch_expression("last_played_at").sql
    field = ProfileTitleState._meta.get_field
    episode = quote(field("last_episode").column)
    finished = quote(field("completed_episodes").column)
    progress = quote(field("progress").column)
    # Only constants of this module and quoted identifiers are interpolated.
    resumed, passed = _episode_resumed_sql(), _episode_passed_sql()
    if connection.vendor == "postgresql":
        finished_count = f"jsonb_array_length({finished})"
    else:
        finished_count = f"json_array_length({finished})"
    # The fold leaves 100 after an episode's completion; a series then resumes at the start
    # of its next episode, as after one left in its credits. A finished series resumes only
    # the episode being rewatched, at its own progress (100 when nothing is). A state with
    # neither a last episode nor a finished one is a film's.
    resume = (
        f"CASE WHEN {episode} IS NOT NULL AND ({resumed} OR completed_at IS NOT NULL) "
        f"THEN {progress} "
        f"WHEN {episode} IS NOT NULL OR {finished} <> '[]' THEN 0 ELSE {progress} END"
    )
    states = (
        "SELECT -1, title_id, CASE WHEN completed_at IS NULL THEN 0 "  # noqa: S608
        "WHEN last_played_at > completed_at THEN 2 ELSE 1 END, "
        f"rewatch_count, {resume}, {epoch}, ({episode} IS NOT NULL AND {resumed}), "
        f"CASE thumbs WHEN '{up}' THEN 1 WHEN '{down}' THEN -1 ELSE 0 END, "
        f"{finished_count} + CASE WHEN {episode} IS NOT NULL AND {passed} THEN 1 ELSE 0 END "
        f"FROM {table} WHERE profile_id = %s"
    )
    return f"SELECT * FROM ({signals}) AS newest UNION ALL {states} UNION ALL {_episodes_sql()}"  # noqa: S608


def _episode_open_sql() -> str:
    """Whether a title state's last episode played is not among those it finished."""
    quote = connection.ops.quote_name
    field = ProfileTitleState._meta.get_field
    episode = quote(field("last_episode").column)
    finished = quote(field("completed_episodes").column)
    # Only quoted identifiers are interpolated.
    if connection.vendor == "postgresql":
        # A JSON array contains a number it holds as an element (jsonb's @>).
        return f"NOT ({finished} @> to_jsonb({episode}))"
    return f"NOT EXISTS (SELECT 1 FROM json_each({finished}) AS f WHERE f.value = {episode})"  # noqa: S608


def _episode_resumed_sql() -> str:
    """Whether a title state's last episode played is resumed: unfinished, and not left in
    its credits (:func:`~recommendations.selectors.signals.last_episode_passed`)."""
    progress = connection.ops.quote_name(ProfileTitleState._meta.get_field("progress").column)
    # Only quoted identifiers and a constant of this module are interpolated.
    return f"({_episode_open_sql()} AND {progress} <= {CONTINUE_MAX_PROGRESS})"


def _episode_passed_sql() -> str:
    """Whether a title state's last episode played was left in its credits, unfinished
    (:func:`~recommendations.selectors.signals.last_episode_passed`): Play goes on past
    it, as past a finished one."""
    progress = connection.ops.quote_name(ProfileTitleState._meta.get_field("progress").column)
    return f"({_episode_open_sql()} AND {progress} > {CONTINUE_MAX_PROGRESS})"


def _episodes_sql() -> str:
    """The :attr:`HistoryRows.episodes` branch of :func:`_history_read_sql`.

    One pass over the profile's title states, each giving the elements of one JSON
    array: the episodes it finished, where :func:`~recommendations.selectors.signals.
    resume_index` reads them, and its last episode played, negated to tell it apart
    (flagged 2, not 1, when it was left in its credits: passed).
    Rows only for what may be in Continue Watching: played, not rated down, and not
    finished unless rewatched or with episodes out beyond those finished (counted
    here as the page counts them, so that the many episodes of the series a heavy
    viewer finished are not read for nothing). A film has none. Parameters: the day
    whose seasons are out (the later of today and the page's day, UTC: the database's
    own ``now()`` dropped a series whose new season a page of a later evening counts
    as out), then the profile id.
    """
    quote = connection.ops.quote_name
    table = quote(ProfileTitleState._meta.db_table)
    field = ProfileTitleState._meta.get_field
    episode = quote(field("last_episode").column)
    finished = quote(field("completed_episodes").column)
    progress = quote(field("progress").column)
    down = ProfileTitleState.Thumbs.DOWN.value
    resumed, passed = _episode_resumed_sql(), _episode_passed_sql()
    # A last episode unfinished (and not left in its credits), or rewatched (a finished
    # title played again since and stopped midway), is resumed whatever else is finished:
    # those need no list.
    rewatching = (
        f"(completed_at IS NOT NULL AND last_played_at > completed_at "
        f"AND {progress} BETWEEN {CONTINUE_MIN_PROGRESS} AND {CONTINUE_MAX_PROGRESS})"
    )
    wanted = f"NOT ({episode} IS NOT NULL AND ({resumed} OR {rewatching}))"
    episodes, seasons = quote(Episode._meta.db_table), quote(Season._meta.db_table)
    if connection.vendor == "postgresql":
        count = f"jsonb_array_length({finished})"
    else:
        count = f"json_array_length({finished})"
    # Episodes out on the day given (a season from its release date, UTC), as
    # SeasonReleases counts: the later of today and the page's day.
    today = "%s"
    out = (
        f"(SELECT count(*) FROM {episodes} oe JOIN {seasons} os ON os.id = oe.season_id "  # noqa: S608
        f"WHERE os.title_id = s.title_id "
        f"AND (os.release_date IS NULL OR os.release_date <= {today}))"
    )
    # CASE takes its branches in order: a state with no episode played and none finished
    # (every film) lists nothing and counts nothing; the count only for a finished series
    # not rewatched.
    none = (
        f"CASE WHEN {episode} IS NULL AND {count} = 0 THEN '[]' "
        f"WHEN completed_at IS NOT NULL AND NOT {rewatching} AND {count} >= {out} THEN '[]' ELSE "
    )
    if connection.vendor == "postgresql":
        listed = (
            f"{none}(CASE WHEN {wanted} THEN {finished} ELSE '[]' END) || "
            f"(CASE WHEN {episode} IS NULL THEN '[]' ELSE jsonb_build_array(-{episode}) END) "
            "END"
        )
        elements = f"jsonb_array_elements_text({listed}) AS e(ref)"
        ref = "e.ref::bigint"
    else:
        listed = (
            f"{none}json_insert(CASE WHEN {wanted} THEN {finished} ELSE '[]' END, "
            f"'$[#]', -{episode}) END"
        )
        elements = f"json_each({listed}) AS e"
        ref = "e.value"
    return (
        f"SELECT -2, title_id, abs({ref}), "  # noqa: S608
        f"CASE WHEN {ref} >= 0 THEN 0 WHEN {passed} THEN 2 ELSE 1 END, "
        f"0, 0, false, 0, 0 FROM {table} AS s, {elements} WHERE profile_id = %s "
        f"AND last_played_at IS NOT NULL AND thumbs <> '{down}' AND {ref} IS NOT NULL"
    )


def history_on_index(
    rows: HistoryRows, *, profile_id: int, bundle: ServingBundle, catalogue: CatalogueArrays
) -> ProfileHistory:
    """``rows`` on the bundle's title index: no queries."""
    signals = signals_from_arrays(
        rows.signals[:, :ROW_TYPE_COLUMN],
        profiles=np.array([profile_id], dtype=np.int64),
        titles=bundle.index.title_ids,
        episodes=catalogue.episodes,
        title_runtime_hours=catalogue.facts.runtime_hours,
    )
    states = rows.states
    title = index_of(bundle.index.title_ids, states[:, 0])
    known = title >= 0
    completed = states[:, 1] > 0
    replaying = states[:, 1] > 1  # finished, and played again since
    rewatched = states[:, 2] > 0
    thumbs_up, thumbs_down = states[:, 3] > 0, states[:, 3] < 0
    last_played = states[:, 4]  # NaN: never played
    progress = states[:, 5]
    # The last episode played is resumed: not finished, nor left in its credits.
    last_open = states[:, 6] > 0
    on_index = np.where(known, title, 0)
    series = catalogue.facts.is_series[on_index]
    # A series has an episode left while fewer of its episodes are finished (or passed: the
    # last played, left in its credits) than are out (a season counts from its release
    # date): a season announced is nothing left, one out since the series was finished (or
    # added to the catalogue since) is.
    episodes_left = series & (states[:, 7] < catalogue.releases.episodes_out(rows.at)[on_index])
    # A series is resumed while an episode is left, a film while its progress is between
    # a sample and the credits; a finished one again once played since and stopped
    # midway (a rewatch's play resets progress to 0). Progress alone would bring a film
    # back on the progress a player sends during the credits after its completion.
    midway = (progress >= CONTINUE_MIN_PROGRESS) & (progress <= CONTINUE_MAX_PROGRESS)
    rewatching = completed & replaying & midway
    in_progress = (
        ~np.isnan(last_played)
        & ~thumbs_down
        & (rewatching | episodes_left | ~series & ~completed & midway)
    )
    # A finished series back for a new season resumes the first episode left, at 0,
    # unless a rewatch is under way or the episode last played is one to resume (not
    # finished, nor left in its credits).
    progress = np.where(completed & episodes_left & ~rewatching & ~last_open, 0.0, progress)
    # Progress naming no episode of a series (none played, none finished or passed) is not
    # resumed past the credits (episode_resume_progress): a deleted episode's 100%.
    unnamed = series & ~completed & ~last_open & (states[:, 7] == 0)
    progress = np.where(unnamed & (progress > CONTINUE_MAX_PROGRESS), 0.0, progress)
    # Watched to the end: finished, or finished but for the credits (a film stopped in
    # them, a series in its last episode played's). Every reader of "finished" on the page
    # (the candidates, the discovery rows, Watch Again, the seeds, the artwork's taste,
    # Continue Watching's recency) reads this one array, so either is a finished title
    # everywhere; read from completed_at alone, it was offered again as never watched.
    film_in_credits = ~series & ~completed & (states[:, 5] > CONTINUE_MAX_PROGRESS)
    watched = (
        completed
        | film_in_credits
        | _credits_finished(
            rows, title, known=known, candidates=series & ~completed, catalogue=catalogue
        )
    )
    return ProfileHistory(
        signals=signals,
        state_title=title[known],
        completed=watched[known],
        rewatch_worthy=(rewatched | thumbs_up)[known],
        thumbs_down=thumbs_down[known],
        in_progress=in_progress[known],
        last_played=last_played[known],
        progress=progress[known],
        thumbs_up=thumbs_up[known],
        episodes_finished=states[known, 7].astype(np.int32),
    )


def _credits_finished(
    rows: HistoryRows,
    title: npt.NDArray[np.integer],
    *,
    known: npt.NDArray[np.bool_],
    candidates: npt.NDArray[np.bool_],
    catalogue: CatalogueArrays,
) -> npt.NDArray[np.bool_]:
    """Which of ``rows.states`` are series finished but for the credits of their last episode
    played (:func:`~recommendations.selectors.signals.finished_but_for_credits`), shape (k,).

    Of the ``candidates`` (unfinished series), the read flags the ones whose last episode
    played is passed (:attr:`HistoryRows.episodes`), a few at most, so the loop is over a
    handful. The read lists no episode of a title rated down (the page leaves it out of
    the pool, the rows and the seeds, finished or not), nor any in training (no feature
    reads whether a title is finished).
    """
    flagged = np.zeros(rows.states.shape[0], dtype=bool)
    passed = rows.episodes[rows.episodes[:, 2] == _EPISODE_PASSED, 0]
    if not passed.shape[0]:
        return flagged
    series = catalogue.series
    states = rows.states
    for i in np.flatnonzero(candidates & known & np.isin(states[:, 0], passed)).tolist():
        flagged[i] = finished_but_for_credits(
            last_passed=True,
            finished=False,
            episodes_done=int(states[i, 7]),
            released=series.release[series.of(int(title[i]))].tolist(),
            at=float(states[i, 4]),
        )
    return flagged


def profile_history(
    *, profile: Profile, bundle: ServingBundle, catalogue: CatalogueArrays, at: dt.datetime | None
) -> ProfileHistory:
    """The profile's recent signals and title states on the bundle's title index: one query."""
    rows = profile_history_rows(profile_id=profile.pk, at=at)
    return history_on_index(rows, profile_id=profile.pk, bundle=bundle, catalogue=catalogue)


@dataclass(frozen=True, slots=True)
class ProfileServing:
    """The model version that serves one profile now, and the profile's history on it.

    Attributes
    ----------
    bundle : ServingBundle
        Its ``version_id`` is the version to report (response, page log).
    catalogue : CatalogueArrays
        The bundle's catalogue arrays.
    history : ProfileHistory
        On ``bundle``'s title index.
    rows : HistoryRows
        What was read, for the homepage's row engagement.
    """

    bundle: ServingBundle
    catalogue: CatalogueArrays
    history: ProfileHistory
    rows: HistoryRows


def profile_serving(
    *, profile: Profile, at: dt.datetime | None, bundle: ServingBundle | None = None
) -> ProfileServing:
    """Pick the version that serves ``profile``: its cluster's, else its region's, else global.

    The one serving rule of every request path (ranked list, homepage), so the
    two never disagree about which model a profile gets. A profile whose
    cluster has an active version but who engaged with too few titles
    (:func:`too_little_history`) is served by the region's model instead.
    History is read once (one statement) whichever version wins.

    ``profile`` needs ``account`` loaded. ``bundle``, a version chosen instead
    (:func:`~recommendations.serving.cache.version_bundle`: the console's preview of
    another version), serves the profile whatever its history: the question is what
    that version would show, so no rule picks another.

    Raises
    ------
    recommendations.serving.cache.NoActiveModel
    """
    region_code = profile.account.home_region_id
    refresh = float(settings.TONIGHT.get("CATALOGUE_REFRESH_SECONDS", 300.0))
    chosen = bundle is not None
    if bundle is None:
        bundle = serving_bundle(region_code, profile.taste_cluster_id)
    bundle, catalogue = bundle.served(refresh)
    rows = profile_history_rows(profile_id=profile.pk, at=at)
    history = history_on_index(rows, profile_id=profile.pk, bundle=bundle, catalogue=catalogue)
    if not chosen and profile.taste_cluster_id is not None and too_little_history(history):
        # A cluster model is fitted to its community's co-viewing; a profile that has
        # shown next to nothing yet is better served by the broader region model.
        regional = serving_bundle(region_code)
        if regional.version_id != bundle.version_id:
            bundle, catalogue = regional.served(refresh)
            history = history_on_index(
                rows, profile_id=profile.pk, bundle=bundle, catalogue=catalogue
            )
    return ProfileServing(bundle=bundle, catalogue=catalogue, history=history, rows=rows)


@functools.cache
def _languages_sql() -> str:
    """The profile's preferred language codes, from the many-to-many table, as plain SQL."""
    through = Profile.preferred_languages.through._meta
    quote = connection.ops.quote_name
    # Only quoted identifiers are interpolated.
    return (
        f"SELECT {quote(through.get_field('language').column)} "  # noqa: S608
        f"FROM {quote(through.db_table)} WHERE {quote(through.get_field('profile').column)} = %s"
    )


def profile_preferred_languages(*, profile_id: int) -> set[str]:
    """The profile's preferred language codes: one query, without building a queryset.

    The ORM's join-and-order query costs more to construct than to run on
    every homepage; the codes are all the request needs.
    """
    with connection.cursor() as cursor:
        cursor.execute(_languages_sql(), [profile_id])
        return {row[0] for row in cursor.fetchall()}


def profile_language_index(
    *, profile: Profile, catalogue: CatalogueArrays, language_codes: set[str] | None = None
) -> npt.NDArray[np.int16]:
    """The profile's languages (preferred and display) as indices of the catalogue's codes.

    ``language_codes`` are the preferred languages when the caller has them
    already; otherwise they are read (one query).
    """
    if language_codes is None:
        language_codes = profile_preferred_languages(profile_id=profile.pk)
    codes = set(language_codes)
    if profile.display_language_id:
        codes.add(profile.display_language_id)
    return np.array(
        [i for i, code in enumerate(catalogue.facts.language_codes) if code in codes],
        dtype=np.int16,
    )


def profile_scoring_context(
    *,
    profile: Profile,
    catalogue: CatalogueArrays,
    device: str,
    at: dt.datetime,
    context_at: dt.datetime | None = None,
    language_codes: set[str] | None = None,
) -> ScoringContext:
    """Who asks, where and when, for a request of ``profile`` scored on ``catalogue``.

    The homepage, the recommendations API and the console's "why" page all score a
    profile's request with this context, so that the titles a profile is explained
    or recommended are ranked as its homepage ranks them. ``context_at`` and
    ``language_codes``: see :class:`ScoringContext` and :func:`profile_language_index`.
    """
    return ScoringContext(
        region_code=profile.account.home_region_id,
        cluster_id=profile.taste_cluster_id,
        maturity_limit=profile.maturity_limit,
        language_index=profile_language_index(
            profile=profile, catalogue=catalogue, language_codes=language_codes
        ),
        device=device,
        at=at,
        pool_size=int(settings.TONIGHT.get("CANDIDATE_POOL_SIZE", 500)),
        context_at=context_at,
    )


def profile_ranked_pool(
    *, profile: Profile, device: str, at: dt.datetime | None = None
) -> tuple[ServingBundle, RankedPool]:
    """The profile's whole ranked candidate pool, from the version :func:`profile_serving` picks.

    Raises
    ------
    recommendations.serving.cache.NoActiveModel
    """
    serving = profile_serving(profile=profile, at=at)
    context = profile_scoring_context(
        profile=profile, catalogue=serving.catalogue, device=device, at=at or timezone.now()
    )
    pool = rank_profile(
        bundle=serving.bundle,
        catalogue=serving.catalogue,
        history=serving.history,
        context=context,
        weights=signal_weights(),
    )
    return serving.bundle, pool


def recommend_for_profile(
    *, profile: Profile, device: str, at: dt.datetime | None = None, n: int = 20
) -> Recommendations:
    """The profile's top ``n`` titles with score (P(play)), "% match" and candidate sources.

    ``profile`` needs its ``account`` loaded (``profile_for_request`` does).
    """
    bundle, pool = profile_ranked_pool(profile=profile, device=device, at=at)
    top = slice(0, n)
    title_ids = bundle.index.title_ids[pool.title_index[top]].tolist()
    return Recommendations(
        model_version=bundle.version_id,
        ranker=bundle.ranker.mode,
        personalised=pool.personalised,
        results=[
            Recommendation(
                title_id=title_id,
                score=float(score),
                match=match,
                sources=CandidatePool.source_names(int(bits)),
            )
            for title_id, score, match, bits in zip(
                title_ids,
                pool.probability[top].tolist(),
                pool.shown_match(np.arange(min(n, len(pool)))),
                pool.sources[top].tolist(),
                strict=True,
            )
        ],
    )
