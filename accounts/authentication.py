"""Who calls the API: a household's device with its token, or staff signed in to admin.

Client apps authenticate as an account, not as a person: ``Authorization:
Token <key>``, on every household operation, and nothing else is read there.
A person's admin sign-in (Django's session) is read only by the staff
operations (:class:`StaffSessionAuthentication`).
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from config.db import RowReader
from regions.models import Region

from .models import Account, ApiToken, hash_token_key
from .token_usage import token_usage


@dataclass(frozen=True)
class AccountPrincipal:
    """Stands in for ``request.user`` when a household's device calls the API."""

    account: Account

    is_authenticated = True
    is_staff = False
    is_superuser = False
    is_anonymous = False

    @property
    def pk(self) -> str:
        return f"account:{self.account.pk}"

    def __str__(self) -> str:
        return f"account {self.account.pk}"


@functools.cache
def _token_readers() -> tuple[RowReader[ApiToken], RowReader[Account], RowReader[Region]]:
    return (
        RowReader(ApiToken, alias="t"),
        RowReader(Account, alias="a"),
        RowReader(Region, alias="r"),
    )


def token_statement(*, columns: str = "", joins: str = "") -> str:
    """The active-token lookup by ``key_hash`` (one parameter), with its account and region.

    ``columns`` (with a leading comma) and ``joins`` extend it, so that a hot
    endpoint can read what it needs in the same round trip
    (:class:`profiles.authentication.ProfileTokenAuthentication`); the token's
    columns come first, as :func:`token_from_row` reads them, and the joins'
    parameters come before ``key_hash``.
    """
    token, account, region = _token_readers()
    quote = connection.ops.quote_name
    # Only quoted identifiers of the models and the caller's fixed SQL are interpolated.
    return (
        f"SELECT {token.columns}, {account.columns}, {region.columns}{columns} "  # noqa: S608
        f"FROM {quote(ApiToken._meta.db_table)} t "
        f"JOIN {quote(Account._meta.db_table)} a ON a.{quote('id')} = t.{quote('account_id')} "
        f"JOIN {quote(Region._meta.db_table)} r "
        f"ON r.{quote('code')} = a.{quote('home_region_id')} {joins}"
        f"WHERE t.{quote('key_hash')} = %s AND t.{quote('revoked_at')} IS NULL"
    )


def token_columns() -> int:
    """How many columns of a :func:`token_statement` row come before the caller's own."""
    return sum(len(reader) for reader in _token_readers())


def token_from_row(row: Sequence[Any]) -> ApiToken:
    """The token of a :func:`token_statement` row, its account and region attached."""
    token_reader, account_reader, region_reader = _token_readers()
    token = token_reader.instance(row)
    account = account_reader.instance(row, len(token_reader))
    account.home_region = region_reader.instance(row, len(token_reader) + len(account_reader))
    token.account = account
    return token


@functools.cache
def _token_sql() -> str:
    return token_statement()


def active_token(*, key_hash: str) -> ApiToken | None:
    """The unrevoked token with this digest, its account and the account's region loaded.

    Every API request runs this, so it is one prepared statement rather than an
    ORM query: compiling the queryset took longer than the database's lookup.
    """
    with connection.cursor() as cursor:
        cursor.execute(_token_sql(), [key_hash])
        row = cursor.fetchone()
    return None if row is None else token_from_row(row)


class AccountTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[AccountPrincipal, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: use 'Authorization: Token <key>'."
            )
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token header.") from exc
        token = self.token_read(key_hash=hash_token_key(key), request=request)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        # Noted, not written: see accounts.token_usage for when it reaches the database.
        token_usage.note(token_pk=token.pk, stored=token.last_used_at, now=timezone.now())
        return AccountPrincipal(token.account), token

    def token_read(self, *, key_hash: str, request: Request) -> ApiToken | None:
        """The active token with this digest (:func:`active_token`); subclasses may read more."""
        return active_token(key_hash=key_hash)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """Staff signed in to admin, on the staff operations (``/api/v1/ops/``) only.

    Not the household operations: a person linked to a household
    (``Account.users``) who is signed in is staff (admin's form is the one
    sign-in, and it refuses anyone else), and acting as that household with the
    session read and changed its profiles and signals past the console's
    permission gate, and outlived the person's staff status. A household's
    credential is its token. DRF's check applies: every unsafe method needs
    the CSRF token, which the API docs page sends.
    """
