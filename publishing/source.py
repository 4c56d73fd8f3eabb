"""Reading a version's decrypted source: its file list, one file, the exported package.

Used by the JSON API and the web pages alike. Every function needs `open` on the module
(through permissions.door: 404 when the user has no level, 403 below `open`), and every
view of a file or export is audit-logged in its own transaction before any byte leaves.
"""

import json
import tempfile
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from django.db import transaction
from django.http import Http404

from audit.services import audit_record
from core.levels import Level
from ipp.sealing import build_sealed_package
from permissions import door
from registry.models import ModuleVersion
from registry.packages import MANIFEST, SOURCE_DIR
from registry.selectors import open_version_source, version_manifest

# Exports up to this size stay in memory; larger ones spill to an unlinked temporary file.
EXPORT_SPOOL_BYTES = 8 * 1024 * 1024


def _require_open(user, version: ModuleVersion) -> None:
    if ModuleVersion.module.is_cached(version):  # the view's check need not run twice
        door.require_module_level(user, version.module, Level.OPEN)
    else:
        door.module_for_user(user, version.module_id, Level.OPEN)


def source_files(*, user, version: ModuleVersion) -> list[tuple[str, int]]:
    """[(path, size)] of the version's source files, in the order they were published."""
    _require_open(user, version)
    return open_version_source(version).list_files()


def source_read(*, user, version: ModuleVersion, path: str) -> Iterator[bytes]:
    """The decrypted chunks of one source file; Http404 when the version has no such file.

    The view is recorded (`module.source_viewed`) before the iterator is handed back.
    """
    _require_open(user, version)
    reader = open_version_source(version)
    if path not in {name for name, _size in reader.list_files()}:
        raise Http404("No such source file.")
    module = version.module
    with transaction.atomic():
        audit_record(
            actor=user,
            action="module.source_viewed",
            infrastructure=module.infrastructure,
            subject=version,
            details={"module": module.name, "version": version.number, "path": path},
        )
    return reader.open(path)


def export_filename(version: ModuleVersion) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in version.module.name)
    return f"{safe or 'module'}-v{version.number}.zip"


def package_export(*, user, version: ModuleVersion) -> tuple[str, BinaryIO]:
    """(filename, file object at position 0) of the version's package.

    Unmarked: a plain package (manifest.json + src/) rebuilt from the stored rows and the
    decrypted source; its digest is the version's, so publishing it again changes nothing.
    Marked: the sealed package (mark.json + sealed source), built by ipp.sealing.
    Built chunk by chunk into a spooled temporary file, so memory stays bounded.
    """
    _require_open(user, version)
    module = version.module
    reader = open_version_source(version)
    out = tempfile.SpooledTemporaryFile(max_size=EXPORT_SPOOL_BYTES)
    try:
        if version.marked:
            build_sealed_package(version=version, reader=reader, out=out)
        else:
            _write_plain_package(version=version, reader=reader, out=out)
        out.seek(0)
        with transaction.atomic():
            audit_record(
                actor=user,
                action="module.exported",
                infrastructure=module.infrastructure,
                subject=version,
                details={
                    "module": module.name,
                    "version": version.number,
                    "digest": version.digest,
                    "sealed": version.marked,
                },
            )
    except BaseException:
        out.close()
        raise
    return export_filename(version), out


def _write_plain_package(*, version: ModuleVersion, reader, out: BinaryIO) -> None:
    manifest = version_manifest(version).to_json()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_entry(MANIFEST, 0), json.dumps(manifest, indent=2, ensure_ascii=False))
        for path, size in reader.list_files():
            with zf.open(_entry(SOURCE_DIR + path, size), "w") as target:
                for chunk in reader.open(path):
                    target.write(chunk)


def _entry(name: str, size: int) -> zipfile.ZipInfo:
    # Fixed timestamps: the same version always exports to the same bytes.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16
    info.file_size = size
    return info
