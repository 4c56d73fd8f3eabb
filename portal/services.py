"""Writes of the IPP portal (SPEC rule 7): request, approve, reject, cancel, download.

A request needs the consent of the source infrastructure: one made by its administrator
is that consent and is approved at once; any other waits for one of its administrators.
Every state change runs under transaction.atomic with the request row locked, appends a
TransferEvent and writes its audit entry in the same transaction. Refusals because the
source's portal is blocked are audited (`transfer.refused`) in their own transaction, so
the record survives the refusal.
"""

import tempfile
import uuid
from dataclasses import dataclass
from typing import BinaryIO

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from audit.services import audit_record
from core.errors import Conflict, DomainError, NotAllowed, ValidationFailed
from core.levels import Level
from ipp.marks import sign_mark
from ipp.sealing import build_sealed_package, open_sealed
from permissions import door
from portal import notifications
from portal.models import TransferEvent, TransferItem, TransferRequest
from portal.selectors import transfer_for_user, transfer_roles
from registry.models import Infrastructure, Module, ModuleVersion
from registry.packages import open_package
from registry.selectors import open_version_source

PORTAL_BLOCKED = "ipp_portal_blocked"


def _blocked_error(infrastructure: Infrastructure) -> DomainError:
    return DomainError(
        f"The IPP portal is blocked for {infrastructure.name}: transfers out of it are refused. "
        "Ask support to unblock it.",
        code=PORTAL_BLOCKED,
        status=403,
    )


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


def _event(transfer: TransferRequest, *, actor, kind: str, message: str) -> TransferEvent:
    event = TransferEvent(
        request=transfer, time=timezone.now(), actor=actor, kind=kind, message=message[:500]
    )
    event.full_clean(exclude=["request"])
    event.save()
    return event


def _item_details(items) -> list[dict]:
    return [
        {
            "module": item.module.name,
            "key": str(item.module.key),
            "version": item.version.number,
            "digest": item.version.digest,
            "epoch": item.epoch,
        }
        for item in items
    ]


def _record_refusal(
    *, user, source: Infrastructure, transfer: TransferRequest | None, details: dict
) -> None:
    """Audit (and put on the timeline) a refusal, committed on its own before raising."""
    with transaction.atomic():
        audit_record(
            actor=user,
            action="transfer.refused",
            infrastructure=source,
            subject=transfer,
            details={"reason": PORTAL_BLOCKED, **details},
        )
        if transfer is not None:
            _event(
                transfer,
                actor=user,
                kind=TransferEvent.Kind.REFUSED,
                message=f"Approval by {user.username} refused: the IPP portal is blocked for "
                f"{source.name}.",
            )


class _Refused(Exception):
    """Raised inside a transaction to leave it (rolling back) when the portal is blocked."""


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
    sources = {item.module.infrastructure_id for item in unique}
    if len(sources) != 1:
        raise ValidationFailed(
            "All modules of a transfer must come from one infrastructure: make one request "
            "per infrastructure."
        )
    source = unique[0].module.infrastructure
    if not source.uses_ipp:
        raise ValidationFailed(
            f"{source.name} is an ODC infrastructure: it does not use IPP, so its modules "
            "need no transfer."
        )
    refusal = {
        "modules": [item.module.name for item in unique],
        "target_activation_code": (target_activation_code or "").strip().upper(),
    }
    if source.portal_blocked:
        _record_refusal(user=user, source=source, transfer=None, details=refusal)
        raise _blocked_error(source)
    destination = _resolve_destination(target_activation_code, source)
    note = (note or "").strip()
    try:
        with transaction.atomic():
            # Locked so a portal block committed meanwhile is seen (and waits for us).
            source = Infrastructure.objects.select_for_update().get(pk=source.pk)
            if source.portal_blocked:
                raise _Refused
            transfer = TransferRequest(
                source=source,
                destination=destination,
                destination_code=destination.activation_code,
                requester=user,
                note=note,
            )
            transfer.full_clean()
            transfer.save()
            rows = []
            for spec in unique:
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
            names = ", ".join(f"{spec.module.name} v{spec.version.number}" for spec in unique)
            _event(
                transfer,
                actor=user,
                kind=TransferEvent.Kind.REQUESTED,
                message=f"{user.username} asked to transfer {names} from {source.name} to "
                f"{destination.name}" + (" (from an uploaded package)." if package else "."),
            )
            audit_record(
                actor=user,
                action="transfer.requested",
                infrastructure=source,
                subject=transfer,
                details={
                    "destination": destination.name,
                    "destination_code": destination.activation_code,
                    "items": _item_details(rows),
                    "from_package": bool(package),
                    "note": note,
                },
            )
            if door.is_infrastructure_admin(user, source):
                _approve(transfer, actor=user, at_once=True)
            else:
                transaction.on_commit(lambda: notifications.notify_pending(transfer.pk))
    except _Refused:
        _record_refusal(user=user, source=source, transfer=None, details=refusal)
        raise _blocked_error(source) from None
    return transfer


