"""Beat sends, and routes, tasks by name: every name must be one a worker registers.

A task renamed in its decorator but not in ``recommendations/schedules.py`` or in
``CELERY_TASK_ROUTES`` fails at run time only: beat sends a message no worker knows
(it is rejected as unregistered), and a route for the old name no longer applies: the task
goes to the default queue. The schedule tests compare names with strings, which a rename leaves
standing.
"""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command, load_command_class
from django.db import DatabaseError, connection
from django.utils import timezone
from django_celery_beat.models import (
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
    SolarSchedule,
)
from django_celery_beat.schedulers import ModelEntry

from config.celery import app
from recommendations.schedules import (
    ARTWORK_UPDATE_EVERY_SECONDS,
    NIGHTLY_EXPIRE_SECONDS,
    REAP_EVERY_SECONDS,
)
from regions.models import Region
from regions.services import region_delete, region_update
from tests.factories import LanguageFactory, RegionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def registered() -> set[str]:
    """The task names a worker of this project registers, found as a worker finds them."""
    app.loader.import_default_modules()
    return set(app.tasks)


def test_every_installed_schedule_sends_a_registered_task(registered):
    # given: a region, so that its nightly retrain is scheduled too
    RegionFactory()

    # when
    call_command("install_schedules", stdout=StringIO())

    # then
    scheduled = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {"recommendations.retrain_region", "artwork.update_policy"} <= scheduled
    assert scheduled - registered == set()


def test_every_task_route_names_a_registered_task(settings, registered):
    assert settings.CELERY_TASK_ROUTES
    assert set(settings.CELERY_TASK_ROUTES) - registered == set()


def test_install_schedules_help_names_every_kind_of_default_schedule():
    # The help is what an operator reads before running it; it listed two of the four kinds.
    help_text = load_command_class("recommendations", "install_schedules").help

    for kind in ("nightly retrain", "reaper", "artwork policy", "prune"):
        assert kind in help_text


def test_installing_again_copes_with_schedules_an_operator_added_twice_in_admin():
    # given: the schedules installed, and an operator who added in admin the same crontab
    # and the same interval again (django-celery-beat lets two rows say the same thing)
    region = RegionFactory()
    call_command("install_schedules", stdout=StringIO())
    nightly = PeriodicTask.objects.get(name=f"retrain {region.code}").crontab
    nightly.pk = None
    nightly.save()
    reaper = PeriodicTask.objects.get(name="reap stale training runs").interval
    reaper.pk = None
    reaper.save()
    installed = sorted(PeriodicTask.objects.values_list("name", flat=True))
    rows = (CrontabSchedule.objects.count(), IntervalSchedule.objects.count())

    # when: the next deploy installs them again, with --reset (every schedule rewritten)
    call_command("install_schedules", "--reset", stdout=StringIO())

    # then: it succeeds (compose starts nothing when it fails) and each schedule is there once
    names = list(PeriodicTask.objects.values_list("name", flat=True))
    assert len(names) == len(set(names))
    assert f"retrain {region.code}" in names
    # (names are unique in django-celery-beat: what can go wrong is one lost, or a third
    # copy of a crontab or interval made beside the operator's two)
    assert sorted(names) == installed
    assert (CrontabSchedule.objects.count(), IntervalSchedule.objects.count()) == rows


def _nightly(region) -> tuple[str, str, str]:
    crontab = PeriodicTask.objects.get(name=f"retrain {region.code}").crontab
    return (crontab.minute, crontab.hour, str(crontab.timezone))


def test_a_region_whose_time_zone_is_corrected_retrains_at_night_in_its_new_zone(
    django_capture_on_commit_callbacks,
):
    # given: a region created with the wrong zone, and its nightly retrain installed
    region = RegionFactory(time_zone="UTC")
    call_command("install_schedules", stdout=StringIO())
    assert _nightly(region) == ("0", "4", "UTC")
    read = PeriodicTasks.last_change()

    # when: an operator corrects the zone (admin's change form saves the region)
    with django_capture_on_commit_callbacks(execute=True):
        region_update(region=region, data={"time_zone": "Asia/Kolkata"})

    # then: the retrain is at 04:00 in India, not 09:30 in the evening there, every night,
    # and beat is told to read its schedules again
    assert _nightly(region) == ("0", "4", "Asia/Kolkata")
    assert PeriodicTasks.last_change() > read
    # (and a deploy's install, which keeps what exists, keeps it there)
    call_command("install_schedules", stdout=StringIO())
    assert _nightly(region) == ("0", "4", "Asia/Kolkata")


