"""Ratings of one title at one instant: the per-title state goes by kind, as confidence does.

Two devices can rate one title at the very same ``occurred_at``. Confidence and the
holdout (``engine/split.py``: ``Rating``) let a thumbs down win, then a clear, then a
thumbs up, whatever the order of arrival; the state (which the homepage, Continue
Watching and the title page read) must say the same, however the ratings arrive.
"""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from recommendations.models import ProfileTitleState
from recommendations.serving.recommend import profile_history_rows
from tests.factories import AvailabilityFactory, TitleFactory
from tests.recommendations.test_signals_api import event, url

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(microsecond=250_000)
#: The one instant both devices rate at: to the microsecond, as a client sends it.
TIED = (NOW - dt.timedelta(minutes=10)).isoformat()
#: The standing rating as the state's ``thumbs``, the title page's and the homepage's.
DOWN = ("down", "down", -1.0)
UP = ("up", "up", 1.0)
NONE = ("", None, 0.0)


def at(minutes_ago: float) -> str:
    return (NOW - dt.timedelta(minutes=minutes_ago)).isoformat()


def send(client, profile, *events) -> None:
    response = client.post(url(profile), {"events": list(events)}, format="json")
    assert response.status_code == 200, response.json()


def standing(client, profile, film) -> tuple[str, str | None, float]:
    """The rating as the state holds it, the title page shows it and the homepage reads it."""
    state = ProfileTitleState.objects.get(profile=profile, title=film).thumbs
    page = client.get(f"/api/v1/titles/{film.pk}/?profile={profile.pk}")
    assert page.status_code == 200, page.json()
    states = profile_history_rows(profile_id=profile.pk, at=None).states
    (homepage,) = states[states[:, 0] == film.pk, 3].tolist()
    return state, page.json()["viewing"]["thumbs"], homepage


@pytest.fixture
def film(account):
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    return title


@pytest.mark.parametrize("batches", ["one batch", "a batch each"])
@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (("thumbs_up", "thumbs_down"), DOWN),
        (("thumbs_down", "thumbs_up"), DOWN),
        (("thumbs_cleared", "thumbs_down"), DOWN),
        (("thumbs_down", "thumbs_cleared"), DOWN),
        (("thumbs_up", "thumbs_cleared"), NONE),
        (("thumbs_cleared", "thumbs_up"), NONE),
        (("thumbs_up", "thumbs_cleared", "thumbs_down"), DOWN),
        (("thumbs_down", "thumbs_up", "thumbs_cleared"), DOWN),
    ],
)
def test_ratings_at_one_instant_leave_the_strongest_kind_whatever_their_arrival(
    api_client, profile, film, kinds, expected, batches
):
    # given: the TV and the phone rate the film at the very same instant
    events = [event(film, kind=kind, occurred_at=TIED) for kind in kinds]

    # when: they arrive in this order, together or one batch after another
    if batches == "one batch":
        send(api_client, profile, *events)
    else:
        for one in events:
            send(api_client, profile, one)

    # then: a thumbs down wins, then a clear, as confidence and the holdout read them
    assert standing(api_client, profile, film) == expected


def test_a_later_rating_still_beats_a_thumbs_down_of_an_earlier_instant(api_client, profile, film):
    # given: a thumbs down and a thumbs up at one instant, then a thumbs up a minute later
    send(
        api_client,
        profile,
        event(film, kind="thumbs_up", occurred_at=at(9)),
        event(film, kind="thumbs_down", occurred_at=TIED),
        event(film, kind="thumbs_up", occurred_at=TIED),
    )

    # then: the kind settles only a tie; the later stamp wins as ever
    assert standing(api_client, profile, film) == UP


def test_a_tied_rating_arriving_late_in_a_refolded_batch_still_loses_to_the_thumbs_down(
    api_client, profile, film
):
    # given: the film played to 40% and, at one instant, thumbed down on the TV
    send(
        api_client,
        profile,
        event(film, occurred_at=at(30)),
        event(film, kind="progress", value=40, occurred_at=at(20)),
        event(film, kind="thumbs_down", occurred_at=TIED),
    )

    # when: the offline tablet uploads an older play (a late batch: ingest folds the title
    # again from its log, the batch's events after the stored) and its thumbs up of that
    # same instant
    send(
        api_client,
        profile,
        event(film, occurred_at=at(60)),
        event(film, kind="thumbs_up", occurred_at=TIED),
    )

    # then: still disliked, so still out of Continue Watching
    assert standing(api_client, profile, film) == DOWN
    resume = api_client.get(f"/api/v1/profiles/{profile.pk}/continue-watching/?device=tv").json()
    assert resume["results"] == []


def refold(*options: str) -> str:
    out = io.StringIO()
    call_command("title_states_refold", *options, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_refold_repairs_a_state_stored_when_the_later_in_the_log_won_a_tie(
    api_client, profile, film, account
):
    # given: a thumbs down then a thumbs up at one instant, stored as ingest folded them
    # before December 2026 (the later in the log won: liked); another film rated at
    # distinct instants, and another title rated twice the same way at one instant
    send(
        api_client,
        profile,
        event(film, kind="thumbs_down", occurred_at=TIED),
        event(film, kind="thumbs_up", occurred_at=TIED),
    )
    ProfileTitleState.objects.filter(profile=profile, title=film).update(thumbs="up")
    other, same = TitleFactory(), TitleFactory()
    for title in (other, same):
        AvailabilityFactory(title=title, region=account.home_region)
    send(
        api_client,
        profile,
        event(other, kind="thumbs_down", occurred_at=at(12)),
        event(other, kind="thumbs_up", occurred_at=at(11)),
        event(same, kind="thumbs_up", occurred_at=TIED),
        event(same, kind="thumbs_up", occurred_at=TIED),
    )
    assert standing(api_client, profile, film) == UP

    # when: the operator reviews, then refolds the states whose log holds ratings at one
    # instant
    review = refold("--rating-ties", "--dry-run")
    assert ProfileTitleState.objects.get(profile=profile, title=film).thumbs == "up"
    out = refold("--rating-ties")

    # then: only the film's state was a candidate and changed, now disliked everywhere; a
    # second run writes nothing
    assert f"would refold: profile {profile.pk}, title {film.pk} " in review
    assert "changes thumbs" in review
    assert "Folded again 1 of the 1 title state(s)" in out
    assert standing(api_client, profile, film) == DOWN
    assert "Folded again 0 of the 1 title state(s)" in refold("--rating-ties")


def test_the_refold_of_rating_ties_with_none_says_so(api_client, profile, film):
    send(api_client, profile, event(film, kind="thumbs_up", occurred_at=TIED))

    assert refold("--rating-ties").strip() == (
        "Nothing to refold: no title state's log holds ratings of different kinds at one instant."
    )


def test_the_refold_takes_one_kind_of_repair_at_a_time(db):
    with pytest.raises(CommandError, match="not both"):
        refold("--passed", "--rating-ties")
