"""`manage.py migrate_blobs`: every version's source as one pack in the chosen store.

Per version, in order: a pack already in the target is kept; else a pack in the source
store is copied byte for byte (it is encrypted and bound to the version, not to a store);
else a directory of the per-file layout (filesystem only) is decrypted and packed again
under the same data key, so the wrapped key in the row does not change. The target
write is durable before anything is removed, and only then is the superseded copy
removed: the per-file directory when packing in place, the source store's copy only when
asked. Running it again does nothing more: it is safe to interrupt and repeat, and
publishes may run meanwhile (they write packs already).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from core.streams import buffered
from registry import legacy
from registry.blobs import BlobStore
from registry.crypto import MasterKeyring
from registry.models import ModuleVersion
from registry.packs import SourceWriter, pack_name


@dataclass
class RepackReport:
    present: int = 0
    copied: int = 0
    packed: int = 0
    removed: int = 0
    missing: list[int] = field(default_factory=list)  # version pks with no source found


def repack_all(*, source: BlobStore, target: BlobStore, remove_source: bool) -> RepackReport:
    report = RepackReport()
    versions = ModuleVersion.objects.order_by("pk").only(
        "pk", "storage_id", "wrapped_key", "master_key_id"
    )
    for version in _in_batches(versions):
        outcome = repack_one(version, source=source, target=target)
        if outcome == "missing":
            report.missing.append(version.pk)
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
        report.removed += _remove_superseded(version, source, target, remove_source)
    return report


def repack_one(version: ModuleVersion, *, source: BlobStore, target: BlobStore) -> str:
    """ "present", "copied", "packed" or "missing": what was done for `version`."""
    name = pack_name(version.storage_id)
    if target.exists(name):
        return "present"
    if source.kind != target.kind and source.exists(name):
        with source.open(name) as handle:
            target.write(name, handle.chunks())
        return "copied"
    data_key = MasterKeyring.load().unwrap(
        version.master_key_id, bytes(version.wrapped_key), aad=version.storage_id.bytes
    )
    old = legacy.reader_for(source, version.storage_id, data_key)
    if old is None:
        return "missing"
    with SourceWriter(version.storage_id, data_key, store=target) as writer:
        for path, _size in old.list_files():
            writer.add_file(path, buffered(old.open(path)))
        writer.finish()
    return "packed"


def _remove_superseded(
    version: ModuleVersion, source: BlobStore, target: BlobStore, remove_source: bool
) -> int:
    removed = 0
    if source.kind == target.kind or remove_source:
        if legacy.directory(source, version.storage_id) is not None:
            legacy.remove(source, version.storage_id)
            removed += 1
    if source.kind != target.kind and remove_source:
        removed += source.delete(pack_name(version.storage_id))
    return removed


def _in_batches(versions, size: int = 500) -> Iterator[ModuleVersion]:
    last = 0
    while batch := list(versions.filter(pk__gt=last)[:size]):
        yield from batch
        last = batch[-1].pk
