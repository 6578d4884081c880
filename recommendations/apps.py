from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"

    def ready(self) -> None:
        from django.db.models.signals import post_save, pre_delete

        from . import checks  # noqa: F401  (registers the broker/cache, keep, attribution and ranker checks)
        from .receivers import region_schedule_install_loaded, title_states_episode_forget

        # A region added by a fixture would otherwise never get its nightly retrain; every
        # other path adds regions through regions.services.region_create, which installs it.
        post_save.connect(
            region_schedule_install_loaded,
            sender="regions.Region",
            dispatch_uid="schedules:new-region",
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
