"""The source users' profiles: a user imported before keeps their profile and household;
new users fill new households, in natural id order.
"""

from django.db.models import F

from accounts.models import Account
from config.lookups import AnyOf
from profiles.models import Profile
from recommendations.services.dataset_import.progress import Progress
from recommendations.services.dataset_import.whereabouts import BATCH_SIZE

HOUSEHOLD_PREFIX = "import:"
PROFILE_NAME_MAX_LENGTH = Profile._meta.get_field("name").max_length


def _natural_key(user: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order ("2" before "10"), then the rest alphabetically."""
    if user.isascii() and user.isdigit():
        return (0, int(user), "")
    return (1, 0, user)


def _profile_name(user: str, slot: int, taken: set[str]) -> str:
    name = f"User {user}"
    if len(name) > PROFILE_NAME_MAX_LENGTH or name.lower() in taken:
        name = f"User {user[:30]} (#{slot})"  # the slot makes it unique in the household
    taken.add(name.lower())
    return name


def _households_assign(
    *, users: list[str], region: str, per_household: int, progress: Progress
) -> tuple[list[int], set[int], int, int]:
    """Profile id of each source user (by user number), creating households for new users.

    A user imported before keeps their profile and household. New users fill new
    households of ``per_household`` profiles, in natural id order, so the
    grouping does not depend on the order of the file's rows.
    The existing profiles are locked (in id order) until the transaction ends.
    The new households and profiles are written batch by batch under a bar of new
    profiles: a data set of 110,000 users takes over half a minute.
    Returns (profile ids, the profiles that already existed, households and profiles created).
    """
    while True:
        known: dict[str, int] = {}
        for external_id, pk in (
            Profile.objects.filter(
                AnyOf(F("external_id"), users), account__external_id__startswith=HOUSEHOLD_PREFIX
            )
            .order_by("-pk")  # should a user have two profiles, the oldest wins
            .values_list("external_id", "pk")
        ):
            known[external_id] = pk
        # The signals API serialises each profile's batches on its row; so does this. A
        # profile deleted since it was read is not locked: read again, its user is new.
        locked = Profile.objects.select_for_update().filter(AnyOf(F("pk"), sorted(known.values())))
        if len(locked.order_by("pk").values_list("pk", flat=True)) == len(known):
            break
    new_users = sorted((user for user in users if user not in known), key=_natural_key)
    numbers = (
        external_id.removeprefix(HOUSEHOLD_PREFIX)
        for external_id in Account.objects.filter(
            external_id__startswith=HOUSEHOLD_PREFIX
        ).values_list("external_id", flat=True)
    )
    last = max((int(n) for n in numbers if n.isascii() and n.isdigit()), default=0)

    groups = [
        new_users[start : start + per_household]
        for start in range(0, len(new_users), per_household)
    ]
    profile_ids = dict(known)
    with progress("Creating profiles", len(new_users)) as advance:
        for start in range(0, len(groups), BATCH_SIZE):
            batch = groups[start : start + BATCH_SIZE]
            accounts = Account.objects.bulk_create(
                [
                    Account(
                        name=f"Imported household {last + k}",
                        home_region_id=region,
                        external_id=f"{HOUSEHOLD_PREFIX}{last + k}",
                    )
                    for k in range(start + 1, start + len(batch) + 1)
                ]
            )
            profiles = []
            for account, members in zip(accounts, batch, strict=True):
                taken: set[str] = set()
                profiles += [
                    Profile(
                        account_id=account.pk,
                        slot=slot,
                        name=_profile_name(user, slot, taken),
                        external_id=user,
                    )
                    for slot, user in enumerate(members, 1)
                ]
            Profile.objects.bulk_create(profiles, batch_size=BATCH_SIZE)
            profile_ids.update((p.external_id, p.pk) for p in profiles)
            advance(len(profiles))
    return (
        [profile_ids[user] for user in users],
        set(known.values()),
        len(groups),
        len(new_users),
    )
