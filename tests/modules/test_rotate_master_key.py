"""The rotate_master_key command: data keys move to the new master key in batches, and no
master key is retired while a row names it."""

import base64
import hashlib
import io
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from core import keys
from registry import rotation
from registry.crypto import MasterKeyring, new_data_key
from registry.models import Infrastructure, Module, ModuleVersion
from registry.packs import SourceReader, SourceWriter

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_master_keys_in_env(monkeypatch):
    monkeypatch.delenv("IPP_MASTER_KEYS", raising=False)


@pytest.fixture
def module():
    infrastructure = Infrastructure.objects.create(name="ACME")
    return Module.objects.create(infrastructure=infrastructure, key=uuid.uuid4(), name="Core")


def publish_version(module, number: int, content: bytes) -> ModuleVersion:
    """A version stored the way publishing stores it: encrypted blobs and a wrapped key."""
    storage_id, data_key = uuid.uuid4(), new_data_key()
    writer = SourceWriter(storage_id, data_key)
    writer.add_file("Logic.oml", io.BytesIO(content))
    writer.finish()
    key_id, wrapped = MasterKeyring.load().wrap(data_key, aad=storage_id.bytes)
    return ModuleVersion.objects.create(
        module=module,
        number=number,
        digest=hashlib.sha256(content).hexdigest(),
        storage_id=storage_id,
        wrapped_key=wrapped,
        master_key_id=key_id,
    )


def source_of(version: ModuleVersion) -> bytes:
    version.refresh_from_db()
    data_key = MasterKeyring.load().unwrap(
        version.master_key_id, bytes(version.wrapped_key), aad=version.storage_id.bytes
    )
    return b"".join(SourceReader(version.storage_id, data_key).open("Logic.oml"))


def rotate(*args) -> str:
    out = StringIO()
    call_command("rotate_master_key", *args, stdout=out)
    return out.getvalue()


def test_rotation_rewraps_every_data_key_and_sources_still_open(module, settings):
    versions = [publish_version(module, n, f"version {n}".encode()) for n in (1, 2, 3)]
    old_id = versions[0].master_key_id

    output = rotate()

    new_id = MasterKeyring.load().current_id
    assert new_id != old_id
    assert output.strip() == f"rotated 3 data keys to master key {new_id}"
    assert set(ModuleVersion.objects.values_list("master_key_id", flat=True)) == {new_id}
    assert [source_of(v) for v in versions] == [b"version 1", b"version 2", b"version 3"]
    assert (Path(settings.IPP_KEYS_DIR) / "master" / f"{old_id}.key").exists()


def test_retire_old_deletes_master_keys_no_version_uses(module, settings):
    version = publish_version(module, 1, b"v1")
    old_id = version.master_key_id

    output = rotate("--retire-old")

    assert f"retired 1 old master keys: {old_id}" in output
    assert not (Path(settings.IPP_KEYS_DIR) / "master" / f"{old_id}.key").exists()
    assert source_of(version) == b"v1"
    keys.reload()  # and after a restart
    assert old_id in keys.master().retired
    assert source_of(version) == b"v1"


def test_a_failed_batch_is_rolled_back_earlier_ones_stay_and_resume_finishes(module, settings):
    first, broken, last = (publish_version(module, n, f"v{n}".encode()) for n in (1, 2, 3))
    old_id, good_wrap = broken.master_key_id, bytes(broken.wrapped_key)
    ModuleVersion.objects.filter(pk=broken.pk).update(wrapped_key=b"\0" * 60)

    with pytest.raises(CommandError, match="rotation stopped: the batch that failed was rolled"):
        rotate("--retire-old", "--batch", "1")

    new_id = MasterKeyring.load().current_id
    by_pk = dict(ModuleVersion.objects.values_list("pk", "master_key_id"))
    assert by_pk == {first.pk: new_id, broken.pk: old_id, last.pk: old_id}
    assert (Path(settings.IPP_KEYS_DIR) / "master" / f"{old_id}.key").exists()
    assert [source_of(v) for v in (first, last)] == [b"v1", b"v3"]

    ModuleVersion.objects.filter(pk=broken.pk).update(wrapped_key=good_wrap)
    output = rotate("--resume", "--retire-old")

    assert MasterKeyring.load().current_id == new_id  # --resume made no new key
    assert f"rotated 2 data keys to master key {new_id}" in output
    assert f"retired 1 old master keys: {old_id}" in output
    assert [source_of(v) for v in (first, broken, last)] == [b"v1", b"v2", b"v3"]


