"""Who may act on the Celery beat schedules in admin (Periodic tasks).

django-celery-beat's list offers four actions (enable, disable, toggle, and run the
selected tasks now) that declare no permission, and Django offers such an action to
everyone who may see the list: a view-only operator could pause every nightly retrain,
or run one (a retrain, the prune of old logs) now, past the change permission that
admin's own "Retrain now" asks for.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/django_celery_beat/periodictask/"
ACTIONS = ("enable_tasks", "disable_tasks", "toggle_tasks", "run_tasks")


def _staff(*codenames: str) -> Client:
    user = get_user_model().objects.create_user(
        f"staff-{'-'.join(codenames)}"[:150], password="pw-12345-xyz", is_staff=True
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def _nightly() -> PeriodicTask:
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.DAYS)
    return PeriodicTask.objects.create(
        name="retrain IN nightly",
        task="recommendations.retrain_region",
        interval=every,
        kwargs='{"region_code": "IN"}',
        enabled=True,
    )


def test_view_only_staff_get_no_schedule_actions_and_cannot_pause_a_retrain():
    # given: a nightly retrain, and an operator who may only look at the schedules
    nightly = _nightly()
    viewer = _staff("view_periodictask")

    # when: the operator opens the list, then tries to pause it
    listing = viewer.get(LIST_URL)
    for action in ("disable_tasks",):
        viewer.post(LIST_URL, {"action": action, "_selected_action": [nightly.pk]})

    # then: none of the actions is offered, and the retrain is still scheduled
    assert listing.status_code == 200
    page = listing.content.decode()
    assert not [action for action in ACTIONS if f'value="{action}"' in page]
    nightly.refresh_from_db()
    assert nightly.enabled is True


def test_staff_who_may_change_schedules_get_every_action():
    nightly = _nightly()
    operator = _staff("view_periodictask", "change_periodictask")

    page = operator.get(LIST_URL).content.decode()
    paused = operator.post(LIST_URL, {"action": "disable_tasks", "_selected_action": [nightly.pk]})

    assert [action for action in ACTIONS if f'value="{action}"' in page] == list(ACTIONS)
    assert paused.status_code == 302
    nightly.refresh_from_db()
    assert nightly.enabled is False


# --- Starting a retrain through a schedule ---------------------------------------------------
#
# Admin's "Retrain now" asks for change permission on training runs. A schedule naming a
# retrain starts one just as well: run now, enabled, edited to fire in a minute, or added.

RETRAINS_TOO = ("view_periodictask", "change_periodictask", "add_periodictask")
MAY_NOT = "change permission on training runs"


def _change_url(task: PeriodicTask) -> str:
    return f"{LIST_URL}{task.pk}/change/"


def _as_opened(client: Client, url: str) -> dict[str, str]:
    """The change form's fields as the page shows them, ready to post back."""
    form = client.get(url).context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else str(value)
    return data


def _messages(response: object) -> str:
    return " ".join(str(message) for message in response.context["messages"])


def test_staff_who_may_not_retrain_cannot_run_a_retrain_schedule_now():
    nightly = _nightly()
    operator = _staff(*RETRAINS_TOO)

    response = operator.post(
        LIST_URL, {"action": "run_tasks", "_selected_action": [nightly.pk]}, follow=True
    )

    said = _messages(response)
    assert MAY_NOT in said
    assert "successfully run" not in said


def test_staff_who_may_not_retrain_cannot_enable_or_toggle_on_a_paused_retrain():
    nightly = _nightly()
    PeriodicTask.objects.filter(pk=nightly.pk).update(enabled=False)
    operator = _staff(*RETRAINS_TOO)

    for action in ("enable_tasks", "toggle_tasks"):
        response = operator.post(
            LIST_URL, {"action": action, "_selected_action": [nightly.pk]}, follow=True
        )
        assert MAY_NOT in _messages(response)

    nightly.refresh_from_db()
    assert nightly.enabled is False


