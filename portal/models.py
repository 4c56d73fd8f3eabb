"""The IPP portal: requests to move modules' marks to another infrastructure (SPEC rule 7).

A request names versions of one source infrastructure and a destination (resolved from
its activation code). It waits for the source's consent; approving issues new marks for
the destination, one per item. Every step is a TransferEvent (the request's timeline).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from registry.models import Infrastructure, Module, ModuleVersion


class TransferRequest(models.Model):
    """A request to re-mark versions of the source infrastructure for the destination."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    source = models.ForeignKey(
        Infrastructure, on_delete=models.PROTECT, related_name="transfers_out"
    )
    destination = models.ForeignKey(
        Infrastructure, on_delete=models.PROTECT, related_name="transfers_in"
    )
    # The code as the requester typed it resolved to `destination`; kept for the record.
    destination_code = models.CharField(max_length=29)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfer_requests"
    )
    note = models.TextField(blank=True, max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transfer_decisions",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set once every item's re-marked package is stored (a job builds them at approval);
    # only then are the requester and the destination told.
    packages_ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "transfer request"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "approved", "rejected", "cancelled"]),
                name="transfer_status_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="pending", decided_by__isnull=True, decided_at__isnull=True)
                    | (~Q(status="pending") & Q(decided_by__isnull=False, decided_at__isnull=False))
                ),
                name="transfer_decided_iff_not_pending",
            ),
            models.CheckConstraint(
                condition=~Q(source=F("destination")), name="transfer_source_not_destination"
            ),
        ]
        indexes = [
            models.Index(fields=["source", "status"]),
            models.Index(fields=["destination", "status"]),
            models.Index(fields=["requester", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"Transfer #{self.pk} {self.source} → {self.destination} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING


class TransferItem(models.Model):
    """One version of a request; `new_mark` is the destination's mark, set on approval.

    When the request carried an uploaded sealed package, the package's manifest and mark
    are kept (`package_manifest`, `package_mark`) beside the version they correspond to.
    """

    request = models.ForeignKey(TransferRequest, on_delete=models.CASCADE, related_name="items")
    module = models.ForeignKey(Module, on_delete=models.PROTECT, related_name="transfer_items")
    version = models.ForeignKey(
        ModuleVersion, on_delete=models.PROTECT, related_name="transfer_items"
    )
    # The epoch the new mark gets: the version's mark epoch + 1 (1 for an unmarked version).
    epoch = models.PositiveIntegerField()
    new_mark = models.JSONField(null=True, blank=True)
    package_manifest = models.JSONField(null=True, blank=True)
    package_mark = models.JSONField(null=True, blank=True)
    # The re-marked sealed package, built once into the blob store (portal.services.packages:
    # `transfer-<item>.zip`); null until it is stored.
    package_size = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["request", "id"]
        verbose_name = "transfer item"
        constraints = [
            models.UniqueConstraint(fields=["request", "module"], name="transfer_item_module_once"),
            models.CheckConstraint(condition=Q(epoch__gte=1), name="transfer_item_epoch_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.version} in transfer #{self.request_id}"


class TransferEvent(models.Model):
    """One step of a request's timeline (requested, approved, package downloaded,
    published at the destination...)."""

    class Kind(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        REFUSED = "refused", "Refused"
        PACKAGES_ISSUED = "packages_issued", "Packages issued"
        DOWNLOADED = "downloaded", "Package downloaded"
        PUBLISHED = "published", "Published at the destination"

    request = models.ForeignKey(TransferRequest, on_delete=models.CASCADE, related_name="events")
    time = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["request", "time", "id"]
        verbose_name = "transfer event"
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "requested",
                        "approved",
                        "rejected",
                        "cancelled",
                        "refused",
                        "packages_issued",
                        "downloaded",
                        "published",
                    ]
                ),
                name="transfer_event_kind_valid",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.request_id} {self.kind}"
