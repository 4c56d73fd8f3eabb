"""Module packages (SPEC §4): every refusal rule, the canonical digest, and fuzzing."""

import hashlib
import io
import json
import os
import struct
import uuid
import warnings
import zipfile

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from core.errors import InvalidPackage
from registry.packages import (
    SEALED_PAYLOAD,
    Manifest,
    build_package,
    canonical_digest,
    open_package,
    parse_manifest,
)

KEY = "6f1c2a3e-9b7d-4c55-8a21-0d3e5f7a9b10"
OTHER = "0b8e9c1d-2f3a-4b5c-9d6e-7f8091a2b3c4"
FUZZ = hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def manifest(**changes) -> dict:
    data = {
        "format": 1,
        "key": KEY,
        "name": "CustomerCore",
        "description": "Customers and their orders",
        "exposes": [
            {"name": "GetCustomer", "kind": "server_action", "signature": "GetCustomer(Id) -> C"},
            {"name": "Customer", "kind": "entity", "signature": ""},
        ],
        "references": [{"module": OTHER, "elements": ["Money", "Country"]}],
    }
    data.update(changes)
    return data


FILES = {"Logic/GetCustomer.oml": b"return 42\n", "Screens/Home.oml": b"<screen/>"}


def zip_of(entries, *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP with exactly these (name or ZipInfo, content) entries, duplicates allowed."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on the duplicates some tests want
        with zipfile.ZipFile(buffer, "w", compression) as zf:
            for name, content in entries:
                if isinstance(name, zipfile.ZipInfo):
                    name.compress_type = compression
                zf.writestr(name, content)
    return buffer.getvalue()


def with_manifest(*entries) -> bytes:
    return zip_of([("manifest.json", json.dumps(manifest())), *entries])


def refusal(data: bytes, **kwargs) -> InvalidPackage:
    with pytest.raises(InvalidPackage) as caught:
        open_package(io.BytesIO(data), **kwargs)
    return caught.value


def patch_central(data: bytes, name: str, offset: int, fmt: str, value: int) -> bytes:
    """Rewrite one field of `name`'s central directory header (offsets per APPNOTE 4.3.12)."""
    at = data.index(b"PK\x01\x02")
    while True:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == name.encode():
            break
        at = data.index(b"PK\x01\x02", at + 46)
    patched = bytearray(data)
    struct.pack_into(fmt, patched, at + offset, value)
    return bytes(patched)


def test_a_valid_package_opens_with_its_manifest_sorted_files_and_digest():
    with open_package(io.BytesIO(build_package(manifest(), FILES))) as package:
        assert package.sealed is False
        assert package.mark is None
        assert [(f.path, f.size) for f in package.files] == [
            ("Logic/GetCustomer.oml", 10),
            ("Screens/Home.oml", 9),
        ]
        assert package.manifest.key == uuid.UUID(KEY)
        assert [e.name for e in package.manifest.exposes] == ["Customer", "GetCustomer"]
        assert package.manifest.references[0].elements == ("Country", "Money")
        with package.open_source("Logic/GetCustomer.oml") as stream:
            assert stream.read() == b"return 42\n"
        assert len(package.digest) == 64


def test_digest_is_sha256_of_canonical_manifest_then_path_nul_size_content():
    with open_package(io.BytesIO(build_package(manifest(), FILES))) as package:
        expected = hashlib.sha256(
            json.dumps(package.manifest.to_json(), sort_keys=True, separators=(",", ":")).encode()
        )
        for path in sorted(FILES):
            content = FILES[path]
            expected.update(path.encode() + b"\0" + len(content).to_bytes(8, "big") + content)
        assert package.digest == expected.hexdigest()


def test_manifest_to_json_has_the_spec_shape():
    assert parse_manifest(manifest()).to_json() == {
        "format": 1,
        "key": KEY,
        "name": "CustomerCore",
        "description": "Customers and their orders",
        "exposes": [
            {"name": "Customer", "kind": "entity", "signature": ""},
            {"name": "GetCustomer", "kind": "server_action", "signature": "GetCustomer(Id) -> C"},
        ],
        "references": [{"module": OTHER, "elements": ["Country", "Money"]}],
    }


def test_digest_ignores_timestamps_compression_entry_order_and_manifest_list_order():
    first = build_package(manifest(), FILES)
    reordered = manifest(exposes=list(reversed(manifest()["exposes"])))
    entries = [
        (
            zipfile.ZipInfo("src/Screens/Home.oml", (2020, 5, 6, 7, 8, 10)),
            FILES["Screens/Home.oml"],
        ),
        (zipfile.ZipInfo("manifest.json", (2001, 1, 1, 0, 0, 0)), json.dumps(reordered, indent=4)),
        (
            zipfile.ZipInfo("src/Logic/GetCustomer.oml", (2031, 12, 31, 23, 59, 58)),
            FILES["Logic/GetCustomer.oml"],
        ),
    ]
    second = zip_of(entries, compression=zipfile.ZIP_STORED)
    assert first != second
    assert open_package(io.BytesIO(first)).digest == open_package(io.BytesIO(second)).digest


def test_digest_changes_with_content_and_with_manifest():
    base = open_package(io.BytesIO(build_package(manifest(), FILES))).digest
    edited = dict(FILES, **{"Screens/Home.oml": b"<screen />"})
    assert open_package(io.BytesIO(build_package(manifest(), edited))).digest != base
    renamed = manifest(description="changed")
    assert open_package(io.BytesIO(build_package(renamed, FILES))).digest != base


def test_canonical_digest_refuses_unsorted_files_and_wrong_sizes():
    parsed = parse_manifest(manifest())
    with pytest.raises(ValueError, match="ascending path order"):
        canonical_digest(parsed, [("b", 1, b"x"), ("a", 1, b"y")])
    with pytest.raises(ValueError, match="has 2 bytes, not the 3 declared"):
        canonical_digest(parsed, [("a", 3, io.BytesIO(b"xy"))])


def test_open_source_refuses_paths_outside_the_source():
    with open_package(io.BytesIO(build_package(manifest(), FILES))) as package:
        for path in ("../manifest.json", "Logic", "", "missing.oml"):
            with pytest.raises(KeyError):
                package.open_source(path)


def test_a_sealed_package_opens_with_its_mark_and_payload():
    mark = {"activation_code": "X", "digest": "d", "signature": "s"}
    data = build_package(
        manifest(), {}, extra={"mark.json": json.dumps(mark).encode(), SEALED_PAYLOAD: b"opaque"}
    )
    with open_package(io.BytesIO(data)) as package:
        assert (package.sealed, package.mark, package.files, package.digest) == (
            True,
            mark,
            [],
            "",
        )
        assert package.open_member(SEALED_PAYLOAD).read() == b"opaque"
        with pytest.raises(KeyError):
            package.open_source("anything")


@pytest.mark.parametrize(
    "data, detail",
    [
        (b"", "package is not a ZIP file"),
        (b"this is plain text, not a zip", "package is not a ZIP file"),
        (zip_of([("src/a.txt", b"x")]), "manifest.json is missing"),
        (zip_of([("manifest.json", b"{"), ("src/a", b"x")]), "manifest.json is not valid JSON: "),
        (
            zip_of([("manifest.json", b"\xff\xfe"), ("src/a", b"x")]),
            "manifest.json is not valid UTF-8",
        ),
        (
            zip_of([("manifest.json", b"[]"), ("src/a", b"x")]),
            "manifest.json must be a JSON object",
        ),
        (with_manifest(), "package has no source files under src/"),
        (with_manifest(("src/", b""), ("src/dir/", b"")), "package has no source files under src/"),
        (with_manifest(("src/a", b"1"), ("src/a", b"2")), "duplicate entry name 'src/a'"),
        (with_manifest(("/etc/passwd", b"x")), "entry '/etc/passwd' has an absolute path"),
        (with_manifest(("src/a/../../b", b"x")), "entry 'src/a/../../b' has a '..' path component"),
        (with_manifest(("src/./a", b"x")), "entry 'src/./a' has a '.' path component"),
        (with_manifest(("src//a", b"x")), "entry 'src//a' has an empty path component"),
        (with_manifest(("C:/src/a", b"x")), "entry 'C:/src/a' has a drive letter"),
        (with_manifest(("src\\a", b"x")), "has a backslash in its path"),
        (with_manifest(("src/a\x01b", b"x")), "has a control character in its name"),
        (with_manifest(("README.md", b"x"), ("src/a", b"x")), "entry 'README.md' is outside src/"),
        (with_manifest(("src/a", b"x"), ("src/a/b", b"y")), "entry 'src/a/b' is inside 'src/a'"),
        (
            with_manifest(("src/a", b"x"), ("mark.json", b"{}"), (SEALED_PAYLOAD, b"s")),
            "package mixes sealed content",
        ),
        (with_manifest(("mark.json", b"{}")), "sealed package is missing sealed.bin"),
        (with_manifest((SEALED_PAYLOAD, b"s")), "sealed package is missing mark.json"),
        (
            with_manifest(("mark.json", b"[1]"), (SEALED_PAYLOAD, b"s")),
            "mark.json must be a JSON object",
        ),
    ],
)
def test_a_broken_package_is_refused_with_the_rule_it_breaks(data, detail):
    error = refusal(data)
    assert detail in error.detail
    assert (error.code, error.status) == ("invalid_package", 400)


@pytest.mark.parametrize(
    "changes, detail",
    [
        ({"format": 2}, "manifest format must be 1"),
        ({"format": "1"}, "manifest format must be 1"),
        ({"format": True}, "manifest format must be 1"),
        ({"key": "not-a-uuid"}, "manifest key must be a UUID"),
        ({"key": 7}, "manifest key must be a UUID"),
        ({"name": ""}, "manifest name must be a non-empty string of at most 200 characters"),
        ({"name": "   "}, "manifest name must be a non-empty string"),
        ({"name": "x" * 201}, "manifest name must be a non-empty string of at most 200"),
        ({"description": 5}, "manifest description must be a string"),
        ({"colour": "blue"}, "manifest has unknown key 'colour'"),
        ({"exposes": {}}, "exposes must be a list"),
        (
            {"exposes": ["GetCustomer"]},
            "exposes[0] must be an object with name, kind and signature",
        ),
        (
            {"exposes": [{"name": "A", "kind": "entity"}, {"name": "B", "kind": "foo"}]},
            "exposes[1].kind 'foo' is unknown: use server_action, service_action, entity or block",
        ),
        ({"exposes": [{"name": "", "kind": "entity"}]}, "exposes[0].name must be a non-empty"),
        (
            {"exposes": [{"name": "A", "kind": "entity", "signature": 3}]},
            "exposes[0].signature must be a string",
        ),
        (
            {"exposes": [{"name": "X", "kind": "entity"}, {"name": "X", "kind": "block"}]},
            "duplicate exposed element name 'X'",
        ),
        (
            {"references": [{"module": "nope", "elements": []}]},
            "references[0].module must be a UUID",
        ),
        (
            {"references": [{"module": OTHER, "elements": "A"}]},
            "references[0].elements must be a list",
        ),
        (
            {"references": [{"module": KEY, "elements": []}]},
            "references[0].module is the module itself",
        ),
        (
            {"references": [{"module": OTHER, "elements": []}, {"module": OTHER, "elements": []}]},
            f"duplicate reference to module {OTHER}",
        ),
        (
            {"references": [{"module": OTHER, "elements": ["A", "A"]}]},
            "references[0].elements has a duplicate name",
        ),
    ],
)
def test_an_invalid_manifest_is_refused_with_the_field_at_fault(changes, detail):
    assert detail in refusal(build_package(manifest(**changes), FILES)).detail


@pytest.mark.parametrize(
    "raw, detail",
    [
        (b'{"format": NaN}', "NaN is not allowed"),
        (b'{"format": 1, "format": 1}', "duplicate key 'format'"),
        (b"[" * 100_000 + b"]" * 100_000, "manifest.json is not valid JSON"),
        (os.urandom(600 * 1024).hex().encode(), "manifest.json is larger than 1 MiB"),
    ],
)
def test_a_manifest_that_json_would_misread_is_refused(raw, detail):
    assert detail in refusal(build_package(raw, FILES)).detail


def test_optional_manifest_fields_default_to_empty():
    minimal = {"format": 1, "key": KEY, "name": "Tiny"}
    with open_package(io.BytesIO(build_package(minimal, {"a": b"x"}))) as package:
        assert package.manifest == Manifest(1, uuid.UUID(KEY), "Tiny", "", (), ())


def test_a_symbolic_link_entry_is_refused():
    link = zipfile.ZipInfo("src/passwd")
    link.external_attr = 0o120777 << 16
    error = refusal(with_manifest((link, "/etc/passwd")))
    assert error.detail == "entry 'src/passwd' is a symbolic link"


def test_a_device_entry_is_refused():
    device = zipfile.ZipInfo("src/null")
    device.external_attr = 0o020666 << 16
    assert refusal(with_manifest((device, ""))).detail == "entry 'src/null' is not a regular file"


def test_an_encrypted_entry_is_refused():
    data = patch_central(with_manifest(("src/a", b"secret")), "src/a", 8, "<H", 0x1)
    assert refusal(data).detail == "entry 'src/a' is encrypted"


def test_an_unsupported_compression_method_is_refused():
    data = zip_of(
        [("manifest.json", json.dumps(manifest())), ("src/a", b"x" * 100)],
        compression=zipfile.ZIP_BZIP2,
    )
    assert "uses unsupported compression method 12" in refusal(data).detail


def test_more_than_ten_thousand_entries_are_refused():
    entries = [(f"src/{n}", b"") for n in range(10_001)]
    assert refusal(with_manifest(*entries)).detail == "package has more than 10000 entries"


def central_directory(count: int) -> bytes:
    """`count` central directory records of one-byte names (zipfile reads nothing else
    before building its list of entries)."""
    record = struct.Struct(zipfile.structCentralDir)
    return b"".join(
        record.pack(b"PK\x01\x02", 20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0)
        + bytes([97 + n % 26])
        for n in range(count)
    )


def end_record(entries: int, cd_size: int, cd_offset: int) -> bytes:
    return struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, entries, entries, cd_size, cd_offset, 0)


