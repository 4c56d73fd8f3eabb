"""Ed25519 signing keyrings kept outside the database (the IPP authority, audit checkpoints).

A keyring has a current key that signs and older keys that still verify; a retired key
verifies nothing from then on. Keys come from the environment
(`<PREFIX>_KEYS="kid:base64-raw-private-key,..."`, first is current, `<PREFIX>_RETIRED="kid,..."`)
or, by default, from files under IPP_KEYS_DIR/<name>/ generated on first use with mode 0600.
"""

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class UnknownKey(Exception):
    """The key id is unknown or retired."""


@dataclass
class Keyring:
    name: str
    keys: dict  # kid -> Ed25519PrivateKey
    current_id: str
    retired: set
    directory: Path | None

    @classmethod
    def load(cls, name: str) -> "Keyring":
        prefix = f"IPP_{name.upper()}"
        given = os.environ.get(f"{prefix}_KEYS")
        if given:
            keys = {}
            for item in given.split(","):
                kid, _, raw = item.strip().partition(":")
                if not kid or not raw:
                    raise ImproperlyConfigured(f"{prefix}_KEYS must be 'kid:base64key,...'")
                keys[kid] = Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw))
            retired = {k for k in os.environ.get(f"{prefix}_RETIRED", "").split(",") if k}
            return cls(name, keys, next(iter(keys)), retired, None)
        directory = Path(settings.IPP_KEYS_DIR) / name
        state = directory / "keyring.json"
        if not state.exists():
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            kid = _new_key_file(directory)
            _write_private(state, json.dumps({"current": kid, "retired": []}).encode())
        meta = json.loads(state.read_text())
        keys = {
            path.stem: Ed25519PrivateKey.from_private_bytes(base64.b64decode(path.read_text()))
            for path in directory.glob("*.key")
        }
        return cls(name, keys, meta["current"], set(meta["retired"]), directory)

    # -- signing and verifying -------------------------------------------------------
    def sign(self, message: bytes) -> tuple[str, str]:
        """(key id, base64 signature) by the current key."""
        signature = self.keys[self.current_id].sign(message)
        return self.current_id, base64.b64encode(signature).decode()

    def public_key(self, kid: str) -> Ed25519PublicKey:
        if kid in self.retired or kid not in self.keys:
            raise UnknownKey(kid)
        return self.keys[kid].public_key()

    def verify(self, kid: str, message: bytes, signature_b64: str) -> bool:
        """True when `signature_b64` is kid's valid signature of `message` and kid is live."""
        try:
            key = self.public_key(kid)
            key.verify(base64.b64decode(signature_b64, validate=True), message)
        except (UnknownKey, InvalidSignature, ValueError, TypeError):
            return False
        return True

    # -- rotation and retirement (file keyrings) ------------------------------------
    def _require_files(self) -> Path:
        if self.directory is None:
            raise ImproperlyConfigured(
                f"the {self.name} keyring comes from the environment: change IPP_{self.name.upper()}_KEYS"
            )
        return self.directory

    def _save(self) -> None:
        directory = self._require_files()
        _write_private(
            directory / "keyring.json",
            json.dumps({"current": self.current_id, "retired": sorted(self.retired)}).encode(),
        )

    def rotate(self) -> str:
        """A new key signs from now on; older keys still verify."""
        directory = self._require_files()
        kid = _new_key_file(directory)
        self.keys[kid] = Ed25519PrivateKey.from_private_bytes(
            base64.b64decode((directory / f"{kid}.key").read_text())
        )
        self.current_id = kid
        self._save()
        return kid

    def retire(self, kid: str) -> None:
        """`kid` verifies nothing from now on (it may not be the current key)."""
        if kid not in self.keys:
            raise UnknownKey(kid)
        if kid == self.current_id:
            raise ImproperlyConfigured("rotate first: the current key cannot be retired")
        self.retired.add(kid)
        self._save()


def _new_key_file(directory: Path) -> str:
    kid = secrets.token_hex(8)
    raw = Ed25519PrivateKey.generate().private_bytes_raw()
    _write_private(directory / f"{kid}.key", base64.b64encode(raw))
    return kid


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def derive_key(purpose: bytes) -> bytes:
    """A 32-byte key for `purpose`, derived from the site's secret (placeholder until the
    one key provider lands)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        settings.SECRET_KEY.encode()
    )
