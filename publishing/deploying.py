"""Deploying a stored version into an environment (SPEC rule 3).

Same infrastructure: the version becomes current there. Another infrastructure: it is
published there as that infrastructure's module with the same key, through the same
steps as a publish (publishing.services), after the IPP check of rule 2.
"""

from django.db import transaction

from audit.services import audit_record
from core.errors import NotAllowed
from core.levels import Level
from ipp.services import ipp_check_version
from permissions import door
from publishing.protection import require_may_deploy
from publishing.references import check_references
from publishing.services import (
    PublishResult,
    deploy_current,
    publish_admitted,
    publish_precheck,
)
from registry.models import Environment, ModuleVersion
from registry.packages import Manifest
from registry.selectors import version_manifest, version_source


def deploy_precheck(*, user, version: ModuleVersion, environment: Environment) -> Manifest:
    """The permission checks a deploy makes before writing; the version's manifest.

    IPP (rule 2 and 9 for another infrastructure) and references are checked by the
    caller: the deploy records an IPP refusal, preflight only reports it.
    """
    module = version.module
    if door.effective_level(user, module) < Level.PUBLISH:
        raise NotAllowed(f"You need publish on {module.name} to deploy it.")
    manifest = version_manifest(version)
    target = environment.infrastructure
    if target.pk != module.infrastructure_id:
        publish_precheck(user=user, manifest=manifest, infrastructure=target)
    return manifest


def module_deploy(*, user, version: ModuleVersion, environment: Environment) -> PublishResult:
    """Deploy a version to an environment (SPEC rule 3).

    Same infrastructure: the version becomes current there. Another infrastructure: the
    version is published there as that infrastructure's module with the same key, after
    the IPP check (rule 2) and the same permission and reference checks as a publish.
    A protected environment also needs an administrator or one of its deployers (§3).
    """
    source_module = version.module
    target_infra = environment.infrastructure
    manifest = deploy_precheck(user=user, version=version, environment=environment)
    require_may_deploy(
        user=user,
        environment=environment,
        key=source_module.key,
        name=source_module.name,
        extra={"version": version.number},
    )
    if target_infra.pk != source_module.infrastructure_id:
        fingerprints = ipp_check_version(version=version, environment=environment, user=user)
        source = version_source(version)
        source.fingerprints = fingerprints
        return publish_admitted(
            user=user,
            environment=environment,
            manifest=manifest,
            source=source,
            action="module.deployed",
            extra_details={"from_infrastructure": source_module.infrastructure.name},
        )
    with transaction.atomic():
        check_references(user=user, manifest_refs=manifest.references, environment=environment)
        deployment = deploy_current(
            user=user, module=source_module, version=version, environment=environment
        )
        audit_record(
            actor=user,
            action="module.deployed",
            infrastructure=target_infra,
            subject=version,
            details={
                "module": source_module.name,
                "key": str(source_module.key),
                "version": version.number,
                "environment": environment.name,
            },
        )
    return PublishResult(source_module, version, deployment, False)
