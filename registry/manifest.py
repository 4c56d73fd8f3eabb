"""The package manifest (SPEC §4) and the canonical digest of a package's content."""

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import InvalidPackage

KINDS = ("server_action", "service_action", "entity", "block")
MAX_NAME = 200
MAX_SIGNATURE = 1000
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ExposedSpec:
    name: str
    kind: str
    signature: str


@dataclass(frozen=True)
class ReferenceSpec:
    module: uuid.UUID
    elements: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    format: int
    key: uuid.UUID
    name: str
    description: str
    exposes: tuple[ExposedSpec, ...]
    references: tuple[ReferenceSpec, ...]

    def to_json(self) -> dict:
        """The canonical form: lists sorted, so their order in the file does not matter."""
        return {
            "format": self.format,
            "key": str(self.key),
            "name": self.name,
            "description": self.description,
            "exposes": [
                {"name": e.name, "kind": e.kind, "signature": e.signature}
                for e in sorted(self.exposes, key=lambda e: e.name)
            ],
            "references": [
                {"module": str(r.module), "elements": sorted(r.elements)}
                for r in sorted(self.references, key=lambda r: str(r.module))
            ],
        }


def no_constant(token: str):
    raise ValueError(f"{token} is not allowed")


def no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_manifest(data) -> Manifest:
    """Check a decoded manifest.json against SPEC §4 and return it in canonical order."""
    if not isinstance(data, dict):
        raise InvalidPackage("manifest.json must be a JSON object")
    _only_keys(data, {"format", "key", "name", "description", "exposes", "references"}, "manifest")
    if type(data.get("format")) is not int or data["format"] != 1:
        raise InvalidPackage("manifest format must be 1")
    key = _uuid(data.get("key"), "manifest key")
    name = _name(data.get("name"), "manifest name")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise InvalidPackage("manifest description must be a string")
    exposes = _list(data.get("exposes", []), "exposes")
    references = _list(data.get("references", []), "references")
    exposed: dict[str, ExposedSpec] = {}
    for i, item in enumerate(exposes):
        where = f"exposes[{i}]"
        if not isinstance(item, dict):
            raise InvalidPackage(f"{where} must be an object with name, kind and signature")
        _only_keys(item, {"name", "kind", "signature"}, where)
        element = _name(item.get("name"), f"{where}.name")
        kind = item.get("kind")
        if kind not in KINDS:
            shown = kind if isinstance(kind, str) else json.dumps(kind)
            raise InvalidPackage(
                f"{where}.kind '{shown}' is unknown: use server_action, service_action, "
                "entity or block"
            )
        signature = item.get("signature", "")
        if not isinstance(signature, str) or len(signature) > MAX_SIGNATURE:
            raise InvalidPackage(f"{where}.signature must be a string of at most 1000 characters")
        if element in exposed:
            raise InvalidPackage(f"duplicate exposed element name '{element}'")
        exposed[element] = ExposedSpec(name=element, kind=kind, signature=signature)
    referenced: dict[uuid.UUID, ReferenceSpec] = {}
    for i, item in enumerate(references):
        where = f"references[{i}]"
        if not isinstance(item, dict):
            raise InvalidPackage(f"{where} must be an object with module and elements")
        _only_keys(item, {"module", "elements"}, where)
        module = _uuid(item.get("module"), f"{where}.module")
        if module == key:
            raise InvalidPackage(f"{where}.module is the module itself")
        if module in referenced:
            raise InvalidPackage(f"duplicate reference to module {module}")
        elements = [
            _name(e, f"{where}.elements[{j}]")
            for j, e in enumerate(_list(item.get("elements"), f"{where}.elements"))
        ]
        if len(set(elements)) != len(elements):
            raise InvalidPackage(f"{where}.elements has a duplicate name")
        referenced[module] = ReferenceSpec(module=module, elements=tuple(sorted(elements)))
    return Manifest(
        format=1,
        key=key,
        name=name,
        description=description,
        exposes=tuple(exposed[n] for n in sorted(exposed)),
        references=tuple(referenced[m] for m in sorted(referenced, key=str)),
    )


def _only_keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidPackage(
            f"{where} has unknown key '{unknown[0]}': allowed are {', '.join(sorted(allowed))}"
        )


def _uuid(value, what: str) -> uuid.UUID:
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise InvalidPackage(f"{what} must be a UUID")


def _name(value, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise InvalidPackage(f"{what} must be a non-empty string of at most {MAX_NAME} characters")
    return value


def _list(value, what: str) -> list:
    if not isinstance(value, list):
        raise InvalidPackage(f"{what} must be a list")
    return value


def canonical_digest(manifest: Manifest, file_iter: Iterable[tuple]) -> str:
    """SHA-256 over the canonical content, independent of ZIP timestamps and compression.

    `file_iter` yields (path, size, content) in ascending path order, content being bytes,
    a binary file object or an iterable of byte chunks; it is consumed chunk by chunk.
    The stream: canonical manifest JSON, then per file: path, NUL, 8-byte size, content.
    """
    digest = hashlib.sha256(
        json.dumps(manifest.to_json(), sort_keys=True, separators=(",", ":")).encode()
    )
    previous = None
    for path, size, content in file_iter:
        if previous is not None and path <= previous:
            raise ValueError("files must be given once each, in ascending path order")
        previous = path
        digest.update(path.encode("utf-8") + b"\0" + size.to_bytes(8, "big"))
        seen = 0
        for chunk in _chunks_of(content):
            digest.update(chunk)
            seen += len(chunk)
        if seen != size:
            raise ValueError(f"file {path!r} has {seen} bytes, not the {size} declared")
    return digest.hexdigest()


def _chunks_of(content) -> Iterable[bytes]:
    if isinstance(content, (bytes, bytearray, memoryview)):
        return (bytes(content),)
    if hasattr(content, "read"):
        return iter(lambda: content.read(READ_CHUNK), b"")
    return content
