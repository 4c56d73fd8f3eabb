"""Deployers of protected environments: who an administrator names, and the reads behind
the pages and API (SPEC §3). `door.may_deploy` is where they count.

Only administrators of the environment's infrastructure name or remove deployers (not
support: like levels, who ships to Production is the owner's call). A deployer must be a
member of that infrastructure; removing the member removes the deployer with them.
Every write runs in one transaction and is audited as `environment.changed`. A module of
its own, beside services.py (levels and teams): a different object, the same door.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet

from audit.services import audit_record
from core.errors import NotAllowed, ValidationFailed
from permissions import door
from permissions.models import Deployer
from registry.models import Environment, Membership

User = get_user_model()


def require_environment_admin(user, environment: Environment) -> None:
    """403 unless `user` administers the environment's infrastructure."""
    if not door.is_infrastructure_admin(user, environment.infrastructure_id):
        raise NotAllowed(
            f"Only administrators of {environment.infrastructure.name} name the deployers "
            f"of {environment.name}."
        )


def deployers_of(environment: Environment) -> QuerySet:
    """The environment's deployers with their users and who named them, by username."""
    return (
        Deployer.objects.filter(environment=environment)
        .select_related("membership__user", "added_by")
        .order_by("membership__user__username")
    )


def deployer_candidates(environment: Environment, *, q: str = "", limit: int = 10) -> list:
    """Members of the environment's infrastructure whose username or e-mail contains `q`,
    who are not already deployers nor administrators (who always may), at most `limit`:
    the "add a deployer" search."""
    qs = (
        Membership.objects.filter(infrastructure_id=environment.infrastructure_id)
        .exclude(role=Membership.Role.ADMINISTRATOR)
        .exclude(deployer_of__environment=environment)
        .select_related("user")
        .order_by("user__username")
    )
    q = (q or "").strip()
    if q:
        qs = qs.filter(user__username__icontains=q) | qs.filter(user__email__icontains=q)
    return list(qs[:limit])


def _membership(environment: Environment, user) -> Membership:
    # Locked: two admins naming the same deployer at once run one after the other.
    membership = (
        Membership.objects.select_for_update()
        .filter(infrastructure_id=environment.infrastructure_id, user=user)
        .first()
    )
    if membership is None:
        name = environment.infrastructure.name
        raise ValidationFailed(
            f"{user.username} is not a member of {name}: add them as a member of {name} first."
        )
    return membership


def _audit(*, actor, environment: Environment, user, change: str) -> None:
    audit_record(
        actor=actor,
        action="environment.changed",
        infrastructure=environment.infrastructure,
        subject=environment,
        details={
            "environment": environment.name,
            "deployer": user.username,
            "change": change,
        },
    )


def deployer_add(*, actor, environment: Environment, user) -> tuple[Deployer, bool]:
    """Name `user` (a member) a deployer of `environment`; (deployer, created)."""
    require_environment_admin(actor, environment)
    with transaction.atomic():
        membership = _membership(environment, user)
        existing = Deployer.objects.filter(environment=environment, membership=membership).first()
        if existing is not None:
            return existing, False
        deployer = Deployer(environment=environment, membership=membership, added_by=actor)
        deployer.full_clean(validate_unique=False, validate_constraints=False)
        deployer.save()
        _audit(actor=actor, environment=environment, user=user, change="deployer_added")
    return deployer, True


def deployer_remove(*, actor, environment: Environment, user) -> bool:
    """Take `user` off the deployers of `environment`; False when they were not one."""
    require_environment_admin(actor, environment)
    with transaction.atomic():
        deleted, _ = Deployer.objects.filter(
            environment=environment, membership__user=user
        ).delete()
        if deleted:
            _audit(actor=actor, environment=environment, user=user, change="deployer_removed")
    return bool(deleted)
