"""Query plans as the planner would choose them on big tables, read from small test tables."""

import itertools
import re
from typing import Any

from django.db import connection, transaction


def plan_nodes(
    sql: str,
    params: tuple = (),
    *,
    bitmaps_only: bool = False,
    sorts: bool = False,
    bitmaps: bool = True,
) -> list[dict[str, Any]]:
    """Every node of the query's plan when the planner must use an index where one serves.

    The test tables are a few rows, on which a sequential scan and a sort are the
    cheapest plan whatever the indexes; switched off, they are still chosen (at a
    prohibitive cost) only where no index gives the rows or their order, which is
    what a table of ten million signals would pay for. ``sorts`` leaves sorting on,
    for a statement ordered and limited (a page's first rows): with sorts off, an
    index in the order asked is walked and filtered row by row, whatever indexes
    could find the rows. ``bitmaps=False`` leaves the planner the B-tree indexes alone:
    on a test table of a few rows a time-ordered BRIN index (read only through a bitmap)
    can be the cheapest, where on a table of millions one profile's rows are not.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        if not sorts:
            cursor.execute("SET LOCAL enable_sort = off")
        if not bitmaps:
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        if bitmaps_only:
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute("SET LOCAL enable_indexonlyscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    return _nodes(plan)


def table_reads(
    sql: str, table: str, params: tuple = (), *, bitmaps: bool = True
) -> list[dict[str, Any]]:
    """The plan's nodes that read ``table``: its scans, and the scans of its indexes."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    # A unique or primary key constraint's index is introspected as a constraint, not an index.
    indexes = {
        name
        for name, constraint in constraints.items()
        if constraint["index"] or constraint["unique"]
    }
    return [
        node
        for node in plan_nodes(sql, params, bitmaps=bitmaps)
        if node.get("Relation Name") == table or node.get("Index Name") in indexes
    ]


def whole_table_reads(nodes: list[dict[str, Any]], table: str) -> list[dict[str, Any]]:
    """The nodes of a plan that read ``table`` whole: its sequential scans, and scans of
    its indexes with no condition to find rows by (an index walked end to end, each row
    filtered), which with sequential scans off is how the planner reads a table whole."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    indexes = {name for name, constraint in constraints.items() if constraint["index"]}
    return [
        node
        for node in nodes
        if (node["Node Type"] == "Seq Scan" and node.get("Relation Name") == table)
        or (node.get("Index Name") in indexes and "Index Cond" not in node)
    ]


def table_scans_run(sql: str, table: str, params: tuple = ()) -> int:
    """How many times the executed plan scanned ``table`` or one of its indexes (all loops).

    A correlated subquery runs once per outer row it is evaluated for: the count
    tells a page's rows from every row of the table.
    """
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    indexes = {name for name, constraint in constraints.items() if constraint["index"]}
    runs, stack = 0, [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        reads = node.get("Relation Name") == table or node.get("Index Name") in indexes
        # A bitmap's heap scan follows its index scan: one run, not two.
        if reads and "Heap" not in node["Node Type"]:
            runs += node["Actual Loops"]
        stack.extend(node.get("Plans", []))
    return runs


def generic_plan_nodes(sql: str) -> list[dict[str, Any]]:
    """Every node of the statement's generic plan, where an index serves (as ``plan_nodes``).

    The generic plan is made once for any parameter values (arrays of any length)
    and is what a prepared statement settles on: psycopg prepares a statement on
    its third execution (``PREPARE_THRESHOLD``), and PostgreSQL plans it for the
    values given five more times, then for good with the generic plan unless that
    costs more than the values' plans did. A statement run in a loop (a chunk of
    an import at a time) runs with it from the eighth turn on. ``sql`` has Django's
    ``%s`` placeholders; the parameters' types are taken from their use.
    """
    numbers = itertools.count(1)
    numbered = re.sub(r"%([s%])", lambda m: f"${next(numbers)}" if m[1] == "s" else "%", sql)
    nulls = ", ".join(["NULL"] * (next(numbers) - 1))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE generic_plan_probe AS {numbered}")
        try:
            cursor.execute(f"EXPLAIN (FORMAT JSON) EXECUTE generic_plan_probe({nulls})")
            plan = cursor.fetchone()[0]
        finally:
            cursor.execute("DEALLOCATE generic_plan_probe")
    return _nodes(plan)


def _nodes(plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every node of an ``EXPLAIN (FORMAT JSON)`` plan."""
    nodes, stack = [], [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes
