#!/usr/bin/env python
"""Benchmark: how fast do verify_audit and the verifier go, next to raw SHA-256 over the same bytes?

Builds N entries in one log (encoded, hashed into the tree and signed as the site does;
one signed head per batch of 5,000) in a throwaway SQLite database under a temporary
IPP_DATA_DIR, or in the scratch PostgreSQL database given by --database-url (migrated,
appended to, left there). Then, in the same run, best of --repeat, the timings taken in
turn (raw, tree pass, verifier, raw, …) so that a busy machine slows them alike:

  raw sha256    list(map(digest, map(sha256, entries))): SHA-256 of each entry's bytes,
                already in memory, in the C-level idiom the tree pass hashes its leaves with
  read          reading the entry bytes back, the queries the tree pass makes
  tree pass     verify_audit's tree pass in one process (--jobs 1): read from the
                database, leaf hashes, every node, every prefix root a stored head needs,
                the log row, the latest head's signature and every cosignature
  tree, N jobs  the same with the chunks read and hashed by N worker processes, N the
                machine's cores, as verify_audit runs it by default (the 50% target is
                about this one)
  column pass   verify_audit's separate column pass: decode each entry, compare columns
  verify_audit  the command as shipped (the 50% target is about it as a whole): the tree
                pass, and the columns held to the bytes by PostgreSQL's constraints
                (audit/enforced.py, looked at once) or, on SQLite, the column pass
  verify_audit --decode  the command with the column pass on PostgreSQL too
  verifier      tools/ipp_verify_log.py over an export of the same log in the lines format
                (--save log.jsonl): reading and parsing the file, leaf hashes, root,
                signature, in one process
  verifier, N jobs  the same in N processes, as the tool runs by default (the 50% target
                is about this one)
  content pass  the verifier's separate content pass over it: decode each entry
  verifier --state  both passes as an owner's cron runs them again 5,000 entries after
                its last run: the content pass decodes only those
  verifier json the same over the JSON export format (--save log.json), which parses JSON,
                decodes base64 and re-encodes every entry as it reads it
  verifier --url  the tool as an owner runs it, over the API of a gunicorn serving this
                database (the lines format, Accept: application/jsonl): a first run, which
                decodes every entry; "--state": the routine run, 5,000 entries after the
                last; "json": --save log.json, the JSON format over the API

    .venv/bin/python bench/audit_verify.py                    # 100,000 entries, SQLite
    .venv/bin/python bench/audit_verify.py --entries 1000000
    .venv/bin/python bench/audit_verify.py --database-url postgres://postgres@127.0.0.1/scratch
"""

import argparse
import base64
import hashlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOBS = os.cpu_count() or 1
NEW_SINCE = 5000  # entries appended since the verifier's last run, for "verifier --state"


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000, help="entries (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many timings")
    parser.add_argument("--database-url", help="a scratch PostgreSQL database instead of SQLite")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = parser.parse_args()
    if args.entries < 1 or args.repeat < 1:
        parser.error("--entries and --repeat must be at least 1")
    return args


