"""Celery entry point of the artwork policy's updates: thin, calling one service."""

from celery import shared_task

from config.celery import RETRY_ON_TRANSIENT_ERRORS

from .services import artwork_policy_update


@shared_task(
    name="artwork.update_policy",
    acks_late=True,
    # A late run folds the same closed window; the advisory lock makes overlaps wait.
    soft_time_limit=15 * 60,
    time_limit=20 * 60,
    # One transaction: a retry after the database dropped it folds from the same watermark.
    **RETRY_ON_TRANSIENT_ERRORS,
)
def update_artwork_policy(full: bool = False) -> int | None:
    """Fold newly closed impressions into the policy; the new version's id, or None."""
    policy = artwork_policy_update(full=full)
    return policy.pk if policy is not None else None
