"""Helpers for the audit suite: append real entries."""

import pytest
from django.db import connection

from audit.services import audit_record
from tests.audit import tamper


@pytest.fixture(autouse=True)
def _constraints_back(django_db_blocker):
    """After a test whose intruder dropped the audit constraints (tests.audit.tamper), they
    come back: a transactional test commits the DROP, and the next test needs them."""
    yield
    if tamper.disarmed:
        with django_db_blocker.unblock():
            if not connection.in_atomic_block:  # else the test's rollback puts them back
                tamper.rearm()
        tamper.disarmed = False


@pytest.fixture
def append():
    """append(n, actor=..., infrastructure=..., action=...) → the new entries, via audit_record."""

    def _append(n: int, *, actor=None, infrastructure=None, action="module.published", **details):
        return [
            audit_record(
                actor=actor,
                action=action,
                infrastructure=infrastructure,
                subject=infrastructure,
                details={"n": i, **details},
            )
            for i in range(n)
        ]

    return _append
