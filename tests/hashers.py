"""The suite's password hasher: production's PBKDF2 at a thousandth of its work factor."""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class CheapPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Production's algorithm and encoding (``pbkdf2_sha256$...``) at 1,000 iterations.

    At production's 1,000,000 a hash takes a third of a second here, and the suite makes
    or checks about two hundred (staff users, admin clients, PINs): a fifth of its time.
    What the tests check of a password or a PIN (made, stored as PBKDF2 and never as
    itself, checked, counted, throttled) holds at any work factor. A test whose claim
    needs a check to take production's time asks for ``production_hashing``.
    """

    iterations = 1_000
