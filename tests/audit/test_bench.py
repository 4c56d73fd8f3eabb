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
            "--checkpoint-every",
            "50",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "verify_audit: ok: 250 entries" in done.stdout
    assert "raw sha256:   250 hashes" in done.stdout
    assert "ratio:" in done.stdout
