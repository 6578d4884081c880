"""``seed_demo --flush`` while an artwork policy update is running.

The flush deletes every artwork policy, the daily figures and the pages they are folded
from. An update (beat's, every few minutes; or a refit) holds the policy's lock
(``artwork.services``) from reading the newest policy to storing the next one. A flush
that did not take that lock too went ahead under a running update: the update's new
policy names as its parent a policy the flush deleted, and the update, locking that row
at its commit, and the flush, waiting on the variants whose figures the update wrote,
deadlocked (PostgreSQL aborted one); an update that wrote no figures stored, after the
reseed, a policy of the old world, or failed on its deleted parent. The flush takes the
policy's lock first, so it waits for the update and deletes what it stored. A trigger
holds the update at its new policy's ``INSERT`` (its lock and figures' locks taken)
until the flush waits on it, so that interleaving happens every time. The data is
committed (``transaction=True``): each side has a connection of its own.
"""

import datetime as dt

import pytest
from django.core.management import call_command

from artwork.models import ArtworkPolicy, ArtworkVariantDaily
from artwork.services import artwork_policy_update
from profiles.models import Profile
from recommendations.models import PageLog
from recommendations.services.homepage import homepage_render
from tests.db_waits import race_while_held, row_writes_held
from tests.recommendations.test_seed_demo import TINY, seed

#: Advisory-lock key (two ints) the trigger waits on while the test holds it.
HOLD_KEY = (0x41525457, 2)
#: A day of the demo's future (``TINY`` ends its history on 2025-06-01): its pages.
NOON = dt.datetime(2025, 6, 2, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _var_in_tmp(settings, tmp_path) -> None:
    """The hidden-tastes file goes to a throw-away folder, not the developer's var/."""
    settings.VAR_DIR = tmp_path / "var"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("full", [False, True], ids=["incremental", "refit"])
def test_a_flush_waits_for_a_running_policy_update_and_deletes_what_it_stored(full):
    # given: a trained demo, a policy folded from a page of it, and a later page to fold
    seed(**TINY, flush=True)
    call_command("train_models", "--at=2025-06-01T00:00Z", verbosity=0)
    someone = Profile.objects.filter(external_id__startswith="demo:").order_by("pk").first()
    homepage_render(profile=someone, device="tv", at=NOON)
    assert artwork_policy_update(now=NOON + dt.timedelta(hours=16), full=True) is not None
    homepage_render(profile=someone, device="tv", at=NOON + dt.timedelta(days=1))

    # when: an update folds the later page, held as it stores its policy until a reseed
    # with --flush waits on it (or would have, in the wait's time), then let go
    race = race_while_held(
        lambda: artwork_policy_update(now=NOON + dt.timedelta(days=2), full=full),
        lambda: seed(**TINY, flush=True),
        row_writes_held(
            name="it_hold_policy",
            table=ArtworkPolicy._meta.db_table,
            event="INSERT",
            key=HOLD_KEY,
        ),
    )
    update, flush, waited = race.held, race.other, race.waited

    # then: neither failed, the flush waited for the update, and nothing the update
    # learned from the previous demo is left: no policy, no figures, no page
    assert "error" not in update, update["error"]
    assert "error" not in flush, flush["error"]
    assert waited, "the flush never waited on the update"
    assert update["result"] is not None
    assert not ArtworkPolicy.objects.exists()
    assert not ArtworkVariantDaily.objects.exists()
    assert not PageLog.objects.exists()
