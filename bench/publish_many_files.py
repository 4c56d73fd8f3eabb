#!/usr/bin/env python
"""Benchmark: a package of many small files, published over HTTP to the real server.

Starts the site as bin/serve does (gunicorn with ippsite/gunicorn.conf.py, demo data) on a
throwaway IPP_DATA_DIR (SQLite unless --database-url), then:

  publish      how long POST /environments/{id}/publish of a package of --files files
               (--size bytes in total) holds the request, i.e. one worker thread
  reads        token-authenticated GET /api/v1/modules?page_size=1 in a loop while the
               publish runs: their count, median and slowest answer. A token use writes
               at most once an hour (ippsite/tokens.py), so these should not wait for
               the publish's write transaction on SQLite.

    .venv/bin/python bench/publish_many_files.py                  # 9,999 files, 1 MB
    .venv/bin/python bench/publish_many_files.py --files 2000 --size 50000000
    .venv/bin/python bench/publish_many_files.py --database-url postgres://postgres@127.0.0.1/scratch
"""

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PASSWORD = "demo-pass-2026"  # seed_demo's default


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, token=None, body=None, data=None, content_type=None):
    headers = {}
    if token:
        headers["Authorization"] = f"Token {token}"
    if body is not None:
        data, content_type = json.dumps(body).encode(), "application/json"
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def package(files: int, total: int) -> bytes:
    per_file = max(1, total // files)
    manifest = {
        "format": 1,
        "key": str(uuid.uuid4()),
        "name": "ManyFiles",
        "description": "many small files",
        "exposes": [{"name": "Thing", "kind": "entity", "signature": "Thing(Id)"}],
        "references": [],
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for n in range(files):
            body = (f"file {n} " * (per_file // 8 + 1)).encode()[:per_file]
            zf.writestr(f"src/Logic/Part{n // 100:03d}/File{n:05d}.oml", body)
    return out.getvalue()


def multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: application/zip\r\n\r\n'
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=9_999)
    parser.add_argument("--size", type=int, default=1_000_000, help="bytes of source in all")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="ipp-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "IPP_DATA_DIR": str(data_dir),
        "IPP_SSL_REDIRECT": "0",
        "IPP_SECURE_COOKIES": "0",
        "IPP_ALLOW_GENERATED_KEYS": "1",
        "IPP_BIND": f"127.0.0.1:{port}",
    }
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    manage = [PYTHON, "manage.py"]
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(manage + command, cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [str(Path(PYTHON).with_name("gunicorn")), "-c", "ippsite/gunicorn.conf.py"],
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        tokens = {}
        for user in ("acme-dev", "acme-contractor"):
            status, body = call(
                base, "POST", "/api/v1/auth/token", body={"username": user, "password": PASSWORD}
            )
            assert status == 200, body
            tokens[user] = body["token"]
        _status, envs = call(base, "GET", "/api/v1/environments", tokens["acme-dev"])
        dev = next(
            e for e in envs["results"] if e["name"] == "Development" and e["protected"] is False
        )
        zipped = package(args.files, args.size)
        body, content_type = multipart("package", "many.zip", zipped)

        latencies: list[float] = []
        statuses: set[int] = set()
        done = threading.Event()

        def reader():
            while not done.is_set():
                started = time.perf_counter()
                status, _ = call(
                    base, "GET", "/api/v1/modules?page_size=1", tokens["acme-contractor"]
                )
                latencies.append(time.perf_counter() - started)
                statuses.add(status)
                time.sleep(0.02)

        call(base, "GET", "/api/v1/modules?page_size=1", tokens["acme-contractor"])  # warm
        thread = threading.Thread(target=reader)
        thread.start()
        started = time.perf_counter()
        status, result = call(
            base,
            "POST",
            f"/api/v1/environments/{dev['id']}/publish",
            tokens["acme-dev"],
            data=body,
            content_type=content_type,
        )
        held = time.perf_counter() - started
        done.set()
        thread.join()
        assert status == 201, result
        database = "PostgreSQL" if args.database_url else "SQLite"
        print(
            f"{database}: {args.files} files, {len(zipped) / 1e6:.2f} MB zipped "
            f"({args.size / 1e6:.2f} MB of source)"
        )
        print(f"  publish      {held:.2f} s (status {status})")
        print(
            f"  reads        {len(latencies)} during the publish, statuses {sorted(statuses)}, "
            f"median {statistics.median(latencies) * 1000:.0f} ms, "
            f"slowest {max(latencies) * 1000:.0f} ms"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
