"""Token authentication that reads the URL's profile in the token's own statement."""

import functools

from django.db import connection
from rest_framework.request import Request

from accounts.authentication import (
    AccountTokenAuthentication,
    token_columns,
    token_from_row,
    token_statement,
)
from accounts.models import ApiToken

from .models import Profile
from .selectors import PREFETCHED_PROFILE, profile_columns, profile_from_row


@functools.cache
def _token_profile_sql() -> str:
    quote = connection.ops.quote_name
    # Only quoted identifiers of the models are interpolated. The join's condition keeps
    # another account's profile out: it reads as no profile, a 404.
    return token_statement(
        columns=f", {profile_columns()}",
        joins=(
            f"LEFT JOIN {quote(Profile._meta.db_table)} p ON p.{quote('id')} = %s "
            f"AND p.{quote('account_id')} = a.{quote('id')} "
        ),
    )


class ProfileTokenAuthentication(AccountTokenAuthentication):
    """The API's ``Token`` authentication; on ``/profiles/<id>/...`` it reads the profile too.

    The token, its account and region, and the URL's profile with its
    language codes are one statement: on the hot paths (homepage, signals,
    recommendations, unlock) a second round trip cost more than the profile's
    indexed lookup. Views take the profile with
    :func:`~profiles.selectors.profile_for_request`; access rules are the
    same (only the token's own account's profiles are found). Elsewhere it is
    :class:`~accounts.authentication.AccountTokenAuthentication`.
    """

    def token_read(self, *, key_hash: str, request: Request) -> ApiToken | None:
        profile_id = (request.parser_context or {}).get("kwargs", {}).get("profile_id")
        if not isinstance(profile_id, int):
            return super().token_read(key_hash=key_hash, request=request)
        with connection.cursor() as cursor:
            cursor.execute(_token_profile_sql(), [profile_id, key_hash])
            row = cursor.fetchone()
        if row is None:
            return None
        token = token_from_row(row)
        profile = profile_from_row(row, token_columns(), account=token.account)
        setattr(request, PREFETCHED_PROFILE, ((token.account.pk, profile_id), profile))
        return token
