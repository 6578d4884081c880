"""Model signal receivers of the recommendations app (connected in its ``ready()``)."""

from typing import Any

from django.db import transaction


def region_schedules_install(*, instance: Any, created: bool, **_: Any) -> None:
    """A new region gets its nightly retrain once the region is committed.

    Its own retrain only, and only if it has none, so operators' edits stay (the other
    defaults are ``install_schedules``'s). Not inside
    ``schedules.region_schedule_follow_held`` (a region created by staff who may not add
    a retrain's schedule). ``loaddata`` gets one too. Regions the demo seeder bulk-creates
    send no signal; ``seed_demo`` installs the schedules itself.
    """
    if not created:
        return
    from recommendations.schedules import (  # imports the models
        region_schedule_follow_is_held,
        region_schedule_install,
    )

    if region_schedule_follow_is_held():
        return
    code = instance.pk
    transaction.on_commit(lambda: region_schedule_install(region_code=code))


def region_schedule_time_zone_follow(
    *, instance: Any, raw: bool = False, update_fields: Any = None, **_: Any
) -> None:
    """A region whose time zone changes has its nightly retrain moved with it, on commit.

    Before the save, the only moment the zone it had can still be read; the schedule is
    moved once the region's change commits (``schedules.region_schedule_time_zone_move``,
    which leaves a schedule operators changed alone); not at all inside
    ``schedules.region_schedule_follow_held`` (a change by staff who may not reschedule it).
    """
    if raw or instance._state.adding:
        return
    if update_fields is not None and "time_zone" not in update_fields:
        return
    from recommendations.schedules import (  # imports the models
        region_schedule_follow_is_held,
        region_schedule_time_zone_move,
    )

    if region_schedule_follow_is_held():
        return

    old = type(instance).objects.filter(pk=instance.pk).values_list("time_zone", flat=True)
    old_zone = old.first()
    new_zone = instance.time_zone
    if old_zone is None or old_zone == new_zone:
        return
    code = instance.pk
    transaction.on_commit(
        lambda: region_schedule_time_zone_move(
            region_code=code, old_zone=old_zone, new_zone=new_zone
        )
    )


def region_schedule_forget(*, instance: Any, **_: Any) -> None:
    """A deleted region's nightly retrain goes with it, in the deletion's transaction."""
    from recommendations.schedules import region_schedule_delete  # imports the models

    region_schedule_delete(region_code=instance.pk)


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
