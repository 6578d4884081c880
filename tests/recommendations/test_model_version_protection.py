"""A model version something depends on cannot be deleted: the active one of its scope, and
one a retrain still queued or running is judging. Refused whole, in admin too."""

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse

from recommendations.models import ModelVersion, TrainingRun
from recommendations.services.model_versions import ModelVersionsInUse, model_versions_delete
from recommendations.services.training import model_train
from tests.conftest import token_client
from tests.factories import TasteClusterFactory
from tests.module_world import module_world, the_module_world
from tests.recommendations.test_training import _fresh_serving, build_world  # noqa: F401

pytestmark = pytest.mark.django_db

# Built once for the module (tests/module_world.py), not for each of its tests.
_world = module_world(build_world, folder="world")


@pytest.fixture
def world(_world, settings, db):
    return the_module_world(settings, _world)


def homepage_status(profile) -> int:
    client = token_client(profile.account)
    return client.get(f"/api/v1/profiles/{profile.pk}/homepage/?device=tv").status_code


def admin_messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def test_the_admin_refuses_to_delete_the_version_that_serves_its_scope(world, admin_client):
    # given: the region's trained version serves its homepages
    older = model_train(region_code=world.region.code)
    active = model_train(region_code=world.region.code)
    fan = world.fans[0]
    assert homepage_status(fan) == 200

    # when: staff confirm its deletion on its delete page
    url = reverse("admin:recommendations_modelversion_delete", args=[active.pk])
    response = admin_client.post(url, {"post": "yes"})

    # then: refused, saying which version serves which scope; it still serves
    assert response.status_code == 302
    ((level, message),) = admin_messages(response)
    assert level == "error"
    assert f"#{active.pk}" in message
    assert f"region {world.region.code}" in message
    assert ModelVersion.objects.get(pk=active.pk).status == ModelVersion.Status.ACTIVE
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()
    assert homepage_status(fan) == 200

    # and the retired one is still deleted as before
    response = admin_client.post(
        reverse("admin:recommendations_modelversion_delete", args=[older.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not ModelVersion.objects.filter(pk=older.pk).exists()


def test_delete_selected_with_an_active_version_deletes_none_of_them(world, admin_client):
    # given: a retired version and the active one of the region, and the global active one
    retired = model_train(region_code=world.region.code)
    active = model_train(region_code=world.region.code)
    global_active = model_train(region_code=None)
    selected = [retired.pk, active.pk, global_active.pk]

    # when: all three are deleted at once
    response = admin_client.post(
        reverse("admin:recommendations_modelversion_changelist"),
        {"action": "delete_selected", "_selected_action": selected, "post": "yes"},
    )

    # then: none is, and the message names the active ones and their scopes
    assert response.status_code == 302
    ((level, message),) = admin_messages(response)
    assert level == "error"
    assert f"#{active.pk} (region {world.region.code})" in message
    assert f"#{global_active.pk} (global)" in message
    assert f"#{retired.pk}" not in message
    assert ModelVersion.objects.filter(pk__in=selected).count() == 3
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()
    assert homepage_status(world.fans[0]) == 200


def test_the_service_refuses_the_active_version_whoever_asks(world):
    active = model_train(region_code=world.region.code)

    with pytest.raises(ModelVersionsInUse, match=rf"#{active.pk} serves region"):
        model_versions_delete(versions=ModelVersion.objects.filter(pk=active.pk))

    assert ModelVersion.objects.filter(pk=active.pk).exists()


def test_a_version_a_running_retrain_is_judging_is_refused_until_the_run_ends(world):
    # given: a cluster's retrain, running, whose version is stored and awaits its gate
    cluster = TasteClusterFactory(region=world.region)
    run = TrainingRun.objects.create(
        region=world.region, taste_cluster=cluster, status=TrainingRun.Status.RUNNING
    )
    judged = ModelVersion.objects.create(
        scope=ModelVersion.Scope.CLUSTER,
        region=world.region,
        taste_cluster=cluster,
        status=ModelVersion.Status.READY,
        metrics={"retrain_runs": [run.pk]},
    )

    # when / then: deleting it is refused while the run may still judge (and activate) it
    with pytest.raises(ModelVersionsInUse, match=rf"#{judged.pk} .*run #{run.pk} is running"):
        model_versions_delete(versions=ModelVersion.objects.filter(pk=judged.pk))
    assert ModelVersion.objects.filter(pk=judged.pk).exists()

    # and once the run has ended, the version is deleted like any other
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.FAILED)
    assert model_versions_delete(versions=ModelVersion.objects.filter(pk=judged.pk)) == 1
