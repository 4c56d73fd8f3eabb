"""API v1: one member of an infrastructure (SPEC §3, §7). Support and its administrators.

PATCH changes only the fields given; DELETE removes the member with every grant and team
place they had there (204). Removing or demoting the last administrator answers 409
`last_administrator`. 404 when the caller cannot see the infrastructure or the user is
not a member of it, 403 when they can see it but do not manage its members.
"""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.levels import Level
from ippsite.api import StrictInput, error_doc
from permissions import door
from permissions.members import membership_remove, membership_set, require_member_manager
from registry.models import Membership

LEVEL_NAMES = [level.label for level in Level]

# The API's one error body (ippsite.api.ErrorOut), documented with a description.
error_response_doc = error_doc


# The upload guard (ippsite.middleware) answers these from the headers, before any view.
BODY_REFUSALS = {
    411: error_response_doc("length_required: a chunked body without Content-Length"),
    413: error_response_doc("too_large: a body larger than the site accepts"),
    415: error_response_doc("unsupported_media_type: send JSON"),
}

MEMBER_REFUSALS = {
    401: error_response_doc("not_authenticated: no session and no live token"),
    403: error_response_doc("permission_denied: neither support nor its administrator"),
    404: error_response_doc("not_found: an infrastructure you cannot see"),
}


class MemberChangeIn(StrictInput):
    """Only the fields given change."""

    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)
    default_level = serializers.ChoiceField(choices=LEVEL_NAMES, required=False)
    create_modules = serializers.BooleanField(required=False)


class MemberOut(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    default_level = serializers.SerializerMethodField()
    create_modules = serializers.BooleanField()

    def get_default_level(self, membership) -> str:
        return Level(membership.default_level).label


def managed_membership(user, pk, username: str) -> Membership:
    """The membership of `username` in infrastructure `pk`, for one who manages its members:
    404 when the infrastructure is invisible or they are no member, 403 when not a manager."""
    infrastructure = door.infrastructure_for_user(user, pk)
    require_member_manager(user, infrastructure)
    membership = (
        Membership.objects.select_related("user", "infrastructure")
        .filter(infrastructure=infrastructure, user__username=username)
        .first()
    )
    if membership is None:
        raise Http404("No such member.")
    return membership


_LAST = error_response_doc("last_administrator: the infrastructure would have none left")
_NOT_MEMBER = {**MEMBER_REFUSALS, 404: error_response_doc("not_found: no such member here")}


class InfrastructureMemberDetail(APIView):
    """PATCH {role?, default_level?, create_modules?}; DELETE removes the member (204)."""

    @extend_schema(
        request=MemberChangeIn,
        responses={
            200: MemberOut,
            400: error_response_doc("invalid_request: a bad role or level"),
            409: _LAST,
            **_NOT_MEMBER,
            **BODY_REFUSALS,
        },
        operation_id="infrastructure_member_change",
        tags=["permissions"],
    )
    def patch(self, request, pk: int, username: str):
        membership = managed_membership(request.user, pk, username)
        data = MemberChangeIn(data=request.data)
        data.is_valid(raise_exception=True)
        membership = membership_set(
            actor=request.user,
            infrastructure=membership.infrastructure,
            user=membership.user,
            **data.validated_data,
        )
        return Response(MemberOut(membership).data)

    @extend_schema(
        request=None,
        responses={204: None, 409: _LAST, **_NOT_MEMBER},
        operation_id="infrastructure_member_remove",
        tags=["permissions"],
    )
    def delete(self, request, pk: int, username: str):
        membership = managed_membership(request.user, pk, username)
        membership_remove(
            actor=request.user, infrastructure=membership.infrastructure, user=membership.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
