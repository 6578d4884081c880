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
from django.contrib.admin.models import LogEntry
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
    assert HOUSEHOLD not in shown
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


# A row's own pages, each with the permission that opens it besides viewing the row.
OWN_PAGES = [("change", None), ("history", None), ("delete", "delete")]


def own_page(
    user_model: type[Model], model: type[Model], view: str, extra: str | None, *codenames: str
) -> str:
    """A token's or profile's own page, as staff who may view its model and ``codenames``
    (and ``extra`` on its model: delete) read it."""
    opts = model._meta
    permissions = [f"{opts.app_label}.view_{opts.model_name}", *codenames]
    if extra:
        permissions.append(f"{opts.app_label}.{extra}_{opts.model_name}")
    row = model._default_manager.get()
    client = Client()
    client.force_login(_staff_with(user_model, permissions))
    response = client.get(admin_url(model, view, quote(row.pk)))
    assert response.status_code == 200, (view, response.status_code)
    return response.content.decode()


def _staff_with(user_model: type[Model], codenames: list[str]) -> Model:
    user = user_model.objects.create_user(username=f"staff-{uuid.uuid4().hex[:8]}", is_staff=True)
    for codename in codenames:
        app_label, name = codename.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=name)
        )
    return user


@pytest.mark.parametrize(("view", "extra"), OWN_PAGES)
@pytest.mark.parametrize(("model", "permission"), HOUSEHOLD_ROWS)
def test_a_tokens_and_profiles_own_pages_name_no_household_to_staff_who_may_not_view_it(
    django_user_model,
    profile: Profile,
    model: type[Model],
    permission: str,
    view: str,
    extra: str | None,
) -> None:
    """Their heading, <title>, breadcrumb and the delete confirmation's question are the
    row's own name, which named its household ("Priya (The Sharmas)")."""
    page = own_page(django_user_model, model, view, extra)

    assert HOUSEHOLD not in page, view
    assert f"(household #{profile.account_id})" in page, view


@pytest.mark.parametrize(("view", "extra"), OWN_PAGES)
@pytest.mark.parametrize(("model", "permission"), HOUSEHOLD_ROWS)
def test_a_tokens_and_profiles_own_pages_name_the_household_to_staff_who_may_view_it(
    django_user_model,
    profile: Profile,
    model: type[Model],
    permission: str,
    view: str,
    extra: str | None,
) -> None:
    page = own_page(django_user_model, model, view, extra, "accounts.view_account")

    assert f"({HOUSEHOLD})" in page, view
    assert f"household #{profile.account_id}" not in page, view


def test_a_profile_saved_by_staff_who_may_not_view_households_is_announced_by_ids(
    django_user_model, profile: Profile
) -> None:
    client = staff_client(django_user_model, "profiles.change_profile")
    url = admin_url(Profile, "change", profile.pk)
    data = {**form_data(client.get(url)), "name": "Renamed"}

    saved = client.post(url, data, follow=True).content.decode()

    assert f"Renamed (household #{profile.account_id})" in saved
    assert HOUSEHOLD not in saved


# A deleter of profiles who may not view households: a profile's signals, title states and
# logged pages go with it.
PROFILE_DELETER = (
    "profiles.delete_profile",
    "recommendations.delete_signal",
    "recommendations.delete_profiletitlestate",
    "recommendations.delete_pagelog",
)


def household_history_after_a_profile_renamed(admin_client: Client, profile: Profile) -> str:
    """The household's history url, once a superuser renamed its profile on its page."""
    household_page = admin_url(type(profile.account), "change", profile.account_id)
    data = form_data(admin_client.get(household_page))
    data["profiles-0-name"] = "Priya renamed"
    assert admin_client.post(household_page, data).status_code == 302
    return admin_url(type(profile.account), "history", profile.account_id)


def test_a_profile_deleted_by_staff_who_may_not_view_households_leaves_no_name_in_history(
    django_user_model, admin_client: Client, profile: Profile
) -> None:
    """The household's history named the profile ("Changed name for profile “Priya (The
    Sharmas)”"), which its deletion replaces by its id, whoever deletes it: its own pages
    naming it by ids to the deleter must not hide the name the history holds."""
    household_history_after_a_profile_renamed(admin_client, profile)
    assert LogEntry.objects.filter(change_message__contains="Priya renamed").exists()
    client = staff_client(django_user_model, *PROFILE_DELETER)

    deleted = client.post(admin_url(Profile, "delete", profile.pk), {"post": "yes"})

    assert deleted.status_code == 302
    assert not Profile.objects.filter(pk=profile.pk).exists()
    logged = list(LogEntry.objects.values_list("object_repr", "change_message"))
    assert not [entry for entry in logged if "Priya renamed" in str(entry)], logged
    assert not [message for _, message in logged if HOUSEHOLD in message], logged


def test_profiles_deleted_by_the_list_action_are_named_by_ids_and_forgotten(
    django_user_model, admin_client: Client, profile: Profile
) -> None:
    """ "Delete selected": its confirmation named each profile's household; deleted, the
    household's history must still lose the profile's name."""
    household_history_after_a_profile_renamed(admin_client, profile)
    client = staff_client(django_user_model, "profiles.view_profile", *PROFILE_DELETER)
    selected = {"action": "delete_selected", "_selected_action": [profile.pk]}

    confirmation = client.post(admin_url(Profile, "changelist"), selected).content.decode()
    deleted = client.post(admin_url(Profile, "changelist"), {**selected, "post": "yes"})

    assert HOUSEHOLD not in confirmation
    assert f"(household #{profile.account_id})" in confirmation
    assert deleted.status_code == 302
    assert not Profile.objects.filter(pk=profile.pk).exists()
    messages = LogEntry.objects.values_list("change_message", flat=True)
    assert not [message for message in messages if "Priya renamed" in message]


