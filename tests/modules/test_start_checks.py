"""A node refuses to start (`manage.py check` fails) without the site's keys (SPEC §9)."""

import base64
import hashlib
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from core import keys
from registry.crypto import MasterKeyring, new_data_key
from registry.models import Infrastructure, Module, ModuleVersion

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE_DATABASE = "postgres://postgres@127.0.0.1:1/none"


def key(seed: bytes) -> str:
    return base64.b64encode(hashlib.sha256(seed).digest()).decode()


ALL_KEYS = {
    "IPP_SECRET_KEY": "a-site-secret-" + "x7Q!" * 12,
    "IPP_MASTER_KEYS": f"m1:{key(b'master')}",
    "IPP_AUTHORITY_KEYS": f"a1:{key(b'authority')}",
    "IPP_SEALING_KEY": key(b"sealing"),
}


def manage_check(tmp_path, **env_extra) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("IPP_") and k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL")
    }
    env.update({"IPP_DATA_DIR": str(tmp_path), **env_extra})
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_a_node_with_a_shared_database_refuses_to_generate_keys(tmp_path):
    result = manage_check(tmp_path, DATABASE_URL=UNREACHABLE_DATABASE)
    assert result.returncode == 1, result.stdout
    assert "registry.E001" in result.stderr
    for variable in ALL_KEYS:
        assert variable in result.stderr


def test_one_missing_key_is_enough_to_refuse_and_names_only_it(tmp_path):
    given = {k: v for k, v in ALL_KEYS.items() if k != "IPP_SEALING_KEY"}
    result = manage_check(tmp_path, DATABASE_URL=UNREACHABLE_DATABASE, **given)
    assert result.returncode == 1
    assert "IPP_SEALING_KEY unset" in result.stderr
    assert "IPP_MASTER_KEYS" not in result.stderr.split("HINT")[0]


def test_a_node_with_every_key_from_the_environment_starts(tmp_path):
    result = manage_check(tmp_path, DATABASE_URL=UNREACHABLE_DATABASE, **ALL_KEYS)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "keys").exists() or not any((tmp_path / "keys").rglob("*.key"))


def test_generated_keys_are_allowed_when_asked_and_on_the_embedded_default(tmp_path):
    allowed = manage_check(
        tmp_path, DATABASE_URL=UNREACHABLE_DATABASE, IPP_ALLOW_GENERATED_KEYS="1"
    )
    assert allowed.returncode == 0, allowed.stderr
    embedded = manage_check(tmp_path / "embedded")
    assert embedded.returncode == 0, embedded.stderr


# The stored data keys must unwrap --------------------------------------------------------


@pytest.fixture
def stored_version(db, monkeypatch) -> ModuleVersion:
    monkeypatch.setenv("IPP_MASTER_KEYS", f"m1:{key(b'master')}")
    infrastructure = Infrastructure.objects.create(name="ACME")
    module = Module.objects.create(infrastructure=infrastructure, key=uuid.uuid4(), name="Core")
    storage_id = uuid.uuid4()
    key_id, wrapped = MasterKeyring.load().wrap(new_data_key(), aad=storage_id.bytes)
    return ModuleVersion.objects.create(
        module=module,
        number=1,
        digest="0" * 64,
        storage_id=storage_id,
        wrapped_key=wrapped,
        master_key_id=key_id,
    )


def check() -> str:
    out = io.StringIO()
    call_command("check", stdout=out)
    return out.getvalue()


def test_a_node_whose_keyring_unwraps_the_stored_data_keys_starts(stored_version):
    assert "no issues" in check()


def test_a_node_without_the_master_key_of_stored_versions_refuses_to_start(
    stored_version, monkeypatch
):
    monkeypatch.setenv("IPP_MASTER_KEYS", f"m2:{key(b'another')}")
    with pytest.raises(SystemCheckError, match=r"registry.E002.*1 versions' data keys .* 'm1'"):
        check()


def test_a_node_with_another_key_under_the_same_id_refuses_to_start(stored_version, monkeypatch):
    monkeypatch.setenv("IPP_MASTER_KEYS", f"m1:{key(b'impostor')}")
    with pytest.raises(SystemCheckError, match=r"registry.E003.*master key 'm1' of this node"):
        check()


def test_a_retired_master_key_still_in_use_refuses_to_start(db, monkeypatch):
    monkeypatch.delenv("IPP_MASTER_KEYS", raising=False)
    infrastructure = Infrastructure.objects.create(name="ACME")
    module = Module.objects.create(infrastructure=infrastructure, key=uuid.uuid4(), name="Core")
    storage_id = uuid.uuid4()
    old_id, wrapped = MasterKeyring.load().wrap(new_data_key(), aad=storage_id.bytes)
    ModuleVersion.objects.create(
        module=module,
        number=1,
        digest="1" * 64,
        storage_id=storage_id,
        wrapped_key=wrapped,
        master_key_id=old_id,
    )
    keys.rotate("master")
    keys.retire("master", old_id)  # by hand, past the command's checks
    with pytest.raises(SystemCheckError, match=f"'{old_id}'.*was retired"):
        check()
