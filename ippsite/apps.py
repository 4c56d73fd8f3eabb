from importlib import import_module

from django.apps import AppConfig


class IppsiteConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "ippsite"

    def ready(self):
        # Jobs asked for by the services below are sent through Celery (ippsite/jobs.py),
        # whose module needs the models loaded: imported here, as Django does for signals.
        import_module("ippsite.jobs").install()
