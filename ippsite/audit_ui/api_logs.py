"""API (SPEC §7): the logs, their signed heads, entries and proofs, and the authority's keys.

Readers of a log are support and that infrastructure's administrators; anyone else gets 404
for it, whether or not it exists. Every body here is what tools/ipp_verify_log.py and
`manage.py audit_witness` read.
"""

import base64
import json

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import proofs, reading
from audit.models import AuditEntry, TreeHead
from core import keys
from ippsite.api import ApiError, Pagination, QueryInput, error_doc, query_params
from ippsite.audit_ui.selectors import NO_LOG, can_read_audit, log_for_user, readable_logs

MAX_ENTRIES = 1000
# Entries per call in the lines format: no parse, no base64 and no JSON body per entry, so
# a bigger range costs the server little more than reading it (~3 MB at most).
MAX_LINES = 10_000
LINES = "application/jsonl"


def error(description: str) -> OpenApiResponse:
    return error_doc(description)


_READ_ERRORS = {
    401: error("not_authenticated"),
    404: error("not_found: no such log, or not one you read"),
}
_BAD_QUERY = error("invalid_request (not a number) or bad_range (outside the log)")


class KeyOut(serializers.Serializer):
    key_id = serializers.CharField()
    algorithm = serializers.CharField()
    public_key = serializers.CharField(help_text="base64 of the raw 32-byte Ed25519 key")


class KeysOut(serializers.Serializer):
    keys = KeyOut(many=True)


class LogOut(serializers.Serializer):
    log = serializers.CharField(source="id")
    infrastructure = serializers.IntegerField(source="infrastructure_id", allow_null=True)
    size = serializers.IntegerField()


class LogPageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = LogOut(many=True)


class HeadCosignatureOut(serializers.Serializer):
    witness = serializers.CharField()
    signature = serializers.CharField(help_text="base64")


class TreeHeadOut(serializers.Serializer):
    log = serializers.CharField()
    size = serializers.IntegerField()
    root_hash = serializers.CharField(help_text="lowercase hex")
    timestamp = serializers.CharField(help_text="RFC 3339 UTC, exactly as signed")
    key_id = serializers.CharField()
    signature = serializers.CharField(help_text="base64 Ed25519 over the tree head message")
    cosignatures = HeadCosignatureOut(many=True)


class EntryOut(serializers.Serializer):
    index = serializers.IntegerField()
    leaf = serializers.CharField(help_text="base64 of the exact entry bytes")
    entry = serializers.JSONField(help_text="those bytes parsed")


class EntriesOut(serializers.Serializer):
    entries = EntryOut(many=True)


class InclusionOut(serializers.Serializer):
    index = serializers.IntegerField()
    size = serializers.IntegerField()
    path = serializers.ListField(child=serializers.CharField(), help_text="hex, lowest first")


class ConsistencyOut(serializers.Serializer):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    path = serializers.ListField(child=serializers.CharField(), help_text="hex, lowest first")


class RangeIn(QueryInput):
    start = serializers.IntegerField(
        required=False, min_value=0, default=0, help_text="first index (default 0)"
    )
    end = serializers.IntegerField(
        required=False, min_value=0, help_text="index after the last (exclusive)"
    )


class InclusionIn(QueryInput):
    index = serializers.IntegerField(min_value=0)
    size = serializers.IntegerField(
        required=False, min_value=1, help_text="tree size (default: the log's size)"
    )


class ConsistencyIn(QueryInput):
    first = serializers.IntegerField(min_value=1)
    second = serializers.IntegerField(
        required=False, min_value=1, help_text="default: the log's size"
    )


def head_body(head: TreeHead) -> dict:
    return {
        "log": head.log_id,
        "size": head.size,
        "root_hash": bytes(head.root).hex(),
        "timestamp": head.timestamp,
        "key_id": head.key_id,
        "signature": head.signature,
        "cosignatures": [
            {"witness": c.witness.name, "signature": c.signature}
            for c in head.cosignatures.select_related("witness").order_by("witness__name")
        ],
    }


class KeysView(APIView):
    """The authority's live public keys: what tree heads (and marks) are signed with."""

    @extend_schema(responses={200: KeysOut, 401: _READ_ERRORS[401]}, operation_id="audit_keys")
    def get(self, request):
        return Response(
            {
                "keys": [
                    {
                        "key_id": kid,
                        "algorithm": "ed25519",
                        "public_key": base64.b64encode(raw).decode(),
                    }
                    for kid, raw in keys.public_keys()
                ]
            }
        )


