"""State changes for profiles. The five-profile limit is decided here, under a row lock."""

import datetime as dt
import functools
import logging
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.views.decorators.debug import sensitive_variables

from accounts.models import Account
from catalog.models import Language, MaturityLevel
from config.admin_history import admin_history_forget

from .models import KIDS_MATURITY_CAP, MAX_PROFILES_PER_ACCOUNT, NAME_TAKEN_MESSAGE, Profile
from .selectors import profile_get, profile_orphan_ids, profile_unchecked_relations
from .unlock import PinFailureThrottle, profile_pin_lock_until

logger = logging.getLogger(__name__)

LIMIT_MESSAGE = f"An account can have at most {MAX_PROFILES_PER_ACCOUNT} profiles."


def _validated(profile: Profile) -> Profile:
    """The profile, or a ValidationError keyed by the field at fault.

    ``full_clean()`` checks the constraints before the write, so a clash is a
    400 rather than a 500; but Django files a clash on an expression
    (``Lower("name")``) under ``__all__``, and a client should be told "name".
    """
    try:
        profile.full_clean()
    except ValidationError as error:
        errors = error.message_dict
        whole = errors.pop(NON_FIELD_ERRORS, [])
        if NAME_TAKEN_MESSAGE in whole:
            errors.setdefault("name", []).append(NAME_TAKEN_MESSAGE)
            whole = [message for message in whole if message != NAME_TAKEN_MESSAGE]
        if whole:
            errors[NON_FIELD_ERRORS] = whole
        raise ValidationError(errors) from None
    return profile


def profile_name_composed(name: str) -> str:
    """The name in Unicode's composed form (NFC), as every profile's is stored.

    One keyboard sends "ë" (or a Hangul syllable) as one code point, another as its
    parts; compared as sent, the two were different names, and the picker showed two
    profiles of one name, which the name's uniqueness in the household is there to
    prevent. Composed alike, they clash.
    """
    return unicodedata.normalize("NFC", name)


def _constraint_error(exc: IntegrityError) -> ValidationError:
    """The field error for a write the database refused, named by the constraint it broke.

    Reached only when a concurrent write slipped between validation and the
    write (the account row lock makes that rare); never a 500 for it.
    """
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
    if constraint == "profile_name_unique_in_account":
        return ValidationError({"name": NAME_TAKEN_MESSAGE}, code="unique")
    if constraint in ("profile_account_slot_unique", "profile_slot_within_limit"):
        return ValidationError({"account": LIMIT_MESSAGE}, code="profile_limit")
    raise exc


def _save(profile: Profile, *, update_fields: Iterable[str] | None = None) -> None:
    """Validate and write ``profile``; a clash caught by either check is a field error.

    Creating and updating refuse the same clashes the same way: validation
    first, then the database's constraints in a savepoint, translated by
    :func:`_constraint_error`.
    """
    _validated(profile)
    try:
        with transaction.atomic():
            profile.save(update_fields=update_fields)
    except IntegrityError as exc:
        raise _constraint_error(exc) from exc


@sensitive_variables("pin")
@transaction.atomic
def profile_create(
    *,
    account: Account,
    name: str,
    is_kids: bool = False,
    maturity_limit: int | None = None,
    display_language: Language | None = None,
    preferred_languages: Iterable[Language] = (),
    pin: str | None = None,
) -> Profile:
    """Create a profile in the account's lowest free slot.

    Locking the account row serialises concurrent creations for one household,
    so two requests racing for the fifth slot see each other; the unique
    (account, slot) constraint with slots bounded 1-5 is the database's own
    backstop should anything bypass this function.
    """
    Account.objects.select_for_update().only("pk").get(pk=account.pk)
    taken = set(Profile.objects.filter(account=account).values_list("slot", flat=True))
    free = [s for s in range(1, MAX_PROFILES_PER_ACCOUNT + 1) if s not in taken]
    if not free:
        raise ValidationError({"account": LIMIT_MESSAGE}, code="profile_limit")

    if maturity_limit is None:
        maturity_limit = KIDS_MATURITY_CAP if is_kids else MaturityLevel.EIGHTEEN
    profile = Profile(
        account=account,
        slot=free[0],
        name=profile_name_composed(name),
        is_kids=is_kids,
        maturity_limit=maturity_limit,
        display_language=display_language,
    )
    profile.set_pin(pin)
    _save(profile)
    if preferred_languages:
        profile.preferred_languages.set(preferred_languages)
    return profile


_UNSET = object()


