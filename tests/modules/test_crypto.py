"""Source encryption at rest (SPEC §5): round trips, tampering, keys and bounded memory."""

import base64
import hashlib
import io
import stat
import tracemalloc
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import keys
from registry.crypto import (
    CHUNK_SIZE,
    RECORD_SIZE,
    KeyringError,
    MasterKeyring,
    SourceIntegrityError,
    SourceReader,
    SourceWriter,
    new_data_key,
    remove_source,
)

SECRET = b"-- PROPRIETARY: discount = price * 0.42 --\n"
FILES = {
    "Logic/Discount.oml": SECRET * 10,
    "Logic/Big.bin": bytes(range(256)) * (CHUNK_SIZE * 2 // 256) + b"tail",
    "Logic/Exact.bin": b"e" * CHUNK_SIZE,
    "Empty.txt": b"",
}


@pytest.fixture(autouse=True)
def _no_master_keys_in_env(monkeypatch):
    monkeypatch.delenv("IPP_MASTER_KEYS", raising=False)


def store(files: dict[str, bytes], *, key: bytes | None = None) -> tuple[uuid.UUID, bytes]:
    storage_id, data_key = uuid.uuid4(), key or new_data_key()
    writer = SourceWriter(storage_id, data_key)
    for path, content in files.items():
        assert writer.add_file(path, io.BytesIO(content)) == len(content)
    writer.finish()
    return storage_id, data_key


def read_all(reader: SourceReader, path: str) -> bytes:
    return b"".join(reader.open(path))


def blob_dir(settings, storage_id) -> Path:
    return Path(settings.IPP_BLOB_DIR) / str(storage_id)


def blob(settings, storage_id, number: int) -> Path:
    return blob_dir(settings, storage_id) / f"{number:08d}"


def test_source_round_trips_including_multi_chunk_exact_chunk_and_empty_files():
    storage_id, data_key = store(FILES)
    reader = SourceReader(storage_id, data_key)
    assert reader.list_files() == [(path, len(content)) for path, content in FILES.items()]
    for path, content in FILES.items():
        assert read_all(reader, path) == content
    assert len(list(reader.open("Logic/Big.bin"))) == 3


def test_reader_refuses_an_unknown_path_when_opened():
    storage_id, data_key = store(FILES)
    with pytest.raises(KeyError):
        SourceReader(storage_id, data_key).open("Logic/Missing.oml")


def test_blobs_on_disk_reveal_neither_source_text_nor_paths(settings):
    storage_id, _ = store(FILES)
    names = sorted(p.name for p in blob_dir(settings, storage_id).iterdir())
    assert names == ["00000000", "00000001", "00000002", "00000003", "index"]
    for path in Path(settings.IPP_DATA_DIR).rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert SECRET[:16] not in raw
            assert b"Discount" not in raw and b"Logic" not in raw


def test_each_file_is_chunked_into_fixed_size_records(settings):
    storage_id, _ = store(FILES)
    assert blob(settings, storage_id, 1).stat().st_size == 2 * RECORD_SIZE + 12 + 4 + 16
    assert blob(settings, storage_id, 3).stat().st_size == 12 + 16  # empty: one final record


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_ciphertext_byte_is_an_integrity_error(settings):
    storage_id, data_key = store(FILES)
    flip_byte(blob(settings, storage_id, 1), RECORD_SIZE + 500)
    with pytest.raises(
        SourceIntegrityError, match="chunk 1 of the file 1 .* failed authentication"
    ):
        read_all(SourceReader(storage_id, data_key), "Logic/Big.bin")


def test_swapped_chunks_are_an_integrity_error(settings):
    storage_id, data_key = store(FILES)
    path = blob(settings, storage_id, 1)
    data = path.read_bytes()
    first, second, rest = (
        data[:RECORD_SIZE],
        data[RECORD_SIZE : 2 * RECORD_SIZE],
        data[2 * RECORD_SIZE :],
    )
    path.write_bytes(second + first + rest)
    with pytest.raises(SourceIntegrityError):
        read_all(SourceReader(storage_id, data_key), "Logic/Big.bin")


@pytest.mark.parametrize("keep", [2 * RECORD_SIZE, RECORD_SIZE, 2 * RECORD_SIZE + 20])
def test_a_truncated_file_is_an_integrity_error(settings, keep):
    storage_id, data_key = store(FILES)
    path = blob(settings, storage_id, 1)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(SourceIntegrityError):
        read_all(SourceReader(storage_id, data_key), "Logic/Big.bin")


def test_swapped_files_are_an_integrity_error(settings):
    storage_id, data_key = store({"a.txt": b"A" * 100, "b.txt": b"B" * 100})
    first, second = blob(settings, storage_id, 0), blob(settings, storage_id, 1)
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)
    with pytest.raises(SourceIntegrityError):
        read_all(SourceReader(storage_id, data_key), "a.txt")


