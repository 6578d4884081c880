from django.apps import AppConfig


class RegionsConfig(AppConfig):
    name = "regions"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from catalog import receivers

        from . import checks  # noqa: F401  (registers the time zone and default cluster checks)
        from .models import TasteCluster
        from .receivers import taste_cluster_default_delete_refuse

        # Availability windows and time zones are part of the serving catalogue arrays.
        receivers.connect("regions.Availability", "regions.Region")
        pre_delete.connect(
            taste_cluster_default_delete_refuse,
            sender=TasteCluster,
            dispatch_uid="regions:taste-cluster-default-kept",
        )
