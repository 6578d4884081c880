"""What a running run shows while it runs: its heartbeat (which tells the reaper its
worker lives), its stage and progress, and the time of each stage.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time

from django.db import connection
from django.utils import timezone

from recommendations.models import TrainingRun
from recommendations.services.retraining.log import logger


class _Heartbeat(threading.Thread):
    """Refreshes the run's heartbeat while the main thread is busy (an ALS fit is one call)."""

    def __init__(self, run_id: int, every: float) -> None:
        super().__init__(name=f"heartbeat-{run_id}", daemon=True)
        self.run_id = run_id
        self.every = every
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.every):
                try:
                    TrainingRun.objects.filter(
                        pk=self.run_id, status=TrainingRun.Status.RUNNING
                    ).update(heartbeat_at=timezone.now())
                except Exception:
                    # A database restart or a network blip: without beats the reaper would
                    # fail this live run. Drop the broken connection; the next beat reconnects.
                    logger.warning("Heartbeat of run %s failed", self.run_id, exc_info=True)
                    with contextlib.suppress(Exception):
                        connection.close()
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


def _stage_label(stage: str) -> str:
    """``stage`` cut to what a run's ``stage`` column holds.

    A label is built from data ("evaluate: <cluster slug>"), and a slug may be as long as
    its own field allows (64): written whole, a long one failed the write, and with it
    every run of the region's retrain, as "DataError: value too long".
    """
    return stage[: TrainingRun._meta.get_field("stage").max_length]


class _Reporter:
    """Stage, progress and per-stage timings of a run, written as they change.

    Written while the run is running only, as its heartbeat is: a run the reaper failed
    (its beats came late; the worker lives on) keeps the stage, progress and last beat
    it was failed at, not a fresh beat under "Worker lost: no heartbeat since" and 100%.
    """

    def __init__(self, run: TrainingRun) -> None:
        self.run = run
        self.timings: dict[str, float] = {}
        self._stage = ""
        self._started = time.perf_counter()

    def __call__(self, stage: str, progress: int) -> None:
        stage = _stage_label(stage)
        self.advance(stage, time.perf_counter())
        TrainingRun.objects.filter(pk=self.run.pk, status=TrainingRun.Status.RUNNING).update(
            stage=stage, progress=progress, timings=self.timings, heartbeat_at=timezone.now()
        )

    @property
    def stage(self) -> str:
        """The stage the run is in ("" once stopped)."""
        return self._stage

    def advance(self, stage: str, now: float) -> None:
        """Close the current stage at ``now`` (a clock reading) and open ``stage``."""
        if self._stage:
            self.timings[self._stage] = round(
                self.timings.get(self._stage, 0.0) + now - self._started, 3
            )
        self._stage, self._started = stage, now

    def close(self) -> dict[str, float]:
        """The timings of a run about to conclude; "done" is written as it concludes
        (:func:`_conclude`), not before: a run stopped as it concludes (the time limit,
        a rolled-back activation) fails at the stage it was in, not "done" at 100%."""
        self.advance("done", time.perf_counter())
        return self.timings

    def stop(self) -> dict[str, float]:
        """The timings of a run that failed, the stage it failed in counted too."""
        self.advance("", time.perf_counter())
        return self.timings


class _Reporters:
    """Stage and progress of every run of a batch, for the stages they share."""

    def __init__(self, reporters: dict[int, _Reporter]) -> None:
        self.reporters = reporters

    def __call__(self, stage: str, progress: int, *, run_id: int | None = None) -> None:
        if run_id is not None:
            self.reporters[run_id](stage, progress)
            return
        # A stage every run shares: one clock reading for all, so their timings are equal
        # and one UPDATE writes them (a batch of five clusters wrote five rows per stage).
        stage = _stage_label(stage)
        now = time.perf_counter()
        same: dict[str, list[int]] = {}
        for pk, reporter in self.reporters.items():
            reporter.advance(stage, now)
            same.setdefault(json.dumps(reporter.timings, sort_keys=True), []).append(pk)
        for pks in same.values():
            TrainingRun.objects.filter(pk__in=pks, status=TrainingRun.Status.RUNNING).update(
                stage=stage,
                progress=progress,
                timings=self.reporters[pks[0]].timings,
                heartbeat_at=timezone.now(),
            )
