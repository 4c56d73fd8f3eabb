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
from collections.abc import Iterable

from core import keys

MIN_NORMALIZED_SIZE = 65  # files of 64 bytes or less after normalization are ignored
_PURPOSE = b"ipp fingerprint v1"
# A line longer than this is written out before its end is seen (bounded memory).
_LONG_LINE = 256 * 1024


class Normalizer:
    """Streams chunks of a file into the HMAC of its normalized form.

    Each chunk's complete lines are normalized by C-level bytes methods (replace, split,
    rstrip, join) with no Python code per line. What follows the last line break is
    carried to the next chunk; when that tail grows long (a file with very long lines)
    its content up to its trailing whitespace is written out at once and the line is
    finished later, so neither memory nor copying grows with the length of a line.
    """

    def __init__(self, key: bytes):
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        self._carry = b""
        self._midline = False  # part of the current line is already in the HMAC
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) + 1
        if not end:
            self._carry += chunk
        else:
            # The chunk is not joined to the carry (a copy of the whole chunk): the carry
            # only ever joins the chunk's first line.
            block = chunk if end == len(chunk) else chunk[:end]
            if b"\r" in block:
                block = block.replace(b"\r", b"\n")
            lines = block.split(b"\n")
            lines.pop()  # empty: what follows the last break is carried
            if self._carry:
                lines[0] = self._carry + lines[0]
            if self._midline:
                self._write(lines[0].rstrip() + b"\n")
                self._midline = False
                lines[0] = b""  # dropped by _emit as blank
            self._emit(lines)
            self._carry = chunk[end:]
        if len(self._carry) > _LONG_LINE:
            content = self._carry.rstrip()
            if content:
                self._write(content)
                self._midline = True
                self._carry = self._carry[len(content) :]

    def _emit(self, lines: list[bytes]) -> None:
        """Each line without its trailing whitespace, followed by a break; blank lines dropped."""
        kept = b"\n".join(filter(None, map(bytes.rstrip, lines)))
        if kept:
            self._write(kept)
            self._write(b"\n")

    def _write(self, data: bytes) -> None:
        self.size += len(data)
        self._mac.update(data)

    def finish(self) -> str | None:
        if self._midline:
            self._write(self._carry.rstrip() + b"\n")
            self._midline = False
        else:
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
