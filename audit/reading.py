"""Reading a log's entry bytes in index order, with the least per-row cost each database allows.

The tree pass of verify_audit spends most of its time here, so this bypasses the ORM's
per-row machinery: one plain query per chunk, rows taken straight from the driver. On
SQLite the column is read through CAST (an expression has no declared type, so the driver
looks up no converter per row); on PostgreSQL with a server-binding cursor in binary format
(no hex decoding of bytea). On PostgreSQL leaf_message_chunks reads one chunk ahead, in
a worker thread, while the caller hashes the current one.

Tried and dropped: having the database join a chunk's entries into one value
(string_agg / group_concat with a separator, one split in Python). Fewer Python objects
per row, but the aggregate cost the database more than the driver's rows cost here: the
tree pass ran 10-30% slower on both databases in the same runs.
"""

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from operator import itemgetter

import psycopg
from django.db import connection

from audit.entries import COLUMNS
from audit.models import AuditEntry

_first = itemgetter(0)
_leaf_prefix = b"\x00".__add__


def _binary(column: str) -> str:
    """A bytes column, as the driver should read it."""
    q = connection.ops.quote_name
    return f"CAST({q(column)} AS BLOB)" if connection.vendor == "sqlite" else q(column)


def _select(placeholder: str, values: list[str]) -> str:
    """SELECT `values` of the entries of one log in a range of indexes, in index order."""
    q = connection.ops.quote_name
    return (
        f"SELECT {', '.join(values)} FROM {q('audit_entry')} WHERE {q('log_id')} = {placeholder} "
        f"AND {q('index')} >= {placeholder} AND {q('index')} < {placeholder} "
        f"ORDER BY {q('index')}"
    )


def _sql(placeholder: str, column: str, *, prefixed: bool = False) -> str:
    """The query of `column` over a range of indexes; `prefixed` (PostgreSQL only): each
    value with the leaf hash's 0x00 before it."""
    value = _binary(column)
    if prefixed:
        value = f"'\\x00'::bytea || {value}"
    return _select(placeholder, [value])


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


def _prefixed_rows(raw, sql: str, params: tuple) -> list[bytes]:
    """0x00 ‖ entry for each row (the server prepends it: one bytes object per row, not
    two); in any thread (psycopg's connection)."""
    with psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, binary=True)
        return list(map(_first, cursor.fetchall()))


def leaf_message_chunks(
    log_id: str, size: int, chunk: int, first: int = 0
) -> Iterator[list[bytes]]:
    """0x00 ‖ entry bytes (what leaf hashes hash) of the entries of [first, first + chunk),
    [first + chunk, first + 2 chunk), … up to size, in index order; missing entries are
    absent from their chunk.

    On PostgreSQL the next chunk's query runs in a worker thread while the caller hashes
    this one: psycopg releases the GIL while the server works and converts the rows in one
    go, so with a core to spare reading overlaps hashing. The worker uses this thread's
    connection (same transaction); the generator waits for it before it ends, so close it
    (or exhaust it) before querying again. Not on SQLite: its driver takes the GIL back for
    every row, and a worker contending with the hashing thread row by row read slower than
    reading in turn.
    """
    ranges = [(start, min(start + chunk, size)) for start in range(first, size, chunk)]
    connection.ensure_connection()
    if connection.vendor != "postgresql":
        for start, end in ranges:
            yield list(map(_leaf_prefix, leaves(log_id, start, end)))
        return
    read = partial(_prefixed_rows, connection.connection, _sql("%s", "leaf", prefixed=True))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-read") as pool:
        pending = pool.submit(read, (log_id, *ranges[0])) if ranges else None
        try:
            for position in range(len(ranges)):
                messages = pending.result()
                pending = None
                if position + 1 < len(ranges):
                    pending = pool.submit(read, (log_id, *ranges[position + 1]))
                yield messages
        finally:
            if pending is not None and not pending.cancel():
                pending.exception()  # wait: never leave a query running on the connection


# What the column pass holds to each entry's bytes: the bytes, the stored leaf hash, the
# details and the columns of audit.entries.COLUMNS (attnames, which are the column names).
ENTRY_ROW = ("leaf", "leaf_hash", "details", *COLUMNS)


def entry_rows(log_id: str, start: int, end: int) -> list[tuple]:
    """ENTRY_ROW of the entries of `log_id` with start <= index < end, in index order, each
    value as the ORM gives it (bytes, a dict, an aware datetime, ints and strings), read
    straight from the driver: the ORM's per-row machinery (a converter call per value,
    jsonb loaded as text and then parsed) cost the column pass as much as its own work."""
    connection.ensure_connection()
    raw, q = connection.connection, connection.ops.quote_name
    if connection.vendor not in ("postgresql", "sqlite"):
        rows = AuditEntry.objects.filter(log_id=log_id, index__gte=start, index__lt=end)
        return list(rows.order_by("index").values_list(*ENTRY_ROW))
    values = [_binary("leaf"), _binary("leaf_hash"), *(q(name) for name in ENTRY_ROW[2:])]
    sql = _select("%s" if connection.vendor == "postgresql" else "?", values)
    if connection.vendor == "postgresql":
        with psycopg.Cursor(raw) as cursor:
            cursor.execute(sql, (log_id, start, end), binary=True)
            rows = cursor.fetchall()
        # jsonb in binary comes parsed, unless the connection's loaders give text.
        if rows and isinstance(rows[0][2], str | bytes):
            rows = [
                (leaf, hashed, json.loads(details), *rest) for leaf, hashed, details, *rest in rows
            ]
        return rows
    when = ENTRY_ROW.index("created_at")
    aware = partial(
        connection.ops.convert_datetimefield_value, expression=None, connection=connection
    )
    return [
        (*row[:2], json.loads(row[2]), *row[3:when], aware(row[when]), *row[when + 1 :])
        for row in raw.execute(sql, (log_id, start, end)).fetchall()
    ]
