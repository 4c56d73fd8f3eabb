"""Witnesses and their cosignatures (SPEC §6): who may cosign, and storing what they cosigned.

A cosignature is accepted only when it is a valid Ed25519 signature, by a registered
witness, over the cosignature message of a head this log really signed. Whoever posts it
does not matter: the witness's signature is the credential.
"""

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import IntegrityError, transaction

from audit import merkle
from audit.actions import WITNESS_REGISTERED
from audit.models import Cosignature, TreeHead, Witness
from audit.services import audit_record


class BadCosignature(ValueError):
    """Not a valid cosignature of a head of this log (the message says why)."""


class WitnessExists(ValueError):
    """A witness of that name is registered already."""


def public_key_from(text: str) -> bytes:
    """The raw 32 bytes of a base64 Ed25519 public key; ValueError otherwise."""
    try:
        raw = base64.b64decode(text, validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError, TypeError):
        raise ValueError("public_key: want base64 of a raw 32-byte Ed25519 public key") from None
    return raw


def witness_register(*, actor, name: str, public_key: bytes) -> Witness:
    """Register a witness (the caller checked that `actor` is support); recorded in `site`."""
    witness = Witness(name=name, public_key=public_key, registered_by=actor)
    witness.full_clean(exclude=["registered_by"], validate_unique=False)
    try:
        with transaction.atomic():
            witness.save(force_insert=True)
            audit_record(
                actor=actor,
                action=WITNESS_REGISTERED,
                subject=witness,
                details={"name": name, "public_key": base64.b64encode(public_key).decode()},
            )
    except IntegrityError:
        raise WitnessExists(f"a witness named {name!r} is registered already") from None
    return witness


def _verifies(public_key: bytes, signature: str, message: bytes) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        Ed25519PublicKey.from_public_bytes(public_key).verify(raw, message)
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


def cosignature_add(
    *, log_id: str, witness: str, size: int, root_hash: str, signature: str
) -> Cosignature:
    """Store `witness`'s cosignature of the head of `log_id` at `size` with root `root_hash`.

    BadCosignature when no such witness, no head of this log at that size with that root,
    or the signature does not verify. Posting the same cosignature again is harmless.
    """
    head = TreeHead.objects.filter(log_id=log_id, size=size).first()
    if head is None or bytes(head.root).hex() != root_hash:
        raise BadCosignature(f"log {log_id} has no signed head of size {size} and that root")
    signer = Witness.objects.filter(name=witness).first()
    if signer is None:
        raise BadCosignature(f"no registered witness is named {witness!r}")
    message = merkle.cosignature_message(log_id, size, bytes(head.root), head.timestamp)
    if not _verifies(bytes(signer.public_key), signature, message):
        raise BadCosignature(
            f"the signature does not verify with {witness!r}'s key over the head of size {size}"
        )
    cosignature, _ = Cosignature.objects.get_or_create(
        head=head, witness=signer, defaults={"signature": signature}
    )
    return cosignature