def test_a_retrain_schedule_an_operator_changed_stays_when_the_regions_zone_changes(
    django_capture_on_commit_callbacks,
):
    # given: a region whose nightly retrain an operator moved to 02:00
    region = RegionFactory(time_zone="UTC")
    other = RegionFactory(code="US", time_zone="UTC")
    call_command("install_schedules", stdout=StringIO())
    edited = PeriodicTask.objects.get(name=f"retrain {region.code}")
    edited.crontab = CrontabSchedule.objects.create(minute="0", hour="2", timezone="UTC")
    edited.save()

    # when: the zone changes
    with django_capture_on_commit_callbacks(execute=True):
        region_update(region=region, data={"time_zone": "Asia/Kolkata"})

    # then: the operator's schedule is kept, and no other region's moved with it (they
    # shared the default crontab row)
    assert _nightly(region) == ("0", "2", "UTC")
    assert _nightly(other) == ("0", "4", "UTC")


def test_a_deleted_region_leaves_no_nightly_retrain_behind():
    # given: a region created by mistake, its nightly retrain installed
    region = RegionFactory(code="IX", time_zone="UTC")
    kept = RegionFactory(code="US", time_zone="UTC")
    call_command("install_schedules", stdout=StringIO())

    # when: it is deleted (nothing refers to it yet)
    region_delete(region=region)

    # then: no schedule sends a retrain of a region that does not exist, night after night
    tasks = PeriodicTask.objects.filter(task="recommendations.retrain_region")
    assert list(tasks.values_list("args", flat=True)) == [f'["{kept.code}"]']
    call_command("install_schedules", stdout=StringIO())
    assert list(tasks.values_list("args", flat=True)) == [f'["{kept.code}"]']


def test_a_paused_nightly_retrain_moves_with_its_regions_zone_and_stays_paused(
    django_capture_on_commit_callbacks,
):
    # given: a region's default nightly retrain, paused by an operator
    region = RegionFactory(time_zone="UTC")
    call_command("install_schedules", stdout=StringIO())
    PeriodicTask.objects.filter(name=f"retrain {region.code}").update(enabled=False)

    # when: the region's zone is corrected
    with django_capture_on_commit_callbacks(execute=True):
        region_update(region=region, data={"time_zone": "Asia/Kolkata"})

    # then: it is at night in the new zone once resumed, and still paused until then
    assert _nightly(region) == ("0", "4", "Asia/Kolkata")
    assert not PeriodicTask.objects.get(name=f"retrain {region.code}").enabled


def test_every_installed_schedule_sends_messages_that_expire_when_the_next_send_is_due():
    # given: a region, so that its nightly retrain is installed too
    region = RegionFactory()

    # when
    call_command("install_schedules", stdout=StringIO())

    # then: an interval schedule's message expires after its own interval (the next send
    # replaces it), a nightly one's after NIGHTLY_EXPIRE_SECONDS, so that a worker down for
    # a day does not run a day of artwork updates and each missed night's jobs at once
    expiry = dict(PeriodicTask.objects.values_list("name", "expire_seconds"))
    assert expiry == {
        "reap stale training runs": REAP_EVERY_SECONDS,
        "update artwork policy": ARTWORK_UPDATE_EVERY_SECONDS,
        "refit artwork policy": NIGHTLY_EXPIRE_SECONDS,
        "prune old logs": NIGHTLY_EXPIRE_SECONDS,
        f"retrain {region.code}": NIGHTLY_EXPIRE_SECONDS,
    }
    assert NIGHTLY_EXPIRE_SECONDS < 12 * 3600
    # and beat sends each with that expiry (it disables a schedule whose `expires` date has
    # passed: that field must stay empty)
    for task in PeriodicTask.objects.all():
        assert task.expires is None
        assert ModelEntry(task, app=app).options["expires"] == expiry[task.name]


