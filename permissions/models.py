"""Teams, per-module grants (guardian direct foreign-key object permissions) and the
deployers of protected environments."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
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
