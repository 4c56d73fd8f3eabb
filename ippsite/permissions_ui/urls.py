"""Pages of the permissions app. Other apps link to these names: keep them."""

from django.urls import path

from ippsite.permissions_ui import views

urlpatterns = [
    path("catalog/", views.catalog, name="catalog"),
    path("modules/<int:pk>/permissions/", views.module_permissions, name="module_permissions"),
    path("modules/<int:pk>/permissions/<int:user_pk>/explain/", views.explain, name="explain"),
    path(
        "infrastructures/<int:pk>/users/", views.infrastructure_users, name="infrastructure_users"
    ),
    path(
        "infrastructures/<int:pk>/users/<int:user_pk>/modules/",
        views.user_modules,
        name="user_modules",
    ),
    path("infrastructures/<int:pk>/teams/", views.teams, name="teams"),
    path("infrastructures/<int:pk>/teams/<int:team_pk>/", views.team, name="team"),
]