def test_reset_makes_tonights_schedules_the_defaults_and_leaves_other_apps_alone():
    # given: the defaults installed, then edited in admin: the prune paused, sent to another
    # queue with a priority and an expiry date; the reaper moved to a solar schedule; an
    # extra retrain added; a schedule an earlier version installed; and another app's
    region = RegionFactory()
    call_command("install_schedules", stdout=StringIO())
    installed = {task.name: _beat_fields(task) for task in PeriodicTask.objects.all()}
    prune = PeriodicTask.objects.get(name="prune old logs")
    prune.enabled = False
    prune.queue = "slow"
    prune.priority = 9
    prune.expire_seconds = None
    prune.expires = timezone.now() + dt.timedelta(days=30)
    prune.save()
    reaper = PeriodicTask.objects.get(name="reap stale training runs")
    reaper.interval = None
    reaper.solar = SolarSchedule.objects.create(event="sunset", latitude=0, longitude=0)
    reaper.save()
    every_hour = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.create(
        name=f"retrain {region.code} at noon",
        task="recommendations.retrain_region",
        args=f'["{region.code}"]',
        interval=every_hour,
    )
    PeriodicTask.objects.create(
        name="update artwork policy (old)", task="artwork.update_policy", interval=every_hour
    )
    theirs = PeriodicTask.objects.create(
        name="celery.backend_cleanup", task="celery.backend_cleanup", interval=every_hour
    )

    # when
    out = StringIO()
    call_command("install_schedules", "--reset", stdout=out)

    # then: Tonight's schedules are the defaults again, field for field, and only they; the
    # other app's schedule is kept
    tonights = PeriodicTask.objects.exclude(pk=theirs.pk)
    assert {task.name: _beat_fields(task) for task in tonights} == installed
    assert PeriodicTask.objects.filter(pk=theirs.pk).exists()
    assert "Removed 2 schedule(s)" in out.getvalue()
    assert f"retrain {region.code} at noon" in out.getvalue()


def test_an_install_that_fails_changes_nothing():
    # given: the defaults installed and edited, and a region whose retrain cannot be written
    # (the database refuses it), which comes after the deletions --reset makes
    RegionFactory(code="IN", time_zone="Asia/Kolkata")
    call_command("install_schedules", stdout=StringIO())
    prune = PeriodicTask.objects.get(name="prune old logs")
    prune.enabled = False
    prune.save()
    extra = PeriodicTask.objects.create(
        name="retrain IN twice",
        task="recommendations.retrain_region",
        args='["IN"]',
        interval=IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS),
    )
    RegionFactory(code="ZZ", time_zone="UTC")
    _refuse_inserts_named("retrain ZZ")
    before = sorted(PeriodicTask.objects.values_list("name", "enabled"))

    # when
    with pytest.raises(DatabaseError, match="refused retrain ZZ"):
        call_command("install_schedules", "--reset", stdout=StringIO())

    # then: nothing was reset nor deleted halfway
    assert sorted(PeriodicTask.objects.values_list("name", "enabled")) == before
    assert PeriodicTask.objects.filter(pk=extra.pk).exists()


def _refuse_inserts_named(name: str) -> None:
    """Make the database refuse a periodic task of this name (until the test's rollback)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE FUNCTION pg_temp.refuse_task() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.name = '{name}' THEN RAISE EXCEPTION 'refused %', NEW.name; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_task BEFORE INSERT ON django_celery_beat_periodictask
                FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_task();
            """
        )


def _bad_zone_region(code: str, zone: str) -> None:
    """A region whose zone a bulk write or a data migration made bad (``save()`` refuses it)."""
    RegionFactory(code=code, time_zone="UTC")
    Region.objects.filter(code=code).update(time_zone=zone)


def test_a_region_with_an_unusable_zone_is_skipped_and_the_others_are_installed(caplog):
    # given: a good region, and one whose zone a data migration wrote wrong
    RegionFactory(code="IN", time_zone="Asia/Kolkata")
    _bad_zone_region("ZZ", "India/Chennai")
    out, err = StringIO(), StringIO()

    # when: a deploy installs (compose's migrate service)
    call_command("install_schedules", stdout=out, stderr=err)

    # then: everything but the bad region's retrain is installed, and both the command and
    # the log say which region and zone, and what to do
    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert "retrain IN" in names
    assert "retrain ZZ" not in names
    assert {"reap stale training runs", "prune old logs"} <= names
    assert "Region ZZ's time zone 'India/Chennai'" in caplog.text
    assert "ZZ ('India/Chennai')" in err.getvalue()
    assert "retrain IN" in out.getvalue()


def test_reset_keeps_the_retrain_a_region_had_before_its_zone_went_bad():
    # given: a region's retrain installed in its zone, and the zone since made bad
    RegionFactory(code="IN", time_zone="Asia/Kolkata")
    call_command("install_schedules", stdout=StringIO())
    Region.objects.filter(code="IN").update(time_zone="Not/AZone")

    # when
    err = StringIO()
    call_command("install_schedules", "--reset", stdout=StringIO(), stderr=err)

    # then: it still retrains at night in its last good zone rather than never
    assert _nightly(Region(code="IN")) == ("0", "4", "Asia/Kolkata")
    assert "Not/AZone" in err.getvalue()


