"""Data: the old hash chain, verified first, becomes the entries of the per-infrastructure logs.

1. The old chain is verified as `verify_audit` verified it (every hash and link, every
   checkpoint signature in the database and in the mirror file, truncation, the head row).
   A chain that does not verify is refused: nothing is migrated and `migrate` stops with
   the problem, so a rewritten history is never re-signed as if it were true.
2. Each entry, in the old order, is appended to its infrastructure's log (or `site`) in the
   new format, keeping its time, actor, action, subject (with a readable label) and details;
   a transfer's entries are also appended to the destination's log. Each log gets one head
   signed now by the authority key.

Reverse: removes the logs again while the old chain is still there (before 0007).
"""

import json
from datetime import UTC

from django.conf import settings
from django.db import migrations
from django.utils import timezone

from audit import merkle
from audit.migrations._legacy_chain import BrokenChain, mirror_lines, verify
from core import keys

TWO_SIDED = {
    "transfer.requested",
    "transfer.approved",
    "transfer.rejected",
    "transfer.cancelled",
    "transfer.refused",
    "transfer.package_downloaded",
}
BATCH = 2000


def _canonical(document) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def _rfc3339(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Labels:
    """What a person reads for a subject, as the models' str() says it today."""

    def __init__(self, apps):
        get = apps.get_model
        user = get(*settings.AUTH_USER_MODEL.split("."))
        self.models = {
            "infrastructure": (get("modules", "Infrastructure"), lambda o: o.name),
            "environment": (
                get("modules", "Environment"),
                lambda o: f"{o.infrastructure.name} / {o.name}",
            ),
            "module": (get("modules", "Module"), lambda o: o.name),
            "moduleversion": (
                get("modules", "ModuleVersion"),
                lambda o: f"{o.module.name} v{o.number}",
            ),
            "membership": (
                get("modules", "Membership"),
                lambda o: f"{o.user.username} in {o.infrastructure.name} ({o.role})",
            ),
            "team": (get("permissions", "Team"), lambda o: o.name),
            "user": (user, lambda o: o.username),
            "transferrequest": (
                get("portal", "TransferRequest"),
                lambda o: f"Transfer #{o.pk} {o.source.name} → {o.destination.name}",
            ),
        }
        self.transfers = get("portal", "TransferRequest")
        self.infrastructures = get("modules", "Infrastructure")
        self.cache = {}

    def label(self, kind: str, pk: str) -> str:
        if not kind:
            return ""
        key = (kind, pk)
        if key not in self.cache:
            model, text = self.models.get(kind, (None, None))
            found = model.objects.filter(pk=pk).first() if model and pk.isdigit() else None
            self.cache[key] = (text(found) if found else f"{kind} {pk}")[:200]
        return self.cache[key]

    def destination(self, row) -> int | None:
        """The other infrastructure of a transfer entry, when it can be told."""
        if row.action not in TWO_SIDED:
            return None
        also = None
        if row.subject_type == "transferrequest" and row.subject_id.isdigit():
            also = (
                self.transfers.objects.filter(pk=row.subject_id)
                .values_list("destination_id", flat=True)
                .first()
            )
        elif isinstance(row.details, dict) and row.details.get("target_activation_code"):
            code = row.details["target_activation_code"]
            also = (
                self.infrastructures.objects.filter(activation_code=code)
                .values_list("pk", flat=True)
                .first()
            )
        return None if also == row.infrastructure_id else also


class _Logs:
    """The logs being written: size and border of each, rows waiting for bulk_create."""

    def __init__(self, apps):
        self.AuditLog = apps.get_model("audit", "AuditLog")
        self.AuditEntry = apps.get_model("audit", "AuditEntry")
        self.TreeHead = apps.get_model("audit", "TreeHead")
        self.state = {}
        self.pending = []

    def _open(self, log_id: str, infrastructure_id):
        if log_id not in self.state:
            log, _ = self.AuditLog.objects.get_or_create(
                id=log_id,
                defaults={
                    "infrastructure_id": infrastructure_id,
                    "size": 0,
                    "root": merkle.EMPTY_ROOT,
                    "border": b"",
                },
            )
            border = merkle.border_from_bytes(bytes(log.border), log.size)
            self.state[log_id] = [log.size, border]
        return self.state[log_id]

    def append(self, log_id: str, infrastructure_id, document: dict, columns: dict) -> None:
        state = self._open(log_id, infrastructure_id)
        index = state[0]
        leaf = _canonical({**document, "index": index, "log": log_id})
        leaf_hash = merkle.leaf_hash(leaf)
        state[1] = merkle.border_append(state[1], index, leaf_hash)
        state[0] = index + 1
        self.pending.append(
            self.AuditEntry(
                log_id=log_id, index=index, leaf=leaf, leaf_hash=leaf_hash, **columns
            )
        )
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        self.AuditEntry.objects.bulk_create(self.pending)
        self.pending = []

    def sign(self, timestamp: str) -> None:
        """Store each log's state and one head over it, signed by the authority key."""
        self.flush()
        ring = keys.authority()
        for log_id, (size, border) in self.state.items():
            root = merkle.border_root(border, size)
            self.AuditLog.objects.filter(id=log_id).update(
                size=size, root=root, border=merkle.border_to_bytes(border)
            )
            key_id, signature = ring.sign(
                merkle.tree_head_message(log_id, size, root, timestamp)
            )
            self.TreeHead.objects.update_or_create(
                log_id=log_id,
                size=size,
                defaults={
                    "root": root,
                    "timestamp": timestamp,
                    "key_id": key_id,
                    "signature": signature,
                },
            )


def _document(row, labels: _Labels, also) -> tuple[dict, dict]:
    label = labels.label(row.subject_type, row.subject_id)
    actor = None
    if row.actor_id is not None or row.actor_name:
        actor = {"id": row.actor_id, "name": row.actor_name}
    subject = None
    if row.subject_type:
        subject = {"id": row.subject_id, "label": label, "type": row.subject_type}
    document = {
        "action": row.action,
        "actor": actor,
        "also": also,
        "details": row.details,
        "infrastructure": row.infrastructure_id,
        "subject": subject,
        "time": _rfc3339(row.created_at),
    }
    columns = {
        "created_at": row.created_at,
        "actor_id": row.actor_id,
        "actor_name": row.actor_name,
        "action": row.action,
        "infrastructure_id": row.infrastructure_id,
        "also_id": also,
        "subject_type": row.subject_type,
        "subject_id": row.subject_id,
        "subject_label": label,
        "details": row.details,
    }
    return document, columns


def migrate_chain(apps, schema_editor):
    ChainEntry = apps.get_model("audit", "ChainEntry")
    if not ChainEntry.objects.exists():
        return
    try:
        verify(
            ChainEntry,
            apps.get_model("audit", "AuditCheckpoint"),
            apps.get_model("audit", "AuditHead"),
            keys.authority(),
            mirror_lines(settings.IPP_DATA_DIR),
        )
    except BrokenChain as exc:
        raise RuntimeError(
            f"The old audit chain does not verify, so it is not migrated: {exc}. Restore the "
            "audit tables (and IPP_DATA_DIR/audit/checkpoints.jsonl) from a backup taken "
            "before the tampering and run migrate again; nothing was changed."
        ) from None
    labels, logs = _Labels(apps), _Logs(apps)
    for row in ChainEntry.objects.order_by("seq").iterator(chunk_size=BATCH):
        also = labels.destination(row)
        document, columns = _document(row, labels, also)
        primary = str(row.infrastructure_id) if row.infrastructure_id else "site"
        logs.append(primary, row.infrastructure_id, document, columns)
        if also is not None:
            logs.append(str(also), also, document, columns)
    logs.sign(_rfc3339(timezone.now()))


def unmigrate(apps, schema_editor):
    ChainEntry = apps.get_model("audit", "ChainEntry")
    AuditEntry = apps.get_model("audit", "AuditEntry")
    if AuditEntry.objects.exists() and not ChainEntry.objects.exists():
        raise RuntimeError(
            "The old chain is gone: going back would lose the audit logs. Restore a backup "
            "taken before migration audit.0006 instead."
        )
    for name in ("LogVerification", "Cosignature", "TreeHead", "AuditEntry", "AuditLog"):
        apps.get_model("audit", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_log_verification"),
        ("modules", "0003_fill_version_names"),
        ("permissions", "0001_initial"),
        ("portal", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(migrate_chain, unmigrate)]
