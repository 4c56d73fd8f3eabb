"""Pages of the audit app."""

from django.urls import path

from ippsite.audit_ui import views

app_name = "audit"

urlpatterns = [
    path("audit/", views.log, name="log"),
    path("audit/export.csv", views.export, name="export"),
]
