"""audit.merkle against RFC 9162 §2.1 as written, and against transparency-dev/merkle's
published vectors (tests/audit/vectors/, see the note in each file for where they come from).
"""

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import merkle
from audit.merkle import (
    BadBorder,
    BadIndex,
    ProofError,
    RootMismatch,
    WrongHashSize,
    WrongProofSize,
)

VECTORS = Path(__file__).parent / "vectors"


def _load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


# --- the tree as RFC 9162 §2.1 writes it, independent of audit.merkle ------------------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(hashes: list[bytes]) -> bytes:
    """MTH(D[n]) of §2.1.1, over leaf hashes, recursively."""
    if not hashes:
        return _sha(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = _largest_power_of_two_below(len(hashes))
    return _sha(b"\x01" + _mth(hashes[:k]) + _mth(hashes[k:]))


def _path(m: int, hashes: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of §2.1.3.1, recursively."""
    if len(hashes) == 1:
        return []
    k = _largest_power_of_two_below(len(hashes))
    if m < k:
        return _path(m, hashes[:k]) + [_mth(hashes[k:])]
    return _path(m - k, hashes[k:]) + [_mth(hashes[:k])]


def _subproof(m: int, hashes: list[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of §2.1.4.1, recursively."""
    if m == len(hashes):
        return [] if whole else [_mth(hashes)]
    k = _largest_power_of_two_below(len(hashes))
    if m <= k:
        return _subproof(m, hashes[:k], whole) + [_mth(hashes[k:])]
    return _subproof(m - k, hashes[k:], False) + [_mth(hashes[:k])]


def _leaves(n: int) -> list[bytes]:
    return [_sha(b"\x00" + f"entry {i}".encode()) for i in range(n)]


# --- published vectors ------------------------------------------------------------------

INCLUSION = _load("inclusion.json")["probes"]
CONSISTENCY = _load("consistency.json")["probes"]
TREE = _load("tree.json")


def _verify_inclusion_probe(probe: dict) -> None:
    merkle.verify_inclusion(
        probe["leafIdx"],
        probe["treeSize"],
        _b64(probe["leafHash"]),
        [_b64(h) for h in probe["proof"] or []],
        _b64(probe["root"]),
    )


def _verify_consistency_probe(probe: dict) -> None:
    merkle.verify_consistency(
        probe["size1"],
        probe["size2"],
        _b64(probe["root1"]),
        _b64(probe["root2"]),
        [_b64(h) for h in probe["proof"] or []],
    )


@pytest.mark.parametrize("name", sorted(INCLUSION))
def test_inclusion_probe_verifies_exactly_when_the_vectors_say(name):
    probe = INCLUSION[name]
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            _verify_inclusion_probe(probe)
    else:
        _verify_inclusion_probe(probe)


@pytest.mark.parametrize("name", sorted(CONSISTENCY))
def test_consistency_probe_verifies_exactly_when_the_vectors_say(name):
    probe = CONSISTENCY[name]
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            _verify_consistency_probe(probe)
    else:
        _verify_consistency_probe(probe)


# What each kind of corrupted probe must be reported as (descs of cmd/proofgen).
EXPECTED_ERRORS = [
    ("modified proof", RootMismatch),
    ("random root", RootMismatch),
    ("wrong root2", RootMismatch),
    ("swapped roots", RootMismatch),
    ("inserted component", WrongProofSize),
    ("removed component", WrongProofSize),
    ("truncated proof", WrongProofSize),
    ("preceding", WrongProofSize),
    ("trailing", WrongProofSize),
    ("empty proof", WrongProofSize),
    ("size2 mul @2", WrongProofSize),
    ("treeSize mul @2", WrongProofSize),
    ("wrong leaf", WrongHashSize),
    ("empty leaf", WrongHashSize),
    ("size1 is greater than size2", BadIndex),
    ("size1 is zero", BadIndex),
    ("leafIdx plus @1", (BadIndex, RootMismatch)),
]


@pytest.mark.parametrize("fragment, error", EXPECTED_ERRORS)
def test_corrupted_probes_fail_with_an_error_naming_what_did_not_match(fragment, error):
    probes = [(INCLUSION[n], _verify_inclusion_probe) for n in INCLUSION]
    probes += [(CONSISTENCY[n], _verify_consistency_probe) for n in CONSISTENCY]
    matching = [(p, check) for p, check in probes if fragment in p["desc"]]
    assert matching, fragment
    for probe, check in matching:
        with pytest.raises(error):
            check(probe)


def test_hasher_matches_the_published_rfc6962_hashes():
    cases = TREE["hasher"]
    assert merkle.EMPTY_ROOT.hex() == cases["empty_root"]
    assert merkle.leaf_hash(b"").hex() == cases["leaf_of_empty"]
    assert merkle.leaf_hash(b"L123456").hex() == cases["leaf_L123456"]
    assert merkle.node_hash(b"N123", b"N456").hex() == cases["node_N123_N456"]


def _reference_leaves() -> list[bytes]:
    return merkle.leaf_hashes_of(bytes.fromhex(x) for x in TREE["leaf_inputs"])


def test_roots_of_the_reference_tree_match_at_every_size():
    leaves = _reference_leaves()
    border: list[bytes] = []
    for size, want in enumerate(TREE["roots"]):
        assert merkle.root_from_leaf_hashes(leaves[:size]).hex() == want
        assert merkle.border_root(border, size).hex() == want
        if size < len(leaves):
            border = merkle.border_append(border, size, leaves[size])


def test_every_perfect_subtree_of_the_reference_tree_matches():
    leaves = _reference_leaves()
    for level, nodes in enumerate(TREE["node_hashes"]):
        width = 1 << level
        for i, want in enumerate(nodes):
            assert merkle.subtree_hash(leaves, i * width, (i + 1) * width).hex() == want


def test_generated_proofs_equal_the_published_ones():
    leaves = _reference_leaves()
    for case in TREE["inclusion"]:
        got = merkle.inclusion_proof(case["index"], case["size"], leaves)
        assert [h.hex() for h in got] == case["path"]
    for case in TREE["consistency"]:
        got = merkle.consistency_proof(case["first"], case["second"], leaves)
        assert [h.hex() for h in got] == case["path"]


# --- the tree, the border and the proofs against §2.1 as written ------------------------


def test_border_root_equals_the_tree_root_for_every_size_up_to_300():
    leaves = _leaves(300)
    border: list[bytes] = []
    for size in range(301):
        want = _mth(leaves[:size])
        assert merkle.root_from_leaf_hashes(leaves[:size]) == want
        assert merkle.border_root(border, size) == want
        stored = merkle.border_to_bytes(border)
        assert merkle.border_from_bytes(stored, size) == border
        if size < 300:
            border = merkle.border_append(border, size, leaves[size])
    assert merkle.border_from_leaf_hashes(leaves) == border


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=300))
def test_border_and_tree_agree_on_any_entries(entries):
    leaves = merkle.leaf_hashes_of(entries)
    assert leaves == [merkle.leaf_hash(e) for e in entries]
    border = merkle.border_from_leaf_hashes(leaves)
    assert merkle.border_root(border, len(leaves)) == merkle.root_from_leaf_hashes(leaves)
    assert merkle.root_from_leaf_hashes(leaves) == _mth(leaves)


