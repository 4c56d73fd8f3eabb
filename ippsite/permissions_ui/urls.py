"""Pages of the permissions app. Other apps link to these names: keep them."""

from django.urls import path

from ippsite.permissions_ui import (
    deployers_views,
    members_views,
    modules_tab,
    pickers,
    teams,
    views,
)

urlpatterns = [
    path("catalog/", views.catalog, name="catalog"),
    path("modules/<int:pk>/permissions/", views.module_permissions, name="module_permissions"),
    path("modules/<int:pk>/permissions/<int:user_pk>/explain/", views.explain, name="explain"),
    path(
        "infrastructures/<int:pk>/users/", views.infrastructure_users, name="infrastructure_users"
    ),
    path(
        "infrastructures/<int:pk>/users/<int:user_pk>/edit/",
        members_views.member_edit,
        name="member_edit",
    ),
    path(
        "infrastructures/<int:pk>/users/<int:user_pk>/remove/",
        members_views.member_remove,
        name="member_remove",
    ),
    path("infrastructures/<int:pk>/invite/", members_views.invite, name="invite"),
    path(
        "infrastructures/<int:pk>/invitations/<int:invitation_pk>/revoke/",
        members_views.invitation_revoke_view,
        name="invitation_revoke",
    ),
    # The link's last path segment is the secret (SPEC §7), so it works with or without "/".
    path("invitations/<str:token>", members_views.invitation_accept_view, name="invitation_accept"),
    path("invitations/<str:token>/", members_views.invitation_accept_view),
    path(
        "infrastructures/<int:pk>/users/<int:user_pk>/modules/",
        modules_tab.user_modules,
        name="user_modules",
    ),
    path("infrastructures/<int:pk>/teams/", teams.teams, name="teams"),
    path("infrastructures/<int:pk>/teams/<int:team_pk>/", teams.team, name="team"),
    path(
        "infrastructures/<int:pk>/teams/<int:team_pk>/delete/",
        teams.team_delete,
        name="team_delete",
    ),
    path("infrastructures/<int:pk>/pickers/members", pickers.member_picker, name="member_picker"),
    path(
        "environments/<int:pk>/deployers/", deployers_views.deployer_add_view, name="deployer_add"
    ),
    path(
        "environments/<int:pk>/deployers/search/",
        deployers_views.deployer_search,
        name="deployer_search",
    ),
    path(
        "environments/<int:pk>/deployers/<str:username>/remove/",
        deployers_views.deployer_remove_view,
        name="deployer_remove",
    ),
]
