from django.apps import AppConfig


class TrackersConfig(AppConfig):
    name = "trackers"
    verbose_name = "Sales cadences"

    def ready(self) -> None:
        from trackers import sobjects  # noqa: F401  (registers the objects)
