"""Unlocking PIN-protected profiles: a short-lived signed token instead of the PIN on every call.

A client asks for the PIN once (``POST /profiles/{id}/unlock/``) and sends the
returned token as ``X-Profile-Unlock`` on the profile's homepage,
recommendations and signals. The token is signed with the project's secret
(:class:`django.core.signing.TimestampSigner`), so checking it needs no
database or cache read on the homepage's hot path. It names the profile and a
fingerprint of the PIN's stored hash: a token never opens another profile,
and changing or removing the PIN invalidates every token issued under the old
one. It also names the profile's ``unlock_generation``, which locking the
profile again (``DELETE /profiles/{id}/unlock/``,
:func:`profiles.services.profile_unlocks_end`) raises: that ends every
outstanding token of the profile, on every device, before its hour is up,
without touching the PIN. Both are columns of the profile row that the request
reads anyway (with the API token, :mod:`profiles.authentication`), so the
check still costs no query.

Wrong PINs are rate-limited per profile (not per client): four digits are
10,000 guesses, and a thief with many devices must not get many budgets.
Only failures count, so a household that types its PIN correctly is not
slowed down until someone has used up the budget: then the right PIN is
refused too until the window passes (the 429's ``Retry-After`` says when;
with the daily cap spent, that is the next UTC day). That is the price of a
per-profile budget: a per-client one would let a thief with many devices
guess on. The limit is
counted atomically before the PIN is checked (:class:`PinFailureThrottle`),
so concurrent guesses cannot exceed it.

So that a household is never stuck until the next day, the lock lifts two
other ways: a new PIN has a budget of its own (the counters are the PIN's,
see :class:`PinFailureThrottle`), and support can clear the counters from the
profile's admin page (``profiles.services.profile_pin_lock_lift``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.views.decorators.debug import sensitive_variables
from redis.exceptions import RedisError
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from catalog.models import MaturityLevel
from config.cache_scripts import cache_script_run

from .models import GUARDIAN_MATURITY_LIMIT, Profile
from .selectors import profile_guardians

UNLOCK_HEADER = "X-Profile-Unlock"
_META_HEADER = "HTTP_X_PROFILE_UNLOCK"
_SALT = "profiles.unlock"
DEFAULT_UNLOCK_SECONDS = 3600
DEFAULT_DAILY_RATE = "20/day"


class ProfileLocked(exceptions.PermissionDenied):
    default_code = "profile_locked"
    default_detail = (
        f"This profile is protected by a PIN: unlock it with POST /api/v1/profiles/<id>/unlock/ "
        f"and send the returned token in the {UNLOCK_HEADER} header."
    )


class WrongPin(exceptions.PermissionDenied):
    default_code = "wrong_pin"
    default_detail = "Wrong PIN."


#: How long a client waits before trying a PIN again while the cache is down (``Retry-After``):
#: a Redis that restarts is back in seconds, and a call to one that is down fails in 2.
PIN_CHECKS_RETRY_SECONDS = 10


class PinChecksUnavailable(exceptions.APIException):
    """The cache that counts wrong PINs is unreachable: no PIN is checked uncounted.

    Letting PINs through uncounted would let a guesser try all 10,000 while Redis is
    down; refusing with a 503 (in the API's error shape, not an HTML 500) tells the
    client to try again shortly.
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "pin_checks_unavailable"
    wait = PIN_CHECKS_RETRY_SECONDS  # DRF's handler answers it as Retry-After
    default_detail = "PIN checks are unavailable for a moment; try again shortly."


def unlock_seconds() -> int:
    return int(settings.TONIGHT.get("PROFILE_UNLOCK_SECONDS", DEFAULT_UNLOCK_SECONDS))


def _fingerprint(profile: Profile) -> str:
    return hashlib.sha256(profile.pin_hash.encode()).hexdigest()[:16]


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


def _token_subject(profile: Profile) -> str:
    """What an unlock token of ``profile`` signs, and what one must sign to open it now.

    The generation is left out while it is 0, as tokens were signed before
    profiles could be locked again: those a device held when that release was
    deployed keep their hour, until the profile's first lock ends them. It is
    not in the fingerprint, which also keys the wrong-PIN counters
    (:class:`PinFailureThrottle`): locking again must not give a guesser a new
    budget.
    """
    subject = f"{profile.pk}:{_fingerprint(profile)}"
    return f"{subject}:{profile.unlock_generation}" if profile.unlock_generation else subject


@dataclass(frozen=True)
class PinWindow:
    """One window of a profile's wrong-PIN budget as it stands now."""

    limit: int
    seconds: int
    used: int
    ends_at: dt.datetime

    @property
    def full(self) -> bool:
        return self.used >= self.limit


#: Attempts at counting a PIN attempt whose window's key is deleted under it (``_count``,
#: on a cache other than Redis).
_COUNT_TRIES = 3

#: Counts one attempt in a window (``KEYS[1]``), and returns the count with the window's
#: generation (``KEYS[2]``): the token that tells the attempts counted since the window's
#: count was last made afresh from those counted before it. A count made afresh (1: made
#: again after support's lift deleted it, or back from 0, when no counted attempt waits to
#: give its place back) starts a new generation, ``ARGV[2]``, a token no earlier one had.
#: A count or generation without an expiry (kept by a release before expiries were always
#: set) is given one (``ARGV[1]`` seconds). One script, so nothing runs between the steps:
#: a count that the lift deleted is made afresh, and never left to be kept for ever. TTL
#: rather than ``EXPIRE ... NX``, which Redis 6 lacks.
_COUNT_SCRIPT = """
local used = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
end
local generation = redis.call('GET', KEYS[2])
if used == 1 or not generation then
    generation = ARGV[2]
    redis.call('SET', KEYS[2], generation, 'EX', ARGV[1])
elseif redis.call('TTL', KEYS[2]) < 0 then
    redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return {used, generation}
"""

#: Gives one place back in a window (``KEYS[1]``) if the attempt was counted in the
#: window's present generation (``KEYS[2]`` holds ``ARGV[1]``): after support's lift the
#: count is another one, whose places are attempts made since, and a right PIN counted
#: before the lift must not take a wrong one's. A count deleted meanwhile is not made again
#: (at -1, without an expiry, as Django's EXISTS then INCRBY did when the lift landed
#: between them), and none goes below 0. DECR keeps the expiry.
_GIVE_BACK_SCRIPT = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
    return false
end
local used = tonumber(redis.call('GET', KEYS[1]))
if used and used > 0 then
    return redis.call('DECR', KEYS[1])
end
return used
"""


class PinFailureThrottle(SimpleRateThrottle):
    """Counts PIN attempts per profile *and PIN* in fixed cache windows, atomically.

    Two windows: the short rate (scope ``pin_unlock``, e.g. 5/min) and a daily
    cap (``pin_unlock_day``, default 20/day) that makes guessing a four-digit
    PIN take months rather than the ~17 hours 5/min alone allows.

    An attempt takes its place in each window *before* the PIN is checked
    (:meth:`take`: one Redis script, an INCR that also sets the expiry),
    because the check is a slow hash: a count read first and written after
    let every guess that arrived during others' hashing through, and lost
    counts when their writes crossed. A right PIN gives its places back
    (:meth:`give_back`), so only failures count against the household; only
    where it was counted, though: each count has a generation beside it, which
    support's lift (:meth:`clear`) deletes with it, and an attempt counted
    before the lift gives nothing back to the count made after it, whose places
    are the attempts made since (a wrong PIN's among them).
    Fixed windows allow a burst of twice the short rate across a boundary;
    the daily cap bounds that.

    The keys name the fingerprint of the PIN's stored hash, so a changed or
    removed-and-set-again PIN starts with an empty budget: a household locked
    out for the day by guesses at the old PIN can unlock with the new one.
    That is done here rather than by clearing the counters in the services
    that set a PIN, because then every way a PIN is set (the API, the admin,
    a shell) gets it without having to remember to; nothing is written to the
    cache inside the service's transaction, whose rollback could not take it
    back (the lock lifted, the PIN unchanged); and the old counters simply
    expire. It widens no guesser's budget: replacing a PIN-protected profile's
    PIN needs its unlock or a guardian's, so whoever can do it need not
    guess. Nor does it reveal anything: the fingerprint is already in every
    unlock token a client holds.
    """

    scope = "pin_unlock"
    daily_scope = "pin_unlock_day"

    def __init__(self, profile: Profile) -> None:
        self.cache = caches["default"]
        super().__init__()
        self.profile_id = profile.pk
        self.fingerprint = _fingerprint(profile)
        daily = api_settings.DEFAULT_THROTTLE_RATES.get(self.daily_scope, DEFAULT_DAILY_RATE)
        self.windows = [(self.num_requests, self.duration), self.parse_rate(daily)]
        #: The windows this attempt was counted in, each with its generation there (None
        #: on a cache other than Redis).
        self.taken: list[tuple[str, str | None]] = []

    def get_rate(self) -> str:
        # Read now rather than at import, so that a changed setting applies.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def _key(self, window: int, duration: int, now: float) -> str:
        # The window's place, not only its length: both rates come from the environment,
        # and a short rate of 3/day beside the daily cap shared the cap's key, so each
        # wrong PIN was counted twice in one count.
        return (
            f"throttle_pin_unlock_profile_{self.profile_id}_{self.fingerprint}"
            f"_w{window}_{duration}_{int(now // duration)}"
        )

    @staticmethod
    def _generation_key(key: str) -> str:
        return f"{key}_generation"

    def keys(self, now: float | None = None) -> list[str]:
        """The cache keys of the windows ``now`` falls in (default: the throttle's clock)."""
        now = self.timer() if now is None else now
        return [self._key(w, duration, now) for w, (_, duration) in enumerate(self.windows)]

    def state(self, now: float | None = None) -> list[PinWindow]:
        """How much of each window's budget is used at ``now`` (default: the throttle's clock).

        Attempts being checked are included.
        """
        now = self.timer() if now is None else now
        keys = self.keys(now)
        used = self.cache.get_many(keys)
        return [
            PinWindow(
                limit=limit,
                seconds=duration,
                used=used.get(key) or 0,
                ends_at=dt.datetime.fromtimestamp(now - now % duration + duration, tz=dt.UTC),
            )
            for key, (limit, duration) in zip(keys, self.windows, strict=True)
        ]

    def clear(self) -> None:
        """Forget the present windows' attempts: the profile has its whole budget again.

        The windows' counts and their generations go in one ``DEL``. An attempt
        being checked meanwhile gives back nothing, so the new budget starts full,
        not above it: on Redis its generation is gone (:data:`_GIVE_BACK_SCRIPT`),
        so even a right PIN giving back after a wrong one was counted in the new
        budget leaves the wrong one counted. One being counted meanwhile is counted
        in the new budget (:meth:`_count`). On another cache (the demo's
        per-process one) there are no generations, and such a right PIN takes the
        wrong one's place.
        """
        keys = self.keys()
        self.cache.delete_many([*keys, *map(self._generation_key, keys)])

    def take(self) -> None:
        """Count one attempt in every window, or raise Throttled if one is already full.

        A refused attempt stops at the first full window, so a burst refused by
        the short rate does not also spend the daily budget.
        """
        now = self.timer()
        for key, (limit, duration) in zip(self.keys(now), self.windows, strict=True):
            try:
                used, generation = self._count(key, duration)
            except RedisError as error:
                raise PinChecksUnavailable() from error
            if used > limit:
                raise exceptions.Throttled(
                    wait=self._wait(now, refused=duration),
                    detail="Too many wrong PINs for this profile; try again later.",
                )
            self.taken.append((key, generation))

    def _count(self, key: str, duration: int) -> tuple[int, str | None]:
        """Add one attempt to the window's count at ``key``; the count with it, and the
        generation it was counted in (None on a cache other than Redis).

        Twice the window, so the count outlives the window it counts. On Redis,
        one script (:data:`_COUNT_SCRIPT`): Django's ``incr`` is an EXISTS then
        an INCRBY, and support's lift landing between them left a count that
        INCRBY made again without an expiry, kept for ever.

        On another cache (the demo's per-process one), ``add`` then ``incr``: the
        key cannot expire between them while its window is current, but support
        lifting the lock (:meth:`clear`) can delete it in between, and Django's
        incr of a missing key is an error (it was a 500 for the attempt). The
        attempt is then counted afresh, in the budget as it now is.
        """
        if isinstance(self.cache, RedisCache):
            used, generation = self._run(
                _COUNT_SCRIPT, [key, self._generation_key(key)], 2 * duration, secrets.token_hex(8)
            )
            return int(used), generation.decode()
        for _ in range(_COUNT_TRIES):
            self.cache.add(key, 0, timeout=2 * duration)
            with contextlib.suppress(ValueError):
                return self.cache.incr(key), None
        # Deleted under every try: the attempt cannot be counted, so it is not checked.
        raise PinChecksUnavailable()

    def _run(self, script: str, keys: list[str], *args: int | str) -> Any:
        """Run a Lua ``script`` on the Redis cache with the cache's keys for ``keys``.

        The cache's own keys, so support's lift, which deletes through the cache, deletes
        what this counts. A window's count and generation are always on one server.
        """
        return cache_script_run(cache=self.cache, script=script, keys=keys, args=args)

    def _wait(self, now: float, *, refused: int) -> float:
        """Seconds until an attempt can pass every window: the end of the last full one.

        Not the end of the window that refused this attempt: with the daily cap
        spent, refusals still fill the short window, and a client told to come
        back in a minute came back to be told of the day. At least the end of
        the ``refused`` window (its duration): right PINs giving their places
        back between the refusal's count and this read can leave no window full.
        """
        until = pin_lock_until(self.state(now))
        return refused - now % refused if until is None else until.timestamp() - now

    def give_back(self) -> None:
        """Return the places :meth:`take` counted: the attempt was not a wrong PIN."""
        on_redis = isinstance(self.cache, RedisCache)
        for key, generation in self.taken:
            # A window that expired or was lifted meanwhile has nothing to give back; a
            # cache gone since the attempt was counted keeps one place spent, not the right
            # PIN refused.
            with contextlib.suppress(ValueError, RedisError):
                if on_redis:
                    self._run(_GIVE_BACK_SCRIPT, [key, self._generation_key(key)], generation)
                else:
                    self.cache.decr(key)
        self.taken = []


def pin_lock_until(windows: list[PinWindow]) -> dt.datetime | None:
    """The end of the last full window: when the right PIN passes again (None: it does now).

    One rule for the 429's wait, the admin's lock line and the lift's log entry.
    """
    return max((window.ends_at for window in windows if window.full), default=None)


def profile_pin_lock_until(*, profile: Profile) -> dt.datetime | None:
    """When the right PIN will be accepted again, None if it is now (or there is no PIN)."""
    if not profile.has_pin:
        return None
    return pin_lock_until(PinFailureThrottle(profile).state())


@sensitive_variables("pin")
def profile_unlock(*, profile: Profile, pin: str) -> tuple[str, int]:
    """Check the PIN and return ``(token, expires_in_seconds)``.

    Raises
    ------
    rest_framework.exceptions.Throttled
        After too many wrong PINs for this profile.
    WrongPin
    """
    if not profile.has_pin:
        # Nothing to unlock, nothing to guess; a token is still issued so clients
        # need no special case.
        return _signer().sign(f"{profile.pk}:"), unlock_seconds()
    throttle = PinFailureThrottle(profile)
    throttle.take()
    if not profile.check_pin(pin):
        raise WrongPin()
    throttle.give_back()
    return _signer().sign(_token_subject(profile)), unlock_seconds()


def _token_value(request: Request) -> str | None:
    """The header's signed value (:func:`_token_subject`), None without a header.

    Raises
    ------
    ProfileLocked
        For an expired or forged token.
    """
    token = request.META.get(_META_HEADER, "")
    if not token:
        return None
    try:
        return _signer().unsign(token, max_age=unlock_seconds())
    except signing.SignatureExpired as expired:
        raise ProfileLocked(
            f"The unlock token has expired; unlock the profile again ({UNLOCK_HEADER})."
        ) from expired
    except signing.BadSignature as bad:
        raise ProfileLocked(f"The {UNLOCK_HEADER} token is not valid.") from bad


def _opens(value: str | None, profile: Profile) -> bool:
    return value == _token_subject(profile)


def profile_unlock_check(*, request: Request, profile: Profile) -> None:
    """Refuse (403) a request for a PIN-protected profile without a valid unlock token."""
    if not profile.has_pin:
        return
    value = _token_value(request)
    if value is None:
        # The profile's own path, as the client sends it, rather than a template's "<id>".
        raise ProfileLocked(
            f"This profile is protected by a PIN: unlock it with POST "
            f"/api/v1/profiles/{profile.pk}/unlock/ and send the returned token in the "
            f"{UNLOCK_HEADER} header."
        )
    if not _opens(value, profile):
        raise ProfileLocked(
            f"The {UNLOCK_HEADER} token does not unlock this profile (or its PIN has changed, "
            "or the profile has been locked again since)."
        )


class GuardianUnlockRequired(exceptions.PermissionDenied):
    default_code = "guardian_unlock_required"
    default_detail = (
        "Adding a profile other than a kids profile for all ages (maturity_limit 0), or "
        "lifting a profile's restrictions "
        "(turning kids off, raising the maturity limit, giving an adult profile a PIN), needs "
        "the unlock token of a PIN-protected, unrestricted (18+, not kids) profile of this "
        f"account, in {UNLOCK_HEADER}."
    )


def profile_guardian_check(*, request: Request, account_id: int) -> None:
    """Refuse (403) unless the request carries a guardian's unlock.

    Every device of a household holds the same account token, so the only
    credential that tells a parent from a child is a profile's PIN. A guardian
    (:func:`is_guardian`) is an unrestricted profile of the account with a PIN; lifting
    a restriction, or adding an unrestricted profile, needs one's unlock, so a
    kids device cannot undo its own limits. A household with no guardian has
    no such credential, and nothing more is asked than a PIN-protected
    profile's own unlock (see the README's API notes).
    """
    guardians = profile_guardians(account_id=account_id)
    if guardians:
        _require_guardian(request, guardians)


def _require_guardian(request: Request, guardians: list[Profile]) -> None:
    value = _token_value(request)
    if not any(_opens(value, guardian) for guardian in guardians):
        raise GuardianUnlockRequired()


def is_guardian(*, has_pin: bool, is_kids: bool, maturity_limit: int) -> bool:
    """Whether a profile with these settings can lift others' restrictions.

    It needs a PIN (the only credential a household's devices do not share)
    and must itself be unrestricted: a teen profile with a PIN is no guardian,
    or its device could lift its own limit and a sibling's.
    """
    return has_pin and not is_kids and maturity_limit >= GUARDIAN_MATURITY_LIMIT


def _lifts_restrictions(profile: Profile, changes: Mapping[str, Any]) -> bool:
    """Turning kids off, raising the limit, or making the profile a guardian.

    Becoming a guardian counts: otherwise any device could give an adult
    profile without a PIN (its own, or a restricted one raised) a PIN of its
    choosing and then lift what it likes with that profile's unlock.
    """
    turns_kids_off = profile.is_kids and changes.get("is_kids") is False
    raises_limit = changes.get("maturity_limit", profile.maturity_limit) > profile.maturity_limit
    after = is_guardian(
        has_pin=bool(changes["pin"]) if "pin" in changes else profile.has_pin,
        is_kids=changes.get("is_kids", profile.is_kids),
        maturity_limit=changes.get("maturity_limit", profile.maturity_limit),
    )
    return turns_kids_off or raises_limit or (after and not _guardian(profile))


def _guardian(profile: Profile) -> bool:
    return is_guardian(
        has_pin=profile.has_pin, is_kids=profile.is_kids, maturity_limit=profile.maturity_limit
    )


@sensitive_variables("changes")
def profile_change_check(
    *, request: Request, profile: Profile, changes: Mapping[str, Any] | None = None
) -> None:
    """Refuse (403) a change (``changes``) or deletion (None) the request may not make.

    A PIN-protected profile needs its own unlock, whatever the change: without
    it its PIN could be removed or replaced, or the profile deleted, by any
    device of the household. A change that lifts a restriction of a profile
    that is not itself a guardian, or makes it one, needs a guardian's unlock
    instead when the household has one (:func:`profile_guardian_check`): a
    kids or teen profile's own unlock does not lift its own limits. A
    guardian's unlock also opens, for any change or deletion, a profile that
    is not a guardian: otherwise a child who gave its own profile a PIN would
    lock the parent out of restricting it, removing the PIN or deleting it. A
    guardian's unlock opens no other guardian's profile.
    """
    if not _guardian(profile):
        lifts = changes is not None and _lifts_restrictions(profile, changes)
        if lifts or profile.has_pin:
            guardians = profile_guardians(account_id=profile.account_id)
            if guardians and lifts:
                _require_guardian(request, guardians)
                return
            value = _token_value(request) if guardians else None
            if any(_opens(value, guardian) for guardian in guardians):
                return
    profile_unlock_check(request=request, profile=profile)


def profile_create_check(
    *, request: Request, account_id: int, is_kids: bool, maturity_limit: int | None
) -> None:
    """Refuse (403) adding any profile but a kids profile for all ages without a guardian's unlock.

    A new profile is judged as a change from the most restricted one there is (kids,
    all ages): otherwise a kids device whose own limit a guardian keeps at all ages
    could not raise it, but could add a kids profile at 7+ (a kids profile's default)
    beside it and watch there. ``maturity_limit`` None is the service's default.
    """
    if not (is_kids and maturity_limit == MaturityLevel.ALL):
        profile_guardian_check(request=request, account_id=account_id)
