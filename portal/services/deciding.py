"""Deciding a pending transfer request: approve, reject, cancel.

The request row is locked, so of two decisions at once exactly one wins and the other
sees the decided status (409). An approval while the source's portal is blocked is
refused and the refusal recorded in its own transaction.
"""

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from audit.services import audit_record
from core import jobs
from core.errors import Conflict, NotAllowed
from ipp.marks import sign_mark
from portal.models import TransferEvent, TransferItem, TransferRequest
from portal.selectors import transfer_roles
from portal.services.records import blocked_error, item_details, record_event, record_refusal
from registry.models import Infrastructure


def approve(transfer: TransferRequest, *, actor, at_once: bool = False) -> None:
    """Issue the destination's marks and mark the request approved (caller's transaction)."""
    destination = transfer.destination
    items = list(transfer.items.select_related("module", "version").order_by("id"))
    for item in items:
        item.new_mark = sign_mark(
            key=item.module.key,
            digest=item.version.digest,
            activation_code=destination.activation_code,
            epoch=item.epoch,
        )
    # One statement per batch, not one UPDATE per item: a request may carry hundreds.
    TransferItem.objects.bulk_update(items, ["new_mark"], batch_size=500)
    transfer.status = TransferRequest.Status.APPROVED
    transfer.decided_by = actor
    transfer.decided_at = timezone.now()
    # The status constraints are the database's to enforce at save (no query each here).
    transfer.full_clean(
        exclude=["source", "destination", "requester", "decided_by"], validate_constraints=False
    )
    transfer.save(update_fields=["status", "decided_by", "decided_at"])
    how = (
        "approved at once: a request by an administrator of the source is its consent"
        if at_once
        else f"approved by {actor.username}"
    )
    record_event(
        transfer,
        actor=actor,
        kind=TransferEvent.Kind.APPROVED,
        message=f"Transfer {how}.",
    )
    record_event(
        transfer,
        actor=actor,
        kind=TransferEvent.Kind.PACKAGES_ISSUED,
        message="New marks issued for "
        f"{destination.name}: "
        + ", ".join(
            f"{item.module.name} v{item.version.number} (epoch {item.epoch})" for item in items
        )
        + ".",
    )
    audit_record(
        actor=actor,
        action="transfer.approved",
        infrastructure=transfer.source,
        also=destination,
        subject=transfer,
        details={
            "destination": destination.name,
            "destination_code": destination.activation_code,
            "items": item_details(items),
            "at_once": at_once,
        },
    )
    # The packages are built once, by a job, into the blob store; the requester and the
    # destination are told when they are ready (portal.services.packages).
    jobs.submit("portal.build_packages", transfer.pk)


_ACTIONS = {
    "approve": (TransferRequest.Status.APPROVED, "transfer.approved"),
    "reject": (TransferRequest.Status.REJECTED, "transfer.rejected"),
    "cancel": (TransferRequest.Status.CANCELLED, "transfer.cancelled"),
}


def _authorize(user, transfer: TransferRequest, action: str) -> None:
    roles = transfer_roles(user, transfer)
    if not roles.can_see:
        raise Http404("No such transfer request.")
    if action == "cancel":
        if not roles.can_cancel:
            raise NotAllowed("Only the requester may cancel a transfer request.")
        return
    if roles.can_decide:
        return
    if roles.is_requester:
        raise NotAllowed(
            f"You cannot {action} your own request: an administrator of "
            f"{transfer.source.name} must consent."
        )
    raise NotAllowed(f"Only an administrator of {transfer.source.name} may {action} this request.")


def _close(locked: TransferRequest, *, user, action: str, reason: str) -> None:
    """Reject or cancel the locked request (caller's transaction)."""
    status, audit_action = _ACTIONS[action]
    locked.status = status
    locked.decided_by = user
    locked.decided_at = timezone.now()
    locked.full_clean()
    locked.save(update_fields=["status", "decided_by", "decided_at"])
    reason = (reason or "").strip()
    record_event(
        locked,
        actor=user,
        kind=status,
        message=f"{'Rejected' if action == 'reject' else 'Cancelled'} by "
        f"{user.username}" + (f": {reason}" if reason else "."),
    )
    audit_record(
        actor=user,
        action=audit_action,
        infrastructure=locked.source,
        also=locked.destination,
        subject=locked,
        details={"destination": locked.destination.name, "reason": reason},
    )
    if action == "reject":
        pk = locked.pk
        jobs.submit("portal.notify", "outcome", pk)


def _decide(*, user, transfer, action: str, reason: str = "") -> TransferRequest:
    """The one state machine: pending → approved | rejected | cancelled, nothing else."""
    pk = transfer.pk if isinstance(transfer, TransferRequest) else transfer
    refused_source = None
    with transaction.atomic():
        locked = TransferRequest.objects.select_for_update().filter(pk=pk).first()
        if locked is None:
            raise Http404("No such transfer request.")
        _authorize(user, locked, action)
        if locked.status != TransferRequest.Status.PENDING:
            raise Conflict(f"Transfer request #{locked.pk} is already {locked.status}.")
        if action == "approve":
            source = Infrastructure.objects.select_for_update().get(pk=locked.source_id)
            if source.portal_blocked:
                refused_source = source
        if refused_source is None:
            if action == "approve":
                approve(locked, actor=user)
            else:
                _close(locked, user=user, action=action, reason=reason)
    if refused_source is not None:
        record_refusal(
            user=user,
            source=refused_source,
            destination=locked.destination,
            transfer=locked,
            details={"transfer": locked.pk, "attempted": action},
        )
        raise blocked_error(refused_source)
    return locked


def transfer_approve(*, user, transfer) -> TransferRequest:
    """Consent of the source: issue new marks (epoch + 1) for the destination."""
    return _decide(user=user, transfer=transfer, action="approve")


def transfer_reject(*, user, transfer, reason: str = "") -> TransferRequest:
    """The source's administrator declines the request."""
    return _decide(user=user, transfer=transfer, action="reject", reason=reason)


def transfer_cancel(*, user, transfer) -> TransferRequest:
    """The requester withdraws a pending request."""
    return _decide(user=user, transfer=transfer, action="cancel")
