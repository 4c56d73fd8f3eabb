"""Envelope encryption of module source at rest (SPEC §5).

Each version gets a random data key. Its files are stored under
IPP_BLOB_DIR/<storage_id>/ as numbered blobs (names reveal no source path), plus an
encrypted index of paths and sizes. Every blob is a run of records: a fresh 12-byte nonce
then AES-256-GCM of one CHUNK_SIZE chunk (only the last may be shorter). Each record's
associated data binds it to (storage_id, file number, chunk number, is-last), so records
cannot be altered, reordered, moved between files or versions, or cut off the end.

The data key is wrapped by a master key that never enters the database: the "master"
keys of the one key provider, core.keys (IPP_MASTER_KEYS, else files under
IPP_KEYS_DIR/master/). Callers wrap with `aad=storage_id.bytes`.
"""

import json
import os
import shutil
import struct
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core import keys

CHUNK_SIZE = 64 * 1024
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
RECORD_SIZE = NONCE_SIZE + CHUNK_SIZE + TAG_SIZE
INDEX_NAME = "index"
_INDEX_NUMBER = 2**64 - 1  # the index's "file number" in the associated data
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
        _check_key(data_key)
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
        _check_key(data_key)
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


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise ValueError(f"a key must be {KEY_SIZE} bytes")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _as_uuid(storage_id) -> uuid.UUID:
    return storage_id if isinstance(storage_id, uuid.UUID) else uuid.UUID(str(storage_id))


def _aad(storage_id: uuid.UUID, file_no: int, chunk_no: int, last: bool) -> bytes:
    return _SOURCE_AAD + storage_id.bytes + _CHUNK_AAD.pack(file_no, chunk_no, last)


def _blob_name(number: int) -> str:
    return f"{number:08d}"


def _blob_root() -> Path:
    root = Path(settings.IPP_BLOB_DIR)
    if not root.exists():
        root.mkdir(parents=True, mode=0o700)
    return root


class SourceWriter:
    """Writes one version's encrypted source; nothing is visible until `finish()`.

    Files go to a private temporary directory beside the final one, renamed into place by
    `finish()`. As a context manager it aborts unless `finish()` was called.
    """

    def __init__(self, storage_id: uuid.UUID, data_key: bytes):
        _check_key(data_key)
        self.storage_id = _as_uuid(storage_id)
        self._aead = AESGCM(data_key)
        root = _blob_root()
        self._final = root / str(self.storage_id)
        if self._final.exists():
            raise FileExistsError(f"source {self.storage_id} is already stored")
        self._temp = Path(tempfile.mkdtemp(prefix=f".tmp-{self.storage_id}-", dir=root))
        self._files: list[tuple[str, int]] = []
        self._paths: set[str] = set()
        self._state = "open"

    def add_file(self, path: str, stream: BinaryIO) -> int:
        """Encrypt one file from `stream`, CHUNK_SIZE at a time; returns its plaintext size."""
        self._check_open()
        if not isinstance(path, str) or not path or path in self._paths:
            raise ValueError(f"file path {path!r} is empty or already added")
        number = len(self._files)
        size = _encrypt_to(
            self._temp / _blob_name(number),
            self._aead,
            self.storage_id,
            number,
            _exact_chunks(stream),
        )
        self._files.append((path, size))
        self._paths.add(path)
        return size

    def finish(self) -> None:
        """Write the encrypted index and move the directory into place atomically."""
        self._check_open()
        index = json.dumps({"version": 1, "files": self._files}, separators=(",", ":")).encode()
        chunks = (index[i : i + CHUNK_SIZE] for i in range(0, len(index), CHUNK_SIZE))
        _encrypt_to(self._temp / INDEX_NAME, self._aead, self.storage_id, _INDEX_NUMBER, chunks)
        _fsync_dir(self._temp)
        os.replace(self._temp, self._final)
        self._state = "published"
        _fsync_dir(self._final.parent)
        self._state = "finished"

    def abort(self) -> None:
        """Remove everything this writer wrote, even after a failed or completed finish()."""
        shutil.rmtree(self._temp, ignore_errors=True)
        if self._state in ("published", "finished"):
            shutil.rmtree(self._final, ignore_errors=True)
        self._state = "aborted"

    def _check_open(self) -> None:
        if self._state != "open":
            raise ValueError(f"this source writer is {self._state}")

    def __enter__(self) -> "SourceWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or self._state == "open":
            self.abort()


