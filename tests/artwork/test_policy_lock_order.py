"""A deletion of several variants while a policy update spanning several days writes their
figures.

Both sides lock the variants: the deletion ``FOR UPDATE``, in id order, before it deletes
anything (``artwork.services.artwork_variants_lock``); the update ``FOR KEY SHARE``, before
it writes their figures. An update that locked each day's variants as it wrote that day
took them out of id order across days (the first day's frames a title's second variant,
the next day's its first), and a deletion of both, locking the first and waiting on the
second, deadlocked with it: PostgreSQL aborted one of them, a server error in admin or a
failed update. A trigger holds the update at its first figure's ``INSERT`` (its locks
taken) until the deletion waits on it, so that interleaving happens every time. The data
is committed (``transaction=True``): each side has a connection of its own.

A refit also deletes figures it does not write (a day it rewrites, of a variant no page
of that day showed; the days after its window). A ``DELETE`` of figures locks their rows,
not their variant: a deletion of such a variant that took one of its figures, then waited
on another the refit had deleted, deadlocked with the refit coming for the first. The
refit locks those variants too, with the rest, before it deletes anything.
"""

import datetime as dt
import logging
from collections.abc import Callable

import pytest

from artwork.models import ArtworkPolicy, ArtworkVariant, ArtworkVariantDaily
from artwork.services import (
    artwork_policy_update,
    artwork_variants_delete,
    artwork_variants_set_active,
)
from catalog.models import Title
from recommendations.models import PageLog
from recommendations.services.homepage import homepage_render
from recommendations.services.training import model_train
from tests.artwork.test_policy import _artwork_checked_every_page  # noqa: F401
from tests.db_waits import Race, race_while_held, row_writes_held
from tests.factories import AccountFactory, ArtworkVariantFactory, ProfileFactory
from tests.recommendations.homepage_world import NOW, build_home_world
from tests.recommendations.test_training import _fresh_serving, watch  # noqa: F401

#: Advisory-lock key (two ints) the trigger waits on while the test holds it.
HOLD_KEY = (0x41525457, 1)


def _deletion_while_held(
    work: Callable[[], object], delete: Callable[[], object], *, event: str, when: str
) -> Race:
    """Race ``delete`` against ``work`` held at the first daily figure it writes
    (``event``: ``INSERT`` or ``DELETE``) that is ``when`` (tests/db_waits.py)."""
    hold = row_writes_held(
        name="it_hold_figures",
        table=ArtworkVariantDaily._meta.db_table,
        event=event,
        key=HOLD_KEY,
        when=when,
    )
    return race_while_held(work, delete, hold)


