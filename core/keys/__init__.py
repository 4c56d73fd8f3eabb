"""The one key provider: the four keys an operator keeps (SPEC §9), loaded once per process.

    secret     Django's SECRET_KEY                      IPP_SECRET_KEY
    master     wraps each version's data key            IPP_MASTER_KEYS
    authority  Ed25519, signs marks and checkpoints     IPP_AUTHORITY_KEYS, IPP_AUTHORITY_RETIRED
    sealing    seals exported packages; derive_key()    IPP_SEALING_KEY

A key given by the environment is used as given and nothing is written (the formats are
in core/keys/specs.py). Otherwise it comes from IPP_KEYS_DIR/<name>/, one layout for all
four (core/keys/files.py), generated there on first use; a keys dir of an older layout
is converted once (core/keys/legacy.py).

Each ring is read once and kept. Each use compares the variables with what was loaded,
and for files stats keyring.json (no read): a rotation or retirement by another process
replaces that file, and the next use here loads the new ring. Deleting key files under a
running process does not unload its keys. `reload()` forgets everything loaded.

Nothing here reads Django's settings at import time: settings.py calls
`secret_key(keys_dir)`; everything else reads settings.IPP_KEYS_DIR when first used.
"""

import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from core.keys import files, legacy, specs
from core.keys.rings import AuthorityRing, KeyConfigError, Ring, UnknownKey
from core.keys.specs import SPECS, Spec

__all__ = [
    "NAMES",
    "AuthorityRing",
    "KeyConfigError",
    "Ring",
    "UnknownKey",
    "authority",
    "derive_key",
    "generated_keys",
    "master",
    "public_keys",
    "reload",
    "retire",
    "rotate",
    "sealing_key",
    "secret_key",
]

NAMES = tuple(SPECS)  # ("secret", "master", "authority", "sealing")
_DERIVE_INFO = b"ipp-derived-key-v1\0"


@dataclass(frozen=True)
class _Entry:
    ring: Ring
    environment: tuple[str, ...]
    directory: Path | None  # None: from the environment
    stamp: tuple | None


_cache: dict[str, _Entry] = {}
_lock = threading.RLock()


# --- the keys -------------------------------------------------------------------------


def secret_key(keys_dir: Path | str | None = None) -> str:
    """Django's SECRET_KEY. settings.py passes its keys dir: settings are not ready then."""
    ring = _ring(specs.SECRET, keys_dir)
    try:
        return ring.current.decode()
    except UnicodeDecodeError:
        raise KeyConfigError(f"{ring.source}: the secret key must be UTF-8 text") from None


def master() -> Ring:
    """The master keys (32 bytes each): the current one wraps new data keys."""
    return _ring(specs.MASTER)


def authority() -> AuthorityRing:
    """The IPP authority: signs marks and audit checkpoints, verifies with live keys."""
    return _ring(specs.AUTHORITY)


def sealing_key() -> bytes:
    """The site sealing key (32 bytes); it is not rotatable."""
    return _ring(specs.SEALING).current


def derive_key(purpose: bytes) -> bytes:
    """A 32-byte key for `purpose` (e.g. b"ipp fingerprint v1"), HKDF-SHA256 of the sealing
    key: the same for the same purpose and sealing key, independent for another purpose."""
    if not isinstance(purpose, bytes) or not purpose:
        raise ValueError("a purpose is non-empty bytes, e.g. b'ipp fingerprint v1'")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DERIVE_INFO + purpose)
    return hkdf.derive(sealing_key())


def public_keys() -> list[tuple[str, bytes]]:
    """(kid, raw 32-byte Ed25519 public key) of the live authority keys, current first."""
    return authority().public_keys()


def generated_keys() -> list[str]:
    """The names (of NAMES) not given by the environment: they come, or will on first use,
    from files under the keys dir. Reads no file and creates none."""
    return [name for name, spec in SPECS.items() if not spec.given()]


# --- rotation and retirement ------------------------------------------------------------


def rotate(name: str) -> str:
    """A new `name` key (master or authority) becomes current; older keys keep working.
    Returns its id. Keys given by the environment are changed there, not here."""
    spec = _rotatable(name)
    with _lock:
        ring = _ring(spec)
        if ring.from_env:
            raise KeyConfigError(
                f"the {name} keys come from {spec.variable}, which cannot be changed from "
                f"here: put the new key first in {spec.variable} (id:base64 of 32 random "
                "bytes), keep the old keys after it, and restart"
            )
        kid = files.rotate(spec, _directory(spec), ring.retired)
        _cache.pop(name, None)
    return kid


def retire(name: str, kid: str) -> None:
    """`kid` of `name` (master or authority) does nothing from now on: keyring.json lists
    it as retired and its file is deleted. The current key cannot be retired: rotate first."""
    spec = _rotatable(name)
    with _lock:
        ring = _ring(spec)
        if ring.from_env:
            where = f"add it to {spec.retired_variable}" if spec.retired_variable else "remove it"
            raise KeyConfigError(
                f"the {name} keys come from {spec.variable}: {where} there and restart"
            )
        if kid == ring.current_id:
            raise KeyConfigError(f"rotate first: '{kid}' is the current {name} key")
        if kid not in ring.key_ids and kid not in ring.retired:
            raise UnknownKey(kid)
        files.retire(_directory(spec), ring.current_id, ring.retired, kid)
        _cache.pop(name, None)


def reload(name: str | None = None) -> None:
    """Forget the loaded keys (of one name, or all): the next use reads them again."""
    with _lock:
        if name is None:
            _cache.clear()
        else:
            _cache.pop(name, None)


# --- loading --------------------------------------------------------------------------


def _rotatable(name: str) -> Spec:
    spec = SPECS.get(name)
    if spec is None or not spec.rotatable:
        raise KeyConfigError(f"only the master and authority keys rotate, not {name!r}")
    return spec


def _directory(spec: Spec, keys_dir: Path | str | None = None) -> Path:
    return Path(keys_dir if keys_dir is not None else settings.IPP_KEYS_DIR) / spec.name


def _ring(spec: Spec, keys_dir: Path | str | None = None):
    environment = spec.environment()
    directory = None if spec.given() else _directory(spec, keys_dir)
    with _lock:
        entry = _cache.get(spec.name)
        if entry is None or not _fresh(entry, environment, directory):
            entry = _load(spec, environment, directory)
            _cache[spec.name] = entry
        return entry.ring


def _fresh(entry: _Entry, environment: tuple[str, ...], directory: Path | None) -> bool:
    if entry.environment != environment or entry.directory != directory:
        return False
    if directory is None:
        return True
    stamp = files.stamp(directory)
    return stamp is None or stamp == entry.stamp


def _load(spec: Spec, environment: tuple[str, ...], directory: Path | None) -> _Entry:
    kind = AuthorityRing if spec is specs.AUTHORITY else Ring
    if directory is None:
        keys, current, retired = spec.parse()
        ring = kind(spec.name, keys, current, retired, source=spec.variable, from_env=True)
        return _Entry(ring, environment, None, None)
    loaded = files.read(spec, directory)
    if loaded is None:
        files.private_dir(directory.parent)
        files.private_dir(directory)
        if not legacy.convert(spec, directory.parent, directory):
            files.generate(spec, directory)
        loaded = files.read(spec, directory)
        if loaded is None:
            raise KeyConfigError(f"{directory / files.STATE} was not written")
    keys, current, retired, stamp = loaded
    ring = kind(spec.name, keys, current, retired, source=str(directory), from_env=False)
    return _Entry(ring, environment, directory, stamp)
