"""Invitations (SPEC §3): support and an infrastructure's administrators invite by e-mail.

An invitation carries a single-use secret (shown once, in its link); only its SHA-256
digest is stored. It expires after IPP_INVITATION_DAYS and can be revoked. Accepting it
creates the account with the password the invitee chooses, or, for a signed-in user,
adds the membership. The row is locked while it is accepted, so a secret is used once
even when it is replayed concurrently. Every step is audited in the infrastructure's log
(`invitation.created`, `invitation.accepted`, `invitation.revoked`); an account created
by accepting is also recorded in the `site` log (`user.created`).

Sending the e-mail is the adapter's part (it knows the site's address for the link).
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.services import audit_record
from core.errors import Conflict, DomainError, ValidationFailed
from core.levels import Level
from permissions.members import ROLES, require_member_manager
from permissions.models import Invitation
from registry.models import Infrastructure, Membership

User = get_user_model()


class InvitationExpired(DomainError):
    """The invitation was used, revoked or is past its expiry."""

    code = "invitation_expired"
    status = 410


class NoSuchInvitation(DomainError):
    """No invitation has that secret (a mistyped or made-up link)."""

    code = "not_found"
    status = 404


def secret_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _details(invitation: Invitation, **extra) -> dict:
    return {
        "email": invitation.email,
        "role": invitation.role,
        "default_level": Level(invitation.default_level).label,
        "create_modules": invitation.create_modules,
        **extra,
    }


def invitation_create(
    *,
    actor,
    infrastructure: Infrastructure,
    email: str,
    role: str = Membership.Role.MEMBER,
    default_level=Level.NONE,
    create_modules: bool = False,
) -> tuple[Invitation, str]:
    """A new invitation and its raw secret (to put in the link, shown once)."""
    require_member_manager(actor, infrastructure)
    if role not in ROLES:
        raise ValidationFailed(f"role: unknown role {role!r}; use administrator or member")
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed("email: enter a valid e-mail address") from None
    raw = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation(
            infrastructure=infrastructure,
            email=email,
            role=role,
            default_level=int(default_level),
            create_modules=bool(create_modules),
            digest=secret_digest(raw),
            created_by=actor,
            expires_at=timezone.now() + timedelta(days=settings.IPP_INVITATION_DAYS),
        )
        invitation.full_clean(exclude=["created_by", "accepted_by"])
        invitation.save(force_insert=True)
        audit_record(
            actor=actor,
            action="invitation.created",
            infrastructure=infrastructure,
            subject=invitation,
            details=_details(invitation, expires_at=invitation.expires_at.isoformat()),
        )
    return invitation, raw


def invitation_revoke(*, actor, invitation: Invitation) -> Invitation:
    """Revoke a pending invitation. Revoking it again changes nothing (idempotent); one
    already used or expired cannot be revoked (409 `invitation_not_pending`)."""
    require_member_manager(actor, invitation.infrastructure)
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.state == "revoked":
            return locked
        if locked.state != "pending":
            raise Conflict(
                f"This invitation is already {locked.state}: there is nothing to revoke.",
                code="invitation_not_pending",
            )
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="invitation.revoked",
            infrastructure=invitation.infrastructure,
            subject=locked,
            details=_details(locked),
        )
    return locked


def invitation_by_secret(raw: str) -> Invitation | None:
    """The invitation of a secret (whatever its state), or None."""
    if not raw:
        return None
    return (
        Invitation.objects.select_related("infrastructure")
        .filter(digest=secret_digest(raw))
        .first()
    )


def _new_account(username: str, password: str, email: str):
    username = (username or "").strip()
    if not username or not password:
        raise ValidationFailed("username and password: choose both to create your account")
    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise ValidationFailed("username: " + " ".join(exc.messages)) from None
    if User.objects.filter(username=username).exists():
        raise ValidationFailed(
            f"username: '{username}' is taken; if it is yours, sign in and open the link again"
        )
    user = User(username=username, email=email)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationFailed("password: " + " ".join(exc.messages)) from None
    user.set_password(password)
    try:
        user.full_clean()
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages)) from None
    user.save()
    return user


def invitation_accept(*, raw: str, user=None, username: str = "", password: str = "") -> Membership:
    """Use the invitation of secret `raw`: `user` (signed in) joins, or a new account named
    `username` with `password` is created and joins. Returns the new membership.

    Raises InvitationExpired (410) when it was used, revoked or is past its expiry; the
    row is locked first, so a second concurrent use waits and then finds it used.
    """
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().filter(digest=secret_digest(raw or "")).first()
        )
        if invitation is None:
            raise NoSuchInvitation("No invitation has this secret: check the whole link.")
        if invitation.state != "pending":
            raise InvitationExpired(f"This invitation is {invitation.state}: ask for a new one.")
        infrastructure = Infrastructure.objects.select_for_update().get(
            pk=invitation.infrastructure_id
        )
        created = user is None
        if created:
            user = _new_account(username, password, invitation.email)
        elif Membership.objects.filter(infrastructure=infrastructure, user=user).exists():
            raise Conflict(
                f"You are already a member of {infrastructure.name}.", code="already_member"
            )
        membership = Membership(
            infrastructure=infrastructure,
            user=user,
            role=invitation.role,
            default_level=invitation.default_level,
            create_modules=invitation.create_modules,
        )
        membership.full_clean(validate_unique=False)
        membership.save()
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        if created:
            audit_record(
                actor=user,
                action="user.created",
                subject=user,
                details={"username": user.username, "invitation": invitation.pk},
            )
        audit_record(
            actor=user,
            action="invitation.accepted",
            infrastructure=infrastructure,
            subject=invitation,
            details=_details(invitation, user=user.username, new_account=created),
        )
    return membership


def invitations_pending(infrastructure) -> QuerySet:
    """The infrastructure's invitations still open (not used, revoked nor expired)."""
    return (
        Invitation.objects.filter(
            infrastructure=infrastructure,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


def invitations_of(infrastructure) -> QuerySet:
    """Every invitation of the infrastructure, newest first (the API's list)."""
    return (
        Invitation.objects.filter(infrastructure=infrastructure)
        .select_related("created_by", "accepted_by")
        .order_by("-created_at", "-id")
    )
