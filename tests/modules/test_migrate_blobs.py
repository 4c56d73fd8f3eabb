"""migrate_blobs: per-file source of earlier releases becomes one pack per version, and
packs move between blob stores; idempotent, and nothing in the database changes."""

import hashlib
import json
import uuid
from io import StringIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.management import CommandError, call_command
from django.db import connection

from registry import blobs, legacy
from registry.crypto import INDEX_NUMBER, MasterKeyring, new_data_key, seal_records
from registry.models import Infrastructure, Module, ModuleVersion
from registry.packs import pack_name
from registry.selectors import open_version_source

pytestmark = pytest.mark.django_db(transaction=connection.vendor == "postgresql")

FILES = {
    "Logic/Discount.oml": b"discount = price * 0.42\n" * 100,
    "Data/Big.bin": bytes(range(256)) * 600,  # three 64 KiB chunks in the old layout
    "Empty.txt": b"",
}


def write_legacy(root: Path, storage_id: uuid.UUID, data_key: bytes, files: dict) -> None:
    """A version's source as releases before packs stored it (registry/legacy.py)."""
    directory = root / str(storage_id)
    directory.mkdir(parents=True, mode=0o700)
    aead, step = AESGCM(data_key), legacy.CHUNK_SIZE
    for number, content in enumerate(files.values()):
        chunks = [content[i : i + step] for i in range(0, len(content), step)]
        records = seal_records(aead, storage_id, number, chunks)
        (directory / legacy.blob_name(number)).write_bytes(b"".join(records))
    index = json.dumps({"version": 1, "files": [[p, len(c)] for p, c in files.items()]})
    records = seal_records(aead, storage_id, INDEX_NUMBER, [index.encode()])
    (directory / legacy.INDEX_NAME).write_bytes(b"".join(records))


@pytest.fixture
def old_versions(settings) -> list[ModuleVersion]:
    infrastructure = Infrastructure.objects.create(name="ACME")
    module = Module.objects.create(infrastructure=infrastructure, key=uuid.uuid4(), name="Core")
    versions = []
    for number in (1, 2):
        files = {**FILES, "Version.txt": f"v{number}".encode()}
        storage_id, data_key = uuid.uuid4(), new_data_key()
        write_legacy(Path(settings.IPP_BLOB_DIR), storage_id, data_key, files)
        key_id, wrapped = MasterKeyring.load().wrap(data_key, aad=storage_id.bytes)
        versions.append(
            ModuleVersion.objects.create(
                module=module,
                number=number,
                digest=hashlib.sha256(str(storage_id).encode()).hexdigest(),
                storage_id=storage_id,
                wrapped_key=wrapped,
                master_key_id=key_id,
            )
        )
    return versions


def contents(version: ModuleVersion) -> dict[str, bytes]:
    reader = open_version_source(version)
    return {path: b"".join(reader.open(path)) for path, _size in reader.list_files()}


def expected(version: ModuleVersion) -> dict[str, bytes]:
    return {**FILES, "Version.txt": f"v{version.number}".encode()}


def migrate(*args) -> str:
    out = StringIO()
    call_command("migrate_blobs", *args, stdout=out)
    return out.getvalue()


def rows() -> list[tuple]:
    return [
        (sid, kid, bytes(w))
        for sid, kid, w in ModuleVersion.objects.order_by("pk").values_list(
            "storage_id", "master_key_id", "wrapped_key"
        )
    ]


def test_versions_in_the_per_file_layout_read_as_before(old_versions):
    assert [contents(v) for v in old_versions] == [expected(v) for v in old_versions]


def test_per_file_source_is_packed_in_place_and_a_second_run_does_nothing(old_versions, settings):
    before = rows()
    assert "filesystem -> filesystem: packed 2, copied 0, already there 0" in migrate()

    store = blobs.get_store()
    assert sorted(info.name for info in store.listing()) == sorted(
        pack_name(v.storage_id) for v in old_versions
    )
    assert [contents(v) for v in old_versions] == [expected(v) for v in old_versions]
    assert rows() == before  # same data keys, same wrapped keys

    assert "packed 0, copied 0, already there 2, removed 0" in migrate()
    assert [contents(v) for v in old_versions] == [expected(v) for v in old_versions]


def test_an_interrupted_run_is_finished_by_the_next(old_versions, monkeypatch):
    monkeypatch.setattr(legacy, "remove", lambda store, storage_id: None)  # killed right here
    migrate()
    monkeypatch.undo()
    assert all(legacy.directory(blobs.get_store(), v.storage_id) for v in old_versions)
    assert "already there 2, removed 2 superseded copies" in migrate()
    assert not any(legacy.directory(blobs.get_store(), v.storage_id) for v in old_versions)


def test_source_moves_between_stores_and_the_old_copies_go_only_when_asked(old_versions, settings):
    filesystem, database = blobs.store_for("filesystem"), blobs.store_for("database")
    migrate("--to", "filesystem")  # pack the first version in place, leave the second old
    database.write(pack_name(uuid.uuid4()), [b"unrelated"])
    filesystem.delete(pack_name(old_versions[1].storage_id))
    write_legacy(
        filesystem.root,
        old_versions[1].storage_id,
        _data_key(old_versions[1]),
        expected(old_versions[1]),
    )

    output = migrate("--from", "filesystem", "--to", "database")

    assert "filesystem -> database: packed 1, copied 1, already there 0, removed 0" in output
    settings.IPP_BLOB_STORE = "database"
    assert [contents(v) for v in old_versions] == [expected(v) for v in old_versions]
    assert filesystem.exists(pack_name(old_versions[0].storage_id))  # kept: not asked

    output = migrate("--from", "filesystem", "--to", "database", "--remove-source")
    assert "already there 2, removed 2 superseded copies" in output
    assert list(filesystem.listing()) == []

    output = migrate("--from", "database", "--to", "filesystem")
    assert "database -> filesystem: packed 0, copied 2" in output
    settings.IPP_BLOB_STORE = "filesystem"
    assert [contents(v) for v in old_versions] == [expected(v) for v in old_versions]


def test_a_version_whose_source_is_nowhere_fails_the_command(old_versions, settings):
    blobs.get_store().delete(str(old_versions[0].storage_id))
    with pytest.raises(
        CommandError, match=rf"1 versions have no source in filesystem \(ids {old_versions[0].pk}\)"
    ):
        migrate()
    assert contents(old_versions[1]) == expected(old_versions[1])  # the rest was done


def _data_key(version: ModuleVersion) -> bytes:
    return MasterKeyring.load().unwrap(
        version.master_key_id, bytes(version.wrapped_key), aad=version.storage_id.bytes
    )
