"""Recording provenance (SPEC rule 9) when a version is stored.

Called by publishing in the transaction that creates the version. The first writer of a
key or fingerprint wins through the unique constraints (`ignore_conflicts`), so two
concurrent first publications cannot both claim it.
"""

from ipp.models import ContentProvenance, KeyProvenance, VersionFingerprint
from registry.models import ModuleVersion


def provenance_record(*, version: ModuleVersion, fingerprints: frozenset) -> None:
    """Remember `version`'s key and files where they were first published."""
    module = version.module
    infrastructure_id = module.infrastructure_id
    KeyProvenance.objects.bulk_create(
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
    ordered = sorted(fingerprints)
    ContentProvenance.objects.bulk_create(
        [
            ContentProvenance(
                fingerprint=fp,
                infrastructure_id=infrastructure_id,
                marked_code=version.marked_code,
                module_key=module.key,
                version=version,
            )
            for fp in ordered
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
    VersionFingerprint.objects.bulk_create(
        [VersionFingerprint(version=version, fingerprint=fp) for fp in ordered],
        ignore_conflicts=True,
        batch_size=500,
    )