def _beat_fields(task: PeriodicTask) -> dict:
    """What of a periodic task decides what beat sends, when and where."""
    fields = (
        "task", "args", "kwargs", "enabled", "one_off", "start_time", "expires",
        "expire_seconds", "queue", "exchange", "routing_key", "priority", "headers",
        "interval_id", "crontab_id", "solar_id", "clocked_id",
    )  # fmt: skip
    return {field: getattr(task, field) for field in fields}


def test_installing_again_gives_schedules_installed_without_an_expiry_the_default_one():
    # given: the schedules of an earlier install, which had no expiry, one of them since
    # given an expiry of its own in admin
    region = RegionFactory()
    call_command("install_schedules", stdout=StringIO())
    PeriodicTask.objects.update(expire_seconds=None)
    PeriodicTask.objects.filter(name="prune old logs").update(expire_seconds=3600)

    # when: the next deploy installs them (without --reset)
    out = StringIO()
    call_command("install_schedules", stdout=out)

    # then: each has an expiry, and the operator's is kept
    expiry = dict(PeriodicTask.objects.values_list("name", "expire_seconds"))
    assert expiry["prune old logs"] == 3600
    assert expiry["update artwork policy"] == ARTWORK_UPDATE_EVERY_SECONDS
    assert expiry[f"retrain {region.code}"] == NIGHTLY_EXPIRE_SECONDS
    assert "Gave 4 schedule(s) the default expiry" in out.getvalue()


# --- A region added outside admin gets its nightly retrain -----------------------------------
#
# Admin adds one only for staff who may add a retrain's schedule (tests/regions/test_admin.py);
# the system's own paths (a script or an import through the ORM, loaddata, seed_demo in
# tests/recommendations/test_seed_demo.py) are not staff, and keep adding it.


def test_a_region_created_through_the_orm_gets_its_nightly_retrain_on_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        region = RegionFactory(code="IN", time_zone="Asia/Kolkata")

    assert _nightly(region) == ("0", "4", "Asia/Kolkata")


def test_a_region_created_puts_back_its_own_retrain_only(django_capture_on_commit_callbacks):
    # given: the schedules installed, and the prune an operator deleted
    RegionFactory(code="US", time_zone="UTC")
    call_command("install_schedules", stdout=StringIO())
    PeriodicTask.objects.filter(name="prune old logs").delete()
    before = set(PeriodicTask.objects.values_list("name", flat=True))

    # when: a region is added
    with django_capture_on_commit_callbacks(execute=True):
        RegionFactory(code="IN", time_zone="Asia/Kolkata")

    # then: it gets its retrain; the prune is install_schedules' to put back (adding a
    # region put it back, for staff the prune's own gate refuses)
    assert set(PeriodicTask.objects.values_list("name", flat=True)) == before | {"retrain IN"}


def _region_fixture(tmp_path, *, zone: str):
    hindi = LanguageFactory(code="hi", name="Hindi")
    fields = {"name": "India", "default_language": hindi.pk, "time_zone": zone}
    fixture = tmp_path / "regions.json"
    fixture.write_text(json.dumps([{"model": "regions.region", "pk": "IN", "fields": fields}]))
    return fixture


def test_a_region_loaded_from_a_fixture_gets_its_nightly_retrain(
    tmp_path, django_capture_on_commit_callbacks
):
    fixture = _region_fixture(tmp_path, zone="Asia/Kolkata")

    with django_capture_on_commit_callbacks(execute=True):
        call_command("loaddata", str(fixture), stdout=StringIO())

    assert _nightly(Region.objects.get(code="IN")) == ("0", "4", "Asia/Kolkata")


def test_a_region_loaded_with_an_unusable_zone_gets_no_retrain_and_a_warning(
    tmp_path, django_capture_on_commit_callbacks, caplog
):
    # loaddata skips Region.save()'s check of the zone
    fixture = _region_fixture(tmp_path, zone="India/Delhi")

    with django_capture_on_commit_callbacks(execute=True):
        call_command("loaddata", str(fixture), stdout=StringIO())

    assert not PeriodicTask.objects.filter(name="retrain IN").exists()
    assert "Region IN's time zone 'India/Delhi' is not an IANA time zone" in caplog.text
