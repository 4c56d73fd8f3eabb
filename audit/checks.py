"""The checks of one log, as verify_audit runs them. Each returns Findings; none writes.

- `tree_pass`: stream the entry bytes in index order, hash them (audit.streaming), and hold
  the result to every stored tree head of the log, to the log row, to the latest head's
  authority signature and to every cosignature. This is the fast pass: one read of the
  bytes, C-level hashing, no decoding.
- `column_pass`: decode each entry and hold the columns beside the bytes (what pages show
  and filter on, and the leaf hash proofs are built from) to what the bytes say. A separate,
  slower pass (JSON decoding is ~10x the cost of hashing).

A Finding names the log and, when entries are at fault, the first index that is not vouched
for: the smallest index whose entry is missing, changed or out of place, or the size of the
last head that still matches when the entries behind a head changed.
"""

import base64
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db.models import Max

from audit import merkle, reading
from audit.entries import COLUMNS, columns_of
from audit.models import AuditEntry, AuditLog, Cosignature, TreeHead
from audit.streaming import CHUNK, PrefixRoots
from audit.summaries import chunk_summaries, in_workers, parallel
from core import keys


@dataclass(frozen=True)
class Finding:
    log: str
    index: int | None  # first bad index; None when no entry is at fault (a cosignature)
    problem: str

    def __str__(self) -> str:
        where = f"first bad index {self.index}: " if self.index is not None else ""
        return f"log {self.log}: {where}{self.problem}"


@dataclass(frozen=True)
class Head:
    size: int
    root: bytes
    timestamp: str
    key_id: str
    signature: str


@dataclass(frozen=True)
class Cosigned:
    size: int
    witness: str
    public_key: bytes
    signature: str


@dataclass
class LogState:
    """What the database says about a log besides its entries, read before them."""

    log: str
    size: int
    root: bytes
    border: bytes
    heads: dict[int, Head]  # size -> head, for sizes up to `size`
    cosigned: list[Cosigned]  # on heads up to `size`


def read_state(log_id: str) -> LogState:
    log = AuditLog.objects.values_list("size", "root", "border").get(id=log_id)
    size = log[0]
    heads = {
        row[0]: Head(row[0], bytes(row[1]), *row[2:])
        for row in TreeHead.objects.filter(log_id=log_id, size__lte=size).values_list(
            "size", "root", "timestamp", "key_id", "signature"
        )
    }
    cosigned = [
        Cosigned(row[0], row[1], bytes(row[2]), row[3])
        for row in Cosignature.objects.filter(head__log_id=log_id, head__size__lte=size)
        .order_by("head__size", "witness__name")
        .values_list("head__size", "witness__name", "witness__public_key", "signature")
    ]
    return LogState(log_id, size, bytes(log[1]), bytes(log[2]), heads, cosigned)


# --- the tree pass --------------------------------------------------------------------


def _first_missing(log_id: str, start: int, end: int) -> int:
    present = AuditEntry.objects.filter(log_id=log_id, index__gte=start, index__lt=end)
    for expected, index in enumerate(present.order_by("index").values_list("index", flat=True)):
        if index != start + expected:
            return start + expected
    return start + present.count()


def tree_pass(state: LogState, chunk: int = CHUNK, jobs: int = 1) -> list[Finding]:
    """Entries against every stored head, the log row, the latest signature, cosignatures.

    With `jobs` > 1 the chunks are read and hashed by that many processes where that is
    safe (audit.summaries); the findings are the same.
    """
    log, size = state.log, state.size
    tree = PrefixRoots(chunk)
    sizes = sorted(state.heads)
    wanted: dict[int, list[int]] = {}
    for head_size in sizes:  # each head's size, within the chunk that ends it
        if head_size:
            k = (head_size - 1) // chunk
            wanted.setdefault(k, []).append(head_size - k * chunk)
    next_head, good = 0, 0  # good: size of the last head whose root the entries give
    missing = None
    summaries = chunk_summaries(log, size, chunk, wanted, jobs)
    try:
        for start, summary in zip(range(0, size, chunk), summaries, strict=True):
            if summary[0] != min(start + chunk, size) - start:
                missing = start
                break
            tree.add_summary(*summary)
            while next_head < len(sizes) and sizes[next_head] <= tree.size:
                head = state.heads[sizes[next_head]]
                if tree.root(head.size) != head.root:
                    return [
                        Finding(
                            log,
                            good,
                            f"the entries before index {head.size} do not give the root of the "
                            f"signed head at size {head.size} (changed, inserted or reordered)",
                        )
                    ]
                good, next_head = head.size, next_head + 1
    finally:
        summaries.close()  # no read left running before the queries below
    if missing is not None:
        index = _first_missing(log, missing, min(missing + chunk, size))
        return [Finding(log, index, f"entry {index} is missing (the log's size is {size})")]
    while next_head < len(sizes) and sizes[next_head] == 0:  # the empty log's head
        head = state.heads[0]
        if head.root != merkle.EMPTY_ROOT:
            return [Finding(log, 0, "the signed head at size 0 is not the empty tree's root")]
        next_head += 1
    findings = _log_row(state, tree)
    findings += _latest_signature(state)
    findings += _cosignatures(state)
    return findings


def _log_row(state: LogState, tree: PrefixRoots) -> list[Finding]:
    if tree.root(state.size) == state.root and (
        merkle.border_to_bytes(tree.border()) == state.border
    ):
        return []
    return [
        Finding(
            state.log,
            state.size,
            "the log row's root or border disagrees with its entries: the next append "
            "would be signed over another tree",
        )
    ]