def zip64_end_records(entries: int, cd_size: int, cd_offset: int, at: int) -> bytes:
    record = struct.pack(
        "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_offset
    )
    return record + struct.pack("<4sLQL", b"PK\x06\x07", 0, at, 1)


@pytest.fixture
def zipinfos_built(monkeypatch):
    """How many ZipInfo objects zipfile builds (its list of entries) while the test runs."""
    built = []

    class CountedZipInfo(zipfile.ZipInfo):
        __slots__ = ()

        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(zipfile, "ZipInfo", CountedZipInfo)
    return built


def test_a_forged_entry_count_is_refused_before_zipfile_builds_its_entries(zipinfos_built):
    directory = central_directory(160_000)  # 7.5 MB: under the 8 MiB directory limit
    data = directory + end_record(2, len(directory), 0)
    detail = refusal(data).detail
    assert detail.startswith("package has more than 10000 entries")
    assert "end record declares 2" in detail
    assert len(zipinfos_built) == 0


def test_a_forged_zip64_entry_count_is_refused_before_zipfile_builds_its_entries(
    zipinfos_built,
):
    # The classic end record declares 2 entries in 94 bytes, and so does the ZIP64 one for
    # the count; zipfile believes the ZIP64 record's directory size and reads all 160,000.
    directory = central_directory(160_000)
    data = directory + zip64_end_records(2, len(directory), 0, at=len(directory))
    data += end_record(2, 94, 0)
    detail = refusal(data).detail
    assert detail.startswith("package has more than 10000 entries")
    assert len(zipinfos_built) == 0


