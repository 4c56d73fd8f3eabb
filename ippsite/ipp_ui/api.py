"""JSON API of the ipp app: copy elements between modules, preflight an environment."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.levels import Level
from ippsite.api import ApiError, StrictInput, StrictJSONParser, errors
from ippsite.registry_ui.api.infrastructures import PublishModuleOut, PublishVersionOut
from permissions import door
from publishing.copying import copy_default_environment, module_copy
from publishing.preflight import environment_preflight


class CopyIn(StrictInput):
    version = serializers.IntegerField(min_value=1, help_text="The source module's version number.")
    elements = serializers.ListField(
        child=serializers.CharField(max_length=200), min_length=1, max_length=500
    )
    target = serializers.IntegerField(min_value=1, help_text="The id of the module to copy into.")
    environment = serializers.IntegerField(
        required=False,
        min_value=1,
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

    parser_classes = [StrictJSONParser]

    @extend_schema(
        request=CopyIn,
        responses={
            201: CopyOut,
            **errors(
                {
                    400: "invalid_request: a bad body, an element the version does not expose, "
                    "or no environment to publish in",
                    403: "permission_denied (open on this module, publish on the target), "
                    "ipp_copy_blocked (rule 4) or environment_protected",
                    404: "not_found: a module, version or environment you cannot see",
                    409: "conflict: the target already exposes one of the elements",
                }
            ),
        },
    )
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


class PreflightVersionsIn(StrictInput):
    versions = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=500,
        help_text="Ids of versions to deploy here.",
    )


class PreflightPackageIn(StrictInput):
    package = serializers.FileField(
        allow_empty_file=True,  # answered like any broken package: invalid_package
        help_text="A package (ZIP) to publish here.",
    )


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

    parser_classes = [StrictJSONParser, MultiPartParser]

    @extend_schema(
        request={
            "application/json": PreflightVersionsIn,
            "multipart/form-data": PreflightPackageIn,
        },
        responses={
            200: PreflightOut,
            **errors({404: "not_found: an environment you cannot see"}),
        },
    )
    def post(self, request, pk: int):
        env = door.environment_for_user(request.user, pk)
        # JSON names versions; multipart carries a package (the schema says which is which).
        multipart = hasattr(request.data, "getlist")
        data = (PreflightPackageIn if multipart else PreflightVersionsIn)(data=request.data)
        data.is_valid(raise_exception=True)
        versions = data.validated_data.get("versions") or []
        upload = data.validated_data.get("package")
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
