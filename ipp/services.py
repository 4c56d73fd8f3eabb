"""IPP: what may enter an environment, and the marks new versions get.

The IPP check lives here, in one place: `ipp_admit` for packages (publish, import of an
exported or re-marked package) and `ipp_check_version` for stored versions entering
another infrastructure (deploys). A refusal is audit-logged as `module.publish_refused`
in its own transaction, so the entry stays although the operation fails.
`ipp_mark_for` decides and signs a new version's mark (SPEC rule 1).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from django.db import transaction

from audit.services import audit_record
from core.errors import DomainError, InvalidIntellectualProperty, TamperedPackage
from registry.models import Infrastructure, ModuleVersion
from registry.packages import Package

O11 = Infrastructure.Platform.O11


@dataclass
class AdmittedSource:
    """What publishing stores: the digest of the content and how to read its files."""

    digest: str
    files: list  # [(path, size)]
    open_file: Callable[[str], BinaryIO]
    incoming_mark: dict | None = None


# --- verdicts (no side effects; preflight uses them too) -------------------------------


def _foreign_mark(code: str | None, infrastructure: Infrastructure) -> bool:
    return bool(code) and code != infrastructure.activation_code


def marked_elsewhere(digest: str, infrastructure: Infrastructure) -> ModuleVersion | None:
    """A version marked for another infrastructure with exactly this content, if any.

    An unsealed package rebuilt from a marked version's source has the same canonical
    digest: it is refused like the version itself, so a mark cannot be stripped.
    """
    same_content = ModuleVersion.objects.filter(digest=digest)
    if same_content.filter(marked_code=infrastructure.activation_code).exists():
        return None  # this infrastructure holds it under its own mark (e.g. after a transfer)
    return (
        same_content.exclude(marked_code="")
        .exclude(marked_code=infrastructure.activation_code)
        .select_related("module")
        .first()
    )


def package_verdict(*, package: Package, environment) -> AdmittedSource:
    """The package's source if IPP admits it into `environment`; raises otherwise."""
    from ipp.marks import verify_mark
    from ipp.sealing import open_sealed

    infrastructure = environment.infrastructure
    if package.sealed:
        verify_mark(package.mark, key=package.manifest.key)
        if _foreign_mark(package.mark["activation_code"], infrastructure):
            raise InvalidIntellectualProperty()
        source = open_sealed(package)
        if infrastructure.platform != O11:
            source.incoming_mark = None  # rule 6: nothing is marked on odc
        return source
    if marked_elsewhere(package.digest, infrastructure) is not None:
        raise InvalidIntellectualProperty()
    _refuse_stripped_payload(package)
    return AdmittedSource(
        digest=package.digest,
        files=[(entry.path, entry.size) for entry in package.files],
        open_file=package.open_source,
    )


def _refuse_stripped_payload(package: Package) -> None:
    """A sealed payload moved under src/ (mark.json removed) is refused as tampered.

    Without its mark the payload cannot be unsealed, so it is nothing publishable; say so
    instead of storing ciphertext as if it were source.
    """
    from ipp.sealing import MAGIC, SALT_SIZE

    for entry in package.files:
        if entry.size < len(MAGIC) + SALT_SIZE:
            continue
        with package.open_source(entry.path) as stream:
            if stream.read(len(MAGIC)) == MAGIC:
                raise TamperedPackage(
                    f"src/{entry.path} is a sealed payload without its mark: a sealed package "
                    "is published whole, with its mark.json, or not at all"
                )


def version_verdict(*, version: ModuleVersion, environment) -> None:
    """Raise InvalidIntellectualProperty if `version` may not enter `environment`."""
    if version.marked and _foreign_mark(version.marked_code, environment.infrastructure):
        raise InvalidIntellectualProperty()


# --- the check, audited --------------------------------------------------------------


def _record_refusal(*, user, environment, module_key, module_name, mark_code, reason, extra=None):
    infrastructure = environment.infrastructure
    with transaction.atomic():
        audit_record(
            actor=user,
            action="module.publish_refused",
            infrastructure=infrastructure,
            subject=environment,
            details={
                "module": module_name,
                "key": str(module_key),
                "mark_activation_code": mark_code or "",
                "environment": environment.name,
                "infrastructure": infrastructure.name,
                "activation_code": infrastructure.activation_code,
                "reason": reason,
                **(extra or {}),
            },
        )


def ipp_admit(*, package: Package, environment, user) -> AdmittedSource:
    """Check a package against IPP rules for `environment`; return its readable source.

    Sealed: the mark must verify (else tampered_package), name this infrastructure's
    activation code (else invalid_intellectual_property) and the payload must unseal to
    the content the mark names; the version published keeps that mark. Unsealed: allowed,
    unless its content is that of a version marked for another infrastructure.
    """
    try:
        return package_verdict(package=package, environment=environment)
    except DomainError as exc:
        if not isinstance(exc, InvalidIntellectualProperty | TamperedPackage):
            raise
        mark = package.mark if isinstance(package.mark, dict) else {}
        code = mark.get("activation_code") if isinstance(mark.get("activation_code"), str) else ""
        if not package.sealed and isinstance(exc, InvalidIntellectualProperty):
            code = marked_elsewhere(package.digest, environment.infrastructure).marked_code
        _record_refusal(
            user=user,
            environment=environment,
            module_key=package.manifest.key,
            module_name=package.manifest.name,
            mark_code=code,
            reason=exc.code,
            extra={"detail": exc.detail, "sealed": package.sealed},
        )
        raise


def ipp_check_version(*, version, environment, user) -> None:
    """Rule 2 for a stored version entering `environment` (deploys across infrastructures)."""
    try:
        version_verdict(version=version, environment=environment)
    except InvalidIntellectualProperty as exc:
        _record_refusal(
            user=user,
            environment=environment,
            module_key=version.module.key,
            module_name=version.module.name,
            mark_code=version.marked_code,
            reason=exc.code,
            extra={
                "version": version.number,
                "from_infrastructure": version.module.infrastructure.name,
            },
        )
        raise


def ipp_mark_for(*, module, digest: str, infrastructure) -> dict | None:
    """The mark a new version of `module` gets when published in `infrastructure`.

    Protected o11 infrastructures mark (epoch 1) with their activation code; unprotected
    ones and odc (rule 6) do not. Existing versions are never re-marked in place.
    """
    if infrastructure.platform != O11 or not infrastructure.ipp_protected:
        return None
    from ipp.marks import sign_mark

    return sign_mark(
        key=module.key, digest=digest, activation_code=infrastructure.activation_code, epoch=1
    )
