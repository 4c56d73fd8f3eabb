"""API (SPEC §7): registering witnesses (support) and posting their cosignatures (anyone)."""

import base64

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import witnesses
from ippsite.api import ApiError, StrictInput
from ippsite.audit_ui.api_logs import error
from permissions import door


class WitnessIn(StrictInput):
    name = serializers.RegexField(
        r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,99}$",
        help_text="letters, digits, space . _ @ -; at most 100",
    )
    public_key = serializers.CharField(help_text="base64 of the raw 32-byte Ed25519 key")

    def validate_public_key(self, value: str) -> bytes:
        try:
            return witnesses.public_key_from(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class WitnessOut(serializers.Serializer):
    name = serializers.CharField()
    public_key = serializers.SerializerMethodField()
    registered_at = serializers.DateTimeField()

    def get_public_key(self, witness) -> str:
        return base64.b64encode(bytes(witness.public_key)).decode()


class CosignatureIn(StrictInput):
    witness = serializers.CharField(max_length=100)
    size = serializers.IntegerField(min_value=1)
    root_hash = serializers.RegexField(
        r"^[0-9a-f]{64}$", help_text="64 lowercase hex digits, as the tree head gives it"
    )
    signature = serializers.CharField(
        max_length=128, help_text="base64 Ed25519 over the cosignature message"
    )


class CosignatureCreatedOut(serializers.Serializer):
    log = serializers.CharField()
    size = serializers.IntegerField()
    witness = serializers.CharField()


class WitnessCreateView(APIView):
    """Support registers a witness: a name and the Ed25519 key its cosignatures verify with."""

    @extend_schema(
        request=WitnessIn,
        responses={
            201: WitnessOut,
            400: error("invalid_request: a bad name or key"),
            401: error("not_authenticated"),
            403: error("permission_denied: support only"),
            409: error("witness_exists: that name is taken"),
        },
        operation_id="audit_witness_create",
    )
    def post(self, request):
        if not door.is_support(request.user):
            raise ApiError("permission_denied", "Only support registers witnesses.", 403)
        body = WitnessIn(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            witness = witnesses.witness_register(actor=request.user, **body.validated_data)
        except witnesses.WitnessExists as exc:
            raise ApiError("witness_exists", str(exc), 409) from None
        return Response(WitnessOut(witness).data, status=status.HTTP_201_CREATED)


class CosignatureCreateView(APIView):
    """A witness's cosignature of one of this log's heads. The signature is the credential:
    any signed-in caller may post it; one that does not verify is 400 bad_cosignature."""

    @extend_schema(
        request=CosignatureIn,
        responses={
            201: CosignatureCreatedOut,
            400: error(
                "bad_cosignature (no such witness, no such head of this log, or the "
                "signature does not verify) or invalid_request"
            ),
            401: error("not_authenticated"),
        },
        operation_id="audit_cosignature_create",
    )
    def post(self, request, log):
        body = CosignatureIn(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            witnesses.cosignature_add(log_id=log, **body.validated_data)
        except witnesses.BadCosignature as exc:
            raise ApiError("bad_cosignature", str(exc)) from None
        data = body.validated_data
        return Response(
            {"log": log, "size": data["size"], "witness": data["witness"]},
            status=status.HTTP_201_CREATED,
        )
