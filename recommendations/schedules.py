"""Every periodic task of Tonight, in one place, each with the reason for its timing.

These are the *defaults*: ``manage.py install_schedules`` writes them into
django-celery-beat's tables, where operators edit, pause or reschedule them in
admin (Periodic tasks). Installing again adds what is missing and leaves what
operators changed alone (``--reset`` puts the defaults back, and only them). The services
that change regions (``regions.services``) keep each region's nightly retrain with it: a
region whose time zone changes has its default retrain moved to the new zone
(:func:`region_schedule_time_zone_move`), unless the change is made by staff who may not
reschedule a retrain; a region created gets its own retrain
(:func:`region_schedule_install`), unless staff who may not add one create it (a fixture's
region gets it too: ``recommendations.receivers``); a region deleted takes its retrain with
it (:func:`region_schedule_delete`; admin refuses its deletion to staff who may not delete
the retrain's schedule).

Every message beat sends expires (``expire_seconds``, which beat passes on as the
message's ``expires``): a worker that was down comes back to the sends it missed, and
runs none of them, rather than every five-minute update of the day and each missed
night's retrain at once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from regions.models import Region, validate_time_zone

logger = logging.getLogger(__name__)

#: Hour (local time of the region) of its nightly retrain: after the evening peak,
#: when the day's signals are in and the fewest people are watching.
RETRAIN_LOCAL_HOUR = 4
#: How often stale runs are reaped: a dead worker's run is failed within
#: RETRAIN_STALE_SECONDS plus this, a run no worker took within RETRAIN_QUEUED_SECONDS plus this.
REAP_EVERY_SECONDS = 60
#: How often the artwork policy folds in newly closed impressions: new variants and
#: shifting tastes are learned within minutes, while each update stays a small read.
ARTWORK_UPDATE_EVERY_SECONDS = 5 * 60
#: Hour (UTC) of the nightly prune of old page logs and sign-ins. Page logs are one table
#: for every region, so no hour is everyone's night; the prune's statements are small
#: (bounded batches), and this keeps it apart from the artwork refit at 04:30 UTC, which
#: reads the page log too.
PRUNE_HOUR_UTC = 2
#: How long a nightly job's message waits for a worker before it is dropped unrun: a retrain
#: or a prune sent at night and run hours later would run at the evening peak, beside the
#: next night's (beat sends one each night, whether a worker takes it or not). Four hours
#: cover a worker restarted or a deploy during the night; tomorrow's send comes anyway.
#: (A region's retrain is its fan-out; the runs it queues wait RETRAIN_QUEUED_SECONDS.)
NIGHTLY_EXPIRE_SECONDS = 4 * 3600
#: How late beat may write that it sent an interval schedule before it counts as stuck:
#: its loop wakes at least every 5 s and writes each send at once (CELERY_BEAT_SYNC_EVERY),
#: so a minute is a slow database, not a slow beat.
BEAT_GRACE_SECONDS = 60
#: The apps whose tasks Tonight schedules: ``--reset`` owns the schedules of their tasks, and
#: leaves other apps' (django-celery-beat's own ``celery.backend_cleanup``) alone.
TONIGHT_TASK_APPS = ("recommendations", "artwork")


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    args: list
    crontab: dict[str, str] | None = None
    every_seconds: int | None = None

    @property
    def expires_after(self) -> int:
        """Seconds a sent message may wait for a worker: an interval schedule's own interval
        (the next send replaces it), a nightly one's NIGHTLY_EXPIRE_SECONDS."""
        return self.every_seconds if self.every_seconds is not None else NIGHTLY_EXPIRE_SECONDS


def _is_tonights(task: str) -> bool:
    """Whether ``task`` is one of Tonight's own tasks (named by app: ``artwork.…``)."""
    return task.split(".", 1)[0] in TONIGHT_TASK_APPS


@dataclass(frozen=True)
class SkippedRegion:
    """A region whose zone is no IANA name, so its nightly retrain cannot be scheduled."""

    code: str
    zone: str

    @property
    def warning(self) -> str:
        return (
            f"Region {self.code}'s time zone {self.zone!r} is not an IANA time zone: its "
            f"nightly retrain ('{retrain_schedule_name(self.code)}') was not installed, and one "
            f"installed before is kept as it is. Correct the zone in admin (Regions), then run "
            f"install_schedules again."
        )


