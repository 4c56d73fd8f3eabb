"""Appending to the audit log. Call inside the transaction of what is being recorded."""

import json

from django.db import transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, canonical_bytes, entry_hash
from audit.checkpoints import maybe_checkpoint
from audit.models import AuditEntry, AuditHead

__all__ = ["GENESIS_HASH", "audit_record", "canonical_bytes", "entry_hash"]


def _stringify_floats(value):
    # PostgreSQL's jsonb may hand a float back in another spelling (1e20 comes back as an
    # integer), which would break the hash: floats are kept as their repr instead.
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {key: _stringify_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_stringify_floats(item) for item in value]
    return value


def _normalise(details: dict) -> dict:
    # Round-trip through JSON so what is hashed is exactly what the database gives back.
    return _stringify_floats(json.loads(json.dumps(details, sort_keys=True, default=str)))


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
        # The actor and infrastructure are instances in hand: skip two existence queries.
        entry.full_clean(
            exclude=["actor", "infrastructure"], validate_unique=False, validate_constraints=False
        )
        entry.save(force_insert=True)
        head.seq, head.hash = entry.seq, entry.hash
        head.save(update_fields=["seq", "hash"])
        _after_append(entry)
    return entry


def _after_append(entry: AuditEntry) -> None:
    """Periodic signed checkpoints, under the same head lock and transaction."""
    maybe_checkpoint(entry)