def test_an_end_record_that_declares_more_entries_than_there_are_is_refused():
    data = bytearray(with_manifest(("src/a", b"x")))
    at = data.rindex(b"PK\x05\x06")
    struct.pack_into("<HH", data, at + 8, 3, 3)
    assert refusal(bytes(data)).detail == (
        "package is a damaged ZIP file: its end record declares 3 entries, "
        "its central directory holds 2"
    )


def test_ten_thousand_entries_are_accepted():
    entries = [(f"src/{n}", b"") for n in range(9_999)]
    with open_package(io.BytesIO(with_manifest(*entries))) as package:
        assert len(package.files) == 9_999


def test_a_zip_bomb_entry_is_refused_by_its_compression_ratio():
    bomb = with_manifest(("src/bomb.bin", bytes(20 * 1024**2)))
    assert refusal(bomb).detail == "entry 'src/bomb.bin' has a compression ratio over 100"


def test_many_small_bombs_are_refused_by_the_package_compression_ratio():
    shards = [(f"src/{n}.bin", bytes(900 * 1024)) for n in range(4)]
    assert refusal(with_manifest(*shards)).detail == "package has a compression ratio over 100"


def test_a_small_repetitive_file_is_accepted_despite_its_ratio():
    with open_package(io.BytesIO(with_manifest(("src/zeros", bytes(512 * 1024))))) as package:
        assert package.files[0].size == 512 * 1024