def test_a_households_history_names_no_profile_to_staff_who_may_not_view_profiles(
    django_user_model, admin_client: Client, profile: Profile
) -> None:
    """Its page shows them no profile rows; its history named them ("Changed name for
    profile “Priya (The Sharmas)”")."""
    url = household_history_after_a_profile_renamed(admin_client, profile)
    client = staff_client(django_user_model, "accounts.view_account")

    page = client.get(url).content.decode()

    assert "Priya renamed" not in page
    assert f"profile #{profile.pk}" in page


def test_a_households_history_names_a_profile_renamed_since_by_nothing_to_such_staff(
    django_user_model, admin_client: Client, profile: Profile
) -> None:
    url = household_history_after_a_profile_renamed(admin_client, profile)
    Profile.objects.filter(pk=profile.pk).update(name="Priya again")
    client = staff_client(django_user_model, "accounts.view_account")

    page = client.get(url).content.decode()

    assert "Priya renamed" not in page
    assert "(name not shown)" in page


def test_a_households_history_names_its_profiles_to_staff_who_may_view_profiles(
    django_user_model, admin_client: Client, profile: Profile
) -> None:
    url = household_history_after_a_profile_renamed(admin_client, profile)
    client = staff_client(django_user_model, "accounts.view_account", "profiles.view_profile")

    page = client.get(url).content.decode()

    assert f"Priya renamed ({HOUSEHOLD})" in page


@pytest.mark.parametrize(
    ("model", "permission", "help_text"),
    [
        (ApiToken, "accounts.view_apitoken", "The key's first characters or the token's name."),
        (
            Profile,
            "profiles.view_profile",
            "Profile name, the household's id (#12, as the list shows it), or an exact "
            "external id.",
        ),
    ],
)
def test_a_lists_search_help_names_only_what_it_searches_for_staff_who_may_not_view_households(
    django_user_model, profile: Profile, model: type[Model], permission: str, help_text: str
) -> None:
    narrow = staff_client(django_user_model, permission)
    wide = Client()
    wide.force_login(_staff_with(django_user_model, [permission, "accounts.view_account"]))

    narrow_help = narrow.get(admin_url(model, "changelist")).context["cl"].search_help_text
    wide_help = wide.get(admin_url(model, "changelist")).context["cl"].search_help_text

    assert narrow_help == help_text
    assert "household's name" in wide_help or "household name" in wide_help


def test_the_profile_list_orders_by_household_id_for_staff_who_may_not_view_households(
    django_user_model,
) -> None:
    """By name, the order said which household's name comes first in the alphabet."""
    first = ProfileFactory(account__name="Zed family")
    second = ProfileFactory(account__name="Abel family")
    assert first.account_id < second.account_id
    narrow = staff_client(django_user_model, "profiles.view_profile")
    wide = Client()
    wide.force_login(
        _staff_with(django_user_model, ["profiles.view_profile", "accounts.view_account"])
    )

    narrow_rows = list(narrow.get(admin_url(Profile, "changelist")).context["cl"].result_list)
    wide_rows = list(wide.get(admin_url(Profile, "changelist")).context["cl"].result_list)

    assert narrow_rows == [first, second]
    assert wide_rows == [second, first]


@pytest.mark.parametrize(("model", "permission"), HOUSEHOLD_ROWS)
def test_the_account_column_sorts_by_household_id_for_staff_who_may_not_view_households(
    django_user_model, model: type[Model], permission: str
) -> None:
    """Sorting by the column ordered rows by the households' names (their model's order)."""
    first = ProfileFactory(account__name="Zed family")
    second = ProfileFactory(account__name="Abel family")
    for profile in (first, second):
        api_token_create(account=profile.account, name="TV")
    narrow = staff_client(django_user_model, permission)
    changelist = narrow.get(admin_url(model, "changelist")).context["cl"]
    index = next(
        i
        for i, column in enumerate(changelist.list_display)
        if getattr(column, "short_description", column) == "account"
    )

    rows = narrow.get(admin_url(model, "changelist"), {"o": str(index)}).context["cl"].result_list

    assert [row.account_id for row in rows] == [first.account_id, second.account_id]


def test_staff_who_may_add_profiles_but_not_view_households_add_one_by_the_households_id(
    django_user_model, profile
):
    # given: the profile add page, whose household picker asks view on households (a 403
    # for these staff), so that they could pick no household at all
    client = staff_client(django_user_model, "profiles.add_profile", "profiles.view_profile")
    url = admin_url(Profile, "add")
    page = client.get(url)
    household = profile.account
    assert page.status_code == 200
    assert HOUSEHOLD not in page.content.decode()
    assert "admin-autocomplete" not in str(page.context["adminform"].form["account"])

    # when: they give a household's id, as the profile list shows it, then one no household has
    data = {**form_data(page), "name": "Guest", "maturity_limit": "18"}
    added = client.post(url, {**data, "account": str(household.pk)}, follow=True)
    refused = [
        client.post(url, {**data, "name": "Other", "account": account})
        for account in (str(household.pk + 1000), "9" * 30, "#12")
    ]

    # then: added to that household, the page naming it by its id alone
    assert added.redirect_chain
    assert household.profiles.filter(name="Guest").exists()
    said = " ".join(str(message) for message in added.context["messages"])
    assert f"Guest (household #{household.pk})" in said
    assert HOUSEHOLD not in added.content.decode()
    for response in refused:
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["account"] == ["No household has this id."]
    assert HOUSEHOLD not in LogEntry.objects.get().object_repr
