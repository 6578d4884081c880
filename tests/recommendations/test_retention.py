"""The nightly prune: page logs and sign-ins past their keep go, in bounded batches, and
nothing a reader of the page log needs goes with them."""

import datetime as dt
import logging
import sys
import uuid
from io import StringIO

import numpy as np
import psycopg
import pytest
from axes.models import AccessLog
from celery.exceptions import SoftTimeLimitExceeded
from django.core import checks
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from recommendations import tasks
from recommendations.demo.traffic import page_id_at
from recommendations.management.commands import prune_logs
from recommendations.models import PageLog
from recommendations.selectors.attribution import page_impressions_attributed
from recommendations.selectors.retention import page_log_readers
from recommendations.services.retention import page_logs_prune
from tests.factories import AvailabilityFactory, ProfileFactory, TitleFactory
from tests.recommendations.test_training import record
from tests.terminals import FakeTerminal

pytestmark = pytest.mark.django_db

NOW = timezone.now()
RNG = np.random.default_rng(0)


def page(profile, at: dt.datetime, *, title_id: int = 1, page_id: uuid.UUID | None = None):
    """A one-title page logged at ``at``, its id a UUIDv7 of that moment unless given."""
    return PageLog.objects.create(
        id=page_id or page_id_at(at, RNG),
        profile=profile,
        generated_at=at,
        device="tv",
        region=profile.account.home_region_id,
        hour=at.hour,
        weekday=at.weekday(),
        rows=[["popular", "popular", 0.5]],
        items=[[title_id, 0, 0, None, 1.0]],
    )


@pytest.fixture
def keep_90(settings):
    settings.TONIGHT = {**settings.TONIGHT, "PAGE_LOG_KEEP_DAYS": 90}


def test_pages_older_than_the_keep_go_and_pages_inside_it_stay(keep_90):
    # given: pages on both sides of the cut (90 days before now), including ids that do not
    # carry their page's moment (a random UUID; a UUIDv7 of another moment, as fixtures make)
    profile = ProfileFactory()
    cut = NOW - dt.timedelta(days=90)
    old = [
        page(profile, NOW - dt.timedelta(days=400)),
        page(profile, cut - dt.timedelta(days=3, hours=5)),
        page(profile, cut - dt.timedelta(minutes=1)),
        page(profile, cut - dt.timedelta(days=10), page_id=uuid.uuid4()),
        page(profile, cut - dt.timedelta(days=1), page_id=page_id_at(NOW, RNG)),
        # older than the page with the oldest id, where the hourly slices start
        page(profile, NOW - dt.timedelta(days=500), page_id=page_id_at(NOW, RNG)),
    ]
    kept = [
        page(profile, cut + dt.timedelta(minutes=1)),
        page(profile, NOW - dt.timedelta(days=1)),
        page(profile, NOW),
        page(
            profile,
            NOW - dt.timedelta(hours=2),
            page_id=page_id_at(cut - dt.timedelta(days=9), RNG),
        ),
    ]

    # when
    deleted = page_logs_prune(now=NOW)

    # then
    assert deleted == len(old)
    assert set(PageLog.objects.values_list("pk", flat=True)) == {p.pk for p in kept}
    assert page_logs_prune(now=NOW) == 0


def test_a_recent_play_is_still_attributed_to_its_page_after_the_prune(keep_90):
    # given: an old page and a recent one showing the same title, played 20 minutes later
    profile = ProfileFactory()
    title = TitleFactory()
    AvailabilityFactory(title=title, region=profile.account.home_region)
    page(profile, NOW - dt.timedelta(days=120), title_id=title.pk)
    at = NOW - dt.timedelta(hours=6)
    recent = page(profile, at, title_id=title.pk)
    record(profile, "play_start", title, at=at + dt.timedelta(minutes=20))

    # when
    assert page_logs_prune(now=NOW) == 1

    # then: the recent page still takes the play's credit
    labelled = page_impressions_attributed(
        since=at - dt.timedelta(hours=1), until=at + dt.timedelta(hours=1)
    )
    hits = labelled.played.nonzero()[0]
    assert [labelled.page_ids[labelled.page[i]] for i in hits] == [recent.pk]


