"""Model signal receivers of the recommendations app (connected in its ``ready()``)."""

from typing import Any

from django.db import transaction


def region_schedule_install_loaded(*, instance: Any, created: bool, raw: bool, **_: Any) -> None:
    """A region a fixture adds (``loaddata``) gets its nightly retrain once it commits.

    Every other path that adds a region calls ``regions.services.region_create``, which
    installs it; ``loaddata`` calls no service, and this raw save is the one hook Django
    gives it. Its own retrain only, and only if it has none, as the service installs it.
    """
    if not (raw and created):
        return
    from recommendations.schedules import region_schedule_install  # imports the models

    code = instance.pk
    transaction.on_commit(lambda: region_schedule_install(region_code=code))


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
