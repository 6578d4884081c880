"""A variant deleted (by staff, with its title, or by the demo's flush) while a policy update
writes its figures.

An update writes a day's figures under ``FOR KEY SHARE`` on their variants
(``artwork.services._stats_write``). A deletion that did not lock the variants first
deleted their figures without seeing the update's uncommitted rows, waited on the
variant's row until the update committed, then deleted it and failed its commit on
the figures' foreign key: a server error in admin. Each test holds the update's
transaction open until the deletion waits on it, so that interleaving happens every
time. The data is committed (``transaction=True``): each side has a connection of
its own.

The nightly prune deletes figures of many variants a batch. A ``DELETE`` of figures
locks their rows, not their variant, each statement in its own plan's order: a batch
taking a variant's figures in another order than the variant's deletion deadlocked with
it, until a batch locked its figures' variants first.
"""

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.test import Client

from artwork.models import ArtworkVariant, ArtworkVariantDaily
from artwork.services import _stats_write, artwork_daily_prune, artwork_variants_delete
from catalog.models import Title
from recommendations.demo.builder import _flush_demo_rows
from recommendations.demo.catalogue import DEMO_PREFIX
from recommendations.demo.progress import silent_progress
from tests.artwork.test_policy_lock_order import _deletion_while_held
from tests.db_waits import hold_until_waited_on
from tests.factories import ArtworkVariantFactory, TitleFactory
from tests.test_admin import form_data

DAY = dt.date(2026, 3, 2)


def _figures_written_meanwhile(
    variant_id: int, written: threading.Event, blocked: threading.Event
) -> None:
    """An update's day of figures for the variant, committed once another session waits on it."""
    try:
        with transaction.atomic():
            _stats_write([(variant_id, "tv", DAY, 5, 2)])
            written.set()
            hold_until_waited_on(blocked)
    finally:
        written.set()
        connection.close()


def _variant_page(client: Client, variant: ArtworkVariant) -> tuple[str, dict]:
    return f"/admin/artwork/artworkvariant/{variant.pk}/delete/", {"post": "yes"}


def _variants_action(client: Client, variant: ArtworkVariant) -> tuple[str, dict]:
    data = {"action": "delete_selected", "_selected_action": [variant.pk], "post": "yes"}
    return "/admin/artwork/artworkvariant/", data


def _title_page(client: Client, variant: ArtworkVariant) -> tuple[str, dict]:
    return f"/admin/catalog/title/{variant.title_id}/delete/", {"post": "yes"}


def _titles_action(client: Client, variant: ArtworkVariant) -> tuple[str, dict]:
    data = {"action": "delete_selected", "_selected_action": [variant.title_id], "post": "yes"}
    return "/admin/catalog/title/", data


def _title_inline(client: Client, variant: ArtworkVariant) -> tuple[str, dict]:
    url = f"/admin/catalog/title/{variant.title_id}/change/"
    data = form_data(client.get(url))
    rows = int(data["artwork_variants-TOTAL_FORMS"])
    row = next(i for i in range(rows) if data[f"artwork_variants-{i}-id"] == str(variant.pk))
    data[f"artwork_variants-{row}-DELETE"] = "on"
    return url, data


Deletion = Callable[[Client, ArtworkVariant], tuple[str, dict]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("deletion", "takes_title"),
    [
        (_variant_page, False),
        (_variants_action, False),
        (_title_inline, False),
        (_title_page, True),
        (_titles_action, True),
    ],
    ids=["variant-page", "variants-action", "title-page-inline", "title-page", "titles-action"],
)
def test_a_variant_deleted_while_an_update_writes_its_figures_is_deleted_with_them(
    admin_client: Client, deletion: Deletion, takes_title: bool
) -> None:
    # given: a title with two variants, the doomed one with a day of figures already
    title = TitleFactory()
    doomed = ArtworkVariantFactory(title=title, label="Doomed")
    sibling = ArtworkVariantFactory(title=title, label="Sibling")
    ArtworkVariantDaily.objects.create(
        variant=doomed, device="mobile", day=DAY, impressions=4, plays=1
    )
    ArtworkVariantDaily.objects.create(
        variant=sibling, device="tv", day=DAY, impressions=7, plays=3
    )
    url, data = deletion(admin_client, doomed)

    # when: an update writes the doomed variant's figures of another device, and commits
    # them only once staff's deletion waits on it
    written, blocked = threading.Event(), threading.Event()
    update = threading.Thread(target=_figures_written_meanwhile, args=[doomed.pk, written, blocked])
    update.start()
    try:
        assert written.wait(30)
        response = admin_client.post(url, data)
    finally:
        update.join()

    # then: the deletion waited for the update, and took its figures with the variant
    assert blocked.is_set(), "the deletion never waited on the update"
    assert response.status_code == 302
    assert not ArtworkVariant.objects.filter(pk=doomed.pk).exists()
    assert not ArtworkVariantDaily.objects.filter(variant_id=doomed.pk).exists()
    assert Title.objects.filter(pk=title.pk).exists() is not takes_title
    assert ArtworkVariant.objects.filter(pk=sibling.pk).exists() is not takes_title


