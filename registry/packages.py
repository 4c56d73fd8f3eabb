"""Module packages (SPEC §4): read, validate and build the ZIP files modules travel in.

`open_package` checks every rule before any content leaves the ZIP and answers a broken
package with `InvalidPackage` naming the rule, never with another exception. Limits:

- the file: at most `IPP_MAX_PACKAGE_MB` MB (413); at most 10,000 entries; a central
  directory of at most 8 MiB. Both are checked *before* zipfile parses the directory:
  the sizes from the end records (ZIP64 too), the entries by counting the directory's
  records, since zipfile reads every record there whatever count the end record
  declares (a forged count would otherwise have it build 160,000 entries);
- the content: at most 1 GiB declared uncompressed in total; no entry, and not the whole
  package, may inflate more than 100 times. The ratio is judged only above 1 MiB
  uncompressed (`RATIO_MIN_SIZE`): tiny, repetitive files legitimately exceed 100:1 and
  cannot do harm, while any bomb worth the name has to be bigger than that. Every read
  then counts bytes, so an entry that inflates past its declared size is refused too.

Unsealed packages hold `manifest.json` and `src/...`; sealed ones `manifest.json`,
`mark.json` and `sealed.bin`. Anything else in the ZIP is refused rather than dropped.
"""

import io
import json
import os
import re
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from django.conf import settings

from core.errors import InvalidPackage
from registry.manifest import (  # noqa: F401 - the package API re-exports them
    KINDS,
    READ_CHUNK,
    ExposedSpec,
    Manifest,
    ReferenceSpec,
    canonical_digest,
    no_constant,
    no_duplicates,
    parse_manifest,
)

MANIFEST = "manifest.json"
MARK = "mark.json"
SEALED_PAYLOAD = "sealed.bin"
SOURCE_DIR = "src/"

MAX_ENTRIES = 10_000
MAX_UNCOMPRESSED = 1024**3
MAX_RATIO = 100
RATIO_MIN_SIZE = 1024**2
MAX_CENTRAL_DIRECTORY = 8 * 1024**2
MAX_JSON_SIZE = 1024**2
MAX_PATH_BYTES = 1024  # a source path (under src/), SPEC §10
MAX_SEGMENT_BYTES = 255

# What zipfile (and the codecs under it) raise on malformed input. RuntimeError covers
# "password required" and RecursionError; ValueError covers UnicodeDecodeError.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, struct.error, ValueError, OSError)
_ZIP_ERRORS += (NotImplementedError, RuntimeError, IndexError, KeyError, OverflowError)

# The digest pass reads each source file in chunks of this size (and feeds any observer):
# small enough that a chunk stays in the CPU cache while CRC, SHA-256 and the observer
# each go over it (measured: 1 MiB chunks make the fingerprint normalizer ~30% slower).
DIGEST_CHUNK = 64 * 1024

# A central directory record's fixed part (zipfile.structCentralDir).
_CENTRAL_HEADER = struct.Struct(zipfile.structCentralDir)


class FileObserver(Protocol):
    """Sees one source file's chunks during the digest pass (`open_package(observe=...)`)."""

    def feed(self, chunk: bytes) -> None: ...

    def finish(self) -> Any: ...


@dataclass(frozen=True)
class SourceEntry:
    path: str  # relative to src/, posix separators
    size: int


