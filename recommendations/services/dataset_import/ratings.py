"""Reading an interactions file: each row's user, item, rating (or weight) and time checked,
into parallel arrays in file order.
"""

import datetime as dt
import math
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.utils import timezone

from catalog.services import (
    EXTERNAL_ID_MAX_LENGTH,
)
from recommendations.services.dataset_import.checks import NUL, _BadLines, _nul_in, _source_id
from recommendations.services.dataset_import.exceptions import DatasetImportError
from recommendations.services.dataset_import.progress import Progress
from recommendations.services.dataset_import.tables import (
    Layout,
    _data_lines,
    _fields_fitted,
    _LineProgress,
    _open_table,
)
from recommendations.services.dataset_import.whereabouts import ImportWhereabouts
from recommendations.signal_events import EARLIEST_SIGNAL_TIME

# Unix seconds this large are past the year 5000; milliseconds are, from March 1973.
MILLISECONDS_FROM = 1e11
EARLIEST_SECONDS = EARLIEST_SIGNAL_TIME.timestamp()


@dataclass(frozen=True)
class InteractionColumns:
    user: str = "userId"
    item: str = "movieId"
    rating: str = "rating"
    time: str = "timestamp"


@dataclass
class _Ratings:
    """The checked rows as parallel arrays, one entry per rating, in file order."""

    users: list[str]  # source user id by user number
    user: np.ndarray  # user number, int64
    title: np.ndarray  # title id, int64
    rating: np.ndarray  # float64 (a rating, or a weight)
    time: np.ndarray  # unix seconds, float64
    line: np.ndarray  # line number in the file, int64
    # Earlier rows of the same user, item and time, in file order (0 for most rows), int64.
    repeat: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Rows left out because their item is not in the catalogue (--skip-unknown-items).
    skipped: int = 0
    skipped_lines: tuple[str, ...] = ()


def _rating_value(text: str, *, column: str, scale: float, weights: bool) -> float:
    """A rating of 0 to ``scale`` (or a weight of 0 or more); ValueError says why."""
    if NUL in text:
        raise ValueError(_nul_in(column))
    try:
        rating = float(text)
    except ValueError:
        raise ValueError(f"{column} '{text}' is not a number") from None
    if weights:
        if not 0 <= rating < math.inf:  # also refuses nan
            raise ValueError(f"{column} {text} is not a weight of 0 or more")
    elif not 0 <= rating <= scale:  # also refuses nan
        raise ValueError(f"{column} {text} is outside 0-{scale:g} (see --rating-scale)")
    return rating


def _epoch_seconds(text: str, *, column: str, now: float) -> float:
    """Unix seconds (MovieLens) or an ISO 8601 date-time with an offset, from
    ``EARLIEST_SIGNAL_TIME`` to ``now``; ValueError says why."""
    if NUL in text:
        raise ValueError(_nul_in(column))
    moment: dt.datetime | None = None
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{column} '{text}' is neither unix seconds nor an ISO 8601 date-time"
            ) from None
        if moment.tzinfo is None:
            # The corrected value itself: "add 'Z'" to a bare date ("2024-03-01Z") is no ISO time.
            raise ValueError(
                f"{column} '{text}' has no time zone offset (for UTC write '{moment.isoformat()}Z')"
            ) from None
        seconds = moment.timestamp()
    if math.isnan(seconds):
        raise ValueError(f"{column} '{text}' is not a time")
    if seconds < EARLIEST_SECONDS:
        # Most often 0 or 1, an exporter's null: imported, it was history from 1970 that
        # the confidence weights and the fold took as real.
        raise ValueError(
            f"{column} '{text}' is before {EARLIEST_SIGNAL_TIME:%Y-%m-%d} "
            "(a placeholder for no time?)"
        )
    if seconds > now:
        # Exports from JavaScript and Java write milliseconds: 13 digits, past the year 5000.
        # Only a number can be: a date-time that far ahead is a wrong date, not a unit.
        numeric = moment is None and seconds >= MILLISECONDS_FROM
        hint = " (milliseconds? give unix seconds)" if numeric else ""
        raise ValueError(f"{column} '{text}' is in the future{hint}")
    return seconds


