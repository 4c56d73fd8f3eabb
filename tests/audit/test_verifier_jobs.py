"""tools/ipp_verify_log.py hashing a lines export in several processes (--jobs) gives the
leaf hashes and root one process gives, which are audit.merkle's, however the runs fall."""

import importlib.util
import sys
from pathlib import Path

import pytest

from audit import merkle

TOOL = Path(__file__).resolve().parents[2] / "tools" / "ipp_verify_log.py"
spec = importlib.util.spec_from_file_location("ipp_verify_log_jobs", TOOL)
tool = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = tool  # workers find _hash_run by its module's name
spec.loader.exec_module(tool)


def _export(tmp_path, lines: list[bytes], *, last_newline: bool = True):
    path = tmp_path / "log.jsonl"
    header = b'{"format": "ipp-site log export v2", "log": "site"}\n'
    body = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    path.write_bytes(header + body)
    return tool.read_export(str(path))


def _entries(n: int) -> list[bytes]:
    return [b'{"index":%d,"pad":"%s"}' % (i, b"x" * (i % 37)) for i in range(n)]


@pytest.mark.parametrize("jobs", [2, 3, 5])
@pytest.mark.parametrize("n", [40, 41, 63, 64, 65, 100])
def test_runs_in_processes_give_the_trees_hashes_and_root(tmp_path, monkeypatch, jobs, n):
    monkeypatch.setattr(tool, "BLOCK", 64)  # runs and chunks cut inside and across blocks
    lines = _entries(n)
    export = _export(tmp_path, lines, last_newline=n % 2 == 0)
    assert export._runs(jobs, 4), "the export is cut into runs"
    hashes, root = export.hashes_and_root(jobs, chunk=4)
    expected = [merkle.leaf_hash(line) for line in lines]
    assert list(hashes) == expected
    assert root == merkle.root_from_leaf_hashes(expected)
    alone, same = export.hashes_and_root(1, chunk=4)
    assert (list(alone), same) == (expected, root)


def test_runs_start_at_whole_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(tool, "BLOCK", 50)
    lines = _entries(33)
    export = _export(tmp_path, lines)
    runs = export._runs(2, 4)
    data = Path(export.path).read_bytes()
    starts = [start for start, _end, _first in runs]
    assert starts[0] == export.offset
    assert data[starts[1] :].split(b"\n")[0] == lines[16]  # 9 chunks of 4: 4 in the first run
    assert [first for _start, _end, first in runs] == [0, 16]  # each run's first line
    assert runs[-1][1] is None


def test_a_small_export_stays_in_one_process(tmp_path):
    export = _export(tmp_path, _entries(24))
    assert export._runs(2, 8) == []  # fewer than two chunks a job


@pytest.mark.parametrize("line", [0, 17, 39])
def test_a_changed_line_changes_the_root_in_processes_too(tmp_path, line):
    lines = _entries(40)
    honest = _export(tmp_path, lines).hashes_and_root(3, chunk=4)[1]
    lines[line] = lines[line].replace(b"index", b"indeX")
    assert _export(tmp_path, lines).hashes_and_root(3, chunk=4)[1] != honest


def test_the_command_line_takes_jobs(tmp_path, capsys):
    with pytest.raises(SystemExit):
        tool.main(["--export", str(tmp_path / "none.jsonl"), "--jobs", "0"])
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_packed_hashes_read_as_a_list():
    hashes = [bytes([i]) * 32 for i in range(5)]
    packed = tool.Packed(b"".join(hashes))
    assert len(packed) == 5 and list(packed) == hashes
    assert packed[3] == hashes[3] and packed[-1] == hashes[-1] and packed[1:4] == hashes[1:4]
    with pytest.raises(IndexError):
        packed[5]
