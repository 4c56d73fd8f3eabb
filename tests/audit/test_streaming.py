"""audit.streaming computes what audit.merkle defines, chunk by chunk, for every prefix."""

import pytest

from audit import merkle
from audit.streaming import PrefixRoots, leaf_hashes, summarize

ENTRIES = [f"entry {i}".encode() * (i % 5 + 1) for i in range(70)]


def test_leaf_hashes_are_rfc_9162_leaf_hashes():
    assert leaf_hashes(ENTRIES) == [merkle.leaf_hash(entry) for entry in ENTRIES]


@pytest.mark.parametrize("chunk", [1, 2, 4, 8, 64])
@pytest.mark.parametrize("total", [0, 1, 2, 3, 7, 8, 9, 31, 64, 65, 70])
def test_every_prefix_root_and_the_border_match_audit_merkle(chunk, total):
    hashes = leaf_hashes(ENTRIES[:total])
    tree = PrefixRoots(chunk)
    seen = {}
    for start in range(0, max(total, 1), chunk):
        tree.add(hashes[start : start + chunk])
        for size in range(tree.start, tree.size + 1):
            seen[size] = tree.root(size)
    assert seen == {size: merkle.root_from_leaf_hashes(hashes[:size]) for size in range(total + 1)}
    assert tree.border() == merkle.border_from_leaf_hashes(hashes)


def test_a_short_chunk_must_be_the_last():
    tree = PrefixRoots(4)
    tree.add(leaf_hashes(ENTRIES[:3]))
    with pytest.raises(ValueError, match="last"):
        tree.add(leaf_hashes(ENTRIES[3:7]))


def test_a_size_outside_the_current_chunk_is_refused():
    tree = PrefixRoots(4)
    tree.add(leaf_hashes(ENTRIES[:4]))
    tree.add(leaf_hashes(ENTRIES[4:8]))
    with pytest.raises(ValueError, match="outside"):
        tree.root(3)


def test_the_chunk_is_a_power_of_two():
    with pytest.raises(ValueError):
        PrefixRoots(3)


@pytest.mark.parametrize("chunk", [1, 4, 8, 64])
@pytest.mark.parametrize("total", [1, 7, 8, 9, 64, 70])
def test_summaries_give_the_roots_the_leaf_hashes_give(chunk, total):
    """A chunk summarized elsewhere (audit.summaries' workers) answers the sizes asked."""
    hashes = leaf_hashes(ENTRIES[:total])
    tree = PrefixRoots(chunk)
    for start in range(0, total, chunk):
        part = hashes[start : start + chunk]
        tree.add_summary(*summarize(part, range(len(part) + 1)))
        for size in range(tree.start, tree.size + 1):
            assert tree.root(size) == merkle.root_from_leaf_hashes(hashes[:size])
    assert tree.border() == merkle.border_from_leaf_hashes(hashes)


def test_a_size_not_summarized_is_refused():
    tree = PrefixRoots(8)
    tree.add_summary(*summarize(leaf_hashes(ENTRIES[:8]), [3]))
    assert tree.root(3) == merkle.root_from_leaf_hashes(leaf_hashes(ENTRIES[:3]))
    with pytest.raises(ValueError, match="not summarized"):
        tree.root(5)
