"""JSON API (v1) endpoints of the modules app. Paths have no trailing slash; one works too."""

from django.urls import path

from ippsite.registry_ui.api import catalog, infrastructures


def _both(route: str, view_class, name: str) -> list:
    """The route and the same with a trailing slash (left out of the OpenAPI schema)."""
    return [
        path(route, view_class.as_view(), name=name),
        path(route + "/", view_class.as_view(schema=None)),
    ]


urlpatterns: list = [
    *_both("infrastructures", infrastructures.InfrastructureListView, "api-infrastructures"),
    *_both(
        "infrastructures/<int:pk>",
        infrastructures.InfrastructureDetailView,
        "api-infrastructure",
    ),
    *_both(
        "infrastructures/<int:pk>/members",
        infrastructures.InfrastructureMembersView,
        "api-infrastructure-members",
    ),
    *_both("environments", infrastructures.EnvironmentListView, "api-environments"),
    *_both("environments/<int:pk>", infrastructures.EnvironmentDetailView, "api-environment"),
    *_both(
        "environments/<int:pk>/deployments",
        infrastructures.EnvironmentDeploymentsView,
        "api-environment-deployments",
    ),
    *_both(
        "environments/<int:pk>/publish",
        infrastructures.EnvironmentPublishView,
        "api-environment-publish",
    ),
    *_both("deployments", infrastructures.DeploymentCreateView, "api-deployments"),
    *_both("modules", catalog.ModuleListView, "api-modules"),
    *_both("modules/<int:pk>", catalog.ModuleDetailView, "api-module"),
    *_both(
        "modules/<int:pk>/versions/<int:number>/source",
        catalog.SourceListView,
        "api-version-source",
    ),
    path(
        "modules/<int:pk>/versions/<int:number>/source/<path:path>",
        catalog.SourceFileView.as_view(),
        name="api-version-source-file",
    ),
    *_both(
        "modules/<int:pk>/versions/<int:number>/package",
        catalog.PackageView,
        "api-version-package",
    ),
]
