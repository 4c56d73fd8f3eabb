"""API v1 of support's console: a user's site-wide state."""

from django.urls import path

from ippsite.support_ui import api

urlpatterns = [
    path("users/<str:username>", api.UserDetail.as_view(), name="api-user"),
    path("users/<str:username>/", api.UserDetail.as_view(schema=None)),
]
