"""Writes on the registry: infrastructures, environments, members, publish (deploy: deploying.py).

Every service is keyword-only, runs in one transaction and writes its audit entry there.
Permission checks go through permissions.door; IPP checks through ipp.services.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max

from audit.services import audit_event, audit_record, audit_record_all
from core import metrics
from core.batch import WriteBatch
from core.errors import NotAllowed, ValidationFailed
from core.statements import insert_unless_taken
from core.streams import AdmittedSource
from ipp.provenance import provenance_record
from ipp.services import ipp_admit, ipp_admit_source, ipp_mark_for, package_observer
from permissions import door
from permissions.members import membership_set  # noqa: F401 - the one writer, re-exported
from permissions.services import grant_creator
from publishing.protection import require_may_deploy
from publishing.references import check_references
from publishing.targets import (
    UNREAD,
    find_target,
    publish_precheck,
    require_may_create,
)
from registry import packs
from registry.models import (
    Deployment,
    Environment,
    ExposedElement,
    Infrastructure,
    Module,
    ModuleVersion,
    Reference,
)
from registry.packages import Manifest, open_package

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


def environment_create(
    *, actor, infrastructure: Infrastructure, name: str, protected: bool = False
) -> Environment:
    _require_admin_or_support(actor, infrastructure)
    with transaction.atomic():
        env = Environment(infrastructure=infrastructure, name=name, protected=bool(protected))
        env.full_clean()
        env.save()
        audit_record(
            actor=actor,
            action="environment.created",
            infrastructure=infrastructure,
            subject=env,
            details={"name": name, "serial": env.serial, "protected": env.protected},
        )
    return env


def environment_change(
    *, actor, environment: Environment, protected: bool | None = None, name: str | None = None
) -> Environment:
    """Rename an environment or turn its protection on or off (support, its administrators).

    Only the fields given change; `environment.changed` records what they were and are.
    """
    _require_admin_or_support(actor, environment.infrastructure)
    wanted = {"protected": protected, "name": name.strip() if name is not None else None}
    with transaction.atomic():
        env = Environment.objects.select_for_update().get(pk=environment.pk)
        before, after = {}, {}
        for field, value in wanted.items():
            if value is not None and getattr(env, field) != value:
                before[field], after[field] = getattr(env, field), value
                setattr(env, field, value)
        if not after:
            return env
        env.full_clean()
        env.save(update_fields=list(after))
        audit_record(
            actor=actor,
            action="environment.changed",
            infrastructure=environment.infrastructure,
            subject=env,
            details={"environment": env.name, "from": before, "to": after},
        )
    return env


@dataclass
class PublishResult:
    module: Module
    version: ModuleVersion
    deployment: Deployment
    created_version: bool


def _store_version(
    *,
    user,
    module: Module,
    manifest: Manifest,
    source: AdmittedSource,
    mark: dict | None,
    written: list,
    batch: WriteBatch,
    new_module: bool = False,
) -> ModuleVersion:
    """Encrypt the source and create the version row (inside the caller's transaction).

    The source is stored, durably, before the row; `written` collects its id so the
    caller can remove it if the transaction rolls back. The version's exposed elements and
    references go to `batch`, for the caller to flush.
    """
    storage_id = uuid.uuid4()
    written.append(storage_id)
    stored = packs.store_source(
        storage_id=storage_id, files=source.files, open_file=source.open_file
    )
    # A module this transaction inserted has no versions yet (no other transaction sees it).
    number = 1 if new_module else (module.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ModuleVersion(
        module=module,
        number=number,
        digest=source.digest,
        name=manifest.name,
        description=manifest.description,
        storage_id=storage_id,
        wrapped_key=stored.wrapped_key,
        master_key_id=stored.master_key_id,
        source_files=stored.files,
        source_bytes=stored.size,
        mark=mark,
        marked_code=(mark or {}).get("activation_code", ""),
        published_by=user,
    )
    version.full_clean(
        exclude=["module", "published_by"], validate_unique=False, validate_constraints=False
    )
    version.save()
    batch.insert(
        ExposedElement,
        [
            ExposedElement(version=version, name=e.name, kind=e.kind, signature=e.signature)
            for e in manifest.exposes
        ],
    )
    batch.insert(
        Reference,
        [
            Reference(version=version, module_key=r.module, elements=list(r.elements))
            for r in manifest.references
        ],
    )
    return version


def deploy_current(
    *,
    user,
    module: Module,
    version: ModuleVersion,
    environment: Environment,
    module_held: bool = False,
    new_module: bool = False,
    batch: WriteBatch | None = None,
) -> Deployment:
    """Make `version` the current deployment of its module in `environment`.

    `module_held`: this transaction already holds the module's row exclusively (locked
    by select_for_update, or inserted by it), so no lock is taken again. `new_module`:
    this transaction inserted the module, so it has no deployment to retire. With `batch`,
    the new deployment's row is added to it for the caller to flush (the old one is retired
    now: the INSERT must see that, so the UPDATE is not in the batch).
    """
    # The module's row lock orders concurrent deploys of one module: without it, two
    # READ COMMITTED transactions each retire the old current row and both insert a new
    # one, and the loser meets the one-current-deployment constraint (IntegrityError).
    if not (module_held or new_module):
        list(Module.objects.select_for_update().filter(pk=module.pk).values_list("pk"))
    if not new_module:
        Deployment.objects.filter(environment=environment, module=module, is_current=True).update(
            is_current=False
        )
    deployment = Deployment(
        environment=environment, module=module, version=version, is_current=True, deployed_by=user
    )
    writes = batch if batch is not None else WriteBatch()
    writes.insert(Deployment, [deployment])
    if batch is None:
        writes.flush()
    return deployment


@metrics.observe_publish
def module_publish(
    *,
    user,
    environment: Environment,
    upload: BinaryIO,
    size: int | None = None,
    extra_details: dict | None = None,
    then: Callable[[PublishResult], None] | None = None,
) -> PublishResult:
    """Publish a package into `environment` (SPEC §3, §4; IPP rules 1-2).

    Validates the package, checks permissions, the environment's protection, IPP and
    references, stores the encrypted source, creates the version (or reuses the one with
    the same digest) and deploys it. `then(result)` runs inside the publish's transaction
    (a transfer records its timeline there); `extra_details` go into the audit entry.
    """
    # One read of the package yields its digest, fingerprints and sealed-payload test.
    package = open_package(upload, size=size, observe=package_observer())
    try:
        infrastructure = environment.infrastructure
        manifest = package.manifest
        # Permission first (cheap, and a refused user learns nothing about IPP state).
        existing = publish_precheck(user=user, manifest=manifest, infrastructure=infrastructure)
        require_may_deploy(
            user=user,
            environment=environment,
            key=manifest.key,
            name=manifest.name,
            extra={"sealed": package.sealed},
        )
        source = ipp_admit(package=package, environment=environment, user=user)
        return publish_admitted(
            user=user,
            environment=environment,
            manifest=manifest,
            source=source,
            action="module.published",
            extra_details=extra_details,
            then=then,
            key_was_new=existing is None,
        )
    finally:
        package.close()


def _module_for_manifest(
    *,
    user,
    module: Module | None,
    membership,
    manifest: Manifest,
    infrastructure: Infrastructure,
    pending: list,
    batch: WriteBatch,
) -> tuple[Module, bool]:
    """(`module`, renamed to the manifest's name and description, False), or (a new module
    for it, True) when `module` is None: its creator gets publish on it, the grant's row
    going to `batch` and its entry to `pending`. `membership` is the creator's, locked by
    this transaction.
    """
    if module is None:
        module = Module(
            infrastructure=infrastructure,
            key=manifest.key,
            name=manifest.name,
            description=manifest.description,
            created_by=user,
        )
        # The foreign keys are rows this publish holds (no existence queries for them).
        module.full_clean(
            exclude=["infrastructure", "created_by"],
            validate_unique=False,
            validate_constraints=False,
        )
        if not insert_unless_taken(module, unique=("infrastructure", "key")):
            # Another publish created this key first (they raced past the row lock, which
            # cannot lock a row that does not exist yet): publish into theirs, if allowed.
            found, membership = find_target(
                user=user,
                manifest=manifest,
                infrastructure=infrastructure,
                for_update=True,
                membership=UNREAD,
            )
            return _module_for_manifest(
                user=user,
                module=found,
                membership=membership,
                manifest=manifest,
                infrastructure=infrastructure,
                pending=pending,
                batch=batch,
            )
        # Through the grant service, so the creator's publish is audited like any grant.
        grant_creator(user=user, module=module, membership=membership, pending=pending, batch=batch)
        return module, True
    if module.name != manifest.name or module.description != manifest.description:
        module.name, module.description = manifest.name, manifest.description
        module.save(update_fields=["name", "description"])
    return module, False


def _publish_event(
    *, user, action: str, result: PublishResult, environment: Environment, details: dict
):
    module, version = result.module, result.version
    return audit_event(
        actor=user,
        action=action,
        infrastructure=environment.infrastructure,
        subject=version,
        details={
            "module": module.name,
            "key": str(module.key),
            "version": version.number,
            "digest": version.digest,
            "environment": environment.name,
            "new_version": result.created_version,
            "marked": version.marked,
            **details,
        },
    )


def publish_admitted(
    *,
    user,
    environment: Environment,
    manifest: Manifest,
    source: AdmittedSource,
    action: str,
    extra_details: dict | None = None,
    then: Callable[[PublishResult], None] | None = None,
    key_was_new: bool = False,
) -> PublishResult:
    """Store, deploy and audit source that every check has admitted, in one transaction.

    The module's row is locked and its publish / create_modules checked again inside it.
    `key_was_new`: the precheck found no module with the key. Then only create_modules is
    checked again (on the locked membership) and the module's INSERT, whose ON CONFLICT
    finds a module created since, is the existence check: when there is one, the publish
    goes on as into an existing module (its row locked, publish checked), as when the
    lookup finds it.
    """
    infrastructure = environment.infrastructure
    written: list = []
    try:
        with transaction.atomic():
            if key_was_new:
                membership = door.membership_for(user, infrastructure, for_update=True)
                require_may_create(membership, infrastructure)
                module = None
            else:
                module, membership = find_target(
                    user=user,
                    manifest=manifest,
                    infrastructure=infrastructure,
                    for_update=True,
                    membership=UNREAD,
                )
            check_references(user=user, manifest_refs=manifest.references, environment=environment)
            pending: list = []
            # The rows that only refer to rows written before them (the creator's grant, the
            # version's elements, provenance, the deployment): one statement on PostgreSQL.
            batch = WriteBatch()
            module, created_module = _module_for_manifest(
                user=user,
                module=module,
                membership=membership,
                manifest=manifest,
                infrastructure=infrastructure,
                pending=pending,
                batch=batch,
            )
            # A module this transaction inserted has no versions yet.
            version = (
                None if created_module else module.versions.filter(digest=source.digest).first()
            )
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
                    batch=batch,
                    new_module=created_module,
                )
                provenance_record(version=version, fingerprints=source.fingerprints, batch=batch)
            # The module's row is held: locked by find_target, or inserted by this transaction.
            deployment = deploy_current(
                user=user,
                module=module,
                version=version,
                environment=environment,
                module_held=True,
                new_module=created_module,
                batch=batch,
            )
            batch.flush()
            result = PublishResult(module, version, deployment, created_version)
            pending.append(
                _publish_event(
                    user=user,
                    action=action,
                    result=result,
                    environment=environment,
                    details={"new_module": created_module, **(extra_details or {})},
                )
            )
            # The creator's grant and the publish: one append, one signed head.
            audit_record_all(pending)
            if then is not None:
                then(result)
    except BaseException:
        for storage_id in written:
            packs.remove_source(storage_id)
        raise
    return result


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

    The same permission, protection, IPP (rules 2 and 9 on the assembled files),
    reference, mark and audit steps as a package publish.
    """
    require_may_deploy(user=user, environment=environment, key=manifest.key, name=manifest.name)
    source = ipp_admit_source(
        source=source, key=manifest.key, name=manifest.name, environment=environment, user=user
    )
    return publish_admitted(
        user=user,
        environment=environment,
        manifest=manifest,
        source=source,
        action=action,
        extra_details=extra_details,
    )
