"""The one key provider (core.keys): four keys, loaded once, from the environment or one
file layout under the keys dir, older layouts converted."""

import base64
import json
import shutil
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.exceptions import ImproperlyConfigured

from core import keys
from core.keys import files, specs

VARIABLES = [
    "IPP_SECRET_KEY",
    "IPP_MASTER_KEYS",
    "IPP_AUTHORITY_KEYS",
    "IPP_AUTHORITY_RETIRED",
    "IPP_SEALING_KEY",
]
MESSAGE = b"a checkpoint"


@pytest.fixture(autouse=True)
def _no_keys_in_env(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    keys.reload()
    yield
    keys.reload()


@pytest.fixture
def keys_dir(settings, tmp_path) -> Path:
    """A keys dir that does not exist yet, as on a fresh machine."""
    settings.IPP_KEYS_DIR = tmp_path / "fresh" / "keys"
    return settings.IPP_KEYS_DIR


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def use_all() -> dict:
    """Every key once, as the site uses them."""
    kid, signature = keys.authority().sign(MESSAGE)
    return {
        "secret": keys.secret_key(),
        "master": keys.master().current,
        "signature": (kid, signature),
        "sealing": keys.sealing_key(),
        "derived": keys.derive_key(b"ipp fingerprint v1"),
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# Loaded once -------------------------------------------------------------------------------


def test_keys_are_read_once_and_work_after_their_files_are_deleted(keys_dir):
    first = use_all()
    shutil.rmtree(keys_dir)

    assert use_all()["sealing"] == first["sealing"]
    assert use_all()["secret"] == first["secret"]
    assert keys.authority().verify(*first["signature"], MESSAGE) is False  # wrong message
    assert keys.authority().verify(first["signature"][0], MESSAGE, first["signature"][1])
    assert not keys_dir.exists()  # nothing was read back or written again


def test_after_reload_deleted_keys_are_generated_anew(keys_dir):
    first = use_all()
    shutil.rmtree(keys_dir)

    keys.reload()

    second = use_all()
    assert second["sealing"] != first["sealing"]
    assert second["master"] != first["master"]
    assert second["derived"] != first["derived"]
    assert not keys.authority().verify(first["signature"][0], MESSAGE, first["signature"][1])
    assert (keys_dir / "sealing" / files.STATE).exists()


def test_the_same_ring_is_handed_out_until_its_keyring_changes(keys_dir):
    ring = keys.master()
    assert keys.master() is ring
    # Another process rotates: it writes a new key and replaces keyring.json.
    kid = files.rotate(specs.MASTER, keys_dir / "master", frozenset())

    fresh = keys.master()
    assert fresh is not ring
    assert fresh.current_id == kid
    assert fresh.key(ring.current_id) == ring.current


# Environment first -------------------------------------------------------------------------


def env_keys(monkeypatch) -> dict:
    values = {
        "secret": "a-production-secret-" + "x7Q!" * 12,
        "master": bytes(range(32)),
        "authority": bytes(range(32, 64)),
        "sealing": bytes(range(64, 96)),
    }
    monkeypatch.setenv("IPP_SECRET_KEY", values["secret"])
    monkeypatch.setenv("IPP_MASTER_KEYS", f"m2:{b64(values['master'])},m1:{b64(b'1' * 32)}")
    monkeypatch.setenv("IPP_AUTHORITY_KEYS", f"a1:{b64(values['authority'])}")
    monkeypatch.setenv("IPP_SEALING_KEY", b64(values["sealing"]))
    return values


def test_keys_given_by_the_environment_are_used_and_nothing_is_written(keys_dir, monkeypatch):
    values = env_keys(monkeypatch)

    used = use_all()

    assert used["secret"] == values["secret"]
    assert (keys.master().current_id, used["master"]) == ("m2", values["master"])
    assert keys.master().key("m1") == b"1" * 32
    assert used["sealing"] == values["sealing"]
    public = Ed25519PrivateKey.from_private_bytes(values["authority"]).public_key()
    assert keys.public_keys() == [("a1", public.public_bytes_raw())]
    assert keys.generated_keys() == []
    assert not keys_dir.exists()


def test_the_environment_takes_precedence_over_files_already_generated(keys_dir, monkeypatch):
    generated = use_all()
    values = env_keys(monkeypatch)

    assert keys.sealing_key() == values["sealing"] != generated["sealing"]
    assert keys.master().current == values["master"]
    assert keys.secret_key() == values["secret"]
    assert keys.authority().current_id == "a1"


def test_generated_keys_names_what_the_environment_does_not_give_and_writes_nothing(
    keys_dir, monkeypatch
):
    assert keys.generated_keys() == ["secret", "master", "authority", "sealing"]
    monkeypatch.setenv("IPP_MASTER_KEYS", f"m:{b64(b'm' * 32)}")
    monkeypatch.setenv("IPP_SEALING_KEY", b64(b"s" * 32))
    assert keys.generated_keys() == ["secret", "authority"]
    assert not keys_dir.exists()


def test_the_secret_key_for_settings_comes_from_the_given_keys_dir(tmp_path, monkeypatch):
    secret = keys.secret_key(tmp_path / "keys")
    assert len(secret) >= 50
    assert keys.secret_key(tmp_path / "keys") == secret
    monkeypatch.setenv("IPP_SECRET_KEY", "given")
    assert keys.secret_key(tmp_path / "other") == "given"
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize(
    "variable, value, use",
    [
        ("IPP_MASTER_KEYS", "nokey", keys.master),
        ("IPP_MASTER_KEYS", f"m:{b64(b'short')}", keys.master),
        ("IPP_MASTER_KEYS", f"m:{b64(b'm' * 32)},m:{b64(b'n' * 32)}", keys.master),
        ("IPP_AUTHORITY_KEYS", "a:!!!!", keys.authority),
        ("IPP_AUTHORITY_KEYS", "bad id:" + b64(b"a" * 32), keys.public_keys),
        ("IPP_SEALING_KEY", "not base64", keys.sealing_key),
        ("IPP_SEALING_KEY", b64(b"s" * 16), lambda: keys.derive_key(b"x")),
    ],
)
def test_a_bad_environment_value_is_improperly_configured_naming_the_variable(
    keys_dir, monkeypatch, variable, value, use
):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ImproperlyConfigured, match=variable):
        use()
    assert not keys_dir.exists()


def test_retiring_the_current_authority_key_in_the_environment_is_refused(monkeypatch):
    monkeypatch.setenv("IPP_AUTHORITY_KEYS", f"a2:{b64(b'2' * 32)},a1:{b64(b'1' * 32)}")
    monkeypatch.setenv("IPP_AUTHORITY_RETIRED", "a1")
    assert keys.authority().key_ids == ["a2"]
    monkeypatch.setenv("IPP_AUTHORITY_RETIRED", "a2")
    with pytest.raises(ImproperlyConfigured, match="IPP_AUTHORITY_RETIRED"):
        keys.authority()


def test_keys_from_the_environment_are_not_rotated_or_retired_here(monkeypatch):
    env_keys(monkeypatch)
    with pytest.raises(ImproperlyConfigured, match="put the new key first in IPP_MASTER_KEYS"):
        keys.rotate("master")
    with pytest.raises(ImproperlyConfigured, match="add it to IPP_AUTHORITY_RETIRED"):
        keys.retire("authority", "a1")
    with pytest.raises(ImproperlyConfigured, match="only the master and authority keys rotate"):
        keys.rotate("sealing")


# One file layout ---------------------------------------------------------------------------


def test_every_generated_key_file_has_one_layout_and_is_private(keys_dir):
    use_all()
    keys.rotate("authority")

    assert mode(keys_dir) == 0o700
    assert sorted(p.name for p in keys_dir.iterdir()) == sorted(keys.NAMES)
    for directory in keys_dir.iterdir():
        assert mode(directory) == 0o700
        state = json.loads((directory / files.STATE).read_text())
        assert set(state) == {"current", "retired"} and state["retired"] == []
        key_files = sorted(directory.glob("*.key"))
        assert {p.name for p in directory.iterdir()} == {files.STATE} | {p.name for p in key_files}
        assert f"{state['current']}.key" in {p.name for p in key_files}
        for path in [directory / files.STATE, *key_files]:
            assert mode(path) == 0o600
        for path in key_files:
            raw = base64.b64decode(path.read_text().strip(), validate=True)
            assert len(raw) == (32 if directory.name != "secret" else 86)
    assert len(list((keys_dir / "authority").glob("*.key"))) == 2


def test_a_process_that_loses_the_race_to_generate_keeps_the_winners_key(keys_dir):
    directory = keys_dir / "sealing"
    files.private_dir(keys_dir)
    files.private_dir(directory)
    files.generate(specs.SEALING, directory)
    files.generate(specs.SEALING, directory)  # the second process arrives late

    (key_file,) = directory.glob("*.key")
    assert json.loads((directory / files.STATE).read_text())["current"] == key_file.stem
    assert keys.sealing_key() == base64.b64decode(key_file.read_text())


# Older layouts -----------------------------------------------------------------------------


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)


