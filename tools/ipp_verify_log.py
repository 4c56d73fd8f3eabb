#!/usr/bin/env python3
"""Check one IPP Site audit log offline: entries, Merkle root, signed head, cosignatures.

Stand-alone on purpose: it needs Python 3.11+ and `cryptography`, and imports nothing
from the site, so checking the site does not mean trusting the site's code. It therefore
carries its own short copy of the steps it needs: RFC 9162 §2.1 leaf and node hashes and
the tree root, and the signed messages of SPEC §6. audit/merkle.py is the reference; the
tests hold the two copies to each other. Consistency with a head verified before (--state)
is checked by recomputing that head's root from the first entries of this one, which is
what a consistency proof would show, so no proof verifier is copied here.

    ipp_verify_log.py --url https://ipp.example --token=TOKEN --log 7 \\
        --authority-key KID:BASE64 --witness acme:BASE64 --state heads.json --save log7.jsonl
    ipp_verify_log.py --export log7.json --keys keys.json

--url fetches the entries in the lines format below (Accept: application/jsonl, 10,000 a
call), into a temporary file or the --save file when its name ends in .jsonl; with a --save
name ending otherwise, or from a site that does not send lines, in the JSON format.

Export file (--save writes it, --export reads either format), JSON:
    {"log": "7",
     "keys": [{"key_id", "algorithm": "ed25519", "public_key": base64 of the raw 32 bytes}],
     "tree_head": {"log", "size", "root_hash": lowercase hex, "timestamp", "key_id",
                   "signature": base64, "cosignatures": [{"witness", "signature": base64}]},
     "entries": [{"index", "leaf": base64 of the exact entry bytes, "entry": those bytes parsed}]}
or, when the --save file name ends in .jsonl, the lines format, several times faster to
check: a first line {"format": "ipp-site log export v2", "log", "keys", "tree_head"}, then
each entry's exact bytes on a line of its own, in index order (canonical JSON has no raw
newline). Its checks run in two passes: the tree (count, leaf hashes, root, signatures),
then each entry's content (canonical JSON that says its own index and log), with --state
only for the entries after the head verified before (the ones before it are unchanged:
their root is that head's).
--keys FILE holds {"keys": [...]} as GET /api/v1/audit/keys returns it. Pinned keys (--keys,
--authority-key) replace the keys the site sends; without them those are used, with a
warning. --state FILE is {log: last verified tree head}, created on first use and updated
only when everything verifies.

Exit 0 printing "ok: N entries in log L, root R, signed by K, cosigned by W"; exit 1 with
"FAILED: log L: ..." naming the first bad index or what failed; exit 2 when the log, a key
or a file cannot be read.
"""

import argparse
import base64
import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from itertools import repeat

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PAGE = 1000  # entries per request in JSON: the API's maximum
LINES_PAGE = 10_000  # entries per request in the lines format: the API's maximum there
LINES_TYPE = "application/jsonl"
# What --url asks the entries for: lines, or anything else a site sends (a site from before
# the lines format answers JSON to this, where to Accept: application/jsonl alone it would
# answer 406).
LINES_ACCEPT = f"{LINES_TYPE}, */*;q=0.1"
LINES = "ipp-site log export v2"  # the first line's "format" in the lines format
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_ABSENT = object()


class Failed(Exception):
    """The log does not verify (exit 1)."""


class Unreadable(Exception):
    """The log, a key or a file could not be read (exit 2)."""


# --- RFC 9162 §2.1 and SPEC §6: a copy of audit/merkle.py's steps -----------------------


_digest = type(hashlib.sha256()).digest
_sha256 = hashlib.sha256
_join = b"".join


def hash_messages(messages) -> list[bytes]:
    """SHA-256 of each message in C-level loops (map: no Python bytecode per hash)."""
    return list(map(_digest, map(_sha256, messages)))


def leaf_hashes(leaves: list[bytes]) -> list[bytes]:
    """SHA-256(0x00 ‖ entry) of every entry."""
    return hash_messages(map(b"\x00".__add__, leaves))


def tree_root(hashes: list[bytes]) -> bytes:
    """MTH over leaf hashes: pair each level left to right, carry an odd last node up.

    zip takes a level two nodes at a time from one iterator; each 0x01 ‖ left ‖ right is
    one join; all of it in C-level loops.
    """
    if not hashes:
        return hashlib.sha256(b"").digest()
    level, node = hashes, repeat(b"\x01")
    while len(level) > 1:
        pairs = iter(level)
        upper = hash_messages(map(_join, zip(node, pairs, pairs, strict=False)))
        if len(level) % 2:
            upper.append(level[-1])
        level = upper
    return level[0]


