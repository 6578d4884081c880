"""Attribution against a plain statement of its documented rules, on random page logs.

``selectors.attribution`` matches plays to pages with sorted searches in numpy, and its
edge cases (two pages showing one title, the window's ends, a play stamped before the
page it names, a ``page_id`` of another profile's page or of no page, a title a page
shows twice, reports naming a page) are each tested by hand in ``test_attribution.py``.
Here :func:`rules` states those rules again one play at a time, as docs/signals.md
(``page_id``) and docs/recommendations.md (Training) give them, and random households
(two profiles of one account, a few pages, plays and reports near their window's
bounds) are read whole, in ranges cut at random moments and as a sample of their
pages: every page's labels must be the rules' in all three. Times are whole
microseconds, as the database stores them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import numpy as np
import pytest

from recommendations.models import PageLog, Signal, SignalKind
from recommendations.selectors.attribution import (
    AttributedImpressions,
    page_impressions_attributed,
)
from tests.factories import AccountFactory, ProfileFactory, TitleFactory

pytestmark = pytest.mark.django_db

BASE = dt.datetime(2026, 3, 2, 20, 0, tzinfo=dt.UTC)
WINDOW = 600  # seconds: short, so that random plays often fall at its ends
SKEW = 60
ROWS = ["top_picks", "genre:1", "genre:2"]
US = 1_000_000

# A page: {"id", "profile", "t" (microseconds after BASE), "rows" (how many of ROWS),
# "items" [(title, row, position)]}; a play: {"profile", "title", "t", "page", "row"};
# a report: the same with "kind" (impression or row_scroll_past).


def rules(pages: list[dict], plays: list[dict], reports: list[dict]) -> dict:
    """Each page's labels by the documented rules: per showing (played, exact, seen,
    repeat), per row (played, seen), and whether its client reported a tile."""
    by_id = {p["id"]: p for p in pages}
    window, skew = WINDOW * US, SKEW * US

    def showings(page: dict, title: int) -> list[int]:
        return [i for i, item in enumerate(page["items"]) if item[0] == title]

    # What the client reported on screen: a report names a page of its own profile and is
    # stamped at most the skew before it and the window after it.
    seen_at: dict[tuple, int] = {}  # (page, title) -> first report
    first_report: dict[uuid.UUID, int] = {}  # page -> first impression
    reported: set[tuple] = set()  # (page, showing) the client saw
    row_seen: set[tuple] = set()  # (page, row)
    for report in reports:
        page = by_id.get(report["page"])
        if page is None or page["profile"] != report["profile"]:
            continue
        if not -skew <= report["t"] - page["t"] <= window:
            continue
        rows = ROWS[: page["rows"]]
        row = rows.index(report["row"]) if report["row"] in rows else -1
        if report["kind"] == SignalKind.ROW_SCROLL_PAST:
            if row >= 0:
                row_seen.add((page["id"], row))
            continue
        first_report[page["id"]] = min(first_report.get(page["id"], report["t"]), report["t"])
        if row >= 0:
            row_seen.add((page["id"], row))
        shown = showings(page, report["title"])
        if not shown:
            continue
        key = (page["id"], report["title"])
        seen_at[key] = min(seen_at.get(key, report["t"]), report["t"])
        in_row = [i for i in shown if page["items"][i][1] == row]
        reported.update((page["id"], i) for i in in_row or shown[:1])
        if row < 0:
            row_seen.add((page["id"], page["items"][shown[0]][1]))

    def showing_for(page: dict, title: int, row: str) -> int:
        shown = showings(page, title)
        in_row = [i for i in shown if ROWS[page["items"][i][1]] == row]
        on_screen = [i for i in shown if (page["id"], i) in reported]
        return (in_row or on_screen or shown)[0]

    credited: dict[tuple, tuple[int, bool]] = {}  # (page, title) -> (showing, exact)
    # A play naming a page of its own profile generated at most the skew after it is
    # that page's, credited when the page showed the title at most the window before.
    session = []
    for play in sorted(plays, key=lambda p: p["t"]):
        page = by_id.get(play["page"]) if play["page"] else None
        if page is None or page["profile"] != play["profile"] or page["t"] - play["t"] > skew:
            session.append(play)
        elif play["t"] - page["t"] <= window and showings(page, play["title"]):
            key = (page["id"], play["title"])
            if key not in credited:
                credited[key] = (showing_for(page, play["title"], play["row"]), True)
    # The others: the latest page of the profile that showed the title at most the window
    # before the play and on which it was reported on screen by then (or nothing of the
    # page was reported by then), else the latest that showed it; once per (page, title).
    for play in session:
        shown = sorted(
            (
                page
                for page in pages
                if page["profile"] == play["profile"]
                and showings(page, play["title"])
                and 0 <= play["t"] - page["t"] <= window
            ),
            key=lambda page: page["t"],
        )
        viewed = [
            page
            for page in shown
            if seen_at.get((page["id"], play["title"]), np.inf) <= play["t"]
            or first_report.get(page["id"], np.inf) > play["t"]
        ]
        if not shown:
            continue
        page = (viewed or shown)[-1]
        key = (page["id"], play["title"])
        if key not in credited:
            credited[key] = (showing_for(page, play["title"], play["row"]), False)

    labels = {}
    for page in pages:
        n = len(page["items"])
        played, exact = [False] * n, [False] * n
        for (page_id, _), (i, by_name) in credited.items():
            if page_id == page["id"]:
                played[i], exact[i] = True, by_name
        # A play naming the page says its tile was on screen.
        seen = [
            (page["id"], t) in seen_at or (played[i] and exact[i])
            for i, (t, *_) in enumerate(page["items"])
        ]
        # One showing stands for a (page, title): the played one, else the first on screen.
        repeat = [True] * n
        for title in {item[0] for item in page["items"]}:
            shown = showings(page, title)
            standing = [i for i in shown if played[i]] or [
                i for i in shown if (page["id"], i) in reported
            ]
            repeat[(standing or shown)[0]] = False
        reporting = page["id"] in first_report
        rows_played = [False] * page["rows"]
        rows_seen = [(page["id"], r) in row_seen for r in range(page["rows"])]
        for i, (_, row, _) in enumerate(page["items"]):
            if played[i] and (seen[i] or not reporting):
                rows_played[row] = True
                rows_seen[row] = rows_seen[row] or seen[i]
        labels[page["id"]] = (played, exact, seen, repeat, rows_played, rows_seen, reporting)
    return labels


def labels_of(result: AttributedImpressions) -> dict:
    """:func:`rules`' shape, from what attribution returned."""
    labels = {}
    for p, page_id in enumerate(result.page_ids):
        item, row = result.page == p, result.row_page == p
        labels[page_id] = (
            result.played[item].tolist(),
            result.exact[item].tolist(),
            result.seen[item].tolist(),
            result.repeat[item].tolist(),
            result.row_played[row].tolist(),
            result.row_seen[row].tolist(),
            bool(result.page_reported[p]),
        )
    return labels


