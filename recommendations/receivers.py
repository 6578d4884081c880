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


def title_states_episode_forget(*, instance: Any, origin: Any = None, **_: Any) -> None:
    """An episode being deleted is no longer among any profile's finished ones.

    Its title's states counted it: "fewer finished than out" then undercounted what
    is left, and a finished series that lost an episode and gained one stayed
    finished. Pruned here, on the admin's rare path, so that the homepage's hot read
    keeps counting the list as it is (docs/signals.md, "Derived state").
    """
    from catalog.models import Title
    from recommendations.services.signals import title_states_episode_prune

    # A title's deletion takes its states with it: a statement per episode for nothing (the
    # demo's flush deletes thousands of titles).
    if isinstance(origin, Title) or getattr(origin, "model", None) is Title:
        return
    title_states_episode_prune(episode_id=instance.pk, season_id=instance.season_id)
