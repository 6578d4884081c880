"""A small seeded demo (``seed_demo``) for tests that need planted tastes and history."""

from django.core.management import call_command


def seed_small_demo(settings, tmp_path, *, titles: int, profiles: int, seed: int) -> None:
    """Seed a demo of this size, its hidden-tastes file under ``tmp_path``, cheap passwords."""
    settings.VAR_DIR = tmp_path / "var"  # the demo's hidden-tastes file
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command(
        "seed_demo",
        f"--titles={titles}",
        f"--profiles={profiles}",
        f"--seed={seed}",
        "--artwork-images=shared",
        verbosity=0,
    )
