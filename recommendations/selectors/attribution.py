"""Attribution: which logged impressions led to a play, in bulk, as arrays.

A play start is credited to the page that showed its title:

- **exactly**, when the client sent the page's ``page_id`` with the play
  (and, when it sent ``row``, to that row's impression of the title), provided
  the page is the same profile's and was shown at most
  ``TONIGHT["ATTRIBUTION_WINDOW_SECONDS"]`` (the session window) before the
  play, or at most the clock skew after it
  (:func:`~recommendations.selectors.signals.signal_clock_skew`: a client only
  knows a page's id once it has the page, so its play is stamped earlier only
  when its clock is behind the server's). A ``page_id`` of another
  profile's page, of a page later than that or of no logged page is ignored; a
  valid one is final (the play is credited to no other page, even when the
  named page did not show the title);
- otherwise to the **latest page** of the same profile that showed the title
  at most the session window before the play and on which the viewer could have
  seen it by then (its client reported the title on screen before the play, or
  had reported no tile of the page by then), else to the latest that showed it:
  to the showing in the play's ``row`` when that page showed the title there,
  else to the first showing. A page that showed the title below what its viewer
  reached, after one on which the viewer saw it, used to take the play: there the
  play was no sample (its tile never seen), and the page that led to it kept a
  miss.

A page that shows a title twice (rows after the first screen may repeat one)
had one outcome for it, so each (page, title) is credited at most once, at one
showing, and a later play of the title does not credit another. By either rule
that showing is the one in the row the client says it played from, when the
page showed the title there: the row ranker's engagement features count the play
for that row (they read the client's ``row``), so its label must too. The session
rule used to credit the first showing regardless, and a play from the third row
was a play from the first in the labels, from the third in the features. A play
that names no such row is credited to the first showing the client reported on
screen (an ``impression`` naming the page, see below), else to the first: the
viewer played the title it saw, not the copy at slot 15 of a row above.

The join is done over a time window in bulk — pages and plays are each read
with one range query (the BRIN indexes on their timestamps) and matched with
sorted searches in numpy — never one signal at a time, so attributing a day of
traffic costs the same few queries as attributing a minute. A page's labels do
not depend on the range it is read in (see :func:`page_impressions_attributed`),
so a play is credited once however the pages are cut into ranges.

The result labels the title ranker's training rows, the row ranker's (a row
is engaged if any of its impressions was played) and, later, the artwork
bandit's rewards (each impression carries its variant and propensity).

It also says which of a page's items the viewer saw (``AttributedImpressions.exposed``):
a page logs every tile of its rows (typically 12 x 20), a viewer sees a few rows of a
few tiles, and a tile never on screen is no miss. The client's ``impression`` signals
naming the page say which were (:func:`_expose`), and so does a play naming the page (not
one matched by the session rule alone); a page whose client sent no impression naming it
keeps every tile, as before.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import connection
from django.db.models import F, FloatField, Func

from config.lookups import AnyOf
from recommendations.engine.ranking import DEVICE_CLASSES
from recommendations.engine.row_ranking import row_type_index
from recommendations.models import PageLog, Signal, SignalKind
from recommendations.selectors.signals import signal_clock_skew


def attribution_window() -> dt.timedelta:
    """The session window (``TONIGHT["ATTRIBUTION_WINDOW_SECONDS"]``): indexed, as settings
    always define it, so its default is written once, there."""
    return dt.timedelta(seconds=float(settings.TONIGHT["ATTRIBUTION_WINDOW_SECONDS"]))


def closed_before(now: dt.datetime) -> dt.datetime:
    """Pages generated before this moment can gain no play that happens from now on.

    A page's window closes ``attribution_window()`` after it, but a play is stamped by
    the client's clock, which may run up to the tolerated skew (:func:`signal_clock_skew`)
    behind the server's: at ``now`` a play stamped just inside an older page's window
    may not have happened yet. Learned from at the window's close, that page kept a miss
    (the artwork policy's incremental chain until the nightly refit; a ranker retrain
    until the next).

    Plays that have happened may still be on their way: ingest stores a play when its
    device sends it, up to ``SIGNAL_MAX_AGE_DAYS`` after its stamp (a phone batching its
    signals, or offline), and attribution credits it to its page whenever it arrives.
    The rankers, retrained nightly from the whole log, end their range here; the artwork
    policy, which folds each page once every five minutes, waits a grace for such uploads
    beyond it (:func:`artwork.selectors.artwork_folded_before`).
    """
    return now - attribution_window() - signal_clock_skew()


def ranker_log_days() -> float:
    """How many days of pages the rankers' training reads: here, beside the attribution
    window, so that the training (a service) and the page log keep check (a selector) read
    one window."""
    return float(settings.TONIGHT["RANKER_LOG_DAYS"])


@dataclass(frozen=True)
class AttributedImpressions:
    """Every impression of the pages logged in a window, with its label.

    Per page (index ``p``): ``page_ids[p]``, ``page_profile[p]``,
    ``page_time[p]``, ``page_device[p]``, ``page_hour[p]``,
    ``page_weekday[p]``, ``page_model_version[p]``, ``page_region[p]``,
    ``page_cluster[p]`` (the taste cluster's name as logged, "" for none); and
    its rows ``row_page``, ``row_index``, ``row_kind`` (index into ``ROW_TYPES``),
    ``row_strength``, ``row_played`` (one entry per shown row).

    Per impression (index ``i``): ``page`` (into the page arrays),
    ``title_id``, ``row`` (row index on its page), ``row_type`` (index into
    ``ROW_TYPES``), ``position``, ``variant_id`` (-1 for the placeholder),
    ``propensity``, ``played``, ``played_at`` (Unix seconds, NaN; an exact play's
    may be up to :func:`signal_clock_skew` before its page's time),
    ``exact`` (attributed by ``page_id``), ``repeat`` and ``seen`` (the client reported
    the page's title on screen: an ``impression`` naming the page and the title, stamped
    at most the clock skew before the page and the session window after it, or a play
    naming the page, credited to this showing).

    Per page also ``page_reported`` (the client reported some tile of it on screen), and
    per row ``row_seen`` (an impression named it, or the title of its first showing when
    it named no row of the page, or a ``row_scroll_past`` named it, or a play of a seen
    tile is credited to it). Learners count only what :meth:`exposed` and
    :meth:`row_exposed` say was seen.

    ``repeat`` marks the other showings of a title its page shows more than once
    (rows after the first screen may repeat one): one showing stands for the
    (page, title), the played one (attribution credits at most one: the showing in
    the play's row when the page showed the title there, else the first reported on
    screen, else the first), else the first reported on screen, else the first. The page
    had one artwork draw and one outcome for the title, so the title ranker and the
    artwork bandit learn one example from it, not a play and a miss (or two misses)
    of the same draw; the row ranker still sees every row that held it, and the
    played showing's row is the one it sees engaged (``row_played``).
    """

    page_ids: list[uuid.UUID]
    page_profile: npt.NDArray[np.int64]
    page_time: npt.NDArray[np.float64]
    page_device: npt.NDArray[np.int8]
    page_hour: npt.NDArray[np.int8]
    page_weekday: npt.NDArray[np.int8]
    page_model_version: npt.NDArray[np.int64]
    page_region: list[str]
    page_cluster: list[str]
    page: npt.NDArray[np.int32]
    title_id: npt.NDArray[np.int64]
    row: npt.NDArray[np.int16]
    row_type: npt.NDArray[np.int8]
    position: npt.NDArray[np.int16]
    variant_id: npt.NDArray[np.int64]
    propensity: npt.NDArray[np.float32]
    played: npt.NDArray[np.bool_]
    played_at: npt.NDArray[np.float64]
    exact: npt.NDArray[np.bool_]
    repeat: npt.NDArray[np.bool_]
    row_page: npt.NDArray[np.int32]
    row_index: npt.NDArray[np.int16]
    row_kind: npt.NDArray[np.int8]
    row_strength: npt.NDArray[np.float32]
    row_played: npt.NDArray[np.bool_]
    seen: npt.NDArray[np.bool_]
    row_seen: npt.NDArray[np.bool_]
    page_reported: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.title_id.shape[0])

    def exposed(self) -> npt.NDArray[np.bool_]:
        """Per impression: whether the viewer can be said to have seen it, so that not playing
        it is a miss.

        A page holds 12 rows of 20 tiles, and a viewer on a TV sees three or four rows of
        five or six before choosing: counted as misses, the tiles never on screen diluted
        every take rate (the artwork bandit's above all) and taught the row ranker that rows
        far down are never played, from rows never reached. So a tile is a sample only when
        the client reported it on screen (``seen``: by an impression, or by a play naming the
        page). A play matched to a reporting page by the session rule alone, of a tile the
        client never reported, is no sample: the viewer found the title elsewhere (search,
        a title page), and counted, every such play was a play of a tile far down with none
        of that tile's unseen neighbours beside it as misses, teaching the position terms,
        the row ranker and the frame the opposite bias. A page whose client reported no tile
        at all (a client that does not report exposure) keeps every tile, as before: there
        is nothing to tell them apart by.
        """
        return self.seen | ~self.page_reported[self.page]

    def row_exposed(self) -> npt.NDArray[np.bool_]:
        """Per row: whether it is a row ranker sample (see :meth:`exposed`): a tile of it
        reported on screen, the row reported scrolled past, or a play of a seen tile (a play
        naming the page sees its tile) credited to it; every row of a page whose client
        reported nothing."""
        return self.row_seen | ~self.page_reported[self.row_page]


def _rank_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique, inverse.astype(np.int64)


def _pages_to_load(
    meta: list[tuple],
    *,
    since: dt.datetime,
    until: dt.datetime,
    page_ids: set[uuid.UUID] | None,
    window: float,
    session_profiles: set[int],
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """The kept pages, and the other pages their plays must be matched against.

    ``meta`` is (id, profile, generated_at) of the pages of ``[since, until + window)``
    in time order, after the pages of the window before ``since`` that may take a kept
    page's credit (see :func:`_early_pages`). A play credited by session goes to the
    *latest* page that showed its title and on which the viewer saw it (else the latest
    that showed it), so a kept page's label depends on the profile's pages up to a window
    after it (kept or not: a page just after ``until`` takes the credit from the one
    before it) and, for the profiles of ``session_profiles`` (those with plays the
    session rule matches), up to a window before it (one on which the title was seen
    takes it from a later one on which it was not).
    """
    kept: set[uuid.UUID] = set()
    context: set[uuid.UUID] = set()
    last_kept: dict[int, float] = {}
    for page_id, profile_id, generated_at in meta:
        moment = generated_at.timestamp()
        if since <= generated_at < until and (page_ids is None or page_id in page_ids):
            kept.add(page_id)
            last_kept[profile_id] = moment
        elif moment - last_kept.get(profile_id, -np.inf) <= window:
            context.add(page_id)
    next_kept: dict[int, float] = {}
    for page_id, profile_id, generated_at in reversed(meta):
        moment = generated_at.timestamp()
        if page_id in kept:
            next_kept[profile_id] = moment
        elif (
            profile_id in session_profiles and next_kept.get(profile_id, np.inf) - moment <= window
        ):
            context.add(page_id)
    return kept, context


def _session_plays(
    play_rows: list[tuple], named: dict[uuid.UUID, tuple[int, float]], skew: float
) -> list[int]:
    """Indices of the plays that the session rule matches (:func:`_attribute`'s rule 2): those
    naming no page, another profile's, one later than the skew after them, or an unknown one."""
    remaining = []
    for k, r in enumerate(play_rows):
        found = named.get(r[3]) if r[3] is not None else None
        if found is None or found[0] != r[0] or found[1] - r[2].timestamp() > skew:
            remaining.append(k)
    return remaining


def _early_pages(
    *,
    since: dt.datetime,
    window: dt.timedelta,
    play_rows: list[tuple],
    session: list[int],
    columns: tuple[str, ...],
) -> list[tuple]:
    """The pages of the window before ``since`` of the profiles whose plays of the first
    window of the range the session rule matches: such a play goes to an earlier page on
    which the viewer saw its title rather than to a later one on which it did not, so
    those pages decide whether a page of the range keeps it. One query, only when there
    are such plays, and only of their profiles (a client that names its pages has none).
    """
    end = since + window
    profiles = sorted({play_rows[k][0] for k in session if play_rows[k][2] < end})
    if not profiles:
        return []
    pages = PageLog.objects.filter(
        AnyOf(F("profile_id"), profiles), generated_at__gte=since - window, generated_at__lt=since
    )
    return list(pages.order_by("generated_at", "id").values_list(*columns))


def page_impressions_attributed(
    *,
    since: dt.datetime,
    until: dt.datetime,
    window: dt.timedelta | None = None,
    profile_ids: list[int] | None = None,
    page_ids: list[uuid.UUID] | None = None,
) -> AttributedImpressions:
    """Impressions of the pages generated in ``[since, until)``, labelled by later plays.

    Only the pages of ``page_ids`` among them when given (a sample), only those of
    ``profile_ids`` when given. A page's labels are the same whichever range it is
    read in: plays are read from :func:`signal_clock_skew` before ``since`` (a play may
    name a page generated that long after it) up to ``until + window``, and matched
    against every page that could take their credit (the profile's pages up to a
    window after a kept page, up to a window before it for the profiles of plays the
    session rule matches, and any page a play names), not only the kept ones; so
    consecutive ranges (the artwork policy's incremental updates) never credit one
    play twice. A fixed handful of queries whatever the volume: the range once (a
    sample: its ids, then its pages by id), the plays, the pages plays name outside
    the range, the window before it (:func:`_early_pages`, only with session-matched
    plays), and what the clients reported on screen (:func:`_exposure_reports`, a
    second time for those earlier pages).
    """
    window = window or attribution_window()
    skew = signal_clock_skew()
    horizon = until + window
    wanted = set(page_ids) if page_ids is not None else None
    pages = PageLog.objects.filter(generated_at__gte=since, generated_at__lt=horizon)
    if profile_ids is not None:
        pages = pages.filter(AnyOf(F("profile_id"), profile_ids))
    columns = (
        "id",
        "profile_id",
        "generated_at",
        "device",
        "hour",
        "weekday",
        "model_version_id",
        "region",
        "rows",
        "items",
        "cluster",
    )
    ordered = pages.order_by("generated_at", "id")
    if wanted is None:
        # Every page of the range is kept or may take a kept page's credit: one read.
        # (Naming them all again in an ANY(uuid[]) filter made a day's read 2.6x slower.)
        read = list(ordered.values_list(*columns))
        meta = [row[:3] for row in read]
    else:
        meta = list(ordered.values_list("id", "profile_id", "generated_at"))
    play_rows: list[tuple] = []
    if meta:
        plays = Signal.objects.filter(
            kind=SignalKind.PLAY_START,
            occurred_at__gte=since - skew,
            occurred_at__lt=horizon,
            title__isnull=False,
        )
        if profile_ids is not None:
            plays = plays.filter(AnyOf(F("profile_id"), profile_ids))
        play_rows = list(
            plays.order_by("occurred_at").values_list(
                "profile_id", "title_id", "occurred_at", "page_id", "row"
            )
        )
    named = _named_pages(meta, play_rows)
    session = _session_plays(play_rows, named, skew.total_seconds())
    early = _early_pages(
        since=since, window=window, play_rows=play_rows, session=session, columns=columns
    )
    kept, context = _pages_to_load(
        [row[:3] for row in early] + meta,
        since=since,
        until=until,
        page_ids=wanted,
        window=window.total_seconds(),
        session_profiles={play_rows[k][0] for k in session},
    )
    load = kept | context
    if wanted is not None:
        sample = ordered
        if connection.vendor == "postgresql":  # elsewhere the range is read and filtered below
            sample = ordered.filter(AnyOf(F("pk"), [str(p) for p in load], db_type="uuid"))
        read = list(sample.values_list(*columns))
    page_rows = [row for row in early + read if row[0] in load]

    n_pages = len(page_rows)
    page_of = {row[0]: p for p, row in enumerate(page_rows)}
    counts = np.array([len(r[9]) for r in page_rows], dtype=np.int64)
    flat = [item for r in page_rows for item in r[9]]
    items = np.array(
        [[i[0], i[1], i[2], -1 if i[3] is None else i[3]] for i in flat], dtype=np.int64
    ).reshape(-1, 4)
    page = np.repeat(np.arange(n_pages, dtype=np.int32), counts)
    page_time = np.array([r[2].timestamp() for r in page_rows], dtype=np.float64)
    page_profile = np.array([r[1] for r in page_rows], dtype=np.int64)
    row_counts = np.array([len(r[8]) for r in page_rows], dtype=np.int64)
    row_page = np.repeat(np.arange(n_pages, dtype=np.int32), row_counts)
    row_index = np.concatenate(
        [np.arange(c, dtype=np.int16) for c in row_counts] or [np.empty(0, np.int16)]
    )
    row_kind = np.array([row_type_index(row[1]) for r in page_rows for row in r[8]], dtype=np.int8)
    row_strength = np.array(
        [row[2] if len(row) > 2 else 0.0 for r in page_rows for row in r[8]], dtype=np.float32
    )
    row_offset = np.concatenate([[0], np.cumsum(row_counts)[:-1]]).astype(np.int64)
    # Row types per impression via the page's row table.
    item_row = items[:, 1]
    row_type = row_kind[row_offset[page] + item_row] if len(flat) else np.empty(0, dtype=np.int8)

    n = items.shape[0]
    played = np.zeros(n, dtype=bool)
    played_at = np.full(n, np.nan)
    exact = np.zeros(n, dtype=bool)
    showings = _title_showings(page, items[:, 0])
    seen = np.zeros(n, dtype=bool)
    reported = np.zeros(n, dtype=bool)
    seen_at = np.full(showings.start.shape[0] - 1, np.inf)  # per (page, title): first report
    first_report = np.full(n_pages, np.inf)  # per page: its first impression reported
    row_seen = np.zeros(row_page.shape[0], dtype=bool)
    page_reported = np.zeros(n_pages, dtype=bool)

    if n:
        # What the clients reported on screen first: a play that names no row of a page that
        # showed its title twice is credited to the showing the viewer saw (see _attribute).
        reports = _exposure_reports(
            since=since - skew,
            until=horizon,
            profile_ids=profile_ids,
            page_ids=load if wanted is not None else None,
        )
        early_read = {row[0] for row in early} & load
        if early_read:  # what was reported of them before the range's reports begin
            reports += _exposure_reports(
                since=since - window - skew,
                until=since - skew,
                profile_ids=sorted({row[1] for row in early if row[0] in early_read}),
                page_ids=early_read,
            )
        _expose(
            page_rows=page_rows,
            page_of=page_of,
            showings=showings,
            page=page,
            page_time=page_time,
            page_profile=page_profile,
            items=items,
            row_offset=row_offset,
            reports=reports,
            window=window.total_seconds(),
            skew=skew.total_seconds(),
            seen=seen,
            seen_at=seen_at,
            first_report=first_report,
            reported=reported,
            row_seen=row_seen,
            page_reported=page_reported,
        )
        _attribute(
            page_rows=page_rows,
            page_of=page_of,
            showings=showings,
            named=named,
            page=page,
            page_time=page_time,
            page_profile=page_profile,
            items=items,
            play_rows=play_rows,
            window=window.total_seconds(),
            skew=skew.total_seconds(),
            reported=reported,
            seen_at=seen_at,
            first_report=first_report,
            played=played,
            played_at=played_at,
            exact=exact,
        )

    repeat = _repeats(showings, played, reported)
    row_played = np.zeros(row_page.shape[0], dtype=bool)
    if n:
        # A play naming the page is the client's word that its tile was on screen. A play
        # matched by the session rule is not: it may have started from search or a title
        # page, and the tile it is credited to may be one never reached. A play of a seen
        # tile counts for the row it is credited to, as the row's label does; a play of a
        # tile never seen is no play of its row either, even when the row was reached by
        # other tiles (it came from elsewhere, as for the title ranker and the frame).
        seen |= played & exact
        counted = played & (seen | ~page_reported[page])
        row_played[row_offset[page[counted]] + item_row[counted]] = True
        row_seen[row_offset[page[counted & seen]] + item_row[counted & seen]] = True
    # Only the kept pages are answered; the others only took the credit that was theirs.
    keep_page = np.array([r[0] in kept for r in page_rows], dtype=bool)
    new_page = (np.cumsum(keep_page) - 1).astype(np.int32)
    keep_item = keep_page[page]
    keep_row = keep_page[row_page]
    kept_rows = [r for r, k in zip(page_rows, keep_page.tolist(), strict=True) if k]
    return AttributedImpressions(
        page_ids=[r[0] for r in kept_rows],
        page_profile=page_profile[keep_page],
        page_time=page_time[keep_page],
        page_device=np.array(
            [DEVICE_CLASSES.index(r[3]) if r[3] in DEVICE_CLASSES else 0 for r in kept_rows],
            dtype=np.int8,
        ),
        page_hour=np.array([r[4] for r in kept_rows], dtype=np.int8),
        page_weekday=np.array([r[5] for r in kept_rows], dtype=np.int8),
        page_model_version=np.array([r[6] or 0 for r in kept_rows], dtype=np.int64),
        page_region=[r[7] for r in kept_rows],
        page_cluster=[r[10] for r in kept_rows],
        page=new_page[page[keep_item]],
        title_id=items[keep_item, 0],
        row=items[keep_item, 1].astype(np.int16),
        row_type=np.asarray(row_type, dtype=np.int8)[keep_item],
        position=items[keep_item, 2].astype(np.int16),
        variant_id=items[keep_item, 3],
        propensity=np.array([i[4] for i in flat], dtype=np.float32)[keep_item],
        played=played[keep_item],
        played_at=played_at[keep_item],
        exact=exact[keep_item],
        repeat=repeat[keep_item],
        row_page=new_page[row_page[keep_row]],
        row_index=row_index[keep_row],
        row_kind=row_kind[keep_row],
        row_strength=row_strength[keep_row],
        row_played=row_played[keep_row],
        seen=seen[keep_item],
        row_seen=row_seen[keep_row],
        page_reported=page_reported[keep_page],
    )


def _exposure_reports(
    *,
    since: dt.datetime,
    until: dt.datetime,
    profile_ids: list[int] | None,
    page_ids: set[uuid.UUID] | None,
) -> list[tuple]:
    """What clients reported on screen about pages: impressions and rapid scroll-pasts that
    name a page, stamped in ``[since, until)`` (the plays' range), as (kind, profile, title,
    Unix seconds, page_id, row).

    The one read of impressions in attribution, and the costliest of its queries: a seen
    tile is an impression, and a viewer sees some twenty of a page's 240 tiles, so it
    returns about a tenth as many rows as the pages' items it labels. Through the same BRIN
    range as the plays (or, for a sample, the sampled profiles' signals through the
    (profile, time) index, kept to the sampled pages' rows: there is no index on
    ``page_id``, see ``Signal``; the partial index of impressions does not serve a read
    of two kinds).
    """
    reports = Signal.objects.filter(
        kind__in=[SignalKind.IMPRESSION, SignalKind.ROW_SCROLL_PAST],
        occurred_at__gte=since,
        occurred_at__lt=until,
        page_id__isnull=False,
    )
    if profile_ids is not None:
        reports = reports.filter(AnyOf(F("profile_id"), profile_ids))
    if page_ids is not None and connection.vendor == "postgresql":
        reports = reports.filter(AnyOf(F("page_id"), [str(p) for p in page_ids], db_type="uuid"))
    if connection.vendor == "postgresql":
        # Seconds as a float8: loading a timestamp is most of a row's cost in Python.
        at = Func(F("occurred_at"), template=_EPOCH, output_field=FloatField())
        return list(
            reports.annotate(at=at).values_list(
                "kind", "profile_id", "title_id", "at", "page_id", "row"
            )
        )
    return [
        (kind, profile, title, occurred.timestamp(), page, row)
        for kind, profile, title, occurred, page, row in reports.values_list(
            "kind", "profile_id", "title_id", "occurred_at", "page_id", "row"
        )
    ]


_EPOCH = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"


def _expose(
    *,
    page_rows: list[tuple],
    page_of: dict[uuid.UUID, int],
    showings: _Showings,
    page: np.ndarray,
    page_time: np.ndarray,
    page_profile: np.ndarray,
    items: np.ndarray,
    row_offset: np.ndarray,
    reports: list[tuple],
    window: float,
    skew: float,
    seen: np.ndarray,
    seen_at: np.ndarray,
    first_report: np.ndarray,
    reported: np.ndarray,
    row_seen: np.ndarray,
    page_reported: np.ndarray,
) -> None:
    """Label ``seen`` (per impression), ``seen_at`` (per (page, title): the stamp of its
    first report), ``first_report`` (per page: the stamp of its first tile reported),
    ``reported`` (per showing), ``row_seen`` (per row) and
    ``page_reported`` (per page) in place from the clients' ``reports`` (see
    :func:`_exposure_reports`).

    A report counts for the page it names when that is the same profile's and it is
    stamped at most ``skew`` before the page (a clock behind the server's) and ``window``
    after it: the same bounds as a play naming it, so a page's exposure, like its labels,
    does not depend on the range it is read in. An impression marks its (page, title),
    every showing of it (one stands for them: attribution's ``repeat``), and the row it
    names, or, naming no row of the page, the row of the title's first showing; a rapid
    scroll-past marks its row only (the row was on screen; its tiles were seen only if
    the client reported them). ``reported`` marks the showing itself: the one in the row
    the impression names, or, naming none that holds the title, the first.
    """
    row_ids: dict[int, dict[str, int]] = {}
    shown_page, shown_title, shown_row, shown_at = [], [], [], []
    for kind, profile_id, title_id, occurred_at, page_id, row_id in reports:
        p = page_of.get(page_id)
        if p is None or int(page_profile[p]) != profile_id:
            continue
        delay = occurred_at - float(page_time[p])
        if delay < -skew or delay > window:
            continue
        rows = row_ids.get(p)
        if rows is None:
            rows = row_ids[p] = {}
            for index, row in enumerate(page_rows[p][8]):
                rows.setdefault(row[0], index)
        r = rows.get(row_id, -1) if row_id else -1
        if kind == SignalKind.IMPRESSION:
            if title_id is None:
                continue
            page_reported[p] = True
            first_report[p] = min(first_report[p], occurred_at)
            shown_page.append(p)
            shown_title.append(title_id)
            shown_row.append(r)
            shown_at.append(occurred_at)
        elif r >= 0:
            row_seen[row_offset[p] + r] = True
    if not shown_page:
        return
    reported_page = np.array(shown_page, dtype=np.int64)
    reported_row = np.array(shown_row, dtype=np.int64)
    group = showings.find(reported_page, np.array(shown_title, dtype=np.int64))
    group_seen = np.zeros(showings.start.shape[0] - 1, dtype=bool)
    group_seen[group[group >= 0]] = True
    seen |= group_seen[showings.group]
    np.minimum.at(seen_at, group[group >= 0], np.array(shown_at, dtype=np.float64)[group >= 0])
    named = reported_row >= 0
    row_seen[row_offset[reported_page[named]] + reported_row[named]] = True
    first = showings.first()[group[~named & (group >= 0)]]
    row_seen[row_offset[page[first]] + items[first, 1]] = True
    # The showing on screen: (group, row) of each impression against each showing's.
    stride = int(items[:, 1].max()) + 1
    showing_key = showings.group * stride + items[:, 1]
    at_row = named & (group >= 0)
    report_key = group[at_row] * stride + reported_row[at_row]
    reported |= np.isin(showing_key, report_key)
    elsewhere = (group >= 0) & ~named
    elsewhere[np.flatnonzero(at_row)[~np.isin(report_key, showing_key)]] = True
    reported[showings.first()[group[elsewhere]]] = True


@dataclass(frozen=True)
class _Showings:
    """The impressions grouped by (page, title): ``order[start[g] : start[g + 1]]`` are
    group ``g``'s, in display order, and ``group[i]`` is impression ``i``'s group.
    ``titles`` are the distinct titles, sorted, and ``key[g]`` is group ``g``'s
    ``page * len(titles) + `` its title's index in them (increasing with ``g``)."""

    group: npt.NDArray[np.int64]
    start: npt.NDArray[np.int64]
    order: npt.NDArray[np.int64]
    titles: npt.NDArray[np.int64]
    key: npt.NDArray[np.int64]

    def first(self) -> npt.NDArray[np.int64]:
        """Each group's first showing."""
        return self.order[self.start[:-1]]

    def find(self, page: np.ndarray, title: np.ndarray) -> npt.NDArray[np.int64]:
        """The group of each (page, title), -1 where the page did not show the title: a
        search in the groups' sorted keys, so that matching a few reports to the pages'
        impressions does not sort the impressions again."""
        found = np.full(title.shape[0], -1, dtype=np.int64)
        if not self.key.shape[0]:
            return found
        t = np.minimum(np.searchsorted(self.titles, title), self.titles.shape[0] - 1)
        pair = page.astype(np.int64) * self.titles.shape[0] + t
        g = np.minimum(np.searchsorted(self.key, pair), self.key.shape[0] - 1)
        hit = (self.titles[t] == title) & (self.key[g] == pair)
        found[hit] = g[hit]
        return found

    def of(self, i: int) -> npt.NDArray[np.int64]:
        """Every showing of impression ``i``'s (page, title), in display order."""
        g = self.group[i]
        return self.order[self.start[g] : self.start[g + 1]]


def _title_showings(page: np.ndarray, title: np.ndarray) -> _Showings:
    """Group the impressions by (page, title): one stable sort (items are in display order)."""
    n = title.shape[0]
    if not n:
        empty = np.empty(0, dtype=np.int64)
        return _Showings(
            group=empty, start=np.zeros(1, dtype=np.int64), order=empty, titles=empty, key=empty
        )
    titles, title_rank = _rank_keys(title)
    pair = page.astype(np.int64) * titles.shape[0] + title_rank
    order = np.argsort(pair, kind="stable")
    head = np.ones(n, dtype=bool)
    head[1:] = pair[order][1:] != pair[order][:-1]
    group = np.empty(n, dtype=np.int64)
    group[order] = np.cumsum(head) - 1
    start = np.append(np.flatnonzero(head), n).astype(np.int64)
    return _Showings(
        group=group,
        start=start,
        order=order,
        titles=titles.astype(np.int64),
        key=pair[order][head],
    )


def _repeats(showings: _Showings, played: np.ndarray, reported: np.ndarray) -> np.ndarray:
    """Every showing of a (page, title) but the one that stands for it: the credited one
    (attribution credits at most one a group), else the first the client reported on
    screen, else the first. An unplayed title seen only in a later row is a miss there,
    at the row and slot the viewer saw it, not at a first showing never on screen."""
    repeat = np.ones(played.shape[0], dtype=bool)
    group_played = np.zeros(showings.start.shape[0] - 1, dtype=bool)
    group_played[showings.group[played]] = True
    standing = showings.first().copy()
    on_screen = showings.order[reported[showings.order]]  # grouped, display order within
    groups, first_seen = np.unique(showings.group[on_screen], return_index=True)
    standing[groups] = on_screen[first_seen]
    repeat[standing[~group_played]] = False
    repeat[played] = False
    return repeat


def _showing_for(
    showing: list[int], *, row_id: str, rows: list, items: np.ndarray, reported: np.ndarray
) -> int:
    """Which of a (page, title)'s showings (display order) a play is credited to: the one
    in the row the client played from (``row_id``), else the first the client reported on
    screen, else the first.

    The row ranker's engagement features count a play for the client's row, so its label
    must too; a play that names no row (a client that sends no row, or no page at all)
    came from where the viewer saw the title, which the client's impressions say.
    Credited to the first showing regardless, a title seen in a "Because you watched" row
    below the first screen, and held at slot 15 of Top Picks too, made Top Picks the
    played row and the row it was seen in a miss.
    """
    if row_id:
        for i in showing:
            if rows[int(items[i, 1])][0] == row_id:
                return i
    for i in showing:
        if reported[i]:
            return i
    return showing[0]


def _named_pages(meta: list[tuple], play_rows: list[tuple]) -> dict[uuid.UUID, tuple[int, float]]:
    """(profile, Unix time) of every page a play names: from ``meta``, the rest in one query."""
    known = {page_id: (profile_id, at.timestamp()) for page_id, profile_id, at in meta}
    named = {r[3] for r in play_rows if r[3] is not None}
    missing = named - known.keys()
    # Pages before the range, or a clock skew past its end (not a hot path: pk__in works
    # on every database).
    if missing:
        known.update(
            (page_id, (profile_id, at.timestamp()))
            for page_id, profile_id, at in PageLog.objects.filter(pk__in=missing).values_list(
                "id", "profile_id", "generated_at"
            )
        )
    return {page_id: known[page_id] for page_id in named if page_id in known}


def _attribute(
    *,
    page_rows: list[tuple],
    page_of: dict[uuid.UUID, int],
    showings: _Showings,
    named: dict[uuid.UUID, tuple[int, float]],
    page: np.ndarray,
    page_time: np.ndarray,
    page_profile: np.ndarray,
    items: np.ndarray,
    play_rows: list[tuple],
    window: float,
    skew: float,
    reported: np.ndarray,
    seen_at: np.ndarray,
    first_report: np.ndarray,
    played: np.ndarray,
    played_at: np.ndarray,
    exact: np.ndarray,
) -> None:
    """Label ``played`` / ``played_at`` / ``exact`` in place, at most one showing of each
    (page, title) (``showings``' groups), the showing :func:`_showing_for` picks."""
    if not play_rows:
        return
    credited = np.zeros(showings.start.shape[0] - 1, dtype=bool)  # per (page, title)
    item_profile = page_profile[page]
    item_time = page_time[page]
    title = items[:, 0]

    # 1. Exact: a play naming a page of its own profile, shown at most `window` before it
    # or at most `skew` after it (the client's clock behind the server's: see
    # signal_clock_skew). Impression of (page, title), preferring the named row, unless the
    # page's title was credited already (one outcome per (page, title)). A play
    # naming another profile's page, a page later than that or an unknown one is matched
    # by session instead; a play naming a valid page is never credited to another one
    # (the client said where it came from), even when that page did not show the title
    # or its window had closed.
    by_page_title: dict[tuple[int, int], list[int]] = {}
    remaining = []
    valid: dict[int, int | None] = {}  # play -> its named page's index here (None: not read)
    for k, r in enumerate(play_rows):
        found = named.get(r[3]) if r[3] is not None else None
        if found is None or found[0] != r[0] or found[1] - r[2].timestamp() > skew:
            remaining.append(k)
        elif r[2].timestamp() - found[1] <= window:
            valid[k] = page_of.get(r[3])
    wanted = {(p, play_rows[k][1]) for k, p in valid.items() if p is not None}
    if wanted:
        wanted_pages = {p for p, _ in wanted}
        for i in np.flatnonzero(np.isin(page, list(wanted_pages))).tolist():
            key = (int(page[i]), int(title[i]))
            if key in wanted:
                by_page_title.setdefault(key, []).append(i)
    for k, p in valid.items():
        r = play_rows[k]
        candidates = by_page_title.get((p, r[1])) if p is not None else None
        if not candidates:
            continue
        i = _showing_for(
            candidates, row_id=r[4], rows=page_rows[p][8], items=items, reported=reported
        )
        if not credited[showings.group[i]]:
            credited[showings.group[i]] = True
            played[i] = True
            played_at[i] = r[2].timestamp()
            exact[i] = True
    if not remaining:
        return

    # 2. Session window: the latest page of (profile, title) at most `window` before. The
    # page is found among first showings; a title it shows twice (after the first screen)
    # is credited to its showing in the play's row when there is one (the row the row
    # ranker's features count the play for, as rule 1 prefers it), else to the first the
    # client reported on screen, else to its first, most prominent, one. Profiles and
    # titles are packed into one key by their ranks among those read, never by their ids:
    # ids are bigints, and packing the ids (``profile * 2**24 + title``) made a title id
    # past 2**24 another profile's title.
    play_profile = np.array([play_rows[k][0] for k in remaining], dtype=np.int64)
    play_title = np.array([play_rows[k][1] for k in remaining], dtype=np.int64)
    play_time = np.array([play_rows[k][2].timestamp() for k in remaining], dtype=np.float64)
    n = title.shape[0]
    _, profile_rank = _rank_keys(np.concatenate([item_profile, play_profile]))
    titles, title_rank = _rank_keys(np.concatenate([title, play_title]))
    n_titles = max(int(titles.shape[0]), 1)
    eligible = np.sort(showings.first())
    key = profile_rank[:n] * n_titles + title_rank[:n]
    unique, rank = _rank_keys(key)
    origin = float(min(item_time.min(), play_rows[0][2].timestamp())) - 1.0
    composite = rank * (1 << 32) + np.floor(item_time - origin).astype(np.int64)
    order = eligible[np.argsort(composite[eligible], kind="stable")]
    sorted_composite = composite[order]
    play_key = profile_rank[n:] * n_titles + title_rank[n:]
    at = np.searchsorted(unique, play_key)
    known = (at < unique.shape[0]) & (unique[np.minimum(at, unique.shape[0] - 1)] == play_key)
    play_composite = at * (1 << 32) + np.floor(play_time - origin).astype(np.int64)
    found = np.searchsorted(sorted_composite, play_composite, side="right") - 1
    for j in np.flatnonzero(known & (found >= 0)).tolist():
        # The search compares whole seconds: step back over pages later in the play's second.
        f = int(found[j])
        while f >= 0 and rank[order[f]] == at[j] and item_time[order[f]] > play_time[j]:
            f -= 1
        if f < 0:
            continue
        # The latest page on which the viewer could have seen the title before playing it:
        # its client reported it on screen by then, or had reported nothing of the page (a
        # client that does not report). A later page that showed it below what the viewer
        # reached did not lead to the play. Only reports stamped before the play count, so
        # that the choice never waits on reports a later read may hold.
        k = f
        while (
            k >= 0
            and rank[order[k]] == at[j]
            and play_time[j] - item_time[order[k]] <= window
            and seen_at[showings.group[order[k]]] > play_time[j]
            and first_report[page[order[k]]] <= play_time[j]
        ):
            k -= 1
        if k >= 0 and rank[order[k]] == at[j] and play_time[j] - item_time[order[k]] <= window:
            f = k
        i = int(order[f])
        g = showings.group[i]
        if rank[i] != at[j] or play_time[j] - item_time[i] > window or credited[g]:
            continue
        if showings.start[g + 1] - showings.start[g] > 1:
            i = _showing_for(
                showings.of(i).tolist(),
                row_id=play_rows[remaining[j]][4],
                rows=page_rows[int(page[i])][8],
                items=items,
                reported=reported,
            )
        credited[g] = True
        played[i] = True
        played_at[i] = play_time[j]
