"""JSON API (v1) endpoints of the modules app. Paths have no trailing slash; one works too."""
from django.urls import path  # noqa: F401

urlpatterns: list = []
