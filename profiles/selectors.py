"""Reads of profiles, always scoped to one account, and of what deleted profiles left behind."""

import functools
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection, models
from django.db.models import Max, QuerySet
from django.http import Http404
from rest_framework.request import Request

from accounts.models import Account
from config.db import RowReader

from .models import GUARDIAN_MATURITY_LIMIT, Profile

#: The same sentence for a profile that does not exist and for another household's.
NO_PROFILE = "No profile with this id on this account."
#: The request attribute where a profile read with the token waits:
#: ``((account id, profile id), (profile, language codes) or None)``.
PREFETCHED_PROFILE = "tonight_profile"


def profile_list(*, account: Account) -> QuerySet[Profile]:
    return (
        Profile.objects.filter(account=account)
        .select_related("display_language")
        .prefetch_related("preferred_languages")
        .order_by("slot")
    )


def profile_guardians(*, account_id: int) -> list[Profile]:
    """The account's profiles that can lift others' restrictions (``profiles.unlock.is_guardian``):
    PIN-protected, not kids, and themselves unrestricted."""
    return list(
        Profile.objects.filter(
            account_id=account_id, is_kids=False, maturity_limit__gte=GUARDIAN_MATURITY_LIMIT
        )
        .exclude(pin_hash="")
        # What checking a guardian's unlock reads (profiles.unlock._token_subject): a field
        # deferred here would be a query per guardian on every guarded change.
        .only("pk", "pin_hash", "unlock_generation")
    )


def profile_list_with_home_region(*, account: Account) -> list[Profile]:
    """The account's profiles by slot, each with its household and home region.

    For reads that place a profile's hour in its household's time zone (``demo_info``
    measures the showcase homepages at nine in the evening there).
    """
    return list(account.profiles.select_related("account__home_region").order_by("slot"))


def profile_with_pin(*, pin: str, among: int = 10) -> Profile | None:
    """The first PIN-protected profile (by household, then slot) whose PIN is this one, or None.

    Only the first ``among`` PIN-protected profiles are tried: each check hashes the
    PIN, slowly by design. Each comes with its household.
    """
    candidates = (
        Profile.objects.exclude(pin_hash="")
        .select_related("account")
        .order_by("account_id", "slot")[:among]
    )
    return next((profile for profile in candidates if profile.check_pin(pin)), None)


def profile_get(*, account: Account, profile_id: int, for_display: bool = True) -> Profile:
    """The account's profile, or 404 — another household's id is indistinguishable from none.

    ``for_display=False`` is :func:`profile_with_languages`, one prepared
    statement, with the account the token loaded attached rather than read
    again. Endpoints whose URL names the profile take it from the token's own
    read instead (:func:`profile_for_request`).
    """
    if not for_display:
        return profile_with_languages(account=account, profile_id=profile_id)[0]
    found = profile_list(account=account).filter(pk=profile_id).first()
    if found is None:
        raise Http404(NO_PROFILE)
    return found


@functools.cache
def _profile_reader() -> RowReader[Profile]:
    return RowReader(Profile, alias="p")


def profile_columns() -> str:
    """The profile ``p``'s columns and its preferred language codes (comma-separated, or NULL).

    Shared by :func:`profile_with_languages` and the token read that fetches
    the URL's profile with the token
    (:class:`profiles.authentication.ProfileTokenAuthentication`).
    """
    through = Profile.preferred_languages.through._meta
    quote = connection.ops.quote_name
    language = quote(through.get_field("language").column)
    aggregate = (
        f"string_agg({language}, ',')"
        if connection.vendor == "postgresql"
        else f"group_concat({language}, ',')"
    )
    # Only quoted identifiers of the models are interpolated.
    return (
        f"{_profile_reader().columns}, (SELECT {aggregate} FROM {quote(through.db_table)} "  # noqa: S608
        f"WHERE {quote(through.get_field('profile').column)} = p.{quote('id')})"
    )


def profile_from_row(
    row: Sequence[Any], start: int, *, account: Account
) -> tuple[Profile, set[str]] | None:
    """The profile and languages of :func:`profile_columns` at ``row[start:]``; None if NULL."""
    reader = _profile_reader()
    if row[start] is None:
        return None
    profile = reader.instance(row, start)
    profile.account = account
    codes = row[start + len(reader)]
    return profile, set(codes.split(",")) if codes else set()


@functools.cache
def _profile_sql() -> str:
    quote = connection.ops.quote_name
    # Only quoted identifiers of the models are interpolated.
    return (
        f"SELECT {profile_columns()} FROM {quote(Profile._meta.db_table)} p "  # noqa: S608
        f"WHERE p.{quote('id')} = %s AND p.{quote('account_id')} = %s"
    )


def profile_with_languages(*, account: Account, profile_id: int) -> tuple[Profile, set[str]]:
    """The account's profile (``account`` attached) and its preferred language codes, or 404.

    One prepared statement: the API's hot paths (homepage, signals,
    recommendations) read a profile on every request, and compiling the ORM's
    query, plus a second one for the languages, cost more than running them.
    """
    with connection.cursor() as cursor:
        cursor.execute(_profile_sql(), [profile_id, account.pk])
        row = cursor.fetchone()
    found = None if row is None else profile_from_row(row, 0, account=account)
    if found is None:
        raise Http404(NO_PROFILE)
    return found