def head_message(first_line: str, head: dict) -> bytes:
    """'ipp-site tree head v1' (authority) or 'ipp-site cosignature v1' (witness) lines."""
    fields = (head["log"], head["size"], head["root_hash"], head["timestamp"])
    return ("\n".join((first_line, *map(str, fields))) + "\n").encode()


# --- reading ------------------------------------------------------------------------------


def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise Unreadable(f"cannot read {path}: {exc}") from None


def _write_json(path: str, document) -> None:
    _write_bytes(path, json.dumps(document, ensure_ascii=False).encode())


def _write_bytes(path: str, data: bytes) -> None:
    """Write whole or not at all: a temporary file beside it, then renamed over it."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        with tempfile.NamedTemporaryFile("wb", dir=folder, delete=False) as out:
            out.write(data)
        os.replace(out.name, path)
    except OSError as exc:
        raise Unreadable(f"cannot write {path}: {exc}") from None


BLOCK = 1 << 17  # bytes of a lines export read at a time: the work stays in the CPU cache
CHUNK = 1 << 12  # entries whose subtree a worker hashes whole (a power of two)


class LinesExport:
    """An export in the lines format: its header line, and its entries read from the file.

    The tree pass (leaf_hashes, hashes_and_root) hashes the lines as they are read
    (_hash_lines), where the JSON format costs a JSON parse, a base64 decode and a
    re-encoding per entry; with several jobs, in several processes. The content pass
    (check_content) reads the lines again, over a whole export in several processes too.
    """

    def __init__(self, path: str, header: dict, offset: int):
        self.path, self.header, self.offset = path, header, offset

    def get(self, key, default=None):
        return self.header.get(key, default)

    def __getitem__(self, key):
        return self.header[key]

    def _open(self):
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 (closed by the callers' with)
            handle.seek(self.offset)
        except OSError as exc:
            raise Unreadable(f"cannot read {self.path}: {exc}") from None
        return handle

    def leaf_hashes(self) -> list[bytes]:
        """SHA-256(0x00 ‖ entry) of every entry line, in file order."""
        with self._open() as handle:
            return _hash_lines(handle, None)

    def hashes_and_root(self, jobs: int = 1, chunk: int = CHUNK) -> tuple[Sequence[bytes], bytes]:
        """The leaf hashes and the root of the tree they make."""
        hashes, roots = self.hashes_and_chunk_roots(jobs, chunk)
        return hashes, tree_root(roots)

    def hashes_and_chunk_roots(
        self, jobs: int = 1, chunk: int = CHUNK
    ) -> tuple[Sequence[bytes], list[bytes]]:
        """The leaf hashes, and the root of each run of `chunk` of them (the last may be
        short): the tree over those roots is the log's tree, and the roots of whole chunks
        give any prefix's root cheaply (prefix_root).

        With jobs > 1 and a big enough export, the lines are cut into that many runs of
        whole chunks, each read and hashed (leaves and the chunks' subtrees) by a process
        of its own: CPython hashes one short message per call holding the GIL, so more
        processes are the only way to use more cores. The chunks are aligned at multiples
        of `chunk` (a power of two) entries, so the tree over their roots is the log's tree.
        """
        runs = self._runs(jobs, chunk) if jobs > 1 else []
        if len(runs) < 2:
            hashes = self.leaf_hashes()
            return hashes, _chunk_roots(hashes, chunk)
        joined, roots = [], []
        with _pool(len(runs)) as pool:
            tasks = [(self.path, start, end, chunk) for start, end, _first in runs]
            for hashes, chunk_roots in pool.map(_hash_run, tasks):
                joined.append(hashes)
                roots += chunk_roots
        return Packed(b"".join(joined)), roots

    def _runs(self, jobs: int, chunk: int) -> list[tuple[int, int | None, int]]:
        """Byte ranges [start, end) of up to `jobs` runs of whole chunks of lines (the last
        to the end of the file), each with the number of its first line, or none when the
        export holds fewer than 2 chunks a job."""
        blocks, seen, tail = [], 0, False  # (offset, newlines before it, newlines in it)
        with self._open() as handle:
            offset = self.offset
            while block := handle.read(BLOCK):
                count = block.count(b"\n")
                blocks.append((offset, seen, count))
                seen, offset = seen + count, offset + len(block)
                tail = not block.endswith(b"\n")
            lines = seen + tail
            chunks = -(-lines // chunk)
            if chunks < 2 * jobs:
                return []
            starts = [chunks * k // jobs * chunk for k in range(jobs)]
            offsets = [self.offset] + [_line_offset(handle, blocks, line) for line in starts[1:]]
        return list(zip(offsets, [*offsets[1:], None], starts, strict=True))

    def check_content(
        self, log: str, hashes: Sequence[bytes], start: int = 0, jobs: int = 1
    ) -> None:
        """check_lines over the entries from number `start` on; from the first entry of a
        big export with jobs > 1, in runs of whole chunks, one process each (a JSON parse
        holds the GIL, as hashing does); the first bad entry is the one reported."""
        runs = self._runs(jobs, CHUNK) if jobs > 1 and start == 0 else []
        if len(runs) < 2:
            check_lines(log, self.entries(start), hashes, start)
            return
        lasts = [first for _start, _end, first in runs[1:]] + [len(hashes)]
        tasks = [
            (self.path, begin, end, first, log, _hash_bytes(hashes, first, last))
            for (begin, end, first), last in zip(runs, lasts, strict=True)
        ]
        with _pool(len(tasks)) as pool:
            for problem, checked, last in pool.map(_content_run, tasks):
                if problem is None and checked < last:  # the run lost entries
                    problem = f"entry {checked}: the export changed while it was read"
                if problem is not None:
                    raise Failed(f"log {log}: {problem}")

    def entries(self, start: int = 0):
        """Each entry line's bytes, in file order, from entry number `start` on (the lines
        before it are skipped a block at a time, counting newlines, not read one by one)."""
        with self._open() as handle:
            if start:
                handle.seek(_skip_lines(handle, start))
            yield from _lines_to(handle, None)


class Packed(Sequence):
    """Leaf hashes kept as one bytes object, 32 bytes each: what workers send back, with no
    object per hash until one is asked for."""

    def __init__(self, data: bytes):
        self.data = data

    def __len__(self) -> int:
        return len(self.data) // 32

    def __getitem__(self, at):
        if isinstance(at, slice):
            start, stop, step = at.indices(len(self))
            return [self.data[i * 32 : i * 32 + 32] for i in range(start, stop, step)]
        if at < 0:
            at += len(self)
        if not 0 <= at < len(self):
            raise IndexError(at)
        return self.data[at * 32 : at * 32 + 32]


def _hash_lines(handle, limit: int | None) -> list[bytes]:
    """SHA-256(0x00 ‖ line) of each line read from `handle` (at most `limit` bytes).

    Read a block at a time: each block is cut at its last newline, every newline becomes
    newline + 0x00 and one split gives what each leaf hash hashes, 0x00 ‖ entry: C-level
    passes over a block that stays in the CPU cache, one allocation per entry. A last line
    with no newline is kept (the count or the root then says the export is cut short).
    """
    hashes, carry = [], b""
    extend, digest, sha256 = hashes.extend, _digest, _sha256
    while True:
        size = BLOCK if limit is None else min(BLOCK, limit)
        chunk = handle.read(size) if size else b""
        if not chunk:
            break
        if limit is not None:
            limit -= len(chunk)
        block = carry + chunk if carry else chunk
        cut = block.rfind(b"\n")
        if cut < 0:
            carry = block
            continue
        carry = block[cut + 1 :]
        parts = block[:cut].replace(b"\n", b"\n\x00").split(b"\n")
        parts[0] = b"\x00" + parts[0]
        extend(map(digest, map(sha256, parts)))
    if carry:
        hashes.append(sha256(b"\x00" + carry).digest())
    return hashes


def _skip_lines(handle, lines: int) -> int:
    """The offset after the first `lines` lines from where `handle` is (its end if fewer)."""
    offset = handle.tell()
    while block := handle.read(BLOCK):
        count = block.count(b"\n")
        if count >= lines:
            return _line_offset(handle, [(offset, 0, count)], lines)
        lines -= count
        offset += len(block)
    return offset


def _line_offset(handle, blocks: list[tuple[int, int, int]], line: int) -> int:
    """Where line number `line` (0-based; > 0) starts: just after newline number `line`."""
    for offset, before, count in blocks:
        if before < line <= before + count:
            handle.seek(offset)
            block, position = handle.read(BLOCK), -1
            for _ in range(line - before):
                position = block.index(b"\n", position + 1)
            return offset + position + 1
    raise ValueError(f"no line {line}")


def _hash_run(task) -> tuple[bytes, list[bytes]]:
    """In a worker: the leaf hashes (joined) of one run of lines and its chunks' roots."""
    path, start, end, chunk = task
    with open(path, "rb") as handle:
        handle.seek(start)
        hashes = _hash_lines(handle, None if end is None else end - start)
    return b"".join(hashes), _chunk_roots(hashes, chunk)


