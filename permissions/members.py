"""Members come and go (SPEC §3): add, change (partially), remove; the last-administrator rule.

- `membership_set` adds a user to an infrastructure or changes their membership. Only the
  fields given change (None keeps what is there); a new member gets the documented
  defaults (member, default level none, may not create modules).
- `membership_remove` takes away, in one transaction, the membership, every grant on the
  infrastructure's modules and every team membership there (deployer rows hang on the
  membership and go with it). Levels only count for members (door), so the user's next
  request sees none of it; re-adding them later brings nothing back.
- An infrastructure always keeps an administrator: removing or demoting the last one is
  refused with 409 `last_administrator`. The decision is made with the infrastructure's
  row locked, so every membership change of one infrastructure runs one at a time and two
  concurrent demotions of its two administrators cannot both pass.

Support and the infrastructure's administrators manage members. Every write is audited
(`membership.changed`, `membership.removed`) in the same transaction.
"""

from django.db import transaction

from audit.services import audit_record
from core.errors import DomainError, NotAllowed, ValidationFailed
from core.levels import Level
from permissions import door
from permissions.models import Team
from permissions.services import grants_remove_all
from registry.models import Infrastructure, Membership

ROLES = [choice for choice, _label in Membership.Role.choices]


class LastAdministrator(DomainError):
    """Removing or demoting the infrastructure's only administrator."""

    code = "last_administrator"
    status = 409


def require_member_manager(actor, infrastructure: Infrastructure) -> None:
    """403 unless `actor` is support or an administrator of `infrastructure`."""
    if not (door.is_support(actor) or door.is_infrastructure_admin(actor, infrastructure)):
        raise NotAllowed(
            f"Only support or an administrator of {infrastructure.name} manage its members."
        )


def may_manage_members(actor, infrastructure) -> bool:
    return door.is_support(actor) or door.is_infrastructure_admin(actor, infrastructure)


def _lock(infrastructure: Infrastructure) -> Infrastructure:
    """Lock the infrastructure's row until the transaction ends (membership writes queue)."""
    return Infrastructure.objects.select_for_update().get(pk=infrastructure.pk)


def _require_another_administrator(infrastructure: Infrastructure, user, doing: str) -> None:
    """Call with the infrastructure locked: refuse when `user` is its only administrator."""
    others = (
        Membership.objects.filter(infrastructure=infrastructure, role=Membership.Role.ADMINISTRATOR)
        .exclude(user=user)
        .exists()
    )
    if not others:
        raise LastAdministrator(
            f"{user.username} is the last administrator of {infrastructure.name}: make another "
            f"member an administrator before {doing} them."
        )


def _snapshot(membership: Membership) -> dict:
    return {
        "role": membership.role,
        "default_level": Level(membership.default_level).label,
        "create_modules": membership.create_modules,
    }


def _level_or_none(value) -> int | None:
    if value is None:
        return None
    try:
        if isinstance(value, str) and not value.isdigit():
            return int(Level.parse(value))
        return int(Level(int(value)))
    except (TypeError, ValueError):
        raise ValidationFailed(
            f"unknown level {value!r}: use one of none, reference, open, publish"
        ) from None


def membership_set(
    *,
    actor,
    infrastructure: Infrastructure,
    user,
    role: str | None = None,
    default_level=None,
    create_modules: bool | None = None,
) -> Membership:
    """Add `user` to `infrastructure`, or change the fields given of their membership."""
    require_member_manager(actor, infrastructure)
    if role is not None and role not in ROLES:
        raise ValidationFailed(f"unknown role {role!r}: use administrator or member")
    level = _level_or_none(default_level)
    with transaction.atomic():
        _lock(infrastructure)
        membership = (
            Membership.objects.select_for_update()
            .filter(infrastructure=infrastructure, user=user)
            .first()
        )
        before = None
        if membership is None:
            membership = Membership(infrastructure=infrastructure, user=user)
        else:
            before = _snapshot(membership)
            if membership.is_admin and role == Membership.Role.MEMBER:
                _require_another_administrator(infrastructure, user, "demoting")
        if role is not None:
            membership.role = role
        if level is not None:
            membership.default_level = level
        if create_modules is not None:
            membership.create_modules = bool(create_modules)
        after = _snapshot(membership)
        if after == before:
            return membership
        membership.full_clean(validate_unique=False)
        if before is None:
            membership.save(force_insert=True)
        else:
            membership.save(update_fields=["role", "default_level", "create_modules"])
        audit_record(
            actor=actor,
            action="membership.changed",
            infrastructure=infrastructure,
            subject=membership,
            details={"user": user.username, "from": before, "to": after},
        )
    return membership


def membership_remove(*, actor, infrastructure: Infrastructure, user) -> dict:
    """Remove `user` from `infrastructure` with their grants and team places there.

    Returns what went: {"grants": n, "teams": [names]}. ValidationFailed when they are
    not a member; LastAdministrator when they are its only administrator.
    """
    require_member_manager(actor, infrastructure)
    with transaction.atomic():
        _lock(infrastructure)
        membership = (
            Membership.objects.select_for_update()
            .filter(infrastructure=infrastructure, user=user)
            .first()
        )
        if membership is None:
            raise ValidationFailed(f"{user.username} is not a member of {infrastructure.name}.")
        if membership.is_admin:
            _require_another_administrator(infrastructure, user, "removing")
        before = _snapshot(membership)
        grants = grants_remove_all(user=user, infrastructure=infrastructure)
        memberships = Team.members.through.objects.filter(
            user=user, team__infrastructure=infrastructure
        )
        teams = sorted(memberships.values_list("team__name", flat=True))
        memberships.delete()
        membership.delete()
        removed = {"grants": grants, "teams": teams}
        audit_record(
            actor=actor,
            action="membership.removed",
            infrastructure=infrastructure,
            subject=user,
            details={"user": user.username, "was": before, **removed},
        )
    return removed
