"""API: infrastructures, their members and environments, publishing and deploying."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotAllowed
from core.levels import Level
from ipp.toggles import infrastructure_set_flags
from ippsite.api import ApiError, StrictInput, errors, query_params
from ippsite.registry_ui.api.common import (
    InfrastructureQuery,
    LevelField,
    model_validation,
    paginate,
    paginate_keys,
    paginated,
    require_support,
)
from permissions import door, selectors
from publishing.deploying import module_deploy
from publishing.services import (
    environment_change,
    environment_create,
    infrastructure_create,
    membership_set,
    module_publish,
)
from registry.models import Deployment, Infrastructure, Membership, ModuleVersion

User = get_user_model()


# --- serializers -------------------------------------------------------------------------


class InfrastructureIn(StrictInput):
    name = serializers.CharField(max_length=120)
    platform = serializers.ChoiceField(choices=Infrastructure.Platform.values, default="o11")


class InfrastructureFlagsIn(StrictInput):
    ipp_protected = serializers.BooleanField(required=False)
    portal_blocked = serializers.BooleanField(required=False)


class InfrastructureOut(serializers.ModelSerializer):
    class Meta:
        model = Infrastructure
        fields = ["id", "name", "platform", "activation_code", "ipp_protected", "portal_blocked"]


class MembershipIn(StrictInput):
    """A field left out keeps its value on a change; a new member gets the default shown."""

    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(
        choices=Membership.Role.choices, required=False, help_text="new members: member"
    )
    default_level = LevelField(required=False, help_text="new members: none")
    create_modules = serializers.BooleanField(required=False, help_text="new members: false")


class MembershipOut(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    default_level = LevelField()

    class Meta:
        model = Membership
        fields = ["id", "infrastructure", "username", "role", "default_level", "create_modules"]


class EnvironmentIn(StrictInput):
    infrastructure = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=80)
    protected = serializers.BooleanField(
        default=False,
        help_text="Publishing or deploying here needs an administrator or a deployer.",
    )


class EnvironmentChangeIn(StrictInput):
    protected = serializers.BooleanField(required=False)
    name = serializers.CharField(max_length=80, required=False)


class EnvironmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    infrastructure = serializers.IntegerField(source="infrastructure_id")
    serial = serializers.CharField()
    protected = serializers.BooleanField()


class DeployedModuleOut(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.UUIDField()
    name = serializers.CharField()


class DeployedVersionOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    digest = serializers.CharField()
    marked = serializers.BooleanField()


class CurrentDeploymentOut(serializers.Serializer):
    id = serializers.IntegerField()
    module = DeployedModuleOut()
    version = DeployedVersionOut()
    deployed_at = serializers.DateTimeField()
    deployed_by = serializers.CharField(source="deployed_by.username", default=None)


_DATETIME = serializers.DateTimeField()


def deployment_rows_out(deployments: list) -> list[dict]:
    """What `CurrentDeploymentOut(deployments, many=True).data` gives, built directly (a
    page through DRF's fields cost more than its queries; the schema is the serializer's)."""
    return [
        {
            "id": d.pk,
            "module": {"id": d.module.pk, "key": str(d.module.key), "name": d.module.name},
            "version": {
                "id": d.version.pk,
                "number": d.version.number,
                "digest": d.version.digest,
                "marked": d.version.marked,
            },
            "deployed_at": _DATETIME.to_representation(d.deployed_at),
            "deployed_by": d.deployed_by.username if d.deployed_by else None,
        }
        for d in deployments
    ]


class EnvironmentDetailOut(EnvironmentOut):
    deployments_url = serializers.URLField(
        help_text="The current deployments of the modules you can see, paginated: "
        "GET /environments/{id}/deployments."
    )


class PublishModuleOut(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.UUIDField()
    name = serializers.CharField()
    infrastructure = serializers.IntegerField(source="infrastructure_id")


class PublishVersionOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    digest = serializers.CharField()
    marked = serializers.BooleanField()
    mark = serializers.JSONField(allow_null=True)


class PublishDeploymentOut(serializers.Serializer):
    id = serializers.IntegerField()


class PublishOut(serializers.Serializer):
    module = PublishModuleOut()
    version = PublishVersionOut()
    deployment = PublishDeploymentOut()


class PublishIn(StrictInput):
    package = serializers.FileField(help_text="The module package (ZIP).")


class DeployIn(StrictInput):
    version = serializers.IntegerField(min_value=1, help_text="Module version id.")
    environment = serializers.IntegerField(min_value=1, help_text="Environment id.")


class DeploymentOut(serializers.Serializer):
    id = serializers.IntegerField()
    module = serializers.IntegerField(source="module_id")
    version = serializers.IntegerField(source="version_id")
    environment = serializers.IntegerField(source="environment_id")


# --- infrastructures ---------------------------------------------------------------------

SUPPORT_ONLY = "permission_denied: support only"
MANAGERS_ONLY = "permission_denied: support or an administrator of the infrastructure only"


class InfrastructureListView(APIView):
    """GET the infrastructures you may see (support: all); POST creates one (support)."""

    @extend_schema(responses=paginated(InfrastructureOut), operation_id="infrastructures_list")
    def get(self, request):
        qs = door.infrastructures_for_user(request.user).order_by("name", "id")
        return paginate(self, request, qs, lambda rows: InfrastructureOut(rows, many=True).data)

    @extend_schema(
        request=InfrastructureIn,
        responses={
            201: InfrastructureOut,
            **errors({403: SUPPORT_ONLY, 409: "name_taken: an infrastructure has that name"}),
        },
    )
    def post(self, request):
        require_support(request.user)
        data = InfrastructureIn(data=request.data)
        data.is_valid(raise_exception=True)
        if Infrastructure.objects.filter(name=data.validated_data["name"]).exists():
            raise ApiError("name_taken", "name: an infrastructure with this name exists.", 409)
        with model_validation():
            infra = infrastructure_create(actor=request.user, **data.validated_data)
        return Response(InfrastructureOut(infra).data, status=status.HTTP_201_CREATED)


class InfrastructureDetailView(APIView):
    """GET one infrastructure (members, support); PATCH its IPP and portal flags (support)."""

    @extend_schema(responses=InfrastructureOut)
    def get(self, request, pk: int):
        return Response(InfrastructureOut(door.infrastructure_for_user(request.user, pk)).data)

    @extend_schema(
        request=InfrastructureFlagsIn,
        responses={200: InfrastructureOut, **errors({403: SUPPORT_ONLY})},
    )
    def patch(self, request, pk: int):
        infra = door.infrastructure_for_user(request.user, pk)
        require_support(request.user)
        data = InfrastructureFlagsIn(data=request.data)
        data.is_valid(raise_exception=True)
        infra = infrastructure_set_flags(
            actor=request.user, infrastructure=infra, **data.validated_data
        )
        return Response(InfrastructureOut(infra).data)


def _require_manager(user, infrastructure: Infrastructure) -> None:
    if not (door.is_support(user) or door.is_infrastructure_admin(user, infrastructure)):
        raise NotAllowed(f"Only support or an administrator of {infrastructure.name} may do this.")


class InfrastructureMembersView(APIView):
    """GET the members (its administrators, support); POST adds or changes one.

    POST answers 201 when the user joins, 200 when an existing membership changes.
    """

    @extend_schema(
        responses={200: paginated(MembershipOut), **errors({403: MANAGERS_ONLY})},
        operation_id="infrastructure_members_list",
    )
    def get(self, request, pk: int):
        infra = door.infrastructure_for_user(request.user, pk)
        _require_manager(request.user, infra)
        qs = (
            Membership.objects.filter(infrastructure=infra)
            .select_related("user")
            .order_by("user__username")
        )
        return paginate(self, request, qs, lambda rows: MembershipOut(rows, many=True).data)

    @extend_schema(
        request=MembershipIn,
        responses={
            201: MembershipOut,
            200: MembershipOut,
            **errors(
                {
                    403: MANAGERS_ONLY,
                    404: "not_found: an infrastructure you cannot see, or no such user",
                    409: "last_administrator: that would demote the last administrator",
                }
            ),
        },
    )
    def post(self, request, pk: int):
        infra = door.infrastructure_for_user(request.user, pk)
        _require_manager(request.user, infra)
        data = MembershipIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        member = User.objects.filter(username=values["username"]).first()
        if member is None:
            raise ApiError("not_found", f"username: no user '{values['username']}'.", 404)
        existed = Membership.objects.filter(infrastructure=infra, user=member).exists()
        with model_validation():
            membership = membership_set(
                actor=request.user,
                infrastructure=infra,
                user=member,
                role=values.get("role"),
                default_level=values.get("default_level"),
                create_modules=values.get("create_modules"),
            )
        return Response(
            MembershipOut(membership).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


# --- environments ------------------------------------------------------------------------


class EnvironmentListView(APIView):
    """GET the environments you may see (?infrastructure=); POST creates one."""

    @extend_schema(
        parameters=[InfrastructureQuery],
        responses=paginated(EnvironmentOut),
        operation_id="environments_list",
    )
    def get(self, request):
        qs = door.environments_for_user(request.user)
        infrastructure = query_params(InfrastructureQuery, request).get("infrastructure")
        if infrastructure is not None:
            qs = qs.filter(infrastructure_id=infrastructure)
        qs = qs.order_by("infrastructure__name", "id")
        return paginate(self, request, qs, lambda rows: EnvironmentOut(rows, many=True).data)

    @extend_schema(
        request=EnvironmentIn,
        responses={
            201: EnvironmentOut,
            **errors(
                {
                    403: MANAGERS_ONLY,
                    404: "not_found: an infrastructure you cannot see",
                    409: "name_taken: the infrastructure has an environment of that name",
                }
            ),
        },
    )
    def post(self, request):
        data = EnvironmentIn(data=request.data)
        data.is_valid(raise_exception=True)
        infra = door.infrastructure_for_user(request.user, data.validated_data["infrastructure"])
        _require_manager(request.user, infra)
        with model_validation():
            env = environment_create(
                actor=request.user,
                infrastructure=infra,
                name=data.validated_data["name"],
                protected=data.validated_data["protected"],
            )
        return Response(EnvironmentOut(env).data, status=status.HTTP_201_CREATED)


class EnvironmentDetailView(APIView):
    """GET one environment with the current deployments of the modules you can see;
    PATCH {protected?, name?} changes only what is given (support, its administrators)."""

    @extend_schema(
        responses={
            200: EnvironmentDetailOut,
            **errors({404: "not_found: an environment you cannot see"}),
        }
    )
    def get(self, request, pk: int):
        env = door.environment_for_user(request.user, pk)
        out = EnvironmentOut(env).data
        out["deployments_url"] = request.build_absolute_uri(
            reverse("api-environment-deployments", args=[env.pk])
        )
        return Response(out)

    @extend_schema(
        request=EnvironmentChangeIn,
        responses={
            200: EnvironmentOut,
            **errors(
                {
                    403: MANAGERS_ONLY,
                    404: "not_found: an environment you cannot see",
                    409: "name_taken: the infrastructure has an environment of that name",
                }
            ),
        },
    )
    def patch(self, request, pk: int):
        env = door.environment_for_user(request.user, pk)
        _require_manager(request.user, env.infrastructure)
        data = EnvironmentChangeIn(data=request.data)
        data.is_valid(raise_exception=True)
        with model_validation():
            env = environment_change(actor=request.user, environment=env, **data.validated_data)
        return Response(EnvironmentOut(env).data)


class EnvironmentDeploymentsView(APIView):
    """GET the current deployments in the environment of the modules you can see, by module
    name, paginated (an environment may run ten thousand modules: never all at once)."""

    @extend_schema(
        responses={
            200: paginated(CurrentDeploymentOut),
            **errors({404: "not_found: an environment you cannot see"}),
        },
        operation_id="environment_deployments_list",
    )
    def get(self, request, pk: int):
        env = door.environment_for_user(request.user, pk)
        return paginate_keys(
            self,
            request,
            selectors.current_deployment_keys(request.user, env),
            lambda pks: Deployment.objects.filter(pk__in=pks).select_related(
                "module", "version", "deployed_by"
            ),
            deployment_rows_out,
        )


# Room for the multipart envelope around the package (boundaries, headers, small fields).
MULTIPART_OVERHEAD = 64 * 1024


def _refuse_oversized_body(request) -> None:
    """413 before the body is read when its declared length cannot hold an allowed package."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit_mb = settings.IPP_MAX_PACKAGE_MB
    if length > limit_mb * 1024 * 1024 + MULTIPART_OVERHEAD:
        raise ApiError(
            "invalid_package", f"package is larger than IPP_MAX_PACKAGE_MB ({limit_mb} MB)", 413
        )