def household(rng: np.random.Generator) -> tuple[list[dict], list[dict], list[dict]]:
    """Random pages of two profiles of one account, with plays and reports near them."""
    account = AccountFactory()
    profiles = [ProfileFactory(account=account).pk for _ in range(2)]
    titles = [TitleFactory().pk for _ in range(4)]

    def moment(anchor: int) -> int:
        """Near a page: often at a bound of its window or skew, else anywhere around it."""
        if rng.random() < 0.3:
            return anchor + int(rng.choice([-SKEW, -SKEW - 1, 0, WINDOW, WINDOW + 1])) * US
        return anchor + int(rng.integers(-200 * US, (WINDOW + 200) * US))

    pages = []
    for _ in range(int(rng.integers(3, 9))):
        rows = int(rng.integers(1, 4))
        pages.append(
            {
                "id": uuid.uuid4(),
                "profile": profiles[int(rng.integers(2))],
                # some pages on whole seconds, others within one (the search compares seconds)
                "t": int(rng.integers(0, 1200)) * US
                + int(rng.integers(US)) * int(rng.random() < 0.5),
                "rows": rows,
                # rows below the first may repeat a title of another row
                "items": [
                    (int(title), row, position)
                    for row in range(rows)
                    for position, title in enumerate(rng.choice(titles, 2, replace=False))
                ],
            }
        )
    named = [p["id"] for p in pages]
    plays = []
    for _ in range(int(rng.integers(2, 10))):
        anchor = pages[int(rng.integers(len(pages)))]
        draw = rng.random()
        plays.append(
            {
                # mostly the page's own profile, sometimes the other of the account
                "profile": anchor["profile"]
                if rng.random() < 0.7
                else profiles[int(rng.integers(2))],
                # mostly a title the page showed
                "title": anchor["items"][int(rng.integers(len(anchor["items"])))][0]
                if rng.random() < 0.7
                else int(titles[int(rng.integers(4))]),
                "t": moment(anchor["t"]),
                # no page, a page no log holds, or any logged page (another profile's too)
                "page": None
                if draw < 0.4
                else uuid.uuid4()
                if draw < 0.5
                else named[int(rng.integers(len(named)))],
                "row": ROWS[int(rng.integers(3))] if rng.random() < 0.5 else "",
            }
        )
    reports = []
    for _ in range(int(rng.integers(2, 16))):
        anchor = pages[int(rng.integers(len(pages)))]
        impression = rng.random() < 0.8
        reports.append(
            {
                "kind": SignalKind.IMPRESSION if impression else SignalKind.ROW_SCROLL_PAST,
                "profile": anchor["profile"] if rng.random() < 0.85 else profiles[0],
                "title": anchor["items"][int(rng.integers(len(anchor["items"])))][0]
                if impression
                else None,
                "t": moment(anchor["t"]),
                "page": anchor["id"],
                "row": ROWS[int(rng.integers(3))] if rng.random() < 0.8 else "",
            }
        )

    def at(t: int) -> dt.datetime:
        return BASE + dt.timedelta(microseconds=t)

    PageLog.objects.bulk_create(
        PageLog(
            id=p["id"],
            profile_id=p["profile"],
            generated_at=at(p["t"]),
            device="tv",
            region="IN",
            hour=at(p["t"]).hour,
            weekday=at(p["t"]).weekday(),
            rows=[[row, row.split(":")[0], 0.1] for row in ROWS[: p["rows"]]],
            items=[[title, row, position, None, 1.0] for title, row, position in p["items"]],
        )
        for p in pages
    )
    Signal.objects.bulk_create(
        Signal(
            profile_id=s["profile"],
            title_id=s["title"],
            kind=s.get("kind", SignalKind.PLAY_START),
            device="tv",
            occurred_at=at(s["t"]),
            client_event_id=uuid.uuid4(),
            page_id=s["page"],
            row=s["row"],
        )
        for s in [*plays, *reports]
    )
    return pages, plays, reports


