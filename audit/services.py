"""Appending to the audit log. Call inside the transaction of what is being recorded."""
import hashlib
import json
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from audit.models import AuditEntry, AuditHead

GENESIS_HASH = "0" * 64


def canonical_bytes(
    *,
    seq: int,
    created_at: datetime,
    actor_id: int | None,
    actor_name: str,
    action: str,
    infrastructure_id: int | None,
    subject_type: str,
    subject_id: str,
    details: dict,
    prev_hash: str,
) -> bytes:
    """The exact bytes an entry's hash covers (sorted keys, no whitespace, UTC ISO time)."""
    document = {
        "seq": seq,
        "time": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor_id,
        "actor_name": actor_name,
        "action": action,
        "infrastructure": infrastructure_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "details": details,
        "prev": prev_hash,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(
        canonical_bytes(
            seq=entry.seq,
            created_at=entry.created_at,
            actor_id=entry.actor_id,
            actor_name=entry.actor_name,
            action=entry.action,
            infrastructure_id=entry.infrastructure_id,
            subject_type=entry.subject_type,
            subject_id=entry.subject_id,
            details=entry.details,
            prev_hash=entry.prev_hash,
        )
    ).hexdigest()


def _normalise(details: dict) -> dict:
    # Round-trip through JSON so what is hashed is exactly what the database gives back.
    return json.loads(json.dumps(details, sort_keys=True, default=str))


def audit_record(
    *,
    actor,
    action: str,
    infrastructure=None,
    subject=None,
    details: dict | None = None,
) -> AuditEntry:
    """Append one entry to the chain, in the caller's transaction.

    `subject` is a model instance (its model name and pk are recorded) or None.
    The head row is locked, so concurrent writers queue instead of forking the chain.
    """
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(id=1).first()
        if head is None:
            AuditHead.objects.get_or_create(id=1, defaults={"seq": 0, "hash": GENESIS_HASH})
            head = AuditHead.objects.select_for_update().get(id=1)
        entry = AuditEntry(
            seq=head.seq + 1,
            created_at=timezone.now(),
            actor=actor if getattr(actor, "pk", None) else None,
            actor_name=getattr(actor, "username", "") or "",
            action=action,
            infrastructure=infrastructure,
            subject_type=subject._meta.model_name if subject is not None else "",
            subject_id=str(subject.pk) if subject is not None else "",
            details=_normalise(details or {}),
            prev_hash=head.hash,
        )
        entry.hash = entry_hash(entry)
        entry.full_clean(validate_unique=False, validate_constraints=False)
        entry.save(force_insert=True)
        head.seq, head.hash = entry.seq, entry.hash
        head.save(update_fields=["seq", "hash"])
        _after_append(entry)
    return entry


def _after_append(entry: AuditEntry) -> None:
    """Hook for periodic checkpoints (see audit.checkpoints)."""
    try:
        from audit.checkpoints import maybe_checkpoint
    except ImportError:  # checkpoints not installed yet
        return
    maybe_checkpoint(entry)
