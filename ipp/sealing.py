"""Sealed packages: a marked version's source, encrypted and bound to its mark.

A sealed package is a ZIP with `manifest.json` and `mark.json` (both canonical JSON:
sorted keys, no whitespace) and `sealed.bin`. `sealed.bin` is

    "IPPSEAL1" | salt (16 random bytes) | record*

and each record is `length (4 bytes, big-endian) | nonce (12) | AES-256-GCM ciphertext`.
The key is HKDF-SHA256 of the site sealing key (core.keys.sealing_key(), outside the
database: IPP_SEALING_KEY, else IPP_KEYS_DIR/sealing/, mode 0600) with
salt = SHA-256(manifest) | salt and info = domain | mark. Every record's associated data
is domain | SHA-256(mark) | SHA-256(manifest) | salt | record number | is-last, so editing
any byte of mark.json or manifest.json, swapping, reordering or truncating records makes
decryption fail. The plaintext records are `F size(8) path` (a file, in ascending path
order), `D bytes` (at most CHUNK_SIZE of its content) and a final `E`.

Unsealing recomputes the canonical digest of manifest + files and requires it to equal
the mark's digest, so the mark, the manifest and the content stand or fall together.
Reading and writing stream record by record: memory stays bounded whatever the size.
"""

import hashlib
import os
import struct
import zipfile
from collections.abc import Callable, Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core import keys
from core.errors import InvalidPackage, TamperedPackage
from core.streams import AdmittedSource, buffered
from ipp.fingerprints import Normalizer
from ipp.fingerprints import fingerprint_key as fingerprints_key
from ipp.marks import canonical_json, verify_mark
from registry.packages import MANIFEST, MARK, SEALED_PAYLOAD, Package, canonical_digest
from registry.selectors import version_manifest

MAGIC = b"IPPSEAL1"
SALT_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
CHUNK_SIZE = 64 * 1024
MAX_PATH = 0xFFFF  # a ZIP name's own limit: every path the site ever stored seals and unseals
MAX_RECORD = NONCE_SIZE + 1 + 8 + MAX_PATH + CHUNK_SIZE + TAG_SIZE
_DOMAIN = b"ipp-seal-v1\0"
_LENGTH = struct.Struct(">I")
_POSITION = struct.Struct(">Q?")
_FILE, _DATA, _END = b"F", b"D", b"E"


class _Cipher:
    """The AEAD and associated data of one sealed payload."""

    def __init__(self, *, mark_bytes: bytes, manifest_bytes: bytes, salt: bytes):
        manifest_hash = hashlib.sha256(manifest_bytes).digest()
        key = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=manifest_hash + salt,
            info=_DOMAIN + mark_bytes,
        ).derive(keys.sealing_key())
        self.aead = AESGCM(key)
        self.prefix = _DOMAIN + hashlib.sha256(mark_bytes).digest() + manifest_hash + salt

    def aad(self, number: int, last: bool) -> bytes:
        return self.prefix + _POSITION.pack(number, last)


# --- writing -------------------------------------------------------------------------


