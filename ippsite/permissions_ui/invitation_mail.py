"""The invitation's link and e-mail: the adapters' half of invitations (SPEC §3).

The link holds the secret (its last path segment); it is shown once to whoever invited
and mailed to the invitee through Django's mail, like the portal's notifications: after
the transaction commits, so a rolled-back invitation mails nobody, and a mail server
being down does not undo the invitation (the inviter still has the link).
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from core.levels import Level

logger = logging.getLogger(__name__)


def invitation_url(request, raw: str) -> str:
    """The absolute link of an invitation: IPP_SITE_URL when set, else this request's host."""
    path = reverse("invitation_accept", args=[raw])
    base = settings.IPP_SITE_URL.rstrip("/")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


def _send(invitation, url: str, inviter: str) -> None:
    infrastructure = invitation.infrastructure.name
    body = (
        f"{inviter} invites you to {infrastructure} on IPP Site as {invitation.role}"
        f" (default level {Level(invitation.default_level).label}"
        f"{', may create modules' if invitation.create_modules else ''}).\n\n"
        f"Open this link to accept: {url}\n\n"
        f"It works once and expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC.\n"
    )
    try:
        send_mail(
            f"[IPP Site] Invitation to {infrastructure}",
            body,
            settings.DEFAULT_FROM_EMAIL,
            [invitation.email],
        )
    except OSError:
        logger.exception("could not send the invitation e-mail for invitation %s", invitation.pk)


def invitation_mail(invitation, url: str, inviter: str) -> None:
    """Mail `url` to the invitee once the current transaction commits."""
    transaction.on_commit(lambda: _send(invitation, url, inviter))
