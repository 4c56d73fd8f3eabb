from django.apps import AppConfig

from registry import checks  # noqa: F401 - registers the start-up checks (no models imported)


class RegistryConfig(AppConfig):
    """Infrastructures, environments, modules, versions, packages and encrypted source.

    The Python package is `registry`; the app label stays `modules` so tables and
    migrations keep their names.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "registry"
    label = "modules"
    verbose_name = "Registry"
