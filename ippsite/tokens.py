"""API token services (SPEC §7): check and revoke (`ApiToken.issue` issues).

Decision: the existing `ApiToken` model, extended, rather than django-rest-knox. Knox
refuses a new token once a user holds TOKEN_LIMIT_PER_USER (SPEC wants the oldest
revoked instead), writes the expiry on every request when auto-refresh is on, keeps no
`last_used_at`, and would change the token format and table the rest of the suite
already issues through `ApiToken.issue`.
"""

from datetime import timedelta

from django.utils import timezone

from ippsite.models import TOKENS_PER_USER, ApiToken, token_digest

__all__ = ["TOKENS_PER_USER", "TokenRefused", "token_check", "token_revoke", "tokens_revoke_all"]
# last_used_at is written at most this often, so an authenticated request costs no write.
LAST_USED_RESOLUTION = timedelta(hours=1)


class TokenRefused(Exception):
    """The token does not sign in; `str(exc)` says why, in words a client can act on."""


def token_check(raw: str) -> ApiToken:
    """The live token for `raw` with its user loaded (one query), or TokenRefused.

    Records `last_used_at` only when the stored value is older than LAST_USED_RESOLUTION.
    """
    token = ApiToken.objects.select_related("user").filter(digest=token_digest(raw)).first()
    if token is None:
        raise TokenRefused("Invalid token.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenRefused(f"Token revoked ({token.get_revoked_reason_display()}).")
    if token.expires_at <= now:
        raise TokenRefused("Token expired: ask for a new one at POST /api/v1/auth/token.")
    if not token.user.is_active:
        raise TokenRefused("User inactive or deleted.")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_revoke(*, token: ApiToken, reason: str = ApiToken.Revoked.BY_OWNER) -> bool:
    """Revoke one token; False when it was already revoked."""
    return bool(ApiToken.objects.filter(pk=token.pk).revoke(reason))


def tokens_revoke_all(*, user, reason: str) -> int:
    """Revoke every live token of `user` (password change, deactivation); returns how many."""
    return ApiToken.objects.filter(user=user).alive().revoke(reason)


def tokens_for_owner(user):
    """The owner's live tokens, newest first (the account page)."""
    return ApiToken.objects.filter(user=user).alive().order_by("-created_at", "-id")


class RevokeTokensOnPasswordChange:
    """Ends a user's API tokens when their password changes (SPEC §7).

    Listed in AUTH_PASSWORD_VALIDATORS for its `password_changed()` hook: Django calls it
    on every save after `set_password()` — admin, forms, services, shell — and not when
    it only re-hashes a password at sign-in (an Argon2 upgrade leaves tokens alone).
    It validates nothing.
    """

    def validate(self, password, user=None):
        return None

    def password_changed(self, password, user=None):
        if user is not None and user.pk is not None:
            tokens_revoke_all(user=user, reason=ApiToken.Revoked.PASSWORD_CHANGED)

    def get_help_text(self):
        return "Changing your password ends every API token you hold."
