"""Removing what no version points to: `manage.py sweep_blobs` (SPEC §9).

An object is removed when it is a version's source ("<storage id>.pack", or a directory
of the per-file layout) that no ModuleVersion row names, or a leftover of a write that
never committed (".tmp-*"), and only once it is older than the grace period. Objects of
other names are not the sweeper's: it leaves them.

Why this is safe while publishes run: a publish stores its object, then commits the row
that names it, in a transaction that lasts seconds. Until that commit the object is
unreferenced but young, and the sweeper only looks at objects older than the grace
period (default one hour), listing them before it asks which rows exist. A publish whose
transaction outlasts the grace period would lose its object: keep the grace period well
above the longest publish (IPP_MAX_PACKAGE_MB bounds it).
"""

from dataclasses import dataclass, field
from datetime import timedelta

from registry.blobs import BlobInfo, BlobStore, get_store
from registry.models import ModuleVersion
from registry.packs import storage_id_of

DEFAULT_GRACE = timedelta(hours=1)
_BATCH = 1000


@dataclass
class SweepReport:
    removed: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    young: int = 0
    referenced: int = 0
    foreign: int = 0


def sweep_blobs(
    *, store: BlobStore | None = None, grace: timedelta = DEFAULT_GRACE, dry_run: bool = False
) -> SweepReport:
    """Remove unreferenced source objects and leftovers older than `grace` from `store`."""
    store = store or get_store()
    report, doomed, batch = SweepReport(), [], []
    for info in store.listing():
        if info.age < grace.total_seconds():
            report.young += 1
        elif info.leftover:
            report.leftovers.append(info.name)
        elif storage_id_of(info.name) is None:
            report.foreign += 1
        else:
            batch.append(info)
            if len(batch) >= _BATCH:
                doomed += _unreferenced(batch, report)
                batch = []
    doomed += _unreferenced(batch, report)
    report.removed = [info.name for info in doomed]
    if not dry_run:
        for name in report.removed + report.leftovers:
            store.delete(name)
    return report


def _unreferenced(batch: list[BlobInfo], report: SweepReport) -> list[BlobInfo]:
    """The entries of `batch` no row names (asked after they were listed)."""
    if not batch:
        return []
    ids = {info.name: storage_id_of(info.name) for info in batch}
    named = set(
        ModuleVersion.objects.filter(storage_id__in=set(ids.values())).values_list(
            "storage_id", flat=True
        )
    )
    report.referenced += sum(1 for sid in ids.values() if sid in named)
    return [info for info in batch if ids[info.name] not in named]


def parse_grace(text: str) -> timedelta:
    """ "3600", "90s", "30m", "1h" or "2d"; ValueError otherwise."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    seconds = float(number) * units[unit]
    if not seconds >= 0:
        raise ValueError(f"a grace period is not negative: {text!r}")
    return timedelta(seconds=seconds)
