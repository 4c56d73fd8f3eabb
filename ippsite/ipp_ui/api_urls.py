"""JSON API (v1) endpoints of the ipp app. Paths have no trailing slash; one works too."""

from django.urls import path

from ippsite.ipp_ui import api


def _both(route: str, view_class, name: str) -> list:
    return [
        path(route, view_class.as_view(), name=name),
        path(route + "/", view_class.as_view(schema=None)),
    ]


urlpatterns: list = [
    *_both("modules/<int:pk>/copy", api.ModuleCopyView, "api-module-copy"),
    *_both(
        "environments/<int:pk>/preflight", api.EnvironmentPreflightView, "api-environment-preflight"
    ),
]
