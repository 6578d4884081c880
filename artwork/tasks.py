"""Celery entry point of the artwork policy's updates: thin, calling one service."""

from celery import shared_task

from config.celery import RETRY_ON_TRANSIENT_ERRORS

from .services import artwork_policy_update


@shared_task(
    name="artwork.update_policy",
    acks_late=True,
    # A late run folds the same closed window. The advisory lock makes a refit wait for a
    # running update; an incremental update finding one running passes (the next folds).
    soft_time_limit=15 * 60,
    time_limit=20 * 60,
    # An update is one transaction: a retry after the database dropped it folds from the same
    # watermark. A refit commits its days one by one, each rewritten whole, and only those the
    # chain had folded whole before its watermark; a retry rewrites them again.
    **RETRY_ON_TRANSIENT_ERRORS,
)
def update_artwork_policy(full: bool = False) -> int | None:
    """Fold newly closed impressions into the policy; the new version's id, or None."""
    policy = artwork_policy_update(full=full, wait=full)
    return policy.pk if policy is not None else None
