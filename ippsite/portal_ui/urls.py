"""Pages of the portal app."""

from django.urls import path

from ippsite.portal_ui import views

app_name = "portal"

urlpatterns: list = [
    path("portal/", views.my_requests, name="requests"),
    path("portal/new/", views.new_request, name="new"),
    path("portal/approvals/", views.inbox, name="inbox"),
    path("portal/<int:pk>/", views.detail, name="detail"),
    path("portal/<int:pk>/approve/", views.approve, name="approve"),
    path("portal/<int:pk>/reject/", views.reject, name="reject"),
    path("portal/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("portal/<int:pk>/publish/", views.publish, name="publish"),
    path("portal/<int:pk>/packages/<int:module>/", views.package, name="package"),
]
