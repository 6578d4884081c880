from django.apps import AppConfig


class RegionsConfig(AppConfig):
    name = "regions"

    def ready(self) -> None:
        from catalog import receivers

        from . import checks  # noqa: F401  (registers the time zone and default cluster checks)

        # Availability windows and time zones are part of the serving catalogue arrays.
        receivers.connect("regions.Availability", "regions.Region")
