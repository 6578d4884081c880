"""Checks of what queued retrains, policy updates, attribution and the nightly prune need from
settings."""

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


def redis_databases(urls: str | Sequence[str]) -> set[tuple[str, int, int]]:
    """The (host, port, database number) of each ``redis://`` URL in ``urls``.

    Takes a cache ``LOCATION`` (a string of ``,``/``;``-separated URLs, or a list)
    or a broker URL (``;``-separated failover URLs); other schemes are left out.
    """
    if isinstance(urls, str):
        urls = re.split("[;,]", urls)
    databases = set()
    for url in urls:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("redis", "rediss"):
            continue
        number = parse_qs(parts.query).get("db", [parts.path.strip("/")])[0] or "0"
        try:
            databases.add((parts.hostname or "localhost", parts.port or 6379, int(number)))
        except ValueError:  # not a port or a database number: not ours to judge here
            continue
    return databases


@checks.register(checks.Tags.caches, deploy=True)
def broker_cache_database_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Warn when the cache and the Celery broker share one Redis database.

    Django's ``RedisCache.clear()`` is a ``FLUSHDB``: clearing the cache there (an
    operator's shell, a deploy script) would also drop every queued retrain and
    artwork policy update, and the reaper would fail their runs hours later.
    """
    location = settings.CACHES.get("default", {}).get("LOCATION") or ""
    shared = redis_databases(location) & redis_databases(settings.CELERY_BROKER_URL or "")
    if not shared:
        return []
    host, port, number = sorted(shared)[0]
    return [
        checks.Warning(
            f"The cache and the Celery broker share Redis database {number} on {host}:{port}: "
            "clearing the cache (a FLUSHDB) would also drop every queued task.",
            hint="Give REDIS_URL another database number than CELERY_BROKER_URL, "
            "e.g. redis://redis:6379/1 beside a broker on redis://redis:6379/0.",
            id="tonight.W002",
        )
    ]


@checks.register("tasks", deploy=True)
def broker_configured_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Warn when production has no broker, so every task runs where it is sent.

    That is the first local run's way (``CELERY_TASK_ALWAYS_EAGER`` without a
    ``CELERY_BROKER_URL``). Deployed, a retrain asked for in admin or the staff API
    runs inside the web request, which gunicorn kills after 30 s, and no worker or
    beat can run the nightly retrains, the reaper or the artwork policy updates.
    """
    if settings.CELERY_BROKER_URL:
        return []
    return [
        checks.Warning(
            "No Celery broker is configured, so every task runs inside the process that "
            "sends it: a retrain asked for in admin runs in the web request (killed by "
            "gunicorn's timeout), and workers and beat have nothing to connect to.",
            hint="Set CELERY_BROKER_URL (redis://redis:6379/0, or amqp://...) in every "
            "process: web, the workers and beat.",
            id="tonight.W004",
        )
    ]


@checks.register("retention")
def page_log_keep_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Refuse a page log keep shorter than a reader's window, or a prune batch below one.

    The nightly prune deletes pages older than ``PAGE_LOG_KEEP_DAYS``; kept for
    less than, say, the artwork refit reads, the refit would learn from fewer days
    than configured and nothing would say so. An error: ``manage.py check``, and every
    command that runs the system checks (``migrate``: compose's migrate step, which
    web, worker and beat wait for), refuse the setting, naming the reader that needs
    more. gunicorn and Celery run no checks of their own.
    """
    from recommendations.selectors.retention import page_log_keep_days_needed

    tonight = settings.TONIGHT
    errors = []
    keep = int(tonight["PAGE_LOG_KEEP_DAYS"])
    needed, reader = page_log_keep_days_needed()
    if keep < needed:
        errors.append(
            checks.Error(
                f"TONIGHT_PAGE_LOG_KEEP_DAYS is {keep}, but {reader.name} reads pages "
                f"{reader.days:.2f} days back (from {reader.setting}, with the attribution "
                "window): the nightly prune would delete pages it needs.",
                hint=f"Set TONIGHT_PAGE_LOG_KEEP_DAYS to {needed} or more, or shorten "
                f'TONIGHT["{reader.setting}"].',
                id="tonight.E001",
            )
        )
    if int(tonight["PAGE_LOG_PRUNE_BATCH"]) < 1:
        errors.append(
            checks.Error(
                "TONIGHT_PAGE_LOG_PRUNE_BATCH must be 1 or more: it is how many pages the "
                "prune deletes per statement.",
                id="tonight.E002",
            )
        )
    return errors


@checks.register("retention")
def model_version_keep_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Refuse a negative keep of model versions or sign-ins: a count or days, 0 at the least.

    The prune would read a model version keep as 0 (what the active version, the
    rankers' window and the retrains in progress need is kept whatever it says), and a
    sign-in keep below 0 puts its cut after now, deleting every admin sign-in record;
    said here, not guessed.
    """
    return [
        checks.Error(
            f"TONIGHT_{name} is {settings.TONIGHT[name]}: it must be 0 or more ({what}).",
            id="tonight.E008",
        )
        for name, what in (
            ("MODEL_VERSIONS_KEPT", "retired model versions kept per scope for a rollback"),
            ("MODEL_VERSION_KEEP_DAYS", "days rejected and failed model versions are kept"),
            ("SIGN_IN_LOG_KEEP_DAYS", "days the admin's sign-in records are kept"),
        )
        if int(settings.TONIGHT[name]) < 0
    ]


