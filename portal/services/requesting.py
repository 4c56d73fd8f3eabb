"""Asking for a transfer: which versions, from which source, to which destination.

The items come from module names (their latest versions), versions, or an uploaded
sealed package; all must come from one IPP infrastructure whose portal is not blocked.
A request by an administrator of the source is its consent and is approved at once.
"""

import uuid
from dataclasses import dataclass
from typing import BinaryIO

from django.db import transaction
from django.http import Http404

from audit.services import audit_record
from core import jobs
from core.errors import NotAllowed, ValidationFailed
from core.levels import Level
from ipp.sealing import open_sealed
from permissions import door
from portal.models import TransferEvent, TransferItem, TransferRequest
from portal.services.deciding import approve
from portal.services.records import (
    Refused,
    blocked_error,
    item_details,
    record_event,
    record_refusal,
)
from registry.models import Infrastructure, Module, ModuleVersion
from registry.packages import open_package


@dataclass
class _ItemSpec:
    module: Module
    version: ModuleVersion
    package_manifest: dict | None = None
    package_mark: dict | None = None


def _latest_versions(modules: list[Module]) -> dict:
    """{module pk: its latest version}, in one query; a module without versions is refused."""
    latest: dict = {}
    for version in ModuleVersion.objects.filter(module__in=modules).order_by("module", "-number"):
        latest.setdefault(version.module_id, version)
    for module in modules:
        if module.pk not in latest:
            raise ValidationFailed(f"{module.name} has no published version to transfer.")
    return latest


def _items_from_modules(*, user, modules) -> list[_ItemSpec]:
    pks = [ref.pk if isinstance(ref, Module) else ref for ref in modules]
    found = list(door.modules_by_pk_for_user(user, pks, Level.PUBLISH).values())
    latest = _latest_versions(found)
    return [_ItemSpec(module=module, version=latest[module.pk]) for module in found]


def _items_from_versions(*, user, versions) -> list[_ItemSpec]:
    given = [ref for ref in versions if isinstance(ref, ModuleVersion)]
    ids = [ref for ref in versions if not isinstance(ref, ModuleVersion)]
    try:
        fetched = {v.pk: v for v in ModuleVersion.objects.filter(pk__in=ids)}
    except (ValueError, TypeError):
        raise Http404("No such module version.") from None
    by_id = {v.pk: v for v in given} | fetched
    resolved = []
    for ref in versions:
        version = by_id.get(ref.pk if isinstance(ref, ModuleVersion) else _as_int(ref))
        if version is None:
            raise Http404("No such module version.")
        resolved.append(version)
    modules = door.modules_by_pk_for_user(user, [v.module_id for v in resolved], Level.PUBLISH)
    return [_ItemSpec(module=modules[v.module_id], version=v) for v in resolved]


def _as_int(ref) -> int | None:
    try:
        return int(ref)
    except (ValueError, TypeError):
        return None


def _items_from_package(*, user, package: BinaryIO) -> list[_ItemSpec]:
    """The version an uploaded sealed package corresponds to (found by key and digest).

    The package must be sealed, its mark must verify and name an infrastructure of
    which the requester is a member; that infrastructure is the source.
    """
    opened = open_package(package)
    try:
        if not opened.sealed or not opened.mark:
            raise ValidationFailed(
                "The package is not marked: only a sealed (marked) package can be transferred. "
                "To transfer an unmarked module, choose it by name instead."
            )
        mark = opened.mark
        # Verifies the mark, and that the sealed payload is the content the mark names.
        open_sealed(opened)
        manifest = opened.manifest.to_json()
    finally:
        opened.close()
    code = str(mark.get("activation_code", ""))
    source = Infrastructure.objects.filter(activation_code=code).first()
    if source is None or door.membership_for(user, source) is None:
        raise NotAllowed(
            "The package is marked for an infrastructure you are not a member of: "
            "only its members may ask to transfer it."
        )
    key = uuid.UUID(str(mark.get("key")))
    module = Module.objects.filter(infrastructure=source, key=key).first()
    version = module.versions.filter(digest=str(mark.get("digest", ""))).first() if module else None
    if version is None:
        raise ValidationFailed(
            f"No published version in {source.name} matches this package "
            f"(module key {key}); publish it there first."
        )
    module = door.module_for_user(user, module.pk, Level.PUBLISH)
    return [_ItemSpec(module=module, version=version, package_manifest=manifest, package_mark=mark)]


def _resolve_destination(code: str, source: Infrastructure) -> Infrastructure:
    normalised = (code or "").strip().upper()
    if not normalised:
        raise ValidationFailed("target_activation_code: give the destination's activation code.")
    destination = Infrastructure.objects.filter(activation_code=normalised).first()
    if destination is None:
        raise ValidationFailed(f"no infrastructure has activation code {normalised}")
    if destination.pk == source.pk:
        raise ValidationFailed(
            f"{normalised} is the activation code of {source.name}, where the modules already "
            "are: give the destination's code."
        )
    return destination


