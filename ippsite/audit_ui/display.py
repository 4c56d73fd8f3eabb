"""How audit entries read to a person: subjects by name, details as short labelled lines.

Templates never walk `details` themselves (a details key named `items` or `keys` would shadow
the dict's methods in the template language): they get the lines made here.
"""

import base64
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.apps import apps

from audit import merkle
from audit.actions import badge_for, label_for
from core import keys

MAX_TEXT = 300
_KINDS: dict[str, str] = {}


def kind_label(model_name: str) -> str:
    """'moduleversion' -> 'module version' (the model's verbose name)."""
    if not _KINDS:
        _KINDS.update({m._meta.model_name: str(m._meta.verbose_name) for m in apps.get_models()})
    return _KINDS.get(model_name, model_name)


def _key(name) -> str:
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _short(value) -> str:
    """One value as text: a module version as 'Name v3', a list joined, a dict as k: v."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        if "module" in value and "version" in value:
            return f"{value['module']} v{value['version']}"
        return ", ".join(f"{_key(k).lower()}: {_short(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_short(item) for item in value) or "none"
    return str(value)


def details_lines(details) -> list[tuple[str, str]]:
    """[(label, text)] for an entry's details, in their order, each text cut to MAX_TEXT."""
    if not isinstance(details, dict):
        return [("Details", _short(details)[:MAX_TEXT])]
    lines = []
    for name, value in details.items():
        text = _short(value)
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        lines.append((_key(name), text))
    return lines


def subject_text(entry) -> str:
    if not entry.subject_type:
        return ""
    label = entry.subject_label or f"#{entry.subject_id}"
    return f"{kind_label(entry.subject_type)}: {label}"


@dataclass
class Row:
    """One entry as the page and its tests read it."""

    entry: object
    label: str
    badge: str
    subject: str
    details: list[tuple[str, str]]
    leaf_hash: str


def rows(entries) -> list[Row]:
    return [
        Row(
            entry=entry,
            label=label_for(entry.action),
            badge=badge_for(entry.action),
            subject=subject_text(entry),
            details=details_lines(entry.details),
            leaf_hash=bytes(entry.leaf_hash).hex(),
        )
        for entry in entries
    ]


# --- the signed head, checked as a reader would (a handful of signatures, not the log) --


@dataclass
class CosignatureView:
    witness: str
    valid: bool


@dataclass
class HeadView:
    head: object
    root: str
    valid: bool  # the authority's signature, with a live key
    problem: str
    cosignatures: list[CosignatureView]


def _witness_valid(public_key: bytes, signature: str, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            base64.b64decode(signature, validate=True), message
        )
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def head_view(head) -> HeadView | None:
    if head is None:
        return None
    ring, root = keys.authority(), bytes(head.root)
    message = merkle.tree_head_message(head.log_id, head.size, root, head.timestamp)
    valid = ring.verify(head.key_id, message, head.signature)
    problem = ""
    if not valid:
        problem = (
            f"key {head.key_id} is retired"
            if head.key_id in ring.retired
            else f"key {head.key_id} is unknown"
            if head.key_id not in ring.key_ids
            else "the signature does not verify"
        )
    cosigned = merkle.cosignature_message(head.log_id, head.size, root, head.timestamp)
    return HeadView(
        head=head,
        root=root.hex(),
        valid=valid,
        problem=problem,
        cosignatures=[
            CosignatureView(
                c.witness.name, _witness_valid(bytes(c.witness.public_key), c.signature, cosigned)
            )
            for c in head.cosignatures.select_related("witness").order_by("witness__name")
        ],
    )