def _approve(transfer: TransferRequest, *, actor, at_once: bool = False) -> None:
    """Issue the destination's marks and mark the request approved (caller's transaction)."""
    destination = transfer.destination
    items = list(transfer.items.select_related("module", "version").order_by("id"))
    for item in items:
        item.new_mark = sign_mark(
            key=item.module.key,
            digest=item.version.digest,
            activation_code=destination.activation_code,
            epoch=item.epoch,
        )
        item.save(update_fields=["new_mark"])
    transfer.status = TransferRequest.Status.APPROVED
    transfer.decided_by = actor
    transfer.decided_at = timezone.now()
    transfer.full_clean()
    transfer.save(update_fields=["status", "decided_by", "decided_at"])
    how = (
        "approved at once: a request by an administrator of the source is its consent"
        if at_once
        else f"approved by {actor.username}"
    )
    _event(
        transfer,
        actor=actor,
        kind=TransferEvent.Kind.APPROVED,
        message=f"Transfer {how}.",
    )
    _event(
        transfer,
        actor=actor,
        kind=TransferEvent.Kind.PACKAGES_ISSUED,
        message="New marks issued for "
        f"{destination.name}: "
        + ", ".join(
            f"{item.module.name} v{item.version.number} (epoch {item.epoch})" for item in items
        )
        + ".",
    )
    audit_record(
        actor=actor,
        action="transfer.approved",
        infrastructure=transfer.source,
        subject=transfer,
        details={
            "destination": destination.name,
            "destination_code": destination.activation_code,
            "items": _item_details(items),
            "at_once": at_once,
        },
    )
    transaction.on_commit(lambda: notifications.notify_destination(transfer.pk))
    if not at_once:
        transaction.on_commit(lambda: notifications.notify_outcome(transfer.pk))


_ACTIONS = {
    "approve": (TransferRequest.Status.APPROVED, "transfer.approved"),
    "reject": (TransferRequest.Status.REJECTED, "transfer.rejected"),
    "cancel": (TransferRequest.Status.CANCELLED, "transfer.cancelled"),
}


def _authorize(user, transfer: TransferRequest, action: str) -> None:
    roles = transfer_roles(user, transfer)
    if not roles.can_see:
        raise Http404("No such transfer request.")
    if action == "cancel":
        if not roles.can_cancel:
            raise NotAllowed("Only the requester may cancel a transfer request.")
        return
    if roles.can_decide:
        return
    if roles.is_requester:
        raise NotAllowed(
            f"You cannot {action} your own request: an administrator of "
            f"{transfer.source.name} must consent."
        )
    raise NotAllowed(f"Only an administrator of {transfer.source.name} may {action} this request.")


