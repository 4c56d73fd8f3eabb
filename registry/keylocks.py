"""When a data key may be wrapped with a master key, and when a master key may be retired.

Retiring a master key loses every data key wrapped with it, so it may go only when no
row names it — including rows not yet committed. Hence two rules:

- a data key is wrapped in the transaction that writes its row, after `hold_for_wrap()`,
  with the master key current at that moment (`wrap_data_key`);
- a master key is retired only after `hold_for_retire()`, in a transaction that then
  finds no row naming it (registry/rotation.py).

On PostgreSQL these are the shared and the exclusive mode of one transaction-level
advisory lock: a retirement waits until every transaction that wrapped has committed or
rolled back, and wraps wait for the retirement, then read the keyring afresh (core.keys
notices the new keyring.json), so no row commits naming a retired key. On SQLite every
transaction begins IMMEDIATE (ippsite/settings.py) and holds the one write lock from its
start, which orders the two just the same.
"""

import hashlib
import uuid

from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from registry.crypto import MasterKeyring

LOCK_ID = int.from_bytes(hashlib.sha256(b"ipp master key use").digest()[:8], "big", signed=True)


def hold_for_wrap() -> None:
    """Until this transaction ends, no master key is retired."""
    _lock("pg_advisory_xact_lock_shared")


def hold_for_retire() -> None:
    """Until this transaction ends, no data key is wrapped; waits for those being wrapped."""
    _lock("pg_advisory_xact_lock")


def wrap_data_key(data_key: bytes, storage_id: uuid.UUID) -> tuple[str, bytes]:
    """(master key id, wrapped data key) for the row of `storage_id`, which the caller's
    transaction must write: the master key stays until that transaction has ended."""
    hold_for_wrap()
    return MasterKeyring.load().wrap(data_key, aad=storage_id.bytes)


def _lock(function: str) -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("a master key lock is held by a transaction: call inside atomic()")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s)", [LOCK_ID])
    elif connection.vendor == "sqlite":
        mode = connection.settings_dict.get("OPTIONS", {}).get("transaction_mode")
        if mode != "IMMEDIATE":
            raise ImproperlyConfigured(
                "SQLite must begin transactions IMMEDIATE (OPTIONS transaction_mode): "
                "master key retirement relies on it"
            )
    else:
        raise ImproperlyConfigured(f"no master key lock for the {connection.vendor} database")
