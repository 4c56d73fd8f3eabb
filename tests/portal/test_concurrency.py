"""Decisions racing on one pending request: exactly one wins, the others get 409.

Real threads, each with its own database connection, on PostgreSQL (SQLite serializes
every writer, so there is no race to lose there).
"""

import threading

import pytest
from django.db import connection, connections

from audit.models import AuditEntry
from core.errors import Conflict
from portal.models import TransferEvent, TransferRequest
from portal.services import transfer_approve, transfer_cancel, transfer_reject, transfer_request

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip(
            "concurrency needs PostgreSQL (row locks); run with "
            "DATABASE_URL=postgres://... — SQLite serializes writers, so nothing races"
        )


def _race(calls) -> list:
    """Run every call at once in its own thread; return what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as exc:  # the outcome under test, reported to the main thread
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def _pending(world, customer_core) -> TransferRequest:
    return transfer_request(
        user=world.developer,
        modules=[customer_core.module_id],
        target_activation_code=world.emca.activation_code,
    )


def test_approve_reject_and_cancel_at_once_let_exactly_one_win(world, customer_core):
    transfer = _pending(world, customer_core)

    outcomes = _race(
        [
            lambda: transfer_approve(user=world.acme_admin, transfer=transfer.pk),
            lambda: transfer_reject(user=world.acme_admin, transfer=transfer.pk),
            lambda: transfer_cancel(user=world.developer, transfer=transfer.pk),
            lambda: transfer_approve(user=world.acme_admin, transfer=transfer.pk),
        ]
    )

    winners = [o for o in outcomes if isinstance(o, TransferRequest)]
    losers = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 3, outcomes
    final = TransferRequest.objects.get(pk=transfer.pk)
    assert final.status == winners[0].status
    decisions = TransferEvent.objects.filter(
        request=transfer, kind__in=["approved", "rejected", "cancelled"]
    )
    assert decisions.count() == 1
    decided = AuditEntry.objects.filter(
        action__in=["transfer.approved", "transfer.rejected", "transfer.cancelled"]
    )
    # one decision, in the source's log and in the destination's
    assert sorted(decided.values_list("log_id", flat=True)) == sorted(
        [str(world.acme.pk), str(world.emca.pk)]
    )


def test_two_approvals_at_once_issue_one_set_of_marks(world, customer_core):
    transfer = _pending(world, customer_core)

    outcomes = _race(
        [lambda: transfer_approve(user=world.acme_admin, transfer=transfer.pk) for _ in range(2)]
    )

    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "TransferRequest"]
    assert TransferEvent.objects.filter(request=transfer, kind="packages_issued").count() == 1


def test_racing_over_http_answers_one_200_and_409s(world, customer_core, api):
    transfer = _pending(world, customer_core)
    admin, developer = api("acme_admin"), api("developer")

    outcomes = _race(
        [
            lambda: admin.post(f"transfers/{transfer.pk}/approve").status,
            lambda: admin.post(f"transfers/{transfer.pk}/reject").status,
            lambda: developer.post(f"transfers/{transfer.pk}/cancel").status,
        ]
    )

    assert sorted(outcomes) == [200, 409, 409]
