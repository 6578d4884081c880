"""A batch of signals racing staff's deletion of a title or episode it names.

The batch's references are read and checked before its transaction; a deletion
that commits after that check but before the batch's commit must be answered as
one that came before the check (the event left out and named in ``rejected``),
not as a 500.
"""

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from catalog.models import Episode, Title
from recommendations.models import ProfileTitleState, Signal
from tests.conftest import token_client
from tests.db_waits import hold_until_waited_on
from tests.factories import (
    AccountFactory,
    AvailabilityFactory,
    EpisodeFactory,
    ProfileFactory,
    SeasonFactory,
    TitleFactory,
)


def _staff_deletes(model: type, pk: int, started: threading.Event, blocked: threading.Event):
    """Delete the row, held uncommitted until another session waits on it.

    What the admin's delete does; called directly, as its transaction must stay open
    until the batch's commit is seen waiting on it.
    """
    try:
        with transaction.atomic():
            model.objects.get(pk=pk).delete()
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


def _play(title_id: int, *, minutes_ago: int, episode_id: int | None = None) -> dict:
    body = {
        "kind": "play_start",
        "title": title_id,
        "device": "tv",
        "occurred_at": (timezone.now() - dt.timedelta(minutes=minutes_ago)).isoformat(),
        "client_event_id": str(uuid.uuid4()),
    }
    return body if episode_id is None else {**body, "episode": episode_id}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("deleted", ["title", "episode"])
def test_a_deletion_racing_a_batch_leaves_its_events_out_not_a_500(deleted):
    # given: a series with an episode to keep and one to delete, a film to delete, and a
    # batch that plays the kept episode, then the one (episode or film) staff delete
    account = AccountFactory()
    profile = ProfileFactory(account=account)
    show, film = TitleFactory(kind="series"), TitleFactory()
    for title in (show, film):
        AvailabilityFactory(title=title, region=account.home_region)
    season = SeasonFactory(title=show, number=1)
    kept, doomed = (EpisodeFactory(season=season, number=n) for n in (1, 2))
    if deleted == "title":
        model, pk = Title, film.pk
        events = [_play(show.pk, minutes_ago=10, episode_id=kept.pk), _play(film.pk, minutes_ago=5)]
        reason = {"title": [f"No title with id {film.pk}."]}
    else:
        model, pk = Episode, doomed.pk
        events = [
            _play(show.pk, minutes_ago=10, episode_id=kept.pk),
            _play(show.pk, minutes_ago=5, episode_id=doomed.pk),
        ]
        reason = {"episode": [f"No episode with id {doomed.pk}."]}
    started, blocked = threading.Event(), threading.Event()
    staff = threading.Thread(target=_staff_deletes, args=(model, pk, started, blocked))
    staff.start()

    # when: the batch is checked while the deletion is not committed, and commits after it
    try:
        assert started.wait(30)
        response = token_client(account).post(
            reverse("v1:signals", args=[profile.pk]), {"events": events}, format="json"
        )
    finally:
        staff.join()

    # then: as if the deletion had come before the check: the event is left out and
    # named, the batch's other event stored, and the derived state holds only it
    assert blocked.is_set(), "the batch's commit never waited on the deletion"
    assert response.status_code == 200, response.content
    assert response.json() == {"received": 2, "new": 1, "duplicates": 0, "rejected": {"1": reason}}
    assert not model.objects.filter(pk=pk).exists()
    assert list(Signal.objects.filter(profile=profile).values_list("episode_id", flat=True)) == [
        kept.pk
    ]
    state = ProfileTitleState.objects.get(profile=profile)
    assert (state.title_id, state.last_episode_id, state.play_count) == (show.pk, kept.pk, 1)
