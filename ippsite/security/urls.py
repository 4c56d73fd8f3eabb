"""Pages of sign-in security."""

from django.urls import path

from ippsite.security import views

urlpatterns = [
    path("support/lockouts/", views.lockouts, name="support-lockouts"),
    path("account/tokens/", views.api_tokens, name="api-tokens"),
    path("account/tokens/<int:pk>/revoke", views.api_token_revoke, name="api-token-revoke"),
    path("account/two-factor/", views.two_factor, name="two-factor"),
    path("login/verify/", views.two_factor_verify, name="two-factor-verify"),
]
