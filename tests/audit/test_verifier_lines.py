"""tools/ipp_verify_log.py over the lines export format (--save FILE.jsonl): a real log of the
site, exported, checked in two passes (tree, then content), and every tamper of the file an
intruder could make fails naming the log and the index or what failed."""

import base64
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from audit import merkle
from audit.models import AuditEntry, AuditLog, TreeHead
from audit.services import audit_record
from core import keys
from ippsite.audit_ui.api_logs import head_body

pytestmark = pytest.mark.django_db
TOOL = Path(__file__).resolve().parents[2] / "tools" / "ipp_verify_log.py"
SIZE = 12


def _load_tool():
    spec = importlib.util.spec_from_file_location("ipp_verify_log_lines", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its worker processes find their function by name
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


@pytest.fixture
def export(world) -> dict:
    """ACME's log of SIZE entries as GET /audit/logs/{log}/… serves it (the JSON format)."""
    for n in range(SIZE):
        audit_record(
            actor=world.developer,
            action="module.deployed",
            infrastructure=world.acme,
            details={"n": n, "note": "réseau"},
        )
    log = str(world.acme.pk)
    size = AuditLog.objects.get(id=log).size
    rows = AuditEntry.objects.filter(log_id=log).order_by("index").values_list("index", "leaf")
    return {
        "log": log,
        "keys": [],
        "tree_head": head_body(TreeHead.objects.get(log_id=log, size=size)),
        "entries": [
            {"index": i, "leaf": base64.b64encode(bytes(b)).decode(), "entry": json.loads(bytes(b))}
            for i, b in rows
        ],
    }


def _pins() -> list[str]:
    return [
        arg
        for kid, raw in keys.public_keys()
        for arg in ("--authority-key", f"{kid}:{base64.b64encode(raw).decode()}")
    ]


def _lines(export: dict) -> list[bytes]:
    """The lines file of `export`, one item per line (header first)."""
    return tool.lines_export(export).split(b"\n")[:-1]


@pytest.fixture
def check(tmp_path, capsys):
    """check(lines or bytes) → (exit code, stdout, stderr) of the tool over that file."""

    def _check(content, *arguments):
        path = tmp_path / "log.jsonl"
        data = content if isinstance(content, bytes) else b"\n".join(content) + b"\n"
        path.write_bytes(data)
        code = tool.main(["--export", str(path), *_pins(), *arguments])
        out, err = capsys.readouterr()
        return code, out, err

    return _check


def _fails(result, log: str, *fragments: str) -> None:
    code, out, err = result
    assert code == 1, (out, err)
    assert out == ""
    assert f"FAILED: log {log}: " in err, err
    for fragment in fragments:
        assert fragment in err, err


def test_a_lines_export_verifies_as_its_json_export_does(export, check, tmp_path, capsys):
    lines = _lines(export)
    header = json.loads(lines[0])
    assert header["format"] == "ipp-site log export v2"
    assert [json.loads(line) for line in lines[1:]] == [e["entry"] for e in export["entries"]]
    code, out, err = check(lines)
    assert code == 0, err
    assert out.startswith(f"ok: {SIZE} entries in log {export['log']}, root ")
    as_json = tmp_path / "log.json"
    as_json.write_text(json.dumps(export))
    assert tool.main(["--export", str(as_json), *_pins()]) == 0
    assert capsys.readouterr().out == out


def test_an_empty_log_has_a_header_line_and_no_entries(tmp_path):
    export = {"log": "site", "keys": [], "tree_head": {"log": "site", "size": 0}, "entries": []}
    data = tool.lines_export(export)
    assert data.count(b"\n") == 1 and data.endswith(b"\n")
    path = tmp_path / "empty.jsonl"
    path.write_bytes(data)
    assert tool.read_export(str(path)).leaf_hashes() == []
    path.write_bytes(data[:-1])  # no final newline: still no entries
    assert tool.read_export(str(path)).leaf_hashes() == []


def test_an_edited_entry_fails_on_the_root(export, check):
    lines = _lines(export)
    lines[5] = lines[5].replace(b"module.deployed", b"module.published")
    _fails(check(lines), export["log"], "the entries give root", "the signed head says")


def test_a_deleted_entry_fails_at_its_index(export, check):
    lines = _lines(export)
    del lines[1 + 3]
    _fails(check(lines), export["log"], "entry 3: says index 4, expected 3")


def test_an_inserted_entry_fails_at_its_index(export, check):
    lines = _lines(export)
    lines.insert(1 + 5, lines[1 + 5].replace(b'"n":5', b'"n":50'))
    _fails(check(lines), export["log"], "entry 6: says index 5, expected 6")


def test_reordered_entries_fail_at_the_first_out_of_place(export, check):
    lines = _lines(export)
    lines[1 + 2], lines[1 + 3] = lines[1 + 3], lines[1 + 2]
    _fails(check(lines), export["log"], "entry 2: says index 3, expected 2")


def test_a_truncated_export_fails_on_the_count(export, check):
    lines = _lines(export)
    _fails(check(lines[:-2]), export["log"], f"the tree head counts {SIZE} entries, the log holds")
    cut = b"\n".join(lines)[:-7]  # the last entry cut short, no final newline
    _fails(check(cut), export["log"], f"entry {SIZE - 1}: leaf is not UTF-8 JSON")


def test_an_entry_of_another_log_fails(export, check):
    lines = _lines(export)
    lines[1 + 4] = lines[1 + 4].replace(f'"log":"{export["log"]}"'.encode(), b'"log":"site"')
    _fails(check(lines), export["log"], "entry 4: says log 'site'")


def _content(raw: bytes) -> None:
    tool.check_lines("7", [raw], tool.leaf_hashes([raw]))


def test_the_content_pass_refuses_entries_that_are_not_canonical_json():
    good = b'{"index":0,"log":"7"}'
    _content(good)
    for raw, why in [
        (b'{"index": 0,"log":"7"}', "entry 0: leaf is not canonical JSON"),
        (b'{"log":"7","index":0}', "entry 0: leaf is not canonical JSON"),
        (b"\xff" + good, "entry 0: leaf is not UTF-8 JSON"),
        (b"[0]", "entry 0: says index None, expected 0"),
        (b'{"index":1,"log":"7"}', "entry 0: says index 1, expected 0"),
        (b'{"index":true,"log":"7"}', "entry 0: says index True, expected 0"),
    ]:
        with pytest.raises(tool.Failed, match=why.replace("(", r"\(")):
            _content(raw)
    with pytest.raises(tool.Failed, match="entry 0: the export changed while it was read"):
        tool.check_lines("7", [good], tool.leaf_hashes([b'{"index":0,"log":"8"}']))


def test_the_lines_are_read_in_blocks_that_cut_across_entries(export, check, monkeypatch):
    monkeypatch.setattr(tool, "BLOCK", 97)  # entries are longer: most blocks hold no newline
    code, out, err = check(_lines(export))
    assert code == 0, err
    assert out.startswith(f"ok: {SIZE} entries in log {export['log']}, root ")


def test_an_entry_that_cannot_be_one_line_is_saved_in_the_json_format(export):
    assert tool.lines_export(export) is not None
    export["entries"][3]["leaf"] = base64.b64encode(b'{"a":\n1}').decode()
    assert tool.lines_export(export) is None


def test_entries_inside_a_lines_header_count_for_nothing(export, check):
    """A header line carrying the JSON format's entries is still a header: no entry lines."""
    header = json.dumps(dict(export, format="ipp-site log export v2")).encode()
    _fails(check([header]), export["log"], f"the tree head counts {SIZE} entries, the log holds 0")


def _many(n: int) -> list[bytes]:
    return [tool._canonical({"details": {"n": i}, "index": i, "log": "7"}) for i in range(n)]


@pytest.mark.parametrize(
    "at, raw, why",
    [
        (4321, b'{"details":{"n":4321},"index":4321,"log":"7" }', "leaf is not canonical JSON"),
        (4096, b'{"details":{"n":4096},"index":4096.0,"log":"7"}', "says index 4096.0"),
        (1, b'{"details":{"n":1},"index":true,"log":"7"}', "says index True, expected 1"),
        (4095, b'{"details":{"n":4095},"index":4095,"log":"8"}', "says log '8'"),
        (5000, b'{"details":{"n":5000},"index":5000,"log":"7","x":"\xed\xa0\x80"}', "not UTF-8"),
        (9, b'{"details":{"n":9},"index":9,"log":"7"},{"index":10}', "leaf is not UTF-8 JSON"),
    ],
)
def test_the_content_pass_names_the_entry_at_fault_in_a_big_export(at, raw, why):
    """Past several chunks of entries, a bad entry anywhere is named."""
    entries = _many(6000)
    tool.check_lines("7", entries, tool.leaf_hashes(entries))
    entries[at] = raw
    with pytest.raises(tool.Failed, match=f"log 7: entry {at}: .*{why}"):
        tool.check_lines("7", entries, tool.leaf_hashes(entries))


def test_the_content_pass_skips_what_was_verified_before_and_sees_a_short_file():
    entries = _many(5000)
    entries[10] = b'{"index":10,"log":"7"} '  # not canonical, but before `start`
    hashes = tool.leaf_hashes(entries)
    tool.check_lines("7", entries[11:], hashes, start=11)
    with pytest.raises(tool.Failed, match="entry 10: leaf is not canonical"):
        tool.check_lines("7", entries[10:], hashes, start=10)
    with pytest.raises(tool.Failed, match="entry 4999: the export changed while it was read"):
        tool.check_lines("7", entries[11:-1], hashes, start=11)
    with pytest.raises(tool.Failed, match="entry 4200: the export changed while it was read"):
        tool.check_lines("7", [*entries[11:4200], entries[4201], *entries[4201:]], hashes, 11)


@pytest.mark.parametrize("block", [7, 64, 1 << 17])
@pytest.mark.parametrize("start", [0, 1, 5, 99, 100, 150])
def test_entries_from_a_start_skip_whole_lines(tmp_path, monkeypatch, block, start):
    monkeypatch.setattr(tool, "BLOCK", block)
    entries = [b'{"n":%d}' % i for i in range(100)]
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"format":"ipp-site log export v2","log":"7"}\n' + b"\n".join(entries))
    export = tool.read_export(str(path))
    assert list(export.entries(start)) == entries[start:]


