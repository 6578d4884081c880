"""The variants' figures (admin's variant page, the console's artwork page) read the daily
roll-ups of the variants they show, not every variant's days."""

import datetime as dt
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from artwork.models import ArtworkVariant, ArtworkVariantDaily
from artwork.selectors import artwork_variants_stats
from catalog.models import Title
from tests.factories import LanguageFactory

pytestmark = pytest.mark.django_db

DAILY = ArtworkVariantDaily._meta.db_table
TITLES, VARIANTS_PER_TITLE, DAYS = 300, 4, 7
DEVICES = ("tv", "mobile", "tablet", "web")


def catalogue_shown_all_week() -> list[ArtworkVariant]:
    """300 titles of 4 variants, every variant shown on every device class every day."""
    language = LanguageFactory()
    titles = Title.objects.bulk_create(
        Title(
            original_name=f"Title {n}",
            original_language=language,
            release_date=dt.date(2020, 1, 1),
            runtime_minutes=100,
        )
        for n in range(TITLES)
    )
    variants = ArtworkVariant.objects.bulk_create(
        ArtworkVariant(
            title=title, label=f"{title.original_name} {k}", image="x.jpg", width=160, height=90
        )
        for title in titles
        for k in range(VARIANTS_PER_TITLE)
    )
    today = timezone.now().date()
    ArtworkVariantDaily.objects.bulk_create(
        ArtworkVariantDaily(
            variant=variant, device=device, day=today - dt.timedelta(days=d), impressions=10
        )
        for variant in variants
        for device in DEVICES
        for d in range(DAYS)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {DAILY}")
        cursor.execute(f"ANALYZE {ArtworkVariant._meta.db_table}")
    return variants


def rows_read(sql: str, table: str) -> int:
    """Rows the executed plan took out of ``table`` (its scans, all loops), without nested loops.

    On 13,500 variants the planner joined a week of roll-ups to the titles' variants
    by hashing (it read the week: 0.2 s); on these few it probes the index once per
    variant instead. Nested loops off, each query reads here what it read there.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    read, stack = 0, [plan[0]["Plan"]]
    while stack:
        node: dict[str, Any] = stack.pop()
        if node.get("Relation Name") == table:
            read += node["Actual Rows"] * node["Actual Loops"]
        stack.extend(node.get("Plans", []))
    return read


def test_the_share_of_a_titles_shows_reads_only_that_titles_variants_days() -> None:
    # given: a week of roll-ups of 1,200 variants, and the 24 the console charts
    variants = catalogue_shown_all_week()
    charted = variants[:: VARIANTS_PER_TITLE * 10][:24]

    # when
    with CaptureQueriesContext(connection) as queries:
        stats = artwork_variants_stats(variants=charted)

    # then: each query of the daily table reads the charted titles' rows only (joined
    # by title, the week of every variant was read: 33,600 rows here to keep 2,688)
    statements = [q["sql"] for q in queries.captured_queries if DAILY in q["sql"]]
    assert statements
    charted_rows = len(charted) * VARIANTS_PER_TITLE * len(DEVICES) * DAYS
    for sql in statements:
        assert rows_read(sql, DAILY) <= charted_rows, sql
    # and: the share is still of the title's shows: four equal variants, a quarter each
    assert {s.share for s in stats[charted[0].pk]} == {0.25}