@pytest.fixture
def old_keys_dir(settings, tmp_path) -> dict:
    """A keys dir as the site wrote it before core.keys held every key."""
    root = settings.IPP_KEYS_DIR = tmp_path / "old" / "keys"
    old = {
        "m1": b"1" * 32,
        "m2": b"2" * 32,
        "sealing": b"s" * 32,
        "a0": bytes(range(32)),
        "a1": bytes(range(1, 33)),
        "secret": "old-django-secret-" + "k" * 50,
    }
    write(root / "master-20250101T000000Z-00000001.key", b64(old["m1"]) + "\n")
    write(root / "master-20250102T000000Z-00000002.key", b64(old["m2"]) + "\n")
    write(root / "master-current", "20250102T000000Z-00000002\n")
    write(root / "sealing" / "sealing.key", b64(old["sealing"]) + "\n")
    write(root / "authority" / "keyring.json", '{"current": "a1", "retired": ["a0"]}')
    write(root / "authority" / "a0.key", b64(old["a0"]))
    write(root / "authority" / "a1.key", b64(old["a1"]))
    write(root / "django-secret-key", old["secret"])
    return {"root": root, **old}


def check_old_keys(old: dict) -> None:
    master = keys.master()
    assert master.current_id == "20250102T000000Z-00000002"
    assert master.current == old["m2"]
    assert master.key("20250101T000000Z-00000001") == old["m1"]
    assert keys.sealing_key() == old["sealing"]
    assert keys.secret_key() == old["secret"]
    signed = Ed25519PrivateKey.from_private_bytes(old["a1"]).sign(MESSAGE)
    assert keys.authority().verify("a1", MESSAGE, b64(signed))
    by_retired = Ed25519PrivateKey.from_private_bytes(old["a0"]).sign(MESSAGE)
    assert not keys.authority().verify("a0", MESSAGE, b64(by_retired))


