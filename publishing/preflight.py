"""Preflight: would these versions or this package be admitted into an environment?

Runs the same checks as deploying and publishing (permission, the environment's
protection, IPP, seal, references) without storing, deploying or logging anything, and
says why for each.
"""

from dataclasses import dataclass
from typing import BinaryIO

from core.errors import DomainError, InvalidIntellectualProperty, InvalidPackage, NotAllowed
from core.levels import Level
from ipp.rules import version_verdict
from ipp.services import package_verdict
from permissions import door
from publishing.deploying import deploy_precheck
from publishing.protection import protection_error
from publishing.references import check_references
from publishing.services import publish_precheck
from registry.models import ModuleVersion
from registry.packages import open_package

OK = "ok"
PERMISSION = "permission"
NOT_FOUND = "not_found"


@dataclass
class PreflightResult:
    subject: str
    outcome: str
    reason: str
    version: int | None = None  # version id
    module: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == OK


def _outcome(exc: DomainError) -> str:
    return (
        PERMISSION if isinstance(exc, NotAllowed) or exc.code == "permission_denied" else exc.code
    )


def _check_protection(*, user, environment) -> None:
    """The protected-environment rule, reported (not audited: preflight writes nothing)."""
    if not door.may_deploy(user, environment):
        raise protection_error(environment)


def _check_version(*, user, version: ModuleVersion, environment) -> str:
    module = version.module
    target = environment.infrastructure
    manifest = deploy_precheck(user=user, version=version, environment=environment)
    _check_protection(user=user, environment=environment)
    verdict = version_verdict(version, target)
    if not verdict.allowed:
        raise InvalidIntellectualProperty(reason=verdict.reason)
    check_references(user=user, manifest_refs=manifest.references, environment=environment)
    if target.pk == module.infrastructure_id:
        return f"Would deploy {module.name} v{version.number} to {environment.name}."
    return (
        f"Would publish {module.name} v{version.number} in {target.name} as its module "
        f"with key {module.key} and deploy it to {environment.name}."
    )


def _check_package(*, user, package, environment) -> str:
    existing = publish_precheck(
        user=user, manifest=package.manifest, infrastructure=environment.infrastructure
    )
    _check_protection(user=user, environment=environment)
    source, verdict = package_verdict(package=package, environment=environment)
    if not verdict.allowed:
        raise InvalidIntellectualProperty(reason=verdict.reason)
    check_references(user=user, manifest_refs=package.manifest.references, environment=environment)
    what = "a new version of" if existing is not None else "the new module"
    sealed = " (sealed; its mark is kept)" if source.incoming_mark else ""
    return f"Would publish {what} {package.manifest.name}{sealed} in {environment.name}."


def environment_preflight(
    *,
    user,
    environment,
    versions: list[int] | None = None,
    package: BinaryIO | None = None,
    package_name: str = "package",
    package_size: int | None = None,
) -> list[PreflightResult]:
    """One result per version id (in the order given) and one for the package, if any."""
    results = []
    wanted = list(dict.fromkeys(versions or []))
    rows = {
        v.pk: v
        for v in ModuleVersion.objects.select_related("module__infrastructure").filter(
            pk__in=wanted,
            module__in=door.modules_for_user(user, Level.REFERENCE).values("pk"),
        )
    }
    for pk in wanted:
        version = rows.get(pk)
        if version is None:
            results.append(PreflightResult(f"version {pk}", NOT_FOUND, "No such version.", pk))
            continue
        subject = f"{version.module.name} v{version.number}"
        try:
            reason = _check_version(user=user, version=version, environment=environment)
        except DomainError as exc:
            results.append(
                PreflightResult(subject, _outcome(exc), exc.detail, pk, version.module.name)
            )
        else:
            results.append(PreflightResult(subject, OK, reason, pk, version.module.name))
    if package is not None:
        try:
            opened = open_package(package, size=package_size)
        except InvalidPackage as exc:
            results.append(PreflightResult(package_name, exc.code, exc.detail))
        else:
            try:
                reason = _check_package(user=user, package=opened, environment=environment)
            except DomainError as exc:
                results.append(
                    PreflightResult(
                        package_name, _outcome(exc), exc.detail, None, opened.manifest.name
                    )
                )
            else:
                results.append(
                    PreflightResult(package_name, OK, reason, None, opened.manifest.name)
                )
            finally:
                opened.close()
    return results
