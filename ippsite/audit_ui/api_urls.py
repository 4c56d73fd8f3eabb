"""JSON API (v1) endpoints of the audit app. Paths have no trailing slash; one works too."""

from django.urls import path

from ippsite.audit_ui import api, api_logs, api_witnesses


def _both(route: str, view, name: str) -> list:
    return [path(route, view.as_view(), name=name), path(route + "/", view.as_view(schema=None))]


urlpatterns: list = [
    *_both("audit", api.AuditListView, "api-audit"),
    *_both("audit/keys", api_logs.KeysView, "api-audit-keys"),
    *_both("audit/logs", api_logs.LogListView, "api-audit-logs"),
    *_both("audit/logs/<str:log>/tree-head", api_logs.TreeHeadView, "api-audit-tree-head"),
    *_both("audit/logs/<str:log>/entries", api_logs.EntriesView, "api-audit-entries"),
    *_both(
        "audit/logs/<str:log>/proof/inclusion",
        api_logs.InclusionProofView,
        "api-audit-inclusion",
    ),
    *_both(
        "audit/logs/<str:log>/proof/consistency",
        api_logs.ConsistencyProofView,
        "api-audit-consistency",
    ),
    *_both(
        "audit/logs/<str:log>/cosignatures",
        api_witnesses.CosignatureCreateView,
        "api-audit-cosignatures",
    ),
    *_both("audit/witnesses", api_witnesses.WitnessCreateView, "api-audit-witnesses"),
]
