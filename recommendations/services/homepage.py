"""Rendering a homepage for a profile and logging it: the one write of a page."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from itertools import chain, repeat

import orjson
from django.db import connection
from django.db.models import Field, JSONField

from profiles.models import Profile
from recommendations.models import PageLog
from recommendations.serving.homepage import Page, homepage_build


def _json_text(value: object) -> str:
    """A JSON column's value as text, encoded by orjson (several times faster than ``json``)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


@functools.cache
def _page_log_insert() -> tuple[str, tuple[Field, ...]]:
    """The page log's INSERT over every concrete column, and those columns' fields.

    Derived from the model, so a column added to :class:`PageLog` is written
    too (with its default when the caller sets none). Its last parameter, after
    the fields' values, is the profile's id: the row is written only while the
    profile exists. The log keeps no foreign key (the insert would lock the
    profile's row), so a page built while the household deleted its profile was
    written after the deletion's own DELETE of the profile's pages and outlived
    it, until the prune, and the artwork policy learned its frames as shown and
    never played. An insert that falls between the deletion's DELETE of the
    pages and its commit still does, the price of reading the row rather than
    locking it; the deletion deletes it after its commit
    (:func:`profiles.services.profiles_left_behind_delete`).
    """
    fields = tuple(PageLog._meta.concrete_fields)
    quote = connection.ops.quote_name
    table = quote(PageLog._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    profiles = quote(Profile._meta.db_table)
    profile_pk = quote(Profile._meta.pk.column)
    # Only quoted identifiers of the models are interpolated, here and below.
    exists = f"EXISTS (SELECT 1 FROM {profiles} WHERE {profile_pk} = %s)"  # noqa: S608
    if connection.vendor != "postgresql":
        values = ", ".join(["%s"] * len(fields))
        return f"INSERT INTO {table} ({columns}) SELECT {values} WHERE {exists}", fields
    # PostgreSQL: the insert's own transaction commits without waiting for its WAL to
    # reach the disk (synchronous_commit off, set for this statement's transaction
    # only). See page_log_create for why a page log may do that and a signal may not.
    values = ", ".join(f"%s::{field.cast_db_type(connection)}" for field in fields)
    # Only quoted identifiers and the model's column types are interpolated.
    return (
        f"INSERT INTO {table} ({columns}) SELECT {values} "
        f"WHERE set_config('synchronous_commit', 'off', true) = 'off' AND {exists}",
        fields,
    )


def page_log_create(*, profile: Profile, page: Page) -> PageLog:
    """Store the page's context and every shown item in one insert.

    Items are ``[title_id, row_index, position, variant_id, propensity]`` so a
    12x20 page is one row of two small JSON arrays, not 240 rows. The row is
    inserted with one prepared statement rather than through ``Model.save()``:
    on the homepage's path the ORM's insert machinery cost about as much as
    the insert itself (the model has no save logic or signals to skip).

    On PostgreSQL the insert commits asynchronously: the request does not wait
    for the commit's WAL flush, which on a busy disk took from half a
    millisecond to tens of milliseconds, most of a page's wait and of its p99.
    A database crash can lose the last fraction of a second of page logs
    (never corrupt anything): those pages' impressions are then absent from
    training, and a play naming a lost page is matched by the session rule, as
    one naming no logged page is (to an earlier page that showed its title, if
    any). Signals, which clients are told were recorded, keep synchronous
    commits. Inside an outer transaction (tests, or a caller's ``atomic``) the
    setting applies to that transaction, whose own commit it then makes
    asynchronous too.

    Nothing is stored once the profile's deletion has committed (the insert's own
    ``EXISTS``, :func:`_page_log_insert`): the log returned then names no stored row,
    and the page its caller answers with carries an id no play can be attributed to,
    which is fine, as no signal of a deleted profile is stored either.
    """
    rows = [[row.id, row.type, row.strength] for row in page.rows]
    columns = page.item_columns()
    lengths = [len(row.items) for row in page.rows]
    row_of = chain.from_iterable(repeat(r, length) for r, length in enumerate(lengths))
    position = chain.from_iterable(map(range, lengths))
    items = list(
        map(
            list,
            zip(
                columns.title_id,
                row_of,
                position,
                columns.variant_id,
                columns.propensity,
                strict=True,
            ),
        )
    )
    log = PageLog(
        id=page.page_id,
        profile_id=profile.pk,
        generated_at=page.generated_at,
        device=page.context.device,
        region=page.context.region,
        cluster=page.context.cluster or "",
        hour=page.context.hour,
        weekday=page.context.weekday,
        model_version_id=page.model_version or None,
        rows=rows,
        items=items,
        taste=page.taste,
    )
    sql, fields = _page_log_insert()
    # JSON columns go as text (the database parses it as it would the driver's adapter's
    # output): the items are most of the page log, and the standard encoder was slow.
    values = [
        _json_text(getattr(log, field.attname))
        if isinstance(field, JSONField)
        else field.get_db_prep_save(getattr(log, field.attname), connection)
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, profile.pk])
    log._state.adding = False
    log._state.db = connection.alias
    return log


def homepage_render(
    *,
    profile: Profile,
    device: str,
    at: dt.datetime | None = None,
    context_at: dt.datetime | None = None,
    n_rows: int = 12,
    n_items: int = 20,
    language_codes: set[str] | None = None,
    page_id: uuid.UUID | None = None,
) -> Page:
    """Build the profile's homepage and log it (the page's only database write).

    ``profile`` needs its ``account`` loaded. ``at`` (default now) is the
    moment the page is built as of: availability, history and, unless
    ``context_at`` names another moment, time of day are taken at it, and it
    is the page's ``generated_at`` in the log, so simulated traffic and later
    plays line up in attribution. Only internal callers move it; a client's
    ``at`` is ``context_at``, which sets the logged hour and weekday and
    nothing else (:func:`~recommendations.serving.homepage.homepage_build`).
    ``language_codes`` are the profile's preferred languages when the caller
    read them with the profile. ``page_id``: see
    :func:`~recommendations.serving.homepage.homepage_build`.
    """
    page = homepage_build(
        profile=profile,
        device=device,
        at=at,
        context_at=context_at,
        n_rows=n_rows,
        n_items=n_items,
        language_codes=language_codes,
        page_id=page_id,
    )
    page_log_create(profile=profile, page=page)
    return page
