"""Inclusion and consistency proofs of a log (RFC 9162 §2.1.3-2.1.4), from its stored leaf hashes.

A proof for a tree of `size` entries reads the first `size` leaf hashes (the column the
column pass of verify_audit holds to the entry bytes) and hashes O(size) nodes.
"""

from audit import merkle, reading
from audit.merkle import BadIndex

__all__ = ["BadIndex", "consistency", "inclusion"]


def _hashes(log_id: str, size: int) -> list[bytes]:
    hashes = reading.leaf_hashes(log_id, 0, size)
    if len(hashes) != size:
        raise BadIndex(f"log {log_id} holds fewer than {size} entries")
    return hashes


def inclusion(log_id: str, index: int, size: int, log_size: int) -> list[bytes]:
    """PATH(index, D[0:size]). Requires 0 <= index < size <= log_size (BadIndex otherwise)."""
    if not 0 <= index < size <= log_size:
        raise BadIndex(
            f"want 0 <= index < size <= {log_size} (the log's size), got index {index}, size {size}"
        )
    return merkle.inclusion_proof(index, size, _hashes(log_id, size))


def consistency(log_id: str, first: int, second: int, log_size: int) -> list[bytes]:
    """PROOF(first, D[0:second]). Requires 0 < first <= second <= log_size."""
    if not 0 < first <= second <= log_size:
        raise BadIndex(
            f"want 0 < first <= second <= {log_size} (the log's size), got first {first}, "
            f"second {second}"
        )
    return merkle.consistency_proof(first, second, _hashes(log_id, second))
