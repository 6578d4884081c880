"""Who may move, add or remove a region's nightly retrain through the region's pages in admin.

A region's retrain runs at 04:00 in its time zone, and a zone changed on the region's page
moves it (``recommendations.schedules.region_schedule_time_zone_move``). Moving a retrain's
schedule on the Periodic tasks pages takes change permission on periodic tasks and on
training runs; the region's page asked only for ``change_region``, so catalogue staff moved
retrains (to a zone where 04:00 is now, a retrain started) as a side effect. Adding a region
added its retrain (which the Periodic tasks pages allow only with add permission on periodic
tasks and change permission on training runs) and deleting one deleted it (delete permission
on periodic tasks) on ``add_region`` and ``delete_region`` alone.
"""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from regions.models import Region, TasteCluster
from regions.services import taste_cluster_default_set
from tests.factories import (
    LanguageFactory,
    ProfileFactory,
    RegionFactory,
    TasteClusterFactory,
)

pytestmark = pytest.mark.django_db

OPERATOR = ("view_region", "change_region", "change_periodictask", "change_trainingrun")
#: What adding a retrain's schedule takes on the Periodic tasks pages.
MAY_SCHEDULE = ("add_periodictask", "change_trainingrun")


def _staff(*codenames: str) -> Client:
    user = get_user_model().objects.create_user(
        f"staff-{'-'.join(codenames)}"[:150], password="pw-12345-xyz", is_staff=True
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


# --- Adding a region: its nightly retrain -------------------------------------------------

ADD_URL = "/admin/regions/region/add/"


def _add_region(client: Client, code: str) -> object:
    hindi = LanguageFactory(code="hi", name="Hindi")
    data = {
        "code": code,
        "name": f"Region {code}",
        "default_language": str(hindi.pk),
        "time_zone": "Asia/Kolkata",
        "taste_clusters-TOTAL_FORMS": "0",
        "taste_clusters-INITIAL_FORMS": "0",
        "taste_clusters-MIN_NUM_FORMS": "0",
        "taste_clusters-MAX_NUM_FORMS": "1000",
    }
    return client.post(ADD_URL, data, follow=True)


def _retrains() -> list[str]:
    return sorted(PeriodicTask.objects.values_list("name", flat=True))


def test_staff_who_may_only_add_regions_add_one_without_its_nightly_retrain(
    django_capture_on_commit_callbacks,
):
    # given: catalogue staff who may add regions, not schedule retrains
    editor = _staff("view_region", "add_region", "change_region")

    # when: they add a region
    with django_capture_on_commit_callbacks(execute=True):
        response = _add_region(editor, "IN")

    # then: the region is there, no retrain was scheduled, and the page says so and why
    assert Region.objects.filter(code="IN").exists()
    assert _retrains() == []
    said = _messages(response)
    assert "IN has no nightly retrain" in said
    assert "add permission on periodic tasks and change permission on training runs" in said


def test_staff_who_may_schedule_retrains_add_a_region_with_its_nightly_retrain(
    django_capture_on_commit_callbacks,
):
    operator = _staff("view_region", "add_region", "change_region", *MAY_SCHEDULE)

    with django_capture_on_commit_callbacks(execute=True):
        response = _add_region(operator, "IN")

    assert "no nightly retrain" not in _messages(response)
    assert _nightly("IN") == ("0", "4", "Asia/Kolkata")


def test_a_region_added_without_its_retrain_gets_it_when_staff_who_may_schedule_save_it(
    django_capture_on_commit_callbacks,
):
    # given: a region added by staff who may not schedule retrains, so without one
    editor = _staff("view_region", "add_region", "change_region")
    with django_capture_on_commit_callbacks(execute=True):
        _add_region(editor, "IN")

    # when: the editor saves it again, then an operator who may schedule retrains does
    with django_capture_on_commit_callbacks(execute=True):
        by_editor = _change_zone(editor, "IN", "Asia/Kolkata")
    after_editor = _retrains()
    operator = _staff("view_region", "change_region", *MAY_SCHEDULE)
    with django_capture_on_commit_callbacks(execute=True):
        by_operator = _change_zone(operator, "IN", "Asia/Kolkata")

    # then: the editor's save still leaves it without one, and says so; the operator's
    # installs it, at 04:00 in the region's zone
    assert after_editor == []
    assert "IN has no nightly retrain" in _messages(by_editor)
    assert _nightly("IN") == ("0", "4", "Asia/Kolkata")
    assert "retrain IN" in _messages(by_operator)


def test_an_operators_save_keeps_a_retrain_schedule_that_is_there(
    django_capture_on_commit_callbacks,
):
    # given: a region whose retrain an operator paused and moved to 02:00
    RegionFactory(code="IN", time_zone="Asia/Kolkata")
    call_command("install_schedules", stdout=StringIO())
    crontab = CrontabSchedule.objects.create(minute="0", hour="2", timezone="Asia/Kolkata")
    PeriodicTask.objects.filter(name="retrain IN").update(crontab=crontab, enabled=False)
    operator = _staff("view_region", "change_region", *MAY_SCHEDULE)

    # when: staff who may schedule retrains save the region
    with django_capture_on_commit_callbacks(execute=True):
        _change_zone(operator, "IN", "Asia/Kolkata")

    # then: the schedule is the operator's still
    task = PeriodicTask.objects.get(name="retrain IN")
    assert (task.enabled, task.crontab_id) == (False, crontab.pk)


# --- Deleting a region: its nightly retrain -----------------------------------------------


def _delete(client: Client, code: str) -> object:
    return client.post(f"/admin/regions/region/{code}/delete/", {"post": "yes"})


def test_staff_who_may_not_delete_schedules_cannot_delete_a_region_that_has_a_retrain():
    # given: a region with its nightly retrain, and staff who may delete regions only
    RegionFactory(code="IN", time_zone="Asia/Kolkata")
    call_command("install_schedules", stdout=StringIO())
    editor = _staff("view_region", "delete_region")

    # when: they open the region's deletion page, then confirm it
    page = editor.get("/admin/regions/region/IN/delete/")
    response = _delete(editor, "IN")

    # then: the page says they may not delete a periodic task, and the deletion is refused
    assert "periodic task" in " ".join(map(str, page.context["perms_lacking"]))
    assert response.status_code == 403
    assert Region.objects.filter(code="IN").exists()
    assert "retrain IN" in _retrains()


def test_staff_who_may_not_delete_schedules_cannot_delete_such_a_region_from_the_list():
    RegionFactory(code="IN", time_zone="Asia/Kolkata")
    call_command("install_schedules", stdout=StringIO())
    editor = _staff("view_region", "delete_region")
    action = {"action": "delete_selected", "_selected_action": ["IN"], "post": "yes"}

    response = editor.post("/admin/regions/region/", action)

    assert response.status_code == 403
    assert Region.objects.filter(code="IN").exists()
    assert "retrain IN" in _retrains()


def test_staff_who_may_delete_schedules_delete_a_region_and_its_retrain():
    RegionFactory(code="IN", time_zone="Asia/Kolkata")
    call_command("install_schedules", stdout=StringIO())
    operator = _staff("view_region", "delete_region", "delete_periodictask")

    page = operator.get("/admin/regions/region/IN/delete/")
    response = _delete(operator, "IN")

    assert "retrain IN" in page.content.decode()
    assert response.status_code == 302
    assert not Region.objects.filter(code="IN").exists()
    assert "retrain IN" not in _retrains()


def test_staff_who_may_only_delete_regions_delete_one_that_has_no_retrain():
    RegionFactory(code="IN", time_zone="Asia/Kolkata")
    editor = _staff("view_region", "delete_region")

    response = _delete(editor, "IN")

    assert response.status_code == 302
    assert not Region.objects.filter(code="IN").exists()


def test_a_taste_clusters_region_is_shown_but_not_editable_on_its_page():
    # given: India's Tamil community, with an Indian household's profile in it
    india = RegionFactory(code="IN")
    usa = RegionFactory(code="US")
    TasteClusterFactory(region=india, slug="everyone", name="Everyone", is_default=True)
    cluster = TasteClusterFactory(region=india, slug="tamil", name="Tamil")
    ProfileFactory(account__home_region=india, taste_cluster=cluster)
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-12345-xyz"))
    url = f"/admin/regions/tastecluster/{cluster.pk}/change/"

    # when: staff post the United States as its region with a new name
    page = client.get(url)
    form = page.context["adminform"].form
    data = {name: str(form[name].value() or "") for name in ("region", "slug", "name")}
    data.update(
        name="Tamil viewers",
        region=usa.pk,
        **{
            "localizations-TOTAL_FORMS": "0",
            "localizations-INITIAL_FORMS": "0",
            "localizations-MIN_NUM_FORMS": "0",
            "localizations-MAX_NUM_FORMS": "1000",
        },
    )
    response = client.post(url, data)

    # then: the page shows the region and lets no one change it; the rename is saved, the
    # region stays India's, whose households its profiles are
    assert form.fields["region"].disabled
    assert "India" in page.content.decode()
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert (cluster.name, cluster.region_id) == ("Tamil viewers", "IN")


def test_a_taste_cluster_is_added_in_the_region_staff_choose():
    RegionFactory(code="IN")
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-12345-xyz"))

    assert (
        "region" in client.get("/admin/regions/tastecluster/add/").context["adminform"].form.fields
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"slug": "hindi"}, "Taste cluster with this Region and Slug already exists."),
        ({"is_default": "on"}, "This region already has a default cluster."),
    ],
    ids=["slug", "default"],
)
def test_a_taste_clusters_page_refuses_what_its_regions_constraints_refuse(change, message):
    # given: India's default community and two more; the region is no field of their pages,
    # and Django checks no constraint that names a field its form lacks
    india = RegionFactory(code="IN")
    TasteClusterFactory(region=india, slug="default", name="Everyone", is_default=True)
    TasteClusterFactory(region=india, slug="hindi", name="Hindi")
    tamil = TasteClusterFactory(region=india, slug="tamil", name="Tamil")
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-12345-xyz"))
    url = f"/admin/regions/tastecluster/{tamil.pk}/change/"

    # when: staff give Tamil Hindi's slug, or make it India's default too
    response = client.post(
        url,
        {
            "slug": "tamil",
            "name": "Tamil",
            **change,
            "localizations-TOTAL_FORMS": "0",
            "localizations-INITIAL_FORMS": "0",
            "localizations-MIN_NUM_FORMS": "0",
            "localizations-MAX_NUM_FORMS": "1000",
        },
    )

    # then: the page says why, as the add page does, rather than a server error
    assert response.status_code == 200
    assert message in response.context["adminform"].form.non_field_errors()
    tamil.refresh_from_db()
    assert (tamil.slug, tamil.is_default) == ("tamil", False)


