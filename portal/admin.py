"""Read-only admin for transfers: every change goes through portal.services (audited)."""

from django.contrib import admin

from portal.models import TransferEvent, TransferItem, TransferRequest


class _ReadOnly:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class TransferItemInline(_ReadOnly, admin.TabularInline):
    model = TransferItem
    extra = 0
    fields = ["module", "version", "epoch", "new_mark"]


class TransferEventInline(_ReadOnly, admin.TabularInline):
    model = TransferEvent
    extra = 0
    fields = ["time", "actor", "kind", "message"]


@admin.register(TransferRequest)
class TransferRequestAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = [
        "id",
        "source",
        "destination",
        "requester",
        "status",
        "created_at",
        "decided_by",
    ]
    list_filter = ["status", "source", "destination"]
    list_select_related = ["source", "destination", "requester", "decided_by"]
    inlines = [TransferItemInline, TransferEventInline]
