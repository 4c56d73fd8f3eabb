"""What tests ask of the machine and the database they run against, said once."""

import socket

from django.db import connection


def unused_port() -> int:
    """A loopback port nothing listens on now (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_up() -> bool:
    """Whether Redis answers at 127.0.0.1:6379 (the job and health tests need a real one)."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def batched(parts: int) -> int:
    """Statements a core.batch.WriteBatch of `parts` parts sends: one data-modifying WITH
    statement on PostgreSQL, one statement per part on SQLite."""
    return 1 if connection.vendor == "postgresql" else parts
