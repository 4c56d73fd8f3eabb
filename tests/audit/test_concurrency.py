"""Per-log locks on PostgreSQL with real threads: one log's appends never wait for another's,
one log's concurrent appends never fork it, two-log appends never deadlock."""

import threading

import pytest
from django.db import OperationalError, connection, connections, transaction

from audit import merkle
from audit.models import AuditEntry, AuditLog, TreeHead
from audit.services import audit_record
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks (SQLite serializes all writers); set DATABASE_URL")


def _run(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def _thread(target, errors: list) -> threading.Thread:
    def body():
        try:
            target()
        except Exception as exc:  # reported by the test: a thread's failure fails it
            errors.append(exc)
        finally:
            connections.close_all()

    return threading.Thread(target=body)


def _append_with_lock_timeout(infrastructure, timeout: str = "2s") -> None:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{timeout}'")
        audit_record(actor=None, action="module.deployed", infrastructure=infrastructure)


def test_an_append_holds_only_its_own_logs_lock():
    acme = factories.make_infrastructure("ACME")
    emca = factories.make_infrastructure("EMCA")
    for infrastructure in (acme, emca):  # both logs exist before the race
        audit_record(actor=None, action="infrastructure.created", infrastructure=infrastructure)
    holding, release, errors = threading.Event(), threading.Event(), []

    def hold_acme():
        with transaction.atomic():
            audit_record(actor=None, action="module.published", infrastructure=acme)
            holding.set()
            release.wait(30)

    holder = _thread(hold_acme, errors)
    holder.start()
    try:
        assert holding.wait(30)
        outcomes = {}

        def try_append(name, infrastructure):
            try:
                _append_with_lock_timeout(infrastructure)
                outcomes[name] = "appended"
            except OperationalError:
                outcomes[name] = "waited for a lock"

        others = [
            _thread(lambda: try_append("emca", emca), errors),
            _thread(lambda: try_append("acme", acme), errors),
        ]
        _run(others)
        assert outcomes == {"emca": "appended", "acme": "waited for a lock"}
    finally:
        release.set()
        holder.join(30)
    assert errors == []
    assert AuditLog.objects.get(id=str(emca.pk)).size == 2
    assert AuditLog.objects.get(id=str(acme.pk)).size == 2


def test_concurrent_appends_to_one_log_never_fork_it():
    infra = factories.make_infrastructure("Busy")
    threads_count, appends, errors = 6, 15, []
    start = threading.Barrier(threads_count)

    def writer(n: int):
        start.wait()
        for i in range(appends):
            with transaction.atomic():
                audit_record(
                    actor=None,
                    action="module.published",
                    infrastructure=infra,
                    details={"thread": n, "i": i},
                )

    _run([_thread(lambda n=n: writer(n), errors) for n in range(threads_count)])
    assert errors == []
    total = threads_count * appends
    rows = AuditEntry.objects.filter(log_id=str(infra.pk)).order_by("index")
    assert list(rows.values_list("index", flat=True)) == list(range(total))
    leaves = [bytes(leaf) for leaf in rows.values_list("leaf", flat=True)]
    hashes = merkle.leaf_hashes_of(leaves)
    for size, root in TreeHead.objects.filter(log_id=str(infra.pk)).values_list("size", "root"):
        assert bytes(root) == merkle.root_from_leaf_hashes(hashes[:size])
    assert AuditLog.objects.get(id=str(infra.pk)).size == total


def test_transfers_both_ways_at_once_never_deadlock():
    acme = factories.make_infrastructure("ACME")
    emca = factories.make_infrastructure("EMCA")
    errors, start = [], threading.Barrier(4)

    def transfers(source, destination):
        start.wait()
        for _ in range(15):
            with transaction.atomic():
                audit_record(
                    actor=None, action="transfer.approved", infrastructure=source, also=destination
                )

    _run(
        [
            _thread(lambda: transfers(acme, emca), errors),
            _thread(lambda: transfers(emca, acme), errors),
            _thread(lambda: transfers(acme, emca), errors),
            _thread(lambda: transfers(emca, acme), errors),
        ]
    )
    assert errors == []
    for infra in (acme, emca):
        assert AuditLog.objects.get(id=str(infra.pk)).size == 60