@pytest.mark.parametrize("seed", range(32))
def test_every_pages_labels_follow_the_documented_rules_however_it_is_read(settings, seed):
    # given a random household's pages, plays and reports, with a short window
    settings.TONIGHT = {
        **settings.TONIGHT,
        "ATTRIBUTION_WINDOW_SECONDS": WINDOW,
        "SIGNAL_MAX_FUTURE_SKEW_SECONDS": SKEW,
    }
    rng = np.random.default_rng(seed)
    pages, plays, reports = household(rng)
    expected = rules(pages, plays, reports)
    start, end = BASE - dt.timedelta(hours=1), BASE + dt.timedelta(hours=2)

    # when they are read whole, in ranges cut at random moments, and as a sample of pages
    whole = page_impressions_attributed(since=start, until=end)
    cuts = sorted({BASE + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 1200, 3)})
    parts = {}
    for since, until in itertools.pairwise([start, *cuts, end]):
        parts.update(labels_of(page_impressions_attributed(since=since, until=until)))
    sampled = [p["id"] for p in pages[::2]]
    sample = page_impressions_attributed(
        since=start,
        until=end,
        profile_ids=sorted({p["profile"] for p in pages}),
        page_ids=sampled,
    )

    # then every page has the rules' labels, whichever way it was read
    assert labels_of(whole) == expected, (pages, plays, reports)
    assert parts == expected
    assert labels_of(sample) == {page_id: expected[page_id] for page_id in sampled}
