"""Sign-in, sign-out and the dashboard."""

from django.contrib.auth import views as auth_views
from django.urls import path

from ippsite import pages

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="registration/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", pages.dashboard, name="dashboard"),
]
