from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "sharing"
    verbose_name = "Sharing"

    def ready(self) -> None:
        from sharing import signals, sobjects  # noqa: F401  (registers the objects and hooks)
