"""The blob store interface: named, write-once objects of bytes, and nothing else.

Encrypted source is written through it (registry/packs.py); what a name means and what
the bytes say is not its business. A backend provides `create` (a writer whose `commit`
makes the object durable before it returns), `open` (ranged reads: an object is never
held whole in memory), `delete` and `listing` (every name with its age, so
`sweep_blobs` can remove what no row points to). An object store such as S3 fits the
same shape (multipart upload, ranged GET, DELETE, LIST), which is why nothing here
assumes a file or a row.
"""

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
READ_BLOCK = 1024 * 1024


class BlobError(Exception):
    """Base of the errors below."""


class BlobMissing(BlobError, LookupError):
    """No object by that name (never written, not committed, or deleted)."""


class BlobExists(BlobError, FileExistsError):
    """An object by that name is already stored: objects are written once."""


@dataclass(frozen=True)
class BlobInfo:
    """One entry of a listing. `age` is in seconds since it was written (or, for a
    `leftover` — the temporary part of a write that never committed — last touched)."""

    name: str
    age: float
    leftover: bool = False


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"a blob name is 1-100 of A-Z a-z 0-9 . _ - (not first): {name!r}")
    return name


class BlobWriter(ABC):
    """Receives one object's bytes; nothing is visible under its name before `commit()`.

    As a context manager it aborts unless `commit()` returned.
    """

    committed = False

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def commit(self) -> int:
        """Make the object durable and visible; returns its size in bytes."""

    @abstractmethod
    def abort(self) -> None:
        """Drop what was written; a no-op once committed or aborted."""

    def __enter__(self) -> "BlobWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.committed:
            self.abort()


class BlobHandle(ABC):
    """An open object: its `size` and ranged reads. Close it (or use `with`)."""

    size: int

    @abstractmethod
    def read(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes from `offset` (fewer only at the end of the object)."""

    def read_into(self, offset: int, buffer: memoryview) -> int:
        """Fill `buffer` from `offset` (less only at the end of the object); how many bytes.

        A backend that can read into memory it is given overrides this: a reader that
        reuses one buffer for every record allocates nothing per record (a fresh 1 MiB
        object per read, with the previous one still alive, costs the allocator a new
        mapping and its page faults every time: 3x the read itself)."""
        data = self.read(offset, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def regions(self, offset: int, lengths: Sequence[int]) -> Iterator[memoryview]:
        """The consecutive regions of these lengths from `offset`, in order.

        Each view is valid only until the next one is asked for (do not keep it). A view
        shorter than asked means the object ended there, and it is the last one. This one
        reads every region into one reused buffer (read_into); a backend that can lend its
        bytes without copying them overrides it."""
        buffer = memoryview(bytearray(max(lengths, default=0)))
        for length in lengths:
            got = self.read_into(offset, buffer[:length])
            yield buffer[:got]
            if got < length:
                return
            offset += got

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        pass

    def chunks(self, block: int = READ_BLOCK) -> Iterator[bytes]:
        """The whole object, `block` bytes at a time."""
        offset = 0
        while offset < self.size:
            data = self.read(offset, min(block, self.size - offset))
            if not data:
                raise BlobError(f"the object ended at {offset} of {self.size} bytes")
            yield data
            offset += len(data)

    def __enter__(self) -> "BlobHandle":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


class BlobStore(ABC):
    """Where objects live. `kind` is the IPP_BLOB_STORE value that selects the backend."""

    kind: str

    @abstractmethod
    def create(self, name: str) -> BlobWriter:
        """A writer for a new object; BlobExists if `name` is already stored."""

    @abstractmethod
    def open(self, name: str) -> BlobHandle:
        """The stored object; BlobMissing if there is none."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def delete(self, name: str) -> bool:
        """Remove an object or a leftover of the listing; False if there was none."""

    @abstractmethod
    def listing(self) -> Iterator[BlobInfo]:
        """Every stored object and leftover, with its age, in no particular order."""

    def ping(self) -> None:
        """Raise unless the store answers (for /healthz): a lookup of a name never used."""
        self.exists("healthz-probe")

    def write(self, name: str, chunks: Iterable[bytes]) -> int:
        """Store `chunks` as one object, durable when this returns; its size."""
        with self.create(name) as writer:
            for chunk in chunks:
                writer.write(chunk)
            return writer.commit()
