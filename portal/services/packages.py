"""The re-marked sealed packages of an approved transfer: built once, downloaded often.

At approval the `portal.build_packages` job (ippsite/jobs.py) seals each item's version
under its new mark into the blob store (`transfer-<item id>.zip`, `build_transfer_packages`)
and, when the last one is stored, has the requester and the destination told. A download
streams the stored package; until it is stored the download answers 409
`package_preparing` (and asks for the job again, which is idempotent: in-process, without
a broker, that builds it there and then).
"""

import io
import logging
import tempfile
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from audit.services import audit_record
from core import jobs
from core.errors import Conflict, NotAllowed
from ipp.sealing import build_sealed_package
from portal.models import TransferEvent, TransferItem, TransferRequest
from portal.selectors import transfer_for_user, transfer_roles
from portal.services.records import record_event
from registry.blobs import BlobExists, BlobHandle, get_store
from registry.models import Module
from registry.selectors import open_version_source

logger = logging.getLogger(__name__)
PREPARING = "package_preparing"


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


def package_blob_name(item: TransferItem) -> str:
    return f"transfer-{item.pk}.zip"


def build_transfer_packages(transfer_id: int) -> bool:
    """Store the re-marked package of every item of an approved request not stored yet.

    Idempotent (a second run, or two workers at once, store each package once). Returns
    True for the one call that found every package stored first, so exactly one run
    tells the requester and the destination.
    """
    transfer = TransferRequest.objects.filter(pk=transfer_id).first()
    if transfer is None or transfer.status != TransferRequest.Status.APPROVED:
        return False
    store = get_store()
    pending = transfer.items.filter(package_size__isnull=True, new_mark__isnull=False)
    for item in pending.select_related("module", "version", "version__module").order_by("id"):
        name = package_blob_name(item)
        if not store.exists(name):
            out, _size = sealed_package_file(item)
            try:
                store.write(name, iter(partial(out.read, 1024 * 1024), b""))
            except BlobExists:
                pass  # another worker stored it meanwhile: the same package under that name
            finally:
                out.close()
        with store.open(name) as handle:
            size = handle.size
        TransferItem.objects.filter(pk=item.pk, package_size__isnull=True).update(package_size=size)
    if transfer.items.filter(package_size__isnull=True).exists():
        return False
    return bool(
        TransferRequest.objects.filter(pk=transfer_id, packages_ready_at__isnull=True).update(
            packages_ready_at=timezone.now()
        )
    )


class _BlobFile(io.RawIOBase):
    """A stored object read as a file, a block at a time (never held whole in memory)."""

    def __init__(self, handle: BlobHandle):
        self.handle, self.offset = handle, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.offset, io.SEEK_END: self.handle.size}[whence]
        self.offset = max(0, base + offset)
        return self.offset

    def tell(self) -> int:
        return self.offset

    def readinto(self, buffer) -> int:
        want = min(len(buffer), self.handle.size - self.offset)
        if want <= 0:
            return 0
        data = self.handle.read(self.offset, want)
        buffer[: len(data)] = data
        self.offset += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self.handle.close()
        super().close()


def stored_package(item: TransferItem) -> tuple[BinaryIO, int]:
    """The item's stored package, as a file at 0, and its size; 409 `package_preparing`
    while it is being built. The caller closes it."""
    if item.package_size is None:
        # Ask for the build again (idempotent): in-process this builds it now; a worker
        # that died mid-build left it to the broker's redelivery, this only hurries it.
        jobs.send("portal.build_packages", item.request_id)
        item.refresh_from_db(fields=["package_size"])
    if item.package_size is None:
        raise Conflict(
            f"The package of {item.module.name} v{item.version.number} is being prepared: "
            "try again in a moment (you are told by e-mail when it is ready).",
            code=PREPARING,
        )
    handle = get_store().open(package_blob_name(item))
    return io.BufferedReader(_BlobFile(handle), 1024 * 1024), handle.size


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
    who cannot see the request, 403 for anyone else who can, 409 `package_preparing`
    until it is stored). Each download is recorded.
    """
    transfer, item = _downloadable_item(user=user, transfer=transfer, module=module)
    out, size = stored_package(item)
    try:
        _record_download(user=user, transfer=transfer, item=item)
    except BaseException:
        out.close()
        raise
    filename = f"{item.module.name}-v{item.version.number}-{transfer.destination.name}.zip"
    return IssuedPackage(file=out, filename=filename, size=size)
