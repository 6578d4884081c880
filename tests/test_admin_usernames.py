"""Users named on admin's pages only to staff who may view users (``config.admin_users``)."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import Account
from recommendations.models import TrainingRun
from tests.factories import AccountFactory, RegionFactory, TasteClusterFactory
from tests.test_admin import form_data

pytestmark = pytest.mark.django_db


def _staff(*codenames: str) -> Client:
    user = get_user_model().objects.create_user(f"staff-{len(codenames)}", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def named() -> tuple[Account, TrainingRun]:
    users = get_user_model().objects
    member = users.create_user("priya-member", "priya@example.net")
    operator = users.create_user("ravi-operator", is_staff=True)
    household = AccountFactory()
    household.users.add(member)
    india = RegionFactory(code="IN")
    run = TrainingRun.objects.create(
        region=india,
        taste_cluster=TasteClusterFactory(region=india, slug="everyone", is_default=True),
        requested_by=operator,
    )
    LogEntry.objects.log_actions(
        user_id=operator.pk, queryset=[run], action_flag=CHANGE, change_message="Looked."
    )
    return household, run


def _pages(household: Account, run: TrainingRun) -> list[str]:
    return [
        reverse("admin:accounts_account_change", args=[household.pk]),
        reverse("admin:recommendations_trainingrun_changelist"),
        reverse("admin:recommendations_trainingrun_change", args=[run.pk]),
        reverse("admin:recommendations_trainingrun_history", args=[run.pk]),
    ]


def test_staff_who_may_view_users_read_their_usernames(named):
    household, run = named
    client = _staff("view_account", "view_trainingrun", "view_user")

    pages = [client.get(url).content.decode() for url in _pages(household, run)]

    assert "priya-member" in pages[0]
    assert all("ravi-operator" in page for page in pages[1:])


def test_staff_who_may_not_view_users_read_their_ids(named):
    household, run = named
    member, operator = household.users.get(), run.requested_by
    client = _staff("view_account", "view_trainingrun")

    pages = [client.get(url).content.decode() for url in _pages(household, run)]

    assert f"user #{member.pk}" in pages[0]
    assert all(f"user #{operator.pk}" in page for page in pages[1:])
    assert not [page for page in pages if "priya" in page or "ravi-operator" in page]


def test_a_household_saved_by_staff_who_may_not_view_users_keeps_its_members(named):
    # given: staff who may change households, not view users, renaming one
    household, _ = named
    client = _staff("view_account", "change_account")
    url = reverse("admin:accounts_account_change", args=[household.pk])
    page = client.get(url)
    assert "users" not in page.context["adminform"].form.fields

    # when
    response = client.post(url, {**form_data(page), "name": "The Sharmas"})

    # then: saved, its members as they were
    assert response.status_code == 302
    household.refresh_from_db()
    assert household.name == "The Sharmas"
    assert list(household.users.values_list("username", flat=True)) == ["priya-member"]
