"""One encrypted object per version: a pack of all its files and an index (SPEC §5, §9).

The object "<storage_id>.pack" in the blob store (registry/blobs) is laid out as

    records of file 0 | records of file 1 | ... | records of the index | trailer

A file's records hold its plaintext in CHUNK_SIZE chunks (only the last shorter; an empty
file has one empty record), each bound to (storage id, file number, chunk number, is-last)
by registry/crypto.py. The index is JSON {"format": 2, "files": [[path, size, offset],
...]}, encrypted the same way as file number 2**64-1. The trailer, the last 24 bytes, is
MAGIC, the index's offset and its plaintext size: not secret, and a wrong value fails
authentication. A file's records follow from its offset and size, so reading one file
reads only its own records, one at a time: nothing is ever held whole in memory.

The whole pack is made durable once, by the store's commit (one fsync, or one
transaction), not once per file. Versions stored by earlier releases as a directory of
per-file blobs are read by registry/legacy.py until `manage.py migrate_blobs` packs them.
"""

import json
import logging
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import DatabaseError

from registry import blobs, keylocks, legacy
from registry.crypto import (
    CHUNK_SIZE,
    INDEX_NUMBER,
    OVERHEAD,
    SourceIntegrityError,
    as_uuid,
    check_key,
    exact_chunks,
    new_data_key,
    open_record,
    records_length,
    seal_records,
)

logger = logging.getLogger(__name__)

MAGIC = b"IPPPACK2"
TRAILER = struct.Struct(">8sQQ")
SUFFIX = ".pack"


def pack_name(storage_id) -> str:
    return f"{as_uuid(storage_id)}{SUFFIX}"


def storage_id_of(name: str) -> uuid.UUID | None:
    """The storage id an object name belongs to: "<id>.pack", or "<id>" (per-file layout)."""
    try:
        return uuid.UUID(name.removesuffix(SUFFIX))
    except ValueError:
        return None


class SourceWriter:
    """Writes one version's encrypted source as one object; nothing is visible until
    `finish()`, and the object is durable when it returns.

    As a context manager it aborts unless `finish()` was called.
    """

    def __init__(self, storage_id, data_key: bytes, *, store: blobs.BlobStore | None = None):
        check_key(data_key)
        self.storage_id = as_uuid(storage_id)
        self._aead = AESGCM(data_key)
        self._store = store or blobs.get_store()
        self._blob = self._store.create(pack_name(self.storage_id))
        self._files: list[tuple[str, int, int]] = []
        self._paths: set[str] = set()
        self._offset = 0
        self._state = "open"

    def add_file(self, path: str, stream: BinaryIO) -> int:
        """Encrypt one file from `stream`, CHUNK_SIZE at a time; returns its plaintext size."""
        self._check_open()
        if not isinstance(path, str) or not path or path in self._paths:
            raise ValueError(f"file path {path!r} is empty or already added")
        start, sizes = self._offset, []
        chunks = (sizes.append(len(chunk)) or chunk for chunk in exact_chunks(stream))
        self._write(seal_records(self._aead, self.storage_id, len(self._files), chunks))
        size = sum(sizes)
        self._files.append((path, size, start))
        self._paths.add(path)
        return size

    def finish(self) -> None:
        """Append the encrypted index and the trailer, and commit the object."""
        self._check_open()
        index = json.dumps({"format": 2, "files": self._files}, separators=(",", ":")).encode()
        index_offset = self._offset
        chunks = (index[i : i + CHUNK_SIZE] for i in range(0, len(index), CHUNK_SIZE))
        self._write(seal_records(self._aead, self.storage_id, INDEX_NUMBER, chunks))
        self._blob.write(TRAILER.pack(MAGIC, index_offset, len(index)))
        self._blob.commit()
        self._state = "finished"

    def abort(self) -> None:
        """Remove everything this writer wrote, even after finish()."""
        if self._state == "finished":
            self._store.delete(pack_name(self.storage_id))
        else:
            self._blob.abort()
        self._state = "aborted"

    def _write(self, records: Iterator[bytes]) -> None:
        for record in records:
            self._blob.write(record)
            self._offset += len(record)

    def _check_open(self) -> None:
        if self._state != "open":
            raise ValueError(f"this source writer is {self._state}")

    def __enter__(self) -> "SourceWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or self._state == "open":
            self.abort()