def _signed_lines(log: str, entries: list[bytes], sizes: list[int]) -> tuple[list[bytes], dict]:
    """A lines export of `entries` and a head at each of `sizes`, signed with the authority's
    key (the site itself never writes a non-canonical entry: this one does, to show which
    entries the content pass reads). Returns the lines and {size: head}."""
    hashes = merkle.leaf_hashes_of(entries)
    heads = {}
    for size in sizes:
        root, timestamp = merkle.root_from_leaf_hashes(hashes[:size]), "2026-12-07T12:00:00Z"
        key_id, signature = keys.authority().sign(
            merkle.tree_head_message(log, size, root, timestamp)
        )
        heads[size] = {
            "log": log,
            "size": size,
            "root_hash": root.hex(),
            "timestamp": timestamp,
            "key_id": key_id,
            "signature": signature,
            "cosignatures": [],
        }
    header = {
        "format": "ipp-site log export v2",
        "log": log,
        "keys": [],
        "tree_head": heads[len(entries)],
    }
    return [json.dumps(header).encode(), *entries], heads


def test_with_state_only_entries_after_the_head_verified_before_are_decoded(check, tmp_path):
    entries = [tool._canonical({"index": i, "log": "7"}) for i in range(12)]
    entries[3] = b'{"index": 3,"log":"7"}'  # signed, but not canonical
    lines, heads = _signed_lines("7", entries, [8, 12])
    state = tmp_path / "state.json"
    _fails(check(lines), "7", "entry 3: leaf is not canonical JSON")
    state.write_text(json.dumps({"7": heads[8]}))
    code, out, err = check(lines, "--state", str(state))
    assert code == 0, err
    assert out.startswith("ok: 12 entries in log 7, root ")
    assert json.loads(state.read_text()) == {"7": heads[12]}  # kept under its log's id
    state.write_text(json.dumps({"7": {**heads[12], "size": 13}}))
    _fails(check(lines, "--state", str(state)), "7", "rollback: head size 12 is smaller")
    entries[9] = b'{"index": 9,"log":"7"}'
    lines, heads = _signed_lines("7", entries, [8, 12])
    state.write_text(json.dumps({"7": heads[8]}))
    _fails(check(lines, "--state", str(state)), "7", "entry 9: leaf is not canonical JSON")


