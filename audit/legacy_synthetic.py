"""Fast bulk appends of synthetic entries, for benchmarks and large-volume tests only.

Entries are hashed and linked exactly as audit_record does, and checkpoints are signed
every IPP_AUDIT_CHECKPOINT_EVERY entries, so the result verifies like a real chain.
Never used by the site itself: real operations go through audit_record.
"""

import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, canonical_bytes, checkpoint_message
from audit.mirror import mirror_on_commit
from audit.models import AuditCheckpoint, AuditHead, ChainEntry
from core import keys


def bulk_append_chain(
    n: int,
    *,
    infrastructure_id: int | None = None,
    actor_name: str = "bench",
    action: str = "module.published",
    batch: int = 5000,
    on_batch: Callable[[list[bytes]], None] | None = None,
) -> int:
    """Append `n` entries after the current head; returns the new head seq.

    `on_batch` receives each batch's canonical bytes (the bench hashes them again to
    compare with raw SHA-256).
    """
    keyring = keys.authority()
    every = int(settings.IPP_AUDIT_CHECKPOINT_EVERY)
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(
            id=1, defaults={"seq": 0, "hash": GENESIS_HASH}
        )
        seq, prev = head.seq, head.hash
        start = timezone.now() - timedelta(seconds=n)
        remaining = n
        while remaining:
            size = min(batch, remaining)
            entries, checkpoints, blobs = [], [], []
            for _ in range(size):
                seq += 1
                created_at = start + timedelta(seconds=seq)
                details = {"module": f"Module{seq % 97}", "version": seq % 13 + 1}
                data = canonical_bytes(
                    seq=seq,
                    created_at=created_at,
                    actor_id=None,
                    actor_name=actor_name,
                    action=action,
                    infrastructure_id=infrastructure_id,
                    subject_type="",
                    subject_id="",
                    details=details,
                    prev_hash=prev,
                )
                digest = hashlib.sha256(data).hexdigest()
                blobs.append(data)
                entries.append(
                    ChainEntry(
                        seq=seq,
                        created_at=created_at,
                        actor_name=actor_name,
                        action=action,
                        infrastructure_id=infrastructure_id,
                        details=details,
                        prev_hash=prev,
                        hash=digest,
                    )
                )
                if seq % every == 0:
                    now = timezone.now()
                    kid, signature = keyring.sign(
                        checkpoint_message(seq=seq, hash=digest, created_at=now)
                    )
                    checkpoints.append(
                        AuditCheckpoint(
                            seq=seq, hash=digest, created_at=now, key_id=kid, signature=signature
                        )
                    )
                prev = digest
            ChainEntry.objects.bulk_create(entries)
            AuditCheckpoint.objects.bulk_create(checkpoints)
            mirror_on_commit(checkpoints)
            if on_batch is not None:
                on_batch(blobs)
            remaining -= size
        head.seq, head.hash = seq, prev
        head.save(update_fields=["seq", "hash"])
    return seq