def _read_ratings(
    path: Path,
    *,
    layout: Layout,
    columns: InteractionColumns,
    scale: float,
    title_ids: dict[str, int],
    progress: Progress,
    weights: bool = False,
    skip_unknown_items: bool = False,
    where: ImportWhereabouts | None = None,
) -> _Ratings:
    bad = _BadLines(path)
    unknown = _BadLines(path)  # lines whose one problem is an item not in the catalogue
    users: dict[str, int] = {}
    user_of, title_of, rating_of, time_of, line_of = (
        array("q"),
        array("q"),
        array("d"),
        array("d"),
        array("q"),
    )
    now = timezone.now().timestamp()
    wanted = [
        ("--user-column", columns.user),
        ("--item-column", columns.item),
        ("--rating-column", columns.rating),
        ("--time-column", columns.time),
    ]
    total = _data_lines(path, layout)
    with (
        _open_table(path, layout=layout, columns=wanted) as table,
        progress(f"Reading {path.name}", total) as advance,
    ):
        bar = _LineProgress(advance, total=total, first=1 + layout.header, where=where)
        user_at, item_at, rating_at, time_at = table.indexes
        width = table.width
        for line, fields in table.rows:
            bar.at(line)
            if len(fields) != width:
                fields = _fields_fitted(fields, table)
                if len(fields) != width:
                    bad.add(line, f"expected {width} fields, found {len(fields)}")
                    continue
            problems = []
            user = _source_id(fields[user_at].strip())
            if NUL in user:
                problems.append(_nul_in(columns.user))
            elif not user:
                problems.append(f"empty {columns.user}")
            elif len(user) > EXTERNAL_ID_MAX_LENGTH:
                problems.append(
                    f"{columns.user} is longer than {EXTERNAL_ID_MAX_LENGTH} characters"
                )
            item = _source_id(fields[item_at].strip())
            title_id = title_ids.get(item)
            unknown_item = ""
            if NUL in item:
                problems.append(_nul_in(columns.item))
            elif not item:
                problems.append(f"empty {columns.item}")
            elif title_id is None:
                unknown_item = (
                    f"unknown item {columns.item} '{item}' (not in the catalogue; "
                    "run import_catalogue first)"
                )
                problems.append(unknown_item)
            try:
                rating = _rating_value(
                    fields[rating_at].strip(), column=columns.rating, scale=scale, weights=weights
                )
            except ValueError as exc:
                problems.append(str(exc))
            try:
                seconds = _epoch_seconds(fields[time_at].strip(), column=columns.time, now=now)
            except ValueError as exc:
                problems.append(str(exc))
            if problems == [unknown_item]:
                # A title deleted since the catalogue was imported, or a wrong --item-column:
                # nothing but the item can be wrong with the line.
                unknown.add(line, unknown_item)
                if not skip_unknown_items:
                    bad.add(line, unknown_item)
                continue
            if problems:
                bad.add(line, "; ".join(problems))
                continue
            number = users.get(user)
            if number is None:
                number = users[user] = len(users)
            user_of.append(number)
            title_of.append(title_id)
            rating_of.append(rating)
            time_of.append(seconds)
            line_of.append(line)
        bar.finish()

    bad.raise_if_any(
        f"{unknown.count} {'line names' if unknown.count == 1 else 'lines name'} only an "
        "item not in the catalogue (a title deleted since it was imported?): "
        "--skip-unknown-items skips those, imports the other rows and lists them."
        if unknown.count and not skip_unknown_items
        else ""
    )
    if unknown.count and not line_of:
        # --skip-unknown-items is for the few titles deleted since the catalogue import. A
        # file none of whose items are known is the wrong file, or the right one against
        # the wrong catalogue: skipping every row stored nothing and exited 0, as if done.
        rows = (
            f"all {unknown.count} of its rows name items"
            if unknown.count > 1
            else "its one row names an item"
        )
        raise DatasetImportError(
            "\n".join(
                [
                    f"{path}: {rows} not in the catalogue; nothing was imported.",
                    "Is it the wrong file, or the right one for another environment's "
                    f"catalogue (run import_catalogue with its items first), or is "
                    f"--item-column not the items' column ('{columns.item}')?",
                    *unknown.listing("skipped"),
                ]
            )
        )
    user = np.frombuffer(user_of, dtype=np.int64)
    title = np.frombuffer(title_of, dtype=np.int64)
    times = np.frombuffer(time_of, dtype=np.float64)
    line = np.frombuffer(line_of, dtype=np.int64)
    return _Ratings(
        users=list(users),
        user=user,
        title=title,
        rating=np.frombuffer(rating_of, dtype=np.float64),
        time=times,
        line=line,
        repeat=_same_instant_repeats(user, title, times, line),
        skipped=unknown.count,
        skipped_lines=tuple(unknown.listing("skipped")),
    )


def _same_instant_repeats(
    user: np.ndarray, title: np.ndarray, times: np.ndarray, line: np.ndarray
) -> np.ndarray:
    """Per row: how many earlier rows (in file order) have the same user, item and time.

    A user's repeated interactions with one item are kept (implicit logs are
    full of them); their event ids differ by time, and by this count when even
    the time is the same. Sorted in numpy rather than kept in a dict of pairs,
    which would cost about 150 bytes per row on files of tens of millions of rows.
    """
    repeat = np.zeros(line.shape[0], dtype=np.int64)
    if line.shape[0] < 2:
        return repeat
    order = np.lexsort((line, times, title, user))
    u, t, s = user[order], title[order], times[order]
    same = np.r_[False, (u[1:] == u[:-1]) & (t[1:] == t[:-1]) & (s[1:] == s[:-1])]
    if not same.any():
        return repeat
    group_start = np.maximum.accumulate(np.where(same, 0, np.arange(len(order))))
    repeat[order] = np.arange(len(order)) - group_start
    return repeat