def profile_for_request(
    request: Request, *, account: Account, profile_id: int
) -> tuple[Profile, set[str]]:
    """:func:`profile_with_languages`, or what the request's authentication read with its token.

    :class:`~profiles.authentication.ProfileTokenAuthentication` reads the
    URL's profile in the token's statement; only a profile of the token's own
    account is ever found there (a missing one is a 404 without a second read).
    """
    prefetched = getattr(request, PREFETCHED_PROFILE, None)
    if prefetched is not None and prefetched[0] == (account.pk, profile_id):
        if prefetched[1] is None:
            raise Http404(NO_PROFILE)
        return prefetched[1]
    return profile_with_languages(account=account, profile_id=profile_id)


def profile_unchecked_relations() -> list[tuple[type[models.Model], models.ForeignKey]]:
    """The tables that keep a profile's id without a foreign key, and that key's field.

    The signal and page logs: their hot inserts pay for no trigger, so the database
    refuses no row whose profile is gone. Django's cascade deletes them with the profile;
    whatever a race or an older release left behind has to be found by the profile's id.
    """
    return [
        (relation.related_model, relation.field)
        for relation in Profile._meta.related_objects
        if not relation.field.db_constraint
        and relation.field.remote_field.on_delete is models.CASCADE
    ]


def profile_ids_handed_out() -> int | None:
    """The highest profile id handed out so far, deleted or not (None: none yet).

    Every profile created after this read gets a higher id: PostgreSQL's identity
    sequence (one value cached, Django's default) hands ids out in order across
    sessions, whatever their transactions do. SQLite's ``AUTOINCREMENT`` keeps the
    highest in ``sqlite_sequence``. The newest existing profile's id is taken too, for
    one inserted with its id given (a fixture, a restore) above the sequence.
    """
    table = Profile._meta.db_table
    column = Profile._meta.pk.column
    newest = Profile.objects.aggregate(newest=Max("pk"))["newest"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # NULL before the sequence's first value, or without a sequence.
            cursor.execute(
                "SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, %s)::regclass)",
                [connection.ops.quote_name(table), column],
            )
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        else:
            return newest
        row = cursor.fetchone()
    handed_out = row[0] if row else None
    return max((n for n in (newest, handed_out) if n is not None), default=None)


#: Distinct profile ids read per statement while looking for deleted profiles' rows.
ORPHAN_IDS_BATCH = 1000


def profile_orphan_ids(
    *, model: type[models.Model], field: models.ForeignKey, ids_batch: int | None = None
) -> Iterator[tuple[list[int], float]]:
    """The ids of deleted profiles that ``model``'s table still has rows of, a batch at a time.

    Yields each batch's deleted ids (possibly none) with the fraction of the id range
    walked so far. Each statement is a skip scan of the index that leads with the profile
    (one index descent per distinct id, ``ids_batch`` of them: 100,000 profiles are 100
    short statements whatever the table's size), and tells in the same snapshot whether
    each id's profile exists.

    Only ids up to the last one handed out when the walk starts are looked at
    (:func:`profile_ids_handed_out`). A row can only be visible with its profile, as
    every writer stores a profile's rows once the profile's row exists, in its
    transaction or after it committed (ingest locks the row, a page's insert checks it,
    an import creates both in one); so an id that has rows and no profile is a deleted
    profile's, and ids are never reused. The bound keeps profiles created meanwhile
    (their ids are all above it) out of the walk altogether, whatever their writers do;
    a profile whose id was handed out before and that commits meanwhile is within it,
    and kept by that rule. The bound is the id sequence's, not the newest existing
    profile's: that left the newest profile's rows, if it was deleted behind the app's
    back, until a newer profile existed.
    """
    newest = profile_ids_handed_out()
    if newest is None:
        return
    size = int(ids_batch or ORPHAN_IDS_BATCH)
    quote = connection.ops.quote_name
    table, column = quote(model._meta.db_table), quote(field.column)
    profiles, pk = quote(Profile._meta.db_table), quote(Profile._meta.pk.column)

    def after(previous: str) -> str:
        # Only quoted identifiers of the models are interpolated.
        return (
            f"(SELECT t.{column} FROM {table} t WHERE t.{column} > {previous} "  # noqa: S608
            f"AND t.{column} <= %s ORDER BY t.{column} LIMIT 1)"
        )

    sql = (
        f"WITH RECURSIVE walk (profile_id, n) AS (SELECT {after('%s')}, 1 "  # noqa: S608
        f"UNION ALL SELECT {after('walk.profile_id')}, walk.n + 1 FROM walk "
        "WHERE walk.profile_id IS NOT NULL AND walk.n < %s) "
        f"SELECT walk.profile_id, EXISTS (SELECT 1 FROM {profiles} p "
        f"WHERE p.{pk} = walk.profile_id) FROM walk WHERE walk.profile_id IS NOT NULL "
        "ORDER BY walk.profile_id"
    )
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [last, newest, newest, size])
            rows = cursor.fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield [profile_id for profile_id, exists in rows if not exists], last / newest
        if len(rows) < size:
            return


def profile_orphans_count(*, ids_batch: int | None = None) -> dict[type[models.Model], int]:
    """How many rows of deleted profiles each unchecked table holds (``prune_logs --dry-run``)."""
    counts: dict[type[models.Model], int] = {}
    for model, field in profile_unchecked_relations():
        counts[model] = sum(
            model._base_manager.filter(**{f"{field.attname}__in": ids}).count()
            for ids, _ in profile_orphan_ids(model=model, field=field, ids_batch=ids_batch)
            if ids
        )
    return counts