def _pages_framing_second_then_first_variants() -> tuple[dt.datetime, Title, list[int]]:
    """Noon pages on three days, each title with two variants: the first day's page shows
    both variants, the second only each title's second, the third only its first. The
    first noon, a title the last two days showed, and its variants in id order."""
    world = build_home_world(with_fans=False)
    pairs = {}
    for title in world.all_titles():
        first = ArtworkVariantFactory(title=title, label=f"{title.pk} a")
        second = ArtworkVariantFactory(title=title, label=f"{title.pk} b")
        pairs[title.pk] = (first.pk, second.pk)
    firsts = ArtworkVariant.objects.filter(pk__in=[a for a, _ in pairs.values()])
    seconds = ArtworkVariant.objects.filter(pk__in=[b for _, b in pairs.values()])
    profile = ProfileFactory(account=AccountFactory(home_region=world.region), name="Fan")
    watch(profile, world.titles["action"][0], days_ago=5)
    model_train(region_code=world.region.code)
    profile.refresh_from_db()
    t0 = (NOW - dt.timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    homepage_render(profile=profile, device="tv", at=t0)
    artwork_variants_set_active(variants=firsts, active=False)
    homepage_render(profile=profile, device="tv", at=t0 + dt.timedelta(days=1))
    artwork_variants_set_active(variants=firsts, active=True)
    artwork_variants_set_active(variants=seconds, active=False)
    homepage_render(profile=profile, device="tv", at=t0 + dt.timedelta(days=2))
    artwork_variants_set_active(variants=seconds, active=True)

    def shown(day: int) -> set[int]:
        noon = t0 + dt.timedelta(days=day)
        return {
            item[3]
            for page in PageLog.objects.filter(generated_at=noon)
            for item in page.items
            if item[3] is not None
        }

    title_pk, variants = next(
        (pk, [a, b])
        for pk, (a, b) in sorted(pairs.items())
        if b in shown(1) and a in shown(2) and a not in shown(1)
    )
    return t0, Title.objects.get(pk=title_pk), variants


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("full", [False, True], ids=["incremental", "refit"])
def test_a_deletion_of_variants_an_update_writes_on_several_days_waits_for_it(caplog, full):
    # given: a policy that folded the first day, and the next two days' pages showing a
    # title's second variant, then its first
    t0, title, doomed = _pages_framing_second_then_first_variants()
    assert artwork_policy_update(now=t0 + dt.timedelta(hours=16), full=True) is not None
    next_day = (t0 + dt.timedelta(days=1)).date()

    # when: an update writes the two days' figures in one transaction (incremental; a
    # refit, as the days from the policy's watermark on), held at its first figure of
    # them until staff's deletion of the title's variants waits on it
    with caplog.at_level(logging.INFO, logger="artwork.services"):
        race = _deletion_while_held(
            lambda: artwork_policy_update(now=t0 + dt.timedelta(days=2, hours=23), full=full),
            lambda: artwork_variants_delete(variants=ArtworkVariant.objects.filter(title=title)),
            event="INSERT",
            when=f"NEW.day >= '{next_day.isoformat()}'",
        )
    update, deletion = race.held, race.other

    # then: the deletion waited for the update, neither failed, the update wrote both
    # days' figures and the deletion took the title's with its variants
    assert race.waited, "the deletion never waited on the update"
    assert "error" not in update, update["error"]
    assert "error" not in deletion, deletion["error"]
    policy = update["result"]
    assert policy is not None
    assert policy.kind == (ArtworkPolicy.Kind.FULL if full else ArtworkPolicy.Kind.INCREMENTAL)
    assert deletion["result"] == 2
    assert not ArtworkVariant.objects.filter(pk__in=doomed).exists()
    assert not ArtworkVariantDaily.objects.filter(variant_id__in=doomed).exists()
    days = set(ArtworkVariantDaily.objects.values_list("day", flat=True))
    assert days == {(t0 + dt.timedelta(days=day)).date() for day in range(3)}
    assert not any("deleted meanwhile" in record.getMessage() for record in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_a_deletion_of_a_variant_whose_old_figures_a_refit_deletes_waits_for_it(caplog):
    # given: a chain of policies that folded the three days' pages, the second day's
    # showing a title's second variant, the third's its first
    t0, title, doomed = _pages_framing_second_then_first_variants()
    assert artwork_policy_update(now=t0 + dt.timedelta(hours=16), full=True) is not None
    later = t0 + dt.timedelta(days=2, hours=23)
    assert artwork_policy_update(now=later) is not None
    second_day = (t0 + dt.timedelta(days=1)).date()

    # when: a refit rewrites the second day (committed on its own, before the chain's
    # watermark), held as it deletes the second variant's old figures of that day until
    # staff's deletion of the title's variants waits on it
    with caplog.at_level(logging.INFO, logger="artwork.services"):
        race = _deletion_while_held(
            lambda: artwork_policy_update(now=later, full=True),
            lambda: artwork_variants_delete(variants=ArtworkVariant.objects.filter(title=title)),
            event="DELETE",
            when=f"OLD.day = '{second_day.isoformat()}' AND OLD.variant_id = {doomed[1]}",
        )
    update, deletion = race.held, race.other

    # then: the deletion waited for the refit's day, neither failed, the refit left the
    # first variant out of the third day (deleted meanwhile, and said so), and the
    # deletion took the title's figures with its variants
    assert race.waited, "the deletion never waited on the refit"
    assert "error" not in update, update["error"]
    assert "error" not in deletion, deletion["error"]
    assert update["result"].kind == ArtworkPolicy.Kind.FULL
    assert deletion["result"] == 2
    assert not ArtworkVariant.objects.filter(pk__in=doomed).exists()
    assert not ArtworkVariantDaily.objects.filter(variant_id__in=doomed).exists()
    assert any(
        "deleted meanwhile" in record.getMessage() and str(doomed[0]) in record.getMessage()
        for record in caplog.records
    )


@pytest.mark.django_db(transaction=True)
def test_a_deletion_of_a_variant_whose_figures_a_refit_only_deletes_waits_for_it(caplog):
    # given: a policy that folded the first noon's pages, so a refit rewrites the three days
    # in the transaction that stores it; and a variant no page showed, with a figure of a
    # day after the refit's window (mobile, written first) and one of a day it rewrites (tv)
    t0, _, _ = _pages_framing_second_then_first_variants()
    assert artwork_policy_update(now=t0 + dt.timedelta(hours=16), full=True) is not None
    unseen = ArtworkVariantFactory(label="Never shown")
    last_day = (t0 + dt.timedelta(days=2)).date()
    ArtworkVariantDaily.objects.create(
        variant=unseen, device="mobile", day=(t0 + dt.timedelta(days=5)).date(), impressions=3
    )
    ArtworkVariantDaily.objects.create(variant=unseen, device="tv", day=last_day, impressions=4)

    # when: the refit deletes the rewritten days' figures (the unseen variant's tv one
    # among them), then is held at its first new figure of the last day until staff's
    # deletion of the variant waits on it; let go, it deletes the figures of days after
    # its window
    with caplog.at_level(logging.INFO, logger="artwork.services"):
        race = _deletion_while_held(
            lambda: artwork_policy_update(now=t0 + dt.timedelta(days=2, hours=23), full=True),
            lambda: artwork_variants_delete(variants=ArtworkVariant.objects.filter(pk=unseen.pk)),
            event="INSERT",
            when=f"NEW.day = '{last_day.isoformat()}'",
        )
    update, deletion = race.held, race.other

    # then: the deletion waited for the refit and neither failed (a deletion that took
    # the later figure, then waited on the refit's row of the rewritten day, deadlocked
    # with the refit coming for that later figure); the variant went with its figures
    assert race.waited, "the deletion never waited on the refit"
    assert "error" not in update, update["error"]
    assert "error" not in deletion, deletion["error"]
    assert update["result"].kind == ArtworkPolicy.Kind.FULL
    assert deletion["result"] == 1
    assert not ArtworkVariant.objects.filter(pk=unseen.pk).exists()
    assert not ArtworkVariantDaily.objects.filter(variant_id=unseen.pk).exists()
    days = set(ArtworkVariantDaily.objects.values_list("day", flat=True))
    assert days == {(t0 + dt.timedelta(days=day)).date() for day in range(3)}
