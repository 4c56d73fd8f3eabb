"""One encrypted object per version (SPEC §5, §9): round trips, layout, tampering, cleanup.

Every test runs against both blob stores; tampering goes through the store's interface.
"""

import io
import mmap
import uuid
from pathlib import Path

import pytest
from django.db import DatabaseError

from registry import blobs
from registry.blobs import filesystem
from registry.crypto import CHUNK_SIZE, OVERHEAD, SourceIntegrityError, new_data_key
from registry.models import Blob, BlobChunk
from registry.packs import TRAILER, SourceReader, SourceWriter, pack_name, remove_source
from tests.modules.conftest import object_bytes, replace_object

SECRET = b"-- PROPRIETARY: discount = price * 0.42 --\n"
FILES = {
    "Logic/Discount.oml": SECRET * 10,
    "Logic/Big.bin": bytes(range(256)) * (CHUNK_SIZE * 2 // 256) + b"tail",
    "Logic/Exact.bin": b"e" * CHUNK_SIZE,
    "Empty.txt": b"",
}
RECORD = CHUNK_SIZE + OVERHEAD


def store(files: dict[str, bytes], *, key: bytes | None = None) -> tuple[uuid.UUID, bytes]:
    storage_id, data_key = uuid.uuid4(), key or new_data_key()
    writer = SourceWriter(storage_id, data_key)
    for path, content in files.items():
        assert writer.add_file(path, io.BytesIO(content)) == len(content)
    writer.finish()
    return storage_id, data_key


def read_all(reader: SourceReader, path: str) -> bytes:
    return b"".join(reader.open(path))


def offset_of_file(number: int) -> int:
    """Where file `number` of FILES starts in its pack."""
    sizes = [len(content) for content in FILES.values()][:number]
    return sum(size + OVERHEAD * max(1, -(-size // CHUNK_SIZE)) for size in sizes)


def test_source_round_trips_including_multi_chunk_exact_chunk_and_empty_files(blob_store):
    storage_id, data_key = store(FILES)
    reader = SourceReader(storage_id, data_key)
    assert reader.list_files() == [(path, len(content)) for path, content in FILES.items()]
    for path, content in FILES.items():
        assert read_all(reader, path) == content
    assert len(list(reader.open("Logic/Big.bin"))) == 3


@pytest.mark.parametrize("mapping", ["small windows", "unavailable"])
def test_files_read_back_whole_across_mapping_windows_or_without_a_mapping(
    blob_store, monkeypatch, mapping
):
    """The filesystem store lends records from mmap windows: records that straddle a
    window's end, and a store whose files cannot be mapped (read into a buffer instead),
    give the same plaintext."""
    if mapping == "small windows":
        monkeypatch.setattr(filesystem, "MAP_WINDOW", 3 * mmap.PAGESIZE)
    else:

        def refuse(*args, **kwargs):
            raise OSError(19, "no mapping here")

        monkeypatch.setattr(mmap, "mmap", refuse)
    storage_id, data_key = store(FILES)
    reader = SourceReader(storage_id, data_key)
    for path, content in FILES.items():
        assert read_all(reader, path) == content


def test_reader_refuses_an_unknown_path_when_opened(blob_store):
    storage_id, data_key = store(FILES)
    with pytest.raises(KeyError):
        SourceReader(storage_id, data_key).open("Logic/Missing.oml")


def test_a_version_is_one_object_of_fixed_size_records_index_and_trailer(blob_store):
    storage_id, _ = store(FILES)
    assert [info.name for info in blob_store.listing()] == [f"{storage_id}.pack"]
    size = len(object_bytes(blob_store, pack_name(storage_id)))
    index_offset = offset_of_file(len(FILES))
    assert (
        index_offset
        == (OVERHEAD + len(SECRET) * 10) + (3 * OVERHEAD + 2 * CHUNK_SIZE + 4) + (RECORD) + OVERHEAD
    )
    assert index_offset < size - TRAILER.size < index_offset + 1024


def test_the_stored_object_reveals_neither_source_text_nor_paths(blob_store, settings):
    storage_id, _ = store(FILES)
    stored = [object_bytes(blob_store, pack_name(storage_id))]
    stored += [p.read_bytes() for p in Path(settings.IPP_DATA_DIR).rglob("*") if p.is_file()]
    for raw in stored:
        assert SECRET[:16] not in raw
        assert b"Discount" not in raw and b"Logic" not in raw


def test_reading_one_file_reads_only_its_own_records_and_the_index(blob_store, monkeypatch):
    storage_id, data_key = store({f"f{n}.bin": bytes([n]) * (3 * CHUNK_SIZE) for n in range(5)})
    reader = SourceReader(storage_id, data_key)
    reader.list_files()
    reads: list[tuple[int, int]] = []
    handle_class = type(blob_store.open(pack_name(storage_id)))
    original = handle_class.regions  # records are lent by the handle, in one call per file

    def counting_regions(self, offset, lengths):
        for view in original(self, offset, lengths):
            reads.append((offset, len(view)))
            offset += len(view)
            yield view

    monkeypatch.setattr(handle_class, "regions", counting_regions)
    assert read_all(reader, "f3.bin") == b"\3" * (3 * CHUNK_SIZE)
    assert reads == [(3 * 3 * RECORD + n * RECORD, RECORD) for n in range(3)]


def flip_byte(store, storage_id, offset: int) -> None:
    data = bytearray(object_bytes(store, pack_name(storage_id)))
    data[offset] ^= 0x01
    replace_object(store, pack_name(storage_id), bytes(data))


def test_a_flipped_ciphertext_byte_is_an_integrity_error(blob_store):
    storage_id, data_key = store(FILES)
    flip_byte(blob_store, storage_id, offset_of_file(1) + RECORD + 500)
    with pytest.raises(
        SourceIntegrityError, match="chunk 1 of the file 1 .* failed authentication"
    ):
        read_all(SourceReader(storage_id, data_key), "Logic/Big.bin")


def test_swapped_records_are_an_integrity_error(blob_store):
    storage_id, data_key = store(FILES)
    data = object_bytes(blob_store, pack_name(storage_id))
    start = offset_of_file(1)
    first, second = data[start : start + RECORD], data[start + RECORD : start + 2 * RECORD]
    swapped = data[:start] + second + first + data[start + 2 * RECORD :]
    replace_object(blob_store, pack_name(storage_id), swapped)
    with pytest.raises(SourceIntegrityError, match="chunk 0 of the file 1"):
        read_all(SourceReader(storage_id, data_key), "Logic/Big.bin")


@pytest.mark.parametrize("cut", [1, TRAILER.size, 500, RECORD])
def test_a_truncated_object_is_an_integrity_error(blob_store, cut):
    storage_id, data_key = store(FILES)
    data = object_bytes(blob_store, pack_name(storage_id))
    replace_object(blob_store, pack_name(storage_id), data[:-cut])
    with pytest.raises(SourceIntegrityError, match="index"):
        SourceReader(storage_id, data_key).list_files()


def test_a_file_whose_records_are_swapped_with_another_files_is_an_integrity_error(blob_store):
    storage_id, data_key = store({"a.txt": b"A" * 100, "b.txt": b"B" * 100})
    data = object_bytes(blob_store, pack_name(storage_id))
    size = 100 + OVERHEAD
    swapped = data[size : 2 * size] + data[:size] + data[2 * size :]
    replace_object(blob_store, pack_name(storage_id), swapped)
    with pytest.raises(SourceIntegrityError, match="file 0"):
        read_all(SourceReader(storage_id, data_key), "a.txt")


def test_a_pack_moved_between_versions_is_an_integrity_error_even_with_the_same_key(blob_store):
    data_key = new_data_key()
    old_id, _ = store({"a.txt": b"old secret"}, key=data_key)
    new_id, _ = store({"a.txt": b"new secret"}, key=data_key)
    replace_object(blob_store, pack_name(new_id), object_bytes(blob_store, pack_name(old_id)))
    with pytest.raises(SourceIntegrityError):
        SourceReader(new_id, data_key).list_files()


def test_a_tampered_index_or_a_wrong_key_is_an_integrity_error(blob_store):
    storage_id, data_key = store(FILES)
    with pytest.raises(SourceIntegrityError, match="index"):
        SourceReader(storage_id, new_data_key()).list_files()
    flip_byte(blob_store, storage_id, offset_of_file(len(FILES)) + 30)
    with pytest.raises(SourceIntegrityError, match="index"):
        SourceReader(storage_id, data_key).list_files()


def test_a_missing_object_is_an_integrity_error(blob_store):
    storage_id, data_key = store(FILES)
    blob_store.delete(pack_name(storage_id))
    with pytest.raises(SourceIntegrityError, match="missing"):
        SourceReader(storage_id, data_key).list_files()


def test_nothing_is_visible_before_finish_and_abort_leaves_nothing(blob_store):
    storage_id = uuid.uuid4()
    writer = SourceWriter(storage_id, new_data_key())
    writer.add_file("a.txt", io.BytesIO(b"x"))
    assert not blob_store.exists(pack_name(storage_id))
    writer.abort()
    assert list(blob_store.listing()) == []


class FailingStream(io.RawIOBase):
    def readable(self):
        return True

    def readinto(self, buffer):
        raise OSError("upload connection lost")


def test_a_failed_write_leaves_nothing_behind(blob_store):
    storage_id = uuid.uuid4()
    with pytest.raises(OSError, match="upload connection lost"):
        with SourceWriter(storage_id, new_data_key()) as writer:
            writer.add_file("a.txt", io.BytesIO(b"fine"))
            writer.add_file("b.txt", FailingStream())
    assert list(blob_store.listing()) == []


def test_abort_after_finish_removes_the_stored_source(blob_store):
    writer = SourceWriter(uuid.uuid4(), new_data_key())
    writer.add_file("a.txt", io.BytesIO(b"x"))
    writer.finish()
    writer.abort()
    assert list(blob_store.listing()) == []


def test_a_writer_refuses_duplicate_paths_and_an_existing_storage_id(blob_store):
    storage_id, _ = store({"a.txt": b"x"})
    with pytest.raises(FileExistsError):
        SourceWriter(storage_id, new_data_key())
    with SourceWriter(uuid.uuid4(), new_data_key()) as writer:
        writer.add_file("a.txt", io.BytesIO(b"x"))
        with pytest.raises(ValueError, match="already added"):
            writer.add_file("a.txt", io.BytesIO(b"y"))


def test_remove_source_deletes_the_object_and_tolerates_absence(blob_store):
    storage_id, _ = store(FILES)
    remove_source(storage_id)
    assert not blob_store.exists(pack_name(storage_id))
    remove_source(storage_id)
    assert list(blob_store.listing()) == []


def test_the_database_store_keeps_an_object_in_one_mebibyte_rows(blob_store):
    if blob_store.kind != "database":
        pytest.skip("rows are the database store's")
    storage_id, _ = store(FILES)
    blob = Blob.objects.get(name=pack_name(storage_id))
    sizes = [len(d) for d in BlobChunk.objects.filter(blob=blob).values_list("data", flat=True)]
    assert sum(sizes) == blob.size and sizes[:-1] == [blobs.database.CHUNK] * (len(sizes) - 1)


def test_removing_source_after_a_failed_publish_never_hides_why_it_failed(
    blob_store, monkeypatch, caplog
):
    storage_id, _ = store({"a.txt": b"x"})

    def broken(name):
        raise DatabaseError("current transaction is aborted")

    monkeypatch.setattr(type(blob_store), "delete", lambda self, name: broken(name))
    remove_source(storage_id)  # logged, left for sweep_blobs
    assert f"source {storage_id} left for sweep_blobs" in caplog.text
    assert blob_store.exists(pack_name(storage_id))
