"""IPP_BLOB_STORE=database: objects as rows (Blob, BlobChunk), so every node reads what any
node wrote through the one database they share.

An object's bytes are stored in CHUNK-sized BlobChunk rows. On PostgreSQL a write runs in
a connection of its own, in one transaction that `commit()` commits: the object is
durable before the version row that points to it commits in the caller's transaction,
and a crash between the two leaves an object no row points to (for `sweep_blobs`), never
a row without its object. On SQLite, which has one writer at a time, a second connection
could not write while the caller's transaction holds the lock, so the object is written
through the caller's connection in a savepoint: it commits with the row, atomically.
`created_at` is the database's clock, and ages are computed there too, so the nodes'
clocks do not matter to the sweeper.
"""

from collections.abc import Iterator
from contextlib import nullcontext

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import DurationField, ExpressionWrapper, F
from django.db.models.functions import Now

from registry.blobs.base import (
    BlobError,
    BlobExists,
    BlobHandle,
    BlobInfo,
    BlobMissing,
    BlobStore,
    BlobWriter,
    check_name,
)
from registry.models import Blob, BlobChunk

CHUNK = 1024 * 1024


class _Aborted(Exception):
    """Passed to a savepoint's __exit__ so that it rolls back."""


def _sql(text: str) -> str:
    return text.format(blob=Blob._meta.db_table, chunk=BlobChunk._meta.db_table)


class DatabaseWriter(BlobWriter):
    def __init__(self, name: str):
        self.name = name
        self._buffer = bytearray()
        self._number = self._size = 0
        self._private = connection.vendor != "sqlite"
        if self._private:
            default = connections[DEFAULT_DB_ALIAS]
            self._db = type(default)(dict(default.settings_dict), default.alias)
            self._db.ensure_connection()
            self._db.set_autocommit(False)
        else:
            self._db = connection
            self._savepoint = transaction.atomic()
            self._savepoint.__enter__()
        self._state = "open"
        try:
            self._blob_id = self._insert_blob()
        except BaseException:
            self.abort()
            raise

    def _insert_blob(self) -> int:
        with self._db.cursor() as cursor:
            try:
                with nullcontext() if self._private else transaction.atomic():
                    cursor.execute(
                        _sql("INSERT INTO {blob} (name, size, created_at) ")
                        + "VALUES (%s, NULL, CURRENT_TIMESTAMP)",
                        [self.name],
                    )
            except IntegrityError:
                raise BlobExists(f"blob {self.name} is already stored") from None
            cursor.execute(_sql("SELECT id FROM {blob} WHERE name = %s"), [self.name])
            return cursor.fetchone()[0]

    def write(self, data: bytes) -> None:
        if self._state != "open":
            raise ValueError(f"this blob writer is {self._state}")
        self._buffer += data
        self._size += len(data)
        while len(self._buffer) >= CHUNK:
            self._insert_chunk(bytes(self._buffer[:CHUNK]))
            del self._buffer[:CHUNK]

    def _insert_chunk(self, data: bytes) -> None:
        with self._db.cursor() as cursor:
            cursor.execute(
                _sql("INSERT INTO {chunk} (blob_id, number, data) VALUES (%s, %s, %s)"),
                [self._blob_id, self._number, data],
            )
        self._number += 1

    def commit(self) -> int:
        if self._state != "open":
            raise ValueError(f"this blob writer is {self._state}")
        if self._buffer:
            self._insert_chunk(bytes(self._buffer))
            self._buffer.clear()
        with self._db.cursor() as cursor:
            cursor.execute(
                _sql("UPDATE {blob} SET size = %s WHERE id = %s"), [self._size, self._blob_id]
            )
        if self._private:
            self._db.commit()
            self._db.close()
        else:
            self._savepoint.__exit__(None, None, None)
        self._state = "committed"
        self.committed = True
        return self._size

    def abort(self) -> None:
        if self._state != "open":
            return
        self._state = "aborted"
        if self._private:
            try:
                self._db.rollback()
            finally:
                self._db.close()
        else:
            self._savepoint.__exit__(_Aborted, _Aborted(), None)


class DatabaseHandle(BlobHandle):
    """Ranged reads; the last chunk fetched is kept, so a sequential read fetches each once."""

    def __init__(self, blob_id: int, size: int, name: str):
        self._blob_id, self.size, self._name = blob_id, size, name
        self._cached: tuple[int, bytes] | None = None

    def read(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        if not length:
            return b""
        first, last = offset // CHUNK, (offset + length - 1) // CHUNK
        chunks = self._fetch(first, last)
        data = b"".join(chunks)
        start = offset - first * CHUNK
        return data[start : start + length]

    def _fetch(self, first: int, last: int) -> list[bytes]:
        chunks: list[bytes] = []
        number = first
        if self._cached is not None and self._cached[0] == first:
            chunks.append(self._cached[1])
            number += 1
        if number <= last:
            rows = (
                BlobChunk.objects.filter(blob_id=self._blob_id, number__range=(number, last))
                .order_by("number")
                .values_list("number", "data")
            )
            for found, data in rows:
                if found != number:
                    break
                chunks.append(bytes(data))
                self._cached = (found, chunks[-1])
                number += 1
        if number <= last:
            raise BlobError(f"chunk {number} of blob {self._name} is missing")
        return chunks


class DatabaseBlobStore(BlobStore):
    kind = "database"

    def create(self, name: str) -> DatabaseWriter:
        return DatabaseWriter(check_name(name))

    def open(self, name: str) -> DatabaseHandle:
        row = _committed(name).values_list("pk", "size").first()
        if row is None:
            raise BlobMissing(f"blob {name} is not stored")
        return DatabaseHandle(row[0], row[1], name)

    def exists(self, name: str) -> bool:
        return _committed(name).exists()

    def delete(self, name: str) -> bool:
        with transaction.atomic():
            deleted, _ = Blob.objects.filter(name=check_name(name)).delete()
        return bool(deleted)

    def listing(self) -> Iterator[BlobInfo]:
        age = ExpressionWrapper(Now() - F("created_at"), output_field=DurationField())
        rows = Blob.objects.filter(size__isnull=False).annotate(age=age)
        rows = rows.order_by().values_list("name", "age")
        for name, elapsed in rows.iterator(chunk_size=2000):
            yield BlobInfo(name, max(0.0, elapsed.total_seconds()))


def _committed(name: str):
    """The object `name` once committed (a writer in this very transaction sees its own
    uncommitted row on SQLite: its size is NULL until commit)."""
    return Blob.objects.filter(name=check_name(name), size__isnull=False)
