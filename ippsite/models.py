"""API tokens, stored only as SHA-256 digests: a copy of the database reveals no token."""

import hashlib
import secrets

from django.conf import settings
from django.db import models


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A user's API token. The raw token is shown once, when issued; only its digest is kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="First characters, to tell tokens apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, user) -> tuple["ApiToken", str]:
        """A new token for `user`: (row, raw token to hand out once)."""
        raw = secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, digest=token_digest(raw), prefix=raw[:8])
        return token, raw
