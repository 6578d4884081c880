"""Release dates pinned to the plays a test dates them against, never to the wall clock.

A season is out from midnight UTC of its ``release_date``, and ingest, the fold and its
refolds take an episode as out if it was released up to the clock skew they allow after
a play's stamp. So "out since yesterday" against a play "two days ago" holds only until
the play, plus that skew, crosses yesterday's midnight: from 23:55 UTC, or once a run
crosses midnight after a module dated its plays from an earlier ``timezone.now()``.
Dating the release from the play itself holds at any time of day.
"""

import datetime as dt

from recommendations.selectors.signals import signal_clock_skew


def first_release_after(played: dt.datetime) -> dt.date:
    """The earliest release date whose season was not out for a play at ``played``.

    Midnight UTC of the day after ``played`` plus the clock skew: a play stamped up to
    the skew before a release counts as after it. At most a day and the skew after
    ``played``, so a play at least that long ago leaves the season out today.
    """
    return (played + signal_clock_skew()).astimezone(dt.UTC).date() + dt.timedelta(days=1)
