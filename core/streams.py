"""Small stream helpers shared by every layer: chunked readers and admitted source."""

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO


class ChunkStream(io.RawIOBase):
    """A read-only file object over an iterator of byte chunks (bounded memory)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = chunk
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def buffered(chunks: Iterator[bytes]) -> BinaryIO:
    """A buffered binary file object reading `chunks`."""
    return io.BufferedReader(ChunkStream(chunks))


@dataclass
class AdmittedSource:
    """What publishing stores: the digest of the content and how to read its files.

    `incoming_mark` is the verified mark a sealed package or a stored version carries;
    `fingerprints` are the keyed fingerprints of its files (SPEC rule 9), computed by the
    IPP rulebook when it admitted the source.
    """

    digest: str
    files: list  # [(path, size)]
    open_file: Callable[[str], BinaryIO]
    incoming_mark: dict | None = None
    fingerprints: frozenset = field(default_factory=frozenset)