def test_generated_proofs_follow_the_rfc_recursion_for_small_trees():
    leaves = _leaves(40)
    for size in range(1, 41):
        for index in range(size):
            assert merkle.inclusion_proof(index, size, leaves) == _path(index, leaves[:size])
        for first in range(1, size + 1):
            want = _subproof(first, leaves[:size], True)
            assert merkle.consistency_proof(first, size, leaves) == want


def test_every_proof_verifies_up_to_size_64():
    leaves = _leaves(64)
    roots = [merkle.root_from_leaf_hashes(leaves[:n]) for n in range(65)]
    for size in range(1, 65):
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, leaves)
            merkle.verify_inclusion(index, size, leaves[index], proof, roots[size])
        for first in range(1, size + 1):
            proof = merkle.consistency_proof(first, size, leaves)
            merkle.verify_consistency(first, size, roots[first], roots[size], proof)


LEAVES_300 = _leaves(300)


@st.composite
def _inclusion_cases(draw, min_size=1):
    size = draw(st.integers(min_size, 300))
    index = draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(index, size, LEAVES_300)
    return index, size, proof, merkle.root_from_leaf_hashes(LEAVES_300[:size])


@st.composite
def _consistency_cases(draw):
    second = draw(st.integers(2, 300))
    first = draw(st.integers(1, second - 1))
    proof = merkle.consistency_proof(first, second, LEAVES_300)
    roots = [merkle.root_from_leaf_hashes(LEAVES_300[:n]) for n in (first, second)]
    return first, second, proof, roots[0], roots[1]


