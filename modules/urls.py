"""Pages of the modules app."""
from django.urls import path  # noqa: F401

urlpatterns: list = []
