"""API: token and users (support)."""

from django.urls import path

from ippsite import api_views

urlpatterns = [
    path("auth/token", api_views.ObtainToken.as_view(), name="api-token"),
    path("auth/token/", api_views.ObtainToken.as_view(schema=None)),
    path("users", api_views.UserCreate.as_view(), name="api-users"),
    path("users/", api_views.UserCreate.as_view(schema=None)),
]
