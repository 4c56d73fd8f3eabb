"""The registry: infrastructures, environments, members, modules, versions, deployments,
and the objects of the database blob store."""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.levels import Level

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def generate_activation_code() -> str:
    """Five groups of five Crockford base32 characters: XXXXX-XXXXX-XXXXX-XXXXX-XXXXX."""
    return "-".join("".join(secrets.choice(CROCKFORD) for _ in range(5)) for _ in range(5))


def generate_serial() -> str:
    return "ENV-" + "".join(secrets.choice(CROCKFORD) for _ in range(12))


ACTIVATION_CODE_REGEX = r"^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){4}$"


class Infrastructure(models.Model):
    """A customer's platform installation, identified by its immutable activation code."""

    class Platform(models.TextChoices):
        O11 = "o11", "OutSystems 11"
        ODC = "odc", "OutSystems Developer Cloud"

    name = models.CharField(max_length=120, unique=True)
    platform = models.CharField(max_length=3, choices=Platform.choices, default=Platform.O11)
    activation_code = models.CharField(
        max_length=29, unique=True, editable=False, default=generate_activation_code
    )
    ipp_protected = models.BooleanField(default=False)
    portal_blocked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "infrastructure"
        constraints = [
            models.CheckConstraint(
                condition=Q(activation_code__regex=ACTIVATION_CODE_REGEX),
                name="infrastructure_activation_code_format",
            ),
            models.CheckConstraint(
                condition=Q(platform__in=["o11", "odc"]), name="infrastructure_platform_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def uses_ipp(self) -> bool:
        return self.platform == self.Platform.O11


class Environment(models.Model):
    """A runtime of one infrastructure (Development, Test, Production...)."""

    infrastructure = models.ForeignKey(
        Infrastructure, on_delete=models.PROTECT, related_name="environments"
    )
    name = models.CharField(max_length=80)
    serial = models.CharField(max_length=20, unique=True, editable=False, default=generate_serial)
    # SPEC §3: publishing or deploying here needs an administrator or a named deployer.
    protected = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["infrastructure__name", "id"]
        verbose_name = "environment"
        constraints = [
            models.UniqueConstraint(
                fields=["infrastructure", "name"], name="environment_name_unique_per_infra"
            )
        ]

    def __str__(self) -> str:
        return f"{self.infrastructure.name} / {self.name}"


class Membership(models.Model):
    """A user's place in an infrastructure: role, default module level, may create modules."""

    class Role(models.TextChoices):
        ADMINISTRATOR = "administrator", "Administrator"
        MEMBER = "member", "Member"

    infrastructure = models.ForeignKey(
        Infrastructure, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    default_level = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.NONE)
    create_modules = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["infrastructure__name", "user__username"]
        verbose_name = "membership"
        constraints = [
            models.UniqueConstraint(
                fields=["infrastructure", "user"], name="membership_unique_per_infra"
            ),
            models.CheckConstraint(
                condition=Q(role__in=["administrator", "member"]), name="membership_role_valid"
            ),
            models.CheckConstraint(
                condition=Q(default_level__lte=3), name="membership_default_level_valid"
            ),
        ]
        indexes = [models.Index(fields=["user", "infrastructure", "role", "default_level"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.infrastructure} ({self.role})"

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMINISTRATOR


class Module(models.Model):
    """A module of one infrastructure; its key is stable across infrastructures."""

    infrastructure = models.ForeignKey(
        Infrastructure, on_delete=models.PROTECT, related_name="modules"
    )
    key = models.UUIDField()
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "module"
        constraints = [
            models.UniqueConstraint(
                fields=["infrastructure", "key"], name="module_key_unique_per_infra"
            )
        ]
        indexes = [models.Index(fields=["infrastructure", "name"])]
        permissions = [
            ("reference_module", "Reference the module's exposed elements"),
            ("open_module", "Open the module's source"),
            ("publish_module", "Publish and deploy the module"),
        ]
        default_permissions = ()

    def __str__(self) -> str:
        return self.name


class ModuleVersion(models.Model):
    """An immutable published package: its digest, interface, encrypted source and mark."""

    module = models.ForeignKey(Module, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    digest = models.CharField(max_length=64, db_index=True)
    # The manifest's name and description as published: a later rename of the module must
    # not change what this version's manifest (and so its digest) says.
    name = models.CharField(max_length=200, default="")
    description = models.TextField(blank=True)
    # Encrypted source: one object "<storage_id>.pack" in the blob store (registry/packs.py),
    # its data key wrapped by a master key.
    storage_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    wrapped_key = models.BinaryField()
    master_key_id = models.CharField(max_length=64)
    source_files = models.PositiveIntegerField(default=0)
    source_bytes = models.BigIntegerField(default=0)
    # IPP mark (empty when unmarked): the signed mark document, see ipp/.
    mark = models.JSONField(null=True, blank=True)
    marked_code = models.CharField(max_length=29, blank=True, db_index=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["module", "-number"]
        verbose_name = "module version"
        constraints = [
            models.UniqueConstraint(fields=["module", "number"], name="version_number_unique"),
            models.UniqueConstraint(fields=["module", "digest"], name="version_digest_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="version_number_positive"),
            models.CheckConstraint(
                condition=(Q(mark__isnull=True) & Q(marked_code=""))
                | (Q(mark__isnull=False) & ~Q(marked_code="")),
                name="version_mark_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.module.name} v{self.number}"

    @property
    def marked(self) -> bool:
        return self.mark is not None


class ExposedElement(models.Model):
    """A public element of a version that other modules may reference."""

    class Kind(models.TextChoices):
        SERVER_ACTION = "server_action", "Server action"
        SERVICE_ACTION = "service_action", "Service action"
        ENTITY = "entity", "Entity"
        BLOCK = "block", "Block"

    version = models.ForeignKey(ModuleVersion, on_delete=models.CASCADE, related_name="exposes")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    signature = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["version", "name"]
        verbose_name = "exposed element"
        constraints = [
            models.UniqueConstraint(fields=["version", "name"], name="exposed_name_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=["server_action", "service_action", "entity", "block"]),
                name="exposed_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Reference(models.Model):
    """A version's use of exposed elements of another module (by key)."""

    version = models.ForeignKey(ModuleVersion, on_delete=models.CASCADE, related_name="references")
    module_key = models.UUIDField()
    elements = models.JSONField(default=list)

    class Meta:
        ordering = ["version", "module_key"]
        verbose_name = "reference"
        constraints = [
            models.UniqueConstraint(fields=["version", "module_key"], name="reference_unique")
        ]

    def __str__(self) -> str:
        return f"{self.version} -> {self.module_key}"


class Deployment(models.Model):
    """A version running in an environment. One current row per module and environment."""

    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="deployments"
    )
    module = models.ForeignKey(Module, on_delete=models.PROTECT, related_name="deployments")
    version = models.ForeignKey(ModuleVersion, on_delete=models.PROTECT, related_name="deployments")
    is_current = models.BooleanField(default=True)
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deployed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-deployed_at", "-id"]
        verbose_name = "deployment"
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "module"],
                condition=Q(is_current=True),
                name="deployment_one_current_per_module_env",
            )
        ]
        indexes = [models.Index(fields=["environment", "is_current"])]

    def __str__(self) -> str:
        return f"{self.version} in {self.environment}"


class Blob(models.Model):
    """An object of the database blob store (IPP_BLOB_STORE=database): name and size.

    Its bytes are BlobChunk rows. Both are written in one transaction of their own that
    commits before the row that points to the object (registry/blobs/database.py).
    """

    name = models.CharField(max_length=100, unique=True)
    # NULL while being written: only the writing transaction can see such a row.
    size = models.BigIntegerField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        verbose_name = "stored blob"
        constraints = [models.CheckConstraint(condition=Q(size__gte=0), name="blob_size_positive")]

    def __str__(self) -> str:
        return self.name


class BlobChunk(models.Model):
    """Bytes [number * CHUNK, (number + 1) * CHUNK) of a Blob; only the last is shorter."""

    blob = models.ForeignKey(Blob, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["blob", "number"]
        verbose_name = "blob chunk"
        constraints = [models.UniqueConstraint(fields=["blob", "number"], name="blob_chunk_unique")]

    def __str__(self) -> str:
        return f"{self.blob_id}#{self.number}"
