"""Who may mint a household's API token in admin.

A token reads everything the household's devices can: its profiles' signals,
homepages and history over the API. Staff allowed only ``add_apitoken`` minted one
and so read a household the console (which asks for view permission on accounts,
profiles and signals) would not show them.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import ApiToken
from tests.factories import AccountFactory

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
