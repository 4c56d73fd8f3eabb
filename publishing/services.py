"""Writes on the registry: infrastructures, environments, members, publish, deploy.

Every service is keyword-only, runs in one transaction and writes its audit entry there.
Permission checks go through permissions.door; IPP checks through ipp.services.
"""

import uuid
from dataclasses import dataclass
from typing import BinaryIO

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max

from audit.services import audit_record
from core.errors import BrokenReference, NotAllowed, ValidationFailed
from core.levels import Level
from core.streams import AdmittedSource
from ipp.provenance import provenance_record
from ipp.services import ipp_admit, ipp_admit_source, ipp_check_version, ipp_mark_for
from permissions import door
from permissions.services import grant_creator
from registry import crypto
from registry.models import (
    Deployment,
    Environment,
    ExposedElement,
    Infrastructure,
    Membership,
    Module,
    ModuleVersion,
    Reference,
)
from registry.packages import Manifest, open_package
from registry.selectors import version_manifest, version_source

User = get_user_model()


def _require_support(user) -> None:
    if not door.is_support(user):
        raise NotAllowed("Only support may do this.")


def _require_admin_or_support(user, infrastructure: Infrastructure) -> None:
    if not (door.is_support(user) or door.is_infrastructure_admin(user, infrastructure)):
        raise NotAllowed(f"Only support or an administrator of {infrastructure.name} may do this.")


def user_create(*, actor, username: str, password: str, email: str = "") -> User:
    _require_support(actor)
    if User.objects.filter(username=username).exists():
        raise ValidationFailed(f"username '{username}' is taken")
    with transaction.atomic():
        user = User(username=username, email=email)
        user.set_password(password)
        user.full_clean()
        user.save()
        audit_record(
            actor=actor, action="user.created", subject=user, details={"username": username}
        )
    return user


def infrastructure_create(*, actor, name: str, platform: str = "o11") -> Infrastructure:
    _require_support(actor)
    with transaction.atomic():
        infra = Infrastructure(name=name, platform=platform)
        infra.full_clean()
        infra.save()
        audit_record(
            actor=actor,
            action="infrastructure.created",
            infrastructure=infra,
            subject=infra,
            details={"name": name, "platform": platform, "activation_code": infra.activation_code},
        )
    return infra


def environment_create(*, actor, infrastructure: Infrastructure, name: str) -> Environment:
    _require_admin_or_support(actor, infrastructure)
    with transaction.atomic():
        env = Environment(infrastructure=infrastructure, name=name)
        env.full_clean()
        env.save()
        audit_record(
            actor=actor,
            action="environment.created",
            infrastructure=infrastructure,
            subject=env,
            details={"name": name, "serial": env.serial},
        )
    return env


def membership_set(
    *,
    actor,
    infrastructure: Infrastructure,
    user,
    role: str = Membership.Role.MEMBER,
    default_level: int = Level.NONE,
    create_modules: bool = False,
) -> Membership:
    """Add `user` to `infrastructure`, or change their membership."""
    _require_admin_or_support(actor, infrastructure)
    with transaction.atomic():
        membership = Membership.objects.filter(infrastructure=infrastructure, user=user).first()
        before = None
        if membership is None:
            membership = Membership(infrastructure=infrastructure, user=user)
        else:
            before = {
                "role": membership.role,
                "default_level": Level(membership.default_level).label,
                "create_modules": membership.create_modules,
            }
        membership.role = role
        membership.default_level = int(default_level)
        membership.create_modules = bool(create_modules)
        membership.full_clean(validate_unique=False)
        membership.save()
        audit_record(
            actor=actor,
            action="membership.changed",
            infrastructure=infrastructure,
            subject=membership,
            details={
                "user": user.username,
                "from": before,
                "to": {
                    "role": role,
                    "default_level": Level(int(default_level)).label,
                    "create_modules": bool(create_modules),
                },
            },
        )
    return membership


@dataclass
class PublishResult:
    module: Module
    version: ModuleVersion
    deployment: Deployment
    created_version: bool


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


