"""Input and output shapes of the portal API (kept apart from the views)."""

from django.urls import reverse
from rest_framework import serializers

from ippsite.api import StrictInput
from portal.models import TransferRequest


class TransferModulesInput(StrictInput):
    """JSON: transfer modules (each one's latest version)."""

    modules = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=500
    )
    target_activation_code = serializers.CharField(max_length=64)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class TransferPackageInput(StrictInput):
    """Multipart: transfer the module of an uploaded sealed package."""

    package = serializers.FileField(allow_empty_file=False)
    target_activation_code = serializers.CharField(max_length=64)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class TransferPublishInput(StrictInput):
    module = serializers.IntegerField(min_value=1, help_text="The source module's id (an item).")
    environment = serializers.IntegerField(
        min_value=1, help_text="The id of an environment of the destination."
    )


class RejectInput(StrictInput):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class PackageLinkOutput(serializers.Serializer):
    module = serializers.IntegerField(help_text="The source module's id.")
    url = serializers.URLField()


class TransferCreatedOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=TransferRequest.Status.choices)
    packages = PackageLinkOutput(many=True, required=False)


class DecisionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=TransferRequest.Status.choices)
    packages = PackageLinkOutput(many=True, required=False)


class _InfrastructureRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class _DestinationRef(_InfrastructureRef):
    activation_code = serializers.CharField()


class TransferOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    source = _InfrastructureRef()
    destination = _DestinationRef()
    requester = serializers.CharField(source="requester.username")
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    decided_at = serializers.DateTimeField(allow_null=True)


class TransferItemOutput(serializers.Serializer):
    module = serializers.IntegerField(source="module_id")
    name = serializers.CharField(source="module.name")
    key = serializers.UUIDField(source="module.key")
    version = serializers.IntegerField(source="version.number")
    digest = serializers.CharField(source="version.digest")
    epoch = serializers.IntegerField()
    from_package = serializers.SerializerMethodField()
    new_mark = serializers.JSONField(allow_null=True)
    package_url = serializers.SerializerMethodField()

    def get_from_package(self, item) -> bool:
        return item.package_mark is not None

    def get_package_url(self, item) -> str | None:
        if not item.new_mark or not self.context.get("can_download"):
            return None
        return package_url(self.context["request"], item.request_id, item.module_id)


class TransferEventOutput(serializers.Serializer):
    time = serializers.DateTimeField()
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    kind = serializers.CharField()
    message = serializers.CharField()


class TransferDetailOutput(TransferOutput):
    items = TransferItemOutput(many=True)
    events = TransferEventOutput(many=True)


def package_url(request, transfer_id: int, module_id: int) -> str:
    return request.build_absolute_uri(
        reverse("api-transfer-package", args=[transfer_id, module_id])
    )


def package_links(request, transfer: TransferRequest) -> list[dict]:
    return [
        {"module": item.module_id, "url": package_url(request, transfer.pk, item.module_id)}
        for item in transfer.items.order_by("id")
    ]
