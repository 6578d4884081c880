"""What a retrain raises to its callers: a request it cannot make, a send the broker
refused, a batch the database interrupted.
"""

from __future__ import annotations

from collections.abc import Sequence


class RetrainError(Exception):
    """A retrain cannot be requested (unknown region or cluster).

    ``field`` is the request's field at fault, so that the API can name it.
    """

    def __init__(self, message: str, *, field: str = "region") -> None:
        super().__init__(message)
        self.field = field


class RetrainNotQueued(Exception):
    """The broker refused the retrain's message; its runs are marked failed, not left queued."""

    def __init__(self, message: str, run_ids: Sequence[int]) -> None:
        super().__init__(message)
        self.run_ids = list(run_ids)


class RetrainInterrupted(Exception):
    """The batch lost its database connection midway (a restart, a failover) and stopped.

    Its unfinished runs were put back to ``queued`` (:func:`_execute`): the task is sent
    again (``recommendations.tasks``), and its next delivery starts them afresh under
    their cluster locks, as a restart after a lost worker does, within :data:`MAX_ATTEMPTS`.
    """

    def __init__(self, message: str, run_ids: Sequence[int]) -> None:
        super().__init__(message)
        self.run_ids = list(run_ids)
