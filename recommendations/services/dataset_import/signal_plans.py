"""What one rating or implicit weight stands for as signals, and each signal's stable
client event id, so that importing a file again stores nothing twice.
"""

import hashlib
import uuid

from recommendations.models import SignalKind

# client_event_id = uuid5(namespace, user, item, kind, time[, n]), so that importing the
# same interaction again, from any copy of the file, stores nothing twice. Changed once (3 Dec
# 2026: the time was added so that repeated rows are kept): a database filled by an earlier
# import holds ids without the time, and re-importing one of its files stores it again
# (docs/recommendations.md, "Importing data sets"). Fixed from then on.
IMPORT_EVENT_NAMESPACE = uuid.UUID("4f1c2d8e-6b0a-5d47-9a3e-2f6c8b1e7d50")


# A rating is read on a 5-point scale, x = 5 * rating / rating_scale:
LIKED_FROM = 4.0  # x >= 4: watched to the end
WATCHED_SOME_FROM = 3.0  # 3 <= x < 4: started and left part-way; x < 3: disliked
_EPSILON = 1e-9  # 8 of 10 is 4 of 5, whatever the floating point says
SignalPlan = tuple[tuple[str, float | None], ...]


def rating_signals(rating: float, *, scale: float = 5.0) -> SignalPlan:
    """The signals one rating stands for, as (kind, value) pairs in the order they happened.

    With x = 5 * rating / scale (so 4 of 5 and 8 of 10 mean the same):

    ==============  =====================================================
    x >= 4          play_start, complete; and thumbs_up at the top (x = 5)
    3 <= x < 4      play_start, progress 20·x percent (60 for 3, 70 for 3.5)
    x < 3           play_start, thumbs_down
    ==============  =====================================================

    Why: any rating means the title was at least started. A high rating is
    read as a completion, the strongest implicit signal the confidence matrix
    has for a film, and only the very top of the scale as an explicit thumbs
    up, so that "liked" and "loved" stay apart. A middling rating is a start
    that was not finished (its progress grows with the rating and stays inside
    the continue-watching band). A low rating is an explicit thumbs down, which
    also pushes similar titles down, as a dislike should.
    """
    x = 5.0 * rating / scale
    if x >= LIKED_FROM - _EPSILON:
        liked: SignalPlan = ((SignalKind.PLAY_START, None), (SignalKind.COMPLETE, None))
        if rating >= scale - _EPSILON:
            return (*liked, (SignalKind.THUMBS_UP, None))
        return liked
    if x >= WATCHED_SOME_FROM - _EPSILON:
        return ((SignalKind.PLAY_START, None), (SignalKind.PROGRESS, round(20.0 * x, 1)))
    return ((SignalKind.PLAY_START, None), (SignalKind.THUMBS_DOWN, None))


def weight_signals(weight: float, *, scale: float = 1.0) -> SignalPlan:
    """The signals one implicit weight (a play count, minutes watched) stands for.

    With x = weight / scale, where ``scale`` is the weight of one whole viewing:

    ==============  =====================================================
    x >= 1          play_start, complete
    0 < x < 1       play_start, progress 100·x percent (at least 0.1)
    x = 0           nothing
    ==============  =====================================================

    Why: an implicit weight is evidence that the profile watched, never that
    it disliked, so it maps to play and completion confidence only; a small
    weight is a short viewing, not a thumbs down (which would also push similar
    titles down). Repeated viewings are repeated rows, each its own play.
    """
    x = weight / scale
    if x >= 1.0 - _EPSILON:
        return ((SignalKind.PLAY_START, None), (SignalKind.COMPLETE, None))
    if x > 0.0:
        return ((SignalKind.PLAY_START, None), (SignalKind.PROGRESS, max(round(100.0 * x, 1), 0.1)))
    return ()


_NAMESPACE_SHA1 = hashlib.sha1(IMPORT_EVENT_NAMESPACE.bytes, usedforsecurity=False)


def import_event_id(*, user: str, item: str, kind: str, time: float, repeat: int = 0) -> uuid.UUID:
    """The client_event_id of one imported signal: the same for the same row, every run.

    The row's time (unix seconds, to the microsecond) is part of it, so a user's
    repeated interactions with one item are separate events; ``repeat`` numbers
    rows of the same user, item and time, in file order (left out when 0).
    Equal to ``uuid.uuid5(IMPORT_EVENT_NAMESPACE, "user\\x1fitem\\x1fkind\\x1fTIME")``
    with TIME formatted ``%.6f`` (and ``"\\x1fREPEAT"`` appended when non-zero);
    hashing from a copy of the namespace's digest state saves a third of the time per event.
    """
    digest = _NAMESPACE_SHA1.copy()
    suffix = f"\x1f{repeat}" if repeat else ""
    digest.update(f"{user}\x1f{item}\x1f{kind}\x1f{time:.6f}{suffix}".encode())
    return uuid.UUID(bytes=digest.digest()[:16], version=5)