def test_more_than_one_gib_declared_uncompressed_is_refused():
    stored = zip_of(
        [("manifest.json", json.dumps(manifest())), ("src/big", os.urandom(12 * 1024**2))],
        compression=zipfile.ZIP_STORED,
    )
    forged = patch_central(stored, "src/big", 24, "<L", 1100 * 1024**2)
    assert refusal(forged).detail == "package is larger than 1 GiB uncompressed"


@pytest.mark.parametrize("declared", [3, 50])
def test_an_entry_whose_content_differs_from_its_declared_size_is_refused(declared):
    data = patch_central(with_manifest(("src/a", b"0123456789")), "src/a", 24, "<L", declared)
    assert "'src/a'" in refusal(data).detail


def test_a_corrupted_entry_is_refused_before_anything_is_used():
    data = bytearray(with_manifest(("src/a", os.urandom(4000))))
    data[data.index(b"src/a") + 100] ^= 0xFF  # inside the first entry's compressed data
    assert "'src/a'" in refusal(bytes(data)).detail


def test_a_package_over_the_size_limit_is_refused_with_413(settings):
    settings.IPP_MAX_PACKAGE_MB = 1
    data = with_manifest(("src/random", os.urandom(1024**2 + 1)))
    error = refusal(data)
    assert (error.status, error.detail) == (413, "package is larger than IPP_MAX_PACKAGE_MB (1 MB)")


