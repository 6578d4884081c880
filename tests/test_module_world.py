"""What a module world (tests/module_world.py) is built under."""

from django.contrib.auth.hashers import get_hasher, make_password

from tests.hashers import CheapPBKDF2PasswordHasher
from tests.module_world import world_for_the_module


def test_a_module_world_hashes_passwords_cheaply(
    production_hashing, django_db_setup, django_db_blocker, tmp_path
):
    # given: production's hashers, as a module fixture is made under (the root conftest makes
    # hashing cheap per test, after the module's fixtures are made)
    # when: a world is built
    with world_for_the_module(django_db_blocker, tmp_path):
        hasher = get_hasher()
        encoded = make_password("a staff password")

    # then: its passwords hash at the suite's work factor
    assert isinstance(hasher, CheapPBKDF2PasswordHasher)
    assert encoded.startswith(f"pbkdf2_sha256${CheapPBKDF2PasswordHasher.iterations}$")