def _signature_problem(ring, head: Head, log: str) -> str | None:
    """None when the head verifies with a live authority key, else what is wrong."""
    message = merkle.tree_head_message(log, head.size, head.root, head.timestamp)
    if ring.verify(head.key_id, message, head.signature):
        return None
    if head.key_id in ring.retired:
        return f"is signed by retired key {head.key_id}"
    if head.key_id not in ring.key_ids:
        return f"is signed by unknown key {head.key_id}"
    return f"has a signature by key {head.key_id} that does not verify"


def _latest_signature(state: LogState) -> list[Finding]:
    """The head at the log's size must exist and verify with a live authority key.

    When it does not, the entries are vouched for up to the newest head that does.
    """
    if state.size == 0:
        return []
    ring = keys.authority()
    latest = state.heads.get(state.size)
    problem = "is missing" if latest is None else _signature_problem(ring, latest, state.log)
    if problem is None:
        return []
    earlier = (size for size in sorted(state.heads, reverse=True) if size < state.size)
    good = next(
        (s for s in earlier if _signature_problem(ring, state.heads[s], state.log) is None), 0
    )
    return [Finding(state.log, good, f"the signed head at the log's size {state.size} {problem}")]


def _witness_signature_holds(cosigned: Cosigned, message: bytes) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(cosigned.public_key)
        key.verify(base64.b64decode(cosigned.signature, validate=True), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _cosignatures(state: LogState) -> list[Finding]:
    """Each cosignature verifies over its head (whose root the tree pass already matched)."""
    findings = []
    for cosigned in state.cosigned:
        head = state.heads.get(cosigned.size)
        if head is None:
            continue  # cannot happen: a cosignature's head is a foreign key
        message = merkle.cosignature_message(state.log, head.size, head.root, head.timestamp)
        if not _witness_signature_holds(cosigned, message):
            findings.append(
                Finding(
                    state.log,
                    None,
                    f"the cosignature by witness {cosigned.witness!r} on the head at size "
                    f"{head.size} does not verify",
                )
            )
    return findings


def beyond_the_log(log_id: str) -> list[Finding]:
    """Heads or entries past the log's size: a truncated log, or entries slipped in after.

    Read after the tree pass: anything a concurrent append committed is covered by the size
    read last, so only what no append explains is reported.
    """
    head = TreeHead.objects.filter(log_id=log_id).aggregate(m=Max("size"))["m"] or 0
    cosigned = (
        Cosignature.objects.filter(head__log_id=log_id).aggregate(m=Max("head__size"))["m"] or 0
    )
    entry = AuditEntry.objects.filter(log_id=log_id).aggregate(m=Max("index"))["m"]
    size = AuditLog.objects.values_list("size", flat=True).get(id=log_id)
    if cosigned > size:
        return [
            Finding(
                log_id,
                size,
                f"the log holds {size} entries but a witness cosigned its head at size "
                f"{cosigned}: entries from index {size} on were removed (rolled back)",
            )
        ]
    if head > size:
        return [
            Finding(
                log_id,
                size,
                f"the log holds {size} entries but a head was signed at size {head}: "
                f"entries from index {size} on were removed",
            )
        ]
    if entry is not None and entry >= size:
        return [Finding(log_id, size, f"entries past the log's signed size {size}")]
    return []


# --- the column pass ------------------------------------------------------------------


def _column_problem(row: tuple) -> str | None:
    """None when the row's columns say what its bytes say, else which ones do not.

    The bytes themselves are vouched for by the tree pass; here they are only decoded.
    """
    leaf, leaf_hash, details, *columns = row
    leaf = bytes(leaf)
    try:
        document = json.loads(leaf)
        said = columns_of(document)
    except (ValueError, KeyError, TypeError, AttributeError):
        return "its bytes are not an entry (JSON with the fields of SPEC §6)"
    if said == tuple(columns) and details == document["details"]:
        if bytes(leaf_hash) == merkle.leaf_hash(leaf):
            return None
    differ = [name for name, have, want in zip(COLUMNS, columns, said, strict=True) if have != want]
    if details != document["details"]:
        differ.append("details")
    if bytes(leaf_hash) != merkle.leaf_hash(leaf):
        differ.append("leaf_hash")
    return f"column(s) {', '.join(differ)} disagree with the entry's bytes"


def column_pass(log_id: str, size: int, chunk: int = CHUNK, jobs: int = 1) -> list[Finding]:
    """Every row's columns against its bytes, in index order; the first disagreement.

    With `jobs` > 1, runs of chunks are checked by that many processes where that is safe
    (audit.summaries): decoding JSON holds the GIL, as hashing does.
    """
    if not parallel(size, chunk, jobs):
        return columns_of_run(log_id, 0, size, chunk, None)
    for findings in in_workers(columns_of_run, log_id, size, chunk, jobs, None):
        if findings:
            return findings
    return []


def columns_of_run(log_id: str, first: int, end: int, chunk: int, _extra) -> list[Finding]:
    """The first disagreement between columns and bytes among the entries [first, end)."""
    for start in range(first, end, chunk):
        for row in reading.entry_rows(log_id, start, min(start + chunk, end)):
            problem = _column_problem(row)
            if problem:
                index = row[3]
                return [Finding(log_id, index, f"entry {index}: {problem}")]
    return []
