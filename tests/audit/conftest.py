"""Helpers for the audit suite: append real entries, run the real commands."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.services import audit_record


@pytest.fixture(autouse=True)
def _default_checkpoint_mirror(settings):
    """The mirror goes to its default place under each test's own IPP_DATA_DIR."""
    settings.IPP_AUDIT_CHECKPOINT_FILE = ""


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


@pytest.fixture
def verify_command():
    """Run `manage.py verify_audit`: (exit code, output or error text)."""

    def _run() -> tuple[int, str]:
        out = StringIO()
        try:
            call_command("verify_audit", stdout=out)
        except CommandError as exc:
            return 1, str(exc)
        return 0, out.getvalue().strip()

    return _run
