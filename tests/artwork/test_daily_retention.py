"""The variants' daily figures are pruned nightly past their keep, in bounded batches."""

import datetime as dt
from io import StringIO

import pytest
from django.core import checks
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from artwork.models import ArtworkVariantDaily
from artwork.services import artwork_daily_prune
from recommendations import tasks
from tests.factories import ArtworkVariantFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
TODAY = NOW.date()


@pytest.fixture
def keep_90(settings):
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_DAILY_KEEP_DAYS": 90}


def _daily(variant, days_ago: int, *, device: str = "tv") -> ArtworkVariantDaily:
    return ArtworkVariantDaily.objects.create(
        variant=variant,
        device=device,
        day=TODAY - dt.timedelta(days=days_ago),
        impressions=10,
        plays=1,
    )


def test_days_before_the_keep_go_and_days_inside_it_stay(keep_90):
    # given: figures on both sides of the cut (90 days before today), for two variants
    variant, other = ArtworkVariantFactory(), ArtworkVariantFactory()
    old = [_daily(variant, 91), _daily(other, 91, device="web"), _daily(variant, 400)]
    kept = [_daily(variant, 90), _daily(other, 89), _daily(variant, 0)]

    # when
    deleted = artwork_daily_prune(now=NOW)

    # then
    assert deleted == len(old)
    assert set(ArtworkVariantDaily.objects.values_list("pk", flat=True)) == {d.pk for d in kept}
    assert artwork_daily_prune(now=NOW) == 0


def test_each_statement_deletes_at_most_a_batch(keep_90):
    # given: ten old figures and a batch of three
    variant = ArtworkVariantFactory()
    for days in range(100, 110):
        _daily(variant, days)
    _daily(variant, 1)

    # when
    with CaptureQueriesContext(connection) as queries:
        deleted = artwork_daily_prune(now=NOW, batch_size=3)

    # then: 3 + 3 + 3 + 1, each batch's rows chosen with LIMIT 3 and deleted in one DELETE
    sqls = [q["sql"].lstrip().upper() for q in queries]
    deletes = [sql for sql in sqls if sql.startswith("DELETE")]
    chosen = [sql for sql in sqls if sql.startswith("SELECT") and "LIMIT 3" in sql]
    assert deleted == 10
    assert len(deletes) == 4
    assert len(chosen) == 4
    assert ArtworkVariantDaily.objects.count() == 1


def test_the_nightly_task_prunes_the_daily_figures(keep_90):
    variant = ArtworkVariantFactory()
    _daily(variant, 91)
    _daily(variant, 89)

    result = tasks.prune_logs()

    assert result["artwork_daily"] == 1
    assert ArtworkVariantDaily.objects.count() == 1


def test_the_command_counts_them_with_dry_run_and_deletes_them_without(keep_90):
    variant = ArtworkVariantFactory()
    _daily(variant, 95)
    _daily(variant, 91)
    _daily(variant, 1)

    out = StringIO()
    call_command("prune_logs", "--dry-run", stdout=out)
    assert "2 artwork daily figure(s) from before" in out.getvalue()
    assert "(TONIGHT_ARTWORK_DAILY_KEEP_DAYS=90)" in out.getvalue()
    assert ArtworkVariantDaily.objects.count() == 3

    out = StringIO()
    call_command("prune_logs", stdout=out, stderr=StringIO())
    assert "2 artwork daily figure(s) from before" in out.getvalue()
    assert ArtworkVariantDaily.objects.count() == 1


def _retention_errors() -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks(tags=["retention"]) if m.id.startswith("tonight.E")]


def test_the_default_daily_keep_passes_the_check():
    assert _retention_errors() == []


def test_a_daily_keep_shorter_than_the_full_refit_rebuilds_is_an_error(settings):
    # The full refit rebuilds the figures of its ARTWORK_TRAINING_DAYS (and the day it
    # rounds back to midnight): kept for less, each refit would write days the next prune
    # deletes, and the admin's totals would cover another window after each.
    settings.TONIGHT = {
        **settings.TONIGHT,
        "ARTWORK_TRAINING_DAYS": 60,
        "ARTWORK_DAILY_KEEP_DAYS": 60,
    }

    (error,) = _retention_errors()

    assert error.id == "tonight.E007"
    assert "TONIGHT_ARTWORK_DAILY_KEEP_DAYS is 60" in error.msg
    assert "Set TONIGHT_ARTWORK_DAILY_KEEP_DAYS to 61 or more" in error.hint

    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_DAILY_KEEP_DAYS": 61}
    assert _retention_errors() == []
