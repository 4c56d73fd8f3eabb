"""`bench/run --quick` runs end to end and writes its JSON. Figures are reported by the
benchmark, never asserted here (tests do not time)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_quick_benchmark_runs_and_writes_its_json(tmp_path):
    out = tmp_path / "bench.json"
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run"), "--quick", "--repeat", "1",
         "--seconds", "1", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["size"] == "quick"
    operations = {row["operation"] for row in report["results"]}
    assert "catalog page 1" in operations and "publish many files" in operations
    assert "| operation |" in done.stdout
