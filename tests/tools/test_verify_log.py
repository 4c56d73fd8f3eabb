"""tools/ipp_verify_log.py: the stand-alone verifier, run as a program and in-process.

Exports are built with audit.merkle and real Ed25519 keys; every tampering an operator or an
intruder could try must make it exit non-zero naming the log and the index or what failed.
"""

import ast
import base64
import importlib.util
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import merkle

TOOL = Path(__file__).resolve().parents[2] / "tools" / "ipp_verify_log.py"
AUTHORITY = Ed25519PrivateKey.generate()
INTRUDER = Ed25519PrivateKey.generate()
WITNESS = Ed25519PrivateKey.generate()
LOG = "7"
TIMESTAMP = "2025-03-04T05:06:07.000008Z"


def _load_tool():
    spec = importlib.util.spec_from_file_location("ipp_verify_log", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _public(key: Ed25519PrivateKey) -> str:
    return _b64(key.public_key().public_bytes_raw())


def _canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _entry(index: int, **changes) -> dict:
    shown = {
        "index": index,
        "time": f"2025-03-04T05:06:{index % 60:02d}.000000Z",
        "actor": "acme-admin",
        "action": "module.published",
        "infrastructure": 7,
        "subject": f"module:{index}",
        "details": {"version": index, "note": "réseau"},
        **changes,
    }
    return {"index": index, "leaf": _b64(_canonical(shown)), "entry": shown}


def _leaves(entries: list[dict]) -> list[bytes]:
    return [base64.b64decode(e["leaf"]) for e in entries]


def _head(leaves: list[bytes], *, key=AUTHORITY, kid="k1", root=None, cosigners=()) -> dict:
    """A tree head over these leaf bytes, signed by `key` and cosigned by (name, key) pairs."""
    root = root or merkle.root_from_leaf_hashes(merkle.leaf_hashes_of(leaves))
    size = len(leaves)
    signed = merkle.tree_head_message(LOG, size, root, TIMESTAMP)
    cosigned = merkle.cosignature_message(LOG, size, root, TIMESTAMP)
    return {
        "log": LOG,
        "size": size,
        "root_hash": root.hex(),
        "timestamp": TIMESTAMP,
        "key_id": kid,
        "signature": _b64(key.sign(signed)),
        "cosignatures": [{"witness": n, "signature": _b64(k.sign(cosigned))} for n, k in cosigners],
    }


def _export(entries: list[dict], **head) -> dict:
    head.setdefault("cosigners", [("acme", WITNESS)])
    return {
        "log": LOG,
        "keys": [
            {"key_id": "k1", "algorithm": "ed25519", "public_key": _public(AUTHORITY)},
            {"key_id": "k2", "algorithm": "ed25519", "public_key": _public(INTRUDER)},
        ],
        "tree_head": _head(_leaves(entries), **head),
        "entries": entries,
    }


def _valid(n: int = 10) -> dict:
    return _export([_entry(i) for i in range(n)])


PINS = ["--authority-key", f"k1:{_public(AUTHORITY)}", "--witness", f"acme:{_public(WITNESS)}"]


@pytest.fixture
def check(tmp_path, capsys):
    """check(export, *arguments) → (exit code, stdout, stderr), run in-process with the pins."""

    def _check(export: dict, *arguments: str, pins=PINS):
        path = tmp_path / "export.json"
        path.write_text(json.dumps(export))
        code = tool.main(["--export", str(path), *pins, *arguments])
        out, err = capsys.readouterr()
        return code, out, err

    return _check


def _fails(result, *fragments: str) -> None:
    code, out, err = result
    assert code == 1, (out, err)
    assert out == ""
    assert f"FAILED: log {LOG}: " in err
    for fragment in fragments:
        assert fragment in err


# --- as a program -----------------------------------------------------------------------


def test_a_valid_log_passes_when_run_as_a_program(tmp_path):
    export = _valid()
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    done = subprocess.run(
        [sys.executable, "-I", str(TOOL), "--export", str(path), *PINS],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # nothing of the project importable: it must stand alone
        timeout=60,
    )
    root = export["tree_head"]["root_hash"]
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"ok: 10 entries in log 7, root {root}, signed by k1, cosigned by acme\n"
    assert done.stderr == ""


def test_a_tampered_log_fails_when_run_as_a_program(tmp_path):
    export = _valid()
    del export["entries"][3]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    done = subprocess.run(
        [sys.executable, "-I", str(TOOL), "--export", str(path), *PINS],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 1
    assert "FAILED: log 7: entry 3: index is 4, expected 3" in done.stderr


def test_the_tool_imports_only_the_standard_library_and_cryptography():
    tree = ast.parse(TOOL.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) == {"cryptography"}


def test_the_tools_copy_of_the_tree_and_messages_matches_audit_merkle():
    entries = [f"entry {i}".encode() for i in range(70)]
    for size in range(71):
        hashes = tool.leaf_hashes(entries[:size])
        assert hashes == merkle.leaf_hashes_of(entries[:size])
        assert tool.tree_root(hashes) == merkle.root_from_leaf_hashes(hashes)
    hashes = tool.leaf_hashes(entries)
    for chunk in (1, 4, 16):
        roots = tool._chunk_roots(hashes, chunk)
        for size in range(71):  # a prefix's root from the chunk roots below it
            want = merkle.root_from_leaf_hashes(hashes[:size])
            assert tool.prefix_root(hashes, size, roots, chunk) == want, (chunk, size)
            assert tool.prefix_root(hashes, size) == want
    head = _head(entries[:5])
    root = bytes.fromhex(head["root_hash"])
    assert tool.head_message("ipp-site tree head v1", head) == merkle.tree_head_message(
        LOG, 5, root, TIMESTAMP
    )
    assert tool.head_message("ipp-site cosignature v1", head) == merkle.cosignature_message(
        LOG, 5, root, TIMESTAMP
    )


# --- what passes ------------------------------------------------------------------------


def test_a_valid_log_passes(check):
    code, out, err = check(_valid())
    assert code == 0, err
    assert out.startswith("ok: 10 entries in log 7, root ")
    assert out.endswith(", signed by k1, cosigned by acme\n")


def test_an_empty_log_passes(check):
    code, out, _ = check(_export([]))
    assert code == 0
    assert f"root {merkle.EMPTY_ROOT.hex()}" in out


def test_without_pinned_keys_the_sites_keys_are_used_with_a_warning(check):
    code, _, err = check(_valid(), pins=[])
    assert code == 0
    assert "warning: log 7: checking with the keys the site sent" in err


def test_keys_can_be_pinned_from_a_file_as_the_api_serves_them(check, tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(
        json.dumps(
            {"keys": [{"key_id": "k1", "algorithm": "ed25519", "public_key": _public(AUTHORITY)}]}
        )
    )
    code, _, err = check(_valid(), "--keys", str(keys), pins=PINS[2:])  # the witness only
    assert code == 0, err
    assert "warning" not in err


def test_an_unknown_witness_is_reported_not_failed(check):
    export = _export([_entry(i) for i in range(3)], cosigners=[("bob", INTRUDER)])
    code, out, err = check(export)
    assert code == 0
    assert out.endswith("cosigned by none\n")
    assert "cosignature by unknown witness 'bob' not checked" in err


# --- what fails -------------------------------------------------------------------------


def test_an_edited_entry_fails_on_the_root(check):
    export = _valid()
    export["entries"][4] = _entry(4, action="module.deployed")
    _fails(check(export), "the entries give root", "the signed head says")


def test_a_leaf_that_disagrees_with_the_entry_shown_fails_at_its_index(check):
    export = _valid()
    export["entries"][4]["leaf"] = _entry(4, action="module.deployed")["leaf"]
    _fails(check(export), "entry 4: the entry shown is not what the leaf bytes say")


def test_a_deleted_entry_fails_at_its_index(check):
    export = _valid()
    del export["entries"][3]
    _fails(check(export), "entry 3: index is 4, expected 3")


def test_an_inserted_entry_fails_at_its_index(check):
    export = _valid()
    export["entries"].insert(5, _entry(5, actor="intruder"))
    _fails(check(export), "entry 6: index is 5, expected 6")


def test_an_inserted_and_renumbered_entry_fails_on_the_count(check):
    export = _valid()
    shown = [e["entry"] for e in export["entries"]]
    shown.insert(5, {**shown[5], "actor": "intruder"})
    renumbered = [{k: v for k, v in s.items() if k != "index"} for s in shown]
    export["entries"] = [_entry(i, **s) for i, s in enumerate(renumbered)]
    _fails(check(export), "the tree head counts 10 entries, the log holds 11")


def test_reordered_entries_fail(check):
    export = _valid()
    entries = export["entries"]
    entries[2], entries[3] = entries[3], entries[2]
    _fails(check(export), "entry 2: index is 3, expected 2")
    entries[2], entries[3] = entries[3], entries[2]
    for field in ("leaf", "entry"):
        entries[2][field], entries[3][field] = entries[3][field], entries[2][field]
    _fails(check(export), "the entries give root")


def test_a_truncated_log_fails_on_the_count(check):
    export = _valid()
    del export["entries"][8:]
    _fails(check(export), "the tree head counts 10 entries, the log holds 8")


def test_a_head_with_a_wrong_root_fails(check):
    entries = [_entry(i) for i in range(10)]
    export = _export(entries, root=bytes(32))
    _fails(check(export), f"the signed head says {'00' * 32}")


def test_a_head_signed_by_another_key_fails(check):
    _fails(
        check(_export([_entry(i) for i in range(4)], key=INTRUDER)),
        "tree head signature does not verify with key 'k1'",
    )
    _fails(
        check(_export([_entry(i) for i in range(4)], key=INTRUDER, kid="k2")),
        "tree head is signed by key 'k2', not one of the pinned keys",
    )


def test_a_head_edited_after_signing_fails(check):
    export = _valid()
    export["tree_head"]["timestamp"] = "2030-01-01T00:00:00Z"
    _fails(check(export), "tree head signature does not verify with key 'k1'")


def test_a_forged_cosignature_fails(check):
    export = _export([_entry(i) for i in range(4)], cosigners=[("acme", INTRUDER)])
    _fails(
        check(export, "--require-witness", "acme"), "cosignature by witness 'acme' does not verify"
    )


def test_a_missing_required_cosignature_fails(check):
    export = _export([_entry(i) for i in range(4)], cosigners=[])
    _fails(
        check(export, "--require-witness", "acme"),
        "no valid cosignature by required witness 'acme'",
    )


@pytest.mark.parametrize(
    "leaf, why",
    [
        (lambda shown: json.dumps(shown).encode(), "leaf is not canonical JSON"),
        (
            lambda shown: json.dumps(shown, sort_keys=True, indent=1).encode(),
            "leaf is not canonical",
        ),
        (lambda shown: _canonical(shown)[:-1], "leaf is not UTF-8 JSON"),
        (lambda shown: b"\xff" + _canonical(shown), "leaf is not UTF-8 JSON"),
    ],
)
def test_a_leaf_that_is_not_canonical_json_fails_at_its_index(check, leaf, why):
    entries = [_entry(i) for i in range(6)]
    entries[4]["leaf"] = _b64(leaf(entries[4]["entry"]))
    _fails(check(_export(entries)), f"entry 4: {why}")  # signed over these very bytes


def test_a_leaf_that_is_not_base64_fails_at_its_index(check):
    export = _valid()
    export["entries"][2]["leaf"] = "not base64!"
    _fails(check(export), "entry 2: leaf is not base64")


# --- against the last verified head (--state) -------------------------------------------


def test_state_catches_rollback_and_forks_and_follows_growth(check, tmp_path):
    state = tmp_path / "heads.json"
    entries = [_entry(i) for i in range(12)]
    code, _, err = check(_export(entries[:10]), "--state", str(state))
    assert code == 0, err
    assert json.loads(state.read_text())[LOG]["size"] == 10

    _fails(
        check(_export(entries[:8]), "--state", str(state)),
        "rollback: head size 8 is smaller than the previously verified size 10",
    )
    forked = [*entries[:5], _entry(5, actor="intruder"), *entries[6:]]
    _fails(
        check(_export(forked), "--state", str(state)),
        "not consistent with the previously verified head of size 10",
    )
    assert json.loads(state.read_text())[LOG]["size"] == 10  # failures leave it alone

    code, _, err = check(_export(entries), "--state", str(state))
    assert code == 0, err
    assert json.loads(state.read_text())[LOG]["size"] == 12


# --- over the API -----------------------------------------------------------------------


class _Site(BaseHTTPRequestHandler):
    """The three audit endpoints of SPEC §7 over one export, pages capped at 1,000."""

    export: dict = {}
    seen: list = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
        self.seen.append((url.path, query, self.headers.get("Authorization")))
        if self.headers.get("Authorization") != "Token secret":
            return self._send(401, {"error": "not_authenticated", "detail": "no"})
        if url.path == "/api/v1/audit/keys":
            return self._send(200, {"keys": self.export["keys"]})
        if url.path == f"/api/v1/audit/logs/{LOG}/tree-head":
            return self._send(200, self.export["tree_head"])
        if url.path == f"/api/v1/audit/logs/{LOG}/entries":
            start, end = query["start"], min(query["end"], query["start"] + 1000)
            return self._send(200, {"entries": self.export["entries"][start:end]})
        return self._send(404, {"error": "not_found", "detail": url.path})

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
    _Site.export, _Site.seen = _valid(2500), []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_log_fetched_over_the_api_is_checked_and_saved(site, tmp_path, capsys):
    saved = tmp_path / "log7.json"
    arguments = ["--url", site, "--token", "secret", "--log", LOG, "--save", str(saved)]
    code = tool.main([*arguments, *PINS])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("ok: 2500 entries in log 7")
    assert "is not https" in err
    pages = [q for path, q, _ in _Site.seen if path.endswith("/entries")]
    assert pages == [
        {"start": 0, "end": 1000},
        {"start": 1000, "end": 2000},
        {"start": 2000, "end": 2500},
    ]
    assert json.loads(saved.read_text()) == _Site.export
    assert tool.main(["--export", str(saved), *PINS]) == 0


def test_a_refused_token_is_an_error_not_a_verdict(site, capsys):
    code = tool.main(["--url", site, "--token", "wrong", "--log", LOG, *PINS])
    _, err = capsys.readouterr()
    assert code == 2
    assert "HTTP 401" in err


def test_a_site_that_does_not_send_lines_is_read_in_json(site, capsys):
    """Without --save (or with a .jsonl one) the lines format is asked for; a site that
    answers JSON instead (one from before it) is read in JSON pages, with a warning."""
    code = tool.main(["--url", site, "--token", "secret", "--log", LOG, *PINS])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("ok: 2500 entries in log 7")
    assert "does not serve the lines format: fetching JSON (slower)" in err
    pages = [q for path, q, _ in _Site.seen if path.endswith("/entries")]
    assert pages == [
        {"start": 0, "end": 2500},  # the lines format: up to 10,000 a call
        {"start": 0, "end": 1000},
        {"start": 1000, "end": 2000},
        {"start": 2000, "end": 2500},
    ]
