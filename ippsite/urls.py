"""Top-level routes: pages per app, the JSON API under /api/v1/, health and schema."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from ippsite import views

api_v1 = [
    path("", include("ippsite.api_urls")),
    path("", include("modules.api_urls")),
    path("", include("permissions.api_urls")),
    path("", include("audit.api_urls")),
    path("", include("ipp.api_urls")),
    path("", include("portal.api_urls")),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("schema/", SpectacularAPIView.as_view()),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("healthz/", views.healthz),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    path("", include("ippsite.page_urls")),
    path("", include("modules.urls")),
    path("", include("permissions.urls")),
    path("", include("audit.urls")),
    path("", include("ipp.urls")),
    path("", include("portal.urls")),
]

handler404 = "ippsite.views.not_found"
handler403 = "ippsite.views.forbidden"
