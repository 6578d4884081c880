"""A retrain's cluster assignment racing another writer that locks profiles in id order.

The signal import locks the profiles it writes in id order
(``recommendations.services.dataset_import``); the assignment moves a region's
profiles cluster by cluster. Two lockers of one set of rows deadlock unless both
take them in one order.
"""

import threading

import pytest
from django.db import connection, transaction

from accounts.services import account_profiles_cluster_settle
from profiles.models import Profile
from recommendations.selectors import training as data
from recommendations.services.clusters import profile_clusters_assign
from tests.db_waits import hold_until_waited_on
from tests.factories import (
    AccountFactory,
    LanguageFactory,
    ProfileFactory,
    RegionFactory,
    TasteClusterFactory,
)


def _locks_in_id_order(low: int, high: int, started, blocked, failures: list) -> None:
    """Lock two profiles in id order, the second only once someone waits on the first."""
    try:
        with transaction.atomic():
            list(Profile.objects.select_for_update().filter(pk=low).values_list("pk"))
            started.set()
            hold_until_waited_on(blocked)
            list(Profile.objects.select_for_update().filter(pk=high).values_list("pk"))
    except Exception as failure:  # reported by the test
        failures.append(failure)
    finally:
        connection.close()


def _tamil_fan_in_the_default_cluster(account):
    """The household's region's default and Tamil clusters, and a profile of the household
    that prefers Tamil but is in the default cluster (the assignment moves it to Tamil)."""
    region = account.home_region
    default = TasteClusterFactory(region=region, slug="a-everyone", is_default=True)
    tamil = TasteClusterFactory(region=region, slug="tamil")
    tamil.languages.add(LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்"))
    fan = ProfileFactory(account=account, name="Amma", taste_cluster=default)
    fan.preferred_languages.add(tamil.languages.get())
    return default, tamil, fan


@pytest.mark.django_db(transaction=True)
def test_an_assignment_racing_a_writer_locking_in_id_order_does_not_deadlock():
    # given: a region's default cluster and its Tamil one; the lower profile prefers Tamil
    # but is in the default cluster, the higher one is in the Tamil cluster and prefers
    # nothing, so the assignment moves the higher one first (the default cluster's turn)
    account = AccountFactory()
    default, tamil, low = _tamil_fan_in_the_default_cluster(account)
    high = ProfileFactory(account=account, name="Appa", taste_cluster=tamil)
    assert low.pk < high.pk
    started, blocked, failures = threading.Event(), threading.Event(), []
    writer = threading.Thread(
        target=_locks_in_id_order, args=(low.pk, high.pk, started, blocked, failures)
    )
    writer.start()

    # when: the retrain reassigns the region while the writer holds the lower profile
    try:
        assert started.wait(30)
        profile_clusters_assign(region_code=account.home_region_id)
    finally:
        writer.join()

    # then: neither side failed, and both profiles are where the assignment put them
    assert blocked.is_set(), "the assignment never waited on the writer"
    assert failures == []
    clusters = dict(Profile.objects.values_list("pk", "taste_cluster_id"))
    assert (clusters[low.pk], clusters[high.pk]) == (tamil.pk, default.pk)


@pytest.mark.django_db
def test_a_household_moved_after_the_retrain_read_its_profiles_is_not_put_back_in_a_cluster():
    # given: a household of IN whose profile prefers Tamil but is in IN's default cluster,
    # and a retrain of IN that has read the region's profiles (it reads them beside its
    # signals, minutes before it stores the assignment)
    account = AccountFactory()
    region = account.home_region
    _, _, profile = _tamil_fan_in_the_default_cluster(account)
    read_by_the_retrain = {
        "profiles": data.profile_rows(),
        "languages": data.preferred_language_links(region.code),
    }

    # when: support moves the household to another region (its admin page), then the
    # retrain stores what it computed from its read
    account.home_region = RegionFactory(code="US", name="United States")
    account.save()
    account_profiles_cluster_settle(account=account)
    profile_clusters_assign(region_code=region.code, **read_by_the_retrain)

    # then: the moved profile stays out of IN's clusters (it was put in IN's Tamil one,
    # served by a model of another region until the new region's retrain)
    profile.refresh_from_db()
    assert profile.taste_cluster_id is None
