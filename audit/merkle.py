"""The Merkle tree of RFC 9162 §2.1, its proofs, and the messages a tree head's signatures cover.

Pure functions over bytes, standard library only, so that the site, the witness and anyone
checking a log can read them in one go. Verification follows transparency-dev/merkle's
proof/verify.go: each function is one step, states what it requires, and raises a
`ProofError` subclass that names what did not match. Tested against that project's
published vectors (tests/audit/vectors/).

    leaf hash  = SHA-256(0x00 ‖ entry bytes)
    node hash  = SHA-256(0x01 ‖ left ‖ right)
    empty tree = SHA-256()

A log of n entries has the root MTH(D[0:n]); MTH splits at k, the largest power of two
smaller than n. The "border" of a tree is its perfect subtrees from left to right, one per
set bit of n: enough to append in O(log n) and to compute the root, so it can be stored
beside the signed head instead of recomputing the tree on every append.
"""

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
_LEAF = b"\x00"
_NODE = b"\x01"


class ProofError(ValueError):
    """A proof, or what it is checked against, does not hold."""


class BadIndex(ProofError):
    """An index or tree size outside what the step requires (e.g. index >= size)."""


class WrongHashSize(ProofError):
    """A hash that is not HASH_SIZE bytes long."""

    def __init__(self, what: str, got: int):
        super().__init__(f"{what} is {got} bytes, want {HASH_SIZE}")
        self.what, self.got = what, got


class WrongProofSize(ProofError):
    """A proof with more or fewer hashes than the tree sizes call for."""

    def __init__(self, got: int, want: int):
        super().__init__(f"wrong proof size {got}, want {want}")
        self.got, self.want = got, want


class RootMismatch(ProofError):
    """The root a proof leads to is not the root it was checked against."""

    def __init__(self, which: str, calculated: bytes, expected: bytes):
        super().__init__(
            f"calculated {which} {calculated.hex()} does not match expected {expected.hex()}"
        )
        self.which, self.calculated, self.expected = which, calculated, expected


class BadBorder(ValueError):
    """A stored border that cannot belong to a tree of the given size."""


# --- hashing (§2.1.1) -------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 ‖ entry): the hash of one log entry."""
    return _sha256(_LEAF + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right): the hash of an interior node."""
    return _sha256(_NODE + left + right).digest()


def leaf_hashes_of(entries: Iterable[bytes]) -> list[bytes]:
    """The leaf hash of every entry, in order: the fast path for checking a whole log.

    One concatenation, one hash and one digest per entry in a list comprehension, with
    literal prefixes (constants, not global lookups): about the speed of hashing each entry
    alone. root_from_leaf_hashes then adds one 65-byte hash per entry.
    """
    sha256 = _sha256
    return [sha256(b"\x00" + entry).digest() for entry in entries]


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[0:n]) given the n leaf hashes, in O(n) hashes.

    Pairs each level left to right and carries an odd last node up unchanged, which builds
    exactly the tree of §2.1.1 (its left subtrees are always perfect).
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    sha256 = _sha256
    level = leaf_hashes
    while len(level) > 1:
        pairs = iter(level)  # zipped with itself: (0, 1), (2, 3), ...; an odd last one is left
        upper = [
            sha256(b"\x01" + left + right).digest()
            for left, right in zip(pairs, pairs, strict=False)
        ]
        if len(level) % 2:
            upper.append(level[-1])
        level = upper
    return level[0]


def subtree_hash(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]). Requires 0 <= start <= end <= len(leaf_hashes)."""
    if not 0 <= start <= end <= len(leaf_hashes):
        raise BadIndex(f"subtree [{start}, {end}) is not within {len(leaf_hashes)} leaves")
    return root_from_leaf_hashes(leaf_hashes[start:end])


def _split(n: int) -> int:
    """k of §2.1.1: the largest power of two smaller than n. Requires n > 1."""
    return 1 << ((n - 1).bit_length() - 1)


# --- the border: O(log n) appends -----------------------------------------------------


def _check_border(border: Sequence[bytes], size: int) -> None:
    if size < 0:
        raise BadBorder(f"tree size {size} is negative")
    if len(border) != size.bit_count():
        raise BadBorder(
            f"a tree of {size} leaves has {size.bit_count()} border hashes, got {len(border)}"
        )


