"""The per-file layout of earlier releases, read until `manage.py migrate_blobs` packs it.

A version was a directory IPP_BLOB_DIR/<storage_id>/ of numbered blobs ("00000000", ...)
and an encrypted "index" of [path, size], each a run of records of 64 KiB chunks bound
like today's (registry/crypto.py). Only the filesystem store ever held them.
"""

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.blobs import BlobStore, FilesystemBlobStore
from registry.crypto import (
    INDEX_NUMBER,
    OVERHEAD,
    SourceIntegrityError,
    check_key,
    open_record,
)

CHUNK_SIZE = 64 * 1024
RECORD_SIZE = OVERHEAD + CHUNK_SIZE
INDEX_NAME = "index"


def directory(store: BlobStore, storage_id: uuid.UUID) -> Path | None:
    """The version's per-file directory, if `store` is a filesystem store holding one."""
    if not isinstance(store, FilesystemBlobStore):
        return None
    path = store.root / str(storage_id)
    return path if path.is_dir() else None


def reader_for(store: BlobStore, storage_id: uuid.UUID, data_key: bytes):
    path = directory(store, storage_id)
    return None if path is None else LegacyReader(storage_id, data_key, path)


def remove(store: BlobStore, storage_id: uuid.UUID) -> None:
    path = directory(store, storage_id)
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def blob_name(number: int) -> str:
    return f"{number:08d}"


class LegacyReader:
    """list_files() and open(path) of a version in the per-file layout."""

    def __init__(self, storage_id: uuid.UUID, data_key: bytes, path: Path):
        check_key(data_key)
        self.storage_id = storage_id
        self._aead = AESGCM(data_key)
        self._dir = path
        self._files: list[tuple[str, int]] | None = None
        self._numbers: dict[str, int] = {}

    def list_files(self) -> list[tuple[str, int]]:
        return list(self._index())

    def open(self, path: str) -> Iterator[bytes]:
        files = self._index()
        number = self._numbers[path]
        return self._chunks(number, files[number][1])

    def _chunks(self, number: int, size: int) -> Iterator[bytes]:
        seen = 0
        for chunk in self._decrypt(self._dir / blob_name(number), number):
            seen += len(chunk)
            yield chunk
        if seen != size:
            raise SourceIntegrityError(
                f"file {number} of source {self.storage_id} has {seen} bytes, the index says {size}"
            )

    def _index(self) -> list[tuple[str, int]]:
        if self._files is None:
            raw = b"".join(self._decrypt(self._dir / INDEX_NAME, INDEX_NUMBER))
            try:
                files = [(str(path), int(size)) for path, size in json.loads(raw)["files"]]
            except (ValueError, KeyError, TypeError) as exc:
                raise SourceIntegrityError(
                    f"the index of source {self.storage_id} is unreadable: {exc}"
                ) from None
            self._numbers = {path: n for n, (path, _size) in enumerate(files)}
            self._files = files
        return self._files

    def _decrypt(self, path: Path, file_no: int) -> Iterator[bytes]:
        what = "index" if file_no == INDEX_NUMBER else f"file {file_no}"
        try:
            blob = open(path, "rb")
        except FileNotFoundError:
            raise SourceIntegrityError(
                f"the {what} of source {self.storage_id} is missing"
            ) from None
        with blob:
            record, chunk_no = blob.read(RECORD_SIZE), 0
            while True:
                following = blob.read(RECORD_SIZE)
                last = not following
                if not last and len(record) != RECORD_SIZE:
                    raise SourceIntegrityError(
                        f"the {what} of source {self.storage_id} is cut short"
                    )
                yield open_record(self._aead, record, self.storage_id, file_no, chunk_no, last)
                if last:
                    return
                record, chunk_no = following, chunk_no + 1