@dataclass
class Package:
    manifest: Manifest
    sealed: bool
    mark: dict | None
    files: list[SourceEntry]
    digest: str
    # {path: observer's finish()} when opened with `observe`: computed in the digest pass,
    # so a caller needing more per file than the digest need not read the package again.
    observed: dict[str, Any] | None = None
    _zip: zipfile.ZipFile | None = field(default=None, repr=False, compare=False)

    def open_source(self, path: str) -> BinaryIO:
        """A streaming, size-checked reader of src/<path>; KeyError for an unknown path."""
        if self.sealed or not path:
            raise KeyError(path)
        return self.open_member(SOURCE_DIR + path)

    def open_member(self, name: str) -> BinaryIO:
        """A streaming, size-checked reader of a raw member such as sealed.bin."""
        if self._zip is None:
            raise ValueError("package is closed")
        info = self._zip.getinfo(name)  # KeyError when absent
        if info.is_dir():
            raise KeyError(name)
        return _MemberStream(self._zip, info)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self) -> "Package":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _MemberStream(io.RawIOBase):
    """Reads one member, turning zip errors into InvalidPackage and counting bytes."""

    def __init__(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo):
        super().__init__()
        self.name = info.filename
        self._declared = info.file_size
        self._seen = 0
        try:
            self._raw = zf.open(info)
        except _ZIP_ERRORS as exc:
            raise InvalidPackage(f"entry {self.name!r} cannot be read: {exc}") from exc

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(READ_CHUNK), b""))
        try:
            data = self._raw.read(size)
        except _ZIP_ERRORS as exc:
            raise InvalidPackage(f"entry {self.name!r} is corrupt: {exc}") from exc
        self._seen += len(data)
        if self._seen > self._declared:
            raise InvalidPackage(f"entry {self.name!r} is larger than its declared size")
        if size and not data and self._seen < self._declared:
            raise InvalidPackage(f"entry {self.name!r} is shorter than its declared size")
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def open_package(
    fileobj: BinaryIO,
    *,
    size: int | None = None,
    observe: Callable[[str], FileObserver] | None = None,
) -> Package:
    """Validate a package completely and return it open for streaming reads.

    Raises InvalidPackage (status 413 when the file is too large) for any broken rule.
    `observe(path)`, when given, is fed every chunk of each source file as the digest
    pass reads it; what its `finish()` returns lands in `package.observed[path]`.
    """
    _check_file_size(fileobj, size)
    _check_end_record(fileobj)
    try:
        zf = zipfile.ZipFile(fileobj)
    except _ZIP_ERRORS as exc:
        raise InvalidPackage(f"package is a damaged ZIP file: {exc}") from exc
    try:
        package = _validate(zf, observe)
    except BaseException:
        zf.close()
        raise
    package._zip = zf
    return package


def _check_file_size(fileobj: BinaryIO, size: int | None) -> None:
    limit_mb = settings.IPP_MAX_PACKAGE_MB
    if size is None:
        fileobj.seek(0, os.SEEK_END)
        size = fileobj.tell()
        fileobj.seek(0)
    if size > limit_mb * 1024 * 1024:
        raise InvalidPackage(
            f"package is larger than IPP_MAX_PACKAGE_MB ({limit_mb} MB)", status=413
        )