def test_each_statement_deletes_at_most_a_batch(keep_90, settings):
    # given: ten old pages within one hour, and a batch of three
    settings.TONIGHT = {**settings.TONIGHT, "PAGE_LOG_PRUNE_BATCH": 3}
    profile = ProfileFactory()
    start = NOW - dt.timedelta(days=100)
    for minute in range(10):
        page(profile, start + dt.timedelta(minutes=minute))
    page(profile, NOW)
    fractions: list[float] = []

    # when
    with CaptureQueriesContext(connection) as queries:
        deleted = page_logs_prune(now=NOW, progress=fractions.append)

    # then: 3 + 3 + 3 + 1, each a DELETE whose rows are chosen with LIMIT 3
    deletes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("DELETE")]
    assert deleted == 10
    assert len(deletes) >= 4
    assert all("LIMIT 3" in sql for sql in deletes)
    assert PageLog.objects.count() == 1
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0


def _pages_seen_by_another_connection() -> int:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params) as other:
        return other.execute("SELECT count(*) FROM recommendations_pagelog").fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_batches_commit_as_they_go(keep_90, settings):
    # given: old pages two days apart, so the prune takes them in different slices
    settings.TONIGHT = {**settings.TONIGHT, "PAGE_LOG_PRUNE_BATCH": 2}
    profile = ProfileFactory()
    for days in (100, 100, 98, 98):
        page(profile, NOW - dt.timedelta(days=days))
    seen: list[int] = []

    # when: another connection counts the pages each time the prune reports progress
    page_logs_prune(
        now=NOW, progress=lambda fraction: seen.append(_pages_seen_by_another_connection())
    )

    # then: the first slice's deletes were visible (committed) before the prune ended
    assert seen[0] == 2
    assert seen[-1] == 0


def _keep_errors() -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks(tags=["retention"]) if m.id.startswith("tonight.E")]


def test_the_default_keep_serves_every_reader():
    assert _keep_errors() == []


@pytest.mark.parametrize(
    ("overrides", "keep", "reader"),
    [
        ({}, 67, "evaluate_artwork_policy's holdout candidate"),
        ({"ARTWORK_TRAINING_DAYS": 10}, 28, "the title and row rankers' training"),
        (
            # the daily figures' keep follows the refit's window (tonight.E007)
            {"ARTWORK_TRAINING_DAYS": 120, "ARTWORK_DAILY_KEEP_DAYS": 121},
            90,
            "evaluate_artwork_policy's holdout candidate",
        ),
    ],
)
def test_a_keep_shorter_than_a_reader_needs_is_an_error_naming_both(
    settings, overrides, keep, reader
):
    settings.TONIGHT = {**settings.TONIGHT, **overrides, "PAGE_LOG_KEEP_DAYS": keep}

    (error,) = _keep_errors()

    assert error.id == "tonight.E001"
    assert error.level == checks.ERROR
    assert "TONIGHT_PAGE_LOG_KEEP_DAYS is" in error.msg
    assert reader in error.msg


def test_the_check_accepts_exactly_the_longest_need(settings):
    # 60 days of artwork training before a 7-day evaluation, plus twice 3 hours and 5
    # minutes (the attribution window and the clock skew) and the hour of the artwork
    # upload grace: 68 whole days
    settings.TONIGHT = {**settings.TONIGHT, "PAGE_LOG_KEEP_DAYS": 68}
    assert max(r.days for r in page_log_readers()) == pytest.approx(
        67.25 + 2 * 300 / 86400 + 3600 / 86400
    )
    assert _keep_errors() == []


def test_the_artwork_readers_reach_two_attribution_windows_past_their_days(settings):
    # evaluate_artwork_policy's window ends an attribution window and the clock skew before
    # now (its pages' plays are all in), its candidate reads ARTWORK_TRAINING_DAYS before
    # that window's 7 days, plays from a skew before those, and a play there credits pages
    # up to a window earlier: with a one-day window, 60 + 7 + 2 days and two skews (5
    # minutes each) back, so a keep of 69 would prune pages the candidate reads.
    settings.TONIGHT = {
        **settings.TONIGHT,
        "ATTRIBUTION_WINDOW_SECONDS": 24 * 3600,
        "PAGE_LOG_KEEP_DAYS": 68,
    }

    (error,) = _keep_errors()

    assert "evaluate_artwork_policy's holdout candidate" in error.msg
    assert "Set TONIGHT_PAGE_LOG_KEEP_DAYS to 70 or more" in error.hint


