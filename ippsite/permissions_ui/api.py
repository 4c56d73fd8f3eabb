"""API v1: a module's permissions. Only administrators of the module's infrastructure.

404 when the caller cannot see the module, 403 when they can but do not administer it.
"""

from django.contrib.auth import get_user_model
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.levels import Level
from ippsite.api import StrictInput
from permissions import door, selectors, services

User = get_user_model()
LEVEL_NAMES = [level.label for level in services.GRANTABLE]


class GrantIn(StrictInput):
    level = serializers.ChoiceField(choices=LEVEL_NAMES)


class GrantOut(serializers.Serializer):
    username = serializers.CharField()
    level = serializers.ChoiceField(choices=LEVEL_NAMES, help_text="the grant on this module")
    effective_level = serializers.ChoiceField(choices=LEVEL_NAMES)


class SourceOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["administrator", "default", "team", "grant"])
    level = serializers.ChoiceField(choices=LEVEL_NAMES)
    name = serializers.CharField(required=False)


class PermissionOut(serializers.Serializer):
    username = serializers.CharField()
    level = serializers.ChoiceField(choices=LEVEL_NAMES, help_text="effective level")
    sources = SourceOut(many=True)


def _user(username: str):
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise Http404("No such user.") from None


class ModulePermissionList(APIView):
    """GET: every member of the module's infrastructure with their level and its sources."""

    @extend_schema(
        responses=PermissionOut(many=True),
        operation_id="module_permissions_list",
        tags=["permissions"],
    )
    def get(self, request, pk: int):
        module = door.administered_module_for_user(request.user, pk)
        rows = selectors.module_permissions(module)
        return Response(PermissionOut([r.as_dict() for r in rows], many=True).data)


class ModulePermissionDetail(APIView):
    """PUT {level}: set the user's grant on the module. DELETE: remove it."""

    @extend_schema(
        request=GrantIn,
        responses=GrantOut,
        operation_id="module_permission_set",
        tags=["permissions"],
    )
    def put(self, request, pk: int, username: str):
        module = door.administered_module_for_user(request.user, pk)
        user = _user(username)
        data = GrantIn(data=request.data)
        data.is_valid(raise_exception=True)
        level = services.grant_set(
            actor=request.user,
            module=module,
            user=user,
            level=Level.parse(data.validated_data["level"]),
        )
        out = {
            "username": user.username,
            "level": level.label,
            "effective_level": door.effective_level(user, module).label,
        }
        return Response(GrantOut(out).data)

    @extend_schema(
        request=None,
        responses={204: None},
        operation_id="module_permission_remove",
        tags=["permissions"],
    )
    def delete(self, request, pk: int, username: str):
        module = door.administered_module_for_user(request.user, pk)
        user = _user(username)
        services.grant_set(actor=request.user, module=module, user=user, level=Level.NONE)
        return Response(status=status.HTTP_204_NO_CONTENT)
