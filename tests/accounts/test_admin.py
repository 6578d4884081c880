"""Who may mint a household's API token in admin, and what admin's history keeps of one.

A token reads everything the household's devices can: its profiles' signals,
homepages and history over the API. Staff allowed only ``add_apitoken`` minted one
and so read a household the console (which asks for view permission on accounts,
profiles and signals) would not show them.
"""

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import Account, ApiToken
from accounts.services import api_token_create
from profiles.services import profile_create
from tests.factories import AccountFactory
from tests.test_admin import form_data

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/accounts/apitoken/add/"
TOKENS = ("add_apitoken", "view_apitoken", "view_account")
HOUSEHOLD = ("view_profile", "view_signal")


def _staff(*codenames: str) -> Client:
    user = get_user_model().objects.create_user(
        "staff-" + "-".join(codenames)[:140], password="pw-12345-xyz", is_staff=True
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("missing", HOUSEHOLD)
def test_staff_who_may_not_see_a_household_cannot_mint_its_token(missing):
    # given: staff who may add tokens, but lack one of the console's household permissions
    account = AccountFactory()
    issuer = _staff(*TOKENS, *(c for c in HOUSEHOLD if c != missing))

    # when: they open the page and post a new token for the household
    page = issuer.get(ADD_URL)
    posted = issuer.post(ADD_URL, {"account": account.pk, "name": "mine"})

    # then: refused, and no key was made
    assert (page.status_code, posted.status_code) == (403, 403)
    assert not ApiToken.objects.filter(account=account).exists()


def test_staff_who_may_see_the_household_mint_its_token():
    account = AccountFactory()
    issuer = _staff(*TOKENS, *HOUSEHOLD)

    page = issuer.get(ADD_URL)
    posted = issuer.post(ADD_URL, {"account": account.pk, "name": "tv"}, follow=True)

    assert page.status_code == 200
    assert posted.status_code == 200
    assert ApiToken.objects.filter(account=account, name="tv").exists()
    assert "The new key is" in posted.content.decode()


def _history_mentioning(text: str) -> list[tuple[str, str]]:
    escaped = json.dumps(text)[1:-1]
    return [
        (entry.object_repr, entry.change_message)
        for entry in LogEntry.objects.all()
        if text in entry.object_repr or escaped in entry.change_message
    ]


@pytest.mark.parametrize("how", ["its delete page", "Delete selected"])
def test_a_token_deleted_on_its_own_leaves_no_household_name_in_admins_history(how):
    # given: a token staff renamed in admin, so that its history names its household
    superuser = get_user_model().objects.create_superuser("root", "r@example.com", None)
    staff = Client()
    staff.force_login(superuser)
    account = AccountFactory(name="The Okonkwos")
    token, _ = api_token_create(account=account, name="tv")
    url = reverse("admin:accounts_apitoken_change", args=[token.pk])
    assert staff.post(url, {**form_data(staff.get(url)), "name": "old tv"}).status_code == 302
    assert _history_mentioning("Okonkwos")

    # when: the token is deleted by itself, then its household
    if how == "its delete page":
        delete = reverse("admin:accounts_apitoken_delete", args=[token.pk])
        assert staff.post(delete, {"post": "yes"}).status_code == 302
    else:
        changelist = reverse("admin:accounts_apitoken_changelist")
        posted = {"action": "delete_selected", "_selected_action": [token.pk], "post": "yes"}
        assert staff.post(changelist, posted).status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    token_entries = LogEntry.objects.filter(content_type__model="apitoken", object_id=str(token.pk))
    assert {entry.object_repr for entry in token_entries} == {f"api token {token.pk} (deleted)"}
    delete_account = reverse("admin:accounts_account_delete", args=[account.pk])
    assert staff.post(delete_account, {"post": "yes"}).status_code == 302

    # then: no entry names the household; what was done to the token, and when, stays
    assert not Account.objects.filter(pk=account.pk).exists()
    assert _history_mentioning("Okonkwos") == []
    assert token_entries.count() == 2  # renamed, deleted


@pytest.mark.parametrize(
    "profiles", [("view_profile",), ("change_profile",), ("change_profile", "delete_profile")]
)
def test_staff_who_may_change_a_household_but_not_add_profiles_save_it(profiles):
    # given: a household with a profile, and staff who may change households and see its
    # profiles (the inline) but not add one; Django then allows the inline no new row
    account = AccountFactory(name="Before")
    profile_create(account=account, name="Asha")
    editor = _staff("view_account", "change_account", *profiles)
    url = f"/admin/accounts/account/{account.pk}/change/"

    # when: they rename the household, posting the page back as the browser would
    posted = editor.post(url, {**form_data(editor.get(url)), "name": "After"})

    # then: saved, the profile as it was
    assert posted.status_code == 302, posted.context["errors"]
    account.refresh_from_db()
    assert account.name == "After"
    assert list(account.profiles.values_list("name", flat=True)) == ["Asha"]
