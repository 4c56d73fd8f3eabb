"""What an intruder with write access to the database does to a log, for the tamper tests.

Each helper changes rows the way SQL would (no service, no signal). `rehash` is the careful
intruder: after changing entries it recomputes every leaf hash, every stored head's root,
the log row's root and border, so that only signatures can give it away; with a `ring` it
also re-signs those heads (with a stolen key).
"""

import json

from audit import merkle
from audit.entries import canonical
from audit.models import AuditEntry, AuditLog, TreeHead


def rows(log: str):
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
