"""Reads on the registry that matter: a version's manifest and decrypted source."""

import io
from collections.abc import Iterator

from registry import crypto
from registry.models import ModuleVersion
from registry.packages import ExposedSpec, Manifest, ReferenceSpec


class ChunkStream(io.RawIOBase):
    """A read-only file object over an iterator of byte chunks (bounded memory)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = chunk
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


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


def open_version_source(version: ModuleVersion) -> crypto.SourceReader:
    """A reader of the version's decrypted source. Callers check `open` first."""
    keyring = crypto.MasterKeyring.load()
    data_key = keyring.unwrap(
        version.master_key_id, bytes(version.wrapped_key), aad=version.storage_id.bytes
    )
    return crypto.SourceReader(version.storage_id, data_key)


def version_source(version: ModuleVersion):
    """The version's source as publishing consumes it (used to deploy across infrastructures)."""
    from ipp.services import AdmittedSource

    reader = open_version_source(version)
    return AdmittedSource(
        digest=version.digest,
        files=reader.list_files(),
        open_file=lambda path: io.BufferedReader(ChunkStream(reader.open(path))),
        incoming_mark=version.mark,
    )
