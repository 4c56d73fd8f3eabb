"""JSON API (v1) endpoints of the permissions app. Paths have no trailing slash; one works too."""

from django.urls import path

from ippsite.permissions_ui import api, deployers_api, invitations_api, members_api


def _both(route: str, view_class, name: str) -> list:
    """The route and the same with a trailing slash (left out of the OpenAPI schema)."""
    return [
        path(route, view_class.as_view(), name=name),
        path(route + "/", view_class.as_view(schema=None)),
    ]


urlpatterns = [
    *_both(
        "infrastructures/<int:pk>/members/<str:username>",
        members_api.InfrastructureMemberDetail,
        "api-infrastructure-member",
    ),
    *_both(
        "infrastructures/<int:pk>/invitations",
        invitations_api.InfrastructureInvitationList,
        "api-infrastructure-invitations",
    ),
    *_both("invitations/accept", invitations_api.InvitationAccept, "api-invitation-accept"),
    *_both("invitations/<int:pk>", invitations_api.InvitationDetail, "api-invitation"),
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