def _lines_file(tmp_path, entries: list[bytes]):
    path = tmp_path / "log.jsonl"
    path.write_bytes(
        b'{"format":"ipp-site log export v2","log":"7"}\n' + b"\n".join(entries) + b"\n"
    )
    return tool.read_export(str(path))


@pytest.mark.parametrize("jobs", [1, 2, 3])
@pytest.mark.parametrize(
    "bad, first",
    [
        ({}, None),
        ({20000: b'{"index":20000,"log":"7"} '}, 20000),  # in the last run only
        ({100: b'{"index":5,"log":"7"}', 20000: b'{"index":1,"log":"7"}'}, 100),
        ({12287: b'{"index":12287,"log":"8"}', 24999: b"[]"}, 12287),  # 2 jobs: run 1's last
        ({12288: b'{"index":12288,"log":"8"}'}, 12288),  # 2 jobs: run 2's first
        ({8191: b'{"index":8191,"log":"8"}'}, 8191),  # 3 jobs: run 1's last
        ({16384: b'{"index":16384} '}, 16384),  # 3 jobs: run 3's first
    ],
)
def test_the_content_pass_in_several_processes_names_what_one_process_names(
    tmp_path, jobs, bad, first
):
    """Runs of whole chunks, one process each: the first bad entry of the whole export is the
    one named, with its own index, whichever run it is in (7 chunks of 4,096: runs start at
    12,288 with 2 jobs, at 8,192 and 16,384 with 3)."""
    entries = _many(25000)
    for at, raw in bad.items():
        entries[at] = raw
    export = _lines_file(tmp_path, entries)
    assert len(export._runs(jobs, tool.CHUNK)) == jobs  # 1: in this process
    hashes, _roots = export.hashes_and_chunk_roots(jobs)
    if first is None:
        export.check_content("7", hashes, 0, jobs)
        return
    with pytest.raises(tool.Failed, match=f"log 7: entry {first}: "):
        export.check_content("7", hashes, 0, jobs)


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_content_pass_in_several_processes_sees_a_file_that_changed(tmp_path, jobs):
    entries = _many(20000)
    hashes = tool.leaf_hashes(entries)
    shorter = _lines_file(tmp_path, entries[:-1])  # lost its last entry since the tree pass
    assert len(shorter._runs(jobs, tool.CHUNK)) == jobs
    with pytest.raises(tool.Failed, match="entry 19999: the export changed while it was read"):
        shorter.check_content("7", hashes, 0, jobs)
    shifted = _lines_file(tmp_path, [*entries[:9000], entries[9000], *entries[9000:-1]])
    with pytest.raises(tool.Failed, match="entry 9001: the export changed while it was read"):
        shifted.check_content("7", hashes, 0, jobs)
