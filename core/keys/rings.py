"""Key rings in memory: what the provider hands out once the keys are loaded.

A ring is a snapshot. It never reads a file; rotation and retirement go through the
provider (core.keys.rotate / core.keys.retire), which loads a new snapshot.
"""

import base64
import re
from collections.abc import Iterable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.exceptions import ImproperlyConfigured

KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_URLSAFE = str.maketrans("-_", "+/")


class KeyConfigError(ImproperlyConfigured):
    """A key variable or key file is malformed, missing, or cannot do what was asked.

    The message names the variable or the file.
    """


class UnknownKey(LookupError):
    """The key id is unknown or retired."""


def decode_key(encoded: str, what: str, size: int | None) -> bytes:
    """Standard or URL-safe base64, padding required; `size` bytes when given."""
    text = encoded.strip().translate(_URLSAFE)
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        raise KeyConfigError(f"{what} is not valid base64") from None
    if not key:
        raise KeyConfigError(f"{what} is empty")
    if size is not None and len(key) != size:
        raise KeyConfigError(f"{what} must decode to {size} bytes, not {len(key)}")
    return key


class Ring:
    """The keys of one name by id: `current_id` does new work, the others still open old work.

    Retired ids open nothing (their material may be gone). `source` says where the keys
    came from (the variable, or the directory), for error messages.
    """

    def __init__(
        self,
        name: str,
        keys: Mapping[str, bytes],
        current_id: str,
        retired: Iterable[str] = (),
        *,
        source: str,
        from_env: bool,
    ):
        self.name = name
        self.retired = frozenset(retired)
        self._keys = {kid: raw for kid, raw in keys.items() if kid not in self.retired}
        if current_id not in self._keys:
            raise KeyConfigError(f"{source}: the current {name} key '{current_id}' is not usable")
        self.current_id = current_id
        self.source = source
        self.from_env = from_env

    @property
    def current(self) -> bytes:
        return self._keys[self.current_id]

    @property
    def key_ids(self) -> list[str]:
        """The live key ids, sorted."""
        return sorted(self._keys)

    def key(self, kid: str) -> bytes:
        try:
            return self._keys[kid]
        except KeyError:
            raise UnknownKey(kid) from None


class AuthorityRing(Ring):
    """Ed25519 keys: the current one signs, the live ones verify, retired ones verify nothing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._private = {
            kid: Ed25519PrivateKey.from_private_bytes(raw) for kid, raw in self._keys.items()
        }

    def sign(self, message: bytes) -> tuple[str, str]:
        """(key id, base64 signature) by the current key."""
        signature = self._private[self.current_id].sign(message)
        return self.current_id, base64.b64encode(signature).decode()

    def public_key(self, kid: str) -> Ed25519PublicKey:
        try:
            return self._private[kid].public_key()
        except KeyError:
            raise UnknownKey(kid) from None

    def verify(self, kid: str, message: bytes, signature_b64: str) -> bool:
        """True when `signature_b64` is kid's valid signature of `message` and kid is live."""
        try:
            key = self.public_key(kid)
            key.verify(base64.b64decode(signature_b64, validate=True), message)
        except (UnknownKey, InvalidSignature, ValueError, TypeError):
            return False
        return True

    def public_keys(self) -> list[tuple[str, bytes]]:
        """(kid, raw 32-byte public key) of the live keys, the current one first."""
        order = [self.current_id] + [kid for kid in self.key_ids if kid != self.current_id]
        return [(kid, self._private[kid].public_key().public_bytes_raw()) for kid in order]
