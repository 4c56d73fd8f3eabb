"""Pages of the ipp app."""
from django.urls import path  # noqa: F401

urlpatterns: list = []
