"""JSON API (v1) of the IPP portal (SPEC §7, transfers). Thin: parse, call a service, render."""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from ippsite.api import Pagination, StrictJSONParser, errors
from ippsite.portal_ui.serializers import (
    DecisionOutput,
    RejectInput,
    TransferCreatedOutput,
    TransferDetailOutput,
    TransferModulesInput,
    TransferOutput,
    TransferPackageInput,
    TransferPublishInput,
    package_links,
)
from ippsite.registry_ui.api.common import paginated
from ippsite.registry_ui.api.infrastructures import PublishOut
from portal import selectors, services

_PAGE = paginated(TransferOutput)


def _decision(request, transfer) -> Response:
    body = {"id": transfer.pk, "status": transfer.status}
    if transfer.status == transfer.Status.APPROVED:
        body["packages"] = package_links(request, transfer)
    return Response(DecisionOutput(body).data)


class TransferListCreateView(APIView):
    parser_classes = [StrictJSONParser, MultiPartParser]

    @extend_schema(
        operation_id="transfers_list",
        summary="Transfer requests I may see",
        description="The requester's own, those of infrastructures the caller administers "
        "(as source or destination), or all for support. Newest first, paginated.",
        responses={200: _PAGE},
    )
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.transfers_for_user(request.user), request, view=self
        )
        return paginator.get_paginated_response(TransferOutput(page, many=True).data)

    @extend_schema(
        operation_id="transfers_create",
        summary="Ask to transfer modules (or an uploaded marked package) to another infrastructure",
        description=(
            "JSON `{modules: [ids], target_activation_code, note}` (each module's latest version) "
            "or multipart `package` (a sealed package whose mark names an infrastructure you are "
            "a member of) plus the same fields. Needs publish on every module, all of one source "
            "infrastructure. The answer's status is `pending` until an administrator of the "
            "source approves; when the caller is an administrator of the source the request is "
            "that consent and is answered `approved` at once, with the package links. "
            "403 `ipp_portal_blocked` when the source's portal is blocked."
        ),
        request={
            "application/json": TransferModulesInput,
            "multipart/form-data": TransferPackageInput,
        },
        responses={
            201: TransferCreatedOutput,
            **errors(
                {
                    400: "invalid_request, invalid_package or tampered_package; or an unknown "
                    "or the same destination",
                    403: "not allowed (publish on every module), ipp_portal_blocked, or "
                    "invalid_intellectual_property",
                    404: "not_found: a module you cannot see",
                }
            ),
        },
    )
    def post(self, request):
        multipart = hasattr(request.data, "getlist")
        data = (TransferPackageInput if multipart else TransferModulesInput)(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        transfer = services.transfer_request(
            user=request.user,
            modules=values.get("modules") or None,
            package=values.get("package"),
            target_activation_code=values["target_activation_code"],
            note=values.get("note", ""),
        )
        body = {"id": transfer.pk, "status": transfer.status}
        if transfer.status == transfer.Status.APPROVED:
            body["packages"] = package_links(request, transfer)
        return Response(TransferCreatedOutput(body).data, status=status.HTTP_201_CREATED)


class TransferDetailView(APIView):
    @extend_schema(
        operation_id="transfers_retrieve",
        summary="One transfer request with its items and timeline",
        responses={
            200: TransferDetailOutput,
            **errors({404: "not_found: a request you cannot see"}),
        },
    )
    def get(self, request, pk: int):
        transfer = selectors.transfer_for_user(request.user, pk, detail=True)
        roles = selectors.transfer_roles(request.user, transfer)
        context = {"request": request, "can_download": roles.can_download}
        return Response(TransferDetailOutput(transfer, context=context).data)


_DECISION_RESPONSES = {
    200: DecisionOutput,
    **errors(
        {
            403: "not allowed, or ipp_portal_blocked",
            404: "not_found: a request you cannot see",
            409: "conflict: the request is already decided",
        }
    ),
}


class TransferApproveView(APIView):
    @extend_schema(
        operation_id="transfers_approve",
        summary="Approve (source administrators): issue the destination's marks",
        request=None,
        responses=_DECISION_RESPONSES,
    )
    def post(self, request, pk: int):
        return _decision(request, services.transfer_approve(user=request.user, transfer=pk))


class TransferRejectView(APIView):
    @extend_schema(
        operation_id="transfers_reject",
        summary="Reject (source administrators)",
        request=RejectInput,
        responses=_DECISION_RESPONSES,
    )
    def post(self, request, pk: int):
        data = RejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        transfer = services.transfer_reject(
            user=request.user, transfer=pk, reason=data.validated_data["reason"]
        )
        return _decision(request, transfer)


class TransferCancelView(APIView):
    @extend_schema(
        operation_id="transfers_cancel",
        summary="Cancel (the requester, while pending)",
        request=None,
        responses=_DECISION_RESPONSES,
    )
    def post(self, request, pk: int):
        return _decision(request, services.transfer_cancel(user=request.user, transfer=pk))


class TransferPackageView(APIView):
    @extend_schema(
        operation_id="transfers_package",
        summary="The re-marked sealed package of one module (requester, destination admins)",
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            **errors(
                {
                    403: "permission_denied: neither the requester nor a destination administrator",
                    404: "not_found: a request or item you cannot see",
                    409: "conflict: the request is not approved; package_preparing: approved, "
                    "and its re-marked package is being built (a job stores it once, at "
                    "approval; the requester is e-mailed when it is ready): try again later",
                }
            ),
        },
    )
    def get(self, request, pk: int, module: int):
        issued = services.transfer_package(user=request.user, transfer=pk, module=module)
        response = FileResponse(
            issued.file,
            as_attachment=True,
            filename=issued.filename,
            content_type="application/zip",
        )
        response["Content-Length"] = str(issued.size)
        return response


class TransferPublishView(APIView):
    @extend_schema(
        operation_id="transfers_publish",
        summary="Publish one module's re-marked version straight into a destination environment",
        description="For whoever may publish in that environment (SPEC §3: member of the "
        "destination with publish on the module there, or create_modules for a new one; a "
        "protected environment also needs an administrator or a deployer). Answers like "
        "POST /environments/{id}/publish: 201 with a new version, 200 when that version "
        "was already there (deployed again).",
        request=TransferPublishInput,
        responses={
            201: PublishOut,
            200: PublishOut,
            **errors(
                {
                    400: "invalid_request: an environment outside the destination",
                    403: "not allowed to publish there, or environment_protected",
                    404: "not_found: a request, item or environment you cannot see",
                    409: "the request is not approved, or broken_reference",
                }
            ),
        },
    )
    def post(self, request, pk: int):
        data = TransferPublishInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.transfer_publish(
            user=request.user,
            transfer=pk,
            module=data.validated_data["module"],
            environment=data.validated_data["environment"],
        )
        body = PublishOut(
            {"module": result.module, "version": result.version, "deployment": result.deployment}
        ).data
        return Response(
            body, status=status.HTTP_201_CREATED if result.created_version else status.HTTP_200_OK
        )