def _hash_bytes(hashes: Sequence[bytes], first: int, last: int) -> bytes:
    """The leaf hashes of entries [first, last) as one bytes object (to send to a worker)."""
    if isinstance(hashes, Packed):
        return hashes.data[first * 32 : last * 32]
    return b"".join(hashes[first:last])


def _content_run(task) -> tuple[str | None, int, int]:
    """In a worker: _content_problem over one run of lines; (problem, checked, last)."""
    path, begin, end, first, log, hashes = task
    packed = Packed(hashes)
    with open(path, "rb") as handle:
        handle.seek(begin)
        problem, checked = _content_problem(log, _lines_to(handle, end), packed, first, first)
    return problem, checked, first + len(packed)


def _lines_to(handle, end: int | None):
    """The lines from where `handle` is to offset `end` (a line's start; None: the end of
    the file), without their newline; read a buffer at a time, not all at once."""
    at = handle.tell()
    for line in handle:
        if end is not None and at >= end:
            return
        at += len(line)
        yield line[:-1] if line.endswith(b"\n") else line


def _chunk_roots(hashes: Sequence[bytes], chunk: int) -> list[bytes]:
    """The root of each run of `chunk` leaf hashes (a power of two; the last may be short)."""
    return [tree_root(hashes[i : i + chunk]) for i in range(0, len(hashes), chunk)]


