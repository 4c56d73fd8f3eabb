"""Envelope encryption of module source at rest (SPEC §5).

Each version gets a random data key. Its files are stored under
IPP_BLOB_DIR/<storage_id>/ as numbered blobs (names reveal no source path), plus an
encrypted index of paths and sizes. Every blob is a run of records: a fresh 12-byte nonce
then AES-256-GCM of one CHUNK_SIZE chunk (only the last may be shorter). Each record's
associated data binds it to (storage_id, file number, chunk number, is-last), so records
cannot be altered, reordered, moved between files or versions, or cut off the end.

The data key is wrapped by a master key that never enters the database: from the
IPP_MASTER_KEYS environment variable ("kid:base64key,...", first is current), else from
files IPP_KEYS_DIR/master-<kid>.key (0600) with the current kid in master-current,
generated on first use. Callers wrap with `aad=storage_id.bytes`.
"""

import base64
import json
import os
import re
import secrets
import shutil
import struct
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

CHUNK_SIZE = 64 * 1024
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
RECORD_SIZE = NONCE_SIZE + CHUNK_SIZE + TAG_SIZE
ENV_VAR = "IPP_MASTER_KEYS"
INDEX_NAME = "index"
_INDEX_NUMBER = 2**64 - 1  # the index's "file number" in the associated data
_SOURCE_AAD = b"ipp-source-v1\0"
_WRAP_AAD = b"ipp-data-key-v1\0"
_CHUNK_AAD = struct.Struct(">QQ?")
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_CURRENT = "master-current"
_URLSAFE = str.maketrans("-_", "+/")


class CryptoError(Exception):
    """Base of the errors below."""


class KeyringError(CryptoError):
    """A master key is missing or misconfigured, or the keyring cannot do what was asked."""


class SourceIntegrityError(CryptoError):
    """Stored ciphertext (or a wrapped key) failed authentication, or is missing."""


