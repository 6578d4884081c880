"""Reads of profiles, always scoped to one account."""

import functools

from django.db import connection
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import Account
from config.db import RowReader

from .models import Profile


def profile_list(*, account: Account) -> QuerySet[Profile]:
    return (
        Profile.objects.filter(account=account)
        .select_related("display_language")
        .prefetch_related("preferred_languages")
        .order_by("slot")
    )


def profile_get(*, account: Account, profile_id: int, for_display: bool = True) -> Profile:
    """The account's profile, or 404 — another household's id is indistinguishable from none.

    ``for_display=False`` is the API's hot paths' read (signals, recommendations,
    unlock): :func:`profile_with_languages`, one prepared statement, with the
    account the token loaded attached rather than read again.
    """
    if not for_display:
        return profile_with_languages(account=account, profile_id=profile_id)[0]
    return get_object_or_404(profile_list(account=account), pk=profile_id)


@functools.cache
def _profile_query() -> tuple[str, RowReader[Profile]]:
    reader = RowReader(Profile, alias="p")
    through = Profile.preferred_languages.through._meta
    quote = connection.ops.quote_name
    language = quote(through.get_field("language").column)
    aggregate = (
        f"string_agg({language}, ',')"
        if connection.vendor == "postgresql"
        else f"group_concat({language}, ',')"
    )
    # Only quoted identifiers of the models are interpolated.
    sql = (
        f"SELECT {reader.columns}, (SELECT {aggregate} FROM {quote(through.db_table)} "  # noqa: S608
        f"WHERE {quote(through.get_field('profile').column)} = p.{quote('id')}) "
        f"FROM {quote(Profile._meta.db_table)} p "
        f"WHERE p.{quote('id')} = %s AND p.{quote('account_id')} = %s"
    )
    return sql, reader


def profile_with_languages(*, account: Account, profile_id: int) -> tuple[Profile, set[str]]:
    """The account's profile (``account`` attached) and its preferred language codes, or 404.

    One prepared statement: the API's hot paths (homepage, signals,
    recommendations) read a profile on every request, and compiling the ORM's
    query, plus a second one for the languages, cost more than running them.
    """
    sql, reader = _profile_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [profile_id, account.pk])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No Profile matches the given query.")
    profile = reader.instance(row)
    profile.account = account
    codes = row[len(reader)]
    return profile, set(codes.split(",")) if codes else set()
