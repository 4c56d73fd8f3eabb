"""Publishing a 200 MB package of 2,000 files (both blob stores) or of one 200 MiB file
streams it: the peak resident set of the publishing process hardly grows (measured by the kernel, VmHWM, in a
process of its own, so nothing held outside Python's allocator escapes the measure)."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.db import connection

from tests import factories
from tests.modules.conftest import DATABASE_STORE

ROOT = Path(__file__).resolve().parents[2]
FILES = 2000
FILE_SIZE = 100 * 1024
GROWTH_LIMIT_MIB = 64
LARGE_MIB = 200

pytestmark = pytest.mark.slow


def write_large_package(path: Path) -> int:
    """One incompressible file of 200 MiB (stored), written 1 MiB at a time."""
    block = os.urandom(1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", json.dumps(factories.manifest(name="OneLargeFile")))
        with zf.open("src/Data/large.bin", "w", force_zip64=True) as out:
            for _ in range(LARGE_MIB):
                out.write(block)
    return LARGE_MIB << 20


def write_package(path: Path) -> int:
    """2,000 incompressible files of 100 KiB (stored, so the ratio rule is not what stops it)."""
    block = os.urandom(FILE_SIZE + FILES)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", json.dumps(factories.manifest(name="ManyFiles")))
        for n in range(FILES):
            zf.writestr(f"src/Logic/Part{n:04d}.bin", block[n : n + FILE_SIZE])
    return FILES * FILE_SIZE


def database_url() -> str:
    """The test database, for the child process (transaction=True: its rows are flushed)."""
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    return f"postgres://{s['USER']}{password}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "store, shape",
    [
        ("filesystem", "many"),
        pytest.param(*DATABASE_STORE.values, "many", marks=DATABASE_STORE.marks),
        ("filesystem", "large"),
    ],
)
def test_publishing_200_mb_keeps_the_resident_set_bounded(store, shape, tmp_path):
    package = tmp_path / f"{shape}.zip"
    size = (write_package if shape == "many" else write_large_package)(package)
    files = FILES if shape == "many" else 1
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        IPP_DATA_DIR=str(tmp_path / "data"),
        IPP_BLOB_STORE=store,
        IPP_MAX_PACKAGE_MB="300",
        IPP_ALLOW_GENERATED_KEYS="1",
    )
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = database_url()
    done = subprocess.run(
        [sys.executable, "-m", "tests.modules.publish_rss", str(package)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    growth = (report["after"] - report["before"]) / 1024
    print(f"\n{store}: {size >> 20} MiB in {files} files, peak RSS grew {growth:.1f} MiB")
    assert (report["files"], report["bytes"]) == (files, size)
    assert growth < GROWTH_LIMIT_MIB, f"publishing grew the peak resident set {growth:.1f} MiB"
