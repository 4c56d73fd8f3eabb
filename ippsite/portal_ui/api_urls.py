"""JSON API (v1) endpoints of the portal app. Paths have no trailing slash; one works too."""

from django.urls import path

from ippsite.portal_ui import api


def _both(route: str, view, name: str) -> list:
    return [path(route, view, name=name), path(route + "/", view)]


urlpatterns: list = [
    *_both("transfers", api.TransferListCreateView.as_view(), "api-transfers"),
    *_both("transfers/<int:pk>", api.TransferDetailView.as_view(), "api-transfer"),
    *_both("transfers/<int:pk>/approve", api.TransferApproveView.as_view(), "api-transfer-approve"),
    *_both("transfers/<int:pk>/reject", api.TransferRejectView.as_view(), "api-transfer-reject"),
    *_both("transfers/<int:pk>/cancel", api.TransferCancelView.as_view(), "api-transfer-cancel"),
    *_both("transfers/<int:pk>/publish", api.TransferPublishView.as_view(), "api-transfer-publish"),
    *_both(
        "transfers/<int:pk>/packages/<int:module>",
        api.TransferPackageView.as_view(),
        "api-transfer-package",
    ),
]