def _region_zones() -> tuple[list[tuple[str, str]], list[SkippedRegion]]:
    """Each region's code and zone, and apart the regions whose zone no crontab can take.

    ``Region.save()`` refuses such a zone, but a bulk write, ``QuerySet.update()`` or a
    data migration does not check it; one such region made every install fail, compose's
    ``migrate`` service with it (so nothing started), and no other region got its retrain.
    """
    usable, skipped = [], []
    for code, zone in Region.objects.order_by("code").values_list("code", "time_zone"):
        try:
            validate_time_zone(zone)
        except ValidationError:
            skipped.append(SkippedRegion(code=code, zone=zone))
        else:
            usable.append((code, zone))
    return usable, skipped


def default_schedules(
    regions: list[tuple[str, str]] | None = None,
) -> list[Schedule]:
    """One nightly retrain per region, the reaper, the artwork policy's updates, the prune.

    ``regions``: the (code, zone) pairs to schedule retrains for; by default every region
    whose zone is usable.
    """
    schedules = [
        # A worker that dies leaves its run "running", a lost message leaves it "queued";
        # the reaper fails both so that operators see them and the cluster's next retrain
        # is not refused.
        Schedule(
            name="reap stale training runs",
            task="recommendations.reap_training_runs",
            args=[],
            every_seconds=REAP_EVERY_SECONDS,
        ),
        # The artwork bandit learns between retrains (the nightly retrain refits it).
        Schedule(
            name="update artwork policy",
            task="artwork.update_policy",
            args=[],
            every_seconds=ARTWORK_UPDATE_EVERY_SECONDS,
        ),
        # Nightly, the policy is refitted from its prior on today's genres and themes, so
        # a theme added since and old evidence outside the training window are accounted for.
        Schedule(
            name="refit artwork policy",
            task="artwork.update_policy",
            args=[True],
            crontab={"minute": "30", "hour": str(RETRAIN_LOCAL_HOUR), "timezone": "UTC"},
        ),
        # Nightly, page logs (a row per homepage) and admin sign-ins past their keep are
        # deleted: nothing else removes them (recommendations/services/retention.py).
        Schedule(
            name="prune old logs",
            task="recommendations.prune_logs",
            args=[],
            crontab={"minute": "15", "hour": str(PRUNE_HOUR_UTC), "timezone": "UTC"},
        ),
    ]
    for code, zone in _region_zones()[0] if regions is None else regions:
        schedules.append(_retrain_schedule(code=code, zone=zone))
    return schedules


def retrain_schedule_name(code: str) -> str:
    """The name of region ``code``'s nightly retrain: what installing, moving, deleting and
    admin's checks find it by (operators may change everything else about it)."""
    return f"retrain {code}"


def _retrain_schedule(*, code: str, zone: str) -> Schedule:
    # Nightly, at RETRAIN_LOCAL_HOUR in the region's own time zone: each region
    # retrains in its quiet hours, and regions do not all compete for workers at once.
    return Schedule(
        name=retrain_schedule_name(code),
        task="recommendations.retrain_region",
        args=[code],
        crontab={"minute": "0", "hour": str(RETRAIN_LOCAL_HOUR), "timezone": zone},
    )


@dataclass(frozen=True)
class Installed:
    #: The default schedules written (created, or with ``reset`` rewritten).
    names: list[str]
    #: With ``reset``: Tonight's schedules that were not defaults, deleted.
    removed: list[str]
    #: Without ``reset``: existing defaults that had no expiry and were given the default's.
    expiring: list[str]
    #: Regions left without a (new) nightly retrain, their zone being unusable.
    skipped: list[SkippedRegion]


def schedules_install(*, reset: bool = False) -> Installed:
    """Create the default periodic tasks that are missing; with ``reset``, make Tonight's
    schedules the defaults exactly.

    ``reset`` rewrites every field of a default that decides what beat sends, when and
    where (a paused one resumes; a queue, a priority or an expiry set in admin goes), and
    deletes the schedules of Tonight's tasks that are not defaults (a name an earlier
    version installed, one added in admin). Other apps' schedules are left alone. One
    transaction: an install that fails changes nothing.

    Without ``reset``, an existing default with no expiry at all gets the default's: the
    schedules installed before they expired (a deploy installs without ``reset``) would
    otherwise pile up missed sends for good. An expiry set in admin is kept.

    A region whose zone is not an IANA name gets no retrain, and keeps one it had (even
    with ``reset``), with a warning naming it; the other schedules are installed.
    """
    created = []
    removed: list[str] = []
    expiring: list[str] = []
    with transaction.atomic():
        regions, skipped = _region_zones()
        for region in skipped:
            logger.warning("%s", region.warning)
        defaults = default_schedules(regions)
        if reset:
            names = {schedule.name for schedule in defaults}
            names |= {retrain_schedule_name(region.code) for region in skipped}
            extra = [
                task
                for task in PeriodicTask.objects.exclude(name__in=names).order_by("name")
                if _is_tonights(task.task)
            ]
            PeriodicTask.objects.filter(pk__in=[task.pk for task in extra]).delete()
            removed = [task.name for task in extra]
        for schedule in defaults:
            existing = PeriodicTask.objects.filter(name=schedule.name).first()
            if existing is not None and not reset:
                if existing.expires is None and existing.expire_seconds is None:
                    existing.expire_seconds = schedule.expires_after
                    existing.save(update_fields=["expire_seconds"])
                    expiring.append(schedule.name)
                continue
            _schedule_write(schedule)
            created.append(schedule.name)
    return Installed(names=created, removed=removed, expiring=expiring, skipped=skipped)


