"""Pages of support's console."""

from django.urls import path

from ippsite.support_ui import views

urlpatterns = [
    path("support/users/", views.users, name="support_users"),
    path(
        "support/users/<int:user_pk>/deactivate/",
        views.user_deactivate,
        name="support_user_deactivate",
    ),
    path(
        "support/users/<int:user_pk>/reactivate/",
        views.user_reactivate,
        name="support_user_reactivate",
    ),
    path("support/infrastructures/", views.infrastructures, name="support_infrastructures"),
]
