"""A batch of signals racing staff's deletion of a title or episode it names.

The batch's references are read and checked before its transaction; a deletion
that commits after that check but before the batch's commit must be answered as
one that came before the check (the event left out and named in ``rejected``),
not as a 500.

Two batches of one profile fold its per-title state one after the other (the
profile's row lock): the later must read what the earlier wrote, and its reports of
what the earlier reported already (a tile on screen) must be found. The refold of old
states takes the same lock, so a batch it races is folded in, not overwritten.
"""

import datetime as dt
import io
import threading
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from catalog.models import Episode, Title
from profiles.models import Profile
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
from tests.releases import first_release_after


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


def _device_posts_and_holds(client, profile_id: int, events: list, answer: list, started, blocked):
    """Post the batch inside an outer transaction, held uncommitted until someone waits on it.

    The endpoint's own transaction becomes a savepoint of this one, so the batch's
    profile lock, rows and states stay uncommitted until the deletion is seen waiting.
    """
    try:
        with transaction.atomic():
            answer.append(
                client.post(
                    reverse("v1:signals", args=[profile_id]), {"events": events}, format="json"
                )
            )
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


def _device_deletes_and_holds(client, profile_id: int, answer: list, started, blocked):
    """Delete the profile through the endpoint, held uncommitted until someone waits on it."""
    try:
        with transaction.atomic():
            answer.append(client.delete(reverse("v1:profile-detail", args=[profile_id])))
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


def _profile_with_a_title():
    account = AccountFactory()
    profile = ProfileFactory(account=account)
    film = TitleFactory()
    AvailabilityFactory(title=film, region=account.home_region)
    return account, profile, film


def _leftovers(profile_id: int) -> tuple[int, int, int]:
    return (
        Profile.objects.filter(pk=profile_id).count(),
        Signal.objects.filter(profile_id=profile_id).count(),
        ProfileTitleState.objects.filter(profile_id=profile_id).count(),
    )


