"""The household, token and user reads that commands (``demo_info``) delegate to."""

import pytest
from django.contrib.auth import get_user_model

from accounts.selectors import account_get_by_name, api_token_list_live, user_active_get
from accounts.services import api_token_create, api_token_revoke
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_a_household_is_found_by_name_the_oldest_of_two_so_named():
    first = AccountFactory(name="The Sharmas (demo)")
    AccountFactory(name="The Sharmas (demo)")
    assert account_get_by_name(name="The Sharmas (demo)") == first
    assert account_get_by_name(name="The Guptas") is None


def test_the_oldest_household_of_a_name_is_found_after_it_was_changed():
    # given: two households of one name, the older one saved again since (PostgreSQL
    # writes the changed row after the other, so the name's order alone put it second)
    first = AccountFactory(name="The Sharmas (demo)")
    AccountFactory(name="The Sharmas (demo)")
    first.external_id = "moved"
    first.save()

    # then: the oldest, as demo_info names it (and revokes its "make demo" tokens)
    assert account_get_by_name(name="The Sharmas (demo)") == first


def test_the_live_tokens_of_a_name_leave_out_revoked_ones_other_names_and_other_households():
    # given: two live "make demo" tokens, a revoked one, another name, another household's
    account = AccountFactory()
    live = [api_token_create(account=account, name="make demo")[0] for _ in range(2)]
    revoked, _ = api_token_create(account=account, name="make demo")
    api_token_revoke(token=revoked)
    api_token_create(account=account, name="tv")
    api_token_create(account=AccountFactory(), name="make demo")

    # then
    found = api_token_list_live(account=account, name="make demo")
    assert sorted(token.pk for token in found) == sorted(token.pk for token in live)


def test_only_an_active_user_is_found():
    user = get_user_model().objects.create_user(username="admin", password="x")
    assert user_active_get(username="admin") == user
    user.is_active = False
    user.save()
    assert user_active_get(username="admin") is None
    assert user_active_get(username="nobody") is None
