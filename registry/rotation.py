"""Master key rotation without loss (SPEC §5): re-wrap in batches, retire under a lock.

Each batch is a transaction of its own, so a rotation over many versions holds no long
lock and an interrupted one resumes where it stopped (rows already on the current key
are skipped). Every wrap, here as in publishing, follows registry/keylocks.py: it is
done in the transaction that writes the row, with the key current at that moment, after
`hold_for_wrap()`. Retirement takes `hold_for_retire()`, then counts the rows naming each
key: a publish that wrapped with the old key mid-rotation has committed by then (the lock
waited for it) and is counted, so its key stays until a later pass re-wraps it.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count

from core import keys
from registry import keylocks
from registry.crypto import MasterKeyring
from registry.models import ModuleVersion

DEFAULT_BATCH = 500


def rotate_master_key() -> str:
    """A new current master key (files only; keys from IPP_MASTER_KEYS change there).

    Under the retirement lock, so a rotation never races a retirement's keyring.json.
    """
    with transaction.atomic():
        keylocks.hold_for_retire()
        return keys.rotate("master")


def rewrap_batch(*, after_pk: int, limit: int) -> tuple[int, int | None]:
    """Re-wrap up to `limit` data keys not on the current master key, of rows after
    `after_pk`, in one transaction. Returns (how many, the last pk or None when done)."""
    with transaction.atomic():
        keylocks.hold_for_wrap()
        keyring = MasterKeyring.load()
        batch = list(
            ModuleVersion.objects.exclude(master_key_id=keyring.current_id)
            .filter(pk__gt=after_pk)
            .order_by("pk")
            .only("pk", "storage_id", "wrapped_key", "master_key_id")[:limit]
        )
        for version in batch:
            aad = version.storage_id.bytes
            data_key = keyring.unwrap(version.master_key_id, bytes(version.wrapped_key), aad=aad)
            version.master_key_id, version.wrapped_key = keyring.wrap(data_key, aad=aad)
        ModuleVersion.objects.bulk_update(batch, ["master_key_id", "wrapped_key"])
    return len(batch), (batch[-1].pk if batch else None)


def rewrap_all(*, batch: int = DEFAULT_BATCH, progress: Callable[[int], None] | None = None) -> int:
    """Re-wrap every data key not on the current master key; how many were."""
    total, last_pk = 0, 0
    while True:
        count, last = rewrap_batch(after_pk=last_pk, limit=batch)
        if last is None:
            return total
        total, last_pk = total + count, last
        if progress:
            progress(total)


@dataclass
class Retirement:
    current: str
    from_env: bool
    retired: list[str] = field(default_factory=list)
    in_use: dict[str, int] = field(default_factory=dict)  # old key id -> rows naming it
    unused_in_env: list[str] = field(default_factory=list)  # for the operator to remove


def retire_unused() -> Retirement:
    """Retire every master key but the current one that no row names, decided and done
    under the retirement lock (no wrap can happen meanwhile). With keys from the
    environment nothing is retired here: the unused ones are listed for the operator."""
    with transaction.atomic():
        keylocks.hold_for_retire()
        keyring = MasterKeyring.load()
        counts = dict(
            ModuleVersion.objects.order_by()
            .values_list("master_key_id")
            .annotate(n=Count("pk"))
            .values_list("master_key_id", "n")
        )
        result = Retirement(current=keyring.current_id, from_env=keyring.from_env)
        result.in_use = {kid: n for kid, n in counts.items() if kid != keyring.current_id}
        unused = [kid for kid in keyring.key_ids if kid != keyring.current_id and kid not in counts]
        if keyring.from_env:
            result.unused_in_env = unused
            return result
        for kid in unused:
            keys.retire("master", kid)
            result.retired.append(kid)
    return result
