"""Recording a batch of signals exactly once, with the derived per-title state beside it."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, FilteredRelation, Q
from django.utils import timezone

from artwork.models import ArtworkVariant
from catalog.models import Episode, Title
from config.lookups import AnyOf
from profiles.models import Profile
from recommendations.models import PLAY_KINDS, ProfileTitleState, Signal, SignalKind
from recommendations.signal_events import EventErrors, SignalEvent

STATE_KINDS = PLAY_KINDS | {
    SignalKind.PROGRESS,
    SignalKind.COMPLETE,
    SignalKind.THUMBS_UP,
    SignalKind.THUMBS_DOWN,
}
# Below this a title was sampled, not started; above it, finished in all but the credits.
CONTINUE_MIN_PROGRESS = 2.0
CONTINUE_MAX_PROGRESS = 95.0


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


@dataclass(frozen=True)
class _TitleFacts:
    kind: str
    maturity: int


def _check_references(
    profile: Profile, events: list[SignalEvent]
) -> tuple[EventErrors, dict[int, str]]:
    """One query per referenced table for the whole batch, then checks in memory.

    Returns the errors and each referenced title's kind, which the state update needs.
    """
    errors = EventErrors()
    title_ids = {e.title_id for e in events if e.title_id}
    episode_ids = {e.episode_id for e in events if e.episode_id}
    variant_ids = {e.artwork_variant_id for e in events if e.artwork_variant_id}

    titles: dict[int, _TitleFacts] = {}
    windows: dict[int, list[tuple[dt.datetime | None, dt.datetime | None]]] = defaultdict(list)
    # One query for both: each title with its licence windows in the account's region.
    for pk, kind, maturity, licence, starts_at, ends_at in (
        Title.objects.filter(AnyOf(F("pk"), title_ids))
        .annotate(
            licence=FilteredRelation(
                "availabilities",
                condition=Q(availabilities__region_id=profile.account.home_region_id),
            )
        )
        .values_list(
            "pk", "kind", "maturity", "licence__pk", "licence__starts_at", "licence__ends_at"
        )
    ):
        titles[pk] = _TitleFacts(kind, maturity)
        if licence is not None:
            windows[pk].append((starts_at, ends_at))
    episode_titles = dict(
        Episode.objects.filter(pk__in=episode_ids).values_list("pk", "season__title_id")
    )
    variants = {
        pk: (title_id, maturity)
        for pk, title_id, maturity in ArtworkVariant.objects.filter(pk__in=variant_ids).values_list(
            "pk", "title_id", "maturity"
        )
    }

    limit = profile.maturity_limit
    for event in events:
        if event.title_id:
            facts = titles.get(event.title_id)
            if facts is None:
                errors.add(event.index, "title", f"No title with id {event.title_id}.")
                continue
            if facts.maturity > limit:
                errors.add(event.index, "title", "Is above this profile's maturity limit.")
            if not any(
                (start is None or start <= event.occurred_at)
                and (end is None or event.occurred_at < end)
                for start, end in windows.get(event.title_id, ())
            ):
                errors.add(
                    event.index, "title", "Was not available in the account's region at that time."
                )
        if event.episode_id:
            owner = episode_titles.get(event.episode_id)
            if owner is None:
                errors.add(event.index, "episode", f"No episode with id {event.episode_id}.")
            elif owner != event.title_id:
                errors.add(event.index, "episode", "Belongs to another title.")
        if event.artwork_variant_id:
            variant = variants.get(event.artwork_variant_id)
            if variant is None:
                errors.add(
                    event.index,
                    "artwork_variant",
                    f"No artwork variant with id {event.artwork_variant_id}.",
                )
            elif variant[0] != event.title_id:
                errors.add(event.index, "artwork_variant", "Belongs to another title.")
            elif variant[1] > limit:
                errors.add(
                    event.index, "artwork_variant", "Is above this profile's maturity limit."
                )
    return errors, {pk: facts.kind for pk, facts in titles.items()}


def _new_events(profile: Profile, events: list[SignalEvent]) -> list[SignalEvent]:
    """Drop events already stored (a retried batch) and repeats within the batch."""
    ids = [str(e.client_event_id) for e in events]
    seen = {
        str(stored)
        for stored in Signal.objects.filter(
            AnyOf(F("client_event_id"), ids, db_type="uuid"), profile=profile
        ).values_list("client_event_id", flat=True)
    }
    fresh = []
    for event, event_id in zip(events, ids, strict=True):
        if event_id not in seen:
            seen.add(event_id)
            fresh.append(event)
    return fresh


def _season_episodes(title_ids: set[int]) -> dict[int, dict[int, set[int]]]:
    """title id -> season id -> episode ids, for deciding season and series completion."""
    seasons: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    for episode_id, season_id, title_id in Episode.objects.filter(
        season__title_id__in=title_ids
    ).values_list("pk", "season_id", "season__title_id"):
        seasons[title_id][season_id].add(episode_id)
    return seasons


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
)


def title_states_fold(
    *,
    profile_id: int,
    states: dict[int, ProfileTitleState],
    events: Iterable[SignalEvent],
    title_kinds: Mapping[int, str],
    season_episodes: Mapping[int, Mapping[int, set[int]]],
) -> set[int]:
    """Fold one profile's new events into ``states`` (title id -> state), in memory.

    The one place the rules of derived state live: the signals API and bulk
    imports both call it, so imported history and live history mean the same.
    ``states`` must hold the profile's stored state of every title the events
    touch; missing titles get a fresh state. ``title_kinds`` maps each title to
    its kind, ``season_episodes`` (title -> season -> episode ids) every title
    with an episode completion among the events. Returns the indexes of the
    events that are rewatches.

    Events are applied in the order they happened, not the order they arrived,
    so a late-arriving older event cannot overwrite newer progress or thumbs.
    """
    engaging = sorted(
        (e for e in events if e.kind in STATE_KINDS and e.title_id),
        key=lambda e: e.occurred_at,
    )
    rewatches: set[int] = set()
    for event in engaging:
        state = states.get(event.title_id)
        if state is None:
            state = states[event.title_id] = ProfileTitleState(
                profile_id=profile_id, title_id=event.title_id, last_event_at=event.occurred_at
            )
        is_latest = event.occurred_at >= state.last_event_at
        state.last_event_at = max(state.last_event_at, event.occurred_at)
        if event.kind in PLAY_KINDS:
            already_done = (
                event.episode_id in state.completed_episodes
                if event.episode_id
                else title_kinds[event.title_id] == Title.Kind.FILM and state.is_completed
            )
            if already_done:
                state.rewatch_count += 1
                rewatches.add(event.index)
            state.play_count += 1
            state.first_played_at = min(filter(None, (state.first_played_at, event.occurred_at)))
            state.last_played_at = max(filter(None, (state.last_played_at, event.occurred_at)))
            if is_latest:
                state.progress = 0.0 if already_done else state.progress
                state.last_episode_id = event.episode_id or state.last_episode_id
        elif event.kind == SignalKind.PROGRESS:
            if is_latest:
                state.progress = event.value
                state.last_episode_id = event.episode_id or state.last_episode_id
        elif event.kind == SignalKind.COMPLETE:
            if is_latest:
                state.progress = 100.0
                state.last_episode_id = event.episode_id or state.last_episode_id
            if event.episode_id:
                if event.episode_id not in state.completed_episodes:
                    state.completed_episodes = [*state.completed_episodes, event.episode_id]
                done = set(state.completed_episodes)
                title_seasons = season_episodes.get(event.title_id, {})
                state.completed_seasons = sum(1 for eps in title_seasons.values() if eps <= done)
                if title_seasons and state.completed_seasons == len(title_seasons):
                    state.completed_at = state.completed_at or event.occurred_at
            elif title_kinds[event.title_id] == Title.Kind.FILM:
                state.completed_at = min(filter(None, (state.completed_at, event.occurred_at)))
        elif event.kind in (SignalKind.THUMBS_UP, SignalKind.THUMBS_DOWN) and (
            state.thumbs_at is None or event.occurred_at >= state.thumbs_at
        ):
            state.thumbs = (
                ProfileTitleState.Thumbs.UP
                if event.kind == SignalKind.THUMBS_UP
                else ProfileTitleState.Thumbs.DOWN
            )
            state.thumbs_at = event.occurred_at
    return rewatches


def title_states_save(
    *, states: Iterable[ProfileTitleState], batch_size: int | None = None
) -> None:
    """Insert new states and overwrite stored ones: one upsert per ``batch_size`` states."""
    ProfileTitleState.objects.bulk_create(
        states,
        batch_size=batch_size,
        update_conflicts=True,
        unique_fields=["profile", "title"],
        update_fields=list(STATE_FIELDS),
    )


def _apply_to_states(
    profile: Profile, events: list[SignalEvent], kinds: dict[int, str]
) -> set[int]:
    """Fold the new events into the stored per-title states; return the indexes of rewatches."""
    title_ids = {e.title_id for e in events if e.kind in STATE_KINDS and e.title_id}
    if not title_ids:
        return set()
    states = {
        s.title_id: s
        for s in ProfileTitleState.objects.filter(AnyOf(F("title_id"), title_ids), profile=profile)
    }
    completing = {e.title_id for e in events if e.kind == SignalKind.COMPLETE and e.episode_id}
    seasons = _season_episodes(completing) if completing else {}
    rewatches = title_states_fold(
        profile_id=profile.pk,
        states=states,
        events=events,
        title_kinds=kinds,
        season_episodes=seasons,
    )
    title_states_save(states=states.values())
    return rewatches


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


def _insert(profile: Profile, events: list[SignalEvent], rewatches: set[int]) -> int:
    """Insert the new events; returns how many were stored."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        # COPY is the cheapest way in, and safe here: the caller holds the profile's row
        # lock and has already dropped every event stored before, so no row can clash
        # (the unique index would still refuse one that did).
        with connection.cursor() as cursor, cursor.connection.cursor() as raw:
            with raw.copy(_PG_COPY) as copy:
                for e in events:
                    copy.write_row(
                        (
                            profile.pk,
                            e.title_id,
                            e.episode_id,
                            e.kind,
                            e.value,
                            e.device,
                            e.occurred_at,
                            now,
                            e.client_event_id,
                            e.page_id,
                            e.row,
                            e.position,
                            e.artwork_variant_id,
                            e.index in rewatches,
                        )
                    )
            return len(events)
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
            for e in events
        ],
        ignore_conflicts=True,
    )
    return len(created)


def signal_batch_record(*, profile: Profile, events: list[SignalEvent]) -> BatchResult:
    """Store a validated batch once, in one transaction, and update the derived state.

    The profile row is locked for the transaction: batches of one profile are
    applied one after another, so two devices resending the same events cannot
    both count them, and the derived state never loses an update. Batches of
    different profiles do not wait for each other.
    """
    errors, title_kinds = _check_references(profile, events)
    if errors:
        raise SignalBatchRejected(errors)
    with transaction.atomic():
        Profile.objects.select_for_update().only("pk").get(pk=profile.pk)
        fresh = _new_events(profile, events)
        rewatches = _apply_to_states(profile, fresh, title_kinds)
        inserted = _insert(profile, fresh, rewatches) if fresh else 0
    return BatchResult(received=len(events), new=inserted, duplicates=len(events) - inserted)
