"""Fixtures shared by the profile tests: wrong-PIN limits small enough to spend in a test."""

import time
from collections.abc import Iterator

import pytest
from django.core.cache import caches

from profiles.models import Profile
from profiles.unlock import PinFailureThrottle, WrongPin, profile_unlock

#: A day's budget a test can spend in three wrong PINs (the minute's is larger, so the
#: lock that follows is the day's, the one only a reset or the next UTC day lifts).
DAILY_CAP = 3


class PinLimits:
    """Spends profiles' wrong-PIN budgets in the real (Redis) cache, and forgets them after."""

    def __init__(self) -> None:
        self.profiles: list[Profile] = []

    def spend_the_day(self, profile: Profile) -> None:
        self.profiles.append(profile)
        caches["default"].delete_many(PinFailureThrottle(profile).keys())
        for _ in range(DAILY_CAP):
            with pytest.raises(WrongPin):
                profile_unlock(profile=profile, pin="0000")

    def forget(self) -> None:
        for profile in self.profiles:
            # The profile as spent, and as it is now (a changed PIN may have new counters).
            for version in (profile, Profile.objects.filter(pk=profile.pk).first()):
                if version is not None:
                    caches["default"].delete_many(PinFailureThrottle(version).keys())


@pytest.fixture
def pin_limits(settings, monkeypatch) -> Iterator[PinLimits]:
    """5 wrong PINs a minute and 3 a day, on a clock that stands still.

    The clock is now's, so the counters expire as real ones would; standing still
    keeps a slow test from crossing a minute's end.
    """
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "pin_unlock": "5/min",
            "pin_unlock_day": f"{DAILY_CAP}/day",
        },
    }
    now = time.time()
    monkeypatch.setattr(PinFailureThrottle, "timer", lambda self: now)
    limits = PinLimits()
    yield limits
    limits.forget()
