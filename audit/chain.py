"""The chain's canonical encodings: what an entry's hash and a checkpoint's signature cover.

Changing anything here invalidates every stored hash, so it never changes in place: a new
format would need a version marker in the encoded document.
"""

import hashlib
import json
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64

# Domain separation: the authority key also signs IPP marks; a checkpoint signature must
# never be mistaken for (or replayed as) a mark, and the reverse.
CHECKPOINT_DOMAIN = b"ipp-site/audit-checkpoint/v1\n"


def _dumps(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


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
    return _dumps(
        {
            "seq": seq,
            "time": iso_utc(created_at),
            "actor": actor_id,
            "actor_name": actor_name,
            "action": action,
            "infrastructure": infrastructure_id,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "details": details,
            "prev": prev_hash,
        }
    )


def entry_hash(entry) -> str:
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


def checkpoint_message(*, seq: int, hash: str, created_at: datetime) -> bytes:
    """The bytes a checkpoint signature covers: (seq, hash, created_at), domain-separated."""
    return CHECKPOINT_DOMAIN + _dumps({"seq": seq, "hash": hash, "time": iso_utc(created_at)})
