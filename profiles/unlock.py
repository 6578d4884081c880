"""Unlocking PIN-protected profiles: a short-lived signed token instead of the PIN on every call.

A client asks for the PIN once (``POST /profiles/{id}/unlock/``) and sends the
returned token as ``X-Profile-Unlock`` on the profile's homepage,
recommendations and signals. The token is signed with the project's secret
(:class:`django.core.signing.TimestampSigner`), so checking it needs no
database or cache read on the homepage's hot path. It names the profile and a
fingerprint of the PIN's stored hash: a token never opens another profile,
and changing or removing the PIN invalidates every token issued under the old
one.

Wrong PINs are rate-limited per profile (not per client): four digits are
10,000 guesses, and a thief with many devices must not get many budgets.
Only failures count, so a household that types its PIN correctly is never
slowed down.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core import signing
from django.core.cache import caches
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from .models import Profile

UNLOCK_HEADER = "X-Profile-Unlock"
_META_HEADER = "HTTP_X_PROFILE_UNLOCK"
_SALT = "profiles.unlock"
DEFAULT_UNLOCK_SECONDS = 3600


class ProfileLocked(exceptions.PermissionDenied):
    default_code = "profile_locked"
    default_detail = (
        f"This profile is protected by a PIN: unlock it with POST /api/v1/profiles/<id>/unlock/ "
        f"and send the returned token in the {UNLOCK_HEADER} header."
    )


class WrongPin(exceptions.PermissionDenied):
    default_code = "wrong_pin"
    default_detail = "Wrong PIN."


def unlock_seconds() -> int:
    return int(settings.TONIGHT.get("PROFILE_UNLOCK_SECONDS", DEFAULT_UNLOCK_SECONDS))


def _fingerprint(profile: Profile) -> str:
    return hashlib.sha256(profile.pin_hash.encode()).hexdigest()[:16]


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


class PinFailureThrottle(SimpleRateThrottle):
    """Counts wrong PINs per profile in the cache (scope ``pin_unlock``, e.g. 5/min).

    Unlike DRF's throttles it does not count every request: the view asks
    :meth:`blocked` before checking the PIN and calls :meth:`record_failure`
    after a wrong one.
    """

    scope = "pin_unlock"

    def __init__(self, profile_id: int) -> None:
        self.cache = caches["default"]
        super().__init__()
        self.key = f"throttle_pin_unlock_profile_{profile_id}"

    def get_cache_key(self, request: Request, view: object) -> str:
        return self.key

    def _recent(self) -> list[float]:
        now = self.timer()
        return [t for t in self.cache.get(self.key, []) if t > now - self.duration]

    def blocked(self) -> bool:
        self.now = self.timer()
        self.history = self._recent()
        return len(self.history) >= self.num_requests

    def record_failure(self) -> None:
        self.now = self.timer()
        history = [self.now, *self._recent()]
        self.cache.set(self.key, history, self.duration)


def profile_unlock(*, profile: Profile, pin: str) -> tuple[str, int]:
    """Check the PIN and return ``(token, expires_in_seconds)``.

    Raises
    ------
    rest_framework.exceptions.Throttled
        After too many wrong PINs for this profile.
    WrongPin
    """
    throttle = PinFailureThrottle(profile.pk)
    if throttle.blocked():
        raise exceptions.Throttled(
            wait=throttle.wait(), detail="Too many wrong PINs for this profile; try again later."
        )
    if not profile.has_pin:
        # Nothing to unlock; a token is still issued so clients need no special case.
        return _signer().sign(f"{profile.pk}:"), unlock_seconds()
    if not profile.check_pin(pin):
        throttle.record_failure()
        raise WrongPin()
    return _signer().sign(f"{profile.pk}:{_fingerprint(profile)}"), unlock_seconds()


def profile_unlock_check(*, request: Request, profile: Profile) -> None:
    """Refuse (403) a request for a PIN-protected profile without a valid unlock token."""
    if not profile.has_pin:
        return
    token = request.META.get(_META_HEADER, "")
    if not token:
        raise ProfileLocked()
    try:
        value = _signer().unsign(token, max_age=unlock_seconds())
    except signing.SignatureExpired as expired:
        raise ProfileLocked(
            f"The unlock token has expired; unlock the profile again ({UNLOCK_HEADER})."
        ) from expired
    except signing.BadSignature as bad:
        raise ProfileLocked(f"The {UNLOCK_HEADER} token is not valid.") from bad
    if value != f"{profile.pk}:{_fingerprint(profile)}":
        raise ProfileLocked(
            f"The {UNLOCK_HEADER} token does not unlock this profile (or its PIN has changed)."
        )