PUBLISH_ERRORS = errors(
    {
        400: "invalid_package (the rule it breaks is named) or tampered_package",
        403: "permission_denied (no publish, or no create_modules for a new key), "
        "environment_protected, or invalid_intellectual_property (SPEC rules 2, 9)",
        404: "not_found: an environment you cannot see",
        409: "broken_reference: a reference the environment cannot satisfy; or conflict",
        413: "invalid_package: larger than IPP_MAX_PACKAGE_MB",
    }
)


class EnvironmentPublishView(APIView):
    """POST a package (multipart field `package`) to publish it into the environment.

    201 when a new version was stored; 200 when the package is identical to an existing
    version of the module (nothing new is stored; that version is deployed again).
    """

    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": PublishIn},
        responses={201: PublishOut, 200: PublishOut, **PUBLISH_ERRORS},
    )
    def post(self, request, pk: int):
        env = door.environment_for_user(request.user, pk)
        _refuse_oversized_body(request)
        upload = request.FILES.get("package")
        if upload is None:
            raise ApiError(
                "invalid_package", "No package: send the ZIP in the multipart field 'package'."
            )
        PublishIn(data=request.data).is_valid(raise_exception=True)  # nothing else sent
        try:
            result = module_publish(
                user=request.user, environment=env, upload=upload.file, size=upload.size
            )
        finally:
            upload.close()
        out = PublishOut(
            {"module": result.module, "version": result.version, "deployment": result.deployment}
        ).data
        return Response(
            out, status=status.HTTP_201_CREATED if result.created_version else status.HTTP_200_OK
        )


class DeploymentCreateView(APIView):
    """POST {version, environment}: deploy a version (publish on the module needed)."""

    @extend_schema(
        request=DeployIn,
        responses={
            201: DeploymentOut,
            **errors(
                {
                    403: "permission_denied (publish on the module needed), "
                    "environment_protected, or invalid_intellectual_property",
                    404: "not_found: a version or environment you cannot see",
                    409: "broken_reference: a referenced module is not deployed there",
                }
            ),
        },
    )
    def post(self, request):
        data = DeployIn(data=request.data)
        data.is_valid(raise_exception=True)
        visible = door.modules_for_user(request.user, Level.REFERENCE).values("pk")
        version = (
            ModuleVersion.objects.select_related("module__infrastructure")
            .filter(pk=data.validated_data["version"], module__in=visible)
            .first()
        )
        if version is None:
            raise Http404("No such version.")
        env = door.environment_for_user(request.user, data.validated_data["environment"])
        result = module_deploy(user=request.user, version=version, environment=env)
        return Response(DeploymentOut(result.deployment).data, status=status.HTTP_201_CREATED)
