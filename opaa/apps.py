from django.apps import AppConfig


class OpaaConfig(AppConfig):
    """The top of the project as an installed app: no models; its management commands
    (backup, restore, evaluate) compose the apps below it."""

    name = "opaa"
    label = "opaa"
    verbose_name = "OPAA"

    def ready(self):
        pass
