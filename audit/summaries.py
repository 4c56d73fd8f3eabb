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
    if parallel(size, chunk, jobs):
        return _flat(in_workers(summaries_of_run, log_id, size, chunk, jobs, wanted))
    return summaries_of_run(log_id, 0, size, chunk, wanted)


def parallel(size: int, chunk: int, jobs: int) -> bool:
    """Whether to spread a log of `size` entries over `jobs` workers: big enough, and safe."""
    return jobs > 1 and -(-size // chunk) >= 2 * jobs and may_fork()


def may_fork() -> bool:
    """Whether worker processes can read the log as this process would (see above)."""
    if connection.in_atomic_block or multiprocessing.current_process().daemon:
        return False
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


def summaries_of_run(
    log_id: str, first: int, end: int, chunk: int, wanted: dict[int, list[int]]
) -> Iterator[Summary]:
    """The summaries of the chunks of [first, end) (first a multiple of chunk), read here."""
    chunks = reading.leaf_message_chunks(log_id, end, chunk, first)
    try:
        for start, messages in zip(range(first, end, chunk), chunks, strict=True):
            yield summarize(hash_messages(messages), wanted.get(start // chunk, ()))
    finally:
        chunks.close()  # no read left running


def _runs(size: int, chunk: int, jobs: int) -> list[tuple[int, int]]:
    """[first, end) of `jobs` contiguous runs of whole chunks covering [0, size)."""
    chunks = -(-size // chunk)
    bounds = [chunks * k // jobs * chunk for k in range(jobs + 1)]
    return [(bounds[k], min(bounds[k + 1], size)) for k in range(jobs) if bounds[k] < size]


def in_workers(work, log_id: str, size: int, chunk: int, jobs: int, extra) -> Iterator:
    """work(log_id, first, end, chunk, extra) over `jobs` contiguous runs of whole chunks,
    each in a worker process with a database connection of its own; the results in run
    order. `work` is a module-level function (workers find it by name); what it yields or
    returns comes back as a list when it is a generator."""
    connections.close_all()  # nothing inherited: each worker connects on its own
    tasks = [(work, log_id, first, end, chunk, extra) for first, end in _runs(size, chunk, jobs)]
    with multiprocessing.get_context("fork").Pool(len(tasks)) as pool:
        yield from pool.imap(_run, tasks)


def _flat(results: Iterator[list]) -> Iterator:
    for result in results:
        yield from result


def _run(task):
    """In a worker: one run, read on the worker's own connection."""
    work, log_id, first, end, chunk, extra = task
    try:
        result = work(log_id, first, end, chunk, extra)
        return list(result) if isinstance(result, Iterator) else result
    finally:
        connections.close_all()