@sensitive_variables("pin")
@transaction.atomic
def profile_update(
    *,
    profile: Profile,
    name: str | None = None,
    is_kids: bool | None = None,
    maturity_limit: int | None = None,
    display_language: Language | object | None = _UNSET,
    preferred_languages: Iterable[Language] | None = None,
    pin: str | object | None = _UNSET,
) -> Profile:
    """Change the given fields only; ``pin=None`` removes the PIN, leaving it out keeps it.

    The account row is locked as in :func:`profile_create`, so two renames to
    one name see each other: the second is told "name", not a 500. Only the
    fields given are written: a retrain moves profiles to another taste
    cluster without the account's lock, and the admin reads the profile
    before taking it; a whole-row save wrote what they read back over a
    cluster move, or a guardian's new PIN, committed meanwhile.
    """
    Account.objects.select_for_update().only("pk").get(pk=profile.account_id)
    changed: list[str] = []
    if name is not None:
        profile.name = profile_name_composed(name)
        changed.append("name")
    if is_kids is not None:
        profile.is_kids = is_kids
        changed.append("is_kids")
        if is_kids and maturity_limit is None and profile.maturity_limit > KIDS_MATURITY_CAP:
            profile.maturity_limit = KIDS_MATURITY_CAP
            changed.append("maturity_limit")
    if maturity_limit is not None:
        profile.maturity_limit = maturity_limit
        changed.append("maturity_limit")
    if display_language is not _UNSET:
        profile.display_language = display_language
        changed.append("display_language")
    if pin is not _UNSET:
        profile.set_pin(pin)
        changed.append("pin_hash")
    if changed:
        _save(profile, update_fields=set(changed))
    if preferred_languages is not None:
        profile.preferred_languages.set(preferred_languages)
    return profile


@contextmanager
def profile_change_locked(*, account: Account, profile_id: int) -> Iterator[Profile]:
    """The account's profile (404 if not its), read afresh under the account's row lock.

    For a change or deletion that is checked against the profile first
    (:func:`profiles.unlock.profile_change_check`): the check, and the write
    that follows it in the block, must see the profile as it is. Read before
    the lock, a guardian's change committed meanwhile (a PIN set, kids turned
    on) went unchecked, and the device's rename wrote the whole stale row back
    over it. The lock is the one :func:`profile_create` and
    :func:`profile_update` take, so one household's profile changes happen one
    after another; the block is one transaction.
    """
    with transaction.atomic():
        Account.objects.select_for_update().only("pk").get(pk=account.pk)
        yield profile_get(account=account, profile_id=profile_id)


@contextmanager
def profile_create_locked(*, account: Account) -> Iterator[None]:
    """The account's row lock for a new profile's check and its creation, in one transaction.

    The check (:func:`profiles.unlock.profile_create_check`) reads the household's
    guardians; made before the lock, a guardian's PIN or lock-again committed between
    it and :func:`profile_create` went unchecked, though the creation waited for it.
    """
    with transaction.atomic():
        Account.objects.select_for_update().only("pk").get(pk=account.pk)
        yield


@transaction.atomic
def profile_delete(*, profile: Profile) -> None:
    """Delete a profile with its signals; its slot becomes free for a new one.

    The profile's row is locked first, as a signal batch locks it: a batch being
    stored is waited for, and then deleted with the rest. Deleted first, the
    signals and title states a batch was writing meanwhile were not yet visible
    to the deletion: its signals outlived the profile, and its states refused
    the deletion's commit. A batch that comes after the lock finds no profile.
    A page logged meanwhile is swept once the deletion commits
    (:func:`profiles_left_behind_delete`). Admin's history keeps no name of it
    (:func:`config.admin_history.admin_history_forget`).
    """
    list(Profile.objects.select_for_update().filter(pk=profile.pk).values_list("pk"))
    transaction.on_commit(functools.partial(profiles_left_behind_delete, profile_ids=[profile.pk]))
    admin_history_forget(objects=[profile], parent=(Account, profile.account_id))
    profile.delete()


def profiles_left_behind_delete(*, profile_ids: list[int]) -> None:
    """Delete what was written for these deleted profiles beside their deletion.

    For after the deletion commits. The tables that keep no foreign key to the
    profile (the signal and page logs: their hot inserts pay for no trigger) cannot
    refuse a row whose profile is being deleted. A homepage does not lock the
    profile: its page log insert stores a row only while the profile exists, and
    until the deletion commits it does; such a page, inserted after the deletion's
    DELETE of the profile's pages (before the profile's row, its signals and states),
    outlived the profile until the page log's prune, 90 days. One statement per table,
    on the index that leads with the profile; nothing is found almost always. Only an
    insert that began before the deletion's commit and ends after this sweep can still
    leave its page behind, until the nightly prune's sweep (:func:`profile_orphans_prune`).
    """
    for model, field in profile_unchecked_relations():
        model._base_manager.filter(**{f"{field.attname}__in": profile_ids}).delete()


#: Rows of deleted profiles deleted per statement by :func:`profile_orphans_prune`.
ORPHANS_PRUNE_BATCH = 5000