def _zip_info(name: str, compress_type: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = compress_type
    info.external_attr = 0o100644 << 16
    return info


def build_sealed_package(*, version, reader, mark: dict | None = None, out: BinaryIO) -> None:
    """Write the sealed package of `version` to `out`, under `mark` or the version's own.

    `reader` is the version's registry.packs.SourceReader. The mark must verify and name
    this version's module and digest (the portal passes a new mark for the same content).
    """
    mark = mark if mark is not None else version.mark
    if mark is None:
        raise ValueError(f"{version} is not marked: export it as a plain package")
    verify_mark(mark, key=version.module.key, digest=version.digest)
    manifest_bytes = canonical_json(version_manifest(version).to_json())
    mark_bytes = canonical_json(mark)
    salt = os.urandom(SALT_SIZE)
    cipher = _Cipher(mark_bytes=mark_bytes, manifest_bytes=manifest_bytes, salt=salt)
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(_zip_info(MANIFEST, zipfile.ZIP_DEFLATED), manifest_bytes)
        zf.writestr(_zip_info(MARK, zipfile.ZIP_DEFLATED), mark_bytes)
        with zf.open(_zip_info(SEALED_PAYLOAD, zipfile.ZIP_STORED), "w") as payload:
            payload.write(MAGIC + salt)
            number = 0

            def record(plain: bytes, last: bool = False) -> None:
                nonlocal number
                nonce = os.urandom(NONCE_SIZE)
                sealed = nonce + cipher.aead.encrypt(nonce, plain, cipher.aad(number, last))
                payload.write(_LENGTH.pack(len(sealed)) + sealed)
                number += 1

            for path, size in sorted(reader.list_files()):
                record(_FILE + size.to_bytes(8, "big") + path.encode("utf-8"))
                for chunk in reader.open(path):
                    for start in range(0, len(chunk), CHUNK_SIZE):
                        record(_DATA + chunk[start : start + CHUNK_SIZE])
            record(_END, last=True)


# --- reading -------------------------------------------------------------------------


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            break
        data += more
    return data


def _check_path(path: str, previous: str | None) -> None:
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or any(p in ("", ".", "..") for p in parts)
        or any(ord(c) < 32 or ord(c) == 127 for c in path)
    ):
        raise TamperedPackage("the sealed source holds an invalid path")
    if previous is not None and path <= previous:
        raise TamperedPackage("the sealed source's files are out of order")


class _Payload:
    """One authenticated pass over sealed.bin: the files and their chunks, in order."""

    def __init__(self, stream: BinaryIO, *, mark_bytes: bytes, manifest_bytes: bytes):
        self._stream = stream
        header = _read_exact(stream, len(MAGIC) + SALT_SIZE)
        if len(header) != len(MAGIC) + SALT_SIZE or not header.startswith(MAGIC):
            raise TamperedPackage("the sealed source is not a sealed payload")
        self._cipher = _Cipher(
            mark_bytes=mark_bytes, manifest_bytes=manifest_bytes, salt=header[len(MAGIC) :]
        )
        self._records = self._iter_records()

    def _iter_records(self) -> Iterator[tuple[bytes, bytes]]:
        stream, number = self._stream, 0
        head = _read_exact(stream, _LENGTH.size)
        while True:
            if len(head) != _LENGTH.size:
                raise TamperedPackage("the sealed source is cut short")
            (length,) = _LENGTH.unpack(head)
            if not NONCE_SIZE + TAG_SIZE + 1 <= length <= MAX_RECORD:
                raise TamperedPackage("the sealed source holds a malformed record")
            sealed = _read_exact(stream, length)
            if len(sealed) != length:
                raise TamperedPackage("the sealed source is cut short")
            head = _read_exact(stream, _LENGTH.size)
            last = not head
            try:
                plain = self._cipher.aead.decrypt(
                    sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], self._cipher.aad(number, last)
                )
            except InvalidTag:
                raise TamperedPackage(
                    "the sealed source does not match its mark and manifest: the package was edited"
                ) from None
            kind, body = plain[:1], plain[1:]
            if (kind == _END) != last:
                raise TamperedPackage("the sealed source is malformed")
            yield kind, body
            if last:
                return
            number += 1

    def _next(self) -> tuple[bytes, bytes]:
        try:
            return next(self._records)
        except StopIteration:
            raise TamperedPackage("the sealed source is cut short") from None

    def files(self) -> Iterator[tuple[str, int, Iterator[bytes]]]:
        previous = None
        while True:
            kind, body = self._next()
            if kind == _END:
                return
            if kind != _FILE or len(body) < 9 or len(body) > 8 + MAX_PATH:
                raise TamperedPackage("the sealed source is malformed")
            size = int.from_bytes(body[:8], "big")
            try:
                path = body[8:].decode("utf-8")
            except UnicodeDecodeError:
                raise TamperedPackage("the sealed source holds an invalid path") from None
            _check_path(path, previous)
            previous = path
            data = self._data(size)
            yield path, size, data
            for _chunk in data:  # whatever the consumer left unread
                pass

    def _data(self, size: int) -> Iterator[bytes]:
        left = size
        while left > 0:
            kind, body = self._next()
            if kind != _DATA or not body or len(body) > left:
                raise TamperedPackage("the sealed source is malformed")
            left -= len(body)
            yield body


