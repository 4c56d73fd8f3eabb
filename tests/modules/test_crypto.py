"""Master keys (SPEC §5): generated privately, rotated, retired, or given by the environment.

The source format (records in one pack per version) is tested in test_packs.py.
"""

import base64
import hashlib
import stat
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import keys
from registry.crypto import KeyringError, MasterKeyring, SourceIntegrityError, new_data_key


@pytest.fixture(autouse=True)
def _no_master_keys_in_env(monkeypatch):
    monkeypatch.delenv("IPP_MASTER_KEYS", raising=False)


# Master keys -------------------------------------------------------------------------------


def test_first_use_generates_a_private_master_key(settings):
    keyring = MasterKeyring.load()
    master_dir = Path(settings.IPP_KEYS_DIR) / "master"
    key_file = master_dir / f"{keyring.current_id}.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((master_dir / "keyring.json").stat().st_mode) == 0o600
    assert len(base64.b64decode(key_file.read_text())) == 32
    keys.reload()
    assert MasterKeyring.load().current_id == keyring.current_id


def test_a_keys_directory_created_on_first_use_is_private(settings, tmp_path):
    settings.IPP_KEYS_DIR = tmp_path / "fresh" / "keys"
    MasterKeyring.load()
    assert stat.S_IMODE(settings.IPP_KEYS_DIR.stat().st_mode) == 0o700


def test_a_wrapped_key_unwraps_only_with_its_storage_id():
    keyring, data_key, storage_id = MasterKeyring.load(), new_data_key(), uuid.uuid4()
    key_id, wrapped = keyring.wrap(data_key, aad=storage_id.bytes)
    assert data_key not in wrapped
    assert keyring.unwrap(key_id, wrapped, aad=storage_id.bytes) == data_key
    with pytest.raises(SourceIntegrityError):
        keyring.unwrap(key_id, wrapped, aad=uuid.uuid4().bytes)


def test_a_key_wrapped_before_rotation_still_unwraps_after_it(settings):
    keyring, data_key, aad = MasterKeyring.load(), new_data_key(), b"storage"
    old_id, wrapped = keyring.wrap(data_key, aad=aad)
    new_id = keys.rotate("master")
    assert new_id != old_id
    assert MasterKeyring.load().wrap(data_key, aad=aad)[0] == new_id
    keys.reload()
    assert MasterKeyring.load().current_id == new_id
    assert MasterKeyring.load().unwrap(old_id, wrapped, aad=aad) == data_key
    for key_file in (Path(settings.IPP_KEYS_DIR) / "master").iterdir():
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_keyring_loaded_before_a_rotation_still_unwraps():
    stale = MasterKeyring.load()
    keys.rotate("master")
    key_id, wrapped = MasterKeyring.load().wrap(b"k" * 32, aad=b"x")
    assert stale.unwrap(key_id, wrapped, aad=b"x") == b"k" * 32


def test_an_unknown_or_retired_master_key_id_is_a_clear_error():
    with pytest.raises(KeyringError, match="master key 'gone' is not in"):
        MasterKeyring.load().unwrap("gone", b"\0" * 60, aad=b"")
    old_id, wrapped = MasterKeyring.load().wrap(b"k" * 32, aad=b"x")
    keys.rotate("master")
    keys.retire("master", old_id)
    with pytest.raises(KeyringError, match=f"master key '{old_id}' was retired"):
        MasterKeyring.load().unwrap(old_id, wrapped, aad=b"x")


def test_a_keys_dir_of_the_older_layout_still_unwraps(settings, tmp_path):
    old_key, data_key = hashlib.sha256(b"old").digest(), new_data_key()
    old_ring = keys.Ring(
        "master",
        {"20250101T000000Z-1a2b3c4d": old_key},
        "20250101T000000Z-1a2b3c4d",
        source="test",
        from_env=False,
    )
    key_id, wrapped = MasterKeyring(old_ring).wrap(data_key, aad=b"s")
    settings.IPP_KEYS_DIR = keys_dir = tmp_path / "old-keys"
    keys_dir.mkdir(mode=0o700)
    (keys_dir / f"master-{key_id}.key").write_text(base64.b64encode(old_key).decode() + "\n")
    (keys_dir / "master-current").write_text(key_id + "\n")

    assert MasterKeyring.load().unwrap(key_id, wrapped, aad=b"s") == data_key
    assert sorted(p.name for p in keys_dir.iterdir()) == ["master"]


def env_key(seed: bytes) -> str:
    return base64.b64encode(hashlib.sha256(seed).digest()).decode()


def test_master_keys_from_the_environment_come_first_and_write_no_file(settings, monkeypatch):
    monkeypatch.setenv("IPP_MASTER_KEYS", f"old:{env_key(b'1')}")
    _, wrapped = MasterKeyring.load().wrap(b"d" * 32, aad=b"s")
    monkeypatch.setenv("IPP_MASTER_KEYS", f"new:{env_key(b'2')}, old:{env_key(b'1')}")
    keyring = MasterKeyring.load()
    assert (keyring.current_id, keyring.from_env, keyring.key_ids) == ("new", True, ["new", "old"])
    assert keyring.unwrap("old", wrapped, aad=b"s") == b"d" * 32
    assert list(Path(settings.IPP_KEYS_DIR).iterdir()) == []
    with pytest.raises(ImproperlyConfigured, match="put the new key first in IPP_MASTER_KEYS"):
        keys.rotate("master")


@pytest.mark.parametrize(
    "value, message",
    [
        ("nokey", "must be <id>:<base64 key>"),
        ("bad id:" + env_key(b"x"), "must be <id>:<base64 key>"),
        ("a:!!!!", "is not valid base64"),
        ("a:" + base64.b64encode(b"short").decode(), "must decode to 32 bytes, not 5"),
        (f"a:{env_key(b'1')},a:{env_key(b'2')}", "names key 'a' twice"),
        (" , ", "holds no key"),
    ],
)
def test_a_malformed_master_keys_variable_is_refused(monkeypatch, value, message):
    monkeypatch.setenv("IPP_MASTER_KEYS", value)
    with pytest.raises(KeyringError, match=f"IPP_MASTER_KEYS.*{message}"):
        MasterKeyring.load()