def test_the_rankers_reader_reaches_a_window_and_a_skew_past_its_days(settings):
    # the rankers' training reads pages from RANKER_LOG_DAYS before now, plays from the
    # clock skew (5 minutes) before those, and a play there names pages up to a window
    # earlier: with a window 3 minutes short of a day, 28 days + 1 day + 2 minutes back, so
    # a keep of 29 would prune pages a play read names (and credit it to another page)
    settings.TONIGHT = {
        **settings.TONIGHT,
        "ATTRIBUTION_WINDOW_SECONDS": 24 * 3600 - 180,
        "ARTWORK_TRAINING_DAYS": 10,
        "PAGE_LOG_KEEP_DAYS": 29,
    }

    (error,) = _keep_errors()

    assert "the title and row rankers' training" in error.msg
    assert "Set TONIGHT_PAGE_LOG_KEEP_DAYS to 30 or more" in error.hint


def test_a_batch_below_one_is_an_error(settings):
    settings.TONIGHT = {**settings.TONIGHT, "PAGE_LOG_PRUNE_BATCH": 0}
    assert [e.id for e in _keep_errors()] == ["tonight.E002"]


def test_the_prune_is_scheduled_nightly():
    call_command("install_schedules", stdout=StringIO())

    task = PeriodicTask.objects.get(name="prune old logs")
    assert task.task == "recommendations.prune_logs"
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == (
        "2",
        "15",
        "UTC",
    )


def _sign_in(days_ago: float) -> AccessLog:
    log = AccessLog.objects.create(username="admin", user_agent="test", ip_address="127.0.0.1")
    AccessLog.objects.filter(pk=log.pk).update(
        attempt_time=timezone.now() - dt.timedelta(days=days_ago)
    )
    return log


def test_the_task_prunes_pages_and_sign_ins(keep_90, settings):
    settings.TONIGHT = {**settings.TONIGHT, "SIGN_IN_LOG_KEEP_DAYS": 30}
    profile = ProfileFactory()
    page(profile, timezone.now() - dt.timedelta(days=91))
    page(profile, timezone.now() - dt.timedelta(days=89))
    _sign_in(31)
    recent = _sign_in(29)

    assert tasks.prune_logs() == {
        "pages": 1,
        "sign_ins": 1,
        "artwork_files": 0,
        "artwork_daily": 0,
        "model_versions": 0,
        "orphan_signals": 0,
        "orphan_pages": 0,
    }
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [recent.pk]
    assert PageLog.objects.count() == 1


def test_a_negative_sign_in_keep_is_an_error_not_every_sign_in_deleted(settings):
    # A keep below 0 days reaches past now: the prune would delete every sign-in record,
    # the audit trail of who signed in to the admin, without a word.
    settings.TONIGHT = {**settings.TONIGHT, "SIGN_IN_LOG_KEEP_DAYS": -1}

    (error,) = [m for m in checks.run_checks(tags=["retention"]) if m.id == "tonight.E008"]

    assert "TONIGHT_SIGN_IN_LOG_KEEP_DAYS is -1" in error.msg


def test_a_prune_stopped_at_its_time_limit_has_still_pruned_the_sign_ins(
    keep_90, settings, monkeypatch
):
    # given: an old sign-in, and a page backlog the task's soft time limit stops (a first
    # run on a long backlog takes several nights)
    settings.TONIGHT = {**settings.TONIGHT, "SIGN_IN_LOG_KEEP_DAYS": 30}
    _sign_in(31)

    def stopped(**kwargs):
        raise SoftTimeLimitExceeded

    monkeypatch.setattr(tasks, "page_logs_prune", stopped)

    # when
    with pytest.raises(SoftTimeLimitExceeded):
        tasks.prune_logs()

    # then: the sign-ins' one statement ran first
    assert not AccessLog.objects.exists()


def test_the_command_counts_with_dry_run_and_deletes_without(keep_90):
    profile = ProfileFactory()
    page(profile, timezone.now() - dt.timedelta(days=95))
    page(profile, timezone.now() - dt.timedelta(days=91))
    page(profile, timezone.now() - dt.timedelta(days=1))
    _sign_in(100)

    out = StringIO()
    call_command("prune_logs", "--dry-run", stdout=out)
    assert "Would delete 2 page log(s) older than" in out.getvalue()
    assert ", 1 sign-in(s) older than 90 days (TONIGHT_SIGN_IN_LOG_KEEP_DAYS)" in out.getvalue()
    assert PageLog.objects.count() == 3

    out = StringIO()
    call_command("prune_logs", stdout=out, stderr=StringIO())
    assert "Deleted 2 page log(s)" in out.getvalue()
    assert PageLog.objects.count() == 1
    assert not AccessLog.objects.exists()


def test_the_command_prunes_sign_ins_before_pages(keep_90, monkeypatch):
    # given: an old sign-in, and a page prune stopped half-way (an operator's Ctrl-C)
    _sign_in(100)

    def stopped(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(prune_logs, "page_logs_prune", stopped)

    # when
    with pytest.raises(CommandError, match="Interrupted while deleting page logs") as failed:
        call_command("prune_logs", stdout=StringIO(), stderr=StringIO())

    # then: the sign-ins' one statement ran first, as in the nightly task
    assert not AccessLog.objects.exists()
    # and: the command says so, with Ctrl-C's exit status
    assert failed.value.returncode == 130


def test_the_prune_logs_its_summary_above_the_commands_bar_not_into_it(keep_90, monkeypatch):
    # given: a terminal, where the progress bar and the console log share stderr
    page(ProfileFactory(), timezone.now() - dt.timedelta(days=95))
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    console = logging.StreamHandler(terminal)
    monkeypatch.setattr(logging.root, "handlers", [console])

    # when
    call_command("prune_logs", stdout=StringIO(), stderr=terminal)

    # then: the log line starts a line of its own (the bar is cleared first, "\r" + blanks)
    before, line, _ = terminal.getvalue().partition("page logs before ")
    assert line, terminal.getvalue()
    assert before.split("\n")[-1].split("\r")[-1].strip() == "", terminal.getvalue()


def _time_index_options() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'page_time_brin'")
        (options,) = cursor.fetchone()
        return options or []


def test_the_time_index_asks_autovacuum_to_summarise_each_range_it_fills():
    # Without it a range written since the last vacuum stays unsummarised, and every scan of
    # the index by time (the prune's slices, the readers' windows) reads it whatever its times.
    assert "autosummarize=on" in _time_index_options()


def _unsummarised_ranges() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT brin_summarize_new_values('page_time_brin'::regclass)")
        return cursor.fetchone()[0]


def test_the_prune_summarises_the_time_index_it_slices_by(keep_90):
    # given: pages written since the last vacuum, their block range without a BRIN summary
    # (every slice's scan would read such ranges whatever their times)
    # (a table's first range is summarised when the index is built, so a few hundred
    # blocks of pages are written: about 7 a block with these items); autovacuum is kept
    # from summarising them first, as it does not for ranges written before the index asked
    # it to, or while it is off or behind
    profile = ProfileFactory()
    page(profile, NOW - dt.timedelta(days=100))
    with connection.cursor() as cursor:
        cursor.execute("ALTER INDEX page_time_brin RESET (autosummarize)")
        cursor.execute(
            "INSERT INTO recommendations_pagelog (id, profile_id, generated_at, device, region, "
            "cluster, hour, weekday, rows, items, taste) "
            "SELECT gen_random_uuid(), %s, %s, 'tv', 'IN', '', 20, 1, '[]', "
            "json_build_array(repeat('x', 1000)), '{}' FROM generate_series(1, 3000)",
            [profile.pk, NOW],
        )

    # when
    page_logs_prune(now=NOW)

    # then
    assert _unsummarised_ranges() == 0
