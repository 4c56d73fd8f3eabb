"""API v1: PATCH /users/{username} {is_active} (support): deactivate or reactivate."""

from django.contrib.auth import get_user_model
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotAllowed
from ippsite.api import StrictInput
from ippsite.permissions_ui.members_api import BODY_REFUSALS, error_response_doc
from ippsite.support_ui.accounts import user_set_active
from permissions import door

User = get_user_model()


class UserChangeIn(StrictInput):
    is_active = serializers.BooleanField(
        required=False,
        help_text="false ends the user's sessions and API tokens at once; left out: no change",
    )


class UserStateOut(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_active = serializers.BooleanField()


class UserDetail(APIView):
    """PATCH {is_active}: support deactivates (sessions and tokens end) or reactivates."""

    @extend_schema(
        request=UserChangeIn,
        responses={
            200: UserStateOut,
            400: error_response_doc("invalid_request: a bad body, or deactivating yourself"),
            401: error_response_doc("not_authenticated: no session and no live token"),
            403: error_response_doc("permission_denied: only support"),
            404: error_response_doc("not_found: no such user"),
            **BODY_REFUSALS,
        },
        operation_id="user_change",
        tags=["users"],
    )
    def patch(self, request, username: str):
        if not door.is_support(request.user):
            raise NotAllowed("Only support deactivates or reactivates users.")
        user = User.objects.filter(username=username).first()
        if user is None:
            raise Http404("No such user.")
        data = UserChangeIn(data=request.data)
        data.is_valid(raise_exception=True)
        if "is_active" in data.validated_data:
            user_set_active(
                actor=request.user, user=user, is_active=data.validated_data["is_active"]
            )
        return Response(UserStateOut(user).data)
