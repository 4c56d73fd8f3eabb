"""The one settings module: production values pass Django's deploy check; bad values fail loudly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, env_extra: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("IPP_") and k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL")
    }
    env.update({"IPP_DATA_DIR": str(tmp_path), **env_extra})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_extra={
            "IPP_DEBUG": "0",
            "IPP_SECRET_KEY": "a-production-secret-" + "x7Q!" * 12,
            "IPP_ALLOWED_HOSTS": "ipp.example.com",
        },
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_a_bad_boolean_in_the_environment_fails_loudly(tmp_path):
    result = _manage("check", env_extra={"IPP_DEBUG": "maybe"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "IPP_DEBUG must be a boolean" in result.stderr


def test_the_generated_secret_key_file_is_private(tmp_path):
    result = _manage("check", env_extra={}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    secret_dir = tmp_path / "keys" / "secret"
    assert secret_dir.stat().st_mode & 0o777 == 0o700
    assert sorted(path.suffix for path in secret_dir.iterdir()) == [".json", ".key"]
    for path in secret_dir.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.django_db
def test_healthz_answers_when_the_database_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["database"] == "ok"


_WAL_SCRIPT = """
from django.db import connection, connections
from django.db.utils import OperationalError
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    print("mode", cursor.fetchone()[0])
    cursor.execute("PRAGMA journal_size_limit")
    print("wal limit", cursor.fetchone()[0])
    cursor.execute("CREATE TABLE wal_probe (x integer)")
reader = connection.connection
reader.execute("BEGIN")
print("before", reader.execute("SELECT count(*) FROM wal_probe").fetchone()[0])
writer = connections.create_connection("default")
writer.ensure_connection()
writer.connection.execute("PRAGMA busy_timeout = 300")
try:
    writer.connection.execute("BEGIN IMMEDIATE")
    writer.connection.execute("INSERT INTO wal_probe VALUES (1)")
    writer.connection.execute("COMMIT")
    print("commit ok")
except OperationalError as error:
    print("commit failed", error)
print("snapshot", reader.execute("SELECT count(*) FROM wal_probe").fetchone()[0])
reader.execute("COMMIT")
print("after", reader.execute("SELECT count(*) FROM wal_probe").fetchone()[0])
"""


def test_the_embedded_database_lets_a_writer_commit_while_a_page_reads(tmp_path):
    # The served SQLite file is in WAL mode: a reader's open transaction (a page being
    # rendered) neither blocks a writer's commit nor sees it halfway. With the rollback
    # journal the commit fails with "database is locked" while the reader holds its lock.
    result = _manage("shell", "-c", _WAL_SCRIPT, env_extra={}, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-6:] == [
        "mode wal",
        f"wal limit {64 * 1024 * 1024}",
        "before 0",
        "commit ok",
        "snapshot 0",
        "after 1",
    ], result.stdout
