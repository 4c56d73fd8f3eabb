"""What a log entry is: the exact bytes hashed into a log (SPEC §6), and the columns beside them.

An entry is canonical JSON (sorted keys, no insignificant whitespace, UTF-8 not escaped):

    {"action": "transfer.approved",
     "actor": {"id": 3, "name": "acme_admin"} or null,
     "also": 8 or null,                  # the other infrastructure of a two-sided event
     "details": {...},
     "index": 0,                         # 0-based, in this log
     "infrastructure": 7 or null,        # the infrastructure the event is about
     "log": "7",                         # the log it is in: an infrastructure's id, or "site"
     "subject": {"id": "5", "label": "CustomerCore v3", "type": "moduleversion"} or null,
     "time": "2026-05-01T12:00:00.123456Z"}

These bytes are stored as they are and never re-encoded: what is shown, exported and served
is what was hashed and signed. Changing anything here changes every new entry, so it never
changes in place (a new shape would need a version key in the document).
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

SITE_LOG = "site"
LABEL_MAX = 200

# Columns of AuditEntry that repeat what the bytes say (for filtering and display), in the
# order `columns_of` gives them: verify_audit compares each with the bytes.
COLUMNS = (
    "index",
    "log_id",
    "created_at",
    "actor_id",
    "actor_name",
    "action",
    "infrastructure_id",
    "also_id",
    "subject_type",
    "subject_id",
    "subject_label",
)

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(document) -> bytes:
    """The one encoding of a document: sorted keys, no whitespace, UTF-8."""
    return _ENCODER.encode(document).encode()


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, e.g. 2026-05-01T12:00:00.123456Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text)


def log_id_for(infrastructure_id: int | None) -> str:
    """An infrastructure's log id (its id as a string); events of none go to the site log."""
    return SITE_LOG if infrastructure_id is None else str(infrastructure_id)


def _text(value: str) -> str:
    # Lone surrogates are not UTF-8 and NUL is refused by PostgreSQL's jsonb: neither can be
    # stored as given, so they are replaced rather than fail the operation being recorded.
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode()
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode()
    return value


def clean(value):
    """`value` as JSON that reads back equal on both databases.

    Strings are made valid UTF-8; floats become their repr (jsonb may respell them);
    datetimes, UUIDs, Decimals and anything else become str; tuples become lists.
    """
    if isinstance(value, str):
        return _text(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {_text(str(key)): clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean(item) for item in value]
    return _text(str(value))


@dataclass(frozen=True)
class Event:
    """One recorded operation, before it is placed in a log (one event, one or two logs)."""

    time: datetime
    action: str
    actor_id: int | None
    actor_name: str
    infrastructure_id: int | None
    also_id: int | None
    subject_type: str
    subject_id: str
    subject_label: str
    details: dict

    def document(self, log: str, index: int) -> dict:
        actor = None
        if self.actor_id is not None or self.actor_name:
            actor = {"id": self.actor_id, "name": self.actor_name}
        subject = None
        if self.subject_type:
            subject = {
                "id": self.subject_id,
                "label": self.subject_label,
                "type": self.subject_type,
            }
        return {
            "action": self.action,
            "actor": actor,
            "also": self.also_id,
            "details": self.details,
            "index": index,
            "infrastructure": self.infrastructure_id,
            "log": log,
            "subject": subject,
            "time": rfc3339(self.time),
        }

    def leaf(self, log: str, index: int) -> bytes:
        return canonical(self.document(log, index))

    def columns(self) -> dict:
        """The AuditEntry fields this event fills (log and index are the append's)."""
        return {
            "created_at": self.time,
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "action": self.action,
            "infrastructure_id": self.infrastructure_id,
            "also_id": self.also_id,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "subject_label": self.subject_label,
            "details": self.details,
        }


def columns_of(document: dict) -> tuple:
    """What the columns named in COLUMNS must hold for an entry whose bytes say `document`.

    KeyError or TypeError when the document lacks a field: the caller reports it.
    """
    actor = document["actor"] or {}
    subject = document["subject"] or {}
    return (
        document["index"],
        document["log"],
        parse_rfc3339(document["time"]),
        actor.get("id"),
        actor.get("name", ""),
        document["action"],
        document["infrastructure"],
        document["also"],
        subject.get("type", ""),
        subject.get("id", ""),
        subject.get("label", ""),
    )
