"""Model signal receivers of the recommendations app (connected in its ``ready()``)."""

from typing import Any

from django.db import transaction


def region_schedules_install(*, created: bool, **_: Any) -> None:
    """A new region gets its nightly retrain once the region is committed.

    ``schedules_install`` only adds what is missing, so operators' edits stay.
    Regions the demo seeder bulk-creates send no signal; ``seed_demo`` installs
    the schedules itself.
    """
    if created:
        from recommendations.schedules import schedules_install  # imports the models

        transaction.on_commit(schedules_install)