@checks.register("retention")
def artwork_daily_keep_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Refuse an artwork daily figures keep shorter than the days a full refit rebuilds.

    The full refit (nightly, from a retrain) deletes and rewrites the figures of its
    ``ARTWORK_TRAINING_DAYS``, counted back from the midnight before its pages' plays are
    all in: kept for less, each refit would write days the next prune deletes again, and
    the admin's totals would cover one window in the morning and another after a retrain.
    """
    from recommendations.selectors.attribution import attribution_window
    from recommendations.selectors.signals import signal_clock_skew

    tonight = settings.TONIGHT
    keep = int(tonight["ARTWORK_DAILY_KEEP_DAYS"])
    # The refit's range ends the upload grace before the window's close too.
    grace = dt.timedelta(seconds=max(float(tonight["ARTWORK_UPLOAD_GRACE_SECONDS"]), 0.0))
    closed = (attribution_window() + signal_clock_skew() + grace) / dt.timedelta(days=1)
    needed = int(tonight["ARTWORK_TRAINING_DAYS"]) + math.ceil(closed)
    if keep >= needed:
        return []
    return [
        checks.Error(
            f"TONIGHT_ARTWORK_DAILY_KEEP_DAYS is {keep}, but the artwork policy's full refit "
            f"rewrites the daily figures of up to {needed} days back (ARTWORK_TRAINING_DAYS, "
            "from the midnight before its pages' plays are all in): each refit would write "
            "days the nightly prune deletes again.",
            hint=f"Set TONIGHT_ARTWORK_DAILY_KEEP_DAYS to {needed} or more, or shorten "
            'TONIGHT["ARTWORK_TRAINING_DAYS"].',
            id="tonight.E007",
        )
    ]


@checks.register("retraining")
def ranker_training_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Refuse ranker training settings that would make every retrain's rankers learn nothing.

    No days or a negative number of them is an empty window: both rankers stay on their
    priors and nothing says why. No pages reads every page of the window instead
    (the sample's ``LIMIT`` is left off: millions of pages, each rebuilt as a request
    would), and fewer than none fails every retrain at its query. Refused where
    ``PAGE_LOG_PRUNE_BATCH`` is (``manage.py check``, ``migrate``), not hours later.
    """
    tonight = settings.TONIGHT
    errors = []
    if float(tonight["RANKER_LOG_DAYS"]) <= 0:
        errors.append(
            checks.Error(
                f"TONIGHT_RANKER_LOG_DAYS is {tonight['RANKER_LOG_DAYS']:g}: it must be more "
                "than 0, the days of logged pages the title and row rankers learn from.",
                id="tonight.E003",
            )
        )
    if int(tonight["RANKER_MAX_PAGES"]) < 1:
        errors.append(
            checks.Error(
                f"TONIGHT_RANKER_MAX_PAGES is {tonight['RANKER_MAX_PAGES']}: it must be 1 or "
                "more, the logged pages sampled for the title and row rankers' training.",
                id="tonight.E004",
            )
        )
    return errors


