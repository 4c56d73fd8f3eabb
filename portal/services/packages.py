"""The re-marked sealed package of an approved transfer, built on each download."""

import tempfile
from dataclasses import dataclass
from typing import BinaryIO

from django.db import transaction
from django.http import Http404

from audit.services import audit_record
from core.errors import Conflict, NotAllowed
from ipp.sealing import build_sealed_package
from portal.models import TransferEvent, TransferItem, TransferRequest
from portal.selectors import transfer_for_user, transfer_roles
from portal.services.records import record_event
from registry.models import Module
from registry.selectors import open_version_source


@dataclass
class IssuedPackage:
    file: BinaryIO
    filename: str
    size: int


def visible_transfer(user, transfer) -> TransferRequest:
    """The request (an instance or its id) if `user` may see it, else 404."""
    return transfer_for_user(
        user, transfer.pk if isinstance(transfer, TransferRequest) else transfer
    )


def approved_item(*, transfer: TransferRequest, module) -> TransferItem:
    """The request's item for `module`: 404 if it is not there, 409 until the request is
    approved."""
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
    return item


def _downloadable_item(*, user, transfer, module) -> tuple[TransferRequest, TransferItem]:
    """The request and its item for `module`: 404 if either is not visible or not there,
    403 if the user may not download, 409 until the request is approved.
    """
    transfer = visible_transfer(user, transfer)
    if not transfer_roles(user, transfer).can_download:
        raise NotAllowed(
            "Only the requester and the administrators of "
            f"{transfer.destination.name} may download the transferred packages."
        )
    return transfer, approved_item(transfer=transfer, module=module)


def sealed_package_file(item: TransferItem) -> tuple[BinaryIO, int]:
    """The item's version sealed under its new mark, in a temporary file (at 0), and its
    size. The caller closes it."""
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
    except BaseException:
        out.close()
        raise
    return out, size


def _record_download(*, user, transfer: TransferRequest, item: TransferItem) -> None:
    with transaction.atomic():
        record_event(
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
            also=transfer.destination,
            subject=transfer,
            details={
                "module": item.module.name,
                "key": str(item.module.key),
                "version": item.version.number,
                "destination": transfer.destination.name,
                "epoch": item.epoch,
            },
        )


def transfer_package(*, user, transfer, module) -> IssuedPackage:
    """The re-marked sealed package of one module of an approved request.

    The requester and the destination's administrators may download it (404 for anyone
    who cannot see the request, 403 for anyone else who can). Each download is recorded.
    """
    transfer, item = _downloadable_item(user=user, transfer=transfer, module=module)
    out, size = sealed_package_file(item)
    try:
        _record_download(user=user, transfer=transfer, item=item)
    except BaseException:
        out.close()
        raise
    filename = f"{item.module.name}-v{item.version.number}-{transfer.destination.name}.zip"
    return IssuedPackage(file=out, filename=filename, size=size)
