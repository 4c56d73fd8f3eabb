"""Pages of the modules app. Other apps' templates link to these names: keep them."""

from django.urls import path

from ippsite.registry_ui import views

urlpatterns = [
    path("infrastructures/<int:pk>/", views.infrastructure, name="infrastructure"),
    path("environments/<int:pk>/", views.environment, name="environment"),
    path(
        "environments/<int:pk>/protection/",
        views.environment_protection,
        name="environment_protection",
    ),
    path("modules/<int:pk>/", views.module_detail, name="module"),
    path("modules/<int:pk>/deploy", views.module_deploy_view, name="module_deploy"),
    path(
        "modules/<int:pk>/versions/<int:number>/source/",
        views.module_source,
        name="module_source",
    ),
    path(
        "modules/<int:pk>/versions/<int:number>/source/<path:path>",
        views.module_source,
        name="module_source",
    ),
    path(
        "modules/<int:pk>/versions/<int:number>/package",
        views.module_export,
        name="module_export",
    ),
]
