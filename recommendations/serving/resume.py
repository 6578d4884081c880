"""Where Play starts on a Continue Watching tile: title detail's resume point, without a query.

Title detail (``viewing.resume``) and ``/continue-watching/`` read a series' episodes
and the profile's finished ones from the database. The homepage has both already:
the history read brings, beside each title state, its last episode played and, where
the rule needs them, its finished episodes (:attr:`HistoryRows.episodes`); the
catalogue arrays hold every series' episodes in order (:class:`SeriesEpisodes`). The
rule is the one function all three apply
(:func:`~recommendations.selectors.signals.resume_index`), run here for the row's
tiles only (at most a row's length), never over the catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from recommendations.selectors.signals import (
    CONTINUE_MAX_PROGRESS,
    CONTINUE_MIN_PROGRESS,
    episode_resume_progress,
    finished_but_for_credits,
    resume_index,
)
from recommendations.selectors.title_viewing import ResumePoint
from recommendations.serving.bundle import CatalogueArrays
from recommendations.serving.recommend import HistoryRows

# HistoryRows.states columns read here.
_TITLE, _COMPLETED, _LAST_PLAYED, _PROGRESS, _LAST_RESUMED, _FINISHED = 0, 1, 4, 5, 6, 7
# HistoryRows.episodes' flag of a last episode played that was left in its credits.
_PASSED = 2


def resume_points(
    *,
    title_ids: Sequence[int],
    title_index: npt.NDArray[np.integer],
    progress: Sequence[float | None],
    rows: HistoryRows,
    catalogue: CatalogueArrays,
) -> list[ResumePoint | None]:
    """Where Play starts on each of a Continue Watching row's tiles, as title detail says.

    A film resumes at its own progress, episode fields null (a film is in the row only
    while midway or being rewatched: title detail's point too). A series resumes on
    :func:`~recommendations.selectors.signals.resume_index`'s episode, at
    :func:`~recommendations.selectors.signals.episode_resume_progress`, which is the
    tile's ``progress``. None for a title the profile cannot resume (``progress``
    None; not one the row holds), a series with no episode out left, which the row
    does not hold either, or one the catalogue arrays and the database disagree
    about (an episode added, or a season out, since the arrays were read).

    ``title_ids``, ``title_index`` and ``progress`` are the tiles', in order;
    ``rows`` the history the page read, ``catalogue`` its catalogue arrays.
    """
    is_series = catalogue.facts.is_series[title_index]
    wanted = np.asarray(title_ids, dtype=np.float64)[is_series]
    states = rows.states[np.isin(rows.states[:, _TITLE], wanted)]
    state_of = {int(row[_TITLE]): row for row in states.tolist()}
    last: dict[int, int] = {}
    passed: set[int] = set()  # series whose last episode played was left in its credits
    finished: dict[int, set[int]] = {}
    episodes = rows.episodes[np.isin(rows.episodes[:, 0], wanted)]
    for title_id, episode_id, is_last in episodes.astype(np.int64).tolist():
        if is_last:
            last[title_id] = episode_id
            if is_last == _PASSED:
                passed.add(title_id)
        else:
            finished.setdefault(title_id, set()).add(episode_id)
    series = catalogue.series
    points: list[ResumePoint | None] = []
    for title_id, index, of_series, percent in zip(
        title_ids, title_index.tolist(), is_series.tolist(), progress, strict=True
    ):
        state = state_of.get(title_id)
        # A finished series the read counted nothing left of (its catalogue changed
        # between the arrays' reading and the page's) sent no episodes to resume from.
        unread = (
            state is not None
            and state[_COMPLETED] > 0
            and title_id not in last
            and title_id not in finished
        )
        if percent is None or (of_series and (state is None or unread)):
            points.append(None)
        elif not of_series:
            points.append(ResumePoint(None, None, None, percent))
        else:
            points.append(
                _series_point(
                    series_span=series.of(index),
                    catalogue=catalogue,
                    at=rows.at,
                    state=state,
                    last_episode_id=last.get(title_id),
                    last_passed=title_id in passed,
                    finished=finished.get(title_id, set()),
                    progress=percent,
                )
            )
    return points


def _series_point(
    *,
    series_span: slice,
    catalogue: CatalogueArrays,
    at: float,
    state: list[float],
    last_episode_id: int | None,
    last_passed: bool,
    finished: set[int],
    progress: float,
) -> ResumePoint | None:
    """One series tile's point: its episodes in order, out or not at ``at``.

    None while the arrays do not hold the last episode played (one added to the
    catalogue since they were read): the read left out the finished episodes, as the
    rule resumes that episode, so no other answer would be title detail's.
    """
    series = catalogue.series
    ids = series.episode_ids[series_span].tolist()
    if last_episode_id is not None and last_episode_id not in ids:
        return None
    rewatching = (
        state[_COMPLETED] == 2  # finished, and played again since
        and CONTINUE_MIN_PROGRESS <= state[_PROGRESS] <= CONTINUE_MAX_PROGRESS
    )
    k = resume_index(
        ids,
        (series.release[series_span] <= at).tolist(),
        last_episode_id=last_episode_id,
        finished=finished,
        rewatching=rewatching,
        last_passed=last_passed,
    )
    if k is None:
        return None
    # The read lists the finished episodes only where the rule reads them; the last one
    # played is finished when the state does not say it is resumed, nor passed.
    finished_k = ids[k] in finished or (
        ids[k] == last_episode_id and not state[_LAST_RESUMED] and not last_passed
    )
    return ResumePoint(
        episode_id=ids[k],
        season_number=int(series.season_number[series_span][k]),
        episode_number=int(series.episode_number[series_span][k]),
        progress=episode_resume_progress(
            progress,
            episode_id=ids[k],
            last_episode_id=last_episode_id,
            any_finished=state[_FINISHED] > 0,
        ),
        # The series was finished (or was but for a finale's credits) and Play starts an
        # episode the profile has not finished (title_viewing.resume_point's reading).
        new_episodes=not finished_k
        and (
            state[_COMPLETED] > 0
            or finished_but_for_credits(
                last_passed=last_passed,
                finished=False,
                episodes_done=int(state[_FINISHED]),
                released=series.release[series_span].tolist(),
                at=state[_LAST_PLAYED],
            )
        ),
    )
