"""What every portal write records: a timeline event, the items of an audit entry, and
the refusal when the source's portal is blocked.
"""

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.errors import DomainError
from portal.models import TransferEvent, TransferRequest
from registry.models import Infrastructure

PORTAL_BLOCKED = "ipp_portal_blocked"


def blocked_error(infrastructure: Infrastructure) -> DomainError:
    return DomainError(
        f"The IPP portal is blocked for {infrastructure.name}: transfers out of it are refused. "
        "Ask support to unblock it.",
        code=PORTAL_BLOCKED,
        status=403,
    )


def record_event(transfer: TransferRequest, *, actor, kind: str, message: str) -> TransferEvent:
    event = TransferEvent(
        request=transfer, time=timezone.now(), actor=actor, kind=kind, message=message[:500]
    )
    # Fields only: the kind's check constraint and the foreign keys are the database's to
    # enforce at save, without a query (and a savepoint) each here.
    event.full_clean(exclude=["request", "actor"], validate_constraints=False)
    event.save()
    return event


def item_details(items) -> list[dict]:
    return [
        {
            "module": item.module.name,
            "key": str(item.module.key),
            "version": item.version.number,
            "digest": item.version.digest,
            "epoch": item.epoch,
        }
        for item in items
    ]


def record_refusal(
    *,
    user,
    source: Infrastructure,
    transfer: TransferRequest | None,
    details: dict,
    destination: Infrastructure | None = None,
) -> None:
    """Audit (and put on the timeline) a refusal, committed on its own before raising.

    Recorded in the source's log and, when it is known, in the destination's.
    """
    with transaction.atomic():
        audit_record(
            actor=user,
            action="transfer.refused",
            infrastructure=source,
            also=destination,
            subject=transfer,
            details={"reason": PORTAL_BLOCKED, **details},
        )
        if transfer is not None:
            record_event(
                transfer,
                actor=user,
                kind=TransferEvent.Kind.REFUSED,
                message=f"Approval by {user.username} refused: the IPP portal is blocked for "
                f"{source.name}.",
            )


class Refused(Exception):
    """Raised inside a transaction to leave it (rolling back) when the portal is blocked."""