def _clusters_posted(region: Region, defaults: set[str]) -> dict[str, str]:
    """The region's page as posted with its clusters, ``defaults`` ticked as its defaults."""
    clusters = list(region.taste_clusters.order_by("-is_default", "slug"))
    data = {
        "code": region.code,
        "name": region.name,
        "default_language": str(region.default_language_id),
        "time_zone": region.time_zone,
        "taste_clusters-TOTAL_FORMS": str(len(clusters)),
        "taste_clusters-INITIAL_FORMS": str(len(clusters)),
        "taste_clusters-MIN_NUM_FORMS": "0",
        "taste_clusters-MAX_NUM_FORMS": "1000",
    }
    for i, cluster in enumerate(clusters):
        prefix = f"taste_clusters-{i}-"
        data.update(
            {
                f"{prefix}id": str(cluster.pk),
                f"{prefix}region": region.code,
                f"{prefix}name": cluster.name,
                f"{prefix}slug": cluster.slug,
            }
        )
        if cluster.slug in defaults:
            data[f"{prefix}is_default"] = "on"
    return data


def test_a_regions_page_refuses_two_default_clusters():
    # given: India's default community and its Tamil one, on India's page
    india = RegionFactory(code="IN")
    TasteClusterFactory(region=india, slug="default", name="Everyone", is_default=True)
    TasteClusterFactory(region=india, slug="tamil", name="Tamil")
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-12345-xyz"))

    # when: staff tick Tamil as a default too
    response = client.post(
        "/admin/regions/region/IN/change/", _clusters_posted(india, {"default", "tamil"})
    )

    # then: the page says why (the inline's forms check no constraint naming their region,
    # so it reached the database as a server error)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert "A region has one default taste cluster" in str(formset.non_form_errors())
    assert list(india.taste_clusters.filter(is_default=True).values_list("slug", flat=True)) == [
        "default"
    ]


