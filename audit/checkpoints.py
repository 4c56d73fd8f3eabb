"""Signed checkpoints: 'the chain had `seq` entries ending in `hash`', by the authority key.

The key lives outside the database (the "authority" keys of core.keys), so someone who
can rewrite the tables can recompute every hash but cannot forge these signatures.
"""

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, checkpoint_message
from audit.mirror import mirror_on_commit
from audit.models import AuditCheckpoint, AuditHead, ChainEntry
from core import keys
from core.keys import AuthorityRing

logger = logging.getLogger(__name__)


def _sign(*, seq: int, hash: str, keyring: AuthorityRing | None = None) -> AuditCheckpoint:
    created_at = timezone.now()
    key_id, signature = (keyring or keys.authority()).sign(
        checkpoint_message(seq=seq, hash=hash, created_at=created_at)
    )
    checkpoint = AuditCheckpoint.objects.create(
        seq=seq, hash=hash, created_at=created_at, key_id=key_id, signature=signature
    )
    # Also outside the database (audit/mirror.py), once this transaction commits.
    mirror_on_commit([checkpoint])
    return checkpoint


def maybe_checkpoint(entry: ChainEntry) -> AuditCheckpoint | None:
    """Sign a checkpoint when `entry` is a multiple of IPP_AUDIT_CHECKPOINT_EVERY.

    Called by audit_record with the head row locked, in the caller's transaction: a rolled
    back operation takes its checkpoint with it.
    """
    every = int(settings.IPP_AUDIT_CHECKPOINT_EVERY)
    if every < 1 or entry.seq % every:
        return None
    try:
        keyring = keys.authority()
    except (ImproperlyConfigured, OSError, ValueError):
        # A missing or broken key must not make every hundredth operation fail: the entry
        # is still chained, the next checkpoint covers it, and the page shows the gap.
        logger.exception(
            "audit checkpoint at #%s not signed: authority keyring unusable", entry.seq
        )
        return None
    return _sign(seq=entry.seq, hash=entry.hash, keyring=keyring)


def checkpoint_now() -> AuditCheckpoint | None:
    """Sign the current head now (None when the chain is empty).

    The head row is locked so no entry lands in between, and the head must agree with
    the entry it names: a checkpoint never vouches for a head that points nowhere.
    """
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(id=1).first()
        if head is None or head.seq == 0:
            return None
        existing = AuditCheckpoint.objects.filter(seq=head.seq).first()
        if existing is not None:
            return existing
        tip = ChainEntry.objects.filter(seq=head.seq).values_list("hash", flat=True).first()
        if tip != head.hash or head.hash == GENESIS_HASH:
            raise ValueError(
                f"the chain head (#{head.seq}) does not match its entry; run verify_audit"
            )
        return _sign(seq=head.seq, hash=head.hash)


def checkpoint_valid(checkpoint: AuditCheckpoint, keyring: AuthorityRing | None = None) -> bool:
    keyring = keyring or keys.authority()
    return keyring.verify(
        checkpoint.key_id,
        checkpoint_message(
            seq=checkpoint.seq, hash=checkpoint.hash, created_at=checkpoint.created_at
        ),
        checkpoint.signature,
    )
