"""API v1: invitations (SPEC §3, §7).

POST/GET /infrastructures/{id}/invitations and DELETE /invitations/{id}: support and the
infrastructure's administrators (404 when they cannot see it, 403 when they can but do not
manage its members). POST /invitations/accept: anyone holding the secret.
"""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.levels import Level
from ippsite.api import StrictInput
from ippsite.permissions_ui.invitation_mail import invitation_mail, invitation_url
from ippsite.permissions_ui.members_api import (
    BODY_REFUSALS,
    LEVEL_NAMES,
    MEMBER_REFUSALS,
    error_response_doc,
)
from ippsite.registry_ui.api.common import paginate, paginated
from permissions import door
from permissions.invitations import (
    invitation_accept,
    invitation_create,
    invitation_revoke,
    invitations_of,
)
from permissions.members import require_member_manager
from permissions.models import Invitation
from registry.models import Membership


class InvitationIn(StrictInput):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Membership.Role.choices, default="member")
    default_level = serializers.ChoiceField(choices=LEVEL_NAMES, default="none")
    create_modules = serializers.BooleanField(default=False)


class InvitationCreatedOut(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField(help_text="Holds the secret: shown once, only here.")
    expires_at = serializers.DateTimeField()


class InvitationOut(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    default_level = serializers.SerializerMethodField()
    create_modules = serializers.BooleanField()
    state = serializers.ChoiceField(choices=["pending", "accepted", "revoked", "expired"])
    invited_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()

    def get_default_level(self, invitation) -> str:
        return Level(invitation.default_level).label


class AcceptIn(StrictInput):
    """The schema says what the serializer checks; the rest (a username taken, a password
    the validators refuse) is decided once the secret is found."""

    token = serializers.CharField(max_length=200, help_text="The last path segment of `url`.")
    username = serializers.CharField(
        max_length=150,
        required=False,
        help_text="The new account's name (not used when the caller is signed in).",
    )
    password = serializers.CharField(
        required=False,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="The new account's password (not used when the caller is signed in).",
    )


class AcceptedOut(serializers.Serializer):
    username = serializers.CharField()
    infrastructure = serializers.IntegerField()


def _managed_infrastructure(user, pk):
    infrastructure = door.infrastructure_for_user(user, pk)
    require_member_manager(user, infrastructure)
    return infrastructure


class InfrastructureInvitationList(APIView):
    """POST invites by e-mail → 201 {id, url, expires_at}; GET lists them (no secrets)."""

    @extend_schema(
        request=InvitationIn,
        responses={
            201: InvitationCreatedOut,
            400: error_response_doc("invalid_request: a bad e-mail, role or level"),
            **MEMBER_REFUSALS,
            **BODY_REFUSALS,
        },
        operation_id="infrastructure_invitation_create",
        tags=["invitations"],
    )
    def post(self, request, pk: int):
        infrastructure = _managed_infrastructure(request.user, pk)
        data = InvitationIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        invitation, raw = invitation_create(
            actor=request.user,
            infrastructure=infrastructure,
            email=values["email"],
            role=values["role"],
            default_level=Level.parse(values["default_level"]),
            create_modules=values["create_modules"],
        )
        url = invitation_url(request, raw)
        invitation_mail(invitation, url, request.user.username)
        out = {"id": invitation.pk, "url": url, "expires_at": invitation.expires_at}
        return Response(InvitationCreatedOut(out).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={200: paginated(InvitationOut), **MEMBER_REFUSALS},
        operation_id="infrastructure_invitations_list",
        tags=["invitations"],
    )
    def get(self, request, pk: int):
        infrastructure = _managed_infrastructure(request.user, pk)
        return paginate(
            self,
            request,
            invitations_of(infrastructure),
            lambda rows: InvitationOut(rows, many=True).data,
        )


class InvitationDetail(APIView):
    """DELETE revokes a pending invitation (204; again: 204, nothing changes)."""

    @extend_schema(
        request=None,
        responses={
            204: None,
            409: error_response_doc("invitation_not_pending: already used or expired"),
            **MEMBER_REFUSALS,
            404: error_response_doc("not_found: an invitation you cannot see"),
        },
        operation_id="invitation_revoke",
        tags=["invitations"],
    )
    def delete(self, request, pk: int):
        invitation = (
            Invitation.objects.select_related("infrastructure")
            .filter(
                pk=pk, infrastructure__in=door.infrastructures_for_user(request.user).values("pk")
            )
            .first()
        )
        if invitation is None:
            raise Http404("No such invitation.")
        invitation_revoke(actor=request.user, invitation=invitation)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAccept(APIView):
    """POST {token, username, password} → 201 {username, infrastructure}: creates the
    account and its membership; a signed-in caller just gets the membership."""

    permission_classes = [AllowAny]

    @extend_schema(
        request=AcceptIn,
        responses={
            201: AcceptedOut,
            400: error_response_doc(
                "invalid_request: username taken or invalid, or a password the validators refuse"
            ),
            401: error_response_doc("not_authenticated: a token that is not a live one"),
            403: error_response_doc("permission_denied: a session caller without a CSRF token"),
            404: error_response_doc("not_found: no invitation has this secret"),
            409: error_response_doc("already_member: the signed-in caller is a member already"),
            410: error_response_doc("invitation_expired: used, revoked or expired"),
            **BODY_REFUSALS,
        },
        operation_id="invitation_accept",
        tags=["invitations"],
    )
    def post(self, request):
        data = AcceptIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        signed_in = request.user if request.user.is_authenticated else None
        membership = invitation_accept(
            raw=values["token"],
            user=signed_in,
            username=values.get("username", ""),
            password=values.get("password", ""),
        )
        out = {"username": membership.user.username, "infrastructure": membership.infrastructure_id}
        return Response(AcceptedOut(out).data, status=status.HTTP_201_CREATED)
