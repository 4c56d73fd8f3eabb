"""A log's chunks hashed and summarized, in this process or spread over worker processes.

The tree pass needs, for each chunk of CHUNK entries in index order, how many entries it
holds and the perfect subtrees covering its first `r` entries for every stored head's
size that falls inside it (audit.streaming.summarize). Reading and hashing a chunk does
not depend on any other, so with `jobs` > 1 contiguous runs of chunks are read and hashed
by that many worker processes, each on a database connection of its own, and only the
summaries (a few hashes per chunk) come back, in order. CPython hashes one message per
call with ~0.45 µs of fixed cost and holds the GIL while doing so (hashlib only lets go
for messages over 2 KiB; entries and nodes are far smaller): processes are the only way
to put more than one core on a big log. Python's own multiprocessing does it; nothing is
shared but the summaries.

Workers are forked, and so only where that is safe: outside a transaction (a worker sees
only what is committed; the tree pass then reads the log as committed, which is what
verify_audit does), with no database connection open in this process at the fork (each
worker opens its own; an inherited one would be closed under its owner), not on an
in-memory SQLite database (nothing for another process to open), and not from a daemonic
process (a Celery worker's child may not fork). Otherwise, and for logs of a few chunks,
the chunks are read and hashed here, the next chunk read ahead (audit.reading).
"""

import multiprocessing
from collections.abc import Iterator

from django.db import connection, connections

from audit import reading
from audit.streaming import hash_messages, summarize

Summary = tuple[int, dict[int, list[bytes]]]


def chunk_summaries(
    log_id: str, size: int, chunk: int, wanted: dict[int, list[int]], jobs: int = 1
) -> Iterator[Summary]:
    """summarize() of each chunk [k chunk, (k + 1) chunk) of the log up to `size`, in
    order, with the sizes `wanted[k]` (relative to the chunk's start). Close the iterator
    (or exhaust it) before querying again."""
    starts = range(0, size, chunk)
    if jobs > 1 and len(starts) >= 2 * jobs and may_fork():
        return _in_workers(log_id, size, chunk, wanted, jobs)
    return _here(log_id, size, chunk, wanted, 0)


def may_fork() -> bool:
    """Whether worker processes can read the log as this process would (see above)."""
    if connection.in_atomic_block or multiprocessing.current_process().daemon:
        return False
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


def _here(
    log_id: str, size: int, chunk: int, wanted: dict[int, list[int]], first: int
) -> Iterator[Summary]:
    chunks = reading.leaf_message_chunks(log_id, size, chunk, first)
    try:
        for start, messages in zip(range(first, size, chunk), chunks, strict=True):
            yield summarize(hash_messages(messages), wanted.get(start // chunk, ()))
    finally:
        chunks.close()  # no read left running


def _runs(size: int, chunk: int, jobs: int) -> list[tuple[int, int]]:
    """[first, end) of `jobs` contiguous runs of whole chunks covering [0, size)."""
    chunks = -(-size // chunk)
    bounds = [chunks * k // jobs * chunk for k in range(jobs + 1)]
    return [(bounds[k], min(bounds[k + 1], size)) for k in range(jobs) if bounds[k] < size]


def _in_workers(
    log_id: str, size: int, chunk: int, wanted: dict[int, list[int]], jobs: int
) -> Iterator[Summary]:
    connections.close_all()  # nothing inherited: each worker connects on its own
    tasks = [
        (log_id, end, chunk, first, {k: v for k, v in wanted.items() if first <= k * chunk < end})
        for first, end in _runs(size, chunk, jobs)
    ]
    with multiprocessing.get_context("fork").Pool(len(tasks)) as pool:
        for summaries in pool.imap(_work, tasks):
            yield from summaries


def _work(task) -> list[Summary]:
    """In a worker: one run of chunks, read on the worker's own connection."""
    log_id, end, chunk, first, wanted = task
    try:
        return list(_here(log_id, end, chunk, wanted, first))
    finally:
        connections.close_all()
