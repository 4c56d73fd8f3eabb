"""Top-level routes: pages per app, the JSON API under /api/v1/, health and schema."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from ippsite import metrics, views

api_v1 = [
    path("", include("ippsite.api_urls")),
    path("", include("ippsite.registry_ui.api_urls")),
    path("", include("ippsite.permissions_ui.api_urls")),
    path("", include("ippsite.support_ui.api_urls")),
    path("", include("ippsite.audit_ui.api_urls")),
    path("", include("ippsite.ipp_ui.api_urls")),
    path("", include("ippsite.portal_ui.api_urls")),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("schema/", SpectacularAPIView.as_view()),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("healthz/", views.healthz),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    path("", include("ippsite.page_urls")),
    path("", include("ippsite.security.urls")),
    path("", include("ippsite.registry_ui.urls")),
    path("", include("ippsite.permissions_ui.urls")),
    path("", include("ippsite.support_ui.urls")),
    path("", include("ippsite.audit_ui.urls")),
    path("", include("ippsite.ipp_ui.urls")),
    path("", include("ippsite.portal_ui.urls")),
]

handler404 = "ippsite.views.not_found"
handler403 = "ippsite.views.forbidden"
handler400 = "ippsite.views.bad_request"
handler500 = "ippsite.views.server_error"
