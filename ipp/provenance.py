"""Recording provenance (SPEC rule 9) when a version is stored.

Called by publishing in the transaction that creates the version. The first writer of a
key or fingerprint wins through the unique constraints (`ignore_conflicts`), so two
concurrent first publications cannot both claim it.
"""

from core.batch import WriteBatch
from ipp.models import ContentProvenance, KeyProvenance, VersionFingerprint
from registry.models import ModuleVersion


def provenance_record(
    *, version: ModuleVersion, fingerprints: frozenset, batch: WriteBatch | None = None
) -> None:
    """Remember `version`'s key and files where they were first published.

    With `batch`, the rows are added to it for the caller to flush in this transaction;
    without, they are written now."""
    module = version.module
    infrastructure_id = module.infrastructure_id
    writes = batch if batch is not None else WriteBatch()
    writes.insert(
        KeyProvenance,
        [
            KeyProvenance(
                key=module.key,
                infrastructure_id=infrastructure_id,
                marked_code=version.marked_code,
                version=version,
            )
        ],
        ignore_conflicts=True,
    )
    # Thousands of files make thousands of rows: each table's in one array-valued INSERT.
    ordered = sorted(fingerprints)
    writes.insert_each(
        ContentProvenance,
        "fingerprint",
        ordered,
        ignore_conflicts=True,
        infrastructure_id=infrastructure_id,
        marked_code=version.marked_code,
        module_key=module.key,
        version=version,
    )
    writes.insert_each(
        VersionFingerprint, "fingerprint", ordered, ignore_conflicts=True, version=version
    )
    if batch is None:
        writes.flush()