def border_append(border: Sequence[bytes], size: int, leaf: bytes) -> list[bytes]:
    """The border of the tree of size + 1 whose last leaf hash is `leaf`.

    Requires `border` to be the border of a tree of `size` leaves. Merges one pair per
    trailing one bit of size, as adding 1 carries.
    """
    _check_border(border, size)
    merged = list(border)
    node = leaf
    while size & 1:
        node = node_hash(merged.pop(), node)
        size >>= 1
    merged.append(node)
    return merged


def border_root(border: Sequence[bytes], size: int) -> bytes:
    """MTH of the tree whose border this is: the perfect subtrees folded right to left."""
    _check_border(border, size)
    if not border:
        return EMPTY_ROOT
    root = border[-1]
    for left in reversed(border[:-1]):
        root = node_hash(left, root)
    return root


def border_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The border of the tree of these leaves (to start storing borders for an existing log)."""
    border: list[bytes] = []
    for size, leaf in enumerate(leaf_hashes):
        border = border_append(border, size, leaf)
    return border


def border_to_bytes(border: Sequence[bytes]) -> bytes:
    """The border as stored: its hashes concatenated, left to right."""
    for position, node in enumerate(border):
        if len(node) != HASH_SIZE:
            raise BadBorder(f"border hash {position} is {len(node)} bytes, want {HASH_SIZE}")
    return b"".join(border)


def border_from_bytes(data: bytes, size: int) -> list[bytes]:
    """The border stored by border_to_bytes for a tree of `size` leaves."""
    if size < 0:
        raise BadBorder(f"tree size {size} is negative")
    want = HASH_SIZE * size.bit_count()
    if len(data) != want:
        raise BadBorder(f"a tree of {size} leaves stores {want} border bytes, got {len(data)}")
    return [bytes(data[i : i + HASH_SIZE]) for i in range(0, len(data), HASH_SIZE)]


# --- proofs (§2.1.3.1, §2.1.4.1) -------------------------------------------------------


def inclusion_proof(index: int, size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[0:size]) of §2.1.3.1, lowest level first.

    Requires 0 <= index < size <= len(leaf_hashes). Reads O(size) leaf hashes.
    """
    if not 0 <= index < size <= len(leaf_hashes):
        raise BadIndex(
            f"index {index} is not within a tree of size {size} of {len(leaf_hashes)} leaves"
        )
    path = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(subtree_hash(leaf_hashes, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(leaf_hashes, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(first: int, second: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(first, D[0:second]) of §2.1.4.1, lowest level first.

    Requires 0 < first <= second <= len(leaf_hashes); equal sizes have the empty proof.
    """
    if not 0 < first <= second <= len(leaf_hashes):
        raise BadIndex(
            f"no consistency proof from size {first} to {second} of {len(leaf_hashes)} leaves"
        )
    path = []
    start, end, m = 0, second, first  # SUBPROOF(m, D[start:end], b)
    whole = True  # b: D[start:end] still starts where the first tree starts
    while m < end - start:
        k = _split(end - start)
        if m <= k:
            path.append(subtree_hash(leaf_hashes, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(leaf_hashes, start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        path.append(subtree_hash(leaf_hashes, start, end))
    path.reverse()
    return path


# --- verification (§2.1.3.2, §2.1.4.2) -------------------------------------------------


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise WrongHashSize(what, len(value))


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for position, node in enumerate(proof):
        _check_hash(f"proof hash {position}", node)


def _decompose_inclusion(index: int, size: int) -> tuple[int, int]:
    """Lengths of the inner and border parts of an inclusion proof. Requires index < size.

    Inner: siblings below the level where the paths to `index` and `size - 1` split, left
    or right. Border: left siblings only, one per set bit of index above that level.
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner, (index >> inner).bit_count()


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    """Hash up from `seed` at `index` on its level, each proof hash on the side its bit says."""
    for level, sibling in enumerate(proof):
        if (index >> level) & 1:
            seed = node_hash(sibling, seed)
        else:
            seed = node_hash(seed, sibling)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    """Like _chain_inner but only through left siblings: the same subtree, earlier."""
    for level, sibling in enumerate(proof):
        if (index >> level) & 1:
            seed = node_hash(sibling, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    """Hash up the right border: every proof hash is a left sibling."""
    for sibling in proof:
        seed = node_hash(sibling, seed)
    return seed


def _verify_match(which: str, calculated: bytes, expected: bytes) -> None:
    if calculated != expected:
        raise RootMismatch(which, calculated, expected)


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root that `proof` gives for the leaf at `index` in a tree of `size`.

    Requires 0 <= index < size, a 32-byte leaf hash and exactly the proof length the
    sizes call for.
    """
    if not 0 <= index < size:
        raise BadIndex(f"index {index} is beyond tree size {size}")
    _check_hash("leaf hash", leaf_hash)
    inner, border = _decompose_inclusion(index, size)
    if len(proof) != inner + border:
        raise WrongProofSize(len(proof), inner + border)
    _check_proof_hashes(proof)
    node = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(node, proof[inner:])


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise a ProofError unless `proof` shows the leaf at `index` in the tree `root` of `size`."""
    _verify_match("root", root_from_inclusion_proof(index, size, leaf_hash, proof), root)


def root_from_consistency_proof(
    first: int, second: int, first_root: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root of the tree of `second` leaves that `proof` extends `first_root` to.

    Requires 0 < first <= second (a proof from the empty tree proves nothing: callers
    accept size 0 as consistent with anything without one). Also checks that the proof's
    hashes inside the first tree give `first_root`.
    """
    if first > second:
        raise BadIndex(f"first size {first} is beyond second size {second}")
    if first == 0:
        raise BadIndex("a consistency proof from the empty tree proves nothing")
    if first == second:
        if proof:
            raise WrongProofSize(len(proof), 0)
        return first_root
    if not proof:
        raise WrongProofSize(0, _consistency_proof_size(first, second))
    return _root_from_consistency_steps(first, second, first_root, proof)


def _consistency_proof_size(first: int, second: int) -> int:
    """Hashes in a proof from first to second. Requires 0 < first < second."""
    inner, border = _decompose_inclusion(first - 1, second)
    shift = (first & -first).bit_length() - 1  # height of the first tree's last perfect subtree
    seeded = 0 if first == 1 << shift else 1
    return seeded + inner - shift + border


def _root_from_consistency_steps(
    first: int, second: int, first_root: bytes, proof: Sequence[bytes]
) -> bytes:
    """§2.1.4.2 as verify.go splits it. Requires 0 < first < second and a non-empty proof."""
    want = _consistency_proof_size(first, second)
    if len(proof) != want:
        raise WrongProofSize(len(proof), want)
    _check_proof_hashes(proof)
    inner, border = _decompose_inclusion(first - 1, second)
    shift = (first & -first).bit_length() - 1
    inner -= shift
    # The proof starts from the first tree's last perfect subtree, unless the first tree is
    # perfect: then that subtree is the first tree itself, whose root the verifier knows.
    if first == 1 << shift:
        seed, rest = first_root, proof
    else:
        seed, rest = proof[0], proof[1:]
    mask = (first - 1) >> shift
    hash1 = _chain_inner_right(seed, rest[:inner], mask)
    hash1 = _chain_border_right(hash1, rest[inner:])
    _verify_match("first root", hash1, first_root)
    hash2 = _chain_inner(seed, rest[:inner], mask)
    return _chain_border_right(hash2, rest[inner:])


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise a ProofError unless `proof` shows the tree `first_root` of `first` leaves is the
    start of the tree `second_root` of `second` leaves."""
    calculated = root_from_consistency_proof(first, second, first_root, proof)
    _verify_match("second root", calculated, second_root)


# --- what the authority and the witnesses sign (SPEC §6) -------------------------------


def _head_lines(first_line: str, log: str, size: int, root: bytes, timestamp: str) -> bytes:
    if not log or "\n" in log:
        raise ValueError(f"log id {log!r} must be one non-empty line")
    if not timestamp or "\n" in timestamp:
        raise ValueError(f"timestamp {timestamp!r} must be one non-empty line")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"tree size {size!r} must be a non-negative integer")
    if len(root) != HASH_SIZE:
        raise WrongHashSize("root", len(root))
    return f"{first_line}\n{log}\n{size}\n{root.hex()}\n{timestamp}\n".encode()


def tree_head_message(log: str, size: int, root: bytes, timestamp: str) -> bytes:
    """The bytes the authority key signs for a tree head (timestamp: RFC 3339 as served)."""
    return _head_lines("ipp-site tree head v1", log, size, root, timestamp)


def cosignature_message(log: str, size: int, root: bytes, timestamp: str) -> bytes:
    """The bytes a witness signs for a tree head it checked."""
    return _head_lines("ipp-site cosignature v1", log, size, root, timestamp)