def _flip(proof: list[bytes], position: int, bit: int) -> list[bytes]:
    node = bytearray(proof[position])
    node[bit // 8] ^= 1 << (bit % 8)
    return proof[:position] + [bytes(node)] + proof[position + 1 :]


@settings(max_examples=200, deadline=None)
@given(_inclusion_cases())
def test_any_generated_inclusion_proof_verifies(case):
    index, size, proof, root = case
    merkle.verify_inclusion(index, size, LEAVES_300[index], proof, root)
    assert merkle.root_from_inclusion_proof(index, size, LEAVES_300[index], proof) == root


@settings(max_examples=200, deadline=None)
@given(_consistency_cases())
def test_any_generated_consistency_proof_verifies(case):
    first, second, proof, first_root, second_root = case
    merkle.verify_consistency(first, second, first_root, second_root, proof)


@settings(max_examples=200, deadline=None)
@given(_inclusion_cases(min_size=2), st.data())
def test_any_bit_flip_or_truncation_of_an_inclusion_proof_fails(case, data):
    index, size, proof, root = case
    position = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    with pytest.raises(RootMismatch):
        merkle.verify_inclusion(index, size, LEAVES_300[index], _flip(proof, position, bit), root)
    with pytest.raises(WrongProofSize):
        merkle.verify_inclusion(index, size, LEAVES_300[index], proof[:position], root)
    with pytest.raises(WrongProofSize):
        merkle.verify_inclusion(index, size, LEAVES_300[index], proof + [proof[0]], root)
    with pytest.raises(RootMismatch):
        merkle.verify_inclusion(index, size, LEAVES_300[index], proof, _flip([root], 0, bit)[0])


@settings(max_examples=200, deadline=None)
@given(_consistency_cases(), st.data())
def test_any_bit_flip_or_truncation_of_a_consistency_proof_fails(case, data):
    first, second, proof, first_root, second_root = case
    position = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    flipped = _flip(proof, position, bit)
    with pytest.raises(RootMismatch):
        merkle.verify_consistency(first, second, first_root, second_root, flipped)
    with pytest.raises(WrongProofSize):
        merkle.verify_consistency(first, second, first_root, second_root, proof[:position])
    with pytest.raises(WrongProofSize):
        merkle.verify_consistency(first, second, first_root, second_root, proof + [proof[0]])
    with pytest.raises(RootMismatch):
        merkle.verify_consistency(first, second, _flip([first_root], 0, bit)[0], second_root, proof)


@settings(max_examples=200, deadline=None)
@given(_inclusion_cases(min_size=2), st.data())
def test_an_inclusion_proof_fails_for_any_other_index(case, data):
    index, size, proof, root = case
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
    with pytest.raises(ProofError):
        merkle.verify_inclusion(other, size, LEAVES_300[index], proof, root)


def test_errors_say_what_did_not_match():
    leaves = _leaves(5)
    root = merkle.root_from_leaf_hashes(leaves)
    proof = merkle.inclusion_proof(2, 5, leaves)
    with pytest.raises(
        RootMismatch, match=f"calculated root .* does not match expected {root.hex()}"
    ):
        merkle.verify_inclusion(2, 5, leaves[3], proof, root)
    with pytest.raises(WrongProofSize, match="wrong proof size 2, want 3"):
        merkle.verify_inclusion(2, 5, leaves[2], proof[:2], root)
    with pytest.raises(BadIndex, match="index 5 is beyond tree size 5"):
        merkle.verify_inclusion(5, 5, leaves[2], proof, root)
    with pytest.raises(WrongHashSize, match="proof hash 1 is 31 bytes"):
        merkle.verify_inclusion(2, 5, leaves[2], [proof[0], proof[1][:31], proof[2]], root)
    first_root = merkle.root_from_leaf_hashes(leaves[:3])
    with pytest.raises(RootMismatch, match="calculated first root"):
        merkle.verify_consistency(3, 5, leaves[0], root, merkle.consistency_proof(3, 5, leaves))
    with pytest.raises(BadIndex, match="first size 5 is beyond second size 3"):
        merkle.verify_consistency(5, 3, root, first_root, [])


def test_proof_generation_states_its_preconditions():
    leaves = _leaves(4)
    with pytest.raises(BadIndex):
        merkle.inclusion_proof(4, 4, leaves)
    with pytest.raises(BadIndex):
        merkle.inclusion_proof(0, 5, leaves)
    with pytest.raises(BadIndex):
        merkle.consistency_proof(0, 4, leaves)
    with pytest.raises(BadIndex):
        merkle.consistency_proof(3, 2, leaves)
    with pytest.raises(BadIndex):
        merkle.subtree_hash(leaves, 2, 5)


def test_a_stored_border_must_fit_its_tree_size():
    border = merkle.border_from_leaf_hashes(_leaves(5))  # 5 = 4 + 1: two subtrees
    assert len(border) == 2
    with pytest.raises(BadBorder):
        merkle.border_root(border, 7)
    with pytest.raises(BadBorder):
        merkle.border_append(border, 4, _leaves(1)[0])
    with pytest.raises(BadBorder):
        merkle.border_from_bytes(merkle.border_to_bytes(border)[:-1], 5)
    with pytest.raises(BadBorder):
        merkle.border_from_bytes(merkle.border_to_bytes(border), 7)
    stored_hex = merkle.border_to_bytes(border).hex()  # as a text column would keep it
    assert merkle.border_from_bytes(bytes.fromhex(stored_hex), 5) == border


# --- signed messages (SPEC §6) ----------------------------------------------------------


def test_tree_head_and_cosignature_messages_are_the_spec_lines():
    root = bytes(range(32))
    head = merkle.tree_head_message("7", 12, root, "2025-01-02T03:04:05.000006Z")
    assert head == (
        b"ipp-site tree head v1\n7\n12\n" + root.hex().encode() + b"\n2025-01-02T03:04:05.000006Z\n"
    )
    cosigned = merkle.cosignature_message("7", 12, root, "2025-01-02T03:04:05.000006Z")
    assert cosigned == head.replace(b"ipp-site tree head v1\n", b"ipp-site cosignature v1\n", 1)


@pytest.mark.parametrize(
    "log, size, root, timestamp",
    [
        ("", 1, bytes(32), "t"),
        ("a\nb", 1, bytes(32), "t"),
        ("site", -1, bytes(32), "t"),
        ("site", True, bytes(32), "t"),
        ("site", 1, bytes(31), "t"),
        ("site", 1, bytes(32), "t\n"),
    ],
)
def test_a_message_that_could_be_read_two_ways_is_refused(log, size, root, timestamp):
    with pytest.raises(ValueError):
        merkle.tree_head_message(log, size, root, timestamp)
