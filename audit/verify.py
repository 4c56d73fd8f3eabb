"""Verifying the chain: every hash, every link, every signed checkpoint, the head row.

`verify_chain` streams entries in seq order (bounded memory at any length) and stops at the
first problem, naming its sequence number. `chain_status` verifies only what is new since
the last good verification (kept in AuditVerification), so pages stay fast at 1M entries;
`verify_all` re-checks everything and is what `manage.py verify_audit` runs.
"""
import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max
from django.utils import timezone

from audit.chain import GENESIS_HASH, canonical_bytes
from audit.checkpoints import checkpoint_message, load_keyring
from audit.models import AuditCheckpoint, AuditEntry, AuditHead, AuditVerification

CHUNK_SIZE = 2000
_FIELDS = (
    "seq",
    "created_at",
    "actor_id",
    "actor_name",
    "action",
    "infrastructure_id",
    "subject_type",
    "subject_id",
    "details",
    "prev_hash",
    "hash",
)


@dataclass
class VerifyResult:
    ok: bool
    last_seq: int  # the newest entry known good
    last_hash: str
    last_time: datetime | None
    checked: int  # entries checked in this run
    head_seq: int
    problem: str = ""
    bad_seq: int | None = None

    @property
    def complete(self) -> bool:
        return self.ok and self.last_seq >= self.head_seq


