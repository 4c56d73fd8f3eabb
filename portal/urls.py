"""Pages of the portal app."""
from django.urls import path  # noqa: F401

urlpatterns: list = []
