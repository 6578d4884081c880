from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

        from . import checks  # noqa: F401  (registers the broker/cache, keep, attribution and ranker checks)
        from .receivers import (
            region_schedule_forget,
            region_schedule_time_zone_follow,
            region_schedules_install,
            title_states_episode_forget,
        )

        # A region added after `install_schedules` ran (compose runs it before any data
        # exists) would otherwise never get its nightly retrain.
        post_save.connect(
            region_schedules_install,
            sender="regions.Region",
            dispatch_uid="schedules:new-region",
            weak=False,
        )
        # Its retrain is at 04:00 in the region's zone: one corrected in admin moves it too.
        pre_save.connect(
            region_schedule_time_zone_follow,
            sender="regions.Region",
            dispatch_uid="schedules:region-time-zone",
            weak=False,
        )
        post_delete.connect(
            region_schedule_forget,
            sender="regions.Region",
            dispatch_uid="schedules:region-deleted",
            weak=False,
        )
        # Any deletion of an episode (the admin's, a season's cascade): a stale id among a
        # state's finished episodes blinds "fewer finished than out". Before the deletion,
        # in its transaction: the states are locked before the episode row, as ingest
        # (a state, then its last episode's key) locks them, so the two cannot deadlock.
        pre_delete.connect(
            title_states_episode_forget,
            sender="catalog.Episode",
            dispatch_uid="title-states:episode-deleted",
            weak=False,
        )
