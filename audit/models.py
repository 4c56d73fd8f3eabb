"""The audit logs of SPEC §6: one append-only RFC 9162 log per infrastructure plus `site`.

Each entry is stored as the exact bytes hashed into its log's Merkle tree (audit/entries.py),
with columns beside them for filtering and display that verify_audit holds to the bytes.
Every append stores a tree head signed by the authority key in the same transaction.
"""

from django.conf import settings
from django.db import models

__all__ = [
    "AuditEntry",
    "AuditLog",
    "Cosignature",
    "LogVerification",
    "TreeHead",
    "Witness",
]


def _infrastructure(**kwargs):
    # An audit row outlives what it names: no database constraint, never cascaded.
    return models.ForeignKey(
        "modules.Infrastructure",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        **kwargs,
    )


class AuditLog(models.Model):
    """One log: its id is an infrastructure's id as a string, or "site".

    The row is the log's lock (an append selects it for update, so appends to one log queue
    and appends to another do not wait) and its tree state: `size` entries, `root`, and the
    `border` (the perfect subtrees' hashes left to right, audit.merkle.border_to_bytes), which
    is all an append needs to extend the tree in O(log n).
    """

    id = models.CharField(primary_key=True, max_length=20)
    infrastructure = models.OneToOneField(
        "modules.Infrastructure",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    size = models.BigIntegerField(default=0)
    root = models.BinaryField(max_length=32)
    border = models.BinaryField(blank=True, default=b"")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "audit log"
        constraints = [
            models.CheckConstraint(condition=models.Q(size__gte=0), name="audit_log_size"),
            models.CheckConstraint(
                condition=models.Q(id="site", infrastructure__isnull=True)
                | models.Q(infrastructure__isnull=False),
                name="audit_log_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"log {self.id} ({self.size} entries)"


class AuditEntry(models.Model):
    """One entry of one log: `leaf` is exactly what is hashed; the other columns repeat it.

    `seq` orders rows as they were written across all logs (it is not signed). An event
    about two infrastructures is two rows, one in each log, with the same content.
    """

    seq = models.BigAutoField(primary_key=True)
    log = models.ForeignKey(AuditLog, on_delete=models.PROTECT, related_name="entries")
    index = models.BigIntegerField()
    leaf = models.BinaryField()
    leaf_hash = models.BinaryField(max_length=32)
    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    infrastructure = _infrastructure(related_name="+")
    also = _infrastructure(related_name="+")
    subject_type = models.CharField(max_length=64, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    subject_label = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        # Not audit_auditentry: the old chain's table had that name and keeps its indexes'.
        db_table = "audit_entry"
        ordering = ["-seq"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        constraints = [
            models.UniqueConstraint(fields=["log", "index"], name="audit_entry_log_index"),
            models.CheckConstraint(condition=models.Q(index__gte=0), name="audit_entry_index"),
        ]
        indexes = [
            models.Index(fields=["log", "action", "-index"], name="audit_entry_log_action"),
            models.Index(fields=["action", "-seq"], name="audit_entry_action"),
            models.Index(fields=["actor", "-seq"], name="audit_entry_actor"),
            models.Index(fields=["actor_name", "-seq"], name="audit_entry_actor_name"),
            models.Index(fields=["infrastructure", "-seq"], name="audit_entry_infrastructure"),
            models.Index(fields=["created_at"], name="audit_entry_created_at"),
        ]

    def __str__(self) -> str:
        return f"log {self.log_id} #{self.index} {self.action}"


class TreeHead(models.Model):
    """A signed statement: log `log` had `size` entries with Merkle root `root` at `timestamp`.

    `timestamp` is kept as the exact text that was signed. The latest head of each log, every
    cosigned head and the most recent ones are kept (audit.appending.RECENT_HEADS).
    """

    log = models.ForeignKey(AuditLog, on_delete=models.PROTECT, related_name="heads")
    size = models.BigIntegerField()
    root = models.BinaryField(max_length=32)
    timestamp = models.CharField(max_length=40)
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["log", "-size"]
        verbose_name = "signed tree head"
        constraints = [
            models.UniqueConstraint(fields=["log", "size"], name="audit_head_log_size"),
            models.CheckConstraint(condition=models.Q(size__gte=1), name="audit_head_size"),
        ]

    def __str__(self) -> str:
        return f"log {self.log_id} at {self.size}"


class Witness(models.Model):
    """Someone outside the site who cosigns tree heads they checked (registered by support)."""

    name = models.CharField(max_length=100, unique=True)
    public_key = models.BinaryField(max_length=32)
    registered_at = models.DateTimeField(auto_now_add=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "witness"
        verbose_name_plural = "witnesses"

    def __str__(self) -> str:
        return self.name


class Cosignature(models.Model):
    """A witness's Ed25519 signature over a head's cosignature message (audit.merkle)."""

    # A cosigned head is never pruned; DO_NOTHING keeps head pruning one DELETE.
    head = models.ForeignKey(TreeHead, on_delete=models.DO_NOTHING, related_name="cosignatures")
    witness = models.ForeignKey(Witness, on_delete=models.PROTECT, related_name="cosignatures")
    signature = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["head", "witness"]
        verbose_name = "cosignature"
        constraints = [
            models.UniqueConstraint(fields=["head", "witness"], name="audit_cosignature_once")
        ]

    def __str__(self) -> str:
        return f"{self.witness} on {self.head}"


class LogVerification(models.Model):
    """The outcome of the last full verification of one log, for pages to show.

    Written by `manage.py verify_audit` and by the audit page's "verify now"; pages read it
    and never verify a whole log themselves.
    """

    log = models.OneToOneField(
        AuditLog, primary_key=True, on_delete=models.CASCADE, related_name="verification"
    )
    verified_at = models.DateTimeField()
    size = models.BigIntegerField(help_text="entries checked")
    ok = models.BooleanField()
    problem = models.TextField(blank=True)
    bad_index = models.BigIntegerField(null=True, blank=True)
    # How that run held the columns beside the bytes (what pages show and filter on) to
    # them: "decoded" (every entry decoded and compared), "database" (PostgreSQL's validated
    # constraints, audit.enforced), or "" (not in that run: verify_audit --skip-columns).
    columns_by = models.CharField(max_length=8, blank=True, default="")

    class Meta:
        ordering = ["log"]
        verbose_name = "log verification"

    def __str__(self) -> str:
        return f"log {self.log_id}: {'ok' if self.ok else 'FAILED'} at {self.verified_at}"