def _known_destination(code: str, source: Infrastructure) -> Infrastructure | None:
    """The infrastructure `code` names, if any and not `source` (for recording a refusal)."""
    if not code:
        return None
    return Infrastructure.objects.filter(activation_code=code).exclude(pk=source.pk).first()


def _requested_items(*, user, modules, versions, package) -> list[_ItemSpec]:
    """The items named by exactly one of `modules`, `versions` or `package`, each module once."""
    given = [x for x in (modules, versions, package) if x]
    if len(given) != 1:
        raise ValidationFailed("Name the modules to transfer, or upload one marked package.")
    if package:
        items = _items_from_package(user=user, package=package)
    elif versions:
        items = _items_from_versions(user=user, versions=versions)
    else:
        items = _items_from_modules(user=user, modules=modules)
    seen: set[int] = set()
    unique = []
    for item in items:
        if item.module.pk in seen:
            raise ValidationFailed(f"{item.module.name} is named more than once.")
        seen.add(item.module.pk)
        unique.append(item)
    return unique


def _single_source(items: list[_ItemSpec]) -> Infrastructure:
    """The one IPP infrastructure all items come from."""
    sources = {item.module.infrastructure_id for item in items}
    if len(sources) != 1:
        raise ValidationFailed(
            "All modules of a transfer must come from one infrastructure: make one request "
            "per infrastructure."
        )
    source = items[0].module.infrastructure
    if not source.uses_ipp:
        raise ValidationFailed(
            f"{source.name} is an ODC infrastructure: it does not use IPP, so its modules "
            "need no transfer."
        )
    return source


def _create_items(transfer: TransferRequest, items: list[_ItemSpec]) -> list[TransferItem]:
    """One row per item, at the epoch after its version's current mark."""
    rows = []
    for spec in items:
        previous = int((spec.version.mark or {}).get("epoch", 0) or 0)
        row = TransferItem(
            request=transfer,
            module=spec.module,
            version=spec.version,
            epoch=previous + 1,
            package_manifest=spec.package_manifest,
            package_mark=spec.package_mark,
        )
        row.full_clean(exclude=["request", "module", "version"], validate_constraints=False)
        rows.append(row)
    TransferItem.objects.bulk_create(rows)
    return rows


def _create_request(
    *,
    user,
    source: Infrastructure,
    destination: Infrastructure,
    items: list[_ItemSpec],
    note: str,
    from_package: bool,
) -> TransferRequest:
    """The pending request, its items, its first event and audit entry (caller's transaction)."""
    transfer = TransferRequest(
        source=source,
        destination=destination,
        destination_code=destination.activation_code,
        requester=user,
        note=note,
    )
    transfer.full_clean()
    transfer.save()
    rows = _create_items(transfer, items)
    names = ", ".join(f"{spec.module.name} v{spec.version.number}" for spec in items)
    record_event(
        transfer,
        actor=user,
        kind=TransferEvent.Kind.REQUESTED,
        message=f"{user.username} asked to transfer {names} from {source.name} to "
        f"{destination.name}" + (" (from an uploaded package)." if from_package else "."),
    )
    audit_record(
        actor=user,
        action="transfer.requested",
        infrastructure=source,
        also=destination,
        subject=transfer,
        details={
            "destination": destination.name,
            "destination_code": destination.activation_code,
            "items": item_details(rows),
            "from_package": from_package,
            "note": note,
        },
    )
    return transfer


def transfer_request(
    *,
    user,
    target_activation_code: str,
    modules=None,
    versions=None,
    package: BinaryIO | None = None,
    note: str = "",
) -> TransferRequest:
    """Ask to move the marks of `modules` (their latest versions), `versions` or the
    version an uploaded sealed `package` corresponds to, to the destination whose
    activation code is `target_activation_code`.

    Needs publish on each module, all of one source infrastructure. A request by an
    administrator of the source is its consent: it is approved at once.
    """
    items = _requested_items(user=user, modules=modules, versions=versions, package=package)
    source = _single_source(items)
    refusal = {
        "modules": [item.module.name for item in items],
        "target_activation_code": (target_activation_code or "").strip().upper(),
    }
    if source.portal_blocked:
        record_refusal(
            user=user,
            source=source,
            destination=_known_destination(refusal["target_activation_code"], source),
            transfer=None,
            details=refusal,
        )
        raise blocked_error(source)
    destination = _resolve_destination(target_activation_code, source)
    note = (note or "").strip()
    try:
        with transaction.atomic():
            # Locked so a portal block committed meanwhile is seen (and waits for us).
            source = Infrastructure.objects.select_for_update().get(pk=source.pk)
            if source.portal_blocked:
                raise Refused
            transfer = _create_request(
                user=user,
                source=source,
                destination=destination,
                items=items,
                note=note,
                from_package=bool(package),
            )
            if door.is_infrastructure_admin(user, source):
                approve(transfer, actor=user, at_once=True)
            else:
                jobs.submit("portal.notify", "pending", transfer.pk)
    except Refused:
        record_refusal(
            user=user, source=source, destination=destination, transfer=None, details=refusal
        )
        raise blocked_error(source) from None
    return transfer
