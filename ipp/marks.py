"""IPP marks: a signature by the site's authority key naming who may publish a version.

A mark is a JSON object with exactly these fields:

    activation_code  the infrastructure the version may be published in
    key              the module key (UUID, lower-case canonical form)
    digest           the version's canonical SHA-256 digest (64 lower-case hex digits)
    epoch            1 when first marked, +1 at each portal transfer
    issued_at        ISO 8601 UTC time of signing, e.g. 2026-11-23T00:35:53Z
    key_id           the authority key that signed it
    signature        base64 Ed25519 signature of `canonical_mark_bytes(mark)`

The signature covers every other field (key_id included), so a mark cannot be edited,
moved to other content, or re-dated without the authority's private key.
"""

import json
import re
import uuid
from datetime import UTC, datetime

from core.errors import TamperedPackage
from ipp.authority import authority
from registry.models import ACTIVATION_CODE_REGEX

FIELDS = ("activation_code", "key", "digest", "epoch", "issued_at", "key_id", "signature")
SIGNED_FIELDS = tuple(f for f in FIELDS if f != "signature")
_DOMAIN = b"ipp-mark-v1\n"
_CODE = re.compile(ACTIVATION_CODE_REGEX)
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_KID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def canonical_json(document: dict) -> bytes:
    """Sorted keys, no whitespace, ASCII only: one byte string per document."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def canonical_mark_bytes(mark: dict) -> bytes:
    """What the signature covers: the domain tag and every field but the signature."""
    return _DOMAIN + canonical_json({f: mark[f] for f in SIGNED_FIELDS})


def sign_mark(*, key: uuid.UUID, digest: str, activation_code: str, epoch: int) -> dict:
    """A new mark for `key`/`digest` in the infrastructure of `activation_code`."""
    keyring = authority()
    mark = {
        "activation_code": activation_code,
        "key": str(uuid.UUID(str(key))),
        "digest": digest,
        "epoch": int(epoch),
        "issued_at": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "key_id": keyring.current_id,
    }
    _check_shape({**mark, "signature": "x"})
    mark["key_id"], mark["signature"] = keyring.sign(canonical_mark_bytes(mark))
    return mark


def _check_shape(mark) -> None:
    if not isinstance(mark, dict):
        raise TamperedPackage("the mark is not a JSON object")
    missing = [f for f in FIELDS if f not in mark]
    if missing:
        raise TamperedPackage(f"the mark has no {missing[0]}")
    extra = sorted(set(mark) - set(FIELDS))
    if extra:
        raise TamperedPackage(f"the mark has an unknown field {extra[0]!r}")
    code, key, digest = mark["activation_code"], mark["key"], mark["digest"]
    if not isinstance(code, str) or not _CODE.match(code):
        raise TamperedPackage("the mark's activation_code is malformed")
    try:
        if not isinstance(key, str) or str(uuid.UUID(key)) != key:
            raise ValueError
    except ValueError:
        raise TamperedPackage("the mark's key is malformed") from None
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise TamperedPackage("the mark's digest is malformed")
    epoch = mark["epoch"]
    if type(epoch) is not int or not 1 <= epoch < 2**31:
        raise TamperedPackage("the mark's epoch is malformed")
    issued = mark["issued_at"]
    try:
        if not isinstance(issued, str) or datetime.fromisoformat(issued).utcoffset() is None:
            raise ValueError
    except ValueError:
        raise TamperedPackage("the mark's issued_at is malformed") from None
    if not isinstance(mark["key_id"], str) or not _KID.match(mark["key_id"]):
        raise TamperedPackage("the mark's key_id is malformed")
    if not isinstance(mark["signature"], str):
        raise TamperedPackage("the mark's signature is malformed")


def verify_mark(mark: dict, *, key=None, digest: str | None = None) -> None:
    """Raise TamperedPackage unless `mark` is intact, signed by a live authority key and,
    when given, names module `key` and content `digest`."""
    _check_shape(mark)
    if not authority().verify(mark["key_id"], canonical_mark_bytes(mark), mark["signature"]):
        raise TamperedPackage(
            "the package's mark does not verify: it was edited, or its signing key is "
            "unknown or retired"
        )
    if key is not None and mark["key"] != str(uuid.UUID(str(key))):
        raise TamperedPackage("the package's mark names another module")
    if digest is not None and mark["digest"] != digest:
        raise TamperedPackage("the package's mark names other content")