class MasterKeyring:
    """Master keys by id; `current_id` wraps new data keys, the others still unwrap."""

    def __init__(self, keys: dict[str, bytes], current_id: str, *, directory: Path | None):
        self._keys = dict(keys)
        self.current_id = current_id
        self.directory = directory

    @property
    def from_env(self) -> bool:
        return self.directory is None

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    @classmethod
    def load(cls) -> "MasterKeyring":
        raw = os.environ.get(ENV_VAR, "").strip()
        if raw:
            return cls._from_env(raw)
        return cls._from_directory(Path(settings.IPP_KEYS_DIR))

    @classmethod
    def _from_env(cls, raw: str) -> "MasterKeyring":
        keys: dict[str, bytes] = {}
        for n, item in enumerate(part.strip() for part in raw.split(",")):
            if not item:
                continue
            kid, sep, encoded = item.partition(":")
            kid = kid.strip()
            if not sep or not _KEY_ID.fullmatch(kid):
                raise KeyringError(
                    f"{ENV_VAR} entry {n + 1} must be <id>:<base64 key>, with an id of letters, "
                    "digits, '.', '_' or '-' (at most 64)"
                )
            if kid in keys:
                raise KeyringError(f"{ENV_VAR} names master key '{kid}' twice")
            keys[kid] = _decode_key(encoded, f"{ENV_VAR} key '{kid}'")
        if not keys:
            raise KeyringError(f"{ENV_VAR} is set but holds no key")
        return cls(keys, next(iter(keys)), directory=None)

    @classmethod
    def _from_directory(cls, directory: Path) -> "MasterKeyring":
        if not directory.exists():
            directory.mkdir(parents=True, mode=0o700)
            os.chmod(directory, 0o700)
        current_path = directory / _CURRENT
        if not current_path.exists():
            kid = _new_key_file(directory)
            if not _set_current(directory, kid, only_if_missing=True):
                # Another process generated the first key at the same moment: use theirs.
                (directory / f"master-{kid}.key").unlink(missing_ok=True)
        keys = _read_key_files(directory)
        current = current_path.read_text().strip()
        if current not in keys:
            raise KeyringError(
                f"{current_path} names master key '{current}', but "
                f"{directory / f'master-{current}.key'} is missing or unreadable"
            )
        return cls(keys, current, directory=directory)

    def wrap(self, data_key: bytes, *, aad: bytes) -> tuple[str, bytes]:
        """Encrypt a data key under the current master key: (key id, nonce + ciphertext)."""
        _check_key(data_key)
        nonce = os.urandom(NONCE_SIZE)
        sealed = AESGCM(self._keys[self.current_id]).encrypt(nonce, data_key, _WRAP_AAD + aad)
        return self.current_id, nonce + sealed

    def unwrap(self, key_id: str, wrapped: bytes, *, aad: bytes) -> bytes:
        key = self._keys.get(key_id)
        if key is None and self.directory is not None:
            # Another process may have rotated since this keyring was loaded.
            self._keys.update(_read_key_files(self.directory))
            key = self._keys.get(key_id)
        if key is None:
            where = ENV_VAR if self.from_env else str(self.directory)
            raise KeyringError(f"master key '{key_id}' is not in {where}")
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

    def rotate(self) -> str:
        """Make a new current master key file; older keys stay so existing wraps unwrap."""
        if self.directory is None:
            raise KeyringError(
                f"master keys come from {ENV_VAR}, which cannot be changed from here: put the "
                f"new key first in {ENV_VAR} (id:base64 of 32 random bytes), keep the old keys "
                "after it, restart, then run rotate_master_key to re-wrap data keys with it"
            )
        kid = _new_key_file(self.directory)
        _set_current(self.directory, kid, only_if_missing=False)
        self._keys = _read_key_files(self.directory)
        self.current_id = kid
        return kid

    def retire(self, key_ids: Iterable[str]) -> list[str]:
        """Delete the files of these (non-current) master keys; returns the ids deleted."""
        if self.directory is None:
            raise KeyringError(f"master keys come from {ENV_VAR}: remove retired keys there")
        deleted = []
        for kid in key_ids:
            if kid == self.current_id:
                raise KeyringError(f"master key '{kid}' is current and cannot be retired")
            path = self.directory / f"master-{kid}.key"
            if path.exists():
                path.unlink()
                deleted.append(kid)
            self._keys.pop(kid, None)
        return deleted


def new_data_key() -> bytes:
    return os.urandom(KEY_SIZE)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise ValueError(f"a key must be {KEY_SIZE} bytes")


def _decode_key(encoded: str, what: str) -> bytes:
    """Standard or URL-safe base64, padding required; anything else is refused."""
    text = encoded.strip().translate(_URLSAFE)
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        raise KeyringError(f"{what} is not valid base64") from None
    if len(key) != KEY_SIZE:
        raise KeyringError(f"{what} must decode to {KEY_SIZE} bytes, not {len(key)}")
    return key


def _read_key_files(directory: Path) -> dict[str, bytes]:
    keys = {}
    for path in sorted(directory.glob("master-*.key")):
        kid = path.name[len("master-") : -len(".key")]
        if _KEY_ID.fullmatch(kid):
            keys[kid] = _decode_key(path.read_text(), str(path))
    return keys


def _new_key_file(directory: Path) -> str:
    kid = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(4)
    encoded = base64.b64encode(new_data_key()) + b"\n"
    _write_private(directory / f"master-{kid}.key", encoded)
    return kid


def _set_current(directory: Path, kid: str, *, only_if_missing: bool) -> bool:
    """Point master-current at `kid` atomically; False if only_if_missing and it exists."""
    target = directory / _CURRENT
    temp = directory / f".{_CURRENT}-{secrets.token_hex(8)}"
    _write_private(temp, kid.encode() + b"\n")
    try:
        if only_if_missing:
            try:
                os.link(temp, target)
            except FileExistsError:
                return False
        else:
            os.replace(temp, target)
        _fsync_dir(directory)
        return True
    finally:
        temp.unlink(missing_ok=True)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


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