@checks.register("attribution")
def attribution_window_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Refuse a session window of no length, or a clock skew below none.

    Attribution credits a play to a page shown at most the window before it (or, when
    the play names the page, at most the skew after it). With no window no play follows
    a page: every tile the rankers and the artwork policy learn from is a miss, and
    nothing says why. A negative one also puts ``closed_before`` after now, so the artwork
    policy's watermark would pass pages not logged yet, which no later update folds. A
    negative skew refuses every signal stamped now ("Is in the future") and believes no
    play that names its page. Refused where the ranker settings are (``manage.py check``,
    ``migrate``), not found out from the labels weeks later.
    """
    tonight = settings.TONIGHT
    errors = []
    window = tonight["ATTRIBUTION_WINDOW_SECONDS"]
    if not float(window) > 0:
        errors.append(
            checks.Error(
                f"TONIGHT_ATTRIBUTION_WINDOW_SECONDS is {window}: it must be more than 0, the "
                "seconds after a page within which a play of a title it showed is credited "
                "to it (with none, every tile shown is learned as a miss).",
                id="tonight.E009",
            )
        )
    skew = tonight["SIGNAL_MAX_FUTURE_SKEW_SECONDS"]
    if not float(skew) >= 0:
        errors.append(
            checks.Error(
                f"TONIGHT_SIGNAL_MAX_FUTURE_SKEW is {skew}: it must be 0 or more, the seconds "
                "a client's clock may run ahead of or behind the server's (below 0 every "
                "signal stamped now is refused as in the future).",
                id="tonight.E009",
            )
        )
    grace = tonight["ARTWORK_UPLOAD_GRACE_SECONDS"]
    if not float(grace) >= 0:
        errors.append(
            checks.Error(
                f"TONIGHT_ARTWORK_UPLOAD_GRACE_SECONDS is {grace}: it must be 0 or more, the "
                "seconds the artwork policy's updates wait after a page's session window for "
                "plays uploaded late (below 0 they fold pages whose window is still open).",
                id="tonight.E009",
            )
        )
    return errors


@checks.register("retraining")
def retrain_gate_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Refuse a negative gate z: it would turn the guardrail inside out.

    ``RETRAIN_GATE_Z`` standard errors give the candidate the benefit of the doubt
    (a refusal must be shown). Below 0 the doubt would go against it: an equally good
    version, the usual fresher retrain, refused more often than by the figures alone,
    and more often the smaller the cluster. Refused where the ranker settings are.
    """
    z = float(settings.TONIGHT.get("RETRAIN_GATE_Z", 1.64))
    if z >= 0:
        return []
    return [
        checks.Error(
            f"TONIGHT_RETRAIN_GATE_Z is {z:g}: it must be 0 or more, the paired standard errors "
            "by which a retrain must be shown worse than the active version to be refused "
            "(0: the two NDCG@10 figures alone).",
            id="tonight.E005",
        )
    ]


@checks.register("retraining")
def retrain_heartbeat_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Refuse a stale heartbeat window no longer than a beat; warn of one shorter than two.

    A running retrain writes its heartbeat every ``RETRAIN_HEARTBEAT_SECONDS``, and the
    reaper (every minute) fails as "Worker lost" a run whose heartbeat is older than
    ``RETRAIN_STALE_SECONDS``. At or below one beat, a live run's heartbeat is stale between
    two beats, and the reaper fails retrains whose workers are well: an error. Below two, a
    single beat lost (a database error costs the heartbeat thread one beat, by design) fails
    a live run: a warning. A beat of 0 or less would write the row in a busy loop.
    """
    heartbeat = float(settings.TONIGHT["RETRAIN_HEARTBEAT_SECONDS"])
    stale = float(settings.TONIGHT["RETRAIN_STALE_SECONDS"])
    if heartbeat <= 0:
        return [
            checks.Error(
                f"TONIGHT_RETRAIN_HEARTBEAT_SECONDS is {heartbeat:g}: it must be more than 0, "
                "the seconds between a running retrain's heartbeats.",
                id="tonight.E010",
            )
        ]
    hint = (
        f"Set TONIGHT_RETRAIN_STALE_SECONDS to {2 * heartbeat:g} or more (the default is 12 "
        "beats: 120 s against 10), or shorten TONIGHT_RETRAIN_HEARTBEAT_SECONDS."
    )
    if stale <= heartbeat:
        return [
            checks.Error(
                f"TONIGHT_RETRAIN_STALE_SECONDS is {stale:g}, at or below "
                f"TONIGHT_RETRAIN_HEARTBEAT_SECONDS ({heartbeat:g}): a live retrain's heartbeat "
                'goes stale between two beats, and the reaper would fail it as "Worker lost".',
                hint=hint,
                id="tonight.E010",
            )
        ]
    if stale < 2 * heartbeat:
        return [
            checks.Warning(
                f"TONIGHT_RETRAIN_STALE_SECONDS is {stale:g}, less than two of "
                f"TONIGHT_RETRAIN_HEARTBEAT_SECONDS' beats ({heartbeat:g} s): a single beat lost "
                "(a database error costs one) would have the reaper fail a live retrain as "
                '"Worker lost".',
                hint=hint,
                id="tonight.W007",
            )
        ]
    return []


@checks.register("retraining")
def retrain_soft_limit_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Refuse a retrain soft time limit of 0 or less: to Celery, 0 is no soft limit at all.

    At the soft limit a batch stops and fails its runs with the limit as their reason
    (``retraining.execution._execute``). Without one, nothing stops it before the hard limit, 5
    minutes after the soft one (``RETRAIN_HARD_LIMIT_SECONDS``), where its worker process
    is killed: every retrain longer than that would die mid-fit, its runs reaped later as
    "Worker lost", never saying why.
    """
    soft = int(settings.TONIGHT["RETRAIN_SOFT_LIMIT_SECONDS"])
    if soft > 0:
        return []
    hard = int(settings.TONIGHT["RETRAIN_HARD_LIMIT_SECONDS"])
    return [
        checks.Error(
            f"TONIGHT_RETRAIN_SOFT_LIMIT_SECONDS is {soft}: it must be more than 0. Celery "
            "reads 0 as no soft limit, so a retrain would never stop and fail its runs with a "
            f"reason; its worker process would be killed at the hard limit ({hard} s) and its "
            'runs reaped as "Worker lost".',
            hint="Set TONIGHT_RETRAIN_SOFT_LIMIT_SECONDS to the longest a region's retrain may "
            "take (the default is 3600).",
            id="tonight.E011",
        )
    ]


