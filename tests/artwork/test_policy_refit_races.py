"""A full refit of the artwork policy while staff delete a variant it is refitting.

The data is committed (``transaction=True``): the deletion runs on a connection of its
own, as admin's would, between the refit's transactions of one day each or while one
of them is writing. That is why
these tests live apart from test_policy, whose household is built once for its module
inside a transaction (tests/module_world.py).
"""

import datetime as dt
import logging
import threading

import pytest
from django.db import connection, transaction

from artwork.models import ArtworkPolicy, ArtworkVariant, ArtworkVariantDaily
from artwork.services import artwork_policy_update, artwork_variants_delete
from recommendations.models import PageLog
from recommendations.services.homepage import homepage_render
from recommendations.services.training import model_train
from tests.artwork.test_policy import _artwork_checked_every_page  # noqa: F401
from tests.db_waits import hold_until_waited_on
from tests.factories import AccountFactory, ArtworkVariantFactory, ProfileFactory
from tests.recommendations.homepage_world import NOW, build_home_world
from tests.recommendations.test_training import _fresh_serving, watch  # noqa: F401


def _delete_on_its_own_connection(
    variant_id: int, started: threading.Event, blocked: threading.Event | None
) -> None:
    """Delete the variant as admin does (its daily figures go with it), and commit: at once,
    or (with ``blocked``) once another session waits on the deletion."""
    try:
        with transaction.atomic():
            artwork_variants_delete(variants=ArtworkVariant.objects.filter(pk=variant_id))
            started.set()
            if blocked is not None:
                hold_until_waited_on(blocked)
    finally:
        started.set()
        connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("racing", [False, True], ids=["between-days", "during-a-day"])
def test_a_variant_deleted_during_a_full_refit_leaves_the_refit_to_finish(caplog, racing):
    # given: pages at noon on three days, each showing frames of two variants per title
    world = build_home_world(with_fans=False)
    for title in world.all_titles():
        ArtworkVariantFactory(title=title, label=f"{title.pk} a")
        ArtworkVariantFactory(title=title, label=f"{title.pk} b")
    profile = ProfileFactory(account=AccountFactory(home_region=world.region), name="Fan")
    watch(profile, world.titles["action"][0], days_ago=5)
    model_train(region_code=world.region.code)
    profile.refresh_from_db()
    t0 = (NOW - dt.timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    for day in range(3):
        homepage_render(profile=profile, device="tv", at=t0 + dt.timedelta(days=day))
    shown_later = {
        item[3]
        for page in PageLog.objects.filter(generated_at__gt=t0)
        for item in page.items
        if item[3] is not None
    }
    doomed = min(shown_later)

    # when: a full refit runs, and staff delete a variant the later days showed once the
    # refit has written the first day's figures (so after it read which variants exist):
    # committed before the next day's, or committing only once that day waits on it
    started, blocked = threading.Event(), threading.Event()
    deletion = threading.Thread(
        target=_delete_on_its_own_connection, args=[doomed, started, blocked if racing else None]
    )

    def delete_after_the_first_day(fraction: float) -> None:
        if not started.is_set():
            deletion.start()
            assert started.wait(30)
            if not racing:
                deletion.join()

    try:
        with caplog.at_level(logging.INFO, logger="artwork.services"):
            refit = artwork_policy_update(
                now=t0 + dt.timedelta(days=2, hours=6),
                full=True,
                progress=delete_after_the_first_day,
            )
    finally:
        if started.is_set():
            deletion.join()

    # then: the refit finished, with the deleted variant's later figures left out and said so,
    # and every other variant's figures of the later days written
    assert started.is_set()
    assert blocked.is_set() == racing, "the refit never waited on the deletion"
    assert not ArtworkVariant.objects.filter(pk=doomed).exists()
    assert refit is not None
    assert refit.kind == ArtworkPolicy.Kind.FULL
    assert not ArtworkVariantDaily.objects.filter(variant_id=doomed).exists()
    later = set(
        ArtworkVariantDaily.objects.filter(day__gt=t0.date()).values_list("variant_id", flat=True)
    )
    assert later == shown_later - {doomed}
    assert any(
        "deleted" in record.getMessage() and str(doomed) in record.getMessage()
        for record in caplog.records
    )
