from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiToken, hash_token_key
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_issue_token_prints_only_a_working_key():
    account = AccountFactory()
    out = StringIO()

    call_command("issue_token", str(account.pk), stdout=out)

    key = out.getvalue().strip()
    assert "\n" not in key
    token = ApiToken.objects.get(account=account)
    assert token.key_hash == hash_token_key(key)
    assert key not in token.key_hash
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/profiles/").status_code == 200


def test_issue_token_for_an_unknown_account_says_so():
    with pytest.raises(CommandError, match="No account with id 999999"):
        call_command("issue_token", "999999")


def test_issue_token_with_a_name_too_long_says_so_and_issues_nothing():
    account = AccountFactory()

    with pytest.raises(CommandError, match="--name is 101 characters; a token's name holds 100"):
        call_command("issue_token", str(account.pk), "--name", "x" * 101, stdout=StringIO())

    assert not ApiToken.objects.filter(account=account).exists()