def test_staff_who_may_not_retrain_cannot_reschedule_a_retrain():
    nightly = _nightly()
    operator = _staff(*RETRAINS_TOO)
    soon = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    data = _as_opened(operator, _change_url(nightly))
    data["interval"] = str(soon.pk)

    response = operator.post(_change_url(nightly), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert MAY_NOT in " ".join(errors.get("regtask", []) + errors.get("task", []))
    nightly.refresh_from_db()
    assert nightly.interval_id != soon.pk


@pytest.mark.parametrize(
    ("regtask", "task", "args"),
    [
        ("recommendations.retrain_region", "", '["IN"]'),
        ("", "recommendations.retrain_cluster", "[1]"),
        ("artwork.update_policy", "", "[true]"),
        # Celery's own canvas tasks run whatever task their arguments name.
        ("celery.starmap", "", '[{"task": "recommendations.retrain_region"}, [["IN"]]]'),
    ],
)
def test_staff_who_may_not_retrain_cannot_add_a_schedule_that_retrains(regtask, task, args):
    operator = _staff(*RETRAINS_TOO)
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    data = _as_opened(operator, f"{LIST_URL}add/")
    data.update(
        name="mine", regtask=regtask, task=task, args=args, interval=str(every.pk), enabled="on"
    )

    response = operator.post(f"{LIST_URL}add/", data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert MAY_NOT in " ".join(errors.get("regtask", []) + errors.get("task", []))
    assert not PeriodicTask.objects.filter(name="mine").exists()


def test_staff_who_may_not_retrain_cannot_move_a_retrains_crontab():
    # given: a nightly retrain on a crontab, and staff who may change crontabs only
    crontab = CrontabSchedule.objects.create(minute="0", hour="4", timezone="Asia/Kolkata")
    PeriodicTask.objects.create(
        name="retrain IN", task="recommendations.retrain_region", crontab=crontab, args='["IN"]'
    )
    operator = _staff("view_crontabschedule", "change_crontabschedule")
    url = f"/admin/django_celery_beat/crontabschedule/{crontab.pk}/change/"
    data = _as_opened(operator, url)
    data.update(minute="*", hour="*")

    # when: they make it fire every minute
    response = operator.post(url, data)

    # then: refused, with the reason on the page
    assert response.status_code == 200
    assert MAY_NOT in " ".join(response.context["adminform"].form.non_field_errors())
    crontab.refresh_from_db()
    assert (crontab.minute, crontab.hour) == ("0", "4")


def test_staff_who_may_retrain_may_still_do_all_of_it():
    nightly = _nightly()
    PeriodicTask.objects.filter(pk=nightly.pk).update(enabled=False)
    operator = _staff(*RETRAINS_TOO, "change_trainingrun")
    soon = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)

    enabled = operator.post(LIST_URL, {"action": "enable_tasks", "_selected_action": [nightly.pk]})
    data = _as_opened(operator, _change_url(nightly))
    data["interval"] = str(soon.pk)
    edited = operator.post(_change_url(nightly), data)
    data = _as_opened(operator, f"{LIST_URL}add/")
    data.update(
        name="mine", regtask="recommendations.retrain_region", args='["IN"]', interval=str(soon.pk)
    )
    added = operator.post(f"{LIST_URL}add/", data)

    assert (enabled.status_code, edited.status_code, added.status_code) == (302, 302, 302)
    nightly.refresh_from_db()
    assert (nightly.enabled, nightly.interval_id) == (True, soon.pk)
    assert PeriodicTask.objects.filter(name="mine").exists()


def test_staff_who_may_not_retrain_still_edit_and_run_other_schedules():
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.DAYS)
    cleanup = PeriodicTask.objects.create(
        name="backend cleanup", task="celery.backend_cleanup", interval=every, enabled=False
    )
    operator = _staff(*RETRAINS_TOO)

    enabled = operator.post(LIST_URL, {"action": "enable_tasks", "_selected_action": [cleanup.pk]})
    data = _as_opened(operator, _change_url(cleanup))
    data["description"] = "nightly"
    edited = operator.post(_change_url(cleanup), data)
    ran = operator.post(
        LIST_URL, {"action": "run_tasks", "_selected_action": [cleanup.pk]}, follow=True
    )

    assert (enabled.status_code, edited.status_code) == (302, 302)
    assert "successfully run" in _messages(ran)
    cleanup.refresh_from_db()
    assert (cleanup.enabled, cleanup.description) == (True, "nightly")


# --- Running the maintenance tasks through a schedule ----------------------------------------
#
# The prune deletes page logs, model versions (what "Roll back" serves again) and more; the
# reaper fails training runs. Staff who may only edit schedules must not start either.

PRUNE_DELETES = (
    "delete_pagelog",
    "delete_signal",
    "delete_modelversion",
    "delete_artworkvariantdaily",
    "delete_accesslog",  # the admin sign-in records past their keep (django-axes)
)
MAINTENANCE = [
    ("recommendations.prune_logs", PRUNE_DELETES, "delete permission on page logs"),
    ("recommendations.reap_training_runs", ("change_trainingrun",), MAY_NOT),
]


def _maintenance(task: str) -> PeriodicTask:
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.DAYS)
    return PeriodicTask.objects.create(name=f"nightly {task}", task=task, interval=every)