def test_rotation_rewraps_in_batches_of_the_given_size(module, monkeypatch):
    versions = [publish_version(module, n, f"v{n}".encode()) for n in range(1, 6)]
    batches = []
    original = rotation.rewrap_batch

    def spy(**kwargs):
        count, last = original(**kwargs)
        batches.append(count)
        return count, last

    monkeypatch.setattr(rotation, "rewrap_batch", spy)
    rotate("--batch", "2")
    assert batches == [2, 2, 1, 0]
    assert [source_of(v) for v in versions] == [f"v{n}".encode() for n in range(1, 6)]


def test_a_version_wrapped_with_the_old_key_during_rotation_keeps_it_until_rewrapped(
    module, monkeypatch, settings
):
    """A publish that wrapped with the old key and committed after the re-wrap pass (a
    node not yet restarted with the new key, say) holds the old key: retirement counts
    it, another pass re-wraps it, and only then does the old key go."""
    first = publish_version(module, 1, b"v1")
    old_id, stale = first.master_key_id, MasterKeyring.load()
    late = []
    original = rotation.rewrap_all

    def rewrap_then_a_late_publish(**kwargs):
        done = original(**kwargs)
        if not late:
            fresh = MasterKeyring.__dict__["load"]
            MasterKeyring.load = classmethod(lambda cls: stale)
            try:
                late.append(publish_version(module, 2, b"late"))
            finally:
                MasterKeyring.load = fresh
        return done

    monkeypatch.setattr(rotation, "rewrap_all", rewrap_then_a_late_publish)
    output = rotate("--retire-old")

    assert late[0].master_key_id == old_id
    assert f"retired 1 old master keys: {old_id}" in output
    assert set(ModuleVersion.objects.values_list("master_key_id", flat=True)) == {
        MasterKeyring.load().current_id
    }
    assert [source_of(v) for v in (first, late[0])] == [b"v1", b"late"]


def test_retirement_keeps_a_key_a_row_still_names():
    stale = MasterKeyring.load()
    infrastructure = Infrastructure.objects.create(name="EMCA")
    module = Module.objects.create(infrastructure=infrastructure, key=uuid.uuid4(), name="M")
    rotation.rotate_master_key()
    version = publish_version(module, 1, b"x")
    ModuleVersion.objects.filter(pk=version.pk).update(
        master_key_id=stale.current_id,
        wrapped_key=stale.wrap(new_data_key(), aad=version.storage_id.bytes)[1],
    )
    result = rotation.retire_unused()
    assert result.retired == [] and result.in_use == {stale.current_id: 1}
    assert stale.current_id in MasterKeyring.load().key_ids


def test_rotation_with_no_versions_only_makes_a_new_key():
    before = MasterKeyring.load().current_id
    output = rotate()
    assert output.strip() == f"rotated 0 data keys to master key {MasterKeyring.load().current_id}"
    assert MasterKeyring.load().current_id != before


def test_with_env_keys_rotation_rewraps_to_the_first_key_listed(module, monkeypatch, settings):
    old, new = (base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2))
    monkeypatch.setenv("IPP_MASTER_KEYS", f"k1:{old}")
    version = publish_version(module, 1, b"env")
    monkeypatch.setenv("IPP_MASTER_KEYS", f"k2:{new},k1:{old}")

    output = rotate("--retire-old")

    assert "rotated 1 data keys to master key k2" in output
    assert "remove the unused ones there (k1)" in output
    assert ModuleVersion.objects.get().master_key_id == "k2"
    assert source_of(version) == b"env"
    assert list(Path(settings.IPP_KEYS_DIR).iterdir()) == []


def test_a_missing_master_key_is_reported_as_a_command_error(module, settings):
    version = publish_version(module, 1, b"v1")
    for key_file in (Path(settings.IPP_KEYS_DIR) / "master").glob("*.key"):
        key_file.unlink()
    keys.reload()  # as after a restart: the deleted key is gone for good
    with pytest.raises(CommandError, match="is missing or retired"):
        rotate()
    (Path(settings.IPP_KEYS_DIR) / "master" / "keyring.json").unlink()
    with pytest.raises(
        CommandError, match=f"rolled back.*master key '{version.master_key_id}' is not in"
    ):
        rotate()