def _schedule_write(schedule: Schedule) -> None:
    """Write ``schedule`` whole as its default, over a periodic task of its name if any."""
    fields: dict = {
        "task": schedule.task,
        "args": json.dumps(schedule.args),
        "kwargs": "{}",
        "expire_seconds": schedule.expires_after,
        **_RESET_FIELDS,
    }
    if schedule.crontab is not None:
        fields["crontab"] = _schedule_row(
            CrontabSchedule,
            minute=schedule.crontab["minute"],
            hour=schedule.crontab["hour"],
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=schedule.crontab["timezone"],
        )
        fields["interval"] = None
    else:
        fields["interval"] = _schedule_row(
            IntervalSchedule, every=schedule.every_seconds, period=IntervalSchedule.SECONDS
        )
        fields["crontab"] = None
    PeriodicTask.objects.update_or_create(name=schedule.name, defaults=fields)


#: What a default schedule has, beside its task, arguments and timing, and what ``--reset``
#: puts back over an operator's edits in admin.
_RESET_FIELDS: dict[str, object] = {
    "enabled": True,
    "one_off": False,
    "start_time": None,
    "expires": None,  # a date: beat disables the schedule once it has passed
    "clocked": None,
    "solar": None,
    "queue": None,
    "exchange": None,
    "routing_key": None,
    "priority": None,
    "headers": "{}",
}


#: What moving a retrain's schedule in admin takes (Periodic tasks, and its gate there:
#: "Retrain now"'s permission): a zone changed by staff without both leaves it alone.
RESCHEDULE_RETRAIN_PERMISSIONS = (
    "django_celery_beat.change_periodictask",
    "recommendations.change_trainingrun",
)
#: What adding a retrain's schedule in admin takes (Periodic tasks, and the same gate): a
#: region created by staff without both gets none until staff who have them save it.
INSTALL_RETRAIN_PERMISSIONS = (
    "django_celery_beat.add_periodictask",
    "recommendations.change_trainingrun",
)


def region_schedule_time_zone_move(*, region_code: str, old_zone: str, new_zone: str) -> bool:
    """Move a region's nightly retrain to its new time zone; ``False`` when it is left alone.

    The retrain is at ``RETRAIN_LOCAL_HOUR`` in the zone the region had when it was
    installed, and installing again keeps an existing schedule: a zone corrected in
    admin (``UTC`` for ``Asia/Kolkata``) left the region retraining in the middle of its
    evening, for good. Only the default is moved; a schedule an operator changed (another
    hour, days, a zone of their own) is theirs, and is kept. A paused default is moved
    and stays paused (only its crontab is written), so that it runs at night once resumed.
    """
    default = {
        "minute": "0",
        "hour": str(RETRAIN_LOCAL_HOUR),
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
    }
    with transaction.atomic():
        task = (
            PeriodicTask.objects.select_for_update(of=("self",))
            .filter(name=retrain_schedule_name(region_code))
            .select_related("crontab")
            .first()
        )
        if task is None:
            return False  # never installed (install_schedules puts it in the new zone)
        crontab = task.crontab
        if (
            task.task != "recommendations.retrain_region"
            or crontab is None
            or str(crontab.timezone) != old_zone
            or any(getattr(crontab, field) != value for field, value in default.items())
        ):
            logger.warning(
                "Region %s moved from %s to %s; its nightly retrain was changed in admin and "
                "is kept as it is (Periodic tasks, 'retrain %s')",
                region_code,
                old_zone,
                new_zone,
                region_code,
            )
            return False
        task.crontab = _schedule_row(CrontabSchedule, **default, timezone=new_zone)
        task.save(update_fields=["crontab", "date_changed"])
    logger.info(
        "Region %s moved from %s to %s: its nightly retrain now runs at %02d:00 %s",
        region_code,
        old_zone,
        new_zone,
        RETRAIN_LOCAL_HOUR,
        new_zone,
    )
    return True


