"""The clusters' advisory locks: two retrains of one cluster never run at once, and a run
refused for the lock names who holds it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.db import connection
from django.utils import timezone

from recommendations.models import TrainingRun

#: First key of the advisory locks of cluster retrains (the second is the cluster id).
LOCK_NAMESPACE = 6006


@contextlib.contextmanager
def _cluster_lock(cluster_id: int) -> Iterator[bool]:
    """A session advisory lock on the cluster for as long as the block runs.

    Session-level, not transaction-level: the run spans many transactions. A
    dead worker's connection closes and PostgreSQL releases its locks.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, cluster_id])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, cluster_id])


def _lock_refusal(run: TrainingRun) -> str:
    """Why ``run`` is refused while another session holds its cluster's lock, naming the holder.

    The request refused a run while another of its cluster was queued or running, so a run
    refused here finds its cluster's runs ended, and the lock held by one of two: its
    region's batch, which holds every cluster's lock until its last cluster is done; or the
    session of a worker that stopped answering (frozen, or its machine lost), whose run the
    reaper failed, and which PostgreSQL ends only when its connection times out, hours
    later. "Another retrain of cluster 2 is running" named neither, and no run was: the
    operator had nothing to wait for or to end, while every retrain of the cluster was refused.
    """
    cluster = run.taste_cluster
    never = "two retrains of one cluster never run at once."
    running = list(
        TrainingRun.objects.filter(region_id=run.region_id, status=TrainingRun.Status.RUNNING)
        .exclude(pk=run.pk)
        .order_by("pk")
        .values_list("pk", "taste_cluster_id")
    )
    same = [pk for pk, cluster_id in running if cluster_id == run.taste_cluster_id]
    if same:
        return f"Another retrain of {cluster} is running (run #{same[0]}); {never}"
    holders = _lock_holders()
    if run.taste_cluster_id not in holders:  # let go since the attempt: nothing holds it now
        return f"Another retrain of {cluster} held its lock a moment ago; {never}"
    pid, client, since = holders[run.taste_cluster_id]
    # The batch's session holds the locks of its clusters still running too.
    batch = [pk for pk, cluster_id in running if holders.get(cluster_id, (None,))[0] == pid]
    if batch:
        runs = ", ".join(f"#{pk}" for pk in batch)
        return (
            f"The retrain of {run.region_id} that ran {cluster} still holds its lock until "
            f"its last cluster is done (run {runs} still running); {never} Retrain it again "
            "once that has ended."
        )
    return (
        f"No retrain of {cluster} is running, but a database session still holds its lock "
        f"(PostgreSQL backend pid {pid}, client {client or 'unknown'}, connected "
        f"{since:%Y-%m-%d %H:%M:%S} UTC): a worker that stopped answering, whose run was "
        "failed as its worker lost, and which PostgreSQL lets go of only when its connection "
        f"times out; {never} If that worker is gone, end its session "
        f"(SELECT pg_terminate_backend({pid})) and retrain again."
    )


def _lock_holders() -> dict[int, tuple[int, str | None, dt.datetime]]:
    """Cluster id -> the backend pid, client address and connection time of the session
    holding its retrain lock in this database (advisory locks are per database);
    ``pg_stat_activity`` shows another role's client as null."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.objid, l.pid, host(a.client_addr), a.backend_start FROM pg_locks l "
            "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s "
            "AND l.objsubid = 2 AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            [LOCK_NAMESPACE],
        )
        rows = cursor.fetchall()
    now = timezone.now()
    return {
        int(cluster_id): (pid, client, (since or now).astimezone(dt.UTC))
        for cluster_id, pid, client, since in rows
    }
