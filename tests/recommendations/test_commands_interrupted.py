"""Commands stopped by Ctrl-C or SIGTERM end in one line saying where they were and what
was kept, with exit status 130 or 143, not a traceback (or, for SIGTERM, nothing).

Most run ``manage.py`` in a child process on the test database, held at its first query
by a table lock this test's other session holds (``holding``, as the import tests do), so
the signal comes while the command is there, whatever the machine's speed.
"""

import signal
import time
from io import StringIO
from pathlib import Path

import pytest
from axes.models import AccessLog
from django.core.management import CommandError, call_command

from artwork.models import ArtworkPolicy
from artwork.services import POLICY_LOCK_KEY
from profiles.models import Profile
from recommendations.management.interrupts import Terminated
from recommendations.models import ModelVersion, PageLog, Signal, TrainingRun
from recommendations.services.retraining.progress import _Reporter
from recommendations.services.training import model_train
from tests.factories import RegionFactory, TasteClusterFactory
from tests.recommendations.test_dataset_import_interrupted import (
    holding,
    manage,
    stopped,
    waited_on,
)
from tests.recommendations.test_training import build_world

pytestmark = pytest.mark.django_db(transaction=True)


# transaction=True (the module's): the retrain runs as its request commits, in the command
@pytest.mark.parametrize(("interrupt", "status"), [(KeyboardInterrupt, 130), (Terminated, 143)])
def test_a_retrain_interrupted_in_the_commands_process_is_failed_and_the_command_says_so(
    monkeypatch, interrupt, status
):
    # given: no broker (the retrain runs in the command's process), and a retrain that is
    # stopped by Ctrl-C (or SIGTERM, which the command takes as one) as it trains
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    world = build_world()
    model_train(region_code=world.region.code)
    TasteClusterFactory(region=world.region, slug="default", is_default=True)
    report = _Reporter.__call__

    def interrupted(self, stage: str, progress: int) -> None:
        report(self, stage, progress)
        if stage == "train":
            raise interrupt

    monkeypatch.setattr(_Reporter, "__call__", interrupted)

    # when
    with pytest.raises(CommandError) as stopped:
        call_command(
            "retrain", "--region", world.region.code, "--wait", stdout=StringIO(), stderr=StringIO()
        )

    # then: one line saying what became of it, with the signal's exit status; until
    # December 2026 a traceback, and the run stayed "running" until the reaper
    assert stopped.value.returncode == status
    assert str(stopped.value).startswith(
        "Interrupted while retraining in this process (no broker is configured): a run "
        "under way, if one had begun, was failed"
    )
    # and: it is true: the run failed, saying where and why, and its cluster can retrain
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.FAILED
    assert run.error.startswith("Interrupted at stage train (Ctrl-C or SIGTERM)")
    assert not ModelVersion.objects.filter(status__in=["training", "ready"]).exists()


def _said(process, stderr: Path, signum: int) -> str:
    """What the command held at its lock said once sent ``signum``; checks it exited as
    the signal's status says, with no traceback."""
    status = stopped(process, signum)
    said = stderr.read_text()
    assert status == 128 + signum, said
    assert "Traceback" not in said
    return said


def test_prune_logs_stopped_by_sigterm_says_each_batch_commits_on_its_own(tmp_path):
    # given: the prune held at its first statement (the admin sign-ins' table is locked)
    with holding(f'LOCK TABLE "{AccessLog._meta.db_table}" IN ACCESS EXCLUSIVE MODE') as holder:
        process, stderr = manage(tmp_path, "prune_logs")
        waited_on(holder, process)

        # when: it is sent SIGTERM, as cron's timeout or `docker stop` do
        said = _said(process, stderr, signal.SIGTERM)

    # then: one line saying where it was and what stays deleted; until December 2026 it
    # died saying nothing (SIGTERM), or with a traceback (Ctrl-C)
    assert (
        "Interrupted while deleting admin sign-ins: what was deleted before it is gone "
        "(each batch commits on its own; the batch under way was rolled back)" in said
    )


def test_update_artwork_policy_full_stopped_by_ctrl_c_says_no_policy_was_stored(tmp_path):
    # given: a refit waiting for the policy's lock (another update holds it)
    with holding(f"SELECT pg_advisory_lock({POLICY_LOCK_KEY})") as holder:
        process, stderr = manage(tmp_path, "update_artwork_policy", "--full")
        waited_on(holder, process)

        # when
        said = _said(process, stderr, signal.SIGINT)

    # then
    assert "Interrupted: no new artwork policy was stored" in said
    assert not ArtworkPolicy.objects.exists()


@pytest.mark.parametrize(
    ("command", "table", "line"),
    [
        (
            ["evaluate_recommendations"],
            Signal,
            "Interrupted: nothing was written (an evaluation only reads",
        ),
        (
            ["evaluate_artwork_policy"],
            PageLog,
            "Interrupted: nothing was written (the evaluation only reads",
        ),
        (
            ["title_states_refold"],
            Signal,
            "Interrupted before refolding any title state: nothing was changed.",
        ),
        (
            ["simulate_traffic"],
            Profile,
            "Interrupted before simulating any page: nothing was written.",
        ),
    ],
)
def test_a_command_stopped_as_it_reads_says_it_wrote_nothing(tmp_path, command, table, line):
    # given: the command held at its first read of ``table`` (locked by another session)
    with holding(f'LOCK TABLE "{table._meta.db_table}" IN ACCESS EXCLUSIVE MODE') as holder:
        process, stderr = manage(tmp_path, *command)
        waited_on(holder, process)

        # when: Ctrl-C
        said = _said(process, stderr, signal.SIGINT)

    # then: one line, not a traceback
    assert line in said


def test_retrain_wait_stopped_by_ctrl_c_says_its_runs_go_on_on_the_workers(tmp_path):
    # given: a retrain queued on the broker (no worker takes it here), the command
    # following it with --wait, held at its next look (the runs' table locked)
    cluster = TasteClusterFactory(region=RegionFactory(code="IN"), slug="tamil")
    process, stderr = manage(tmp_path, "retrain", "--region", "IN", "--cluster", "tamil", "--wait")
    try:
        run = _queued_and_sent(process)
        with holding(
            f'LOCK TABLE "{TrainingRun._meta.db_table}" IN ACCESS EXCLUSIVE MODE'
        ) as holder:
            waited_on(holder, process)

            # when
            said = _said(process, stderr, signal.SIGINT)
    finally:
        if process.poll() is None:
            process.kill()

    # then: it says the run goes on (stopping the command cancels nothing), and it does
    assert (
        f"Interrupted while waiting: run(s) #{run.pk} go on on the workers (stopping the "
        "command cancels no retrain)" in said
    )
    run.refresh_from_db()
    assert (run.taste_cluster_id, run.status) == (cluster.pk, TrainingRun.Status.QUEUED)


def _queued_and_sent(process, *, seconds: float = 60) -> TrainingRun:
    """The command's run once its message is on the broker (its task id stored)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"retrain ended (exit {process.returncode}) before its run was sent")
        run = TrainingRun.objects.exclude(celery_task_id="").first()
        if run is not None:
            return run
        time.sleep(0.05)
    pytest.fail("retrain never sent its run")
