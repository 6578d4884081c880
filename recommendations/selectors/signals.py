"""Reads of a profile's signals and of the state derived from them."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from catalog.models import Episode, Title
from catalog.selectors import title_names
from profiles.models import Profile
from recommendations.models import ProfileTitleState, Signal
from recommendations.services.signals import CONTINUE_MAX_PROGRESS, CONTINUE_MIN_PROGRESS


def signal_history(*, profile: Profile) -> QuerySet[Signal]:
    return Signal.objects.filter(profile=profile).order_by("-occurred_at", "-pk")


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


def _next_episodes(states: list[ProfileTitleState]) -> dict[int, Episode]:
    """For each series state, the episode to resume: the unfinished last one, or the next."""
    series = [s for s in states if s.title.kind == Title.Kind.SERIES]
    if not series:
        return {}
    episodes: dict[int, list[Episode]] = {}
    for episode in (
        Episode.objects.filter(season__title_id__in=[s.title_id for s in series])
        .select_related("season")
        .order_by("season__number", "number")
    ):
        episodes.setdefault(episode.season.title_id, []).append(episode)
    resume = {}
    for state in series:
        done = set(state.completed_episodes)
        ordered = episodes.get(state.title_id, [])
        last = next((e for e in ordered if e.pk == state.last_episode_id), None)
        if last is not None and last.pk not in done:
            resume[state.title_id] = last
            continue
        after_last = ordered[ordered.index(last) + 1 :] if last is not None else ordered
        following = next((e for e in after_last if e.pk not in done), None)
        if following is not None:
            resume[state.title_id] = following
    return resume


def continue_watching(*, profile: Profile, limit: int = 40) -> list[ContinueWatchingItem]:
    """Titles the profile started and has not finished, most recently played first.

    A series counts while it has an episode left to watch; a film while its
    progress is between a sample and the credits. Thumbed-down titles never return.
    """
    states = list(
        ProfileTitleState.objects.filter(
            profile=profile, last_played_at__isnull=False, completed_at__isnull=True
        )
        .exclude(thumbs=ProfileTitleState.Thumbs.DOWN)
        .filter(
            Q(title__kind=Title.Kind.SERIES)
            | Q(progress__gte=CONTINUE_MIN_PROGRESS, progress__lte=CONTINUE_MAX_PROGRESS)
        )
        .select_related("title")
        .order_by("-last_played_at")[: limit * 2]
    )
    resume = _next_episodes(states)
    states = [s for s in states if s.title.kind == Title.Kind.FILM or s.title_id in resume][:limit]
    display_language = profile.display_language_id
    names = title_names(title_ids=[s.title_id for s in states], language=display_language)
    items = []
    for state in states:
        episode = resume.get(state.title_id)
        same_episode = episode is not None and episode.pk == state.last_episode_id
        items.append(
            ContinueWatchingItem(
                title_id=state.title_id,
                name=names[state.title_id],
                kind=state.title.kind,
                progress=state.progress if episode is None or same_episode else 0.0,
                last_played_at=state.last_played_at,
                episode_id=episode.pk if episode else None,
                season_number=episode.season.number if episode else None,
                episode_number=episode.number if episode else None,
            )
        )
    return items
