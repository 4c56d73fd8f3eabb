"""Checkpoints kept outside the database: one signed JSON line each in an append-only file.

Someone who can write the database could delete every AuditCheckpoint row and then rewrite
or truncate the chain consistently; the copy in `IPP_DATA_DIR/audit/checkpoints.jsonl`
(or `IPP_AUDIT_CHECKPOINT_FILE`) keeps vouching for the chain. A line carries exactly the
signed content (seq, hash, created_at, key_id, signature) and is written only after the
checkpoint's transaction commits, so a rolled-back checkpoint is never mirrored.
"""

import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import transaction

from audit.chain import iso_utc

logger = logging.getLogger(__name__)

_FIELDS = ("seq", "hash", "created_at", "key_id", "signature")


def mirror_path() -> Path:
    """Where the mirror lives, read from settings at call time."""
    given = getattr(settings, "IPP_AUDIT_CHECKPOINT_FILE", "") or ""
    if given:
        return Path(given)
    return Path(settings.IPP_DATA_DIR) / "audit" / "checkpoints.jsonl"


def line_for(*, seq: int, hash: str, created_at: datetime, key_id: str, signature: str) -> dict:
    return {
        "seq": seq,
        "hash": hash,
        "created_at": iso_utc(created_at),
        "key_id": key_id,
        "signature": signature,
    }


def append_lines(records: Iterable[dict]) -> None:
    """Append records as JSON lines (O_APPEND, one write, fsync). Dir 0700, file 0600."""
    data = b"".join(
        json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n"
        for record in records
    )
    if not data:
        return
    path = mirror_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # a torn last line (crash mid-write) stays a line of its own
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _append_after_commit(records: list[dict]) -> None:
    try:
        append_lines(records)
    except OSError:
        # The operation has committed: failing it now would lie. Verification reports
        # checkpoints missing from the mirror.
        logger.exception(
            "audit checkpoint(s) %s not written to %s", [r["seq"] for r in records], mirror_path()
        )


def mirror_on_commit(checkpoints: Iterable) -> None:
    """Mirror AuditCheckpoint instances once the current transaction commits."""
    records = [
        line_for(
            seq=c.seq, hash=c.hash, created_at=c.created_at, key_id=c.key_id, signature=c.signature
        )
        for c in checkpoints
    ]
    if records:
        transaction.on_commit(partial(_append_after_commit, records))


@dataclass(frozen=True)
class MirroredCheckpoint:
    line: int
    seq: int
    hash: str
    created_at: datetime
    created_at_text: str
    key_id: str
    signature: str


def read_mirror(path: Path) -> Iterator[MirroredCheckpoint | int]:
    """Stream the mirror: a MirroredCheckpoint per line, or the line number of an unreadable one.

    Raises FileNotFoundError when there is no mirror.
    """
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                doc = json.loads(text)
                if not isinstance(doc, dict) or set(doc) != set(_FIELDS):
                    raise ValueError("unexpected fields")
                seq, created_text = doc["seq"], doc["created_at"]
                if type(seq) is not int or seq < 1:
                    raise ValueError("bad seq")
                if not all(
                    isinstance(doc[k], str) for k in ("hash", "created_at", "key_id", "signature")
                ):
                    raise ValueError("bad field type")
                created_at = datetime.fromisoformat(created_text)
                if created_at.tzinfo is None:
                    raise ValueError("naive time")
            except ValueError:
                yield number
                continue
            yield MirroredCheckpoint(
                line=number,
                seq=seq,
                hash=doc["hash"],
                created_at=created_at,
                created_at_text=created_text,
                key_id=doc["key_id"],
                signature=doc["signature"],
            )
