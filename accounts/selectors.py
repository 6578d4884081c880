"""Which household a request acts for."""

from rest_framework import exceptions
from rest_framework.request import Request

from .authentication import AccountPrincipal
from .models import Account


def account_for_request(request: Request) -> Account:
    """The account a request acts for: the token's, or a signed-in person's only household.

    A person linked to several households must use a token, which names one.
    """
    user = request.user
    if isinstance(user, AccountPrincipal):
        return user.account
    if user is None or not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    accounts = list(user.accounts.select_related("home_region")[:2])
    if len(accounts) != 1:
        raise exceptions.PermissionDenied(
            "This user is not linked to exactly one account; use that account's API token."
        )
    return accounts[0]
