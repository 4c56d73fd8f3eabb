"""Pages of the permissions app. Other apps link to these names: keep them."""

from django.urls import path

from ippsite.permissions_ui import modules_tab, pickers, teams, views

urlpatterns = [
    path("catalog/", views.catalog, name="catalog"),
    path("modules/<int:pk>/permissions/", views.module_permissions, name="module_permissions"),
    path("modules/<int:pk>/permissions/<int:user_pk>/explain/", views.explain, name="explain"),
    path(
        "infrastructures/<int:pk>/users/", views.infrastructure_users, name="infrastructure_users"
    ),
    path(
        "infrastructures/<int:pk>/users/<int:user_pk>/modules/",
        modules_tab.user_modules,
        name="user_modules",
    ),
    path("infrastructures/<int:pk>/teams/", teams.teams, name="teams"),
    path("infrastructures/<int:pk>/teams/<int:team_pk>/", teams.team, name="team"),
    path("infrastructures/<int:pk>/pickers/members", pickers.member_picker, name="member_picker"),
]
