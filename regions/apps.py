from django.apps import AppConfig


class RegionsConfig(AppConfig):
    name = "regions"

    def ready(self) -> None:
        from catalog import receivers

        # Availability windows and time zones are part of the serving catalogue arrays.
        receivers.connect("regions.Availability", "regions.Region")
