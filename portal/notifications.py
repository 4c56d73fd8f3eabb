"""E-mail about transfer requests: to the source's administrators when one waits for them,
to the requester and the destination when theirs is decided (an approval once its packages
are stored). Sent by the `portal.notify` job (ippsite/jobs.py), after the transaction
commits, so a rolled-back request never mails anyone and a slow mail server never holds
a request: the job has EMAIL_TIMEOUT and retries, so a failure to send raises here.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from portal.models import TransferRequest
from registry.models import Membership

logger = logging.getLogger(__name__)


def _link(transfer: TransferRequest) -> str:
    base = settings.IPP_SITE_URL.rstrip("/")
    return f"{base}{reverse('portal:detail', args=[transfer.pk])}"


def _items(transfer: TransferRequest) -> str:
    return ", ".join(
        f"{item.module.name} v{item.version.number}"
        for item in transfer.items.select_related("module", "version").order_by("id")
    )


def _send(subject: str, body: str, recipients: list[str]) -> int:
    recipients = sorted({address for address in recipients if address})
    if not recipients:
        return 0
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


def notify_pending(transfer_id: int) -> int:
    """Tell the source's administrators a request waits for their consent."""
    transfer = TransferRequest.objects.select_related("source", "destination", "requester").get(
        pk=transfer_id
    )
    admins = _admins_of(transfer.source)
    body = (
        f"{transfer.requester.username} asks to transfer {_items(transfer)} from "
        f"{transfer.source.name} to {transfer.destination.name}.\n\n"
        + (f"Note: {transfer.note}\n\n" if transfer.note else "")
        + f"Approve or reject it in the IPP portal: {_link(transfer)}\n"
    )
    return _send(
        f"[IPP portal] Transfer #{transfer.pk} from {transfer.source.name} waits for your approval",
        body,
        admins,
    )


def _admins_of(infrastructure) -> list[str]:
    return list(
        Membership.objects.filter(
            infrastructure=infrastructure, role=Membership.Role.ADMINISTRATOR
        ).values_list("user__email", flat=True)
    )


def notify_destination(transfer_id: int) -> int:
    """Tell the destination's administrators approved packages wait for them to publish."""
    transfer = TransferRequest.objects.select_related("source", "destination").get(pk=transfer_id)
    body = (
        f"{transfer.source.name} consented to transfer {_items(transfer)} to "
        f"{transfer.destination.name}.\n\n"
        f"Download the re-marked packages from {_link(transfer)} and publish them in "
        f"{transfer.destination.name}'s environments.\n"
    )
    return _send(
        f"[IPP portal] Transfer #{transfer.pk} from {transfer.source.name} is ready to publish",
        body,
        _admins_of(transfer.destination),
    )


def notify_outcome(transfer_id: int) -> int:
    """Tell the requester their request was approved or rejected."""
    transfer = TransferRequest.objects.select_related(
        "source", "destination", "requester", "decided_by"
    ).get(pk=transfer_id)
    if transfer.status == TransferRequest.Status.APPROVED:
        next_step = (
            f"Download the re-marked packages from {_link(transfer)} ; the administrators of "
            f"{transfer.destination.name} can then publish them there.\n"
        )
    else:
        next_step = f"Details: {_link(transfer)}\n"
    body = (
        f"Your request to transfer {_items(transfer)} from {transfer.source.name} to "
        f"{transfer.destination.name} was {transfer.status} by "
        f"{transfer.decided_by.username if transfer.decided_by else 'an administrator'}.\n\n"
        + next_step
    )
    return _send(
        f"[IPP portal] Transfer #{transfer.pk} {transfer.status}",
        body,
        [transfer.requester.email],
    )


NOTICES = {
    "pending": notify_pending,
    "destination": notify_destination,
    "outcome": notify_outcome,
}


def notify(kind: str, transfer_id: int) -> int:
    """Send the notice `kind` (a key of NOTICES) about the request; how many were sent."""
    return NOTICES[kind](transfer_id)
