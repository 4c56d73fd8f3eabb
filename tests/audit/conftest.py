"""Helpers for the audit suite: append real entries."""

import pytest

from audit.services import audit_record


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
