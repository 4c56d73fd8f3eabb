"""Concurrent writers queue on the head row: the chain never forks (PostgreSQL, real threads)."""

import threading

import pytest
from django.db import connection, connections, transaction

from audit.models import AuditEntry
from audit.services import audit_record
from audit.verify import verify_chain
from tests import factories

THREADS, APPENDS = 8, 25


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_never_fork_the_chain(settings):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL row locks (SQLite serializes whole transactions); set DATABASE_URL"
        )
    settings.IPP_AUDIT_CHECKPOINT_EVERY = 16
    actor = factories.make_user("writer")
    infra = factories.make_infrastructure("Busy")
    start = threading.Barrier(THREADS)
    errors: list = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(APPENDS):
                with transaction.atomic():
                    audit_record(
                        actor=actor,
                        action="module.published",
                        infrastructure=infra,
                        details={"thread": n, "i": i},
                    )
        except Exception as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    total = THREADS * APPENDS
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, total + 1)
    )
    assert AuditEntry.objects.values("prev_hash").distinct().count() == total  # no fork
    result = verify_chain()
    assert (result.ok, result.last_seq, result.problem) == (True, total, "")
