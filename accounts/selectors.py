"""Which household a request acts for, and the households, tokens and users commands read."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from rest_framework import exceptions
from rest_framework.request import Request

from .authentication import AccountPrincipal
from .models import Account, ApiToken


def account_for_request(request: Request) -> Account:
    """The account whose token the request carries; anyone else is not authenticated.

    Only a token names a household. A signed-in person linked to one
    (``Account.users``) once acted as it here, past the console's permission
    gate; the household operations no longer read a session, and this refuses
    one too should a view come to read it.
    """
    user = request.user
    if isinstance(user, AccountPrincipal):
        return user.account
    raise exceptions.NotAuthenticated()


def account_get_by_name(*, name: str) -> Account | None:
    """The oldest household of that name, if any (names are not unique)."""
    return Account.objects.filter(name=name).order_by("pk").first()


def api_token_list_live(*, account: Account, name: str) -> list[ApiToken]:
    """The account's unrevoked tokens of that name: what replacing a named token revokes."""
    return list(ApiToken.objects.filter(account=account, name=name, revoked_at=None))


def user_active_get(*, username: str) -> AbstractBaseUser | None:
    """The active user of that username, if any: a deactivated one cannot sign in."""
    return get_user_model().objects.filter(username=username, is_active=True).first()