@pytest.mark.parametrize(("task", "needs", "said"), MAINTENANCE)
def test_staff_who_may_only_edit_schedules_cannot_run_a_maintenance_task(task, needs, said):
    # given: a maintenance task's schedule, and staff with every periodic task permission
    scheduled = _maintenance(task)
    PeriodicTask.objects.filter(pk=scheduled.pk).update(enabled=False)
    operator = _staff(*RETRAINS_TOO, "delete_periodictask")

    # when: they run it now, or enable it
    ran = operator.post(
        LIST_URL, {"action": "run_tasks", "_selected_action": [scheduled.pk]}, follow=True
    )
    enabled = operator.post(
        LIST_URL, {"action": "enable_tasks", "_selected_action": [scheduled.pk]}, follow=True
    )

    # then: refused, saying what it takes
    assert said in _messages(ran)
    assert "successfully run" not in _messages(ran)
    assert said in _messages(enabled)
    scheduled.refresh_from_db()
    assert scheduled.enabled is False


@pytest.mark.parametrize(("task", "needs", "said"), MAINTENANCE)
def test_staff_who_may_only_edit_schedules_cannot_add_a_maintenance_schedule(task, needs, said):
    operator = _staff(*RETRAINS_TOO)
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    data = _as_opened(operator, f"{LIST_URL}add/")
    data.update(name="mine", regtask=task, interval=str(every.pk), enabled="on")

    response = operator.post(f"{LIST_URL}add/", data)

    assert response.status_code == 200
    assert said in " ".join(response.context["adminform"].form.errors.get("regtask", []))
    assert not PeriodicTask.objects.filter(name="mine").exists()


def test_staff_who_may_not_prune_cannot_make_the_prunes_interval_fire_every_minute():
    scheduled = _maintenance("recommendations.prune_logs")
    operator = _staff("view_intervalschedule", "change_intervalschedule")
    url = f"/admin/django_celery_beat/intervalschedule/{scheduled.interval_id}/change/"
    data = _as_opened(operator, url)
    data.update(every="1", period=IntervalSchedule.MINUTES)

    response = operator.post(url, data)

    assert response.status_code == 200
    assert "delete permission on page logs" in " ".join(
        response.context["adminform"].form.non_field_errors()
    )


@pytest.mark.parametrize(("task", "needs", "said"), MAINTENANCE)
def test_staff_with_the_operations_permission_may_run_and_add_a_maintenance_task(task, needs, said):
    scheduled = _maintenance(task)
    operator = _staff(*RETRAINS_TOO, *needs)
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)

    ran = operator.post(
        LIST_URL, {"action": "run_tasks", "_selected_action": [scheduled.pk]}, follow=True
    )
    data = _as_opened(operator, f"{LIST_URL}add/")
    data.update(name="mine", regtask=task, interval=str(every.pk))
    added = operator.post(f"{LIST_URL}add/", data)

    assert "successfully run" in _messages(ran)
    assert said not in _messages(ran)
    assert added.status_code == 302
    assert PeriodicTask.objects.filter(name="mine").exists()


@pytest.mark.parametrize("missing", PRUNE_DELETES)
def test_staff_lacking_delete_on_any_table_the_prune_empties_may_not_run_it(missing):
    # the prune deletes rows of each of these tables (django-axes' sign-in records too):
    # staff who may not delete one of them may not delete it through a schedule either
    scheduled = _maintenance("recommendations.prune_logs")
    operator = _staff(*RETRAINS_TOO, *(code for code in PRUNE_DELETES if code != missing))

    ran = operator.post(
        LIST_URL, {"action": "run_tasks", "_selected_action": [scheduled.pk]}, follow=True
    )

    assert "delete permission on page logs" in _messages(ran)
    assert "successfully run" not in _messages(ran)


def test_a_canvas_task_asks_for_every_gate():
    # celery.chain can name the prune as well as a retrain: retrain permission alone is not it
    operator = _staff(*RETRAINS_TOO, "change_trainingrun")
    every = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    data = _as_opened(operator, f"{LIST_URL}add/")
    data.update(
        name="mine",
        regtask="celery.chain",
        kwargs='{"tasks": [{"task": "recommendations.prune_logs"}]}',
        interval=str(every.pk),
    )

    response = operator.post(f"{LIST_URL}add/", data)

    assert response.status_code == 200
    assert "delete permission on page logs" in " ".join(
        response.context["adminform"].form.errors.get("regtask", [])
    )