def region_schedule_install(*, region_code: str) -> bool:
    """Give a region its nightly retrain if it has none; ``False`` when it is left as it is.

    Only the region's own: another default that is missing (a prune or reaper an operator
    deleted) is ``install_schedules``'s to put back, not a side effect of adding a region,
    which staff who may not schedule those could do. An existing schedule of that name is
    kept whatever an operator made of it, as installing keeps it; a region whose zone is
    no IANA name (a ``loaddata`` skips ``Region.save()``'s check) gets none, with the
    warning ``install_schedules`` gives.
    """
    with transaction.atomic():
        region = (
            Region.objects.select_for_update().filter(pk=region_code).values_list("time_zone")
        ).first()
        if region is None:
            return False  # deleted before this ran (it runs on commit)
        (zone,) = region
        try:
            validate_time_zone(zone)
        except ValidationError:
            logger.warning("%s", SkippedRegion(code=region_code, zone=zone).warning)
            return False
        schedule = _retrain_schedule(code=region_code, zone=zone)
        if PeriodicTask.objects.filter(name=schedule.name).exists():
            return False
        _schedule_write(schedule)
    logger.info("Region %s: its nightly retrain is installed ('%s')", region_code, schedule.name)
    return True


def region_schedule_exists(*, region_code: str) -> bool:
    """Whether a periodic task has the name of the region's nightly retrain, which
    :func:`region_schedule_install` then keeps, whatever an operator made of it."""
    return PeriodicTask.objects.filter(name=retrain_schedule_name(region_code)).exists()


def region_schedules(*, region_codes: list[str]) -> list[PeriodicTask]:
    """The nightly retrains of these regions that a region's deletion deletes with it
    (:func:`region_schedule_delete`), by name."""
    names = [retrain_schedule_name(code) for code in region_codes]
    return list(
        PeriodicTask.objects.filter(name__in=names, task="recommendations.retrain_region").order_by(
            "name"
        )
    )


def region_schedule_delete(*, region_code: str) -> int:
    """Delete a deleted region's nightly retrain; how many schedules went (0 or 1).

    Left behind, it sent ``retrain_region`` for a region that no longer exists every
    night, each an "Unknown region code" error in the worker's log, for good.
    """
    deleted, _ = PeriodicTask.objects.filter(
        name=retrain_schedule_name(region_code), task="recommendations.retrain_region"
    ).delete()
    return deleted


def _schedule_row(model: type[CrontabSchedule | IntervalSchedule], **when: object) -> Any:
    """The first crontab or interval row saying ``when``, created if none does.

    Not ``get_or_create``: django-celery-beat has no unique constraint on them, and a row
    an operator added twice in admin made it raise, failing every later install (compose's
    ``migrate`` service, so nothing started) and every region's creation.
    """
    row = model.objects.filter(**when).order_by("pk").first()
    return row if row is not None else model.objects.create(**when)


@dataclass(frozen=True)
class OverdueSchedule:
    name: str
    every: dt.timedelta
    #: When beat last sent it (``last_run_at``); ``None`` when it has not since the schedule
    #: was created or re-enabled (disabling one forgets its last send).
    last_sent: dt.datetime | None
    #: When the schedule was last saved: an edit, or beat writing down a send.
    changed: dt.datetime


def schedules_overdue(
    *, now: dt.datetime | None = None, grace_seconds: float = BEAT_GRACE_SECONDS
) -> list[OverdueSchedule]:
    """The enabled interval schedules that beat should have sent by now and has not.

    Beat records each send in ``last_run_at``; an edit in admin (``date_changed``)
    restarts the clock, as it does in beat. Crontab schedules are left out: a nightly
    one would tell of a stuck beat a day late. None overdue while the reaper and the
    artwork updates run every few minutes means beat is alive and sending.
    """
    now = now or timezone.now()
    tasks = (
        PeriodicTask.objects.filter(enabled=True, one_off=False, interval__isnull=False)
        .exclude(start_time__gt=now)
        .filter(Q(expires__isnull=True) | Q(expires__gt=now))
        .select_related("interval")
        .order_by("name")
    )
    overdue = []
    for task in tasks:
        every = task.interval.schedule.run_every
        since = max(filter(None, (task.last_run_at, task.date_changed)))
        if now - since > every + dt.timedelta(seconds=grace_seconds):
            overdue.append(
                OverdueSchedule(
                    name=task.name,
                    every=every,
                    last_sent=task.last_run_at,
                    changed=task.date_changed,
                )
            )
    return overdue