def prefix_root(hashes: Sequence[bytes], size: int, roots=None, chunk: int = CHUNK) -> bytes:
    """MTH of the first `size` leaves. With `roots` (of each run of `chunk` leaves, as
    hashes_and_chunk_roots gives them), the whole chunks below `size` are their roots (each
    a perfect subtree, so pairing level by level gives the same tree) and only the leaves
    after them are hashed again."""
    whole = size // chunk if roots is not None else 0
    if not whole:
        return tree_root(hashes[:size])
    tail = hashes[whole * chunk : size]
    return tree_root([*roots[:whole], *([tree_root(tail)] if size % chunk else [])])


def _pool(workers: int):
    """Worker processes: forked where the system can, else started afresh."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return concurrent.futures.ProcessPoolExecutor(workers, mp_context=context)


def read_export(path: str):
    """An export file: a dict (the JSON format) or a LinesExport (the lines format)."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline()
            try:
                header = json.loads(first)
            except ValueError:
                header = None  # the JSON format over several lines
            if isinstance(header, dict) and header.get("format") == LINES:
                return LinesExport(path, header, len(first))
            rest = handle.read()
    except OSError as exc:
        raise Unreadable(f"cannot read {path}: {exc}") from None
    if isinstance(header, dict) and not rest.strip():
        return header  # the JSON format on one line, as --save writes it
    try:
        return json.loads(first + rest)
    except ValueError as exc:
        raise Unreadable(f"cannot read {path}: {exc}") from None


def lines_export(export: dict) -> bytes | None:
    """The export in the lines format, or None when an entry cannot be one line of it."""
    header = {"format": LINES, **{k: export.get(k) for k in ("log", "keys", "tree_head")}}
    out = [json.dumps(header, ensure_ascii=False, sort_keys=True).encode()]
    for item in export.get("entries") or []:
        try:
            leaf = base64.b64decode(item["leaf"], validate=True)
        except (KeyError, TypeError, ValueError):
            return None
        if b"\n" in leaf:
            return None
        out.append(leaf)
    out.append(b"")
    return b"\n".join(out)