def test_a_regions_page_moves_its_default_cluster_in_one_save():
    india = RegionFactory(code="IN")
    TasteClusterFactory(region=india, slug="default", name="Everyone", is_default=True)
    TasteClusterFactory(region=india, slug="tamil", name="Tamil")
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-12345-xyz"))

    response = client.post("/admin/regions/region/IN/change/", _clusters_posted(india, {"tamil"}))

    assert response.status_code == 302
    assert list(india.taste_clusters.filter(is_default=True).values_list("slug", flat=True)) == [
        "tamil"
    ]


def _superuser() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-12345-xyz"))
    return client


def _india_with_default() -> Region:
    india = RegionFactory(code="IN")
    TasteClusterFactory(region=india, slug="default", name="Everyone", is_default=True)
    TasteClusterFactory(region=india, slug="tamil", name="Tamil")
    return india


def _india_defaults() -> list[str]:
    return list(
        TasteCluster.objects.filter(region_id="IN", is_default=True).values_list("slug", flat=True)
    )


def test_a_regions_page_refuses_to_leave_it_without_a_default_cluster():
    # given: India's default community and its Tamil one, on India's page
    india = _india_with_default()
    client = _superuser()
    unticked = _clusters_posted(india, set())
    deleted = {**_clusters_posted(india, {"default"}), "taste_clusters-0-DELETE": "on"}

    # when: staff untick the default, or delete it, and tick no other
    responses = [
        client.post("/admin/regions/region/IN/change/", data) for data in (unticked, deleted)
    ]

    # then: the page says what to do, rather than leave the first cluster catching everyone
    for response in responses:
        assert response.status_code == 200
        formset = response.context["inline_admin_formsets"][0].formset
        assert "tick “is default” on one" in str(formset.non_form_errors())
    assert _india_defaults() == ["default"]
    assert TasteCluster.objects.filter(region_id="IN").count() == 2


