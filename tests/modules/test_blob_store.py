"""The blob store contract (registry/blobs), run against both backends of IPP_BLOB_STORE."""

import io
import mmap
import os
import stat
import threading
import tracemalloc

import pytest
from django.db import connection, connections, transaction

from registry import blobs
from registry.blobs import BlobExists, BlobMissing, FilesystemBlobStore, filesystem
from registry.crypto import new_data_key
from registry.packs import SourceWriter
from tests.modules.conftest import object_bytes

MIB = 1024 * 1024


def pattern(size: int) -> bytes:
    return bytes((n * 7 + n // 251) % 256 for n in range(size))


def test_an_object_reads_back_whole_and_in_any_range(blob_store):
    data = pattern(3 * MIB + 12345)
    assert blob_store.write("obj", [data[:1000], data[1000 : 2 * MIB], data[2 * MIB :]]) == len(
        data
    )
    with blob_store.open("obj") as handle:
        assert handle.size == len(data)
        for offset, length in [
            (0, 10),
            (MIB - 5, 10),
            (MIB - 5, 2 * MIB + 10),
            (len(data) - 3, 10),
        ]:
            assert handle.read(offset, length) == data[offset : offset + length]
        assert handle.read(len(data), 10) == b""
    assert object_bytes(blob_store, "obj") == data


def test_an_object_reads_into_a_buffer_in_any_range(blob_store):
    data = pattern(3 * MIB + 12345)
    blob_store.write("obj", [data])
    with blob_store.open("obj") as handle:
        for offset, length in [(0, 10), (MIB - 5, 2 * MIB + 10), (len(data) - 3, 10)]:
            buffer = bytearray(b"\xee" * length)
            got = handle.read_into(offset, memoryview(buffer))
            assert got == min(length, len(data) - offset)
            assert bytes(buffer[:got]) == data[offset : offset + got]
            assert set(buffer[got:]) <= {0xEE}  # nothing written past what was read
        assert handle.read_into(len(data), memoryview(bytearray(10))) == 0


@pytest.mark.parametrize("window_pages", [None, 3])
def test_an_object_lends_consecutive_regions(blob_store, monkeypatch, window_pages):
    """regions(): each view holds exactly its bytes, across the filesystem store's mapping
    windows too (a window of 3 pages makes most regions start a new one); at the end a
    shorter view, and nothing after it."""
    if window_pages:
        monkeypatch.setattr(filesystem, "MAP_WINDOW", window_pages * mmap.PAGESIZE)
    data = pattern(3 * MIB + 12345)
    blob_store.write("obj", [data])
    lengths = [10, 5000, MIB, 1, 2 * MIB + 17, 8192, 10]
    with blob_store.open("obj") as handle:
        views, at = [], 7
        for view in handle.regions(at, lengths):
            views.append(bytes(view))  # a view is valid only until the next one
        expected = []
        for length in lengths:
            expected.append(data[at : at + length])
            at += length
            if at >= len(data):
                break
        assert views == expected
        assert len(views[-1]) < lengths[len(views) - 1]  # the object ended inside it
        assert list(handle.regions(len(data), [10, 10])) == [b""]
        assert [bytes(v) for v in handle.regions(0, [])] == []


def test_an_empty_object_is_an_object(blob_store):
    assert blob_store.write("empty", []) == 0
    assert blob_store.exists("empty")
    assert object_bytes(blob_store, "empty") == b""


def test_objects_are_written_once_and_names_are_plain(blob_store):
    blob_store.write("once", [b"1"])
    with pytest.raises(BlobExists):
        blob_store.write("once", [b"2"])
    assert object_bytes(blob_store, "once") == b"1"
    for bad in ["", ".hidden", "a/b", "../x", "x" * 101]:
        with pytest.raises(ValueError):
            blob_store.create(bad)


def test_a_missing_object_is_blob_missing_and_delete_says_whether_it_removed(blob_store):
    with pytest.raises(BlobMissing):
        blob_store.open("nothing")
    assert not blob_store.exists("nothing")
    blob_store.write("there", [b"x"])
    assert blob_store.delete("there") is True
    assert blob_store.delete("there") is False
    assert not blob_store.exists("there")


def test_nothing_is_visible_before_commit_and_abort_leaves_nothing(blob_store):
    with blob_store.create("pending") as writer:
        writer.write(b"half")
        assert not blob_store.exists("pending")
        assert [info.name for info in blob_store.listing() if not info.leftover] == []
        writer.abort()
    assert list(blob_store.listing()) == []


def test_the_listing_names_every_object_with_its_age(blob_store):
    blob_store.write("a", [b"1"])
    blob_store.write("b", [b"22"])
    listed = {info.name: info for info in blob_store.listing()}
    assert sorted(listed) == ["a", "b"]
    assert all(0 <= info.age < 60 and not info.leftover for info in listed.values())


def test_writing_and_reading_stream_with_bounded_memory(blob_store):
    size, block = 48 * MIB, pattern(MIB)
    tracemalloc.start()
    try:
        blob_store.write("big", (block for _ in range(size // MIB)))
        write_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        with blob_store.open("big") as handle:
            total = sum(len(chunk) for chunk in handle.chunks())
        read_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == size
    assert write_peak < 8 * MIB, f"writing held {write_peak / MIB:.1f} MiB"
    assert read_peak < 8 * MIB, f"reading held {read_peak / MIB:.1f} MiB"


def _seen_from_another_connection(name: str) -> bool:
    seen = []

    def look():
        try:
            seen.append(blobs.get_store().exists(name))
        finally:
            connections.close_all()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join(10)
    return seen == [True]


class Crash(Exception):
    pass


def test_an_object_is_durable_before_the_callers_transaction_commits(blob_store, db):
    """Written inside a transaction that then rolls back (a crash before the row commits):
    the object was already stored for everyone, and stays — for sweep_blobs to remove.
    SQLite has one writer at a time, so there the database store writes in the caller's
    transaction instead: the object commits with the row, or not at all."""
    shared_sqlite = blob_store.kind == "database" and connection.vendor == "sqlite"
    with pytest.raises(Crash), transaction.atomic():
        blob_store.write("early", [b"source"])
        if not shared_sqlite:
            assert _seen_from_another_connection("early")
        raise Crash("before the row commits")
    assert blob_store.exists("early") == (not shared_sqlite)


# The filesystem backend -------------------------------------------------------------------


def test_a_filesystem_commit_is_one_fsync_of_the_file_and_one_of_the_directory(
    settings, monkeypatch
):
    settings.IPP_BLOB_STORE = "filesystem"
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    with SourceWriter("00000000-0000-4000-8000-000000000001", new_data_key()) as writer:
        for n in range(50):
            writer.add_file(f"f{n}.txt", io.BytesIO(b"x" * n))
        writer.finish()
    assert len(synced) == 2


def test_filesystem_objects_are_private_and_a_dead_write_is_a_listed_leftover(tmp_path):
    store = FilesystemBlobStore(tmp_path / "fresh" / "blobs")
    store.write("obj", [b"x"])
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert stat.S_IMODE((store.root / "obj").stat().st_mode) == 0o600
    writer = store.create("dying")
    writer.write(b"half")  # and the process is killed: no commit, no abort
    leftovers = [info for info in store.listing() if info.leftover]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".tmp-dying-")
    assert not store.exists("dying")
    assert stat.S_IMODE((store.root / leftovers[0].name).stat().st_mode) == 0o600
    assert store.delete(leftovers[0].name) is True
    assert [info.name for info in store.listing()] == ["obj"]