def _check_end_record(fp: BinaryIO) -> None:
    """Check the entry count and the central directory before zipfile reads them.

    zipfile builds one ZipInfo per record it finds in the central directory, however
    many the end record declares; so the records are counted here first (at most
    MAX_ENTRIES + 1 are looked at), and a count that differs from the declared one is a
    forged or damaged ZIP.
    """
    fp.seek(0, os.SEEK_END)
    end = fp.tell()
    try:
        # zipfile's own reading of the end records (ZIP64 included), so what is checked
        # here is exactly what ZipFile will use.
        record = zipfile._EndRecData(fp)
    except _ZIP_ERRORS as exc:
        raise InvalidPackage(f"package cannot be read: {exc}") from exc
    if not record:
        raise InvalidPackage("package is not a ZIP file")
    declared = record[zipfile._ECD_ENTRIES_TOTAL]
    cd_size = record[zipfile._ECD_SIZE]
    if declared > MAX_ENTRIES:
        raise InvalidPackage(f"package has more than {MAX_ENTRIES} entries")
    start = record[zipfile._ECD_LOCATION] - cd_size
    if record[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:
        start -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator
    if cd_size > end or start < 0 or start + cd_size > end:
        raise InvalidPackage("package is a damaged ZIP file: its central directory overruns it")
    if cd_size > MAX_CENTRAL_DIRECTORY:
        raise InvalidPackage(
            "package's central directory is larger than 8 MiB (too many or too long names)"
        )
    fp.seek(start)
    found = _count_directory(fp.read(cd_size))
    if found > MAX_ENTRIES:
        raise InvalidPackage(
            f"package has more than {MAX_ENTRIES} entries "
            f"(its end record declares {declared}; its central directory holds more)"
        )
    if found != declared:
        raise InvalidPackage(
            f"package is a damaged ZIP file: its end record declares {declared} entries, "
            f"its central directory holds {found}"
        )
    fp.seek(0)


def _count_directory(directory: bytes) -> int:
    """How many records zipfile would read from `directory`, counting up to MAX_ENTRIES + 1.

    Walks it as zipfile does (a fixed header, then name, extra field and comment); stops
    where zipfile would stop with an error, which it then reports itself.
    """
    count = total = 0
    while total < len(directory) and count <= MAX_ENTRIES:
        header = directory[total : total + _CENTRAL_HEADER.size]
        if len(header) < _CENTRAL_HEADER.size or header[:4] != b"PK\x01\x02":
            break
        name_len, extra_len, comment_len = _CENTRAL_HEADER.unpack(header)[12:15]
        total += _CENTRAL_HEADER.size + name_len + extra_len + comment_len
        count += 1
    return count


def _validate(zf: zipfile.ZipFile, observe: Callable[[str], FileObserver] | None) -> Package:
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise InvalidPackage(f"package has more than {MAX_ENTRIES} entries")
    members = _check_entries(infos)
    sources = {
        name[len(SOURCE_DIR) :]: info
        for name, info in members.items()
        if name.startswith(SOURCE_DIR) and not info.is_dir()
    }
    _check_nesting(sources)
    manifest_info = members.get(MANIFEST)
    if manifest_info is None or manifest_info.is_dir():
        raise InvalidPackage(f"{MANIFEST} is missing")
    manifest = parse_manifest(_read_json(zf, manifest_info))
    has_mark, has_payload = MARK in members, SEALED_PAYLOAD in members
    if has_mark or has_payload:
        if sources:
            raise InvalidPackage(
                f"package mixes sealed content ({MARK}, {SEALED_PAYLOAD}) with files under src/"
            )
        if not has_mark:
            raise InvalidPackage(f"sealed package is missing {MARK}")
        if not has_payload:
            raise InvalidPackage(f"sealed package is missing {SEALED_PAYLOAD}")
        mark = _read_json(zf, members[MARK])
        if not isinstance(mark, dict):
            raise InvalidPackage(f"{MARK} must be a JSON object")
        for _chunk in _stream_chunks(zf, members[SEALED_PAYLOAD]):
            pass  # read through once so a corrupt payload is refused now, not later
        return Package(manifest=manifest, sealed=True, mark=mark, files=[], digest="")
    if not sources:
        raise InvalidPackage("package has no source files under src/")
    files = [SourceEntry(path, sources[path].file_size) for path in sorted(sources)]

    observed: dict[str, Any] | None = None if observe is None else {}

    def observed_chunks(path: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        observer = observe(path)
        for chunk in chunks:
            observer.feed(chunk)
            yield chunk
        observed[path] = observer.finish()

    def contents() -> Iterator[tuple[str, int, Iterable[bytes]]]:
        for entry in files:
            chunks = _stream_chunks(zf, sources[entry.path], DIGEST_CHUNK)
            if observe is not None:
                chunks = observed_chunks(entry.path, chunks)
            yield entry.path, entry.size, chunks

    digest = canonical_digest(manifest, contents())
    return Package(
        manifest=manifest, sealed=False, mark=None, files=files, digest=digest, observed=observed
    )


def _check_entries(infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    members: dict[str, zipfile.ZipInfo] = {}
    total = compressed = 0
    seen: dict[str, str] = {}
    for info in infos:
        name = info.filename
        # zipfile cuts a name at its first NUL: judge the name as stored.
        _check_name(info.orig_filename)
        if name in members:
            raise InvalidPackage(f"duplicate entry name {name!r}")
        twin = seen.setdefault(folded(name), name)
        if twin != name:
            raise InvalidPackage(
                f"entries {twin!r} and {name!r} differ only by case or Unicode normalization"
            )
        members[name] = info
        if name not in (MANIFEST, MARK, SEALED_PAYLOAD) and not name.startswith(SOURCE_DIR):
            raise InvalidPackage(
                f"entry {name!r} is outside src/: a package holds only {MANIFEST} and src/ "
                f"(or {MANIFEST}, {MARK} and {SEALED_PAYLOAD} when sealed)"
            )
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            raise InvalidPackage(f"entry {name!r} is a symbolic link")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise InvalidPackage(f"entry {name!r} is not a regular file")
        if info.flag_bits & 0x1:
            raise InvalidPackage(f"entry {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InvalidPackage(
                f"entry {name!r} uses unsupported compression method {info.compress_type}: "
                "use stored or deflate"
            )
        if info.file_size > RATIO_MIN_SIZE and info.file_size > MAX_RATIO * info.compress_size:
            raise InvalidPackage(f"entry {name!r} has a compression ratio over {MAX_RATIO}")
        total += info.file_size
        compressed += info.compress_size
    if total > MAX_UNCOMPRESSED:
        raise InvalidPackage("package is larger than 1 GiB uncompressed")
    if total > RATIO_MIN_SIZE and total > MAX_RATIO * compressed:
        raise InvalidPackage(f"package has a compression ratio over {MAX_RATIO}")
    return members


_DRIVE = re.compile(r"^[A-Za-z]:")
# Bidirectional embeddings, overrides, isolates and marks: they make a name read as another.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def folded(name: str) -> str:
    """The form under which two names are the same file (SPEC §10: NFC, case folded)."""
    return unicodedata.normalize("NFC", name).casefold()


def _check_name(name: str) -> None:
    """SPEC §4 and §10: a relative POSIX path of printable, unambiguous segments."""
    if not name:
        raise InvalidPackage("package has an entry with an empty name")
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in name):
        raise InvalidPackage(f"entry {name!r} has a control character in its name")
    if any(ch in _BIDI for ch in name):
        raise InvalidPackage(
            f"entry {name!r} has a bidirectional control character (such as U+202E) in its name"
        )
    relative = name.removeprefix(SOURCE_DIR).removesuffix("/")
    if len(relative.encode("utf-8")) > MAX_PATH_BYTES:
        raise InvalidPackage(f"entry {name[:60]!r}… has a path longer than {MAX_PATH_BYTES} bytes")
    if any(len(part.encode("utf-8")) > MAX_SEGMENT_BYTES for part in relative.split("/")):
        raise InvalidPackage(
            f"entry {name[:60]!r}… has a path segment longer than {MAX_SEGMENT_BYTES} bytes"
        )
    if "\\" in name:
        raise InvalidPackage(f"entry {name!r} has a backslash in its path: use '/'")
    if name.startswith("/"):
        raise InvalidPackage(f"entry {name!r} has an absolute path")
    if _DRIVE.match(name):
        raise InvalidPackage(f"entry {name!r} has a drive letter")
    parts = name.removesuffix("/").split("/")
    if ".." in parts:
        raise InvalidPackage(f"entry {name!r} has a '..' path component")
    if "." in parts:
        raise InvalidPackage(f"entry {name!r} has a '.' path component")
    if "" in parts:
        raise InvalidPackage(f"entry {name!r} has an empty path component")


def _check_nesting(sources: dict[str, zipfile.ZipInfo]) -> None:
    for path in sources:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in sources:
                raise InvalidPackage(
                    f"entry {SOURCE_DIR + path!r} is inside {SOURCE_DIR + parent!r}, "
                    "which is a file"
                )


def _stream_chunks(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, chunk_size: int = READ_CHUNK
) -> Iterator[bytes]:
    with _MemberStream(zf, info) as stream:
        yield from iter(lambda: stream.read(chunk_size), b"")


def _read_json(zf: zipfile.ZipFile, info: zipfile.ZipInfo):
    name = info.filename
    if info.file_size > MAX_JSON_SIZE:
        raise InvalidPackage(f"{name} is larger than 1 MiB")
    with _MemberStream(zf, info) as stream:
        raw = stream.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPackage(f"{name} is not valid UTF-8") from None
    try:
        return json.loads(text, parse_constant=no_constant, object_pairs_hook=no_duplicates)
    except (ValueError, RecursionError) as exc:
        raise InvalidPackage(f"{name} is not valid JSON: {exc}") from None


def build_package(
    manifest: dict | bytes | None,
    files: dict[str, bytes],
    *,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """A ZIP with manifest.json, src/<path> for each file and `extra` members as named.

    Nothing is validated, so tests can build broken packages too: pass the manifest as
    bytes to write it verbatim, or None to leave it out. Timestamps are fixed, so the
    same input gives the same bytes.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        if manifest is not None:
            raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest, indent=2)
            zf.writestr(_zip_info(MANIFEST), raw)
        for path, content in sorted(files.items()):
            zf.writestr(_zip_info(SOURCE_DIR + path), content)
        for name, content in (extra or {}).items():
            zf.writestr(_zip_info(name), content)
    return buffer.getvalue()


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o40755 if name.endswith("/") else 0o100644) << 16
    return info
