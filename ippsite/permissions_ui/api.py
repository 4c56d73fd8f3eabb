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
from ippsite.api import QueryInput, StrictInput, errors, query_params
from ippsite.registry_ui.api.common import paginate_keys, paginated
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


class UsernameQuery(QueryInput):
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=150, help_text="Part of the username."
    )


class ModulePermissionList(APIView):
    """GET: the members of the module's infrastructure with their level and its sources,
    by username, paginated `{count, next, previous, results}` (`?q=` part of a username)."""

    @extend_schema(
        parameters=[UsernameQuery],
        responses={
            200: paginated(PermissionOut),
            **errors(
                {
                    403: "permission_denied: a module whose infrastructure you do not administer",
                    404: "not_found: a module you cannot see",
                }
            ),
        },
        operation_id="module_permissions_list",
        tags=["permissions"],
    )
    def get(self, request, pk: int):
        module = door.administered_module_for_user(request.user, pk)
        q = query_params(UsernameQuery, request).get("q", "").strip()
        return paginate_keys(
            self,
            request,
            selectors.module_permission_page_keys(module, q=q),
            lambda pks: selectors.module_permission_rows(module, pks),
            lambda page: [row.as_dict() for row in selectors.permission_rows(page)],
        )


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
