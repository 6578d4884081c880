from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from . import checks  # noqa: F401  (registers the broker/cache, keep and ranker checks)
        from .receivers import region_schedules_install

        # A region added after `install_schedules` ran (compose runs it before any data
        # exists) would otherwise never get its nightly retrain.
        post_save.connect(
            region_schedules_install,
            sender="regions.Region",
            dispatch_uid="schedules:new-region",
            weak=False,
        )
