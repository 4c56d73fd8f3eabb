"""Copying exposed elements of one module's version into another module (SPEC rule 4).

The rule for what is copied, kept simple and predictable:
- the target's new version = the target's latest version (manifest and source) plus the
  copied elements in its manifest's `exposes` (a name the target already exposes is a
  409 conflict);
- for each element, the source version's files whose file name without extension equals
  the element's name (case-insensitive) are copied to `copied/<SourceModule>/<path>`;
  when there is none, a stub `copied/<SourceModule>/<Element>.txt` records where the
  element came from and its signature;
- the new version is published into the environment the caller chose, one of the
  target's infrastructure (`copy_default_environment` gives what the API uses when none is
  named: where the target's most recently deployed current version runs), through
  publishing.services (audited as `module.copied`), and gets the mark rule 1 gives it
  there. A protected environment needs an administrator or one of its deployers (§3).
A version marked for another infrastructure than the target's is refused with
`ipp_copy_blocked` (403) and the refusal is audited as `module.copy_refused`.
"""

import posixpath
import re
from dataclasses import dataclass

from core.errors import Conflict, ValidationFailed
from core.levels import Level
from core.streams import AdmittedSource, buffered
from ipp.services import ipp_check_copy
from permissions import door
from publishing.protection import require_may_deploy
from publishing.services import module_publish_source
from registry.models import Deployment, Environment, Module, ModuleVersion
from registry.packages import ExposedSpec, Manifest, canonical_digest
from registry.selectors import open_version_source, version_manifest


@dataclass
class CopyResult:
    module: Module
    version: ModuleVersion
    deployment: Deployment
    elements: list
    files: list


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "module"


