"""JSON API (v1) endpoints of the audit app. Paths have no trailing slash; one works too."""

from django.urls import path

from ippsite.audit_ui.api import AuditListView

urlpatterns = [
    path("audit", AuditListView.as_view(), name="api-audit"),
    path("audit/", AuditListView.as_view(schema=None)),
]
