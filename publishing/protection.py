"""Protected environments at the door of every publish, deploy, copy and transfer publish.

Who may go in is the permissions layer's rule (`door.may_deploy`); this module refuses
the others with `environment_protected` (403) and records the refusal as
`module.publish_refused` in its own transaction, so the entry stays although the
operation fails (as ipp.services does for IPP refusals). Callers ask after their level
checks, so a user without `publish` still gets the usual answer, and before any write.
"""

from django.db import transaction

from audit.services import audit_record
from core.errors import EnvironmentProtected
from permissions import door
from registry.models import Environment

REASON = EnvironmentProtected.code


def protection_error(environment: Environment) -> EnvironmentProtected:
    infrastructure = environment.infrastructure
    return EnvironmentProtected(
        f"{environment.name} of {infrastructure.name} is protected: only administrators of "
        f"{infrastructure.name} and the deployers they name may publish or deploy there. "
        f"Ask an administrator of {infrastructure.name} to deploy it, or to name you a deployer."
    )


def require_may_deploy(
    *, user, environment: Environment, key, name: str, extra: dict | None = None
) -> None:
    """Raise EnvironmentProtected (audited) unless `user` may publish into `environment`."""
    if door.may_deploy(user, environment):
        return
    infrastructure = environment.infrastructure
    with transaction.atomic():
        audit_record(
            actor=user,
            action="module.publish_refused",
            infrastructure=infrastructure,
            subject=environment,
            details={
                "module": name,
                "key": str(key),
                "environment": environment.name,
                "infrastructure": infrastructure.name,
                "reason": REASON,
                **(extra or {}),
            },
        )
    raise protection_error(environment)
