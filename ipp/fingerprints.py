"""Keyed fingerprints of normalized source files (SPEC rule 9).

Normalization makes whitespace edits worthless for stripping provenance: line endings are
unified, each line loses its trailing whitespace, blank lines are dropped. A file of 64
bytes or less after normalization is ignored (no fingerprint): tiny files are shared by
everyone and prove nothing. Fingerprints are HMAC-SHA256 under a key derived from the
site's keys, never plain hashes of source, so the table reveals nothing about content to
someone holding only the database.
"""

import hashlib
import hmac
import re
from collections.abc import Iterable

from core import keys

MIN_NORMALIZED_SIZE = 65  # files of 64 bytes or less after normalization are ignored
_PURPOSE = b"ipp fingerprint v1"
_LINE_BREAK = re.compile(rb"[\r\n]")


class Normalizer:
    """Streams chunks of a file into the HMAC of its normalized form."""

    def __init__(self, key: bytes):
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        self._carry = b""
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        lines = _LINE_BREAK.split(self._carry + chunk)
        self._carry = lines.pop()
        self._emit(lines)

    def _emit(self, lines: list[bytes]) -> None:
        kept = [line.rstrip() for line in lines]
        data = b"".join(line + b"\n" for line in kept if line)
        self.size += len(data)
        self._mac.update(data)

    def finish(self) -> str | None:
        self._emit([self._carry])
        self._carry = b""
        return self._mac.hexdigest() if self.size >= MIN_NORMALIZED_SIZE else None


def fingerprint_key() -> bytes:
    return keys.derive_key(_PURPOSE)


def fingerprint_chunks(chunks: Iterable[bytes], *, key: bytes | None = None) -> str | None:
    """The keyed fingerprint of one file given as byte chunks; None when it is too small."""
    normalizer = Normalizer(key if key is not None else fingerprint_key())
    for chunk in chunks:
        normalizer.feed(chunk)
    return normalizer.finish()


def fingerprint_bytes(content: bytes, *, key: bytes | None = None) -> str | None:
    return fingerprint_chunks((content,), key=key)
