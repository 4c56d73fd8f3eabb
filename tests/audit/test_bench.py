"""The verification benchmark keeps working (run tiny here; tests never time anything)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_bench_script_builds_verifies_and_compares_with_raw_sha256(tmp_path):
    env = {**os.environ, "DATABASE_URL": "postgres://must-not-be-used@invalid/none"}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "audit_verify.py"),
            "--entries",
            "250",
            "--repeat",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "the log holds 250 on sqlite" in done.stdout
    for line in (
        *("raw sha256", "read", "tree pass", "column pass", "verify_audit"),
        "verify_audit --decode",
        *("verifier", "content pass", "verifier json", "verifier --state"),
    ):
        assert f"\n{line} " in done.stdout
    assert "ok: 250 entries in 1 logs" in done.stdout
    assert "ok: 250 entries in log site" in done.stdout
    assert "ratio: verify_audit runs at " in done.stdout and " as a whole, its tree pass at " in (
        done.stdout
    )
    assert "and the verifier at " in done.stdout
    assert "of raw SHA-256 over the same bytes in memory, one process" in done.stdout
    jobs = os.cpu_count() or 1
    assert f"\ntree, {jobs} jobs " in done.stdout
    assert f"\nverifier, {jobs} jobs " in done.stdout
