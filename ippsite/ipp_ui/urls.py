"""Pages of the ipp app: troubleshooting, preflight, copy, support toggles."""

from django.urls import path

from ippsite.ipp_ui import views

app_name = "ipp"

urlpatterns = [
    path("ipp/troubleshoot/", views.troubleshoot, name="troubleshoot"),
    path("infrastructures/<int:pk>/ipp-toggle/", views.toggle, name="toggle"),
    path("modules/<int:pk>/copy/", views.copy, name="copy"),
    path("environments/<int:pk>/preflight/", views.preflight, name="preflight"),
]
