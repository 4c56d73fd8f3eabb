"""Appending to logs: lock the log's row, extend its tree by the border, sign the new head.

Call inside a transaction (audit_record opens one): the entry, the log's new state and its
signed head commit or roll back together, so no entry is ever outside a signed head.
"""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from audit import merkle
from audit.entries import Event, rfc3339
from audit.models import AuditEntry, AuditLog, Cosignature, TreeHead
from core import keys, metrics
from core.batch import ROWS_TO_LOAD, WriteBatch

# Heads kept besides the latest and the cosigned ones: a witness that fetched a head may
# still cosign it while this many entries are appended after it.
RECENT_HEADS = 1000


def lock_logs(owners: dict[str, int | None]) -> list[AuditLog]:
    """Lock the rows of these logs ({log id: infrastructure id}), creating missing ones.

    Rows are locked in log-id order, so two transactions appending to the same two logs
    queue instead of deadlocking. Only these rows are locked.
    """
    ids = sorted(owners)
    if len(ids) == 1:
        log = AuditLog.objects.select_for_update().filter(id=ids[0]).first()
        if log is not None:
            return [log]
    existing = set(AuditLog.objects.filter(id__in=ids).values_list("id", flat=True))
    missing = [log_id for log_id in ids if log_id not in existing]
    if missing:
        AuditLog.objects.bulk_create(
            [
                AuditLog(
                    id=log_id,
                    infrastructure_id=owners[log_id],
                    size=0,
                    root=merkle.EMPTY_ROOT,
                    border=b"",
                )
                for log_id in missing
            ],
            ignore_conflicts=True,  # another transaction created it first: lock theirs
        )
    return list(AuditLog.objects.select_for_update().filter(id__in=ids).order_by("id"))


def sign_head(log_id: str, size: int, root: bytes) -> TreeHead:
    """A new head for (log, size, root), signed now by the current authority key (unsaved)."""
    timestamp = rfc3339(timezone.now())
    key_id, signature = keys.authority().sign(
        merkle.tree_head_message(log_id, size, root, timestamp)
    )
    return TreeHead(
        log_id=log_id,
        size=size,
        root=root,
        timestamp=timestamp,
        key_id=key_id,
        signature=signature,
    )


def append_leaves(log: AuditLog, leaves: Iterable[tuple[bytes, dict]]) -> list[AuditEntry]:
    """Append entries to a locked log and store one signed head over the result.

    `leaves` are (exact bytes, column values) pairs whose bytes already carry their index;
    the caller built them for indexes log.size, log.size + 1, ... in order. The entries
    returned have their pks, unless there were ROWS_TO_LOAD or more (a bulk change's
    thousands of entries are loaded, core.batch, and nothing reads their pks).
    """
    size = log.size
    border = merkle.border_from_bytes(bytes(log.border), size)
    entries = []
    for leaf, columns in leaves:
        leaf_hash = merkle.leaf_hash(leaf)
        border = merkle.border_append(border, size, leaf_hash)
        entries.append(AuditEntry(log=log, index=size, leaf=leaf, leaf_hash=leaf_hash, **columns))
        size += 1
    if not entries:
        return []
    root = merkle.border_root(border, size)
    # The entries, the signed head, the log's new state and the pruning: one statement on
    # PostgreSQL (core.batch); none of them needs to see another's effect.
    batch = WriteBatch()
    if len(entries) >= ROWS_TO_LOAD:
        batch.load(AuditEntry, entries)
    else:
        batch.insert(AuditEntry, entries)
    batch.insert(TreeHead, [sign_head(log.id, size, root)])
    log.size, log.root, log.border = size, root, merkle.border_to_bytes(border)
    batch.update(AuditLog, log.pk, size=log.size, root=log.root, border=log.border)
    _prune_heads(batch, log.id, before=entries[0].index, after=size)
    batch.flush()
    return entries


def _prune_heads(batch: WriteBatch, log_id: str, *, before: int, after: int) -> None:
    """Drop the heads that fell RECENT_HEADS behind with this append, unless cosigned.

    Only the sizes in (before, after] shifted by RECENT_HEADS are looked at: constant work
    per append, whatever the number of heads kept. None of them is the head this append
    signs (its size is `after`), so the DELETE goes in the append's batch.
    """
    if after <= RECENT_HEADS:
        return
    batch.delete(
        TreeHead.objects.filter(
            log_id=log_id,
            size__gt=before - RECENT_HEADS,
            size__lte=after - RECENT_HEADS,
        ).exclude(Exists(Cosignature.objects.filter(head_id=OuterRef("pk"))))
    )


@metrics.observe_audit_append
def append_batch(batch: list[tuple[Event, dict[str, int | None]]]) -> list[dict[str, AuditEntry]]:
    """Append events, in order, each to its logs ({log id: infrastructure id}), in one step.

    Every log written is locked once (all of them in log-id order, like `lock_logs`), gets
    its events in the order given and one signed head over them. Returns, per event, {log
    id: its entry}. No savepoint: the caller's transaction commits or rolls back the lot
    (outside one, this opens it).
    """
    owners: dict[str, int | None] = {}
    for _event, event_owners in batch:
        owners.update(event_owners)
    appended: list[dict[str, AuditEntry]] = [{} for _ in batch]
    with transaction.atomic(savepoint=False):
        for log in lock_logs(owners):
            mine = [i for i, (_event, event_owners) in enumerate(batch) if log.id in event_owners]
            entries = append_leaves(
                log,
                [
                    (batch[i][0].leaf(log.id, log.size + n), batch[i][0].columns())
                    for n, i in enumerate(mine)
                ],
            )
            for i, entry in zip(mine, entries, strict=True):
                appended[i][log.id] = entry
    return appended


def append_event(event: Event, owners: dict[str, int | None]) -> dict[str, AuditEntry]:
    """Append one event to each of these logs; {log id: its entry}."""
    return append_batch([(event, owners)])[0]


def append_events(events: list[Event], owners: dict[str, int | None]) -> list[AuditEntry]:
    """Append many events, in order, to one log in one go: one lock, one signed head over
    them all (a bulk change of thousands of rows signs once, not once per row)."""
    if len(owners) != 1:
        raise ValueError("append_events writes to exactly one log")
    (log_id,) = owners
    return [entries[log_id] for entries in append_batch([(event, owners) for event in events])]
