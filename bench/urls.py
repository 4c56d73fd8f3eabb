"""The product's URLs plus the bare baselines under /bench/ (this module is the
benchmark's ROOT_URLCONF only)."""

from django.urls import include, path

from bench import bare

urlpatterns = [
    path("bench/modules/", bare.modules_page, name="bench-modules"),
    path("bench/modules.json", bare.modules_json, name="bench-modules-json"),
    path("bench/environments/<int:pk>/", bare.deployments_page, name="bench-deployments"),
    path("bench/environments/<int:pk>.json", bare.deployments_json, name="bench-deployments-json"),
    path("bench/modules/<int:pk>/members/", bare.members_page, name="bench-members"),
    path("bench/modules/<int:pk>/members.json", bare.members_json, name="bench-members-json"),
    path("bench/upload.json", bare.upload_json, name="bench-upload"),
    path("", include("ippsite.urls")),
]