@pytest.mark.django_db(transaction=True)
def test_a_batch_racing_its_profiles_deletion_leaves_nothing_behind():
    # given: a profile with a stored play, and a second batch being stored, uncommitted
    account, profile, film = _profile_with_a_title()
    client = token_client(account)
    url = reverse("v1:signals", args=[profile.pk])
    first = client.post(url, {"events": [_play(film.pk, minutes_ago=20)]}, format="json")
    assert first.status_code == 200, first.content
    answer, started, blocked = [], threading.Event(), threading.Event()
    device = threading.Thread(
        target=_device_posts_and_holds,
        args=(
            token_client(account),
            profile.pk,
            [_play(film.pk, minutes_ago=5)],
            answer,
            started,
            blocked,
        ),
    )
    device.start()

    # when: the household deletes the profile meanwhile
    try:
        assert started.wait(30)
        response = client.delete(reverse("v1:profile-detail", args=[profile.pk]))
    finally:
        device.join()

    # then: the deletion waited for the batch and took its rows with the profile
    assert blocked.is_set(), "the deletion never waited on the batch"
    assert answer[0].status_code == 200, answer[0].content
    assert response.status_code == 204, response.content
    assert _leftovers(profile.pk) == (0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_batch_for_a_profile_deleted_meanwhile_is_a_404_and_stores_nothing():
    # given: a profile whose deletion is being written, uncommitted
    account, profile, film = _profile_with_a_title()
    device = token_client(account)
    answer, started, blocked = [], threading.Event(), threading.Event()
    household = threading.Thread(
        target=_device_deletes_and_holds,
        args=(token_client(account), profile.pk, answer, started, blocked),
    )
    household.start()

    # when: a device posts a batch for it, read before the deletion commits
    try:
        assert started.wait(30)
        response = device.post(
            reverse("v1:signals", args=[profile.pk]),
            {"events": [_play(film.pk, minutes_ago=5)]},
            format="json",
        )
    finally:
        household.join()

    # then: answered as a batch for a profile that is not there, and nothing is stored
    assert blocked.is_set(), "the batch never waited on the deletion"
    assert answer[0].status_code == 204, answer[0].content
    assert response.status_code == 404, response.content
    assert _leftovers(profile.pk) == (0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_batch_racing_its_households_deletion_in_admin_leaves_nothing_behind(client):
    # given: a profile with a stored play, and a second batch being stored, uncommitted
    account, profile, film = _profile_with_a_title()
    device = token_client(account)
    first = device.post(
        reverse("v1:signals", args=[profile.pk]),
        {"events": [_play(film.pk, minutes_ago=20)]},
        format="json",
    )
    assert first.status_code == 200, first.content
    client.force_login(get_user_model().objects.create_superuser("staff", "s@example.com", None))
    answer, started, blocked = [], threading.Event(), threading.Event()
    batch = threading.Thread(
        target=_device_posts_and_holds,
        args=(device, profile.pk, [_play(film.pk, minutes_ago=5)], answer, started, blocked),
    )
    batch.start()

    # when: staff delete the household in admin meanwhile
    try:
        assert started.wait(30)
        response = client.post(
            reverse("admin:accounts_account_delete", args=[account.pk]), {"post": "yes"}
        )
    finally:
        batch.join()

    # then: the deletion waited for the batch and took its rows with the profile
    assert blocked.is_set(), "the deletion never waited on the batch"
    assert answer[0].status_code == 200, answer[0].content
    assert response.status_code == 302, response.content
    assert _leftovers(profile.pk) == (0, 0, 0)


def _batch_held_open(profile, title_id: int, started: threading.Event, blocked: threading.Event):
    """Store a play through the service, its transaction held open until another waits on it."""
    from tests.recommendations.test_training import record

    try:
        with transaction.atomic():
            record(profile, "play_start", title_id, at=timezone.now() - dt.timedelta(minutes=5))
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_two_batches_of_one_profile_racing_fold_both_plays_into_its_state():
    # given: a title the profile played once, and a second batch playing it again whose
    # transaction is open, uncommitted, when a third batch arrives
    account = AccountFactory()
    profile = ProfileFactory(account=account)
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    client = token_client(account)
    first = client.post(
        reverse("v1:signals", args=[profile.pk]),
        {"events": [_play(title.pk, minutes_ago=30)]},
        format="json",
    )
    assert first.status_code == 200, first.content
    started, blocked = threading.Event(), threading.Event()
    other = threading.Thread(target=_batch_held_open, args=(profile, title.pk, started, blocked))
    other.start()

    # when: the third batch is stored while the second is open
    try:
        assert started.wait(30)
        response = client.post(
            reverse("v1:signals", args=[profile.pk]),
            {"events": [_play(title.pk, minutes_ago=1)]},
            format="json",
        )
    finally:
        other.join()

    # then: it waited for the second (the profile's lock), read its state and added to it:
    # three plays, not the two a fold of the state it read before the second committed keeps
    assert blocked.is_set(), "the third batch never waited on the second"
    assert response.status_code == 200, response.content
    assert Signal.objects.filter(profile=profile).count() == 3
    assert ProfileTitleState.objects.get(profile=profile, title=title).play_count == 3


@pytest.mark.django_db(transaction=True)
def test_a_refold_racing_a_batch_of_its_profile_keeps_the_repair_and_the_batchs_play():
    # given: a series whose season 2 came out yesterday (today, near midnight), of which the
    # profile's state kept S2E1 finished two days ago (as ingest took it before December
    # 2026), the pilot finished before; and a batch playing the pilot again, uncommitted,
    # when the refold runs
    from django.core.management import call_command

    account = AccountFactory()
    profile = ProfileFactory(account=account)
    show = TitleFactory(kind="series")
    AvailabilityFactory(title=show, region=account.home_region)
    pilot = EpisodeFactory(season=SeasonFactory(title=show, number=1), number=1)
    now = timezone.now()
    season_two = SeasonFactory(
        title=show, number=2, release_date=(now - dt.timedelta(days=5)).date()
    )
    early = EpisodeFactory(season=season_two, number=1)
    complete = [
        {**_play(show.pk, minutes_ago=minutes, episode_id=episode.pk), "kind": "complete"}
        for minutes, episode in ((3 * 24 * 60, pilot), (2 * 24 * 60, early))
    ]
    client = token_client(account)
    first = client.post(
        reverse("v1:signals", args=[profile.pk]), {"events": complete}, format="json"
    )
    assert first.status_code == 200, first.content
    # out from the midnight after S2E1's completion: yesterday's date from the clock put
    # the completion (with the skew the refold allows) after it from 23:55 UTC
    season_two.release_date = first_release_after(
        dt.datetime.fromisoformat(complete[1]["occurred_at"])
    )
    season_two.save()
    answer, started, blocked = [], threading.Event(), threading.Event()
    batch = threading.Thread(
        target=_device_posts_and_holds,
        args=(
            client,
            profile.pk,
            [_play(show.pk, minutes_ago=1, episode_id=pilot.pk)],
            answer,
            started,
            blocked,
        ),
    )
    batch.start()

    # when: the refold runs while the batch is open
    try:
        assert started.wait(30)
        call_command("title_states_refold", stdout=io.StringIO(), stderr=io.StringIO())
    finally:
        batch.join()

    # then: it waited for the batch (the profile's lock) and folded the log with its play:
    # S2E1 no longer finished, and the pilot's replay counted, not overwritten by a fold of
    # the log as it read before the batch committed
    assert blocked.is_set(), "the refold never waited on the batch"
    assert answer[0].status_code == 200, answer[0].content
    state = ProfileTitleState.objects.get(profile=profile, title=show)
    assert state.completed_episodes == [pilot.pk]
    assert (state.play_count, state.rewatch_count, state.last_episode_id) == (1, 1, pilot.pk)


@pytest.mark.django_db(transaction=True)
def test_two_devices_reporting_one_tile_at_once_store_one_impression():
    # given: a tile of one page that a device reported on screen, its batch uncommitted
    account, profile, film = _profile_with_a_title()
    page = str(uuid.uuid4())

    def shown(minutes_ago: int) -> dict:
        return {
            **_play(film.pk, minutes_ago=minutes_ago),
            "kind": "impression",
            "page_id": page,
            "row": "trending",
            "position": 2,
        }

    answer, started, blocked = [], threading.Event(), threading.Event()
    device = threading.Thread(
        target=_device_posts_and_holds,
        args=(token_client(account), profile.pk, [shown(3)], answer, started, blocked),
    )
    device.start()

    # when: another device showing the same page reports the same tile, under its own id
    try:
        assert started.wait(30)
        response = token_client(account).post(
            reverse("v1:signals", args=[profile.pk]), {"events": [shown(2)]}, format="json"
        )
    finally:
        device.join()

    # then: it waited for the first report and found it, so the tile is shown once
    assert blocked.is_set(), "the second report never waited on the first"
    assert answer[0].status_code == 200, answer[0].content
    assert response.status_code == 200, response.content
    assert response.json() == {"received": 1, "new": 0, "duplicates": 1, "rejected": {}}
    assert Signal.objects.filter(profile=profile, kind="impression").count() == 1