#: Broker URL schemes of kombu's Redis transport, the one that hands an unacknowledged message
#: on after ``visibility_timeout``; RabbitMQ does so only when the consumer's connection closes.
REDIS_BROKER_SCHEMES = frozenset({"redis", "rediss", "sentinel"})


@checks.register("retraining")
def retrain_visibility_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Warn when a retrain may still run once Redis hands its message to another worker.

    A retrain is acknowledged when it ends, which may be as late as its hard limit (the
    soft limit and 5 minutes). Redis delivers a message unacknowledged for
    ``CELERY_VISIBILITY_TIMEOUT`` again, as if its worker had died. The second delivery
    does not train (the first still holds the cluster's lock: ``retraining.execution._start``), so
    a warning, not an error; but it acknowledges the message, and should the first worker
    die after all, nothing is delivered again: its runs wait for the reaper's "Worker
    lost" and the next night, instead of being restarted.
    """
    schemes = {
        urlsplit(url.strip()).scheme for url in (settings.CELERY_BROKER_URL or "").split(";")
    }
    if not schemes & REDIS_BROKER_SCHEMES:
        return []
    visibility = int(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600))
    soft = int(settings.TONIGHT["RETRAIN_SOFT_LIMIT_SECONDS"])
    hard = int(settings.TONIGHT["RETRAIN_HARD_LIMIT_SECONDS"])
    if hard < visibility:
        return []
    return [
        checks.Warning(
            f"TONIGHT_RETRAIN_SOFT_LIMIT_SECONDS is {soft} (a retrain may run until its hard "
            f"limit, {hard} s), but CELERY_VISIBILITY_TIMEOUT is {visibility}: Redis would "
            "hand a retrain still running to a second worker, whose acknowledgement leaves "
            "nothing to deliver again if the first worker then dies.",
            hint=f"Set CELERY_VISIBILITY_TIMEOUT above {hard}, or "
            f"TONIGHT_RETRAIN_SOFT_LIMIT_SECONDS below {visibility - (hard - soft)} (in every "
            "process: the limit travels in the task message).",
            id="tonight.W006",
        )
    ]


@checks.register("artwork")
def artwork_floor_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Refuse an artwork exploration floor outside (0, 1].

    The floor gives every variant of a title at least ``floor / k`` of its
    traffic, which is what makes the logged propensities usable: an off-policy
    estimate of any other policy (``evaluate_artwork_policy``) is unbiased only
    where every variant it may show had a positive logged propensity. At 0 a
    policy sure of its favourite never shows the others, and their share of
    another policy's choice is silently scored 0 (the logs cannot tell a variant
    the logger never could pick). Outside [0, 1] the bandit refuses to be built,
    which the next full refit would find, and every fresh policy load after it.
    """
    floor = float(settings.TONIGHT.get("ARTWORK_EXPLORATION_FLOOR", 0.1))
    if 0.0 < floor <= 1.0:
        return []
    return [
        checks.Error(
            f"TONIGHT_ARTWORK_EXPLORATION_FLOOR is {floor:g}: it must be more than 0 and at "
            "most 1, the share of each title's artwork choices made uniformly at random, "
            "without which the logs hold no propensity for the variants a sure policy never "
            "shows and off-policy estimates of other policies are biased.",
            id="tonight.E006",
        )
    ]
