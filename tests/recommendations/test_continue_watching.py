"""GET /profiles/{id}/continue-watching/ shows only what the profile may open now."""

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import MaturityLevel
from profiles.models import Profile
from regions.models import Availability
from tests.factories import AvailabilityFactory, RegionFactory, TitleFactory

pytestmark = pytest.mark.django_db


def started(client, profile, title) -> None:
    """Plays of ``title`` to 40%, posted as a client would (so the title state is real)."""
    occurred = timezone.now() - dt.timedelta(minutes=5)
    events = [
        {"kind": kind, "title": title.pk, "device": "tv", "occurred_at": occurred.isoformat()}
        | ({"value": 40} if kind == "progress" else {})
        | {"client_event_id": str(uuid.uuid4())}
        for kind in ("play_start", "progress")
    ]
    response = client.post(
        reverse("v1:signals", args=[profile.pk]), {"events": events}, format="json"
    )
    assert response.status_code == 200, response.json()


def resumable(client, profile) -> list[int]:
    response = client.get(reverse("v1:continue-watching", args=[profile.pk]))
    assert response.status_code == 200
    return [item["title_id"] for item in response.json()["results"]]


def test_a_title_whose_licence_ended_or_moved_away_is_not_offered(api_client, account, profile):
    # given: three films started while available in the account's region
    week_ago = timezone.now() - dt.timedelta(days=7)
    kept, ended, moved = (TitleFactory(kind="film") for _ in range(3))
    windows = {
        t: AvailabilityFactory(title=t, region=account.home_region, starts_at=week_ago)
        for t in (kept, ended, moved)
    }
    for title in (kept, ended, moved):
        started(api_client, profile, title)

    # when: one licence ends, another is only the other region's now
    Availability.objects.filter(pk=windows[ended].pk).update(
        ends_at=timezone.now() - dt.timedelta(hours=1)
    )
    Availability.objects.filter(pk=windows[moved].pk).update(
        region=RegionFactory(code="BR", name="Brazil")
    )

    # then
    assert resumable(api_client, profile) == [kept.pk]


def test_a_title_above_a_lowered_maturity_limit_is_not_offered(api_client, account, profile):
    # given: a 16+ film and an all-ages one started by an adult profile
    mature = TitleFactory(kind="film", maturity=MaturityLevel.SIXTEEN)
    family = TitleFactory(kind="film", maturity=MaturityLevel.ALL)
    for title in (mature, family):
        AvailabilityFactory(title=title, region=account.home_region)
        started(api_client, profile, title)
    assert set(resumable(api_client, profile)) == {mature.pk, family.pk}

    # when: the profile becomes a kids profile
    Profile.objects.filter(pk=profile.pk).update(is_kids=True, maturity_limit=MaturityLevel.SEVEN)

    # then
    assert resumable(api_client, profile) == [family.pk]
