"""Verifying the chain: every hash, every link, every signed checkpoint, the head row.

`verify_chain` streams entries in seq order (bounded memory at any length) and stops at the
first problem, naming its sequence number. `chain_status` verifies only what is new since
the last good verification (kept in AuditVerification), so pages stay fast at 1M entries;
`verify_all` re-checks everything and is what `manage.py verify_audit` runs.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Max
from django.utils import timezone

from audit.chain import GENESIS_HASH, canonical_bytes
from audit.checkpoints import checkpoint_message
from audit.mirror import MirroredCheckpoint, mirror_path, read_mirror
from audit.models import AuditCheckpoint, AuditHead, AuditVerification, ChainEntry
from core import keys

CHUNK_SIZE = 2000
MIRROR_BATCH = 500
_CP_FIELDS = ("seq", "hash", "created_at", "key_id", "signature")
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
    warnings: list = field(default_factory=list)  # mirror warnings (not failures)

    @property
    def complete(self) -> bool:
        return self.ok and self.last_seq >= self.head_seq


def _signature_problem(keyring, seq: int, key_id: str, message: bytes, signature: str, where: str):
    """None when the signature verifies, else the finding (retired keys are 'untrusted')."""
    if keyring.verify(key_id, message, signature):
        return None
    if key_id in keyring.retired:
        return f"untrusted: checkpoint at {seq}{where}: signed by retired key {key_id}"
    return f"tampered: checkpoint at {seq}{where}: signature does not verify"


@dataclass
class _MirrorCheck:
    """What the checkpoint mirror says about the range being verified (see _check_mirror)."""

    max_seq: int = 0  # newest validly signed mirrored checkpoint (for truncation)
    bad: tuple[int, str] | None = None  # first finding by seq, reported when the scan reaches it
    missing_row: tuple[int, str] | None = None  # first mirrored checkpoint with no DB row
    warnings: list = field(default_factory=list)  # (message, seq or None)

    def note(self, seq: int, problem: str) -> None:
        if self.bad is None or seq < self.bad[0]:
            self.bad = (seq, problem)


def _check_mirror(
    *, after_seq: int, upper: int, head_seq: int, db_checkpoints: dict, keyring_for
) -> _MirrorCheck:
    """Stream the mirror file, checking each line in (after_seq, upper] and beyond the head.

    Memory stays bounded: lines are read one at a time and the entries they vouch for are
    fetched in batches of MIRROR_BATCH. A line's DB row missing from `db_checkpoints` (read
    before the file) is looked up again, so a checkpoint committed meanwhile is no finding;
    likewise a line beyond `head_seq` counts only if it is beyond the head read afterwards.
    """
    check = _MirrorCheck()
    path = mirror_path()
    where = f" in {path.name}"
    unmirrored = {seq for seq in db_checkpoints if seq <= upper}
    batch: list[MirroredCheckpoint] = []
    beyond = 0  # the newest validly signed line past head_seq
    unreadable: list[int] = []

    def flush() -> None:
        seqs = [cp.seq for cp in batch]
        hashes = dict(ChainEntry.objects.filter(seq__in=seqs).values_list("seq", "hash"))
        late = [seq for seq in seqs if seq not in db_checkpoints]
        late_rows = {}
        if late:  # committed after `db_checkpoints` was read, or deleted
            for seq, *rest in AuditCheckpoint.objects.filter(seq__in=late).values_list(*_CP_FIELDS):
                late_rows[seq] = tuple(rest)
        for cp in batch:
            unmirrored.discard(cp.seq)
            stored = hashes.get(cp.seq)
            if stored is not None and stored != cp.hash:
                check.note(cp.seq, f"tampered: entry {cp.seq}: differs from the signed checkpoint")
                continue
            row = db_checkpoints.get(cp.seq) or late_rows.get(cp.seq)
            if row is None:
                if check.missing_row is None or cp.seq < check.missing_row[0]:
                    check.missing_row = (
                        cp.seq,
                        f"tampered: checkpoint at {cp.seq} missing from the database",
                    )
            elif row != (cp.hash, cp.created_at, cp.key_id, cp.signature):
                check.note(cp.seq, f"tampered: checkpoint at {cp.seq}: differs from {path.name}")
        batch.clear()

    try:
        lines = read_mirror(path)
        for item in lines:
            if isinstance(item, int):
                if len(unreadable) < 10:
                    unreadable.append(item)
                continue
            if item.seq <= after_seq:
                # Verified before: it only says how long the chain was (truncation below
                # what was verified is a failure whichever checkpoint names it).
                check.max_seq = max(check.max_seq, item.seq)
                continue
            if upper < item.seq <= head_seq:
                continue  # left for a later run (out of budget)
            message = checkpoint_message(seq=item.seq, hash=item.hash, created_at=item.created_at)
            problem = _signature_problem(
                keyring_for(), item.seq, item.key_id, message, item.signature, where
            )
            if problem:
                check.note(item.seq, problem)
                continue
            if item.seq > head_seq:
                beyond = max(beyond, item.seq)
                continue
            check.max_seq = max(check.max_seq, item.seq)
            batch.append(item)
            if len(batch) >= MIRROR_BATCH:
                flush()
        if batch:
            flush()
    except FileNotFoundError:
        if db_checkpoints:
            check.warnings.append(
                (
                    f"no checkpoint mirror at {path}: {len(db_checkpoints)} checkpoint(s) are "
                    "vouched for only by the database",
                    None,
                )
            )
        return check
    except OSError as exc:  # unreadable (permissions, a directory…): not a crash of the page
        check.warnings.append((f"cannot read the checkpoint mirror {path}: {exc}", None))
        return check
    if beyond:
        # Past the head read at the start: the chain may simply have grown since.
        now = AuditHead.objects.filter(id=1).values_list("seq", flat=True).first() or 0
        if beyond > now:
            check.max_seq = max(check.max_seq, beyond)
    if unreadable:
        check.warnings.append(
            (f"{path}: unreadable line(s) {', '.join(map(str, unreadable))}", None)
        )
    if unmirrored:
        first = min(unmirrored)
        check.warnings.append(
            (
                f"{len(unmirrored)} checkpoint(s) in the database are not in {path} "
                f"(first at {first})",
                first,
            )
        )
    return check


def verify_chain(
    *,
    after_seq: int = 0,
    after_hash: str = GENESIS_HASH,
    limit: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    strict: bool = False,
) -> VerifyResult:
    """Check entries after `after_seq` (whose hash must still be `after_hash`).

    `limit` caps how many entries this call checks; the head and truncation checks run
    only when the run reaches the head. Checkpoints come from the database and from the
    mirror file (audit/mirror.py); mirror warnings (no file, unreadable lines, checkpoints
    not mirrored) are returned in `warnings`, and fail the run when `strict`.
    """
    # Checkpoints before the head: any checkpoint read now is at or below the head read next.
    max_checkpoint = AuditCheckpoint.objects.aggregate(m=Max("seq"))["m"] or 0
    checkpoints = list(
        AuditCheckpoint.objects.filter(seq__gt=after_seq).order_by("seq").values_list(*_CP_FIELDS)
    )
    head = AuditHead.objects.filter(id=1).values_list("seq", "hash").first() or (0, GENESIS_HASH)
    head_seq, head_hash = head
    upper = head_seq if limit is None else min(head_seq, after_seq + limit)
    keyrings: list = []

    def keyring_for():
        if not keyrings:
            keyrings.append(keys.authority())
        return keyrings[0]

    mirror = _check_mirror(
        after_seq=after_seq,
        upper=upper,
        head_seq=head_seq,
        db_checkpoints={seq: tuple(rest) for seq, *rest in checkpoints},
        keyring_for=keyring_for,
    )
    max_checkpoint = max(max_checkpoint, mirror.max_seq)
    warnings = [text for text, _ in mirror.warnings]

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
            warnings=warnings,
        )

    def deferred() -> VerifyResult | None:
        """Findings that name no broken entry: reported once the chain itself is sound."""
        reached = after_seq + checked
        if mirror.bad is not None and mirror.bad[0] > reached:
            return result(mirror.bad[1], mirror.bad[0])
        if mirror.missing_row is not None and mirror.missing_row[0] <= reached:
            return result(mirror.missing_row[1], mirror.missing_row[0])
        if strict and mirror.warnings:
            text, seq = mirror.warnings[0]
            return result(f"missing: {text}", seq)
        return None

    if after_seq:
        still = ChainEntry.objects.filter(seq=after_seq).values_list("hash", flat=True).first()
        if still is None:
            end = ChainEntry.objects.aggregate(m=Max("seq"))["m"] or 0
            if end < after_seq and max_checkpoint > end:
                return result(
                    f"truncated: checkpoint at {max_checkpoint} but chain ends at {end}", end + 1
                )
            return result(f"tampered: entry {after_seq} missing", after_seq)
        if still != after_hash:
            return result(f"tampered: entry {after_seq}: changed since it was verified", after_seq)

    rows = (
        ChainEntry.objects.filter(seq__gt=after_seq, seq__lte=upper)
        .order_by("seq")
        .values_list(*_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
    expected, cp_index = after_seq + 1, 0
    for (
        seq,
        created_at,
        actor_id,
        actor_name,
        action,
        infra_id,
        s_type,
        s_id,
        details,
        prev_hash,
        stored,
    ) in rows:
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
            problem = _signature_problem(keyring_for(), cp_seq, key_id, message, signature, "")
            if problem:
                return result(problem, cp_seq)
            if cp_hash != stored:
                return result(f"tampered: entry {seq}: differs from the signed checkpoint", seq)
        if mirror.bad is not None and mirror.bad[0] <= seq:
            return result(mirror.bad[1], mirror.bad[0])
        prev, last_time, checked, expected = stored, created_at, checked + 1, expected + 1

    end = expected - 1
    if end < upper:
        if max_checkpoint > end:
            return result(
                f"truncated: checkpoint at {max_checkpoint} but chain ends at {end}", end + 1
            )
        return result(f"tampered: entry {end + 1} missing (the head says {head_seq})", end + 1)
    if upper < head_seq:
        return deferred() or result()  # out of budget: the rest is checked next time
    if max_checkpoint > end:
        return result(f"truncated: checkpoint at {max_checkpoint} but chain ends at {end}", end + 1)
    if prev != head_hash:
        return result(f"tampered: entry {end}: the head row disagrees with the chain", end)
    return deferred() or result()


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
        ChainEntry.objects.filter(seq=state.last_seq).values_list("created_at", flat=True).first()
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


def verify_all(*, strict: bool = False) -> VerifyResult:
    """Verify the whole chain from entry 1 and remember the outcome.

    `strict`: a missing or incomplete checkpoint mirror fails instead of warning.
    """
    _state()
    result = verify_chain(strict=strict)
    _record(result, full=True)
    return result
