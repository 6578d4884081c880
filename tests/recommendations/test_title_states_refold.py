"""``manage.py title_states_refold``: states that kept plays of episodes before they were out."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from recommendations.management.commands import title_states_refold as command
from recommendations.models import ProfileTitleState, Signal
from tests.factories import (
    AvailabilityFactory,
    EpisodeFactory,
    ProfileFactory,
    SeasonFactory,
    TitleFactory,
)
from tests.recommendations.test_signals_api import event, url
from tests.releases import first_release_after

pytestmark = pytest.mark.django_db
NOW = timezone.now()
DAY = 24 * 60


def at(minutes_ago: float) -> str:
    return (NOW - dt.timedelta(minutes=minutes_ago)).isoformat()


def send(client, profile, *events) -> None:
    response = client.post(url(profile), {"events": list(events)}, format="json")
    assert response.status_code == 200, response.json()


def refold(*options: str) -> str:
    out = io.StringIO()
    call_command("title_states_refold", *options, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def world(api_client, account, profile):
    """A series whose season 2 came out today or yesterday, of which ``profile``'s state kept S2E1
    played, finished and played again (a rewatch) two days ago, as ingest took it before
    December 2026; another profile watched S2E1 once out, and ``profile`` a film."""
    series = TitleFactory(kind="series", original_name="Harbour Lights")
    film = TitleFactory()
    for title in (series, film):
        AvailabilityFactory(title=title, region=account.home_region)
    pilot = EpisodeFactory(season=SeasonFactory(title=series, number=1), number=1)
    season_two = SeasonFactory(
        title=series, number=2, release_date=(NOW - dt.timedelta(days=5)).date()
    )
    early = EpisodeFactory(season=season_two, number=1)
    EpisodeFactory(season=season_two, number=2)
    send(
        api_client,
        profile,
        event(series, kind="complete", episode=pilot.pk, occurred_at=at(3 * DAY)),
        event(series, episode=early.pk, occurred_at=at(2 * DAY)),
        event(series, kind="complete", episode=early.pk, occurred_at=at(2 * DAY - 45)),
        event(series, episode=early.pk, occurred_at=at(2 * DAY - 50)),
        event(film, kind="complete", occurred_at=at(60)),
    )
    other = ProfileFactory(account=account, name="Ravi")
    send(
        api_client,
        other,
        event(series, kind="complete", episode=early.pk, occurred_at=at(60)),
    )
    # Out from the midnight (UTC) before Ravi's watch an hour ago: after every play of
    # ``profile``'s, at most two days less 50 minutes ago, whatever the time of day
    # (yesterday's date put 23:15 UTC two days ago's plays after it).
    season_two.release_date = (NOW - dt.timedelta(minutes=60)).date()
    season_two.save()
    return series, film, pilot, early, other


def _states() -> dict:
    return {
        (s.profile_id, s.title_id): (sorted(s.completed_episodes), s.completed_at, s.play_count)
        for s in ProfileTitleState.objects.all()
    }


def test_the_dry_run_lists_the_episodes_no_longer_finished_and_writes_nothing(world, profile):
    # given: the states as ingest kept them
    series, _, _, early, _ = world
    before = _states()

    # when
    out = refold("--dry-run")

    # then: the one state is named, with the episode it would no longer count finished,
    # and nothing changed
    assert (
        f"would refold: profile {profile.pk}, title {series.pk} (Harbour Lights): no longer "
        f"finished: S2E1 (#{early.pk}); changes "
    ) in out
    assert "Would fold again 1 of the 1 title state(s)" in out
    assert _states() == before


def test_the_refold_unfinishes_the_episode_and_leaves_the_rest_and_the_log_alone(world, profile):
    # given
    series, film, pilot, _, other = world
    flags = dict(Signal.objects.values_list("pk", "is_rewatch"))
    assert sum(flags.values()) == 1  # the second play of S2E1 was taken for a rewatch
    before = _states()

    # when
    out = refold()

    # then: S2E1's three events are passed over: the pilot alone is finished (the series
    # for now, season 2 was not out), played once and not rewatched
    state = ProfileTitleState.objects.get(profile=profile, title=series)
    assert state.completed_episodes == [pilot.pk]
    assert state.completed_at == NOW - dt.timedelta(minutes=3 * DAY)
    assert (state.play_count, state.rewatch_count, state.last_episode_id) == (0, 0, pilot.pk)
    assert "Folded again 1 of the 1" in out
    # and: the other profile's state, the film's and the log's rewatch flags are as they were
    after = _states()
    assert after[(other.pk, series.pk)] == before[(other.pk, series.pk)]
    assert after[(profile.pk, film.pk)] == before[(profile.pk, film.pk)]
    assert dict(Signal.objects.values_list("pk", "is_rewatch")) == flags


def test_a_second_run_changes_nothing(world, profile):
    # given: the states folded again once
    refold()
    repaired = _states()

    # when
    out = refold()

    # then
    assert "Folded again 0 of the 1 title state(s)" in out
    assert "refolded:" not in out
    assert _states() == repaired


def test_a_state_of_only_events_before_the_release_is_deleted(api_client, account, profile):
    # given: a series whose only season came out yesterday (or today, near midnight),
    # "started" by the profile the day before, as ingest took it
    series = TitleFactory(kind="series")
    AvailabilityFactory(title=series, region=account.home_region)
    season = SeasonFactory(title=series, number=1, release_date=(NOW - dt.timedelta(days=5)).date())
    episode = EpisodeFactory(season=season, number=1)
    send(api_client, profile, event(series, episode=episode.pk, occurred_at=at(2 * DAY)))
    # from the play's next midnight: yesterday's from the clock held the play (with the
    # skew the refold allows) after it from 23:55 UTC
    season.release_date = first_release_after(NOW - dt.timedelta(minutes=2 * DAY))
    season.save()

    # when
    out = refold()

    # then: no state, as ingest would never have made one; the log keeps the play
    assert "no state left" in out
    assert not ProfileTitleState.objects.filter(profile=profile).exists()
    assert Signal.objects.filter(profile=profile).count() == 1


def test_the_refold_does_not_bring_back_an_episode_deleted_since(world, profile):
    # given: the pilot, finished, deleted since (which dropped it from the state)
    from catalog.models import Episode

    series, _, pilot, _, _ = world
    Episode.objects.filter(pk=pilot.pk).delete()

    # when
    refold()

    # then: the log's completion of it names nothing: not finished, nor the last episode
    state = ProfileTitleState.objects.get(profile=profile, title=series)
    assert (state.completed_episodes, state.last_episode_id) == ([], None)


def test_the_refold_leaves_a_deleted_last_episodes_progress_gone_as_its_deletion_did(
    api_client, world, profile
):
    # given: the pilot played again and stopped at 40% (the last episode played), then
    # deleted, which took its id and its progress from the state
    from catalog.models import Episode

    series, _, pilot, _, _ = world
    send(
        api_client,
        profile,
        event(series, episode=pilot.pk, occurred_at=at(30)),
        event(series, kind="progress", value=40, episode=pilot.pk, occurred_at=at(20)),
    )
    Episode.objects.filter(pk=pilot.pk).delete()

    # when
    refold()

    # then: the log's 40% names nothing left either: no episode named, and no progress
    # that another episode would resume at
    state = ProfileTitleState.objects.get(profile=profile, title=series)
    assert (state.last_episode_id, state.progress) == (None, 0.0)


def test_with_nothing_to_refold_it_says_so_in_one_line_and_draws_no_progress_bar(profile):
    # given: no state whose log holds a play of an episode before it was out
    out, err = io.StringIO(), io.StringIO()

    # when
    call_command("title_states_refold", stdout=out, stderr=err)

    # then
    assert out.getvalue() == (
        "Nothing to refold: no title state's log holds a play of an episode before it was out.\n"
    )
    assert err.getvalue() == ""


def _stored(profile, title) -> dict:
    state = ProfileTitleState.objects.get(profile=profile, title=title)
    return {
        "completed_episodes": sorted(state.completed_episodes),
        "completed_seasons": state.completed_seasons,
        "completed_at": state.completed_at,
        "last_episode_id": state.last_episode_id,
        "progress": state.progress,
        "rewatch_count": state.rewatch_count,
    }


def test_ingest_finishes_a_passed_episode_moved_on_from_as_the_refold_does(
    api_client, account, profile
):
    # given: a two-season series; the pilot finished, the finale left in its credits, then
    # (a batch later, naming neither a completion nor credits) season 2 started; then the
    # first of season 2 left in its credits on a device offline until after the next was
    # started on another, and that one going back to the pilot
    from recommendations.services.signals import title_states_refold

    series = TitleFactory(kind="series")
    AvailabilityFactory(title=series, region=account.home_region)
    one, two = (SeasonFactory(title=series, number=n) for n in (1, 2))
    pilot, finale = (EpisodeFactory(season=one, number=n) for n in (1, 2))
    new_first, new_second = (EpisodeFactory(season=two, number=n) for n in (1, 2))
    send(
        api_client,
        profile,
        event(series, episode=pilot.pk, occurred_at=at(300)),
        event(series, kind="complete", episode=pilot.pk, occurred_at=at(255)),
        event(series, episode=finale.pk, occurred_at=at(250)),
        event(series, kind="progress", value=99, episode=finale.pk, occurred_at=at(206)),
    )
    send(api_client, profile, event(series, episode=new_first.pk, occurred_at=at(200)))

    # then: the finale is finished, and with it season 1 (the seasons were read for it)
    moved_on = _stored(profile, series)
    assert moved_on["completed_episodes"] == sorted([pilot.pk, finale.pk])
    assert (moved_on["completed_seasons"], moved_on["completed_at"]) == (1, None)

    # when: the later reports arrive, the offline device's credits last
    send(
        api_client,
        profile,
        event(series, episode=new_second.pk, occurred_at=at(150)),
        event(series, kind="progress", value=99, episode=new_second.pk, occurred_at=at(110)),
        event(series, episode=pilot.pk, occurred_at=at(100)),
        event(series, kind="progress", value=30, episode=pilot.pk, occurred_at=at(90)),
    )
    send(
        api_client,
        profile,
        event(series, kind="progress", value=98, episode=new_first.pk, occurred_at=at(160)),
    )
    ingested = _stored(profile, series)

    # then: the state ingest kept is the one the log folds into: every episode finished,
    # S2E2 (passed, then gone back from to the pilot) and S2E1 (passed) too, the series
    # as of the last credits, and the pilot being rewatched at 30%
    assert title_states_refold(profile_id=profile.pk, title_ids=[series.pk], dry_run=True) == []
    assert ingested == {
        "completed_episodes": sorted([pilot.pk, finale.pk, new_first.pk, new_second.pk]),
        "completed_seasons": 2,
        "completed_at": NOW - dt.timedelta(minutes=110),
        "last_episode_id": pilot.pk,
        "progress": 30.0,
        "rewatch_count": 1,
    }


def test_with_passed_it_finishes_a_passed_episode_a_state_folded_before_kept_unfinished(
    api_client, account, profile
):
    # given: a one-season series whose pilot was left in its credits and the finale then
    # finished, stored as the fold left it before it finished passed episodes (December
    # 2026): the pilot unfinished, so the series too; and a film, its log holding no credits
    series = TitleFactory(kind="series", original_name="Harbour Lights")
    film = TitleFactory()
    for title in (series, film):
        AvailabilityFactory(title=title, region=account.home_region)
    season = SeasonFactory(title=series, number=1)
    pilot, finale = (EpisodeFactory(season=season, number=n) for n in (1, 2))
    send(
        api_client,
        profile,
        event(series, episode=pilot.pk, occurred_at=at(100)),
        event(series, kind="progress", value=99, episode=pilot.pk, occurred_at=at(56)),
        event(series, episode=finale.pk, occurred_at=at(50)),
        event(series, kind="complete", episode=finale.pk, occurred_at=at(5)),
        event(film, kind="complete", occurred_at=at(60)),
    )
    ProfileTitleState.objects.filter(profile=profile, title=series).update(
        completed_episodes=[finale.pk], completed_seasons=0, completed_at=None
    )

    # when: reviewed, then run
    dry = refold("--passed", "--dry-run")
    ran = refold("--passed")

    # then: the pilot is finished, with the season and the series as of the finale
    assert (
        f"would refold: profile {profile.pk}, title {series.pk} (Harbour Lights): no longer "
        f"finished: none; newly finished: S1E1 (#{pilot.pk}); changes completed_episodes, "
        "completed_seasons, completed_at"
    ) in dry
    assert "Would fold again 1 of the 1 title state(s) whose log holds an episode's credits" in dry
    assert "Folded again 1 of the 1" in ran
    state = ProfileTitleState.objects.get(profile=profile, title=series)
    assert sorted(state.completed_episodes) == sorted([pilot.pk, finale.pk])
    assert (state.completed_seasons, state.completed_at) == (1, NOW - dt.timedelta(minutes=5))
    # and: a second run changes nothing; without --passed, nothing is found
    assert "Folded again 0 of the 1" in refold("--passed")
    assert refold().startswith("Nothing to refold: no title state's log holds a play of")


def test_an_interrupted_refold_says_how_many_profiles_it_refolded_and_keeps_theirs(
    api_client, account, profile, monkeypatch
):
    # given: two profiles whose states kept an episode finished before it was out
    series = TitleFactory(kind="series", original_name="Harbour Lights")
    AvailabilityFactory(title=series, region=account.home_region)
    pilot = EpisodeFactory(season=SeasonFactory(title=series, number=1), number=1)
    season = SeasonFactory(title=series, number=2, release_date=(NOW - dt.timedelta(days=5)).date())
    early = EpisodeFactory(season=season, number=1)
    other = ProfileFactory(account=account, name="Ravi")
    for someone in (profile, other):
        send(
            api_client,
            someone,
            event(series, kind="complete", episode=pilot.pk, occurred_at=at(3 * DAY)),
            event(series, kind="complete", episode=early.pk, occurred_at=at(2 * DAY)),
        )
    season.release_date = (NOW - dt.timedelta(minutes=60)).date()
    season.save()
    # and: Ctrl-C as the second profile's states are refolded
    refolded: list[int] = []
    refold_one = command.title_states_refold

    def interrupted_at_the_second(*, profile_id: int, **kwargs):
        if refolded:
            raise KeyboardInterrupt
        refolded.append(profile_id)
        return refold_one(profile_id=profile_id, **kwargs)

    monkeypatch.setattr(command, "title_states_refold", interrupted_at_the_second)

    # when
    with pytest.raises(CommandError) as stopped:
        call_command("title_states_refold", stdout=io.StringIO(), stderr=io.StringIO())

    # then: one line saying how far it got and what it kept, with Ctrl-C's exit status;
    # until December 2026 a traceback
    assert stopped.value.returncode == 130
    assert str(stopped.value).startswith(
        "Interrupted after refolding the title states of 1 of 2 profile(s): those are kept"
    )
    # and: it is true: the first profile's state was refolded, the second's was not
    (first,) = refolded
    second = other.pk if first == profile.pk else profile.pk
    state = ProfileTitleState.objects.get
    assert early.pk not in state(profile_id=first, title=series).completed_episodes
    assert early.pk in state(profile_id=second, title=series).completed_episodes