@pytest.mark.django_db(transaction=True)
def test_the_demos_flush_deletes_a_variant_whose_figures_an_update_writes_meanwhile() -> None:
    # given: a demo title with a variant that has a day of figures already
    doomed = ArtworkVariantFactory(title=TitleFactory(external_id=f"{DEMO_PREFIX}t1"))
    ArtworkVariantDaily.objects.create(
        variant=doomed, device="mobile", day=DAY, impressions=4, plays=1
    )

    # when: an update writes the variant's figures of another device, and commits them
    # only once seed_demo's flush waits on it
    written, blocked = threading.Event(), threading.Event()
    update = threading.Thread(target=_figures_written_meanwhile, args=[doomed.pk, written, blocked])
    update.start()
    try:
        assert written.wait(30)
        with transaction.atomic():
            _flush_demo_rows(silent_progress)
    finally:
        update.join()

    # then: the flush waited for the update, and took its figures with the variant
    assert blocked.is_set(), "the flush never waited on the update"
    assert not ArtworkVariant.objects.filter(pk=doomed.pk).exists()
    assert not ArtworkVariantDaily.objects.exists()


#: The plan that looks each of a batch's figures up by primary key, in id order; a small
#: table's would scan it in table order, the order a variant's deletion takes its figures in.
BY_PRIMARY_KEY = [
    "SET enable_seqscan = off",
    "SET enable_bitmapscan = off",
    "SET enable_hashjoin = off",
    "SET enable_mergejoin = off",
    "SET enable_hashagg = off",
]


@pytest.mark.django_db(transaction=True)
def test_a_variant_deleted_while_the_prune_deletes_its_figures_waits_for_it(settings) -> None:
    # given: a variant with two figures past the keep, the one with the lower id written
    # later in the table (where a vacuum had freed room), as a long-lived table has them
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_DAILY_KEEP_DAYS": 90}
    now = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    doomed = ArtworkVariantFactory(label="Doomed")
    first_in_table = ArtworkVariantDaily.objects.create(
        pk=1_000_002, variant=doomed, device="tv", day=DAY - dt.timedelta(days=1), impressions=4
    )
    lower_id = ArtworkVariantDaily.objects.create(
        pk=1_000_001, variant=doomed, device="mobile", day=DAY, impressions=3
    )
    assert (now - dt.timedelta(days=90)).date() > DAY

    # when: the prune, taking its batch's rows in id order, is held at the first it deletes
    # until staff's deletion of the variant (taking them in table order) waits on it
    def prune() -> int:
        with connection.cursor() as cursor:
            for statement in BY_PRIMARY_KEY:
                cursor.execute(statement)
        return artwork_daily_prune(now=now)

    race = _deletion_while_held(
        prune,
        lambda: artwork_variants_delete(variants=ArtworkVariant.objects.filter(pk=doomed.pk)),
        event="DELETE",
        when=f"OLD.id = {lower_id.pk}",
    )
    pruning, deletion = race.held, race.other

    # then: the deletion waited for the prune's batch and neither failed (a deletion that
    # took the figure first in the table, then waited on the one the prune held,
    # deadlocked with the prune coming for the first); both figures and the variant went
    assert race.waited, "the deletion never waited on the prune"
    assert "error" not in pruning, pruning["error"]
    assert "error" not in deletion, deletion["error"]
    assert pruning["result"] == 2
    assert deletion["result"] == 1
    assert not ArtworkVariant.objects.filter(pk=doomed.pk).exists()
    assert not ArtworkVariantDaily.objects.filter(pk=first_in_table.pk).exists()
