"""IPP_BLOB_STORE=filesystem (the embedded default): one file per object under IPP_BLOB_DIR.

A write goes to a private temporary file (`.tmp-<name>-*`, mode 0600) in the same
directory; `commit()` flushes it, fsyncs it once, renames it into place and fsyncs the
directory, so a crash leaves either nothing under the name or the whole object. A crash
before the rename leaves the temporary file: it shows in the listing as a leftover, for
`sweep_blobs`. The directory is created 0700.

Directories in the root are the per-file layout of earlier releases (one directory per
version, see registry/legacy.py): listed and deleted like objects, never opened here.
"""

import mmap
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from registry.blobs.base import (
    BlobExists,
    BlobHandle,
    BlobInfo,
    BlobMissing,
    BlobStore,
    BlobWriter,
    check_name,
)

TEMP_PREFIX = ".tmp-"
MAP_WINDOW = 64 * 1024 * 1024  # bytes of an object mapped at a time when reading regions


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileWriter(BlobWriter):
    def __init__(self, root: Path, name: str):
        self._final = root / name
        fd, temp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{name}-", dir=root)
        self._temp = Path(temp)
        self._file = os.fdopen(fd, "wb")
        self._size = 0
        self._state = "open"

    def write(self, data: bytes) -> None:
        if self._state != "open":
            raise ValueError(f"this blob writer is {self._state}")
        self._file.write(data)
        self._size += len(data)

    def commit(self) -> int:
        if self._state != "open":
            raise ValueError(f"this blob writer is {self._state}")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if self._final.exists():
            raise BlobExists(f"blob {self._final.name} is already stored")
        os.replace(self._temp, self._final)
        self._state = "committed"
        self.committed = True
        fsync_dir(self._final.parent)
        return self._size

    def abort(self) -> None:
        if self._state == "open":
            self._file.close()
        if self._state != "committed":
            self._temp.unlink(missing_ok=True)
            self._state = "aborted"


class FileHandle(BlobHandle):
    def __init__(self, fd: int):
        self._fd = fd
        self.size = os.fstat(fd).st_size

    def read(self, offset: int, length: int) -> bytes:
        parts, wanted = [], max(0, min(length, self.size - offset))
        while wanted:
            data = os.pread(self._fd, wanted, offset)
            if not data:
                break
            parts.append(data)
            offset, wanted = offset + len(data), wanted - len(data)
        return b"".join(parts)

    def read_into(self, offset: int, buffer: memoryview) -> int:
        done, wanted = 0, max(0, min(len(buffer), self.size - offset))
        while done < wanted:
            got = os.preadv(self._fd, [buffer[done:wanted]], offset + done)
            if not got:
                break
            done += got
        return done

    def regions(self, offset: int, lengths: Sequence[int]) -> Iterator[memoryview]:
        """Views of the page cache through a read-only mapping, MAP_WINDOW bytes at a time.

        Nothing is copied: reading a 1 MiB record into a buffer (preadv) cost as much as
        decrypting it. An object is never changed in place (a write is a new file renamed
        over the name), so a mapping never sees its file shrink under it; it stays valid
        after the handle closes, and goes when no view of it is left. Where the file cannot
        be mapped, the regions are read into a buffer instead."""
        window, start, end = None, 0, 0
        for number, asked in enumerate(lengths):
            length = max(0, min(asked, self.size - offset))
            if length and not (start <= offset and offset + length <= end):
                window = None  # the previous window is unmapped once no view of it is left
                start = offset - offset % mmap.ALLOCATIONGRANULARITY
                end = min(self.size, max(offset + length, start + MAP_WINDOW))
                try:
                    mapped = mmap.mmap(self._fd, end - start, offset=start, access=mmap.ACCESS_READ)
                except (OSError, ValueError):
                    yield from super().regions(offset, lengths[number:])
                    return
                window = memoryview(mapped)
            yield window[offset - start : offset - start + length] if length else memoryview(b"")
            if length < asked:
                return
            offset += length

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class FilesystemBlobStore(BlobStore):
    kind = "filesystem"

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def _ensure_root(self) -> Path:
        if not self.root.is_dir():
            self.root.mkdir(parents=True, mode=0o700, exist_ok=True)
        return self.root

    def create(self, name: str) -> FileWriter:
        check_name(name)
        if self.exists(name):
            raise BlobExists(f"blob {name} is already stored")
        return FileWriter(self._ensure_root(), name)

    def open(self, name: str) -> FileHandle:
        check_name(name)
        try:
            fd = os.open(self.root / name, os.O_RDONLY)
        except FileNotFoundError:
            raise BlobMissing(f"blob {name} is not stored") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a directory of the per-file layout
            os.close(fd)
            raise BlobMissing(f"blob {name} is not stored")
        return FileHandle(fd)

    def exists(self, name: str) -> bool:
        return (self.root / check_name(name)).is_file()

    def ping(self) -> None:
        root = self._ensure_root()
        if not os.access(root, os.R_OK | os.W_OK | os.X_OK):
            raise PermissionError(f"the blob directory {root} is not readable and writable")
        os.scandir(root).close()

    def delete(self, name: str) -> bool:
        if not name.startswith(TEMP_PREFIX):
            check_name(name)
        elif "/" in name or name in (TEMP_PREFIX, ".", ".."):
            raise ValueError(f"not a leftover of this store: {name!r}")
        path = self.root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            return True
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def listing(self) -> Iterator[BlobInfo]:
        now = time.time()
        try:
            entries = os.scandir(self.root)
        except FileNotFoundError:
            return
        with entries:
            for entry in entries:
                try:
                    modified = entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:
                    continue  # removed while we looked
                leftover = entry.name.startswith(TEMP_PREFIX)
                yield BlobInfo(entry.name, max(0.0, now - modified), leftover)
