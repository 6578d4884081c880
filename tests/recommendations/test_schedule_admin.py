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
from django_celery_beat.models import IntervalSchedule, PeriodicTask

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