class LogListView(APIView):
    """The logs the caller reads: support every one, administrators their infrastructures'."""

    @extend_schema(
        responses={
            200: LogPageOut,
            401: _READ_ERRORS[401],
            403: error("permission_denied: the caller reads no log"),
        },
        operation_id="audit_logs",
    )
    def get(self, request):
        if not can_read_audit(request.user):
            raise ApiError("permission_denied", NO_LOG, 403)
        paginator = Pagination()
        page = paginator.paginate_queryset(readable_logs(request.user), request, view=self)
        return paginator.get_paginated_response(LogOut(page, many=True).data)


class TreeHeadView(APIView):
    """The log's latest signed tree head (the one at its size) with its cosignatures."""

    @extend_schema(
        responses={
            200: TreeHeadOut,
            **_READ_ERRORS,
            409: error("no_signed_head: the log lacks its head (verify_audit fails too)"),
        },
        operation_id="audit_tree_head",
    )
    def get(self, request, log):
        found = log_for_user(request.user, log)
        head = TreeHead.objects.filter(log_id=found.id, size=found.size).first()
        if head is None:
            raise ApiError(
                "no_signed_head",
                f"log {found.id} has no signed head at its size {found.size}: tell support "
                "(verify_audit names the problem)",
                409,
            )
        return Response(head_body(head))


class EntryLinesRenderer(BaseRenderer):
    """What `Accept: application/jsonl` (or `?format=jsonl`) selects: EntriesView then
    answers each entry's exact bytes on a line of its own (JSON Lines; canonical JSON holds
    no raw newline) itself. What comes here is an error, answered as a JSON body."""

    media_type = LINES
    format = "jsonl"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return JSONRenderer().render(data)


class EntriesView(APIView):
    """Entries start <= index < end, as their exact bytes and parsed (at most 1,000), or
    with `Accept: application/jsonl` as their exact bytes only, one per line (at most
    10,000): what tools/ipp_verify_log.py fetches."""

    renderer_classes = [JSONRenderer, EntryLinesRenderer]

    @extend_schema(
        parameters=[RangeIn],
        responses={
            (200, "application/json"): EntriesOut,
            (200, LINES): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="each entry's exact bytes followed by a newline, in index order",
            ),
            # errors are JSON whatever was asked for
            **{
                (status, "application/json"): response
                for status, response in {400: _BAD_QUERY, **_READ_ERRORS}.items()
            },
        },
        operation_id="audit_entries",
    )
    def get(self, request, log):
        found = log_for_user(request.user, log)
        query = query_params(RangeIn, request)
        lines = request.accepted_renderer.media_type == LINES
        most = MAX_LINES if lines else MAX_ENTRIES
        start = query["start"]
        end = query.get("end", start + most)
        if end < start:
            raise ApiError("bad_range", f"end {end} is before start {start}")
        if end - start > most:
            raise ApiError("bad_range", f"at most {most} entries per call")
        end = min(end, found.size)
        if lines:  # not through the renderer: it drops the Content-Type of an empty body
            leaves = reading.leaves(found.id, start, end) if start < end else []
            return HttpResponse(b"".join(leaf + b"\n" for leaf in leaves), content_type=LINES)
        rows = (
            AuditEntry.objects.filter(log_id=found.id, index__gte=start, index__lt=end)
            .order_by("index")
            .values_list("index", "leaf")
        )
        entries = [
            {
                "index": index,
                "leaf": base64.b64encode(bytes(leaf)).decode(),
                "entry": json.loads(bytes(leaf)),
            }
            for index, leaf in rows
        ]
        return Response({"entries": entries})


class InclusionProofView(APIView):
    """The audit path of the entry at `index` in the tree of `size` (default: the log's)."""

    @extend_schema(
        parameters=[InclusionIn],
        responses={
            200: InclusionOut,
            400: _BAD_QUERY,
            **_READ_ERRORS,
        },
        operation_id="audit_inclusion_proof",
    )
    def get(self, request, log):
        found = log_for_user(request.user, log)
        query = query_params(InclusionIn, request)
        index, size = query["index"], query.get("size", found.size)
        try:
            path = proofs.inclusion(found.id, index, size, found.size)
        except proofs.BadIndex as exc:
            raise ApiError("bad_range", str(exc)) from None
        return Response({"index": index, "size": size, "path": [node.hex() for node in path]})


class ConsistencyProofView(APIView):
    """The proof that the tree of `first` entries is the start of the tree of `second`."""

    @extend_schema(
        parameters=[ConsistencyIn],
        responses={
            200: ConsistencyOut,
            400: _BAD_QUERY,
            **_READ_ERRORS,
        },
        operation_id="audit_consistency_proof",
    )
    def get(self, request, log):
        found = log_for_user(request.user, log)
        query = query_params(ConsistencyIn, request)
        first, second = query["first"], query.get("second", found.size)
        try:
            path = proofs.consistency(found.id, first, second, found.size)
        except proofs.BadIndex as exc:
            raise ApiError("bad_range", str(exc)) from None
        return Response({"first": first, "second": second, "path": [node.hex() for node in path]})
