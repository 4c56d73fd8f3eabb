"""Writes of the IPP portal (SPEC rule 7): request, approve, reject, cancel, download.

A request needs the consent of the source infrastructure: one made by its administrator
is that consent and is approved at once; any other waits for one of its administrators.
Every state change runs under transaction.atomic with the request row locked, appends a
TransferEvent and writes its audit entry in the same transaction. Refusals because the
source's portal is blocked are audited (`transfer.refused`) in their own transaction, so
the record survives the refusal.

The writes live in one module per step of a transfer's life: `requesting`, `deciding`
(approve, reject, cancel), `packages` (the re-marked package's download) and
`destination` (publishing it straight into a destination environment); `records` holds
what they all write. Callers import from here.
"""

from portal.services.deciding import transfer_approve, transfer_cancel, transfer_reject
from portal.services.destination import transfer_publish
from portal.services.packages import IssuedPackage, transfer_package
from portal.services.records import PORTAL_BLOCKED
from portal.services.requesting import transfer_request

__all__ = [
    "PORTAL_BLOCKED",
    "IssuedPackage",
    "transfer_approve",
    "transfer_cancel",
    "transfer_package",
    "transfer_publish",
    "transfer_reject",
    "transfer_request",
]
