"""Envelope encryption of module source at rest (SPEC §5): keys and records.

Each version gets a random data key. Its source is a run of records (registry/packs.py
lays them out as one object per version): a fresh 12-byte nonce then AES-256-GCM of one
chunk of plaintext. Each record's associated data binds it to (storage_id, file number,
chunk number, is-last), so records cannot be altered, reordered, moved between files or
versions, or cut off the end.

The data key is wrapped by a master key that never enters the database: the "master"
keys of the one key provider, core.keys (IPP_MASTER_KEYS, else files under
IPP_KEYS_DIR/master/). Callers wrap with `aad=storage_id.bytes`.
"""

import os
import struct
import uuid
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ImproperlyConfigured

from core import keys

CHUNK_SIZE = 1024 * 1024
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = NONCE_SIZE + TAG_SIZE
RECORD_SIZE = OVERHEAD + CHUNK_SIZE
INDEX_NUMBER = 2**64 - 1  # the index's "file number" in the associated data
_SOURCE_AAD = b"ipp-source-v1\0"
_WRAP_AAD = b"ipp-data-key-v1\0"
_CHUNK_AAD = struct.Struct(">QQ?")


class CryptoError(Exception):
    """Base of the errors below."""


class KeyringError(CryptoError):
    """A master key is missing or misconfigured, or the keyring cannot do what was asked."""


class SourceIntegrityError(CryptoError):
    """Stored ciphertext (or a wrapped key) failed authentication, or is missing."""


class MasterKeyring:
    """The master keys of core.keys: `current_id` wraps new data keys, the others still unwrap.

    `load()` reads nothing: the provider loaded the keys once for the process.
    """

    def __init__(self, ring: keys.Ring):
        self._ring = ring

    @classmethod
    def load(cls) -> "MasterKeyring":
        try:
            return cls(keys.master())
        except ImproperlyConfigured as exc:
            raise KeyringError(str(exc)) from exc

    @property
    def current_id(self) -> str:
        return self._ring.current_id

    @property
    def from_env(self) -> bool:
        return self._ring.from_env

    @property
    def key_ids(self) -> list[str]:
        """The live master key ids."""
        return self._ring.key_ids

    def wrap(self, data_key: bytes, *, aad: bytes) -> tuple[str, bytes]:
        """Encrypt a data key under the current master key: (key id, nonce + ciphertext)."""
        check_key(data_key)
        nonce = os.urandom(NONCE_SIZE)
        sealed = AESGCM(self._ring.current).encrypt(nonce, data_key, _WRAP_AAD + aad)
        return self.current_id, nonce + sealed

    def unwrap(self, key_id: str, wrapped: bytes, *, aad: bytes) -> bytes:
        key = self._key(key_id)
        wrapped = bytes(wrapped)
        try:
            data_key = AESGCM(key).decrypt(
                wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:], _WRAP_AAD + aad
            )
        except (InvalidTag, ValueError):
            raise SourceIntegrityError(
                f"a data key wrapped by master key '{key_id}' failed authentication"
            ) from None
        check_key(data_key)
        return data_key

    def _key(self, key_id: str) -> bytes:
        try:
            return self._ring.key(key_id)
        except keys.UnknownKey:
            pass
        # Rotated since this keyring was taken (here or by another process): ask again.
        self._ring = MasterKeyring.load()._ring
        try:
            return self._ring.key(key_id)
        except keys.UnknownKey:
            state = "was retired from" if key_id in self._ring.retired else "is not in"
            raise KeyringError(f"master key '{key_id}' {state} {self._ring.source}") from None


def new_data_key() -> bytes:
    return os.urandom(KEY_SIZE)


def check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise ValueError(f"a key must be {KEY_SIZE} bytes")


def as_uuid(storage_id) -> uuid.UUID:
    return storage_id if isinstance(storage_id, uuid.UUID) else uuid.UUID(str(storage_id))


def source_aad(storage_id: uuid.UUID, file_no: int, chunk_no: int, last: bool) -> bytes:
    return _SOURCE_AAD + storage_id.bytes + _CHUNK_AAD.pack(file_no, chunk_no, last)


def records_length(size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """Bytes of the records holding `size` bytes of plaintext (an empty file has one)."""
    return size + OVERHEAD * max(1, -(-size // chunk_size))


def exact_chunks(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """`chunk_size` blocks (only the last shorter), whatever sizes `read` returns."""
    while True:
        block = stream.read(chunk_size)
        if not block:
            return
        while len(block) < chunk_size:
            more = stream.read(chunk_size - len(block))
            if not more:
                break
            block += more
        yield bytes(block)
        if len(block) < chunk_size:
            return


def seal_records(
    aead: AESGCM, storage_id: uuid.UUID, file_no: int, chunks: Iterable[bytes]
) -> Iterator[bytes]:
    """The records of `chunks` (an empty input still gets one, final, record)."""
    chunks = iter(chunks)
    current, chunk_no = next(chunks, b""), 0
    while True:
        following = next(chunks, None)
        last = following is None
        nonce = os.urandom(NONCE_SIZE)
        yield nonce + aead.encrypt(nonce, current, source_aad(storage_id, file_no, chunk_no, last))
        if last:
            return
        current, chunk_no = following, chunk_no + 1


def open_record(
    aead: AESGCM,
    record: bytes | memoryview,
    storage_id: uuid.UUID,
    file_no: int,
    chunk_no: int,
    last: bool,
) -> bytes:
    """The plaintext of one record; SourceIntegrityError naming it if it does not verify."""
    what = "index" if file_no == INDEX_NUMBER else f"file {file_no}"
    if len(record) < OVERHEAD:
        raise SourceIntegrityError(f"the {what} of source {storage_id} is cut short")
    # A view, not slices: slicing a 1 MiB record copied it before every decryption.
    view = memoryview(record)
    try:
        return aead.decrypt(
            view[:NONCE_SIZE],
            view[NONCE_SIZE:],
            source_aad(storage_id, file_no, chunk_no, last),
        )
    except InvalidTag:
        raise SourceIntegrityError(
            f"chunk {chunk_no} of the {what} of source {storage_id} failed authentication"
        ) from None