# --- Pausing the reaper ----------------------------------------------------------------------
#
# The reaper fails the runs a dead worker left "running" and the ones no worker took: paused,
# they stay as they are, and each blocks its cluster's next retrain. Pausing it is as much an
# operation on training runs as running it, and asks the same; staff who could pause it but
# not resume it could stop every retrain it unblocks and leave it to someone else.

REAPER = "recommendations.reap_training_runs"


@pytest.mark.parametrize("action", ["disable_tasks", "toggle_tasks"])
def test_staff_who_may_not_change_runs_cannot_pause_the_reaper(action):
    # given: the reaper, running, and staff with every periodic task permission only
    reaper = _maintenance(REAPER)
    operator = _staff(*RETRAINS_TOO, "delete_periodictask")

    # when: they pause it from the list
    response = operator.post(
        LIST_URL, {"action": action, "_selected_action": [reaper.pk]}, follow=True
    )

    # then: refused, saying what it takes, and it still runs
    said = _messages(response)
    assert MAY_NOT in said
    assert "may pause a periodic task of recommendations.reap_training_runs" in said
    reaper.refresh_from_db()
    assert reaper.enabled is True


def test_staff_who_may_not_change_runs_cannot_delete_the_reaper_from_the_list():
    reaper = _maintenance(REAPER)
    operator = _staff(*RETRAINS_TOO, "delete_periodictask")
    action = {"action": "delete_selected", "_selected_action": [reaper.pk]}

    page = operator.post(LIST_URL, action)
    response = operator.post(LIST_URL, {**action, "post": "yes"})

    assert "periodic task" in " ".join(map(str, page.context["perms_lacking"]))
    assert response.status_code == 403
    assert PeriodicTask.objects.filter(pk=reaper.pk).exists()


def test_staff_who_may_not_change_runs_cannot_delete_the_reaper_from_its_page():
    reaper = _maintenance(REAPER)
    operator = _staff(*RETRAINS_TOO, "delete_periodictask")

    response = operator.post(f"{LIST_URL}{reaper.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert PeriodicTask.objects.filter(pk=reaper.pk).exists()


def test_staff_who_may_not_change_runs_cannot_delete_the_reapers_interval():
    # a schedule's interval deleted takes the periodic tasks on it with it
    reaper = _maintenance(REAPER)
    operator = _staff("view_intervalschedule", "delete_intervalschedule", "delete_periodictask")
    url = f"/admin/django_celery_beat/intervalschedule/{reaper.interval_id}/delete/"

    response = operator.post(url, {"post": "yes"})

    assert response.status_code == 403
    assert PeriodicTask.objects.filter(pk=reaper.pk).exists()


@pytest.mark.parametrize(
    ("pause", "resume"), [("disable_tasks", "enable_tasks"), ("toggle_tasks", "toggle_tasks")]
)
def test_staff_who_may_change_runs_pause_the_reaper_and_resume_it(pause, resume):
    reaper = _maintenance(REAPER)
    operator = _staff(*RETRAINS_TOO, "change_trainingrun")

    paused = operator.post(LIST_URL, {"action": pause, "_selected_action": [reaper.pk]})
    reaper.refresh_from_db()
    was = reaper.enabled
    resumed = operator.post(LIST_URL, {"action": resume, "_selected_action": [reaper.pk]})

    assert (paused.status_code, resumed.status_code) == (302, 302)
    reaper.refresh_from_db()
    assert (was, reaper.enabled) == (False, True)


def test_staff_who_may_not_prune_still_pause_the_prune():
    # the prune paused deletes nothing: stopping it stays with the periodic task permissions
    prune = _maintenance("recommendations.prune_logs")
    operator = _staff(*RETRAINS_TOO)

    operator.post(LIST_URL, {"action": "disable_tasks", "_selected_action": [prune.pk]})

    prune.refresh_from_db()
    assert prune.enabled is False


def test_staff_who_may_not_change_runs_cannot_stop_the_reaper_by_changing_its_task():
    # given: the reaper, and staff who may edit schedules but not change runs
    reaper = _maintenance(REAPER)
    operator = _staff(*RETRAINS_TOO)
    data = _as_opened(operator, _change_url(reaper))

    # when: they make its schedule run an ungated task instead (the reaper stops as surely
    # as paused)
    data.update(regtask="", task="celery.backend_cleanup")
    response = operator.post(_change_url(reaper), data)

    # then: refused, saying what it takes, and the schedule still reaps
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "may stop a periodic task of recommendations.reap_training_runs" in " ".join(
        errors.get("task", [])
    )
    reaper.refresh_from_db()
    assert reaper.task == REAPER