def _fetch(base: str, token: str, path: str, accept: str, **query) -> tuple[bytes, str]:
    """The body of GET /api/v1{path} and its media type (no parameters)."""
    url = f"{base.rstrip('/')}/api/v1{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    request = urllib.request.Request(
        url, headers={"Authorization": f"Token {token}", "Accept": accept}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        raise Unreadable(f"GET {url}: HTTP {exc.code} {exc.read(300)!r}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise Unreadable(f"GET {url}: {exc}") from None


def _get(base: str, token: str, path: str, **query) -> dict:
    body, _ = _fetch(base, token, path, "application/json", **query)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise Unreadable(f"GET {path}: {exc}") from None


def _keys_and_head(base: str, token: str, log: str) -> tuple[list, dict]:
    quoted = urllib.parse.quote(log, safe="")
    keys = _get(base, token, "/audit/keys").get("keys", [])
    head = _get(base, token, f"/audit/logs/{quoted}/tree-head")
    if type(head.get("size")) is not int:
        raise Unreadable(f"log {log}: tree head has no size: {head!r}")
    return keys, head


def fetch_lines(base: str, token: str, log: str, path: str) -> LinesExport | None:
    """Keys, the latest tree head and its entries as a lines export written to `path`
    (whole or not at all), the entries fetched in the lines format (Accept:
    application/jsonl, LINES_PAGE a call): no parse, base64 or re-encoding per entry on
    either side. None, writing nothing, when the site does not answer in that format (an
    older site) or a page holds other than one line per entry (an entry with a raw newline,
    or missing entries): the JSON format (fetch_export) then says which entry is wrong."""
    keys, head = _keys_and_head(base, token, log)
    quoted = urllib.parse.quote(log, safe="")
    header = {"format": LINES, "log": log, "keys": keys, "tree_head": head}
    first = json.dumps(header, ensure_ascii=False, sort_keys=True).encode() + b"\n"
    folder = os.path.dirname(os.path.abspath(path))
    try:
        out = tempfile.NamedTemporaryFile("wb", dir=folder, delete=False)  # noqa: SIM115
    except OSError as exc:
        raise Unreadable(f"cannot write {path}: {exc}") from None
    written = False
    try:
        with out:  # closed here; removed below unless it became `path`
            out.write(first)
            for start in range(0, head["size"], LINES_PAGE):
                end = min(start + LINES_PAGE, head["size"])
                body, kind = _fetch(
                    base, token, f"/audit/logs/{quoted}/entries", LINES_ACCEPT, start=start, end=end
                )
                if kind != LINES_TYPE:
                    _warn(f"{base} does not serve the lines format: fetching JSON (slower)")
                    return None
                if body.count(b"\n") != end - start or not body.endswith(b"\n"):
                    return None
                out.write(body)
        os.replace(out.name, path)
        written = True
    except OSError as exc:
        raise Unreadable(f"cannot write {path}: {exc}") from None
    finally:
        if not written:
            os.unlink(out.name)
    return LinesExport(path, header, len(first))


def fetch_export(base: str, token: str, log: str) -> dict:
    """Keys, the latest tree head and its entries, in pages of JSON, as an export document."""
    keys, head = _keys_and_head(base, token, log)
    quoted = urllib.parse.quote(log, safe="")
    size = head["size"]
    entries: list = []
    while len(entries) < size:
        start = len(entries)
        end = min(start + PAGE, size)
        page = _get(base, token, f"/audit/logs/{quoted}/entries", start=start, end=end)
        if not page.get("entries"):
            break  # fewer entries than the head claims: the size check reports it
        entries.extend(page["entries"])
    return {"log": log, "keys": keys, "tree_head": head, "entries": entries}


def _public_key(what: str, text) -> bytes:
    """The raw 32 bytes of a base64 Ed25519 public key, refused unless they are one."""
    try:
        raw = base64.b64decode(text, validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except (TypeError, ValueError) as exc:
        raise Unreadable(f"{what}: not a base64 Ed25519 public key ({exc})") from None
    return raw


def _named_keys(pairs: list[str], what: str) -> dict[str, bytes]:
    """'name:base64' arguments → {name: raw public key}."""
    keys = {}
    for pair in pairs:
        name, _, text = pair.rpartition(":")
        if not name:
            raise Unreadable(f"{what} {pair!r}: want NAME:BASE64")
        keys[name] = _public_key(f"{what} {name}", text)
    return keys


def _listed_keys(listed, what: str) -> dict[str, bytes]:
    """[{key_id, algorithm, public_key}] (or {"keys": [...]}) → {key_id: raw key}, Ed25519 only."""
    if isinstance(listed, dict):
        listed = listed.get("keys")
    if not isinstance(listed, list):
        raise Unreadable(f"{what}: want a list of keys")
    return {
        item["key_id"]: _public_key(f"{what} {item['key_id']}", item.get("public_key"))
        for item in listed
        if isinstance(item, dict) and item.get("algorithm") == "ed25519" and "key_id" in item
    }


# --- checks -------------------------------------------------------------------------------


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def _canonical(value) -> bytes | None:
    try:
        return _ENCODER.encode(value).encode()
    except (TypeError, ValueError):  # not JSON, or a lone surrogate that is not UTF-8
        return None


def _what_is_wrong(raw: bytes) -> str:
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except ValueError:
        return "leaf is not UTF-8 JSON"
    if _canonical(parsed) != raw:
        return "leaf is not canonical JSON (sorted keys, no whitespace, UTF-8)"
    return "the entry shown is not what the leaf bytes say"


def check_entries(log: str, entries) -> list[bytes]:
    """Each entry's leaf bytes, once shown at its index, canonical, and equal to its entry.

    canonical(entry) == leaf bytes proves both at once (a canonical encoding re-encodes to
    itself), so the loop parses nothing; _what_is_wrong says which one failed.
    """
    if not isinstance(entries, list):
        raise Failed(f"log {log}: entries are not a list")
    b64decode, canonical, leaves = base64.b64decode, _canonical, []
    for position, item in enumerate(entries):
        index = item.get("index") if isinstance(item, dict) else None
        if type(index) is not int or index != position:
            raise Failed(
                f"log {log}: entry {position}: index is {index!r}, expected {position} "
                "(an entry is missing, inserted or out of order)"
            )
        try:
            raw = b64decode(item["leaf"], validate=True)
        except (KeyError, TypeError, ValueError):
            raise Failed(f"log {log}: entry {position}: leaf is not base64") from None
        if canonical(item.get("entry", _ABSENT)) != raw:
            raise Failed(f"log {log}: entry {position}: {_what_is_wrong(raw)}")
        leaves.append(raw)
    return leaves


def check_head(log: str, head) -> None:
    """The head names this log and has every field its message needs, one line each."""
    if not isinstance(head, dict):
        raise Failed(f"log {log}: no tree head")
    if head.get("log") != log:
        raise Failed(f"log {log}: the tree head is for log {head.get('log')!r}")
    size, root = head.get("size"), head.get("root_hash")
    if type(size) is not int or size < 0:
        raise Failed(f"log {log}: tree head size {size!r} is not a count")
    if not isinstance(root, str) or not re.fullmatch(r"[0-9a-f]{64}", root):
        raise Failed(f"log {log}: tree head root_hash {root!r} is not 64 lowercase hex digits")
    for field in ("log", "timestamp", "key_id", "signature"):
        value = head.get(field)
        if not isinstance(value, str) or not value or "\n" in value:
            raise Failed(f"log {log}: tree head {field} {value!r} is not one line of text")


def _signature_holds(key: bytes, signature, message: bytes) -> bool:
    try:
        public_key = Ed25519PublicKey.from_public_bytes(key)
        public_key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True


def check_signature(log: str, head: dict, keys: dict[str, bytes], source: str) -> None:
    key = keys.get(head["key_id"])
    if key is None:
        raise Failed(
            f"log {log}: tree head is signed by key {head['key_id']!r}, not one of {source}"
        )
    message = head_message("ipp-site tree head v1", head)
    if not _signature_holds(key, head["signature"], message):
        raise Failed(f"log {log}: tree head signature does not verify with key {head['key_id']!r}")


def check_cosignatures(log: str, head: dict, witnesses: dict, required: list[str]) -> list[str]:
    """Names of the witnesses whose cosignature verifies; a known witness's bad one fails."""
    message, cosigners = head_message("ipp-site cosignature v1", head), []
    for cosignature in head.get("cosignatures") or []:
        name = cosignature.get("witness") if isinstance(cosignature, dict) else None
        if name not in witnesses:
            _warn(f"log {log}: cosignature by unknown witness {name!r} not checked")
        elif not _signature_holds(witnesses[name], cosignature.get("signature"), message):
            raise Failed(f"log {log}: cosignature by witness {name!r} does not verify")
        else:
            cosigners.append(name)
    for name in required:
        if name not in cosigners:
            raise Failed(f"log {log}: no valid cosignature by required witness {name!r}")
    return cosigners


def check_against_previous(
    log: str, head: dict, hashes: Sequence[bytes], previous, roots=None
) -> None:
    """No rollback, and the previously verified head is the start of this one (`roots`: the
    chunk roots of hashes_and_chunk_roots, when there are)."""
    if previous is None:
        return
    size = previous.get("size")
    if type(size) is not int or size < 0:
        raise Unreadable(f"log {log}: saved head has no size: {previous!r}")
    if head["size"] < size:
        raise Failed(
            f"log {log}: rollback: head size {head['size']} is smaller than the "
            f"previously verified size {size}"
        )
    again = prefix_root(hashes, size, roots).hex()
    if again != previous.get("root_hash"):
        raise Failed(
            f"log {log}: not consistent with the previously verified head of size {size}: "
            f"its first {size} entries now give root {again}, not {previous.get('root_hash')}"
        )


def _authority_keys(log: str, sent, pinned: dict) -> tuple[dict, str]:
    """The pinned keys when there are any (a key cannot vouch for itself), else the site's."""
    if not pinned:
        _warn(
            f"log {log}: checking with the keys the site sent; pin them with --keys or --authority-key"
        )
        return _listed_keys(sent, "site key"), "the site's keys"
    try:
        for kid, key in _listed_keys(sent, "site key").items():
            if kid in pinned and key != pinned[kid]:
                _warn(f"log {log}: the site's key {kid!r} differs from the pinned one")
    except Unreadable as exc:
        _warn(f"log {log}: ignoring the site's keys: {exc}")
    return pinned, "the pinned keys"


def check_lines(log: str, entries, hashes: Sequence[bytes], start: int = 0) -> None:
    """The content pass of a lines export: each entry canonical JSON, at its own index, in
    this log, and still the bytes the tree pass hashed (`hashes`: the file did not change in
    between). `entries` are those from index `start` on (the caller knows the ones before
    verified already).
    Decodes every entry (a JSON parse and re-encoding each, ~10 µs in CPython: parsing one
    big array or re-encoding a block at once measured no faster), so it runs apart from the
    tree pass, and first when that fails, to name the first entry out of place; with
    several jobs a whole export's is spread over processes (LinesExport.check_content)."""
    problem, checked = _content_problem(log, entries, hashes, start)
    if problem is None and checked < len(hashes):  # the file lost entries since
        problem = f"entry {checked}: the export changed while it was read"
    if problem is not None:
        raise Failed(f"log {log}: {problem}")


def _content_problem(log: str, entries, hashes: Sequence[bytes], start: int, base: int = 0):
    """(what is wrong with the first bad one of `entries`, numbered from `start`, or None;
    the number after the last entry read). `hashes[p - base]` is what the tree pass hashed
    for entry p, for p up to base + len(hashes)."""
    canonical, sha256 = _canonical, _sha256
    end = base + len(hashes)
    checked = start
    for position, raw in enumerate(entries, start):
        if position >= end or sha256(b"\x00" + raw).digest() != hashes[position - base]:
            return f"entry {position}: the export changed while it was read", position
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except ValueError:
            return f"entry {position}: leaf is not UTF-8 JSON", position
        if canonical(parsed) != raw:
            return (
                f"entry {position}: leaf is not canonical JSON (sorted keys, no whitespace, UTF-8)",
                position,
            )
        said = parsed.get("index") if isinstance(parsed, dict) else None
        if type(said) is not int or said != position:
            return (
                f"entry {position}: says index {said!r}, expected {position} "
                "(an entry is missing, inserted or out of order)",
                position,
            )
        if parsed.get("log") != log:
            return f"entry {position}: says log {parsed.get('log')!r}", position
        checked = position + 1
    return None, checked


def verify(
    export,
    *,
    pinned: dict,
    witnesses: dict,
    required: list[str],
    previous=None,
    content=True,
    jobs: int = 1,
) -> str:
    """Every check, in the order that names the first real problem; returns the ok line.

    A LinesExport is checked in two passes: the tree (count, leaf hashes, root, signatures)
    and then, unless `content` is false, the content of each entry after the `previous`
    head's (check_lines); the JSON format
    checks each entry as it reads it. With `jobs` > 1 a big lines export is hashed in that
    many processes.
    """
    lines = export if isinstance(export, LinesExport) else None
    if (lines is None and not isinstance(export, dict)) or not isinstance(export.get("log"), str):
        raise Unreadable("not an export: want a JSON object with log, keys, tree_head, entries")
    log, head = export["log"], export.get("tree_head")
    check_head(log, head)
    keys, source = _authority_keys(log, export.get("keys") or [], pinned)
    check_signature(log, head, keys, source)
    cosigners = check_cosignatures(log, head, witnesses, required)
    if lines is None:
        hashes = leaf_hashes(check_entries(log, export.get("entries")))
        roots, root = None, None
    else:
        hashes, roots = lines.hashes_and_chunk_roots(jobs)
        root = tree_root(roots)
    if len(hashes) != head["size"]:
        if lines is not None:
            check_lines(log, lines.entries(), hashes)  # names the first entry out of place
        raise Failed(
            f"log {log}: the tree head counts {head['size']} entries, the log holds {len(hashes)}"
        )
    root = (tree_root(hashes) if root is None else root).hex()
    if root != head["root_hash"]:
        if lines is not None:
            check_lines(log, lines.entries(), hashes)
        raise Failed(
            f"log {log}: the entries give root {root}, the signed head says {head['root_hash']}"
        )
    check_against_previous(log, head, hashes, previous, roots)
    if lines is not None and content:
        # The entries of the head verified before are those checked then (the root of the
        # first previous["size"] entries is that head's): only the ones after it are read.
        verified = previous["size"] if previous else 0
        lines.check_content(log, hashes, verified, jobs)
    return (
        f"ok: {len(hashes)} entries in log {log}, root {root}, signed by {head['key_id']}, "
        f"cosigned by {', '.join(cosigners) or 'none'}"
    )


# --- command line -------------------------------------------------------------------------


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--export", metavar="FILE", help="read the log from an export file")
    source.add_argument("--url", help="fetch the log from this site, e.g. https://ipp.example")
    parser.add_argument(
        "--token", default=os.environ.get("IPP_TOKEN"), help="API token (or IPP_TOKEN)"
    )
    parser.add_argument("--log", help="log id: an infrastructure's id, or 'site'")
    parser.add_argument(
        "--save", metavar="FILE", help="with --url: keep what was fetched as an export"
    )
    parser.add_argument("--keys", metavar="FILE", help="pinned authority keys, as GET /audit/keys")
    parser.add_argument("--authority-key", action="append", default=[], metavar="KID:BASE64")
    parser.add_argument("--witness", action="append", default=[], metavar="NAME:BASE64")
    parser.add_argument("--require-witness", action="append", default=[], metavar="NAME")
    parser.add_argument("--state", metavar="FILE", help="last verified heads: no rollback or fork")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="hash a big lines export in N processes (default: the machine's cores)",
    )
    args = parser.parse_args(argv)
    if args.url and not (args.token and args.log):
        parser.error("--url needs --token (or IPP_TOKEN) and --log")
    if args.save and not args.url:
        parser.error("--save goes with --url")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    unknown = set(args.require_witness) - {w.rpartition(":")[0] for w in args.witness}
    if unknown:
        parser.error(f"--require-witness {', '.join(sorted(unknown))} needs its --witness NAME:KEY")
    return args


def _load_export(args, scratch: str):
    """The export to check: read from --export, or fetched from --url: in the lines format
    (into --save when its name ends in .jsonl, else into `scratch`) unless --save asks for
    the JSON format or the site cannot send lines."""
    if not args.url:
        export = read_export(args.export)
        if args.log and isinstance(export, dict) and export.get("log") != args.log:
            raise Failed(f"log {args.log}: the export holds log {export.get('log')!r}")
        return export
    if not args.url.startswith("https://"):
        _warn(f"{args.url} is not https: the token and the log travel in clear")
    if not args.save or args.save.endswith(".jsonl"):
        path = args.save or os.path.join(scratch, "log.jsonl")
        lines = fetch_lines(args.url, args.token, args.log, path)
        if lines is not None:  # kept (--save) before checking: a log that fails is evidence
            return lines
    export = fetch_export(args.url, args.token, args.log)
    if args.save:  # kept before checking: a log that fails is evidence
        lines = lines_export(export) if args.save.endswith(".jsonl") else None
        if args.save.endswith(".jsonl") and lines is None:
            _warn(f"an entry cannot be one line: {args.save} is written in the JSON format")
        if lines is None:
            _write_json(args.save, export)
        else:
            _write_bytes(args.save, lines)
    return export


def main(argv=None) -> int:
    args = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="ipp-verify-") as scratch:
        return _main(args, scratch)


def _main(args, scratch: str) -> int:
    try:
        pinned = _named_keys(args.authority_key, "authority key")
        if args.keys:
            pinned |= _listed_keys(_read_json(args.keys), args.keys)
        witnesses = _named_keys(args.witness, "witness")
        export = _load_export(args, scratch)
        state = _read_json(args.state) if args.state and os.path.exists(args.state) else {}
        if not isinstance(state, dict):
            raise Unreadable(f"{args.state}: want a JSON object {{log: tree head}}")
        log = export.get("log") if isinstance(export, dict | LinesExport) else None
        if args.state and isinstance(log, str) and log not in state:
            _warn(f"log {log}: no earlier head in {args.state}; this one is trusted from now on")
        ok = verify(
            export,
            pinned=pinned,
            witnesses=witnesses,
            required=args.require_witness,
            previous=state.get(log) if isinstance(log, str) else None,
            jobs=args.jobs,
        )
        if args.state:
            _write_json(args.state, {**state, log: export["tree_head"]})
    except Failed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except Unreadable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(ok)
    return 0


if __name__ == "__main__":
    sys.exit(main())