def _decide(*, user, transfer, action: str, reason: str = "") -> TransferRequest:
    """The one state machine: pending → approved | rejected | cancelled, nothing else.

    The request row is locked, so of two decisions at once exactly one wins and the
    other sees the decided status (409).
    """
    pk = transfer.pk if isinstance(transfer, TransferRequest) else transfer
    refused_source = None
    with transaction.atomic():
        locked = TransferRequest.objects.select_for_update().filter(pk=pk).first()
        if locked is None:
            raise Http404("No such transfer request.")
        _authorize(user, locked, action)
        if locked.status != TransferRequest.Status.PENDING:
            raise Conflict(f"Transfer request #{locked.pk} is already {locked.status}.")
        if action == "approve":
            source = Infrastructure.objects.select_for_update().get(pk=locked.source_id)
            if source.portal_blocked:
                refused_source = source
        if refused_source is None:
            if action == "approve":
                _approve(locked, actor=user)
            else:
                status, audit_action = _ACTIONS[action]
                locked.status = status
                locked.decided_by = user
                locked.decided_at = timezone.now()
                locked.full_clean()
                locked.save(update_fields=["status", "decided_by", "decided_at"])
                reason = (reason or "").strip()
                _event(
                    locked,
                    actor=user,
                    kind=status,
                    message=f"{'Rejected' if action == 'reject' else 'Cancelled'} by "
                    f"{user.username}" + (f": {reason}" if reason else "."),
                )
                audit_record(
                    actor=user,
                    action=audit_action,
                    infrastructure=locked.source,
                    subject=locked,
                    details={"destination": locked.destination.name, "reason": reason},
                )
                if action == "reject":
                    transaction.on_commit(lambda: notifications.notify_outcome(pk))
    if refused_source is not None:
        _record_refusal(
            user=user,
            source=refused_source,
            transfer=locked,
            details={"transfer": locked.pk, "attempted": action},
        )
        raise _blocked_error(refused_source)
    return locked


def transfer_approve(*, user, transfer) -> TransferRequest:
    """Consent of the source: issue new marks (epoch + 1) for the destination."""
    return _decide(user=user, transfer=transfer, action="approve")


def transfer_reject(*, user, transfer, reason: str = "") -> TransferRequest:
    """The source's administrator declines the request."""
    return _decide(user=user, transfer=transfer, action="reject", reason=reason)


def transfer_cancel(*, user, transfer) -> TransferRequest:
    """The requester withdraws a pending request."""
    return _decide(user=user, transfer=transfer, action="cancel")


@dataclass
class IssuedPackage:
    file: BinaryIO
    filename: str
    size: int


def transfer_package(*, user, transfer, module) -> IssuedPackage:
    """The re-marked sealed package of one module of an approved request.

    The requester and the destination's administrators may download it (404 for anyone
    who cannot see the request, 403 for anyone else who can). Each download is recorded.
    """
    transfer = transfer_for_user(
        user, transfer.pk if isinstance(transfer, TransferRequest) else transfer
    )
    roles = transfer_roles(user, transfer)
    if not roles.can_download:
        raise NotAllowed(
            "Only the requester and the administrators of "
            f"{transfer.destination.name} may download the transferred packages."
        )
    module_pk = module.pk if isinstance(module, Module) else module
    item = (
        transfer.items.select_related("module", "version", "version__module")
        .filter(module_id=module_pk)
        .first()
        if str(module_pk).isdigit()
        else None
    )
    if item is None:
        raise Http404("This module is not part of the transfer request.")
    if transfer.status != TransferRequest.Status.APPROVED or not item.new_mark:
        raise Conflict(
            f"Transfer request #{transfer.pk} is {transfer.status}: packages exist only once "
            "it is approved."
        )
    out = tempfile.TemporaryFile(prefix="ipp-transfer-")
    try:
        build_sealed_package(
            version=item.version,
            reader=open_version_source(item.version),
            mark=item.new_mark,
            out=out,
        )
        size = out.seek(0, 2)
        out.seek(0)
        with transaction.atomic():
            _event(
                transfer,
                actor=user,
                kind=TransferEvent.Kind.DOWNLOADED,
                message=f"{user.username} downloaded the package of {item.module.name} "
                f"v{item.version.number} marked for {transfer.destination.name}.",
            )
            audit_record(
                actor=user,
                action="transfer.package_downloaded",
                infrastructure=transfer.source,
                subject=transfer,
                details={
                    "module": item.module.name,
                    "key": str(item.module.key),
                    "version": item.version.number,
                    "destination": transfer.destination.name,
                    "epoch": item.epoch,
                },
            )
    except BaseException:
        out.close()
        raise
    filename = f"{item.module.name}-v{item.version.number}-{transfer.destination.name}.zip"
    return IssuedPackage(file=out, filename=filename, size=size)