def _raw(package: Package, name: str) -> bytes:
    try:
        with package.open_member(name) as stream:
            return stream.read()
    except KeyError:
        raise InvalidPackage(f"sealed package is missing {name}") from None


def _verified_envelope(package: Package) -> tuple[dict, bytes, bytes]:
    """The package's mark, verified for its manifest's module, and mark.json and
    manifest.json as canonical bytes; raises TamperedPackage if either was edited.
    """
    mark = package.mark
    verify_mark(mark, key=package.manifest.key)
    mark_bytes = canonical_json(mark)
    manifest_bytes = canonical_json(package.manifest.to_json())
    if _raw(package, MARK) != mark_bytes:
        raise TamperedPackage("mark.json was edited")
    if _raw(package, MANIFEST) != manifest_bytes:
        raise TamperedPackage("manifest.json was edited")
    return mark, mark_bytes, manifest_bytes


def _verified_content(
    package: Package, payload: Callable[[], _Payload], fingerprint_key: bytes
) -> tuple[str, list[tuple[str, int]], frozenset[str]]:
    """One pass over the payload: the canonical digest of manifest + files, the files
    (path, size) and their fingerprints. Requires a payload that holds at least one file.
    """
    files: list[tuple[str, int]] = []
    fingerprints: set[str] = set()

    def listed():
        for path, size, chunks in payload().files():
            files.append((path, size))
            normalizer = Normalizer(fingerprint_key)
            yield path, size, _observed(chunks, normalizer)
            fp = normalizer.finish()
            if fp is not None:
                fingerprints.add(fp)

    try:
        digest = canonical_digest(package.manifest, listed())
    except ValueError as exc:  # a file's size disagrees with its content
        raise TamperedPackage(f"the sealed source is malformed: {exc}") from None
    if not files:
        raise TamperedPackage("the sealed source holds no files")
    return digest, files, frozenset(fingerprints)


def _file_opener(payload: Callable[[], _Payload]) -> Callable[[str], BinaryIO]:
    cursor: dict = {"files": None}

    def open_file(path: str) -> BinaryIO:
        # Files are stored in the order listed, so one pass serves them all; a request
        # out of order starts a new pass.
        for _attempt in range(2):
            if cursor["files"] is None:
                cursor["files"] = payload().files()
            for name, _size, chunks in cursor["files"]:
                if name == path:
                    return buffered(chunks)
                if name > path:
                    break
            cursor["files"] = None
        raise KeyError(path)

    return open_file


def open_sealed(package: Package, *, fingerprint_key: bytes | None = None):
    """Verify a sealed package completely and return its source as AdmittedSource.

    The mark must verify and name the manifest's module; mark.json and manifest.json
    must be exactly as sealed; the payload must decrypt and hold content whose canonical
    digest is the mark's. Raises TamperedPackage otherwise. Reads the payload twice at
    most (once here, once when the files are stored), never all of it into memory.
    """
    mark, mark_bytes, manifest_bytes = _verified_envelope(package)

    def payload() -> _Payload:
        return _Payload(
            package.open_member(SEALED_PAYLOAD),
            mark_bytes=mark_bytes,
            manifest_bytes=manifest_bytes,
        )

    digest, files, fingerprints = _verified_content(
        package, payload, fingerprint_key or fingerprints_key()
    )
    if digest != mark["digest"]:
        raise TamperedPackage("the package's content is not the content its mark names")
    return AdmittedSource(
        digest=digest,
        files=files,
        open_file=_file_opener(payload),
        incoming_mark=mark,
        fingerprints=fingerprints,
    )


def _observed(chunks: Iterator[bytes], normalizer) -> Iterator[bytes]:
    for chunk in chunks:
        normalizer.feed(chunk)
        yield chunk
