"""Demo households: accounts, their profiles (with hidden tastes), and the admin user.

The showcase household, "The Sharmas (demo)", goes through the real services
(``account_create``, ``profile_create``) like any client would; the thousands
of others are bulk-inserted with ``slot`` assigned here, because one service
call per profile (a row lock and a full_clean each) is too slow at 100,000.

External ids make every demo row traceable to its seed and position:
accounts ``demo:<seed>:a<account index>``, profiles ``demo:<seed>:p<profile
index>``; :func:`recommendations.demo.tastes.rederive_hidden_tastes` relies on it.
"""

import random
from dataclasses import dataclass, replace

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from accounts.models import Account
from accounts.services import account_create
from catalog.models import Language, MaturityLevel
from profiles.models import KIDS_MATURITY_CAP, Profile
from profiles.services import profile_create

from .bulk_insert import insert_rows
from .catalogue import DEMO_PREFIX
from .progress import Progress
from .reference import ReferenceIds
from .tastes import (
    SHOWCASE_ACCOUNT_INDEX,
    SHOWCASE_ACCOUNT_NAME,
    SHOWCASE_PROFILES,
    HiddenTaste,
    HouseholdPlan,
    derive_hidden_taste,
    plan_household,
)
from .vocabulary import FIRST_NAMES

STREAM_NAMES = 41
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "tonight-demo"  # noqa: S105  (the demo's published login)
DEMO_PIN = "1234"
PIN_SHARE = 0.04


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    """A demo profile as the history phase needs it, without another query."""

    profile_id: int
    profile_index: int
    region: str
    is_kids: bool
    maturity_limit: int
    cluster_id: int
    taste: HiddenTaste


def demo_external_id(seed: int, kind: str, index: int) -> str:
    """``demo:<seed>:<kind><index>``, e.g. ``demo:42:p17`` for the 18th profile of seed 42."""
    return f"{DEMO_PREFIX}{seed}:{kind}{index}"


def parse_demo_external_id(value: str) -> tuple[int, int]:
    """``demo:<seed>:<a|p><index>`` -> (seed, index)."""
    _, seed, tail = value.split(":")
    return int(seed), int(tail[1:])


@dataclass
class _ProfilePlan:
    account_index: int
    profile_index: int
    slot: int
    name: str
    maturity_limit: int
    display_language: str
    has_pin: bool
    taste: HiddenTaste


def _profile_names(rnd: random.Random, plan: HouseholdPlan, size: int) -> list[str]:
    pool = list(FIRST_NAMES[plan.name_language])
    rnd.shuffle(pool)
    names, used = [], set()
    for slot in range(1, size + 1):
        if slot in plan.kids_slots:
            name = "Kids" if "kids" not in used else f"{pool.pop()} (kids)"
        elif slot in plan.shared_slots:
            name = f"{pool.pop()} & {pool.pop()}"
        else:
            name = pool.pop()
        used.add(name.lower())
        names.append(name)
    return names


def plan_profiles(*, seed: int, n_profiles: int) -> tuple[list[HouseholdPlan], list[_ProfilePlan]]:
    """Households in index order until there are exactly ``n_profiles`` profiles."""
    households, profiles = [], []
    account_index = 0
    while len(profiles) < n_profiles:
        plan = plan_household(seed, account_index)
        size = min(plan.size, n_profiles - len(profiles))
        households.append(replace(plan, size=size))
        names_seed = int(np.random.default_rng([seed, STREAM_NAMES, account_index]).integers(2**63))
        rnd = random.Random(names_seed)
        if account_index == SHOWCASE_ACCOUNT_INDEX:
            names = [name for name, _ in SHOWCASE_PROFILES][:size]
        else:
            names = _profile_names(rnd, plan, size)
        for slot, name in enumerate(names, start=1):
            index = len(profiles)
            taste = derive_hidden_taste(seed=seed, plan=plan, profile_index=index, slot=slot)
            if taste.is_kids:
                limit = rnd.choice((MaturityLevel.SEVEN, MaturityLevel.SEVEN, MaturityLevel.ALL))
            else:
                limit = rnd.choices(
                    (MaturityLevel.EIGHTEEN, MaturityLevel.SIXTEEN, MaturityLevel.THIRTEEN),
                    weights=(0.85, 0.1, 0.05),
                )[0]
            primary = taste.primary_language
            if taste.is_kids or plan.region != "IN":
                display = primary
            else:
                display = "en" if rnd.random() < 0.5 else primary
            profiles.append(
                _ProfilePlan(
                    account_index=account_index,
                    profile_index=index,
                    slot=slot,
                    name=name,
                    maturity_limit=int(min(limit, KIDS_MATURITY_CAP) if taste.is_kids else limit),
                    display_language=display,
                    has_pin=(
                        account_index != SHOWCASE_ACCOUNT_INDEX
                        and not taste.is_kids
                        and rnd.random() < PIN_SHARE
                    ),
                    taste=taste,
                )
            )
        account_index += 1
    return households, profiles