def _best(repeat: int, work) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def _setup(data_dir: Path, database_url: str | None) -> None:
    os.environ.pop("DATABASE_URL", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ["IPP_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ippsite.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, skip_checks=True)


def _line(name: str, seconds: float, n: int, note: str = "") -> float:
    rate = n / seconds if seconds else float("inf")
    print(f"{name:<13} {seconds:8.3f}s {rate:>14,.0f} entries/s  {note}".rstrip())
    return rate


def run(args) -> int:
    from django.core.management import call_command

    from audit import checks, reading
    from audit.synthetic import bulk_append

    start = time.perf_counter()
    log = "site"
    before = checks.read_state(log).size if _log_exists(log) else 0
    bulk_append(args.entries)
    built = time.perf_counter() - start
    n = before + args.entries
    print(f"built {args.entries:,} entries in {built:.1f}s; the log holds {n:,} on {_vendor()}")

    blobs = [
        leaf
        for start in range(0, n, checks.CHUNK)
        for leaf in reading.leaves(log, start, min(start + checks.CHUNK, n))
    ]
    tool = _tool()
    export = _export(log, blobs)
    lines_path = Path(os.environ["IPP_DATA_DIR"]) / "log.jsonl"
    json_path = Path(os.environ["IPP_DATA_DIR"]) / "log.json"
    lines_path.write_bytes(tool.lines_export(export))
    json_path.write_text(json.dumps(export, ensure_ascii=False))
    del export  # 200,000 parsed entries: memory the timings below should not share
    pinned = dict(_public_keys())

    def offline(path, content=False, jobs=1, previous=None):
        return tool.verify(
            tool.read_export(str(path)),
            pinned=pinned,
            witnesses={},
            required=[],
            previous=previous,
            content=content,
            jobs=jobs,
        )

    earlier = _earlier_head(blobs, NEW_SINCE)

    digest, sha256 = type(hashlib.sha256()).digest, hashlib.sha256
    said = StringIO()

    def command():
        said.seek(0)
        said.truncate()
        call_command("verify_audit", "--log", log, stdout=said)

    timed = {
        "raw": lambda: list(map(digest, map(sha256, blobs))),
        "read": lambda: sum(map(len, reading.leaf_message_chunks(log, n, checks.CHUNK))),
        "tree": lambda: checks.tree_pass(checks.read_state(log)),
        "tree_jobs": lambda: checks.tree_pass(checks.read_state(log), jobs=JOBS),
        "verifier": lambda: offline(lines_path),
        "verifier_jobs": lambda: offline(lines_path, jobs=JOBS),
        "whole": command,
    }
    best, results = _interleaved(args.repeat, timed)
    for name in ("tree", "tree_jobs"):
        if results[name]:
            print(f"verification FAILED: {results[name][0]}", file=sys.stderr)
            return 1
    columns, findings = _best(1, lambda: checks.column_pass(log, n))
    out = StringIO()
    decoded, _ = _best(
        1, lambda: call_command("verify_audit", "--log", log, "--decode", stdout=out)
    )
    lines = tool.read_export(str(lines_path))
    hashes = lines.leaf_hashes()
    content, _ = _best(1, lambda: tool.check_lines(log, lines.entries(), hashes))
    json_time, json_verdict = _best(1, lambda: offline(json_path, content=True))
    routine, _ = _best(
        args.repeat, lambda: offline(lines_path, content=True, jobs=JOBS, previous=earlier)
    )
    http = _over_http(tool, pinned, log, earlier, args.repeat)
    size = sum(map(len, blobs))
    raw_rate = _line("raw sha256", best["raw"], n, f"{size / n:.0f} bytes per entry on average")
    _line("read", best["read"], n, "the tree pass's queries alone")
    tree_one = _line("tree pass", best["tree"], n, "read, hash, signatures, in one process")
    tree_rate = _line(
        f"tree, {JOBS} jobs", best["tree_jobs"], n, "verify_audit's tree pass as it runs by default"
    )
    _line("column pass", columns, n, "a separate pass: JSON decoding and comparing columns")
    whole_rate = _line("verify_audit", best["whole"], n, said.getvalue().strip())
    _line("verify_audit --decode", decoded, n, out.getvalue().strip())
    tool_one = _line(
        "verifier", best["verifier"], n, "the tree pass of a lines export, one process"
    )
    tool_rate = _line(
        f"verifier, {JOBS} jobs",
        best["verifier_jobs"],
        n,
        results["verifier_jobs"].split(", root")[0],
    )
    _line("content pass", content, n, "the verifier's separate pass: JSON decoding")
    _line("verifier json", json_time, n, "the JSON export format, both passes")
    routine_rate = _line(
        "verifier --state",
        routine,
        n,
        f"both passes, run again {NEW_SINCE:,} entries after the last run (--state: the "
        "content pass decodes only those)"
        if earlier
        else "both passes (no earlier head)",
    )
    _line(
        "verifier --url",
        http["first"],
        n,
        "over the API (gunicorn here): the lines format, a first run (every entry decoded)",
    )
    http_rate = _line(
        "verifier --url --state",
        http["routine"],
        n,
        f"over the API, run again {NEW_SINCE:,} entries after the last run",
    )
    _line("verifier --url json", http["json"], n, "over the API, --save log.json: the JSON format")
    print(
        f"peak RSS of the whole run: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB"
    )
    print(
        f"ratio: verify_audit runs at {whole_rate / raw_rate:.1%} as a whole, its tree pass at "
        f"{tree_rate / raw_rate:.1%} ({JOBS} jobs; "
        f"{tree_one / raw_rate:.1%} in one process) and the verifier at "
        f"{tool_rate / raw_rate:.1%} ({JOBS} jobs; {tool_one / raw_rate:.1%} in one process; "
        f"{routine_rate / raw_rate:.1%} run again with --state; {http_rate / raw_rate:.1%} so "
        "over the API) "
        f"of raw SHA-256 over the same bytes in memory, one process ({raw_rate:,.0f} entries/s; "
        "target 50%)"
    )
    return 0 if json_verdict.startswith("ok:") else 1


def _interleaved(repeat: int, timed: dict) -> tuple[dict, dict]:
    """Best time and last result of each, taken in turn so that a busy machine slows all."""
    best = dict.fromkeys(timed, float("inf"))
    results = {}
    for _ in range(repeat):
        for name, work in timed.items():
            start = time.perf_counter()
            results[name] = work()
            best[name] = min(best[name], time.perf_counter() - start)
    return best, results


def _earlier_head(blobs: list[bytes], new: int) -> dict | None:
    """What the verifier's --state file holds after a run `new` entries ago (the head's size
    and root are what the next run checks; the site need not keep that head)."""
    from audit import merkle

    size = len(blobs) - new
    if size <= 0:
        return None
    root = merkle.root_from_leaf_hashes(merkle.leaf_hashes_of(blobs[:size]))
    return {"log": "site", "size": size, "root_hash": root.hex()}


def _over_http(tool, pinned: dict, log: str, earlier: dict | None, repeat: int) -> dict:
    """Seconds of tools/ipp_verify_log.py --url as an owner runs it, against gunicorn
    serving this database: a first run and a routine one (--state, the earlier head saved)
    in the lines format, and --save log.json (the JSON format, once)."""
    from django.contrib.auth import get_user_model

    from ippsite.models import ApiToken

    support, _ = get_user_model().objects.get_or_create(
        username="bench-support", defaults={"is_staff": True}
    )
    _row, token = ApiToken.issue(support)
    work = Path(os.environ["IPP_DATA_DIR"]) / "http"
    work.mkdir(exist_ok=True)
    state = work / "heads.json"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "IPP_BIND": f"127.0.0.1:{port}",
        "IPP_SSL_REDIRECT": "0",
        "IPP_SECURE_COOKIES": "0",
        "PYTHONPATH": str(ROOT),
    }
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [str(gunicorn), "-c", "ippsite/gunicorn.conf.py", "--access-logfile", "/dev/null"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    pins = [
        arg
        for kid, raw in pinned.items()
        for arg in ("--authority-key", f"{kid}:{base64.b64encode(raw).decode()}")
    ]
    argv = ["--url", url, f"--token={token}", "--log", log, *pins]

    def verifier(*extra, previous=None):
        if previous is None:
            state.unlink(missing_ok=True)
        else:
            state.write_text(json.dumps({log: previous}))
        with redirect_stdout(StringIO()), redirect_stderr(StringIO()) as said:  # "ok", warnings
            if tool.main([*argv, *extra]):
                raise SystemExit(f"verifier --url failed: {said.getvalue()}")

    try:
        _wait_for(f"{url}/healthz", server)
        timed = {
            "first": lambda: verifier("--state", str(state)),
            "routine": lambda: verifier("--state", str(state), previous=earlier),
        }
        best, _ = _interleaved(repeat, timed)
        best["json"], _ = _best(1, lambda: verifier("--save", str(work / "log.json")))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return best


def _wait_for(url: str, server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def _export(log: str, blobs: list[bytes]) -> dict:
    """The log as tools/ipp_verify_log.py --save writes it (built here, not over HTTP)."""
    from audit.models import AuditLog, TreeHead
    from ippsite.audit_ui.api_logs import head_body

    size = AuditLog.objects.get(id=log).size
    head = head_body(TreeHead.objects.get(log_id=log, size=size))
    return {
        "log": log,
        "keys": [],
        "tree_head": head,
        "entries": [
            {"index": i, "leaf": base64.b64encode(b).decode(), "entry": json.loads(b)}
            for i, b in enumerate(blobs)
        ],
    }


def _tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "ipp_verify_log", ROOT / "tools" / "ipp_verify_log.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its worker processes find their function by name
    spec.loader.exec_module(module)
    return module


def _public_keys():
    from core import keys

    return keys.public_keys()


def _log_exists(log: str) -> bool:
    from audit.models import AuditLog

    return AuditLog.objects.filter(id=log).exists()


def _vendor() -> str:
    from django.db import connection

    return connection.vendor


def main() -> int:
    args = _arguments()
    data_dir = Path(tempfile.mkdtemp(prefix="ipp-audit-bench-"))
    try:
        _setup(data_dir, args.database_url)
        return run(args)
    finally:
        if args.keep:
            print(f"data kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
