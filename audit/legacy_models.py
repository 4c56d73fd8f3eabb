"""Legacy: the single hash chain with signed checkpoints, until its data is migrated."""

from django.conf import settings
from django.db import models


class ChainEntry(models.Model):
    """An entry of the old hash chain, kept only until it is migrated into the logs."""

    seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        # Never rewrite history: deleting a user must not touch the hashed actor id.
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    infrastructure = models.ForeignKey(
        "modules.Infrastructure",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    subject_type = models.CharField(max_length=64, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        verbose_name = "chain entry (legacy)"
        verbose_name_plural = "chain entries (legacy)"
        constraints = [
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="audit_seq_positive")
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"


class AuditHead(models.Model):
    """Single row holding the chain's tip; locked to serialize appends."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = "audit chain head"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="audit_head_singleton")
        ]

    def __str__(self) -> str:
        return f"head at #{self.seq}"


class AuditCheckpoint(models.Model):
    """A signed statement 'the chain had `seq` entries ending in `hash`' (Ed25519)."""

    seq = models.BigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["-seq"]
        verbose_name = "audit checkpoint"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(seq__gte=1), name="audit_checkpoint_seq_positive"
            )
        ]

    def __str__(self) -> str:
        return f"checkpoint at #{self.seq}"


class AuditVerification(models.Model):
    """Single row: how far the chain has been verified, so pages verify only what is new.

    `last_seq`/`last_hash` is the newest entry known good; `failure` (with `failure_seq`)
    stays set once a break is found, until a full verification passes again.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    full_verified_at = models.DateTimeField(null=True, blank=True)
    failure = models.CharField(max_length=300, blank=True)
    failure_seq = models.BigIntegerField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "audit chain verification"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="audit_verification_singleton")
        ]

    def __str__(self) -> str:
        return f"verified up to #{self.last_seq}"