def _stem(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[0].lower()


@dataclass
class _CopyRequest:
    """A validated request: what to copy, from which version, into which module."""

    source: Module
    version: ModuleVersion
    target: Module
    environment: Environment
    names: list
    exposed: dict


def _target_environment(*, user, target: Module, environment: Environment) -> Environment:
    """The chosen environment: visible to the user (else 404) and the target's (else 400)."""
    environment = door.environment_for_user(user, environment.pk)
    if environment.infrastructure_id != target.infrastructure_id:
        raise ValidationFailed(
            f"{environment.name} is not an environment of {target.infrastructure.name}: "
            f"{target.name} can only be published in {target.infrastructure.name}."
        )
    return environment


def _validated_request(
    *,
    user,
    source: Module,
    version_number: int,
    elements: list,
    target: Module,
    environment: Environment,
) -> _CopyRequest:
    """Open on the source, publish on the target, an environment of the target's that the
    user may publish into, a version that exposes every element, and the IPP copy rule;
    raises the first that fails.
    """
    source = door.module_for_user(user, source.pk, Level.OPEN)
    target = door.module_for_user(user, target.pk, Level.PUBLISH)
    environment = _target_environment(user=user, target=target, environment=environment)
    version = source.versions.filter(number=version_number).first()
    if version is None:
        raise ValidationFailed(f"{source.name} has no version {version_number}.")
    names = list(dict.fromkeys(elements or []))
    if not names:
        raise ValidationFailed("Choose at least one element to copy.")
    exposed = {e.name: e for e in version.exposes.all()}
    missing = [n for n in names if n not in exposed]
    if missing:
        raise ValidationFailed(
            f"{source.name} v{version.number} does not expose {', '.join(missing)}."
        )
    require_may_deploy(
        user=user,
        environment=environment,
        key=target.key,
        name=target.name,
        extra={"copy_from": source.name, "elements": names},
    )
    ipp_check_copy(user=user, version=version, target=target, elements=names)
    return _CopyRequest(source, version, target, environment, names, exposed)


def copy_default_environment(target: Module) -> Environment | None:
    """Where the target's most recently deployed current version runs (None if nowhere)."""
    deployment = (
        Deployment.objects.filter(module=target, is_current=True)
        .select_related("environment__infrastructure")
        .order_by("-deployed_at", "-id")
        .first()
    )
    return deployment.environment if deployment else None


def _target_base(target: Module) -> ModuleVersion:
    """The target's latest version, which the copied elements are added to."""
    latest = target.versions.order_by("-number").first()
    if latest is None:
        raise ValidationFailed(f"{target.name} has no version yet: publish it first.")
    return latest


def _copied_manifest(request: _CopyRequest, latest: ModuleVersion) -> Manifest:
    """The target's manifest with the copied elements added to what it exposes."""
    base = version_manifest(latest)
    clashes = [n for n in request.names if n in {e.name for e in base.exposes}]
    if clashes:
        raise Conflict(f"{request.target.name} already exposes {', '.join(clashes)}.")
    exposed = request.exposed
    return Manifest(
        format=base.format,
        key=base.key,
        name=base.name,
        description=base.description,
        exposes=tuple(
            sorted(
                base.exposes
                + tuple(
                    ExposedSpec(name=n, kind=exposed[n].kind, signature=exposed[n].signature)
                    for n in request.names
                ),
                key=lambda e: e.name,
            )
        ),
        references=base.references,
    )


def _planned_files(request: _CopyRequest, latest: ModuleVersion) -> tuple[dict, list]:
    """{path: (size, opener)} of the new version's files, and the paths copied into it."""
    source, version = request.source, request.version
    target_reader = open_version_source(latest)
    source_reader = open_version_source(version)
    plan: dict = {
        path: (size, lambda p=path: target_reader.open(p))
        for path, size in target_reader.list_files()
    }
    folder = f"copied/{_safe(source.name)}"
    copied_paths = []
    source_files = source_reader.list_files()
    for name in request.names:
        matches = [(p, s) for p, s in source_files if _stem(p) == name.lower()]
        if matches:
            additions = [
                (f"{folder}/{p}", s, lambda p=p: source_reader.open(p)) for p, s in matches
            ]
        else:
            element = request.exposed[name]
            stub = (
                f"Copied from {source.name} v{version.number} ({source.key}).\n"
                f"{element.kind} {element.name}: {element.signature}\n"
            ).encode()
            additions = [(f"{folder}/{_safe(name)}.txt", len(stub), lambda b=stub: iter([b]))]
        for path, size, opener in additions:
            if path in plan:
                raise Conflict(f"{request.target.name} already has a file {path}.")
            plan[path] = (size, opener)
            copied_paths.append(path)
    return plan, sorted(copied_paths)


def _admitted(manifest: Manifest, plan: dict) -> AdmittedSource:
    """The planned files as source to publish, under their canonical digest."""
    files = sorted((path, size) for path, (size, _opener) in plan.items())
    digest = canonical_digest(manifest, ((p, s, plan[p][1]()) for p, s in files))
    return AdmittedSource(
        digest=digest,
        files=files,
        open_file=lambda path: buffered(plan[path][1]()),
    )


def module_copy(
    *,
    user,
    source: Module,
    version_number: int,
    elements: list,
    target: Module,
    environment: Environment,
) -> CopyResult:
    """Copy `elements` of `source` v`version_number` into a new version of `target`,
    published and deployed in `environment` (one of the target's infrastructure)."""
    request = _validated_request(
        user=user,
        source=source,
        version_number=version_number,
        elements=elements,
        target=target,
        environment=environment,
    )
    latest = _target_base(request.target)
    manifest = _copied_manifest(request, latest)
    plan, copied_paths = _planned_files(request, latest)
    result = module_publish_source(
        user=user,
        environment=request.environment,
        manifest=manifest,
        source=_admitted(manifest, plan),
        action="module.copied",
        extra_details={
            "from_module": request.source.name,
            "from_key": str(request.source.key),
            "from_version": request.version.number,
            "elements": request.names,
            "files": copied_paths,
        },
    )
    return CopyResult(result.module, result.version, result.deployment, request.names, copied_paths)