def _preferred_languages(taste: HiddenTaste) -> list[str]:
    return [code for code, w in taste.languages.items() if w >= 0.1]


def create_households(
    *, seed: int, n_profiles: int, ref: ReferenceIds, progress: Progress
) -> list[ProfileRecord]:
    """Insert accounts and profiles; the caller holds the transaction."""
    households, plans = plan_profiles(seed=seed, n_profiles=n_profiles)
    # One hash for every demo PIN: hashing is deliberately slow, and the salt is
    # fixed so that reseeding writes the same rows.
    pin_hash = make_password(DEMO_PIN, salt=f"tonightdemo{seed}")
    languages = {lang.code: lang for lang in Language.objects.all()}

    with progress("Households: accounts", len(households), "accounts") as advance:
        account_ids: dict[int, int] = {}
        showcase_account = None
        showcase = next((h for h in households if h.account_index == 0), None)
        if showcase is not None:
            account = account_create(
                name=SHOWCASE_ACCOUNT_NAME,
                home_region_id=showcase.region,
                external_id=demo_external_id(seed, "a", 0),
            )
            account_ids[0] = account.pk
            showcase_account = account
        others = [h for h in households if h.account_index != SHOWCASE_ACCOUNT_INDEX]
        ids = insert_rows(
            Account,
            ("name", "home_region_id", "external_id"),
            [
                (f"The {h.surname} family", h.region, demo_external_id(seed, "a", h.account_index))
                for h in others
            ],
            return_ids=True,
            advance=advance,
        )
        account_ids.update((h.account_index, pk) for h, pk in zip(others, ids, strict=True))
        advance(1 if showcase else 0)

    region_of = {h.account_index: h.region for h in households}
    records: list[ProfileRecord] = []
    with progress("Households: profiles", len(plans), "profiles") as advance:
        profile_ids: dict[int, int] = {}
        for p in plans:
            if p.account_index != SHOWCASE_ACCOUNT_INDEX:
                continue
            profile = profile_create(
                account=showcase_account,
                name=p.name,
                is_kids=p.taste.is_kids,
                maturity_limit=p.maturity_limit,
                display_language=languages[p.display_language],
                preferred_languages=[languages[c] for c in _preferred_languages(p.taste)],
            )
            profile_ids[p.profile_index] = profile.pk
        showcase_plans = [p for p in plans if p.account_index == SHOWCASE_ACCOUNT_INDEX]
        for p in showcase_plans:
            Profile.objects.filter(pk=profile_ids[p.profile_index]).update(
                external_id=demo_external_id(seed, "p", p.profile_index),
                taste_cluster_id=ref.cluster_for(p.taste.region, p.taste.primary_language),
            )
        advance(len(showcase_plans))

        bulk_plans = [p for p in plans if p.account_index != SHOWCASE_ACCOUNT_INDEX]
        ids = insert_rows(
            Profile,
            (
                "account_id",
                "slot",
                "name",
                "is_kids",
                "maturity_limit",
                "display_language_id",
                "pin_hash",
                "taste_cluster_id",
                "external_id",
            ),
            [
                (
                    account_ids[p.account_index],
                    p.slot,
                    p.name,
                    p.taste.is_kids,
                    p.maturity_limit,
                    p.display_language,
                    pin_hash if p.has_pin else "",
                    ref.cluster_for(p.taste.region, p.taste.primary_language),
                    demo_external_id(seed, "p", p.profile_index),
                )
                for p in bulk_plans
            ],
            return_ids=True,
            advance=advance,
        )
        profile_ids.update((p.profile_index, pk) for p, pk in zip(bulk_plans, ids, strict=True))
        insert_rows(
            Profile.preferred_languages.through,
            ("profile_id", "language_id"),
            [
                (profile_ids[p.profile_index], code)
                for p in bulk_plans
                for code in _preferred_languages(p.taste)
            ],
        )

    for p in plans:
        pk = profile_ids[p.profile_index]
        region = region_of[p.account_index]
        records.append(
            ProfileRecord(
                profile_id=pk,
                profile_index=p.profile_index,
                region=region,
                is_kids=p.taste.is_kids,
                maturity_limit=p.maturity_limit,
                cluster_id=ref.cluster_for(region, p.taste.primary_language),
                taste=replace(p.taste, profile_id=pk, seed=seed),
            )
        )
    return records


def demo_admin_ensure(*, account: Account) -> bool:
    """Give the demo its published superuser login, linked to the showcase household.

    The password is public (README, ``make demo``'s output), so the command calls this
    only in debug or when asked (``seed_demo --demo-admin``). An existing user of that
    name is linked but never changed: a reseed must not reset a password, or promote
    someone, on a database where people already sign in. Returns whether the published
    login works.
    """
    user_model = get_user_model()
    user = user_model.objects.filter(username=ADMIN_USERNAME).first()
    if user is None:
        user = user_model.objects.create_superuser(ADMIN_USERNAME, password=ADMIN_PASSWORD)
    account.users.add(user)
    return user.is_active and user.is_staff and user.check_password(ADMIN_PASSWORD)
