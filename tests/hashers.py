"""The suite's password hasher: production's PBKDF2 at a thousandth of its work factor."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import override_settings

CHEAP_HASHER = "tests.hashers.CheapPBKDF2PasswordHasher"


class CheapPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Production's algorithm and encoding (``pbkdf2_sha256$...``) at 1,000 iterations.

    At production's 1,000,000 a hash takes a third of a second here, and the suite makes
    or checks about two hundred (staff users, admin clients, PINs): a fifth of its time.
    What the tests check of a password or a PIN (made, stored as PBKDF2 and never as
    itself, checked, counted, throttled) holds at any work factor. A test whose claim
    needs a check to take production's time asks for ``production_hashing``.
    """

    iterations = 1_000


def cheap_hashers() -> list[str]:
    """The settings' hashers with the cheap one first: it makes new hashes, and hashes made
    at production's work factor still check."""
    return [CHEAP_HASHER, *(h for h in settings.PASSWORD_HASHERS if h != CHEAP_HASHER)]


@contextmanager
def cheap_password_hashing() -> Iterator[None]:
    """Inside, passwords and PINs hash cheaply: for what outlives one test (a module world,
    tests/module_world.py), which the root conftest's per-test setting does not reach."""
    with override_settings(PASSWORD_HASHERS=cheap_hashers()):
        yield
