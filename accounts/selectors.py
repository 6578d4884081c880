"""Which household a request acts for."""

from rest_framework import exceptions
from rest_framework.request import Request

from .authentication import AccountPrincipal
from .models import Account


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