def test_a_regions_page_deletes_its_default_cluster_when_another_is_ticked_in_the_same_save():
    india = _india_with_default()

    response = _superuser().post(
        "/admin/regions/region/IN/change/",
        {**_clusters_posted(india, {"tamil"}), "taste_clusters-0-DELETE": "on"},
    )

    assert response.status_code == 302
    assert _india_defaults() == ["tamil"]
    assert list(TasteCluster.objects.values_list("slug", flat=True)) == ["tamil"]


def test_a_regions_page_ticks_the_first_of_its_first_clusters_saved_without_a_default():
    # given: India, no cluster yet, and its page adding two with "is default" unticked
    india = RegionFactory(code="IN")
    data = _clusters_posted(india, set())
    data["taste_clusters-TOTAL_FORMS"] = "2"
    for i, (name, slug) in enumerate((("Tamil", "tamil"), ("Hindi", "hindi"))):
        data.update(
            {
                f"taste_clusters-{i}-region": "IN",
                f"taste_clusters-{i}-name": name,
                f"taste_clusters-{i}-slug": slug,
            }
        )

    # when
    response = _superuser().post("/admin/regions/region/IN/change/", data, follow=True)

    # then: saved, the first of them the default, as the model makes a region's first
    # cluster, and the page says so
    assert response.redirect_chain
    assert _india_defaults() == ["tamil"]
    assert TasteCluster.objects.filter(region_id="IN").count() == 2
    assert "“Tamil” is IN's first taste cluster" in _messages(response)


def test_a_regions_page_still_refuses_a_keyed_cluster_where_clusters_have_no_default():
    # given: a region an older write left with a cluster and no default
    india = RegionFactory(code="IN")
    TasteCluster.objects.bulk_create([TasteCluster(region=india, slug="hindi", name="Hindi")])
    data = _clusters_posted(india, set())
    data.update(
        {
            "taste_clusters-TOTAL_FORMS": "2",
            "taste_clusters-1-region": "IN",
            "taste_clusters-1-name": "Tamil",
            "taste_clusters-1-slug": "tamil",
        }
    )

    response = _superuser().post("/admin/regions/region/IN/change/", data)

    # then: which of them is to catch everyone is staff's call
    assert response.status_code == 200
    assert "tick “is default” on one" in str(
        response.context["inline_admin_formsets"][0].formset.non_form_errors()
    )
    assert TasteCluster.objects.filter(region_id="IN").count() == 1


def _cluster_posted(cluster: TasteCluster, **changes: str) -> dict[str, str]:
    data = {
        "slug": cluster.slug,
        "name": cluster.name,
        "localizations-TOTAL_FORMS": "0",
        "localizations-INITIAL_FORMS": "0",
        "localizations-MIN_NUM_FORMS": "0",
        "localizations-MAX_NUM_FORMS": "1000",
    }
    if cluster.is_default:
        data["is_default"] = "on"
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def test_a_default_clusters_page_refuses_to_untick_it():
    _india_with_default()
    default = TasteCluster.objects.get(slug="default")

    response = _superuser().post(
        f"/admin/regions/tastecluster/{default.pk}/change/",
        _cluster_posted(default, is_default=None),
    )

    assert response.status_code == 200
    assert "tick another cluster" in str(response.context["adminform"].form.errors["is_default"])
    assert _india_defaults() == ["default"]


