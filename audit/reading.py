"""Reading a log's entry bytes in index order, with the least per-row cost each database allows.

The tree pass of verify_audit spends most of its time here, so this bypasses the ORM's
per-row machinery: one plain query per chunk, rows taken straight from the driver. On
SQLite the column is read through CAST (an expression has no declared type, so the driver
looks up no converter per row); on PostgreSQL with a server-binding cursor in binary format
(no hex decoding of bytea).
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from operator import itemgetter

import psycopg
from django.db import connection

_first = itemgetter(0)


def _sql(placeholder: str, column: str) -> str:
    q = connection.ops.quote_name
    value = f"CAST({q(column)} AS BLOB)" if connection.vendor == "sqlite" else q(column)
    return (
        f"SELECT {value} FROM {q('audit_entry')} WHERE {q('log_id')} = {placeholder} "
        f"AND {q('index')} >= {placeholder} AND {q('index')} < {placeholder} "
        f"ORDER BY {q('index')}"
    )


def leaves(log_id: str, start: int, end: int) -> list[bytes]:
    """The bytes of the entries of `log_id` with start <= index < end, in index order.

    Missing entries are simply absent: the caller compares the count with end - start.
    """
    return _column(log_id, start, end, "leaf")


def leaf_hashes(log_id: str, start: int, end: int) -> list[bytes]:
    """The stored leaf hashes of those entries (what proofs are built from)."""
    return _column(log_id, start, end, "leaf_hash")


def _column(log_id: str, start: int, end: int, column: str) -> list[bytes]:
    connection.ensure_connection()
    raw = connection.connection
    params = (log_id, start, end)
    if connection.vendor == "postgresql":
        with psycopg.Cursor(raw) as cursor:
            cursor.execute(_sql("%s", column), params, binary=True)
            return list(map(_first, cursor.fetchall()))
    if connection.vendor == "sqlite":
        return list(map(_first, raw.execute(_sql("?", column), params).fetchall()))
    with connection.cursor() as cursor:
        cursor.execute(_sql("%s", column), params)
        return [bytes(row[0]) for row in cursor.fetchall()]


# --- a whole chunk in one value -----------------------------------------------------------
#
# The tree pass needs, per entry, one bytes object 0x00 ‖ entry (what its leaf hash hashes).
# Fetching rows costs a tuple and a driver conversion per row; instead the database joins
# the chunk's entries into one value, separated by 0x0a 0x00, and one C-level split gives
# the leaf messages (the first gets its 0x00 in Python). Canonical JSON has no raw newline,
# so the parts are the rows exactly when there are as many parts as rows (counted in the
# same query): any entry holding a 0x0a byte makes more parts than rows, and the caller
# then reads that chunk row by row.

_SEPARATOR = b"\n\x00"
_JOINED = ("postgresql", "sqlite")


def _joined_sql(placeholder: str) -> str:
    """count(*) and the entries joined by the separator, in index order, in one row.

    The rows come from a subquery ordered by index: an aggregate over an ordered subquery,
    with no join, consumes them in that order (PostgreSQL documents it for its aggregates;
    SQLite does not flatten such a subquery, its rule 16, and has no ORDER BY inside
    group_concat before 3.44). ORDER BY inside string_agg would sort every entry's bytes
    again, at twice the cost. The tamper tests reorder entries and expect the finding.
    """
    q = connection.ops.quote_name
    where = (
        f"{q('log_id')} = {placeholder} AND {q('index')} >= {placeholder} "
        f"AND {q('index')} < {placeholder}"
    )
    rows = f"SELECT {q('leaf')} FROM {q('audit_entry')} WHERE {where} ORDER BY {q('index')}"
    if connection.vendor == "postgresql":
        joined = f"string_agg({q('leaf')}, {placeholder})"
    else:  # group_concat reads a blob's bytes as they are; CAST gives them back as a blob
        joined = f"CAST(group_concat({q('leaf')}, {placeholder}) AS BLOB)"
    return f"SELECT count(*), {joined} FROM ({rows}) AS {q('chunk')}"


def _joined(raw, vendor: str, sql: str, params: tuple) -> tuple[int, bytes]:
    """Runs in any thread: the driver's connection itself, not Django's per-thread wrapper."""
    if vendor == "postgresql":
        with psycopg.Cursor(raw) as cursor:
            cursor.execute(sql, params, binary=True)
            count, data = cursor.fetchone()
    else:
        count, data = raw.execute(sql, params).fetchone()
    return count, bytes(data or b"")


def _split(log_id: str, start: int, end: int, count: int, data: bytes) -> list[bytes]:
    if not count:
        return []
    parts = data.split(b"\n")
    if len(parts) != count:  # an entry holds a newline: not canonical, read it as it is
        return [b"\x00" + leaf for leaf in leaves(log_id, start, end)]
    parts[0] = b"\x00" + parts[0]
    return parts


def _query(log_id: str, start: int, end: int):
    """What a chunk's joined read needs, taken in the caller's thread: (raw, vendor, sql, params)."""
    connection.ensure_connection()
    placeholder = "%s" if connection.vendor == "postgresql" else "?"
    params = (_SEPARATOR, log_id, start, end)
    return connection.connection, connection.vendor, _joined_sql(placeholder), params


def leaf_messages(log_id: str, start: int, end: int) -> list[bytes]:
    """0x00 ‖ entry bytes for every entry with start <= index < end, in index order.

    What the leaf hashes hash, ready for C-level hashing. Missing entries are absent.
    """
    if connection.vendor not in _JOINED:
        return [b"\x00" + leaf for leaf in leaves(log_id, start, end)]
    count, data = _joined(*_query(log_id, start, end))
    return _split(log_id, start, end, count, data)


def leaf_message_chunks(log_id: str, size: int, chunk: int) -> Iterator[list[bytes]]:
    """leaf_messages of [0, chunk), [chunk, 2 chunk), … up to size, reading one chunk ahead.

    The next chunk's query runs in a worker thread while the caller hashes this one: both
    drivers release the GIL while the database works (SQLite's step, PostgreSQL's wait), so
    reading overlaps hashing. The worker uses this thread's connection (same transaction);
    the generator waits for it before it ends, so close it (or exhaust it) before querying
    again.
    """
    ranges = [(start, min(start + chunk, size)) for start in range(0, size, chunk)]
    if connection.vendor not in _JOINED:
        for start, end in ranges:
            yield leaf_messages(log_id, start, end)
        return
    queries = [_query(log_id, start, end) for start, end in ranges]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-read") as pool:
        pending = pool.submit(_joined, *queries[0]) if queries else None
        try:
            for position, (start, end) in enumerate(ranges):
                count, data = pending.result()
                pending = None
                messages = _split(log_id, start, end, count, data)  # may query: nothing pending
                if position + 1 < len(queries):
                    pending = pool.submit(_joined, *queries[position + 1])
                yield messages
        finally:
            if pending is not None and not pending.cancel():
                pending.exception()  # wait: never leave a query running on the connection
