"""Who may move a region's nightly retrain through the region's page in admin.

A region's retrain runs at 04:00 in its time zone, and a zone changed on the region's page
moves it (``recommendations.schedules.region_schedule_time_zone_move``). Moving a retrain's
schedule on the Periodic tasks pages takes change permission on periodic tasks and on
training runs; the region's page asked only for ``change_region``, so catalogue staff moved
retrains (to a zone where 04:00 is now, a retrain started) as a side effect.
"""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django_celery_beat.models import PeriodicTask

from tests.factories import RegionFactory

pytestmark = pytest.mark.django_db

OPERATOR = ("view_region", "change_region", "change_periodictask", "change_trainingrun")


def _staff(*codenames: str) -> Client:
    user = get_user_model().objects.create_user(
        f"staff-{len(codenames)}", password="pw-12345-xyz", is_staff=True
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def _nightly(code: str) -> tuple[str, str, str]:
    crontab = PeriodicTask.objects.get(name=f"retrain {code}").crontab
    return (crontab.minute, crontab.hour, str(crontab.timezone))


def _change_zone(client: Client, code: str, zone: str) -> object:
    url = f"/admin/regions/region/{code}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: str(form[name].value() or "") for name in form.fields}
    data.update(
        time_zone=zone,
        **{
            "taste_clusters-TOTAL_FORMS": "0",
            "taste_clusters-INITIAL_FORMS": "0",
            "taste_clusters-MIN_NUM_FORMS": "0",
            "taste_clusters-MAX_NUM_FORMS": "1000",
        },
    )
    return client.post(url, data, follow=True)


def _messages(response: object) -> str:
    return " ".join(str(message) for message in response.context["messages"])


def test_staff_who_may_only_change_regions_change_a_zone_but_not_the_retrains_time(
    django_capture_on_commit_callbacks,
):
    # given: a region and its nightly retrain at 04:00 in its zone
    region = RegionFactory(code="IN", time_zone="UTC")
    call_command("install_schedules", stdout=StringIO())
    editor = _staff("view_region", "change_region")

    # when: catalogue staff correct the zone on the region's page
    with django_capture_on_commit_callbacks(execute=True):
        response = _change_zone(editor, region.code, "Asia/Kolkata")

    # then: the zone is saved, the retrain stays where operators left it, and the page says so
    region.refresh_from_db()
    assert region.time_zone == "Asia/Kolkata"
    assert _nightly(region.code) == ("0", "4", "UTC")
    said = _messages(response)
    assert "retrain IN" in said
    assert "change permission on periodic tasks and on training runs" in said


def test_an_operator_who_changes_a_zone_moves_the_retrain_with_it(
    django_capture_on_commit_callbacks,
):
    region = RegionFactory(code="IN", time_zone="UTC")
    call_command("install_schedules", stdout=StringIO())
    operator = _staff(*OPERATOR)

    with django_capture_on_commit_callbacks(execute=True):
        response = _change_zone(operator, region.code, "Asia/Kolkata")

    assert response.status_code == 200
    assert _nightly(region.code) == ("0", "4", "Asia/Kolkata")