def verify_chain(
    *,
    after_seq: int = 0,
    after_hash: str = GENESIS_HASH,
    limit: int | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> VerifyResult:
    """Check entries after `after_seq` (whose hash must still be `after_hash`).

    `limit` caps how many entries this call checks; the head and truncation checks run
    only when the run reaches the head.
    """
    # Checkpoints before the head: any checkpoint read now is at or below the head read next.
    max_checkpoint = AuditCheckpoint.objects.aggregate(m=Max("seq"))["m"] or 0
    checkpoints = list(
        AuditCheckpoint.objects.filter(seq__gt=after_seq)
        .order_by("seq")
        .values_list("seq", "hash", "created_at", "key_id", "signature")
    )
    head = AuditHead.objects.filter(id=1).values_list("seq", "hash").first() or (0, GENESIS_HASH)
    head_seq, head_hash = head
    upper = head_seq if limit is None else min(head_seq, after_seq + limit)
    keyring = load_keyring() if checkpoints else None

    prev, last_time, checked = after_hash, None, 0

    def result(problem: str = "", bad_seq: int | None = None) -> VerifyResult:
        return VerifyResult(
            ok=not problem,
            last_seq=after_seq + checked,
            last_hash=prev,
            last_time=last_time,
            checked=checked,
            head_seq=head_seq,
            problem=problem,
            bad_seq=bad_seq,
        )

    if after_seq:
        still = AuditEntry.objects.filter(seq=after_seq).values_list("hash", flat=True).first()
        if still is None:
            end = AuditEntry.objects.aggregate(m=Max("seq"))["m"] or 0
            if end < after_seq and max_checkpoint > end:
                return result(
                    f"truncated: checkpoint at {max_checkpoint} but chain ends at {end}", end + 1
                )
            return result(f"tampered: entry {after_seq} missing", after_seq)
        if still != after_hash:
            return result(f"tampered: entry {after_seq}: changed since it was verified", after_seq)

    rows = (
        AuditEntry.objects.filter(seq__gt=after_seq, seq__lte=upper)
        .order_by("seq")
        .values_list(*_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
    expected, cp_index = after_seq + 1, 0
    for seq, created_at, actor_id, actor_name, action, infra_id, s_type, s_id, details, prev_hash, stored in rows:
        if seq != expected:
            return result(f"tampered: entry {expected} missing", expected)
        computed = hashlib.sha256(
            canonical_bytes(
                seq=seq,
                created_at=created_at,
                actor_id=actor_id,
                actor_name=actor_name,
                action=action,
                infrastructure_id=infra_id,
                subject_type=s_type,
                subject_id=s_id,
                details=details,
                prev_hash=prev_hash,
            )
        ).hexdigest()
        if computed != stored:
            return result(f"tampered: entry {seq}: hash mismatch", seq)
        if prev_hash != prev:
            return result(f"tampered: entry {seq}: link to entry {seq - 1} broken", seq)
        while cp_index < len(checkpoints) and checkpoints[cp_index][0] <= seq:
            cp_seq, cp_hash, cp_time, key_id, signature = checkpoints[cp_index]
            cp_index += 1
            message = checkpoint_message(seq=cp_seq, hash=cp_hash, created_at=cp_time)
            if not keyring.verify(key_id, message, signature):
                if key_id in keyring.retired:
                    return result(
                        f"untrusted: checkpoint at {cp_seq}: signed by retired key {key_id}", cp_seq
                    )
                return result(f"tampered: checkpoint at {cp_seq}: signature does not verify", cp_seq)
            if cp_hash != stored:
                return result(f"tampered: entry {seq}: differs from the signed checkpoint", seq)
        prev, last_time, checked, expected = stored, created_at, checked + 1, expected + 1

    end = expected - 1
    if end < upper:
        if max_checkpoint > end:
            return result(f"truncated: checkpoint at {max_checkpoint} but chain ends at {end}", end + 1)
        return result(f"tampered: entry {end + 1} missing (the head says {head_seq})", end + 1)
    if upper < head_seq:
        return result()  # out of budget: the rest is checked next time
    if max_checkpoint > end:
        return result(f"truncated: checkpoint at {max_checkpoint} but chain ends at {end}", end + 1)
    if prev != head_hash:
        return result(f"tampered: entry {end}: the head row disagrees with the chain", end)
    return result()


# -- remembered verification (pages) ------------------------------------------------


@dataclass
class ChainStatus:
    ok: bool
    verified_seq: int
    verified_time: datetime | None  # when the newest verified entry was written
    verified_at: datetime | None  # when verification last ran
    full_verified_at: datetime | None
    head_seq: int
    last_checkpoint_seq: int | None
    last_checkpoint_at: datetime | None
    problem: str = ""
    bad_seq: int | None = None

    @property
    def pending(self) -> int:
        return max(self.head_seq - self.verified_seq, 0)


def _state() -> AuditVerification:
    state, _ = AuditVerification.objects.get_or_create(id=1)
    return state


def _record(result: VerifyResult, *, full: bool) -> None:
    now = timezone.now()
    if not result.ok:
        AuditVerification.objects.filter(id=1).update(
            failure=result.problem[:300], failure_seq=result.bad_seq, failed_at=now
        )
        return
    fields = {"last_seq": result.last_seq, "last_hash": result.last_hash, "verified_at": now}
    if full:
        # Only a full pass clears a recorded failure (e.g. after restoring a backup).
        fields.update(full_verified_at=now, failure="", failure_seq=None, failed_at=None)
        AuditVerification.objects.filter(id=1).update(**fields)
    else:
        # Never overwrite a failure found meanwhile, never move backwards.
        AuditVerification.objects.filter(id=1, failure="", last_seq__lte=result.last_seq).update(
            **fields
        )


def _status(state: AuditVerification, head_seq: int) -> ChainStatus:
    checkpoint = AuditCheckpoint.objects.order_by("-seq").values_list("seq", "created_at").first()
    verified_time = (
        AuditEntry.objects.filter(seq=state.last_seq).values_list("created_at", flat=True).first()
        if state.last_seq
        else None
    )
    return ChainStatus(
        ok=not state.failure,
        verified_seq=state.last_seq,
        verified_time=verified_time,
        verified_at=state.verified_at,
        full_verified_at=state.full_verified_at,
        head_seq=head_seq,
        last_checkpoint_seq=checkpoint[0] if checkpoint else None,
        last_checkpoint_at=checkpoint[1] if checkpoint else None,
        problem=state.failure,
        bad_seq=state.failure_seq,
    )


def chain_status(*, budget: int = 20_000) -> ChainStatus:
    """Verify up to `budget` entries beyond the last verified one, then report."""
    state = _state()
    head_seq = AuditHead.objects.filter(id=1).values_list("seq", flat=True).first() or 0
    if not state.failure:
        result = verify_chain(
            after_seq=state.last_seq, after_hash=state.last_hash or GENESIS_HASH, limit=budget
        )
        _record(result, full=False)
        state.refresh_from_db()
        head_seq = result.head_seq
    return _status(state, head_seq)


def verify_all() -> VerifyResult:
    """Verify the whole chain from entry 1 and remember the outcome."""
    _state()
    result = verify_chain()
    _record(result, full=True)
    return result
