"""JSON API (v1) endpoints of the permissions app. Paths have no trailing slash; one works too."""

from django.urls import path

from ippsite.permissions_ui import api, deployers_api

urlpatterns = [
    path(
        "modules/<int:pk>/permissions",
        api.ModulePermissionList.as_view(),
        name="api-module-permissions",
    ),
    path("modules/<int:pk>/permissions/", api.ModulePermissionList.as_view(schema=None)),
    path(
        "modules/<int:pk>/permissions/<str:username>",
        api.ModulePermissionDetail.as_view(),
        name="api-module-permission",
    ),
    path(
        "modules/<int:pk>/permissions/<str:username>/",
        api.ModulePermissionDetail.as_view(schema=None),
    ),
    path(
        "environments/<int:pk>/deployers",
        deployers_api.EnvironmentDeployerList.as_view(),
        name="api-environment-deployers",
    ),
    path(
        "environments/<int:pk>/deployers/",
        deployers_api.EnvironmentDeployerList.as_view(schema=None),
    ),
    path(
        "environments/<int:pk>/deployers/<str:username>",
        deployers_api.EnvironmentDeployerDetail.as_view(),
        name="api-environment-deployer",
    ),
    path(
        "environments/<int:pk>/deployers/<str:username>/",
        deployers_api.EnvironmentDeployerDetail.as_view(schema=None),
    ),
]
