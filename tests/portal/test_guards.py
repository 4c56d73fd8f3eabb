"""The portal-blocked checks made under the source infrastructure's row lock.

A block by support may land while a transfer is being requested or approved. Both
services lock the source infrastructure row and read `portal_blocked` again under that
lock, so a block committed meanwhile is seen. Each test here fails when that re-check
(or its lock) is removed.

- On any database: the block lands between `transfer_request`'s first check and its
  locked re-check (simulated at `requesting._resolve_destination`, the one step between).
- On PostgreSQL, with real threads: support's block holds the row lock while an
  administrator requests or approves; the service must wait for it and refuse.
  (Blocking after the request and before approval, in sequence, is covered by
  tests/portal/test_rules.py::test_a_blocked_portal_stops_approval_of_a_pending_request.)
"""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from audit.models import AuditEntry
from core.errors import DomainError
from ipp.toggles import infrastructure_set_flags
from portal import services
from portal.models import TransferEvent, TransferRequest
from portal.services import requesting


def _assert_refused_as_blocked(outcome) -> None:
    assert isinstance(outcome, DomainError), outcome
    assert (outcome.code, outcome.status) == ("ipp_portal_blocked", 403)


@pytest.mark.django_db
def test_a_block_landing_after_the_first_check_still_refuses_an_administrators_request(
    world, customer_core, monkeypatch
):
    """The administrator's request would be approved at once; the re-check stops it."""
    resolve = requesting._resolve_destination

    def block_meanwhile(code, source):
        infrastructure_set_flags(actor=world.support, infrastructure=source, portal_blocked=True)
        return resolve(code, source)

    monkeypatch.setattr(requesting, "_resolve_destination", block_meanwhile)

    with pytest.raises(DomainError) as refused:
        services.transfer_request(
            user=world.acme_admin,
            modules=[customer_core.module_id],
            target_activation_code=world.emca.activation_code,
        )

    _assert_refused_as_blocked(refused.value)
    assert not TransferRequest.objects.exists()
    # A transfer event is recorded in the source's log and the destination's.
    refusal = AuditEntry.objects.get(action="transfer.refused", log__id=str(world.acme.pk))
    assert refusal.actor == world.acme_admin
    assert refusal.details["reason"] == "ipp_portal_blocked"
    assert not AuditEntry.objects.filter(action="transfer.approved").exists()


# --- PostgreSQL: a block being committed while the service runs ----------------------


def _waiting_on_a_lock() -> bool:
    """Is a session of this test database waiting for a lock (our service, blocked)?"""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def _while_support_blocks(world, call, *, wait_seconds: float = 10):
    """Run `call` in a thread while support's portal block holds the ACME row lock,
    uncommitted; commit the block once `call` waits on the lock (or after
    `wait_seconds` if it never does). Returns what `call` returned or raised, and
    whether it waited."""
    locked, release = threading.Event(), threading.Event()
    outcome: list = [None]

    def support():
        try:
            with transaction.atomic():
                infrastructure_set_flags(
                    actor=world.support, infrastructure=world.acme, portal_blocked=True
                )
                locked.set()
                release.wait(timeout=60)
        finally:
            connections.close_all()

    def caller():
        try:
            outcome[0] = call()
        except Exception as exc:  # the outcome under test, reported to the main thread
            outcome[0] = exc
        finally:
            connections.close_all()

    blocker = threading.Thread(target=support)
    blocker.start()
    assert locked.wait(timeout=10), "support's transaction did not start"
    worker = threading.Thread(target=caller)
    worker.start()
    deadline = time.monotonic() + wait_seconds
    waited = False
    while time.monotonic() < deadline and worker.is_alive():
        if _waiting_on_a_lock():
            waited = True
            break
        time.sleep(0.02)
    release.set()
    blocker.join(timeout=60)
    worker.join(timeout=60)
    return outcome[0], waited


@pytest.fixture
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (DATABASE_URL=postgres://...)")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_needs_postgres")
def test_an_approval_waits_for_a_block_being_committed_and_is_refused(world, customer_core):
    pending = services.transfer_request(
        user=world.developer,
        modules=[customer_core.module_id],
        target_activation_code=world.emca.activation_code,
    )

    outcome, waited = _while_support_blocks(
        world, lambda: services.transfer_approve(user=world.acme_admin, transfer=pending.pk)
    )

    _assert_refused_as_blocked(outcome)
    assert waited, "the approval did not wait for the source's row lock"
    pending.refresh_from_db()
    assert pending.status == TransferRequest.Status.PENDING
    assert pending.items.get().new_mark is None
    assert pending.events.filter(kind=TransferEvent.Kind.REFUSED).count() == 1
    assert not AuditEntry.objects.filter(action="transfer.approved").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_needs_postgres")
def test_an_administrators_request_waits_for_a_block_being_committed_and_is_refused(
    world, customer_core
):
    outcome, waited = _while_support_blocks(
        world,
        lambda: services.transfer_request(
            user=world.acme_admin,
            modules=[customer_core.module_id],
            target_activation_code=world.emca.activation_code,
        ),
    )

    _assert_refused_as_blocked(outcome)
    assert waited, "the request did not wait for the source's row lock"
    assert not TransferRequest.objects.exists()
    assert (
        AuditEntry.objects.filter(action="transfer.refused", log__id=str(world.acme.pk)).count()
        == 1
    )
    assert not AuditEntry.objects.filter(action="transfer.approved").exists()