def profile_orphans_prune(
    *,
    batch_size: int | None = None,
    ids_batch: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[type[models.Model], int]:
    """Delete the signals and pages of profiles that no longer exist; how many of each went.

    Before December 2026's fixes a batch stored, or a page logged, while its profile was
    deleted outlived the profile (docs/signals.md): pages until their prune, signals for
    good, in every retrain's reads. :func:`profiles_left_behind_delete` now sweeps each
    deletion's; this finds the older ones, by the deleted ids
    (:func:`~profiles.selectors.profile_orphan_ids`), and deletes their rows at most
    ``batch_size`` per statement through the index that leads with the profile. Called
    outside a transaction, each statement commits on its own: a 10M-row log is never
    locked or held in one transaction, and a stopped run keeps what it deleted.

    Each ``DELETE`` checks again, in its own snapshot, that the profile does not exist,
    so a row is only deleted if, at that moment, it is visible and its profile is not;
    as a profile's rows are written only once it exists, that is a deleted profile's row.
    """
    size = int(batch_size or ORPHANS_PRUNE_BATCH)
    relations = profile_unchecked_relations()
    report = progress or (lambda fraction: None)
    deleted: dict[type[models.Model], int] = {}
    for done, (model, field) in enumerate(relations):
        manager = model._base_manager
        deleted[model] = 0
        for ids, walked in profile_orphan_ids(model=model, field=field, ids_batch=ids_batch):
            orphans = manager.filter(**{f"{field.attname}__in": ids}).filter(
                ~Exists(Profile.objects.filter(pk=OuterRef(field.attname)))
            )
            while ids:
                # No cascade and no receivers: Django deletes this in one statement.
                count, _ = manager.filter(pk__in=orphans.values("pk")[:size]).delete()
                deleted[model] += count
                if count < size:
                    break
            report((done + walked) / len(relations))
    report(1.0)
    if any(deleted.values()):
        logger.info(
            "rows of deleted profiles pruned: %s",
            ", ".join(f"{count} {model._meta.label}" for model, count in deleted.items()),
        )
    return deleted


def profile_pin_lock_lift(*, profile: Profile) -> dt.datetime | None:
    """Give the profile its whole wrong-PIN budget back; return when its lock would have ended.

    Once the day's wrong PINs are spent the right PIN is refused too until the
    next UTC day, and a guardian's PIN cannot be changed without its own
    unlock: support needs a way to let the household back in. The PIN stays as
    it is; only the counters of the present windows are cleared.
    """
    until = profile_pin_lock_until(profile=profile)
    if profile.has_pin:
        PinFailureThrottle(profile).clear()
    return until


def profile_unlocks_end(*, profile: Profile) -> None:
    """Lock the profile again: every unlock token it has given stops opening it, on every device.

    Without it only the hour or a new PIN ended an unlock, so a guardian's
    unlock left on a shared TV let whoever held the TV lift the kids' limits
    until it expired. Tokens sign the profile's ``unlock_generation``
    (:func:`profiles.unlock._token_subject`); raising it in one ``UPDATE``
    ends them all, and two locks at once both count. An unlock whose request
    read the profile before this write signs the generation it read, so its
    token is ended too, however late it is answered. The PIN and its
    wrong-PIN counters are left as they are. ``profile`` itself is not updated.

    Under the account's row lock, which every change of the household's profiles takes
    (:func:`profile_change_locked`): a change checked against a token this ends (the
    profile's own, or a guardian's on another profile) is written before the lock, or
    waits for it and is refused. Without it, a rename or deletion that read the profile
    as the lock was being made waited for the lock's write, then went through with the
    ended token.
    """
    with transaction.atomic():
        _accounts_lock(Account.objects.filter(pk=profile.account_id))
        Profile.objects.filter(pk=profile.pk).update(unlock_generation=F("unlock_generation") + 1)


def profiles_unlocks_end(*, profiles: QuerySet[Profile]) -> int:
    """Lock every one of ``profiles`` again, as :func:`profile_unlocks_end` locks one.

    For support ("my kid unlocked the adult profile"), from a list of any length: one
    ``UPDATE`` raises each selected profile's ``unlock_generation`` by one in the
    database (``F() + 1``), so a profile locked meanwhile by its household still counts
    both locks, and no profile is read or saved row by row. ``profiles`` may carry the
    admin list's joins and order: only its keys are used. Returns the profiles locked.
    Their households' rows are locked first, as :func:`profile_unlocks_end` locks one.
    """
    with transaction.atomic():
        _accounts_lock(Account.objects.filter(pk__in=profiles.values("account_id")))
        return Profile.objects.filter(pk__in=profiles.values("pk")).update(
            unlock_generation=F("unlock_generation") + 1
        )


def _accounts_lock(accounts: QuerySet[Account]) -> None:
    """Lock the rows of ``accounts`` until the transaction ends, in id order.

    The order :func:`accounts.services.account_delete` and the profile services take
    them in (one at a time), so that a lock of many households waits rather than
    deadlocks. An account deleted meanwhile is not locked, and has no profile to lock.
    """
    list(accounts.order_by("pk").select_for_update().values_list("pk", flat=True))
