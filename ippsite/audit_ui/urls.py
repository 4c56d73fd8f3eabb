"""Pages of the audit app."""

from django.urls import path

from ippsite.audit_ui import views

app_name = "audit"

urlpatterns = [
    path("audit/", views.logs, name="logs"),
    path("audit/logs/<str:log>/", views.log, name="log"),
    path("audit/logs/<str:log>/export.csv", views.export, name="export"),
    path("audit/logs/<str:log>/verify", views.verify, name="verify"),
]
