"""Households and profiles are named in admin only to staff who may view them.

The audit's case: staff given one model (the signals, the logged pages, the API tokens, the
profiles) read every household's name, and the signals' readers every profile's, in that
model's list and on its pages, though admin refused them the households' and profiles' own
lists, and the console shows them only with view permission on both. Such staff read ids
(which the lists' searches take) instead; staff who may view them still read the names.
"""

import datetime as dt
import uuid

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Permission
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken
from accounts.services import api_token_create
from profiles.models import Profile
from recommendations.models import PageLog, ProfileTitleState, Signal
from tests.factories import ProfileFactory, SignalFactory, TitleFactory
from tests.test_admin import form_data

pytestmark = pytest.mark.django_db

HOUSEHOLD = "The Quietly-Named family"
PROFILE = "Quietly-Named Priya"


def admin_url(model: type[Model], view: str, *args: object) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def staff_client(django_user_model, *codenames: str) -> Client:
    """A signed-in staff member with exactly these ``app_label.codename`` permissions."""
    user = django_user_model.objects.create_user(username="narrow", is_staff=True)
    for codename in codenames:
        app_label, name = codename.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=name)
        )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def profile() -> Profile:
    """A household's profile with a signal, a title state, a logged page and a token."""
    profile = ProfileFactory(account__name=HOUSEHOLD, name=PROFILE)
    title = TitleFactory()
    SignalFactory(profile=profile, title=title)
    ProfileTitleState.objects.create(
        profile=profile, title=title, last_event_at=dt.datetime.now(dt.UTC)
    )
    PageLog.objects.create(
        id=uuid.uuid4(),
        profile=profile,
        generated_at=dt.datetime(2025, 5, 10, 20, tzinfo=dt.UTC),
        device="tv",
        region=profile.account.home_region_id,
        hour=20,
        weekday=5,
        rows=[],
        items=[],
    )
    api_token_create(account=profile.account, name="TV")
    return profile


# Each page of a model, with the permission that opens it.
ROWS_OF_A_PROFILE = [
    (Signal, "recommendations.view_signal"),
    (ProfileTitleState, "recommendations.view_profiletitlestate"),
    (PageLog, "recommendations.view_pagelog"),
]


def pages(model: type[Model]) -> list[str]:
    row = model._default_manager.get()
    return [admin_url(model, "changelist"), admin_url(model, "change", quote(row.pk))]


@pytest.mark.parametrize(("model", "permission"), ROWS_OF_A_PROFILE)
def test_a_profiles_rows_name_neither_profile_nor_household_to_staff_who_may_view_only_them(
    django_user_model, profile: Profile, model: type[Model], permission: str
) -> None:
    client = staff_client(django_user_model, permission)

    for url in pages(model):
        page = client.get(url).content.decode()

        assert HOUSEHOLD not in page, url
        assert PROFILE not in page, url
        assert f"profile #{profile.pk}" in page, url
        assert f"household #{profile.account_id}" in page, url


@pytest.mark.parametrize(("model", "permission"), ROWS_OF_A_PROFILE)
def test_a_profiles_rows_name_them_to_staff_who_may_view_households_and_profiles(
    django_user_model, profile: Profile, model: type[Model], permission: str
) -> None:
    client = staff_client(
        django_user_model, permission, "accounts.view_account", "profiles.view_profile"
    )

    for url in pages(model):
        page = client.get(url).content.decode()

        assert PROFILE in page, url
        assert HOUSEHOLD in page, url


@pytest.mark.parametrize(("model", "permission"), ROWS_OF_A_PROFILE)
def test_a_profiles_rows_name_the_profile_alone_to_staff_who_may_view_profiles_only(
    django_user_model, profile: Profile, model: type[Model], permission: str
) -> None:
    client = staff_client(django_user_model, permission, "profiles.view_profile")

    for url in pages(model):
        page = client.get(url).content.decode()

        assert PROFILE in page, url
        assert HOUSEHOLD not in page, url
        assert f"household #{profile.account_id}" in page, url


HOUSEHOLD_ROWS = [(ApiToken, "accounts.view_apitoken"), (Profile, "profiles.view_profile")]


@pytest.mark.parametrize(("model", "permission"), HOUSEHOLD_ROWS)
def test_a_households_tokens_and_profiles_name_it_only_to_staff_who_may_view_households(
    django_user_model, profile: Profile, model: type[Model], permission: str
) -> None:
    client = staff_client(django_user_model, permission)
    row = model._default_manager.get()

    listed = client.get(admin_url(model, "changelist")).content.decode()
    shown = client.get(admin_url(model, "change", quote(row.pk))).content.decode()

    assert HOUSEHOLD not in listed
    assert f"household #{profile.account_id}" in listed
    # The page's field; its heading and breadcrumb are the row's own name, which for these
    # two models includes the household's (the README's "What staff permissions show").
    assert f"household #{profile.account_id}" in shown


@pytest.mark.parametrize(("model", "permission"), HOUSEHOLD_ROWS)
def test_a_households_tokens_and_profiles_name_it_to_staff_who_may_view_households(
    django_user_model, profile: Profile, model: type[Model], permission: str
) -> None:
    client = staff_client(django_user_model, permission, "accounts.view_account")

    listed = client.get(admin_url(model, "changelist")).content.decode()

    assert HOUSEHOLD in listed


def test_staff_who_may_change_profiles_but_not_view_households_still_save_one(
    django_user_model, profile: Profile
) -> None:
    client = staff_client(django_user_model, "profiles.change_profile")
    url = admin_url(Profile, "change", profile.pk)
    opened = client.get(url)
    data = {**form_data(opened), "name": "Renamed"}

    response = client.post(url, data)

    assert f"household #{profile.account_id}" in opened.content.decode()
    assert response.status_code == 302, response.context["adminform"].form.errors
    profile.refresh_from_db()
    assert profile.name == "Renamed"


def test_staff_who_may_change_tokens_but_not_view_households_still_rename_one(
    django_user_model, profile: Profile
) -> None:
    client = staff_client(django_user_model, "accounts.change_apitoken")
    token = ApiToken.objects.get()
    url = admin_url(ApiToken, "change", token.pk)
    opened = client.get(url)

    response = client.post(url, {**form_data(opened), "name": "Kitchen TV"})

    assert f"household #{profile.account_id}" in opened.content.decode()
    assert response.status_code == 302
    token.refresh_from_db()
    assert (token.name, token.account_id) == ("Kitchen TV", profile.account_id)


@pytest.mark.parametrize(("model", "permission"), HOUSEHOLD_ROWS)
def test_a_households_name_finds_nothing_for_staff_who_may_not_view_households(
    django_user_model, profile: Profile, model: type[Model], permission: str
) -> None:
    """A search by the household's name (or a member's sign-in) was an oracle: its rows
    came back, saying which household ids bear a name the page no longer shows."""
    narrow = staff_client(django_user_model, permission)

    found = narrow.get(admin_url(model, "changelist"), {"q": "Quietly-Named family"})

    assert found.context["cl"].result_count == 0


@pytest.mark.parametrize(("model", "permission"), HOUSEHOLD_ROWS)
def test_a_households_name_finds_its_rows_for_staff_who_may_view_households(
    django_user_model, profile: Profile, model: type[Model], permission: str
) -> None:
    client = staff_client(django_user_model, permission, "accounts.view_account")

    found = client.get(admin_url(model, "changelist"), {"q": "Quietly-Named family"})

    assert found.context["cl"].result_count >= 1