def test_a_regions_first_cluster_added_unticked_is_made_its_default_and_staff_are_told():
    RegionFactory(code="IN")
    data = {
        "region": "IN",
        "slug": "tamil",
        "name": "Tamil",
        "localizations-TOTAL_FORMS": "0",
        "localizations-INITIAL_FORMS": "0",
        "localizations-MIN_NUM_FORMS": "0",
        "localizations-MAX_NUM_FORMS": "1000",
    }

    response = _superuser().post("/admin/regions/tastecluster/add/", data, follow=True)

    assert response.redirect_chain
    assert _india_defaults() == ["tamil"]
    assert "“Tamil” is IN's first taste cluster" in _messages(response)


def test_a_cluster_added_to_a_region_without_a_default_is_refused_unless_it_is_the_default():
    # given: a region an older write left with a cluster and no default
    india = RegionFactory(code="IN")
    TasteCluster.objects.bulk_create([TasteCluster(region=india, slug="hindi", name="Hindi")])
    client = _superuser()
    data = {
        "region": "IN",
        "slug": "tamil",
        "name": "Tamil",
        "localizations-TOTAL_FORMS": "0",
        "localizations-INITIAL_FORMS": "0",
        "localizations-MIN_NUM_FORMS": "0",
        "localizations-MAX_NUM_FORMS": "1000",
    }

    refused = client.post("/admin/regions/tastecluster/add/", data)
    added = client.post("/admin/regions/tastecluster/add/", {**data, "is_default": "on"})

    assert refused.status_code == 200
    assert "no default" in str(refused.context["adminform"].form.errors["is_default"])
    assert added.status_code == 302
    assert _india_defaults() == ["tamil"]
    assert list(
        TasteCluster.objects.filter(region_id="IN", is_default=False).values_list("slug", flat=True)
    ) == ["hindi"]


@pytest.mark.parametrize("how", ["page", "action"])
def test_a_default_cluster_is_not_deleted_in_admin_while_its_region_has_others(how):
    # given: India's default community and its Tamil one
    _india_with_default()
    default = TasteCluster.objects.get(slug="default")
    client = _superuser()

    # when: staff confirm its deletion, on its delete page or with "Delete selected"
    if how == "page":
        url = f"/admin/regions/tastecluster/{default.pk}/delete/"
        data = {"post": "yes"}
    else:
        url = "/admin/regions/tastecluster/"
        data = {"action": "delete_selected", "_selected_action": [default.pk], "post": "yes"}
    response = client.post(url, data)

    # then: the page names the cluster it would leave without a default, and what to do,
    # rather than a server error; nothing is deleted
    assert response.status_code == 200
    page = response.content.decode()
    assert "IN-Tamil" in page
    assert "tick another cluster" in page
    assert _india_defaults() == ["default"]


def test_a_regions_page_deletes_all_its_clusters_in_one_save():
    # given: India's default community and its Tamil one, on India's page
    india = _india_with_default()
    data = _clusters_posted(india, {"default"})

    # when: staff delete both (the default is listed, and so deleted, first)
    response = _superuser().post(
        "/admin/regions/region/IN/change/",
        {**data, "taste_clusters-0-DELETE": "on", "taste_clusters-1-DELETE": "on"},
    )

    # then: the region has no cluster left, as a region deleted with them would not either
    # (the deletion receiver allows it), rather than a server error on the first deletion
    assert response.status_code == 302
    assert not TasteCluster.objects.filter(region_id="IN").exists()


def test_a_regions_page_moves_the_default_to_the_cluster_ticked_there_whatever_moved_it_since():
    # given: India's page, shown while its default was Everyone (listed first), on which
    # staff tick Hindi; meanwhile another staff member made Tamil (listed last) the default
    india = _india_with_default()
    TasteClusterFactory(region=india, slug="hindi", name="Hindi")
    data = _clusters_posted(india, {"hindi"})
    taste_cluster_default_set(cluster=TasteCluster.objects.get(slug="tamil"))

    # when: the page is saved
    response = _superuser().post("/admin/regions/region/IN/change/", data)

    # then: Hindi is the default, as the page said; Tamil, unticked there and saved after
    # Hindi, took the default back (its save ticked, to keep the region one until the
    # new one was saved), and the page said it was saved
    assert response.status_code == 302
    assert _india_defaults() == ["hindi"]
