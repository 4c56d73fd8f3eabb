"""API v1: the deployers of an environment (SPEC §3, §7). Only its administrators.

404 when the caller cannot see the environment, 403 when they can but do not administer
its infrastructure (support included: naming who ships to Production is the owner's call).
"""

from django.contrib.auth import get_user_model
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from ippsite.api import errors
from ippsite.registry_ui.api.common import paginate, paginated
from permissions import door
from permissions.deployers import (
    deployer_add,
    deployer_remove,
    deployers_of,
    require_environment_admin,
)

User = get_user_model()

_REFUSED = errors(
    {
        401: "not_authenticated",
        403: "permission_denied: not an administrator of its infrastructure",
        404: "not_found: an environment you cannot see, or no such user",
    }
)


class DeployerOut(serializers.Serializer):
    username = serializers.CharField(source="membership.user.username")
    added_by = serializers.CharField(source="added_by.username", default=None, allow_null=True)
    created_at = serializers.DateTimeField()


def _administered_environment(user, pk):
    environment = door.environment_for_user(user, pk)
    require_environment_admin(user, environment)
    return environment


def _user(username: str):
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise Http404("No such user.") from None


class EnvironmentDeployerList(APIView):
    """GET the deployers of the environment, by username (paginated)."""

    @extend_schema(
        responses={200: paginated(DeployerOut), **_REFUSED},
        operation_id="environment_deployers_list",
        tags=["permissions"],
    )
    def get(self, request, pk: int):
        environment = _administered_environment(request.user, pk)
        return paginate(
            self, request, deployers_of(environment), lambda rows: DeployerOut(rows, many=True).data
        )


class EnvironmentDeployerDetail(APIView):
    """PUT: name a member of the infrastructure a deployer (201; 200 when already one).
    DELETE: take them off the deployers (204)."""

    @extend_schema(
        request=None,
        responses={
            201: DeployerOut,
            200: DeployerOut,
            **errors({400: "invalid_request: the user is not a member"}),
            **_REFUSED,
        },
        operation_id="environment_deployer_add",
        tags=["permissions"],
    )
    def put(self, request, pk: int, username: str):
        environment = _administered_environment(request.user, pk)
        deployer, created = deployer_add(
            actor=request.user, environment=environment, user=_user(username)
        )
        return Response(
            DeployerOut(deployer).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        request=None,
        responses={204: None, **_REFUSED},
        operation_id="environment_deployer_remove",
        tags=["permissions"],
    )
    def delete(self, request, pk: int, username: str):
        environment = _administered_environment(request.user, pk)
        deployer_remove(actor=request.user, environment=environment, user=_user(username))
        return Response(status=status.HTTP_204_NO_CONTENT)
