from django.apps import AppConfig


class IppsiteConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "ippsite"