class SourceReader:
    """Decrypts one version's source, record by record; any tampering raises.

    `list_files()` and `open(path)` read the pack's index once; each `open` reads only
    that file's records. A version still in the per-file layout of earlier releases
    (filesystem store) is read from there.
    """

    def __init__(self, storage_id, data_key: bytes, *, store: blobs.BlobStore | None = None):
        check_key(data_key)
        self.storage_id = as_uuid(storage_id)
        self._data_key = data_key
        self._aead = AESGCM(data_key)
        self._store = store or blobs.get_store()
        self._files: list[tuple[str, int, int]] | None = None
        self._numbers: dict[str, int] = {}
        self._legacy: legacy.LegacyReader | None = None

    def list_files(self) -> list[tuple[str, int]]:
        """[(path, size)] in the order the files were added."""
        if self._load() is not None:
            return self._legacy.list_files()
        return [(path, size) for path, size, _offset in self._files]

    def open(self, path: str) -> Iterator[bytes]:
        """The decrypted chunks of `path`; KeyError if the version has no such file."""
        if self._load() is not None:
            return self._legacy.open(path)
        number = self._numbers[path]
        _path, size, offset = self._files[number]
        return self._chunks(number, size, offset)

    def _chunks(self, number: int, size: int, offset: int) -> Iterator[bytes]:
        with self._open_blob() as handle:
            yield from _read_records(self._aead, self.storage_id, handle, number, size, offset)

    def _open_blob(self) -> blobs.BlobHandle:
        try:
            return self._store.open(pack_name(self.storage_id))
        except blobs.BlobMissing:
            raise SourceIntegrityError(f"the source {self.storage_id} is missing") from None

    def _load(self) -> legacy.LegacyReader | None:
        if self._files is not None or self._legacy is not None:
            return self._legacy
        try:
            handle = self._store.open(pack_name(self.storage_id))
        except blobs.BlobMissing:
            self._legacy = legacy.reader_for(self._store, self.storage_id, self._data_key)
            if self._legacy is None:
                raise SourceIntegrityError(f"the source {self.storage_id} is missing") from None
            return self._legacy
        with handle:
            self._files = _read_index(self._aead, self.storage_id, handle)
        self._numbers = {path: n for n, (path, _size, _offset) in enumerate(self._files)}
        return None


def _read_records(
    aead: AESGCM, storage_id: uuid.UUID, handle, number: int, size: int, offset: int
) -> Iterator[bytes]:
    """The plaintext chunks of the `size` bytes whose records start at `offset`.

    The records come as views the handle lends (BlobHandle.regions: the filesystem store's
    page cache, or one reused buffer), decrypted straight from them; each plaintext is a
    new object, so what the caller keeps is never overwritten."""
    count = max(1, -(-size // CHUNK_SIZE))
    last = size - (count - 1) * CHUNK_SIZE
    lengths = [CHUNK_SIZE + OVERHEAD] * (count - 1) + [last + OVERHEAD]
    done = 0
    try:
        for record in handle.regions(offset, lengths):
            if len(record) != lengths[done]:
                break
            yield open_record(aead, record, storage_id, number, done, done == count - 1)
            done += 1
    except blobs.BlobError as exc:
        raise SourceIntegrityError(f"the source {storage_id} is unreadable: {exc}") from None
    if done < count:
        what = "index" if number == INDEX_NUMBER else f"file {number}"
        raise SourceIntegrityError(f"the {what} of source {storage_id} is cut short")


def _read_index(aead: AESGCM, storage_id: uuid.UUID, handle) -> list[tuple[str, int, int]]:
    end = handle.size - TRAILER.size
    trailer = handle.read(end, TRAILER.size) if end >= 0 else b""
    magic, index_offset, index_size = TRAILER.unpack(trailer.rjust(TRAILER.size, b"\0"))
    if magic != MAGIC or index_offset + records_length(index_size) != end:
        raise SourceIntegrityError(f"the index of source {storage_id} is missing or cut short")
    raw = b"".join(_read_records(aead, storage_id, handle, INDEX_NUMBER, index_size, index_offset))
    try:
        files = [(str(p), int(s), int(o)) for p, s, o in json.loads(raw)["files"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise SourceIntegrityError(
            f"the index of source {storage_id} is unreadable: {exc}"
        ) from None
    expected = 0
    for path, size, offset in files:
        if offset != expected or size < 0:
            raise SourceIntegrityError(f"the index of source {storage_id} misplaces {path!r}")
        expected += records_length(size)
    if expected != index_offset:
        raise SourceIntegrityError(f"the index of source {storage_id} does not cover the pack")
    return files


def remove_source(storage_id, *, store: blobs.BlobStore | None = None) -> None:
    """Delete a version's source (its pack, or its per-file directory); no error if none.

    Best effort, as cleanup after a failed publish must not hide why it failed: what
    cannot be removed now (the caller's transaction is broken, the store is down) is
    logged and left to `sweep_blobs`.
    """
    store = store or blobs.get_store()
    try:
        store.delete(pack_name(storage_id))
        legacy.remove(store, as_uuid(storage_id))
    except (DatabaseError, OSError) as exc:
        logger.warning("source %s left for sweep_blobs: %s", storage_id, exc)


@dataclass(frozen=True)
class StoredSource:
    """What a version row records about its stored source."""

    storage_id: uuid.UUID
    master_key_id: str
    wrapped_key: bytes
    files: int
    size: int


def store_source(*, storage_id: uuid.UUID, files, open_file) -> StoredSource:
    """Encrypt `files` ([(path, size)], read with `open_file(path)`) under a new data key
    into one pack, durable on return; then wrap the data key with the current master key.

    Call inside the transaction that inserts the row: the wrap holds off master key
    retirement until that transaction ends (registry/keylocks.py). If the transaction
    rolls back, the caller removes the pack (`remove_source`); if the process dies first,
    `sweep_blobs` does.
    """
    data_key = new_data_key()
    total = 0
    with SourceWriter(storage_id, data_key) as writer:
        for path, _size in files:
            with open_file(path) as stream:
                total += writer.add_file(path, stream)
        writer.finish()
    key_id, wrapped = keylocks.wrap_data_key(data_key, storage_id)
    return StoredSource(storage_id, key_id, wrapped, len(files), total)
