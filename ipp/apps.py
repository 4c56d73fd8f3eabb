from django.apps import AppConfig


class IppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "ipp"
