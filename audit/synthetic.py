"""Fast bulk appends of synthetic entries, for benchmarks and large-volume tests only.

Entries are encoded, hashed into the tree and signed exactly as audit_record does, except
that each batch is one append (one signed head per batch, as a transaction that records
several events would have). Never used by the site itself.
"""

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from audit.appending import append_leaves, lock_logs
from audit.entries import Event, log_id_for


def _event(number: int, *, time, infrastructure_id, actor_name: str, action: str) -> Event:
    module = f"Module{number % 97}"
    version = number % 13 + 1
    return Event(
        time=time,
        action=action,
        actor_id=None,
        actor_name=actor_name,
        infrastructure_id=infrastructure_id,
        also_id=None,
        subject_type="moduleversion",
        subject_id=str(number),
        subject_label=f"{module} v{version}",
        details={"module": module, "version": version, "environment": "Development"},
    )


def bulk_append(
    n: int,
    *,
    infrastructure_id: int | None = None,
    actor_name: str = "bench",
    action: str = "module.published",
    batch: int = 5000,
    on_batch: Callable[[list[bytes]], None] | None = None,
) -> int:
    """Append `n` entries to the log of `infrastructure_id` (or `site`); returns its size.

    `on_batch` receives each batch's entry bytes (the bench hashes them again to compare
    with raw SHA-256).
    """
    log_id = log_id_for(infrastructure_id)
    start = timezone.now() - timedelta(seconds=n)
    remaining = n
    while remaining:
        size = min(batch, remaining)
        with transaction.atomic():
            (log,) = lock_logs({log_id: infrastructure_id})
            leaves = []
            for index in range(log.size, log.size + size):
                event = _event(
                    index,
                    time=start + timedelta(seconds=index),
                    infrastructure_id=infrastructure_id,
                    actor_name=actor_name,
                    action=action,
                )
                leaves.append((event.leaf(log_id, index), event.columns()))
            append_leaves(log, leaves)
        if on_batch is not None:
            on_batch([leaf for leaf, _ in leaves])
        remaining -= size
    return log.size
