"""Migration 0009: LogVerification keeps how each run held the columns to the bytes."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("audit", "0008_entry_columns_held_by_postgresql")
AFTER = ("audit", "0009_verification_columns_by")


def _migrate(target: tuple[str, str]):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return MigrationExecutor(connection).loader.project_state([target]).apps


def test_a_run_recorded_before_keeps_only_what_is_known_and_goes_back():
    apps = _migrate(BEFORE)
    try:
        logs = apps.get_model("audit", "AuditLog")
        runs = apps.get_model("audit", "LogVerification")
        logs.objects.get_or_create(id="site", defaults={"root": b"\0" * 32})
        logs.objects.create(id="424242", infrastructure_id=424242, root=b"\0" * 32)
        now = timezone.now()
        runs.objects.create(log_id="site", verified_at=now, size=0, ok=True, columns_checked=True)
        runs.objects.create(
            log_id="424242", verified_at=now, size=0, ok=True, columns_checked=False
        )
        apps = _migrate(AFTER)
        runs = apps.get_model("audit", "LogVerification")
        by = dict(runs.objects.values_list("log_id", "columns_by"))
        # SQLite decoded in every run; on PostgreSQL "verify now" may have used the
        # constraints: not known, so not claimed
        assert by == {"site": "decoded" if connection.vendor == "sqlite" else "", "424242": ""}
        apps = _migrate(BEFORE)
        runs = apps.get_model("audit", "LogVerification")
        checked = dict(runs.objects.values_list("log_id", "columns_checked"))
        assert checked == {"site": connection.vendor == "sqlite", "424242": False}
    finally:
        _migrate(AFTER)
