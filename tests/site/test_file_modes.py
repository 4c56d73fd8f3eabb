"""Files under IPP_DATA_DIR are the site user's only (SPEC §10): 0700 directories, 0600 files."""

import os
import stat
import subprocess
import sys
from pathlib import Path

from ippsite.checks import data_dir_is_private

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, data_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPP_") and k != "DATABASE_URL"}
    env["IPP_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def _modes(root: Path) -> dict[str, int]:
    modes = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        modes[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return modes


def test_everything_the_site_writes_is_private_from_the_first_write(tmp_path):
    data = tmp_path / "fresh" / "data"
    script = (
        "from django.db import connection; connection.ensure_connection();"
        "from django.conf import settings;"
        "(settings.IPP_DATA_DIR / 'blobs' / 'ab').mkdir(parents=True);"
        "(settings.IPP_DATA_DIR / 'blobs' / 'ab' / 'blob').write_bytes(b'x')"
    )

    result = _manage("shell", "-c", script, data_dir=data)

    assert result.returncode == 0, result.stderr
    modes = _modes(data)
    assert {"ipp.sqlite3", "keys", "tmp", "blobs/ab/blob"} <= set(modes)
    assert any(name.startswith("keys/") and (data / name).is_file() for name in modes)
    for name, mode in modes.items():
        expected = 0o700 if (data / name).is_dir() else 0o600
        assert mode == expected, f"{name}: {mode:04o}"


def test_an_existing_sqlite_file_is_made_private(tmp_path):
    data = tmp_path / "site-data"
    data.mkdir(mode=0o700)
    sqlite = data / "ipp.sqlite3"
    sqlite.touch()
    sqlite.chmod(0o644)

    result = _manage("check", data_dir=data)

    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(sqlite.stat().st_mode) == 0o600


def test_manage_check_fails_when_the_data_dir_is_readable_by_others(tmp_path):
    data = tmp_path / "site-data"
    (data / "blobs").mkdir(parents=True, mode=0o700)
    data.chmod(0o700)
    leaked = data / "blobs" / "leaked"
    leaked.write_bytes(b"source")
    leaked.chmod(0o644)

    result = _manage("check", data_dir=data)

    assert result.returncode != 0
    assert "ippsite.E001" in result.stderr
    assert str(leaked) in result.stderr


def test_the_check_reports_group_readable_directories_and_passes_private_ones(settings, tmp_path):
    data = tmp_path / "site-data"
    (data / "keys").mkdir(parents=True, mode=0o700)
    data.chmod(0o700)
    (data / "keys" / "k").write_bytes(b"k")
    (data / "keys" / "k").chmod(0o600)
    settings.IPP_DATA_DIR = data

    assert data_dir_is_private(None) == []

    (data / "keys").chmod(0o750)
    errors = data_dir_is_private(None)
    assert [error.id for error in errors] == ["ippsite.E001"]
    assert "keys (0750)" in errors[0].msg
