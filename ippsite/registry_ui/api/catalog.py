"""API: the module catalog, a module's detail, its versions' source and packages."""

from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.levels import Level
from ippsite.api import errors, query_params
from ippsite.registry_ui.api.common import (
    InfrastructureQuery,
    LevelField,
    paginate_keys,
    paginated,
)
from permissions import door, selectors
from publishing.source import package_export, source_files, source_read
from registry.models import Deployment, ExposedElement, ModuleVersion, Reference

# Extensions served as text/plain; anything else is application/octet-stream.
TEXT_EXTENSIONS = {
    "txt", "md", "json", "xml", "csv", "yaml", "yml", "js", "ts", "css", "html", "sql",
    "cs", "py", "java", "oml", "config", "ini", "properties",
}  # fmt: skip


class ExposedOut(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    signature = serializers.CharField()


class ModuleOut(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.UUIDField()
    name = serializers.CharField()
    infrastructure = serializers.IntegerField(source="infrastructure_id")
    level = LevelField(help_text="Your level on the module.")
    exposes = ExposedOut(many=True, help_text="Exposed elements of the latest version.")


def module_rows_out(modules: list) -> list[dict]:
    """What `ModuleOut(modules, many=True).data` gives, built directly: a page of rows
    through DRF's field machinery cost more than the page's queries (the schema still
    comes from ModuleOut; tests/api/test_list_endpoint_costs.py compares the two)."""
    return [
        {
            "id": m.pk,
            "key": str(m.key),
            "name": m.name,
            "infrastructure": m.infrastructure_id,
            "level": Level(int(m.level)).label,
            "exposes": [
                {"name": e.name, "kind": e.kind, "signature": e.signature} for e in m.exposes
            ],
        }
        for m in modules
    ]


class ReferenceOut(serializers.Serializer):
    module = serializers.UUIDField(source="module_key", help_text="Key of the referenced module.")
    elements = serializers.ListField(child=serializers.CharField())


class VersionOut(serializers.Serializer):
    number = serializers.IntegerField()
    digest = serializers.CharField()
    marked = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class ModuleDeploymentOut(serializers.Serializer):
    id = serializers.IntegerField()
    environment = serializers.IntegerField(source="environment_id")
    environment_name = serializers.CharField(source="environment.name")
    version = serializers.IntegerField(source="version.number", help_text="Version number.")
    deployed_at = serializers.DateTimeField()


class ModuleDetailOut(ModuleOut):
    description = serializers.CharField()
    references = ReferenceOut(many=True, help_text="References of the latest version.")
    versions = VersionOut(many=True)
    deployments = ModuleDeploymentOut(many=True, help_text="Current deployments.")


class SourceFileOut(serializers.Serializer):
    path = serializers.CharField()
    size = serializers.IntegerField()


class SourceListOut(serializers.Serializer):
    files = SourceFileOut(many=True)


def _attach_exposes(modules: list) -> list:
    """Give each module `exposes` of its latest version (selectors.latest_interfaces: one
    query for the whole page, as the catalog page's)."""
    interfaces = selectors.latest_interfaces(
        {m.latest_version_id: m.pk for m in modules if m.latest_version_id}
    )
    for module in modules:
        module.exposes = interfaces.get(module.pk, [])
    return modules


class ModuleQuery(InfrastructureQuery):
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Part of the module name."
    )


class ModuleListView(APIView):
    """GET the modules you can see (reference or more), with your level and their interface."""

    @extend_schema(
        parameters=[ModuleQuery], responses=paginated(ModuleOut), operation_id="modules_list"
    )
    def get(self, request):
        # A NUL (which PostgreSQL text cannot hold) is refused with 400 like any bad value.
        params = query_params(ModuleQuery, request)
        # The catalog's rows; `q` by name only (the catalog page also searches descriptions).
        keys = selectors.catalog_page_keys(
            request.user,
            q=params.get("q", ""),
            infrastructure=params.get("infrastructure"),
            descriptions=False,
        )
        return paginate_keys(
            self,
            request,
            keys,
            lambda pks: selectors.catalog_rows(request.user, pks),
            lambda rows: module_rows_out(_attach_exposes(rows)),
        )


MODULE_404 = {404: "not_found: a module you cannot see (no level on it)"}
VERSION_ERRORS = errors(
    {
        403: "permission_denied: open on the module needed",
        404: "not_found: a module you cannot see, or no such version or file",
    }
)


class ModuleDetailView(APIView):
    """GET one module (reference or more): interface, references, versions, deployments."""

    @extend_schema(responses={200: ModuleDetailOut, **errors(MODULE_404)})
    def get(self, request, pk: int):
        module = door.module_for_user(request.user, pk, Level.REFERENCE)
        versions = list(module.versions.order_by("-number"))
        latest = versions[0] if versions else None
        module.exposes = list(ExposedElement.objects.filter(version=latest).order_by("name"))
        references = Reference.objects.filter(version=latest).order_by("module_key")
        deployments = (
            Deployment.objects.filter(module=module, is_current=True)
            .select_related("environment", "version")
            .order_by("environment_id")
        )
        out = ModuleOut(module).data
        out["description"] = module.description
        out["references"] = ReferenceOut(references, many=True).data
        out["versions"] = VersionOut(versions, many=True).data
        out["deployments"] = ModuleDeploymentOut(deployments, many=True).data
        return Response(out)


def _version_to_open(request, pk: int, number: int) -> ModuleVersion:
    """The version `number` of module `pk`: 404 without any level, 403 below open."""
    module = door.module_for_user(request.user, pk, Level.OPEN)
    version = get_object_or_404(ModuleVersion, module=module, number=number)
    version.module = module
    return version


class SourceListView(APIView):
    """GET the source files of a version (open or more)."""

    @extend_schema(
        responses={200: SourceListOut, **VERSION_ERRORS},
        operation_id="modules_versions_source_list",
    )
    def get(self, request, pk: int, number: int):
        version = _version_to_open(request, pk, number)
        files = source_files(user=request.user, version=version)
        return Response(SourceListOut({"files": [{"path": p, "size": s} for p, s in files]}).data)


def _content_type(path: str) -> str:
    extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if extension in TEXT_EXTENSIONS:
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


class SourceFileView(APIView):
    """GET one source file's bytes (open or more); every read is audit-logged."""

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **VERSION_ERRORS},
        operation_id="modules_versions_source_file",
    )
    def get(self, request, pk: int, number: int, path: str):
        version = _version_to_open(request, pk, number)
        chunks = source_read(user=request.user, version=version, path=path)
        response = StreamingHttpResponse(chunks, content_type=_content_type(path))
        # Source is data, never a page: no scripts even if a browser renders it.
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return response


class PackageView(APIView):
    """GET the version's package as a ZIP (open or more; sealed when the version is marked)."""

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY, **VERSION_ERRORS})
    def get(self, request, pk: int, number: int):
        version = _version_to_open(request, pk, number)
        filename, fileobj = package_export(user=request.user, version=version)
        return FileResponse(
            fileobj, as_attachment=True, filename=filename, content_type="application/zip"
        )
