"""JSON API of the ipp app: copy elements between modules, preflight an environment."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.levels import Level
from ippsite.api import ApiError
from ippsite.registry_ui.api.infrastructures import PublishModuleOut, PublishVersionOut
from permissions import door
from publishing.copying import copy_default_environment, module_copy
from publishing.preflight import environment_preflight


class CopyIn(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The source module's version number.")
    elements = serializers.ListField(
        child=serializers.CharField(max_length=200), allow_empty=False, max_length=500
    )
    target = serializers.IntegerField(help_text="The id of the module to copy into.")
    environment = serializers.IntegerField(
        required=False,
        help_text="The id of the environment (of the target's infrastructure) the new version "
        "is published and deployed in. Default: where the target's most recently deployed "
        "current version runs. A protected one needs an administrator or a deployer.",
    )


class CopiedDeploymentOut(serializers.Serializer):
    id = serializers.IntegerField()
    environment = serializers.IntegerField(source="environment_id")


class CopyOut(serializers.Serializer):
    module = PublishModuleOut()
    version = PublishVersionOut()
    deployment = CopiedDeploymentOut()
    elements = serializers.ListField(child=serializers.CharField())
    files = serializers.ListField(
        child=serializers.CharField(), help_text="Files added to the target."
    )


class ModuleCopyView(APIView):
    """POST {version, elements, target[, environment]}: copy exposed elements into a new
    version of target, published in `environment`.

    Needs open on this module and publish on the target. 403 `ipp_copy_blocked` when the
    version is marked for another infrastructure than the target's (SPEC rule 4);
    403 `environment_protected` when the environment is protected and the caller is neither
    an administrator nor one of its deployers; 409 `conflict` when the target already
    exposes one of the elements.
    """

    parser_classes = [JSONParser]

    @extend_schema(request=CopyIn, responses={201: CopyOut})
    def post(self, request, pk: int):
        source = door.module_for_user(request.user, pk, Level.OPEN)
        data = CopyIn(data=request.data)
        data.is_valid(raise_exception=True)
        target = door.module_for_user(request.user, data.validated_data["target"], Level.PUBLISH)
        if "environment" in data.validated_data:
            environment = door.environment_for_user(
                request.user, data.validated_data["environment"]
            )
        else:
            environment = copy_default_environment(target)
            if environment is None:
                raise ApiError(
                    "invalid_request",
                    f"environment: {target.name} is not deployed anywhere; name the environment "
                    "to publish the copy in.",
                )
        result = module_copy(
            user=request.user,
            source=source,
            version_number=data.validated_data["version"],
            elements=data.validated_data["elements"],
            target=target,
            environment=environment,
        )
        return Response(CopyOut(result).data, status=status.HTTP_201_CREATED)


class PreflightIn(serializers.Serializer):
    versions = serializers.ListField(
        child=serializers.IntegerField(), required=False, max_length=500
    )
    package = serializers.FileField(required=False)


class PreflightResultOut(serializers.Serializer):
    subject = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)
    module = serializers.CharField()
    outcome = serializers.CharField(
        help_text="ok, invalid_intellectual_property, tampered_package, broken_reference, "
        "environment_protected, permission, invalid_package or not_found"
    )
    ok = serializers.BooleanField()
    reason = serializers.CharField()


class PreflightOut(serializers.Serializer):
    environment = serializers.IntegerField()
    results = PreflightResultOut(many=True)


class EnvironmentPreflightView(APIView):
    """POST {versions: [ids]} (JSON) or a multipart `package`: would they be admitted?

    Changes nothing. Each result says ok or the error code a real deploy or publish
    would get, and why.
    """

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        request={"application/json": PreflightIn, "multipart/form-data": PreflightIn},
        responses={200: PreflightOut},
    )
    def post(self, request, pk: int):
        env = door.environment_for_user(request.user, pk)
        raw = request.data
        if hasattr(raw, "getlist"):  # multipart: versions may repeat
            raw = {
                "versions": raw.getlist("versions"),
                **({"package": raw["package"]} if "package" in raw else {}),
            }
        data = PreflightIn(data=raw)
        data.is_valid(raise_exception=True)
        versions = data.validated_data.get("versions") or []
        upload = data.validated_data.get("package")
        if not versions and upload is None:
            raise ApiError("invalid_request", "Give versions (a list of version ids) or a package.")
        try:
            results = environment_preflight(
                user=request.user,
                environment=env,
                versions=versions,
                package=upload.file if upload is not None else None,
                package_name=upload.name if upload is not None else "package",
                package_size=upload.size if upload is not None else None,
            )
        finally:
            if upload is not None:
                upload.close()
        out = PreflightOut(
            {"environment": env.pk, "results": [vars(r) | {"ok": r.ok} for r in results]}
        ).data
        return Response(out)
