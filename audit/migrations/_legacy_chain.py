"""The old hash chain, frozen for migration 0006: its encoding and its full verification.

The chain (one table, entry n hashing its canonical encoding with entry n-1's hash, a
checkpoint signed every 100 entries, and a mirror of the checkpoints in
IPP_DATA_DIR/audit/checkpoints.jsonl) is verified here exactly as `verify_audit` verified
it before it was replaced, so that a broken chain is refused instead of being re-signed.
Not a migration itself (the name starts with "_").
"""

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

GENESIS_HASH = "0" * 64
CHECKPOINT_DOMAIN = b"ipp-site/audit-checkpoint/v1\n"


class BrokenChain(Exception):
    """The old chain does not verify: it is not migrated."""


def _dumps(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(row) -> str:
    """An old entry's hash: SHA-256 of its canonical encoding (audit/chain.py as it was)."""
    return hashlib.sha256(
        _dumps(
            {
                "seq": row.seq,
                "time": iso_utc(row.created_at),
                "actor": row.actor_id,
                "actor_name": row.actor_name,
                "action": row.action,
                "infrastructure": row.infrastructure_id,
                "subject_type": row.subject_type,
                "subject_id": row.subject_id,
                "details": row.details,
                "prev": row.prev_hash,
            }
        )
    ).hexdigest()


def checkpoint_message(*, seq: int, hash: str, created_at: datetime) -> bytes:
    return CHECKPOINT_DOMAIN + _dumps({"seq": seq, "hash": hash, "time": iso_utc(created_at)})


def _signature(ring, seq: int, key_id: str, message: bytes, signature: str, where: str) -> None:
    if ring.verify(key_id, message, signature):
        return
    if key_id in ring.retired:
        raise BrokenChain(f"checkpoint at {seq}{where} is signed by retired key {key_id}")
    raise BrokenChain(f"checkpoint at {seq}{where}: its signature does not verify")


def mirror_lines(data_dir) -> list[dict]:
    """The checkpoints mirrored outside the database, when the file is there."""
    given = os.environ.get("IPP_AUDIT_CHECKPOINT_FILE", "")
    path = Path(given) if given else Path(data_dir) / "audit" / "checkpoints.jsonl"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            record["created_at"] = datetime.fromisoformat(record["created_at"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BrokenChain(f"{path} line {number} is unreadable ({exc})") from None
        lines.append(record)
    return lines


def verify(ChainEntry, AuditCheckpoint, AuditHead, ring, mirrored: list[dict]) -> int:
    """Raise BrokenChain naming the first problem; return the number of entries."""
    checkpoints = {
        cp.seq: (cp.hash, cp.created_at, cp.key_id, cp.signature)
        for cp in AuditCheckpoint.objects.all()
    }
    for seq, (hash_, created_at, key_id, signature) in checkpoints.items():
        message = checkpoint_message(seq=seq, hash=hash_, created_at=created_at)
        _signature(ring, seq, key_id, message, signature, "")
    for line in mirrored:
        message = checkpoint_message(
            seq=line["seq"], hash=line["hash"], created_at=line["created_at"]
        )
        _signature(ring, line["seq"], line["key_id"], message, line["signature"], " (mirror)")
        checkpoints.setdefault(line["seq"], (line["hash"],))
        if checkpoints[line["seq"]][0] != line["hash"]:
            raise BrokenChain(f"checkpoint at {line['seq']} differs from its mirrored copy")
    previous, expected = GENESIS_HASH, 1
    for row in ChainEntry.objects.order_by("seq").iterator(chunk_size=2000):
        if row.seq != expected:
            raise BrokenChain(f"entry {expected} is missing")
        if row.prev_hash != previous:
            raise BrokenChain(f"entry {row.seq}: its link to entry {row.seq - 1} is broken")
        if entry_hash(row) != row.hash:
            raise BrokenChain(f"entry {row.seq}: its hash does not match its content")
        if row.seq in checkpoints and checkpoints[row.seq][0] != row.hash:
            raise BrokenChain(f"entry {row.seq} differs from the signed checkpoint")
        previous, expected = row.hash, expected + 1
    end = expected - 1
    beyond = [seq for seq in checkpoints if seq > end]
    if beyond:
        raise BrokenChain(f"truncated: a checkpoint at {max(beyond)} but the chain ends at {end}")
    head = AuditHead.objects.filter(id=1).values_list("seq", "hash").first()
    if head is not None and head != (end, previous):
        raise BrokenChain(f"the head row says entry {head[0]}, the chain ends at {end}")
    return end
