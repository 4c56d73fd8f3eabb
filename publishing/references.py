"""SPEC §3's reference rule, checked by publish, deploy and preflight alike.

Publishing a version that references module B needs `reference` on B, and B's referenced
elements exposed by the version of B deployed in the same environment; otherwise
`broken_reference` (409) names everything that is missing.
"""

from core.errors import BrokenReference
from core.levels import Level
from permissions import door
from registry.models import Deployment, Environment, ExposedElement


def check_references(*, user, manifest_refs, environment: Environment) -> None:
    """SPEC §3: `reference` on each referenced module, elements exposed where deployed."""
    if not manifest_refs:
        return
    keys = [ref.module for ref in manifest_refs]
    visible = {
        m.key: m
        for m in door.modules_for_user(user, Level.REFERENCE).filter(
            infrastructure=environment.infrastructure, key__in=keys
        )
    }
    current = {
        d.module.key: d
        for d in Deployment.objects.filter(
            environment=environment, is_current=True, module__key__in=list(visible)
        ).select_related("module", "version")
    }
    exposed: dict = {}
    for element in ExposedElement.objects.filter(
        version__in=[d.version_id for d in current.values()]
    ).values("version_id", "name"):
        exposed.setdefault(element["version_id"], set()).add(element["name"])
    problems = []
    for ref in manifest_refs:
        if ref.module not in visible:
            problems.append(
                f"module {ref.module} is not available to you in {environment.infrastructure.name}"
            )
            continue
        deployment = current.get(ref.module)
        if deployment is None:
            problems.append(f"{visible[ref.module].name} is not deployed in {environment.name}")
            continue
        missing = sorted(set(ref.elements) - exposed.get(deployment.version_id, set()))
        if missing:
            problems.append(
                f"{visible[ref.module].name} v{deployment.version.number} in {environment.name} "
                f"does not expose {', '.join(missing)}"
            )
    if problems:
        raise BrokenReference("Broken references: " + "; ".join(problems) + ".")
