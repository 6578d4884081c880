"""What one profile has done with one title, as the title's detail page draws it."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone

from catalog.models import Episode, Title
from profiles.models import Profile
from recommendations.models import ProfileTitleState
from recommendations.selectors.signals import (
    episode_is_out,
    resume_episode,
    resume_new_episodes,
    resume_progress,
    title_states_get,
)


@dataclass(frozen=True)
class ResumePoint:
    """Where Play starts: the episode (none for a film) and how far into it, in percent.

    ``new_episodes``: the profile had finished the series, and Play starts an episode
    it has not finished, not a rewatch: one out (or added to the catalogue) since.
    """

    episode_id: int | None
    season_number: int | None
    episode_number: int | None
    progress: float
    new_episodes: bool = False


@dataclass(frozen=True)
class TitleViewing:
    """The profile's state of one title, read once for the detail page."""

    thumbs: str | None
    finished: bool
    resume: ResumePoint | None
    finished_episodes: frozenset[int]


def title_viewing_get(
    *, profile: Profile, title: Title, episodes: Sequence[Episode]
) -> TitleViewing:
    """The profile's rating of ``title``, whether it finished it, and where Play starts.

    Play starts where Continue Watching would resume it (:func:`resume_episode`,
    :func:`resume_progress`: a season announced is never entered, a rewatch under way
    is resumed); where it would not, a film starts again from its beginning and a
    series from its first episode out: what a "Play again" button plays. Nothing to
    resume for a title never played (rated only, or untouched). Unlike Continue
    Watching, a thumbed-down title keeps its place: the profile opened it.

    ``episodes`` are the series' own in order, each with its season at hand (the
    page prefetches them): one query whatever the number of seasons and episodes.
    """
    state = title_states_get(profile_id=profile.pk, title_ids=[title.pk]).get(title.pk)
    if state is None:
        return TitleViewing(thumbs=None, finished=False, resume=None, finished_episodes=frozenset())
    played = state.playback_at is not None or state.last_played_at is not None
    resume = None
    if played:
        today = timezone.now().date()  # UTC, as release dates are read everywhere
        resume = resume_point(state, kind=title.kind, episodes=list(episodes), today=today)
    return TitleViewing(
        thumbs=state.thumbs or None,
        finished=state.completed_at is not None,
        resume=resume,
        finished_episodes=frozenset(state.completed_episodes),
    )


def resume_point(
    state: ProfileTitleState, *, kind: str, episodes: list[Episode], today: dt.date
) -> ResumePoint | None:
    """Where Play starts for a profile that played the title: :func:`title_viewing_get`'s rule.

    Where Continue Watching would resume it; where it would not, a film from its
    beginning and a series from its first episode out (None: it has none out).
    ``episodes`` as :func:`title_viewing_get` takes them, ``today`` in UTC.
    """
    if kind == Title.Kind.FILM:
        return ResumePoint(None, None, None, resume_progress(state, None))
    episode = resume_episode(state, episodes, today=today)
    progress = resume_progress(state, episode) if episode is not None else 0.0
    new_episodes = resume_new_episodes(state, episode, episodes)
    if episode is None:
        # Nothing out left to watch: the series again, from its first episode out.
        episode = next((e for e in episodes if episode_is_out(e, today)), None)
    if episode is None:
        return None
    return ResumePoint(
        episode.pk, episode.season.number, episode.number, progress, new_episodes=new_episodes
    )