def test_a_file_moved_between_versions_is_an_integrity_error_even_with_the_same_key(settings):
    data_key = new_data_key()
    old_id, _ = store({"a.txt": b"old secret"}, key=data_key)
    new_id, _ = store({"a.txt": b"new secret"}, key=data_key)
    blob(settings, new_id, 0).write_bytes(blob(settings, old_id, 0).read_bytes())
    with pytest.raises(SourceIntegrityError):
        read_all(SourceReader(new_id, data_key), "a.txt")


def test_a_tampered_index_or_a_wrong_key_is_an_integrity_error(settings):
    storage_id, data_key = store(FILES)
    with pytest.raises(SourceIntegrityError):
        SourceReader(storage_id, new_data_key()).list_files()
    flip_byte(blob_dir(settings, storage_id) / "index", 30)
    with pytest.raises(SourceIntegrityError, match="index"):
        SourceReader(storage_id, data_key).list_files()


def test_a_missing_blob_is_an_integrity_error(settings):
    storage_id, data_key = store(FILES)
    blob(settings, storage_id, 0).unlink()
    with pytest.raises(SourceIntegrityError, match="missing"):
        read_all(SourceReader(storage_id, data_key), "Logic/Discount.oml")


def test_nothing_is_visible_before_finish_and_abort_leaves_nothing(settings):
    storage_id = uuid.uuid4()
    writer = SourceWriter(storage_id, new_data_key())
    writer.add_file("a.txt", io.BytesIO(b"x"))
    assert not blob_dir(settings, storage_id).exists()
    writer.abort()
    assert list(Path(settings.IPP_BLOB_DIR).iterdir()) == []


class FailingStream(io.RawIOBase):
    def readable(self):
        return True

    def readinto(self, buffer):
        raise OSError("upload connection lost")


def test_a_failed_write_leaves_nothing_behind(settings):
    storage_id = uuid.uuid4()
    with pytest.raises(OSError, match="upload connection lost"):
        with SourceWriter(storage_id, new_data_key()) as writer:
            writer.add_file("a.txt", io.BytesIO(b"fine"))
            writer.add_file("b.txt", FailingStream())
    assert list(Path(settings.IPP_BLOB_DIR).iterdir()) == []


def test_abort_after_finish_removes_the_published_source(settings):
    storage_id = uuid.uuid4()
    writer = SourceWriter(storage_id, new_data_key())
    writer.add_file("a.txt", io.BytesIO(b"x"))
    writer.finish()
    writer.abort()
    assert list(Path(settings.IPP_BLOB_DIR).iterdir()) == []


def test_a_writer_refuses_duplicate_paths_and_an_existing_storage_id():
    storage_id, _ = store({"a.txt": b"x"})
    with pytest.raises(FileExistsError):
        SourceWriter(storage_id, new_data_key())
    with SourceWriter(uuid.uuid4(), new_data_key()) as writer:
        writer.add_file("a.txt", io.BytesIO(b"x"))
        with pytest.raises(ValueError, match="already added"):
            writer.add_file("a.txt", io.BytesIO(b"y"))


def test_remove_source_deletes_the_blobs_and_tolerates_absence(settings):
    storage_id, _ = store(FILES)
    remove_source(storage_id)
    assert not blob_dir(settings, storage_id).exists()
    remove_source(storage_id)


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


# Bounded memory ----------------------------------------------------------------------------


class GeneratedFile(io.RawIOBase):
    """`size` bytes of a cheap, position-dependent pattern, produced as they are read."""

    def __init__(self, size: int):
        self.remaining, self.block = size, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.remaining, 8192)
        buffer[:n] = (self.block.to_bytes(8, "big") * 1024)[:n]
        self.remaining, self.block = self.remaining - n, self.block + 1
        return n


def sha256_of(chunks) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def test_a_200_mb_source_is_written_and_read_back_with_bounded_memory():
    size = 200 * 1024**2
    source = GeneratedFile(size)
    expected = sha256_of(iter(lambda: source.read(CHUNK_SIZE), b""))
    storage_id, data_key = uuid.uuid4(), new_data_key()
    tracemalloc.start()
    try:
        writer = SourceWriter(storage_id, data_key)
        assert writer.add_file("huge.bin", GeneratedFile(size)) == size
        writer.finish()
        write_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        got = sha256_of(SourceReader(storage_id, data_key).open("huge.bin"))
        read_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == expected
    assert write_peak < 16 * 1024**2
    assert read_peak < 16 * 1024**2
