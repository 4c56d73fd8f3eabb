"""Teams, per-module grants (guardian direct foreign-key object permissions) and the
deployers of protected environments."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from core.levels import Level


class Team(models.Model):
    """A set of users given one level on a set of modules of one infrastructure."""

    infrastructure = models.ForeignKey(
        "modules.Infrastructure", on_delete=models.CASCADE, related_name="teams"
    )
    name = models.CharField(max_length=120)
    level = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.REFERENCE)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="ipp_teams", blank=True)
    modules = models.ManyToManyField("modules.Module", related_name="teams", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["infrastructure__name", "name"]
        verbose_name = "team"
        constraints = [
            models.UniqueConstraint(fields=["infrastructure", "name"], name="team_name_unique"),
            models.CheckConstraint(condition=models.Q(level__lte=3), name="team_level_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class ModuleUserObjectPermission(UserObjectPermissionBase):
    """A per-module grant to a user (the codename says the level)."""

    content_object = models.ForeignKey("modules.Module", on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = "module grant"
        indexes = [
            models.Index(fields=["user", "content_object"]),
            models.Index(fields=["content_object", "user"]),
        ]


class ModuleGroupObjectPermission(GroupObjectPermissionBase):
    """Guardian's group counterpart, kept so guardian never falls back to generic rows."""

    content_object = models.ForeignKey("modules.Module", on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = "module group grant"


class Deployer(models.Model):
    """A member named by an administrator to publish and deploy into one environment.

    It counts only while the environment is protected (SPEC §3). It hangs on the
    membership, not the user: removing the member removes it with the membership, so
    re-adding them later brings nothing back.
    """

    environment = models.ForeignKey(
        "modules.Environment", on_delete=models.CASCADE, related_name="deployers"
    )
    membership = models.ForeignKey(
        "modules.Membership", on_delete=models.CASCADE, related_name="deployer_of"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["environment", "membership__user__username"]
        verbose_name = "deployer"
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "membership"], name="deployer_once_per_environment"
            )
        ]

    def __str__(self) -> str:
        return f"{self.membership.user} deploys to {self.environment}"

    def clean(self) -> None:
        if (
            self.environment_id
            and self.membership_id
            and self.environment.infrastructure_id != self.membership.infrastructure_id
        ):
            raise ValidationError(
                "A deployer must be a member of the environment's infrastructure."
            )


class Invitation(models.Model):
    """An invitation by e-mail to join an infrastructure with a role, default level and
    `create_modules` (SPEC §3). Its secret link is single-use and expires; only the
    SHA-256 digest of the secret is stored, so a copy of the database opens no door.
    """

    infrastructure = models.ForeignKey(
        "modules.Infrastructure", on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(
        max_length=16,
        choices=[("administrator", "Administrator"), ("member", "Member")],
        default="member",
    )
    default_level = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.NONE)
    create_modules = models.BooleanField(default=False)
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "invitation"
        indexes = [
            models.Index(
                fields=["infrastructure", "accepted_at", "revoked_at", "expires_at"],
                name="invitation_pending",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["administrator", "member"]),
                name="invitation_role_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(default_level__lte=3), name="invitation_level_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=True) | models.Q(accepted_at__isnull=True),
                name="invitation_revoked_or_accepted_not_both",
            ),
        ]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.infrastructure_id}"

    @property
    def state(self) -> str:
        """pending, accepted, revoked or expired."""
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"
