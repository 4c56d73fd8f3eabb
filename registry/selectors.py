"""Reads on the registry that matter: a version's manifest and decrypted source."""

from core.streams import AdmittedSource, buffered
from registry import crypto, packs
from registry.models import ModuleVersion
from registry.packages import ExposedSpec, Manifest, ReferenceSpec


def version_manifest(version: ModuleVersion) -> Manifest:
    """The manifest a version was published with, rebuilt from its rows."""
    module = version.module
    return Manifest(
        format=1,
        key=module.key,
        name=version.name or module.name,
        description=version.description,
        exposes=tuple(
            ExposedSpec(name=e.name, kind=e.kind, signature=e.signature)
            for e in version.exposes.all()
        ),
        references=tuple(
            ReferenceSpec(module=r.module_key, elements=tuple(r.elements))
            for r in version.references.all()
        ),
    )


def open_version_source(version: ModuleVersion) -> packs.SourceReader:
    """A reader of the version's decrypted source. Callers check `open` first."""
    keyring = crypto.MasterKeyring.load()
    data_key = keyring.unwrap(
        version.master_key_id, bytes(version.wrapped_key), aad=version.storage_id.bytes
    )
    return packs.SourceReader(version.storage_id, data_key)


def version_source(version: ModuleVersion):
    """The version's source as publishing consumes it (used to deploy across infrastructures)."""
    reader = open_version_source(version)
    return AdmittedSource(
        digest=version.digest,
        files=reader.list_files(),
        open_file=lambda path: buffered(reader.open(path)),
        incoming_mark=version.mark,
    )