def test_the_declared_upload_size_is_used_when_given(settings):
    settings.IPP_MAX_PACKAGE_MB = 2
    error = refusal(build_package(manifest(), FILES), size=2 * 1024**2 + 1)
    assert error.status == 413


def test_build_package_is_reproducible():
    assert build_package(manifest(), FILES) == build_package(manifest(), FILES)


# Property tests ---------------------------------------------------------------------------

names = st.text(
    st.characters(categories=("L", "N"), include_characters="_-"), min_size=1, max_size=12
)
component = names.filter(lambda s: s not in (".", ".."))
paths = st.lists(component, min_size=1, max_size=3).map("/".join)


def no_file_is_a_directory(files: dict) -> bool:
    return not any(other.startswith(path + "/") for path in files for other in files)


source_files = st.dictionaries(paths, st.binary(max_size=3000), min_size=1, max_size=6).filter(
    no_file_is_a_directory
)
manifests = st.fixed_dictionaries(
    {
        "format": st.just(1),
        "key": st.uuids().map(str),
        "name": names,
        "description": st.text(max_size=40),
        "exposes": st.lists(
            st.fixed_dictionaries(
                {
                    "name": names,
                    "kind": st.sampled_from(["server_action", "service_action", "entity", "block"]),
                    "signature": st.text(max_size=30),
                }
            ),
            max_size=4,
            unique_by=lambda e: e["name"],
        ),
        "references": st.lists(
            st.fixed_dictionaries(
                {
                    "module": st.uuids().map(str),
                    "elements": st.lists(names, max_size=3, unique=True),
                }
            ),
            max_size=3,
            unique_by=lambda r: r["module"],
        ),
    }
).filter(lambda m: all(r["module"] != m["key"] for r in m["references"]))


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_are_refused_only_as_invalid_package(data):
    with pytest.raises(InvalidPackage):
        open_package(io.BytesIO(data))


@FUZZ
@given(manifests, source_files)
def test_any_valid_manifest_and_files_round_trip(man, files):
    with open_package(io.BytesIO(build_package(man, files))) as package:
        assert package.manifest == parse_manifest(man)
        assert [(f.path, f.size) for f in package.files] == [
            (path, len(files[path])) for path in sorted(files)
        ]
        for path, content in files.items():
            with package.open_source(path) as stream:
                assert stream.read() == content
        listed = [(path, len(files[path]), files[path]) for path in sorted(files)]
        assert package.digest == canonical_digest(package.manifest, listed)


VALID = build_package(manifest(), {**FILES, "Data/blob.bin": bytes(range(256)) * 20})


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(VALID) - 1), st.integers(1, 255)), min_size=1, max_size=8
    ),
    st.one_of(st.none(), st.integers(0, len(VALID))),
)
def test_a_mutated_package_either_opens_or_is_refused_as_invalid_package(flips, cut):
    data = bytearray(VALID)
    for position, mask in flips:
        data[position] ^= mask
    if cut is not None:
        del data[cut:]
    try:
        package = open_package(io.BytesIO(bytes(data)))
    except InvalidPackage:
        return
    with package:
        for entry in package.files:
            with package.open_source(entry.path) as stream:
                assert len(stream.read()) == entry.size


timestamps = st.tuples(
    st.integers(1980, 2107),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
)


@FUZZ
@given(source_files, timestamps, st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
def test_the_same_content_zipped_at_another_time_has_the_same_digest(files, stamp, method):
    entries = [(zipfile.ZipInfo("manifest.json", stamp), json.dumps(manifest()))]
    entries += [(zipfile.ZipInfo("src/" + p, stamp), c) for p, c in sorted(files.items())]
    rezipped = zip_of(reversed(entries), compression=method)
    original = build_package(manifest(), files)
    assert open_package(io.BytesIO(rezipped)).digest == open_package(io.BytesIO(original)).digest