def target_module(*, user, manifest: Manifest, infrastructure: Infrastructure, for_update: bool):
    """The module the key names in `infrastructure`, checking publish / create_modules."""
    qs = Module.objects.filter(infrastructure=infrastructure, key=manifest.key)
    if for_update:
        qs = qs.select_for_update()
    module = qs.first()
    if module is not None:
        if door.effective_level(user, module) < Level.PUBLISH:
            raise NotAllowed(
                f"You may not publish module {manifest.name} ({manifest.key}) in {infrastructure.name}: "
                "ask an administrator for publish on it."
            )
        return module
    membership = door.membership_for(user, infrastructure)
    if membership is None or not (membership.is_admin or membership.create_modules):
        raise NotAllowed(
            f"You may not create modules in {infrastructure.name}: "
            "ask an administrator to allow you to create modules."
        )
    return None


def _store_version(
    *,
    user,
    module: Module,
    manifest: Manifest,
    source: AdmittedSource,
    mark: dict | None,
    written: list,
) -> ModuleVersion:
    """Encrypt the source and create the version row (inside the caller's transaction).

    Blobs are written before the row; `written` collects their ids so the caller can
    remove them if the transaction rolls back.
    """
    keyring = crypto.MasterKeyring.load()
    storage_id = uuid.uuid4()
    data_key = crypto.new_data_key()
    key_id, wrapped = keyring.wrap(data_key, aad=storage_id.bytes)
    writer = crypto.SourceWriter(storage_id, data_key)
    total = 0
    try:
        for path, _size in source.files:
            with source.open_file(path) as stream:
                total += writer.add_file(path, stream)
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    written.append(storage_id)
    number = (module.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ModuleVersion(
        module=module,
        number=number,
        digest=source.digest,
        name=manifest.name,
        description=manifest.description,
        storage_id=storage_id,
        wrapped_key=wrapped,
        master_key_id=key_id,
        source_files=len(source.files),
        source_bytes=total,
        mark=mark,
        marked_code=(mark or {}).get("activation_code", ""),
        published_by=user,
    )
    version.full_clean(exclude=["module"], validate_unique=False, validate_constraints=False)
    version.save()
    ExposedElement.objects.bulk_create(
        ExposedElement(version=version, name=e.name, kind=e.kind, signature=e.signature)
        for e in manifest.exposes
    )
    Reference.objects.bulk_create(
        Reference(version=version, module_key=r.module, elements=list(r.elements))
        for r in manifest.references
    )
    return version


def _deploy(
    *, user, module: Module, version: ModuleVersion, environment: Environment
) -> Deployment:
    Deployment.objects.filter(environment=environment, module=module, is_current=True).update(
        is_current=False
    )
    deployment = Deployment(
        environment=environment, module=module, version=version, is_current=True, deployed_by=user
    )
    deployment.save()
    return deployment


def _grant_creator(*, user, module: Module) -> None:
    # Through the grant service, so the creator's publish is audited like any grant.
    grant_creator(user=user, module=module)


def module_publish(
    *, user, environment: Environment, upload: BinaryIO, size: int | None = None
) -> PublishResult:
    """Publish a package into `environment` (SPEC §3, §4; IPP rules 1-2).

    Validates the package, checks permissions, IPP and references, stores the encrypted
    source, creates the version (or reuses the one with the same digest) and deploys it.
    """
    package = open_package(upload, size=size)
    try:
        infrastructure = environment.infrastructure
        # Permission first (cheap, and a refused user learns nothing about IPP state).
        publish_precheck(user=user, manifest=package.manifest, infrastructure=infrastructure)
        source = ipp_admit(package=package, environment=environment, user=user)
        return _publish_source(
            user=user,
            environment=environment,
            manifest=package.manifest,
            source=source,
            action="module.published",
        )
    finally:
        package.close()


def _module_for_manifest(
    *, user, module: Module | None, manifest: Manifest, infrastructure: Infrastructure
) -> Module:
    """`module`, renamed to the manifest's name and description, or a new module for it
    (its creator gets publish on it) when `module` is None.
    """
    if module is None:
        module = Module(
            infrastructure=infrastructure,
            key=manifest.key,
            name=manifest.name,
            description=manifest.description,
            created_by=user,
        )
        module.full_clean(validate_unique=False, validate_constraints=False)
        module.save()
        _grant_creator(user=user, module=module)
    elif module.name != manifest.name or module.description != manifest.description:
        module.name, module.description = manifest.name, manifest.description
        module.save(update_fields=["name", "description"])
    return module


def _publish_source(
    *,
    user,
    environment: Environment,
    manifest: Manifest,
    source: AdmittedSource,
    action: str,
    extra_details: dict | None = None,
) -> PublishResult:
    infrastructure = environment.infrastructure
    written: list = []
    try:
        with transaction.atomic():
            module = target_module(
                user=user, manifest=manifest, infrastructure=infrastructure, for_update=True
            )
            check_references(user=user, manifest_refs=manifest.references, environment=environment)
            created_module = module is None
            module = _module_for_manifest(
                user=user, module=module, manifest=manifest, infrastructure=infrastructure
            )
            version = module.versions.filter(digest=source.digest).first()
            created_version = version is None
            if created_version:
                mark = source.incoming_mark or ipp_mark_for(
                    module=module, digest=source.digest, infrastructure=infrastructure
                )
                version = _store_version(
                    user=user,
                    module=module,
                    manifest=manifest,
                    source=source,
                    mark=mark,
                    written=written,
                )
                provenance_record(version=version, fingerprints=source.fingerprints)
            deployment = _deploy(user=user, module=module, version=version, environment=environment)
            audit_record(
                actor=user,
                action=action,
                infrastructure=infrastructure,
                subject=version,
                details={
                    "module": module.name,
                    "key": str(module.key),
                    "version": version.number,
                    "digest": version.digest,
                    "environment": environment.name,
                    "new_module": created_module,
                    "new_version": created_version,
                    "marked": version.marked,
                    **(extra_details or {}),
                },
            )
    except BaseException:
        for storage_id in written:
            crypto.remove_source(storage_id)
        raise
    return PublishResult(module, version, deployment, created_version)


def publish_precheck(*, user, manifest: Manifest, infrastructure: Infrastructure):
    """Membership and publish/create_modules for `manifest`'s key; the module or None if new.

    Writes nothing; shared by publishing, cross-infrastructure deploys and preflight.
    """
    if door.membership_for(user, infrastructure) is None:
        raise NotAllowed(f"You are not a member of {infrastructure.name}.")
    return target_module(
        user=user, manifest=manifest, infrastructure=infrastructure, for_update=False
    )


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
    """
    source_module = version.module
    target_infra = environment.infrastructure
    manifest = deploy_precheck(user=user, version=version, environment=environment)
    if target_infra.pk != source_module.infrastructure_id:
        fingerprints = ipp_check_version(version=version, environment=environment, user=user)
        source = version_source(version)
        source.fingerprints = fingerprints
        return _publish_source(
            user=user,
            environment=environment,
            manifest=manifest,
            source=source,
            action="module.deployed",
            extra_details={"from_infrastructure": source_module.infrastructure.name},
        )
    with transaction.atomic():
        check_references(user=user, manifest_refs=manifest.references, environment=environment)
        deployment = _deploy(
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


def module_publish_source(
    *,
    user,
    environment: Environment,
    manifest: Manifest,
    source: AdmittedSource,
    action: str,
    extra_details: dict | None = None,
) -> PublishResult:
    """Publish already-assembled source into `environment` (e.g. ipp's element copy).

    The same permission, IPP (rules 2 and 9 on the assembled files), reference, mark and
    audit steps as a package publish.
    """
    source = ipp_admit_source(
        source=source, key=manifest.key, name=manifest.name, environment=environment, user=user
    )
    return _publish_source(
        user=user,
        environment=environment,
        manifest=manifest,
        source=source,
        action=action,
        extra_details=extra_details,
    )
