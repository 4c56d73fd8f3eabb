"""API tokens, stored only as SHA-256 digests: a copy of the database reveals no token.

The session model is defined next to its store in `ippsite.sessions` and registered here.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from ippsite import checks  # noqa: F401 - registers the site's system checks
from ippsite.security import twofactor
from ippsite.sessions import Session  # noqa: F401 - the session engine's model (sessions.py)

TOKENS_PER_USER = 5


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def alive(self):
        """Tokens that still sign in: neither revoked nor expired."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())

    def revoke(self, reason: str) -> int:
        """Revoke these tokens (those not revoked yet); returns how many."""
        return self.filter(revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=reason
        )


class ApiToken(models.Model):
    """A user's API token. The raw token is shown once, when issued; only its digest is kept.

    A token signs in until `expires_at` (IPP_TOKEN_DAYS after issue) or until it is
    revoked: by its owner, by a newer token pushing it out of the per-user limit, by a
    password change, or by the user's deactivation (`revoked_reason` says which).
    Services live in `ippsite.tokens`.
    """

    class Revoked(models.TextChoices):
        BY_OWNER = "owner", "revoked by its owner"
        REPLACED = "replaced", "replaced by a newer token"
        PASSWORD_CHANGED = "password_changed", "password changed"
        DEACTIVATED = "deactivated", "user deactivated"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="First characters, to tell tokens apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(
        null=True, blank=True, help_text="Updated at most once an hour."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=20, choices=Revoked.choices, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"
        indexes = [
            models.Index(fields=["user", "revoked_at", "expires_at"], name="apitoken_user_alive")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="apitoken_expires_after_issue"
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True, revoked_reason="")
                | Q(revoked_at__isnull=False) & ~Q(revoked_reason=""),
                name="apitoken_revoked_with_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, user) -> tuple["ApiToken", str]:
        """A new token for `user` → (row, raw token to hand out once).

        At most TOKENS_PER_USER stay alive: issuing past that revokes the oldest. The
        user's row is locked so two concurrent sign-ins cannot both slip under the limit.
        """
        raw = secrets.token_urlsafe(32)
        now = timezone.now()
        with transaction.atomic():
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            alive = list(
                cls.objects.filter(user=user).alive().order_by("created_at", "id").values("id")
            )
            surplus = [row["id"] for row in alive[: max(0, len(alive) - TOKENS_PER_USER + 1)]]
            cls.objects.filter(pk__in=surplus).revoke(cls.Revoked.REPLACED)
            token = cls(
                user=user,
                digest=token_digest(raw),
                prefix=raw[:8],
                expires_at=now + timedelta(days=settings.IPP_TOKEN_DAYS),
            )
            token.full_clean(exclude=["user"])
            token.save(force_insert=True)
        return token, raw


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="ippsite.revoke_on_deactivation")
def _revoke_tokens_of_deactivated_user(sender, instance, **kwargs):
    """A deactivated user's tokens are revoked, not suspended: reactivating brings none back.

    Authentication refuses inactive users anyway. Services that deactivate may revoke
    explicitly too; this receiver is the net under every path (admin, shell, API).
    """
    if not instance.is_active:
        ApiToken.objects.filter(user=instance).revoke(ApiToken.Revoked.DEACTIVATED)


@receiver(user_logged_in, dispatch_uid="ippsite.second_factor_owed")
def _second_factor_owed(sender, request, user, **kwargs):
    """Every login() marks its session with the second factor it still owes (twofactor.py)."""
    twofactor.mark_session(request, user)
