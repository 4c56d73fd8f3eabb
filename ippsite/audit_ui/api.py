"""API: GET /api/v1/audit — entries newest first, filtered, paginated (SPEC §7)."""

from datetime import UTC

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.views import APIView

from ippsite.api import Pagination, QueryInput, query_params
from ippsite.audit_ui.api_logs import error
from ippsite.audit_ui.selectors import AuditFilters, BadBound, audit_entries_for_user, parse_bound


class AuditQueryIn(QueryInput):
    infrastructure = serializers.IntegerField(
        required=False, min_value=1, help_text="an infrastructure id: its log"
    )
    log = serializers.CharField(
        required=False, max_length=20, help_text="a log id: an infrastructure's id, or site"
    )
    action = serializers.CharField(
        required=False, max_length=64, help_text="an action name, e.g. module.published"
    )
    actor = serializers.CharField(
        required=False, max_length=150, help_text="the acting user's username"
    )
    since = serializers.CharField(required=False)
    until = serializers.CharField(required=False)

    def _bound(self, value: str, *, end: bool):
        try:
            # In UTC: PostgreSQL takes no offset beyond ±15:59, ISO 8601 allows ±23:59.
            return parse_bound(value, end=end).astimezone(UTC)
        except BadBound as exc:
            raise serializers.ValidationError(str(exc)) from None
        except OverflowError:
            raise serializers.ValidationError(f"'{value}' is out of range in UTC") from None

    def validate_since(self, value: str):
        return self._bound(value, end=False)

    def validate_until(self, value: str):
        return self._bound(value, end=True)

    def validate(self, attrs):
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and since > until:
            raise serializers.ValidationError("since must not be after until")
        return attrs


class SubjectOut(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.CharField()
    label = serializers.CharField()


class AuditEntryOut(serializers.Serializer):
    seq = serializers.IntegerField(help_text="order written across all logs (not signed)")
    log = serializers.CharField(source="log_id")
    index = serializers.IntegerField(help_text="0-based position in its log")
    time = serializers.DateTimeField(source="created_at")
    actor = serializers.CharField(source="actor_name")
    action = serializers.CharField()
    infrastructure = serializers.IntegerField(source="infrastructure_id", allow_null=True)
    also = serializers.IntegerField(
        source="also_id", allow_null=True, help_text="the other infrastructure of a transfer"
    )
    subject = serializers.SerializerMethodField()
    details = serializers.JSONField()
    leaf_hash = serializers.SerializerMethodField()

    @extend_schema_field(SubjectOut(allow_null=True))
    def get_subject(self, entry) -> dict | None:
        if not entry.subject_type:
            return None
        return {"type": entry.subject_type, "id": entry.subject_id, "label": entry.subject_label}

    def get_leaf_hash(self, entry) -> str:
        return bytes(entry.leaf_hash).hex()


class AuditPageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AuditEntryOut(many=True)


# What parse_bound reads: an ISO date, or a date and time (naive means UTC).
DATE_OR_TIME = {
    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]
}
_FILTERS = [
    AuditQueryIn,
    OpenApiParameter("since", DATE_OR_TIME, description="ISO date or datetime (inclusive)"),
    OpenApiParameter("until", DATE_OR_TIME, description="ISO date or datetime (inclusive)"),
]


class AuditListView(APIView):
    """Audit entries newest first: support sees all, administrators their infrastructures'."""

    @extend_schema(
        parameters=_FILTERS,
        responses={
            200: AuditPageOut,
            400: error("invalid_request: a filter value"),
            401: error("not_authenticated"),
            403: error("permission_denied: no log to read, or not that one"),
        },
        operation_id="audit_list",
    )
    def get(self, request):
        filters = AuditFilters(**query_params(AuditQueryIn, request))
        entries = audit_entries_for_user(request.user, filters)
        paginator = Pagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(AuditEntryOut(page, many=True).data)
