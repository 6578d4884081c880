"""The homepage benchmark's skeleton makes the homepage's reads and write, and computes nothing.

Its figure is read as "what a page costs before computing anything", so it
must keep doing what the homepage does around the computation.
"""

import pytest

from bench.floor_urls import SkeletonView
from recommendations.models import PageLog
from recommendations.services.training import model_train
from tests.conftest import token_client
from tests.factories import AccountFactory, ProfileFactory
from tests.openapi import assert_matches_operation
from tests.recommendations.homepage_world import build_home_world
from tests.recommendations.test_training import watch

pytestmark = [pytest.mark.django_db, pytest.mark.urls("bench.floor_urls")]


@pytest.fixture
def served():
    world = build_home_world()
    account = AccountFactory(home_region=world.region)
    asha, ravi = (ProfileFactory(account=account, name=name) for name in ("Asha", "Ravi"))
    for title in world.titles["action"][:3]:
        watch(asha, title)
    model_train(region_code=world.region.code)
    SkeletonView.pages.clear()
    yield world, account, asha, ravi
    SkeletonView.pages.clear()


def test_the_skeleton_reads_and_logs_like_a_homepage(served, django_assert_num_queries, settings):
    world, account, asha, ravi = served
    client = token_client(account)
    client.get(f"/api/v1/profiles/{asha.pk}/homepage/?device=tv")  # warm the per-process tables
    client.get(f"/bench/skeleton/{asha.pk}/?device=tv")  # builds the page it will serve again
    settings.TONIGHT = {
        **settings.TONIGHT,
        "MODEL_VERSION_CHECK_SECONDS": 60,
        "CATALOGUE_REFRESH_SECONDS": 60,
    }

    # when: another profile asks; the homepage's three statements and nothing else
    with django_assert_num_queries(3):
        response = client.get(f"/bench/skeleton/{ravi.pk}/?device=tv")

    # then: a page of the documented shape, logged for the profile that asked, under a new id
    assert response.status_code == 200
    body = response.json()
    assert_matches_operation(body, "GET", "/api/v1/profiles/{profile_id}/homepage/")
    assert body["rows"]
    assert PageLog.objects.get(pk=body["page_id"]).profile_id == ravi.pk
    assert PageLog.objects.filter(profile=asha).count() == 2
    stranger = token_client(AccountFactory(home_region=world.region))
    assert stranger.get(f"/bench/skeleton/{asha.pk}/").status_code == 404
