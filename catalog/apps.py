from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"

    def ready(self) -> None:
        from django.db.models.signals import m2m_changed

        from . import receivers
        from .models import Title

        # What the serving catalogue arrays hold: maturity and kind, episodes, genres.
        receivers.connect("catalog.Title", "catalog.Season", "catalog.Episode")
        m2m_changed.connect(
            receivers.revision_raise_on_m2m,
            sender=Title.genres.through,
            dispatch_uid="catalogue-revision:title-genres",
            weak=False,
        )