def _exact_chunks(stream: BinaryIO) -> Iterator[bytes]:
    """CHUNK_SIZE blocks (only the last shorter), whatever sizes `read` returns."""
    while True:
        block = stream.read(CHUNK_SIZE)
        if not block:
            return
        while len(block) < CHUNK_SIZE:
            more = stream.read(CHUNK_SIZE - len(block))
            if not more:
                break
            block += more
        yield bytes(block)
        if len(block) < CHUNK_SIZE:
            return


def _encrypt_to(
    path: Path, aead: AESGCM, storage_id: uuid.UUID, file_no: int, chunks: Iterable[bytes]
) -> int:
    """Write records for `chunks` (an empty input still gets one, final, record)."""
    chunks = iter(chunks)
    total = chunk_no = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        current = next(chunks, b"")
        while True:
            following = next(chunks, None)
            last = following is None
            nonce = os.urandom(NONCE_SIZE)
            aad = _aad(storage_id, file_no, chunk_no, last)
            out.write(nonce + aead.encrypt(nonce, current, aad))
            total += len(current)
            if last:
                break
            current, chunk_no = following, chunk_no + 1
        out.flush()
        os.fsync(out.fileno())
    return total


def _decrypt_from(path: Path, aead: AESGCM, storage_id: uuid.UUID, file_no: int) -> Iterator[bytes]:
    what = "index" if file_no == _INDEX_NUMBER else f"file {file_no}"
    try:
        blob = open(path, "rb")
    except FileNotFoundError:
        raise SourceIntegrityError(f"the {what} of source {storage_id} is missing") from None
    with blob:
        record, chunk_no = blob.read(RECORD_SIZE), 0
        while True:
            following = blob.read(RECORD_SIZE)
            last = not following
            if len(record) < NONCE_SIZE + TAG_SIZE or (not last and len(record) != RECORD_SIZE):
                raise SourceIntegrityError(f"the {what} of source {storage_id} is cut short")
            try:
                plain = aead.decrypt(
                    record[:NONCE_SIZE],
                    record[NONCE_SIZE:],
                    _aad(storage_id, file_no, chunk_no, last),
                )
            except InvalidTag:
                raise SourceIntegrityError(
                    f"chunk {chunk_no} of the {what} of source {storage_id} failed authentication"
                ) from None
            yield plain
            if last:
                return
            record, chunk_no = following, chunk_no + 1


class SourceReader:
    """Decrypts one version's source, chunk by chunk; any tampering raises."""

    def __init__(self, storage_id: uuid.UUID, data_key: bytes):
        _check_key(data_key)
        self.storage_id = _as_uuid(storage_id)
        self._aead = AESGCM(data_key)
        self._dir = Path(settings.IPP_BLOB_DIR) / str(self.storage_id)
        self._files: list[tuple[str, int]] | None = None
        self._numbers: dict[str, int] = {}

    def list_files(self) -> list[tuple[str, int]]:
        """[(path, size)] in the order the files were added."""
        return list(self._index())

    def open(self, path: str) -> Iterator[bytes]:
        """The decrypted chunks of `path`; KeyError if the version has no such file."""
        files = self._index()
        number = self._numbers[path]
        return self._chunks(number, files[number][1])

    def _chunks(self, number: int, size: int) -> Iterator[bytes]:
        seen = 0
        for chunk in _decrypt_from(
            self._dir / _blob_name(number), self._aead, self.storage_id, number
        ):
            seen += len(chunk)
            yield chunk
        if seen != size:
            raise SourceIntegrityError(
                f"file {number} of source {self.storage_id} has {seen} bytes, the index says {size}"
            )

    def _index(self) -> list[tuple[str, int]]:
        if self._files is None:
            raw = b"".join(
                _decrypt_from(self._dir / INDEX_NAME, self._aead, self.storage_id, _INDEX_NUMBER)
            )
            try:
                files = [(str(path), int(size)) for path, size in json.loads(raw)["files"]]
            except (ValueError, KeyError, TypeError) as exc:
                raise SourceIntegrityError(
                    f"the index of source {self.storage_id} is unreadable: {exc}"
                ) from None
            self._numbers = {path: n for n, (path, _size) in enumerate(files)}
            self._files = files
        return self._files


def remove_source(storage_id) -> None:
    """Delete a version's blobs, and any half-written copy; no error if there are none."""
    storage_id = _as_uuid(storage_id)
    root = Path(settings.IPP_BLOB_DIR)
    shutil.rmtree(root / str(storage_id), ignore_errors=True)
    for temp in root.glob(f".tmp-{storage_id}-*"):
        shutil.rmtree(temp, ignore_errors=True)
