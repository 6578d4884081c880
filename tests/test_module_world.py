"""What a module world (tests/module_world.py) is built under."""

from django.contrib.auth.hashers import get_hasher, make_password
from django.db import transaction

from tests.factories import ProfileFactory
from tests.hashers import CheapPBKDF2PasswordHasher
from tests.module_world import in_the_module_world, world_for_the_module


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


def test_a_module_world_has_the_same_ids_whatever_the_session_undid_before(
    django_db_setup, django_db_blocker, tmp_path
):
    def built() -> tuple[int, int]:
        with world_for_the_module(django_db_blocker, tmp_path):
            profile = ProfileFactory()
            return profile.account_id, profile.pk

    # given: a world built and undone, as a module before this one left it (its rows are
    # gone, the ids they took are not given back)
    first = built()

    # when: the next module builds the same world
    again = built()

    # then: it has the same ids (which profile falls in which half of a retrain's holdout
    # follows them), as when its module runs alone
    assert again == first


def test_each_test_in_a_module_world_starts_from_the_same_ids(
    django_db_setup, django_db_blocker, tmp_path, settings
):
    with world_for_the_module(django_db_blocker, tmp_path):
        ProfileFactory()

        def a_test() -> int:
            with transaction.atomic():  # a test's savepoint, as pytest-django opens it
                in_the_module_world(settings, tmp_path)
                pk = ProfileFactory().pk
                transaction.set_rollback(True)
            return pk

        # given: a test of the module ran and was undone
        first = a_test()

        # when: the next one runs
        # then: its rows get the ids they would get were it the module's first, or alone
        assert a_test() == first
