"""The per-title state derived from signals: completion, rewatches, thumbs, ordering."""

import datetime as dt
import io

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Season
from recommendations.models import ProfileTitleState, Signal
from recommendations.services.ranker_training import _StatesAsOf
from recommendations.services.signals import title_states_refold
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


def at(minutes_ago: float) -> str:
    return (NOW - dt.timedelta(minutes=minutes_ago)).isoformat()


def send(client, profile, *events) -> dict:
    response = client.post(url(profile), {"events": list(events)}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.fixture
def film(account):
    """A film available in the account's region."""
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    return title


@pytest.fixture
def series(account):
    """A two-season series, three episodes each, available in the account's region."""
    title = TitleFactory(kind="series", runtime_minutes=45)
    AvailabilityFactory(title=title, region=account.home_region)
    seasons = [SeasonFactory(title=title, number=n) for n in (1, 2)]
    episodes = [[EpisodeFactory(season=s, number=n) for n in (1, 2, 3)] for s in seasons]
    return title, episodes


def test_finishing_every_episode_of_a_season_completes_the_season(api_client, profile, series):
    title, episodes = series
    first_season = episodes[0]
    send(
        api_client,
        profile,
        *[
            event(title, kind="complete", episode=e.pk, occurred_at=at(30 - i))
            for i, e in enumerate(first_season[:2])
        ],
    )
    state = ProfileTitleState.objects.get(profile=profile, title=title)
    assert state.completed_seasons == 0

    send(
        api_client,
        profile,
        event(title, kind="complete", episode=first_season[2].pk, occurred_at=at(10)),
    )

    state.refresh_from_db()
    assert state.completed_seasons == 1
    assert not state.is_completed  # season 2 is still unwatched
    assert sorted(state.completed_episodes) == sorted(e.pk for e in first_season)


def test_finishing_the_last_season_completes_the_series(api_client, profile, series):
    title, episodes = series
    every_episode = [e for season in episodes for e in season]
    send(
        api_client,
        profile,
        *[
            event(title, kind="complete", episode=e.pk, occurred_at=at(60 - i))
            for i, e in enumerate(every_episode)
        ],
    )
    state = ProfileTitleState.objects.get(profile=profile, title=title)
    assert state.completed_seasons == 2
    assert state.is_completed


def test_playing_a_finished_film_again_is_a_rewatch_even_unannounced(api_client, profile, film):
    send(
        api_client,
        profile,
        event(film, occurred_at=at(300)),
        event(film, kind="complete", occurred_at=at(200)),
    )

    send(api_client, profile, event(film, kind="search_play", occurred_at=at(10)))

    state = ProfileTitleState.objects.get(profile=profile, title=film)
    assert state.rewatch_count == 1
    assert state.play_count == 2
    flags = dict(
        Signal.objects.filter(profile=profile, title=film).values_list("kind", "is_rewatch")
    )
    assert flags == {"play_start": False, "complete": False, "search_play": True}


def test_a_late_arriving_play_from_before_the_completion_is_not_a_rewatch(
    api_client, profile, film
):
    # given a film played and finished, as one device reported it
    send(
        api_client,
        profile,
        event(film, occurred_at=at(120)),
        event(film, kind="complete", occurred_at=at(60)),
    )

    # when a device that was offline reports a play from before the completion
    send(api_client, profile, event(film, occurred_at=at(180)))

    # then it is a first viewing, not a rewatch
    state = ProfileTitleState.objects.get(profile=profile, title=film)
    assert state.rewatch_count == 0
    assert state.play_count == 2
    assert not Signal.objects.filter(profile=profile, is_rewatch=True).exists()


def test_a_late_arriving_completion_makes_the_plays_after_it_rewatches(api_client, profile, film):
    # given: the TV's rewatch of a film, reported at once
    send(
        api_client,
        profile,
        event(film, occurred_at=at(60)),
        event(film, kind="progress", value=40, occurred_at=at(50)),
    )

    # when: the tablet, offline on a plane, reports how the film was first finished before
    send(
        api_client,
        profile,
        event(film, occurred_at=at(300)),
        event(film, kind="complete", occurred_at=at(200)),
    )

    # then: the TV's play came after the completion, a rewatch, as the log folded says
    state = ProfileTitleState.objects.get(profile=profile, title=film)
    assert (state.rewatch_count, state.play_count) == (1, 2)
    assert title_states_refold(profile_id=profile.pk, title_ids=[film.pk], dry_run=True) == []
    # and: the rewatch is counted once, whatever comes after
    send(api_client, profile, event(film, kind="complete", occurred_at=at(250)))
    send(api_client, profile, event(film, kind="progress", value=60, occurred_at=at(40)))
    state.refresh_from_db()
    assert state.rewatch_count == 1


def test_a_late_arriving_episode_completion_makes_the_plays_after_it_rewatches(
    api_client, profile, series
):
    # given: the first episode played again on the TV, after the second
    title, episodes = series
    first, second = episodes[0][0], episodes[0][1]
    send(
        api_client,
        profile,
        event(title, episode=second.pk, occurred_at=at(90)),
        event(title, episode=first.pk, occurred_at=at(60)),
        event(title, kind="progress", episode=first.pk, value=30, occurred_at=at(50)),
    )

    # when: the tablet reports, late, how the first episode was finished before either
    send(
        api_client,
        profile,
        event(title, episode=first.pk, occurred_at=at(300)),
        event(title, kind="complete", episode=first.pk, occurred_at=at(250)),
    )

    # then: the TV's play of it is a rewatch, and the second episode's play is not
    state = ProfileTitleState.objects.get(profile=profile, title=title)
    assert (state.rewatch_count, state.play_count) == (1, 3)
    assert title_states_refold(profile_id=profile.pk, title_ids=[title.pk], dry_run=True) == []
    # and: counted once, though a yet earlier finish of it arrives after
    send(api_client, profile, event(title, kind="complete", episode=first.pk, occurred_at=at(280)))
    state.refresh_from_db()
    assert state.rewatch_count == 1
    assert title_states_refold(profile_id=profile.pk, title_ids=[title.pk], dry_run=True) == []


def test_a_late_play_before_a_progress_that_had_none_dates_the_plays_as_the_log_does(
    api_client, profile, film
):
    # given: the TV's progress through a film whose play_start it lost, dated as its play
    send(api_client, profile, event(film, kind="progress", value=40, occurred_at=at(30)))

    # when: the tablet, offline, reports how the film was started earlier
    send(api_client, profile, event(film, occurred_at=at(60)))

    # then: as the log folded in order: the play came first, and the progress after it is
    # not a play of its own (the state kept the progress's moment as the last play)
    state = ProfileTitleState.objects.get(profile=profile, title=film)
    started = NOW - dt.timedelta(minutes=60)
    assert (state.first_played_at, state.last_played_at) == (started, started)
    assert title_states_refold(profile_id=profile.pk, title_ids=[film.pk], dry_run=True) == []


def test_a_late_progress_from_before_a_stored_play_is_kept_as_the_log_keeps_it(
    api_client, profile, film
):
    # given: the TV starts a film again
    send(api_client, profile, event(film, occurred_at=at(30)))

    # when: the tablet reports, late, how far the film had got before
    send(api_client, profile, event(film, kind="progress", value=40, occurred_at=at(60)))

    # then: the play resumed there, as the log folded in order says (the state kept 0)
    state = ProfileTitleState.objects.get(profile=profile, title=film)
    assert state.progress == 40
    assert title_states_refold(profile_id=profile.pk, title_ids=[film.pk], dry_run=True) == []


def test_a_late_completion_before_a_stored_play_restarts_its_progress_as_a_rewatch(
    api_client, profile, film
):
    # given: the TV's progress through a film, then the film started again
    send(
        api_client,
        profile,
        event(film, kind="progress", value=50, occurred_at=at(45)),
        event(film, occurred_at=at(30)),
    )

    # when: the tablet reports, late, that the film was finished before either
    send(api_client, profile, event(film, kind="complete", occurred_at=at(60)))

    # then: the play after the completion is a rewatch from the start, at 0 (the state kept
    # the progress from before the play, 50)
    state = ProfileTitleState.objects.get(profile=profile, title=film)
    assert (state.progress, state.rewatch_count) == (0, 1)
    assert title_states_refold(profile_id=profile.pk, title_ids=[film.pk], dry_run=True) == []


def test_late_credits_of_the_episode_last_played_finish_it_when_another_came_between(
    api_client, profile, series
):
    # given: the first episode, the second, then the first again, on the TV
    title, episodes = series
    first, second = episodes[0][0], episodes[0][1]
    send(
        api_client,
        profile,
        event(title, episode=first.pk, occurred_at=at(90)),
        event(title, episode=second.pk, occurred_at=at(60)),
        event(title, episode=first.pk, occurred_at=at(30)),
    )

    # when: the tablet reports, late, that the first played into its credits before the second
    send(
        api_client,
        profile,
        event(title, kind="progress", episode=first.pk, value=96, occurred_at=at(80)),
    )

    # then: seen to its credits and moved on from, it is finished, and the play of it since
    # is a rewatch (the state left it unfinished: it is the episode last played)
    state = ProfileTitleState.objects.get(profile=profile, title=title)
    assert state.completed_episodes == [first.pk]
    assert (state.rewatch_count, state.last_episode_id, state.progress) == (1, first.pk, 0)
    assert title_states_refold(profile_id=profile.pk, title_ids=[title.pk], dry_run=True) == []


def test_only_a_late_batch_pays_a_read_of_the_log(api_client, profile, film):
    # given: a film's progress stored
    send(api_client, profile, event(film, kind="progress", value=10, occurred_at=at(60)))

    def statements(*events) -> int:
        with CaptureQueriesContext(connection) as captured:
            send(api_client, profile, *events)
        return len(captured.captured_queries)

    # when: a batch after it, then one from before the last
    in_order = statements(event(film, kind="progress", value=20, occurred_at=at(50)))
    late = statements(event(film, kind="progress", value=5, occurred_at=at(55)))

    # then: the usual batch costs what it did; the late one one read of the film's log
    assert late == in_order + 1
    assert ProfileTitleState.objects.get(profile=profile, title=film).progress == 20


def test_replaying_a_finished_episode_is_a_rewatch_but_the_next_episode_is_not(
    api_client, profile, series
):
    title, episodes = series
    first, second = episodes[0][0], episodes[0][1]
    send(api_client, profile, event(title, kind="complete", episode=first.pk, occurred_at=at(100)))

    send(
        api_client,
        profile,
        event(title, episode=second.pk, occurred_at=at(50)),
        event(title, episode=first.pk, occurred_at=at(40)),
    )

    state = ProfileTitleState.objects.get(profile=profile, title=title)
    assert state.rewatch_count == 1
    assert Signal.objects.get(profile=profile, episode=first, kind="play_start").is_rewatch
    assert not Signal.objects.get(profile=profile, episode=second, kind="play_start").is_rewatch


def test_starting_the_next_episode_starts_it_at_zero(api_client, profile, series):
    # given: the first episode finished (100%), then the second started
    title, episodes = series
    first, second = episodes[0][0], episodes[0][1]
    send(
        api_client,
        profile,
        event(title, episode=first.pk, occurred_at=at(40)),
        event(title, kind="complete", episode=first.pk, occurred_at=at(30)),
        event(title, episode=second.pk, occurred_at=at(20)),
    )

    # then: the state (and so Continue Watching) resumes the second at 0, not at 100
    state = ProfileTitleState.objects.get(profile=profile, title=title)
    assert (state.last_episode_id, state.progress) == (second.pk, 0.0)
    resumed = api_client.get(f"/api/v1/profiles/{profile.pk}/continue-watching/?device=tv").json()
    assert [(r["episode_id"], r["progress"]) for r in resumed["results"]] == [(second.pk, 0.0)]


def test_events_apply_in_the_order_they_happened_not_arrived(api_client, profile, film):
    send(api_client, profile, event(film, kind="progress", value=70, occurred_at=at(10)))
    send(api_client, profile, event(film, kind="thumbs_down", occurred_at=at(5)))

    # an older progress and thumbs-up arrive late, from a device that was offline
    send(
        api_client,
        profile,
        event(film, kind="progress", value=20, occurred_at=at(60)),
        event(film, kind="thumbs_up", occurred_at=at(50)),
    )

    state = ProfileTitleState.objects.get(profile=profile, title=film)
    assert state.progress == 70
    assert state.thumbs == ProfileTitleState.Thumbs.DOWN


def test_a_late_progress_newer_than_the_stored_one_counts_though_a_thumbs_came_after(
    api_client, profile, film
):
    # given: a film played to 20%, then thumbed up (a later event than any playback)
    send(
        api_client,
        profile,
        event(film, occurred_at=at(70)),
        event(film, kind="progress", value=20, occurred_at=at(60)),
        event(film, kind="thumbs_up", occurred_at=at(10)),
    )

    # when: an offline device's progress from between the two arrives
    send(api_client, profile, event(film, kind="progress", value=60, occurred_at=at(30)))

    # then: it is the newest playback, so it stands (the thumbs' time made it look stale)
    state = ProfileTitleState.objects.get(profile=profile, title=film)
    assert (state.progress, state.thumbs) == (60, ProfileTitleState.Thumbs.UP)


def test_a_cleared_rating_leaves_the_title_unrated_and_resumable_again(api_client, profile, film):
    # given: a film stopped at 40%, then given a thumbs down (which takes it out of
    # Continue Watching)
    send(
        api_client,
        profile,
        event(film, occurred_at=at(30)),
        event(film, kind="progress", value=40, occurred_at=at(20)),
        event(film, kind="thumbs_down", occurred_at=at(10)),
    )
    resume = f"/api/v1/profiles/{profile.pk}/continue-watching/?device=tv"
    assert api_client.get(resume).json()["results"] == []

    # when: the viewer removes the rating
    send(api_client, profile, event(film, kind="thumbs_cleared", occurred_at=at(5)))

    # then: no rating, and the film is back to be resumed where it was
    state = ProfileTitleState.objects.get(profile=profile, title=film)
    assert (state.thumbs, state.progress) == (ProfileTitleState.Thumbs.NONE, 40)
    resumed = api_client.get(resume).json()["results"]
    assert [(r["title_id"], r["progress"]) for r in resumed] == [(film.pk, 40.0)]


def test_an_older_clear_arriving_late_does_not_erase_a_newer_rating(api_client, profile, film):
    # given: a thumbs up given 10 minutes ago
    send(api_client, profile, event(film, kind="thumbs_up", occurred_at=at(10)))

    # when: an offline device's clear from 30 minutes ago arrives
    send(api_client, profile, event(film, kind="thumbs_cleared", occurred_at=at(30)))

    # then: the newer rating stands
    state = ProfileTitleState.objects.get(profile=profile, title=film)
    assert state.thumbs == ProfileTitleState.Thumbs.UP


def test_a_clear_keeps_its_time_so_an_older_rating_arriving_late_stays_cleared(
    api_client, profile, film
):
    # given: a thumbs down, then cleared
    send(
        api_client,
        profile,
        event(film, kind="thumbs_down", occurred_at=at(20)),
        event(film, kind="thumbs_cleared", occurred_at=at(10)),
    )

    # when: a thumbs up from before the clear arrives late
    send(api_client, profile, event(film, kind="thumbs_up", occurred_at=at(15)))

    # then: still no rating
    state = ProfileTitleState.objects.get(profile=profile, title=film)
    assert state.thumbs == ProfileTitleState.Thumbs.NONE


def test_impressions_and_hovers_create_no_state(api_client, profile, film):
    send(api_client, profile, event(film, kind="impression"), event(film, kind="hover", value=900))
    assert not ProfileTitleState.objects.exists()


def test_profiles_of_one_household_do_not_share_state(api_client, account, profile, film):
    partner = ProfileFactory(account=account, name="Partner")
    send(api_client, profile, event(film, kind="complete", occurred_at=at(30)))

    send(api_client, partner, event(film, occurred_at=at(5)))

    assert not Signal.objects.get(profile=partner).is_rewatch
    assert ProfileTitleState.objects.get(profile=partner, title=film).completed_at is None


def test_a_rating_stamped_ahead_by_a_fast_clock_does_not_outrank_a_later_one(
    api_client, profile, film
):
    # given: a TV whose clock runs 4 minutes fast (within the allowed skew) gives a thumbs down
    ahead = (timezone.now() + dt.timedelta(minutes=4)).isoformat()
    send(api_client, profile, event(film, kind="thumbs_down", occurred_at=ahead))

    # when: a minute later by the server's clock the phone, whose clock is right, gives a thumbs up
    send(api_client, profile, event(film, kind="thumbs_up", occurred_at=timezone.now().isoformat()))

    # then: the later rating stands; nothing can have happened after the server received it
    state = ProfileTitleState.objects.get(profile=profile, title=film)
    assert state.thumbs == ProfileTitleState.Thumbs.UP


def test_a_late_play_of_an_episode_from_before_its_completion_is_not_a_rewatch(
    api_client, profile, series
):
    # given: the first episode finished on the TV
    title, episodes = series
    first = episodes[0][0]
    send(
        api_client,
        profile,
        event(title, episode=first.pk, occurred_at=at(30)),
        event(title, kind="complete", episode=first.pk, occurred_at=at(20)),
    )

    # when: the tablet, offline on a plane, reports how the episode was started earlier
    send(
        api_client,
        profile,
        event(title, episode=first.pk, occurred_at=at(120)),
        event(title, kind="progress", episode=first.pk, value=60, occurred_at=at(100)),
    )

    # then: it was the first viewing, as for a film
    state = ProfileTitleState.objects.get(profile=profile, title=title)
    assert (state.rewatch_count, state.play_count) == (0, 2)
    assert not Signal.objects.filter(profile=profile, is_rewatch=True).exists()


def test_a_series_is_completed_when_its_last_episode_was_finished_whatever_the_arrival_order(
    api_client, profile, series
):
    title, episodes = series
    first, *rest = [e for season in episodes for e in season]
    finale = rest[-1]
    # given: the TV reports every episode but the first finished, the finale last, and the
    # player's progress through the finale's credits after its completion
    send(
        api_client,
        profile,
        *[
            event(title, kind="complete", episode=e.pk, occurred_at=at(60 - 10 * i))
            for i, e in enumerate(rest[:-1])
        ],
        event(title, episode=finale.pk, occurred_at=at(15)),
        event(title, kind="complete", episode=finale.pk, occurred_at=at(10)),
        event(title, kind="progress", episode=finale.pk, value=93, occurred_at=at(9)),
    )

    # when: the tablet's earlier completion of the first episode arrives last
    send(api_client, profile, event(title, kind="complete", episode=first.pk, occurred_at=at(120)))

    # then: the series was finished with the finale, and nothing has been played since
    state = ProfileTitleState.objects.get(profile=profile, title=title)
    assert state.completed_at == NOW - dt.timedelta(minutes=10)
    resumed = api_client.get(f"/api/v1/profiles/{profile.pk}/continue-watching/?device=tv").json()
    assert resumed["results"] == []


def test_training_folds_an_event_stamped_ahead_as_of_its_receipt_as_ingest_did(
    api_client, profile, film
):
    # given: a thumbs down stamped 4 minutes ahead by a fast TV clock, then a thumbs up a
    # minute later from a phone whose clock is right: the live state keeps the thumbs up
    ahead = (timezone.now() + dt.timedelta(minutes=4)).isoformat()
    send(api_client, profile, event(film, kind="thumbs_down", occurred_at=ahead))
    send(api_client, profile, event(film, kind="thumbs_up", occurred_at=timezone.now().isoformat()))

    # when: the rankers' training folds the profile's state from its signal log, as of a
    # page served after both stamps
    later = timezone.now() + dt.timedelta(minutes=10)
    states = _StatesAsOf(profile_ids=[profile.pk], until=later).at(profile.pk, later)

    # then: it is the state serving read (thumbs up), not the one the client's stamps say
    assert ProfileTitleState.objects.get(profile=profile, title=film).thumbs == "up"
    assert states[states[:, 0] == film.pk, 3].tolist() == [1.0]


def test_a_late_upload_does_not_date_a_series_finished_by_a_fast_clock_in_the_future(
    api_client, profile, series
):
    # given: every episode finished, the last one stamped 4 minutes ahead by a fast clock
    title, episodes = series
    *before, last = [e for season in episodes for e in season]
    send(
        api_client,
        profile,
        *[
            event(title, kind="complete", episode=e.pk, occurred_at=at(30 - i))
            for i, e in enumerate(before)
        ],
    )
    ahead = (timezone.now() + dt.timedelta(minutes=4)).isoformat()
    send(api_client, profile, event(title, kind="complete", episode=last.pk, occurred_at=ahead))
    finished = ProfileTitleState.objects.get(profile=profile, title=title).completed_at

    # when: an offline device uploads an older completion of the first episode
    send(
        api_client, profile, event(title, kind="complete", episode=before[0].pk, occurred_at=at(60))
    )

    # then: the series was still finished when the server received its last episode's
    state = ProfileTitleState.objects.get(profile=profile, title=title)
    assert finished <= timezone.now()
    assert state.completed_at == finished


def test_a_season_not_yet_released_does_not_keep_a_series_from_being_finished(
    api_client, profile, series
):
    # given: season 2 announced for next month, season 1 out
    title, episodes = series
    season_two = Season.objects.get(title=title, number=2)
    season_two.release_date = (NOW + dt.timedelta(days=30)).date()
    season_two.save()

    # when: the profile finishes every episode of season 1
    send(
        api_client,
        profile,
        *[
            event(title, kind="complete", episode=e.pk, occurred_at=at(30 - i))
            for i, e in enumerate(episodes[0])
        ],
    )

    # then: it has finished the series for now, with its last released episode, and has
    # nothing to resume (season 2's first episode is not out)
    state = ProfileTitleState.objects.get(profile=profile, title=title)
    assert state.completed_at == NOW - dt.timedelta(minutes=28)
    resumed = api_client.get(f"/api/v1/profiles/{profile.pk}/continue-watching/?device=tv").json()
    assert resumed["results"] == []


def test_finishing_a_season_released_since_the_series_was_finished_dates_it_again(
    api_client, profile, series
):
    # given: season 1 finished three days ago, when season 2 was not out yet (it came out
    # the midnight after: two days ago, or the day after near midnight; the date from the
    # clock put the finale after it from 23:55 UTC)
    title, episodes = series
    season_two = Season.objects.get(title=title, number=2)
    three_days = 3 * 24 * 60
    season_two.release_date = first_release_after(NOW - dt.timedelta(minutes=three_days - 2))
    season_two.save()
    send(
        api_client,
        profile,
        *[
            event(title, kind="complete", episode=e.pk, occurred_at=at(three_days - i))
            for i, e in enumerate(episodes[0])
        ],
    )
    first_finish = ProfileTitleState.objects.get(profile=profile, title=title).completed_at
    assert first_finish == NOW - dt.timedelta(minutes=three_days - 2)

    # when: the profile watches season 2 to its end, the player reporting the credits after
    send(
        api_client,
        profile,
        *[
            event(title, kind="complete", episode=e.pk, occurred_at=at(30 - i))
            for i, e in enumerate(episodes[1])
        ],
        event(title, kind="progress", episode=episodes[1][2].pk, value=97, occurred_at=at(27)),
    )

    # then: the series was finished (again) with season 2's finale, and is not "being
    # rewatched" on the strength of the season it just finished
    state = ProfileTitleState.objects.get(profile=profile, title=title)
    assert state.completed_at == NOW - dt.timedelta(minutes=28)
    resumed = api_client.get(f"/api/v1/profiles/{profile.pk}/continue-watching/?device=tv").json()
    assert resumed["results"] == []


def test_training_reads_the_title_states_as_serving_reads_them(
    api_client, account, profile, film, series
):
    # given: a film finished, then played again and left at 40% (a rewatch under way), a
    # series whose first episode was finished and nothing else (it resumes the next, at 0),
    # and one whose first episode was left in its credits (passed: the next, at 0)
    from recommendations.serving.recommend import profile_history_rows

    title, episodes = series
    credits = TitleFactory(kind="series")
    AvailabilityFactory(title=credits, region=account.home_region)
    in_credits = EpisodeFactory(season=SeasonFactory(title=credits, number=1), number=1)
    EpisodeFactory(season=in_credits.season, number=2)
    send(
        api_client,
        profile,
        event(film, kind="play_start", occurred_at=at(60)),
        event(film, kind="complete", occurred_at=at(50)),
        event(film, kind="play_start", occurred_at=at(40)),
        event(film, kind="progress", value=40, occurred_at=at(35)),
        event(title, kind="play_start", episode=episodes[0][0].pk, occurred_at=at(30)),
        event(title, kind="complete", episode=episodes[0][0].pk, occurred_at=at(20)),
        event(credits, kind="play_start", episode=in_credits.pk, occurred_at=at(15)),
        event(credits, kind="progress", episode=in_credits.pk, value=99, occurred_at=at(12)),
    )
    # and: one whose first episode was left in its credits, then the next started a batch
    # later (passed and moved on from: finished, with its one-episode season)
    moved_on = TitleFactory(kind="series")
    AvailabilityFactory(title=moved_on, region=account.home_region)
    moved = [EpisodeFactory(season=SeasonFactory(title=moved_on, number=n)) for n in (1, 2)]
    send(
        api_client,
        profile,
        event(moved_on, kind="play_start", episode=moved[0].pk, occurred_at=at(11)),
        event(moved_on, kind="progress", episode=moved[0].pk, value=98, occurred_at=at(9)),
    )
    send(
        api_client,
        profile,
        event(moved_on, kind="play_start", episode=moved[1].pk, occurred_at=at(8)),
    )
    stored = ProfileTitleState.objects.get(profile=profile, title=moved_on)
    assert (stored.completed_episodes, stored.completed_seasons) == ([moved[0].pk], 1)

    # when: the rankers' training folds the states as of a page served after them all
    later = timezone.now() + dt.timedelta(minutes=10)
    offline = _StatesAsOf(profile_ids=[profile.pk], until=later).at(profile.pk, later)
    served = profile_history_rows(profile_id=profile.pk, at=later).states

    # then: every column is the one serving reads (a rewatch is 2, not 1, in "completed";
    # a series' progress is the episode it resumes on), or the ranker learns from pages
    # whose Continue Watching and eligibility the served pages do not have
    def by_title(states):
        return states[states[:, 0].argsort()].tolist()

    assert by_title(offline) == by_title(served)


def test_training_passes_over_a_completion_stored_before_its_season_was_out(
    api_client, profile, series
):
    # given: season 1 finished and S2E1 "finished" two days ago, stored as ingest took it
    # until December 2026 (season 2 dated earlier here: ingest now refuses the event), and
    # season 2 in fact out only since the midnight after (yesterday's, near midnight today's:
    # yesterday's date from the clock put S2E1 after it from 23:55 UTC)
    from recommendations.serving.recommend import profile_history_rows

    title, episodes = series
    season_two = episodes[1][0].season
    season_two.release_date = (NOW - dt.timedelta(days=5)).date()
    season_two.save()
    send(
        api_client,
        profile,
        *[
            event(title, kind="complete", episode=e.pk, occurred_at=at(2 * 24 * 60 - i))
            for i, e in enumerate([*episodes[0], episodes[1][0]])
        ],
    )
    season_two.release_date = first_release_after(NOW - dt.timedelta(minutes=2 * 24 * 60 - 3))
    season_two.save()

    # when: the rankers' training folds the states from the log, as of a page served now
    later = timezone.now() + dt.timedelta(minutes=10)
    offline = _StatesAsOf(profile_ids=[profile.pk], until=later).at(profile.pk, later)

    # then: three episodes finished, not the one nobody could have watched then
    assert offline[offline[:, 0] == title.pk, 7].tolist() == [3.0]

    # and: once the stored state is folded again from the log, serving reads the same
    call_command("title_states_refold", stdout=io.StringIO(), stderr=io.StringIO())
    served = profile_history_rows(profile_id=profile.pk, at=later).states
    np.testing.assert_array_equal(offline, served)


def test_series_whose_only_episode_left_was_passed_leave_no_gap_in_continue_watching(
    api_client, account, profile, film
):
    # given: a film left midway, then two one-episode series each left in their credits
    # (passed: nothing left of them), played after the film
    from recommendations.selectors.signals import continue_watching

    events = [
        event(film, kind="play_start", occurred_at=at(60)),
        event(film, kind="progress", value=40, occurred_at=at(55)),
    ]
    for minutes in (30, 20):
        title = TitleFactory(kind="series")
        AvailabilityFactory(title=title, region=account.home_region)
        only = EpisodeFactory(season=SeasonFactory(title=title, number=1), number=1)
        events += [
            event(title, kind="play_start", episode=only.pk, occurred_at=at(minutes)),
            event(title, kind="progress", episode=only.pk, value=99, occurred_at=at(minutes - 5)),
        ]
    send(api_client, profile, *events)

    # when: Continue Watching is read one item at a time (the API reads 40 of 80 states)
    items = continue_watching(profile=profile, limit=1)

    # then: the film, which has something left, is the one item: the passed series are
    # nothing left, as on the homepage, and took none of the read's places
    assert [item.title_id for item in items] == [film.pk]
