"""Hashing a whole log fast: leaf hashes and prefix roots over aligned chunks of entries.

verify_audit reads a log once, in index order, CHUNK entries at a time. Each chunk's leaf
hashes and the perfect subtrees inside it are computed level by level with C-level loops
(map over hashlib, no Python bytecode per hash), which is about as fast as CPython hashes.
The perfect subtrees of the chunks before it are kept as a border (audit.merkle's), so the
root of any prefix of the log — every stored tree head's size — costs O(log n) more hashes.
"""

import hashlib
from collections.abc import Iterable, Sequence
from itertools import repeat

from audit.merkle import EMPTY_ROOT, node_hash

CHUNK = 4096  # a power of two: chunks are perfect subtrees of the whole tree

_HASH = type(hashlib.sha256())
_digest = _HASH.digest
_sha256 = hashlib.sha256
_leaf_prefix = b"\x00".__add__
_join = b"".join
_NODE = b"\x01"


def hash_messages(messages: Iterable[bytes]) -> list[bytes]:
    """SHA-256 of each message, in C-level loops: the leaf hashes of 0x00 ‖ entry messages.

    The very idiom the bench's raw SHA-256 baseline uses over the bare entries.
    """
    return list(map(_digest, map(_sha256, messages)))


def leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    """SHA-256(0x00 ‖ entry) for each entry, in C-level loops."""
    return list(map(_digest, map(_sha256, map(_leaf_prefix, entries))))


def _parents(level: Sequence[bytes]) -> list[bytes]:
    """SHA-256(0x01 ‖ left ‖ right) of each pair; an odd last node has no parent here.

    zip takes the level's nodes two at a time from one iterator (and reuses its tuple), so
    each message is one join: one allocation per node, no Python bytecode per node.
    """
    pairs = iter(level)
    messages = map(_join, zip(repeat(_NODE), pairs, pairs, strict=False))
    return list(map(_digest, map(_sha256, messages)))


def _levels(hashes: list[bytes]) -> list[list[bytes]]:
    """levels[k][j] = the perfect subtree of 2**k leaves starting at leaf j * 2**k."""
    levels = [hashes]
    while len(levels[-1]) > 1:
        levels.append(_parents(levels[-1]))
    return levels


def _fold(nodes: Sequence[bytes]) -> bytes:
    """The root of a tree given its perfect subtrees left to right (largest first)."""
    if not nodes:
        return EMPTY_ROOT
    root = nodes[-1]
    for left in reversed(nodes[:-1]):
        root = node_hash(left, root)
    return root


def nodes_of_prefix(levels: Sequence[Sequence[bytes]], size: int) -> list[bytes]:
    """The perfect subtrees covering the first `size` leaves of a chunk, largest first.

    `levels` are the chunk's (from `_levels`); `size` may be anything from 0 to its length.
    """
    nodes, offset = [], 0
    for height in range(size.bit_length() - 1, -1, -1):
        if size >> height & 1:
            nodes.append(levels[height][offset >> height])
            offset += 1 << height
    return nodes


def summarize(hashes: list[bytes], sizes: Iterable[int] = ()) -> tuple[int, dict[int, list[bytes]]]:
    """What PrefixRoots needs of a chunk without its leaf hashes: (leaf count, {size: the
    perfect subtrees covering the chunk's first `size` leaves}) for each of `sizes` that the
    chunk reaches, and for the whole chunk. Small enough to send between processes."""
    levels = _levels(hashes)
    count = len(hashes)
    wanted = {size for size in sizes if 0 <= size <= count} | {count}
    return count, {size: nodes_of_prefix(levels, size) for size in wanted}


class PrefixRoots:
    """Feed leaf hashes chunk by chunk (each CHUNK long but the last); ask prefix roots.

    After `add(hashes)`, `root(size)` answers for any size between the start and the end of
    that chunk; `border()` and `root(self.size)` describe the whole tree read so far. A chunk
    may also be given as `add_summary(*summarize(hashes, sizes))`, computed elsewhere (in
    another process): `root` then answers for those sizes and the chunk's end only.
    """

    def __init__(self, chunk: int = CHUNK):
        if chunk < 1 or chunk & (chunk - 1):
            raise ValueError(f"chunk {chunk} is not a power of two")
        self.chunk = chunk
        self.start = 0  # leaves before the current chunk (a multiple of chunk)
        self.size = 0  # leaves read
        self._border: list[bytes] = []  # perfect subtrees covering [0, start)
        self._prefix = _no_chunk  # size within the current chunk -> its perfect subtrees
        self._closed = False

    def add(self, hashes: list[bytes]) -> None:
        """The next chunk's leaf hashes. Requires every earlier chunk to have been full."""
        levels = _levels(hashes)
        self._next(len(hashes), lambda size: nodes_of_prefix(levels, size))

    def add_summary(self, count: int, prefixes: dict[int, list[bytes]]) -> None:
        """The next chunk as `summarize` gives it (count, {size: perfect subtrees})."""

        def prefix(size: int) -> list[bytes]:
            if size == 0:
                return []
            try:
                return prefixes[size]
            except KeyError:
                raise ValueError(f"size {size} was not summarized") from None

        self._next(count, prefix)

    def _next(self, count: int, prefix) -> None:
        if self._closed:
            raise ValueError("a short chunk was the last one")
        if count > self.chunk:
            raise ValueError(f"{count} leaves in a chunk of {self.chunk}")
        self._merge_previous()
        self._prefix = prefix
        self.size = self.start + count
        self._closed = count < self.chunk

    def _merge_previous(self) -> None:
        """Fold the finished chunk's root into the border, as adding one unit carries."""
        if self.size == self.start:
            return
        self._border = self._carried()
        self.start = self.size

    def _carried(self) -> list[bytes]:
        """The border with the current (full) chunk's root added. Requires a full chunk."""
        border, (node,) = list(self._border), self._prefix(self.chunk)
        units = self.start // self.chunk
        while units & 1:
            node = node_hash(border.pop(), node)
            units >>= 1
        border.append(node)
        return border

    def _nodes(self, size: int) -> list[bytes]:
        """The perfect subtrees of the tree of `size` leaves. Requires start <= size <= self.size."""
        if not self.start <= size <= self.size:
            raise ValueError(f"size {size} is outside the chunk [{self.start}, {self.size}]")
        rest = size - self.start
        if rest == self.chunk:
            return self._carried()
        # each border node covers chunk leaves or more: no carry below
        return [*self._border, *self._prefix(rest)]

    def root(self, size: int) -> bytes:
        """MTH(D[0:size]) for start <= size <= self.size."""
        return _fold(self._nodes(size))

    def border(self) -> list[bytes]:
        """The border of the whole tree read so far (audit.merkle's representation)."""
        return self._nodes(self.size)


def _no_chunk(size: int) -> list[bytes]:
    if size:
        raise ValueError("no chunk was added")
    return []
