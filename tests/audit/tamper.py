"""What an intruder with write access to the database does to a log, for the tamper tests.

Each helper changes rows the way SQL would (no service, no signal). On PostgreSQL the
intruder first drops the constraints that hold each row's columns to its bytes
(audit.enforced; they would refuse most of these edits): `rows` does, so every tamper test
there is also a test that verify_audit, finding them gone, decodes every entry. `rehash` is
the careful intruder: after changing entries it recomputes every leaf hash, every stored
head's root, the log row's root and border, so that only signatures can give it away; with
a `ring` it also re-signs those heads (with a stolen key).
"""

import json

from django.db import connection

from audit import enforced, merkle
from audit.entries import canonical
from audit.models import AuditEntry, AuditLog, TreeHead

disarmed = False  # set by disarm: tests/audit/conftest.py puts the constraints back


def disarm() -> None:
    """Drop the constraints of audit.enforced (PostgreSQL), as an intruder owning the table can."""
    global disarmed
    if connection.vendor != "postgresql":
        return
    disarmed = True
    with connection.cursor() as cursor:
        # Django's foreign keys are deferred: rows written in this transaction leave trigger
        # events pending, and PostgreSQL alters no table with those. Fire them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name in enforced.CHECKS:
            cursor.execute(f'ALTER TABLE "{enforced.TABLE}" DROP CONSTRAINT IF EXISTS "{name}"')


def rearm() -> None:
    """Put the constraints back as migration 0008 built them, after a transactional test.

    The tampered rows go first (the flush after the test would remove them anyway): a
    constraint added validated checks every row."""
    global disarmed
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{enforced.TABLE}"')
        for name, expression in enforced.CHECKS.items():
            cursor.execute(f'ALTER TABLE "{enforced.TABLE}" DROP CONSTRAINT IF EXISTS "{name}"')
            cursor.execute(
                f'ALTER TABLE "{enforced.TABLE}" ADD CONSTRAINT "{name}" CHECK ({expression})'
            )
    disarmed = False


def rows(log: str):
    disarm()
    return AuditEntry.objects.filter(log_id=log)


def leaves(log: str) -> list[bytes]:
    return [bytes(leaf) for leaf in rows(log).order_by("index").values_list("leaf", flat=True)]


def document(log: str, index: int) -> dict:
    return json.loads(bytes(rows(log).get(index=index).leaf))


def set_bytes(log: str, index: int, new: dict, *, leaf_hash: bool = False) -> None:
    """Replace an entry's bytes (and, when `leaf_hash`, the leaf hash column with them)."""
    raw = canonical(new)
    fields = {"leaf": raw}
    if leaf_hash:
        fields["leaf_hash"] = merkle.leaf_hash(raw)
    rows(log).filter(index=index).update(**fields)


def edit_details(log: str, index: int, **changes) -> None:
    new = document(log, index)
    new["details"] = {**new["details"], **changes}
    set_bytes(log, index, new, leaf_hash=True)
    rows(log).filter(index=index).update(details=new["details"])


def shift_up(log: str, start: int) -> None:
    """Indexes start.. become start+1.. (from the end, one by one: (log, index) is unique)."""
    for index in (
        rows(log).filter(index__gte=start).order_by("-index").values_list("index", flat=True)
    ):
        rows(log).filter(index=index).update(index=index + 1)


def swap(log: str, one: int, other: int) -> None:
    """Two rows trade places ((log, index) is unique: one waits at a free index)."""
    rows(log).filter(index=one).update(index=10**9)
    rows(log).filter(index=other).update(index=one)
    rows(log).filter(index=10**9).update(index=other)


def rehash(log: str, *, ring=None, size: int | None = None) -> None:
    """Make every stored hash agree with the entries as they now are (and re-sign with ring)."""
    data = leaves(log)
    hashes = merkle.leaf_hashes_of(data)
    for position, pk in enumerate(rows(log).order_by("index").values_list("pk", flat=True)):
        AuditEntry.objects.filter(pk=pk).update(leaf_hash=hashes[position])
    size = len(data) if size is None else size
    for head in TreeHead.objects.filter(log_id=log, size__lte=size):
        root = merkle.root_from_leaf_hashes(hashes[: head.size])
        fields = {"root": root}
        if ring is not None and root != bytes(head.root):
            key_id, signature = ring.sign(
                merkle.tree_head_message(log, head.size, root, head.timestamp)
            )
            fields.update(key_id=key_id, signature=signature)
        TreeHead.objects.filter(pk=head.pk).update(**fields)
    border = merkle.border_from_leaf_hashes(hashes[:size])
    AuditLog.objects.filter(id=log).update(
        size=size,
        root=merkle.border_root(border, size),
        border=merkle.border_to_bytes(border),
    )