def test_an_older_keys_dir_is_converted_once_and_keeps_every_key(old_keys_dir):
    check_old_keys(old_keys_dir)
    root = old_keys_dir["root"]
    assert sorted(p.name for p in root.iterdir()) == sorted(keys.NAMES)
    for name in keys.NAMES:
        assert mode(root / name / files.STATE) == 0o600

    keys.reload()  # a restart reads the converted layout, and generates nothing
    check_old_keys(old_keys_dir)
    assert len(list((root / "master").glob("*.key"))) == 2
    assert len(list((root / "secret").glob("*.key"))) == 1


def test_an_older_keys_dir_missing_its_current_master_key_is_a_clear_error(old_keys_dir):
    (old_keys_dir["root"] / "master-20250102T000000Z-00000002.key").unlink()
    with pytest.raises(ImproperlyConfigured, match="master-current names master key"):
        keys.master()


# Rotation and retirement -------------------------------------------------------------------


def test_rotation_and_retirement_of_the_authority_survive_a_reload(keys_dir):
    old_kid, old_signature = keys.authority().sign(MESSAGE)
    new_kid = keys.rotate("authority")
    keys.reload()

    assert keys.authority().current_id == new_kid != old_kid
    assert keys.authority().verify(old_kid, MESSAGE, old_signature)
    assert [kid for kid, _ in keys.public_keys()] == [new_kid, old_kid]

    keys.retire("authority", old_kid)
    keys.reload()

    assert not keys.authority().verify(old_kid, MESSAGE, old_signature)
    assert old_kid in keys.authority().retired
    assert not (keys_dir / "authority" / f"{old_kid}.key").exists()
    ((kid, raw),) = keys.public_keys()
    assert kid == new_kid
    _, signature = keys.authority().sign(MESSAGE)
    Ed25519PublicKey.from_public_bytes(raw).verify(base64.b64decode(signature), MESSAGE)


def test_the_current_or_an_unknown_key_cannot_be_retired(keys_dir):
    with pytest.raises(ImproperlyConfigured, match="rotate first"):
        keys.retire("master", keys.master().current_id)
    with pytest.raises(keys.UnknownKey):
        keys.retire("authority", "nosuchkey")


def test_a_rotated_master_key_keeps_the_old_one_after_a_reload(keys_dir):
    old = keys.master()
    new_kid = keys.rotate("master")
    keys.reload()
    assert keys.master().current_id == new_kid
    assert keys.master().key(old.current_id) == old.current


# Derived keys ------------------------------------------------------------------------------


def test_derive_key_is_stable_and_differs_per_purpose(keys_dir, monkeypatch):
    fingerprint = keys.derive_key(b"ipp fingerprint v1")
    keys.reload()

    assert keys.derive_key(b"ipp fingerprint v1") == fingerprint
    assert len(fingerprint) == 32
    assert keys.derive_key(b"ipp fingerprint v2") != fingerprint
    assert fingerprint != keys.sealing_key()
    with pytest.raises(ValueError):
        keys.derive_key(b"")
    monkeypatch.setenv("IPP_SEALING_KEY", b64(b"k" * 32))
    assert keys.derive_key(b"ipp fingerprint v1") != fingerprint
