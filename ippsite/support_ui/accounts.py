"""Support's site-wide writes on accounts: deactivate and reactivate (SPEC §3, §7).

Deactivating ends the user's sessions and revokes their API tokens at once, in the same
transaction as the change and its `site` log entry; reactivating brings neither back
(they sign in again and ask for new tokens). These writes live here, at the top layer,
because sessions and API tokens are the site's (ippsite.tokens), not a lower layer's.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.errors import NotAllowed, ValidationFailed
from ippsite.models import ApiToken, Session
from ippsite.tokens import tokens_revoke_all
from permissions import door

User = get_user_model()


def sessions_end(user) -> int:
    """Delete every live session signed in as `user`; returns how many.

    One DELETE on the session table's indexed user id (ippsite.sessions), whatever the
    number of other sessions. Expired ones are left to clearsessions, so the count is of
    sessions that could still sign in.
    """
    deleted, _ = Session.objects.filter(user_id=user.pk, expire_date__gt=timezone.now()).delete()
    return deleted


def user_set_active(*, actor, user, is_active: bool) -> dict:
    """Deactivate or reactivate `user` site-wide (support only). Returns what changed:
    {"changed": bool, "sessions": n, "tokens": n}."""
    if not door.is_support(actor):
        raise NotAllowed("Only support deactivates or reactivates users.")
    if not is_active and user.pk == actor.pk:
        raise ValidationFailed("is_active: you cannot deactivate yourself.")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_active == is_active:
            return {"changed": False, "sessions": 0, "tokens": 0}
        locked.is_active = is_active
        locked.save(update_fields=["is_active"])
        sessions = tokens = 0
        if not is_active:
            tokens = tokens_revoke_all(user=locked, reason=ApiToken.Revoked.DEACTIVATED)
            sessions = sessions_end(locked)
        audit_record(
            actor=actor,
            action="user.deactivated" if not is_active else "user.reactivated",
            subject=locked,
            details={"username": locked.username, "sessions_ended": sessions},
        )
    user.is_active = is_active
    return {"changed": True, "sessions": sessions, "tokens": tokens}
