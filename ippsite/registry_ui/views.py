"""Pages of the registry: infrastructure, environment (upload and publish), module,
source browser and export.

Each view parses, goes through the permission door, calls one service or selector and
renders. Domain errors become a message and a re-render with the error's status; the
upload form also answers XMLHttpRequest with JSON so the page can show upload progress.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError, NotAllowed
from core.levels import Level
from ippsite.paging import paginate, paginate_keys, url_maker
from ippsite.registry_ui.forms import DeployForm, EnvironmentForm, ProtectionForm, PublishForm
from permissions import door, selectors
from permissions.deployers import deployers_of
from publishing import source as source_service
from publishing.deploying import module_deploy
from publishing.services import environment_change, environment_create, module_publish
from registry.models import Deployment, Environment, ExposedElement, Module, ModuleVersion

# Files up to this size are shown inline when they are text; bigger ones are downloaded.
INLINE_SOURCE_LIMIT = 512 * 1024
TOGGLES_TEMPLATE = "ipp/_infrastructure_toggles.html"
# Environment lists are short in practice; a page of them still keeps the cost bounded.
ENVIRONMENTS_PER_PAGE = 20
FILES_PER_PAGE = 100
VERSION_MENU = 20


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _is_xhr(request) -> bool:
    return request.headers.get("x-requested-with") == "XMLHttpRequest"


def _error_message(request, exc: DomainError) -> None:
    extra = "ipp" if exc.code == "invalid_intellectual_property" else ""
    messages.error(request, exc.detail, extra_tags=extra)


# --- infrastructure -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def infrastructure(request, pk):
    infra = door.infrastructure_for_user(request.user, pk)
    membership = door.membership_for(request.user, infra)
    can_manage = door.is_support(request.user) or bool(membership and membership.is_admin)
    form = EnvironmentForm(infrastructure=infra) if can_manage else None
    status = 200
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied(
                f"Only support or an administrator of {infra.name} may add environments."
            )
        form = EnvironmentForm(request.POST, infrastructure=infra)
        if form.is_valid():
            try:
                env = environment_create(
                    actor=request.user,
                    infrastructure=infra,
                    name=form.cleaned_data["name"],
                    protected=form.cleaned_data["protected"],
                )
            except DomainError as exc:
                _error_message(request, exc)
                status = exc.status
            else:
                messages.success(request, f"Environment {env.name} added to {infra.name}.")
                return redirect("infrastructure", infra.pk)
        else:
            status = 400
    return _render_infrastructure(request, infra, membership, form, can_manage, status)


def _render_infrastructure(request, infra, membership, form, can_manage: bool, status: int):
    environments = paginate(
        request, infra.environments.order_by("id"), param="envs", per_page=ENVIRONMENTS_PER_PAGE
    )
    # The page's environments' counts in one pass over their current deployments (the
    # page's count then counts environments, not a join of every deployment).
    deployed = dict(
        Deployment.objects.filter(environment__in=list(environments.object_list), is_current=True)
        .order_by()
        .values("environment")
        .annotate(n=Count("pk"))
        .values_list("environment", "n")
    )
    for env in environments.object_list:
        env.deployed_count = deployed.get(env.pk, 0)
    latest_number = Subquery(
        ModuleVersion.objects.filter(module=OuterRef("pk")).order_by("-number").values("number")[:1]
    )
    q = request.GET.get("q", "").strip()
    modules = door.visible_modules_in(request.user, infra)
    if q:
        modules = modules.filter(name__icontains=q)
    modules = paginate_keys(
        request,
        modules.order_by("name", "id"),
        lambda pks: door.with_levels(
            request.user,
            list(Module.objects.filter(pk__in=pks).annotate(latest_number=latest_number)),
        ),
    )
    module_url = url_maker("module")
    for module in modules.object_list:
        module.url = module_url(module.pk)
    context = {
        "infrastructure": infra,
        "environments": environments,
        "modules": modules,
        "q": q,
        "module_total": infra.modules.count(),
        "members_count": infra.memberships.count(),
        "membership": membership,
        "is_support": door.is_support(request.user),
        "can_manage": can_manage,
        "form": form,
        "toggles_template": TOGGLES_TEMPLATE,
        "breadcrumbs": [(reverse("dashboard"), "Dashboard"), (None, infra.name)],
    }
    return render(request, "modules/infrastructure.html", context, status=status)


# --- environment ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def environment(request, pk):
    env = door.environment_for_user(request.user, pk)
    if request.method == "POST":
        return _publish(request, env)
    return _render_environment(request, env, PublishForm())


def _publish(request, env: Environment):
    """Publish the uploaded package; JSON for the progress-bar script, redirect otherwise."""
    xhr = _is_xhr(request)
    form = PublishForm(request.POST, request.FILES)
    if not form.is_valid():
        detail = "Choose a module package (.zip) to upload."
        if xhr:
            return JsonResponse({"error": "invalid_request", "detail": detail}, status=400)
        messages.error(request, detail)
        return _render_environment(request, env, form, status=400)
    upload = form.cleaned_data["package"]
    try:
        result = module_publish(user=request.user, environment=env, upload=upload, size=upload.size)
    except DomainError as exc:
        if xhr:
            body = {"error": exc.code, "detail": exc.detail}
            if exc.code == "invalid_intellectual_property":
                body["help"] = reverse("ipp:troubleshoot")
            return JsonResponse(body, status=exc.status)
        _error_message(request, exc)
        return _render_environment(request, env, PublishForm(), status=exc.status)
    version = result.version
    text = f"Published {result.module.name} v{version.number} to {env.infrastructure.name} / {env.name}."
    if not result.created_version:
        text = (
            f"{result.module.name} v{version.number} has the same content as this package; "
            f"it is now the deployed version in {env.name}."
        )
    if version.marked:
        text += f" The version is marked with {env.infrastructure.name}'s activation code."
    messages.success(request, text)
    url = reverse("module", args=[result.module.pk])
    if xhr:
        return JsonResponse(
            {"redirect": url, "module": result.module.pk, "version": version.number}, status=201
        )
    return redirect(url)


def _deployments_page(request, env: Environment):
    """A page of the environment's current deployments of modules the reader can see,
    each with the reader's level and its version's exposed count: four queries a page
    (count, the page's keys, its rows, their levels), none for the rows before it.
    """
    q = request.GET.get("q", "").strip()
    exposed = (
        ExposedElement.objects.filter(version=OuterRef("version"))
        .order_by()
        .values("version")
        .annotate(n=Count("pk"))
        .values("n")
    )
    page = paginate_keys(
        request,
        selectors.current_deployment_keys(request.user, env, q=q),
        lambda pks: (
            Deployment.objects.filter(pk__in=pks)
            .select_related("module", "version", "deployed_by")
            .annotate(exposed_count=Subquery(exposed))
        ),
    )
    rows = list(page.object_list)
    levels = door.levels_of(request.user, [d.module_id for d in rows])
    module_url = url_maker("module")
    for deployment in rows:
        deployment.level = levels.get(deployment.module_id, 0)
        deployment.exposed_count = deployment.exposed_count or 0
        deployment.module_url = module_url(deployment.module_id)
    return page, rows, q


def _render_environment(request, env: Environment, form, status: int = 200):
    page, rows, q = _deployments_page(request, env)
    infra = env.infrastructure
    siblings = list(infra.environments.order_by("id")[: ENVIRONMENTS_PER_PAGE + 1])
    context = {
        "environment": env,
        "infrastructure": infra,
        "deployments": rows,
        "page": page,
        "q": q,
        "form": form,
        "siblings": siblings[:ENVIRONMENTS_PER_PAGE],
        "more_siblings": len(siblings) > ENVIRONMENTS_PER_PAGE,
        **_environment_rights(request.user, env),
        "breadcrumbs": [
            (reverse("dashboard"), "Dashboard"),
            (reverse("infrastructure", args=[infra.pk]), infra.name),
            (None, env.name),
        ],
    }
    return render(request, "modules/environment.html", context, status=status)


def _environment_rights(user, env: Environment) -> dict:
    """What the page offers `user`: the upload form, the protection switch, deployers."""
    membership = door.membership_for(user, env.infrastructure)
    is_admin = bool(membership and membership.is_admin)
    return {
        "membership": membership,
        "can_upload": door.may_upload(user, env),
        "may_deploy": door.may_deploy(user, env),
        "can_protect": is_admin or door.is_support(user),
        "manages_deployers": is_admin,
        "deployers": list(deployers_of(env)) if is_admin else [],
    }


@login_required
@require_POST
def environment_protection(request, pk):
    """Support or an administrator turns the environment's protection on or off."""
    env = door.environment_for_user(request.user, pk)
    form = ProtectionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say whether the environment is protected.")
        return redirect("environment", env.pk)
    try:
        env = environment_change(
            actor=request.user, environment=env, protected=form.cleaned_data["protected"]
        )
    except NotAllowed as exc:
        raise PermissionDenied(exc.detail) from None
    infra = env.infrastructure.name
    messages.success(
        request,
        f"{env.name} is now protected: only administrators of {infra} and its deployers "
        "publish and deploy there."
        if env.protected
        else f"{env.name} is no longer protected: whoever has publish on a module may deploy it "
        "there.",
    )
    return redirect("environment", env.pk)


# --- module ---------------------------------------------------------------------------


@login_required
def module_detail(request, pk):
    module = door.module_for_user(request.user, pk, Level.REFERENCE)
    return _render_module(request, module)


@login_required
@require_POST
def module_deploy_view(request, pk):
    module = door.module_for_user(request.user, pk, Level.PUBLISH)
    # Any version of the module may be posted (the page offers those of its versions page).
    versions = list(module.versions.filter(pk=_int(request.POST.get("version"))))
    form = DeployForm(request.POST, user=request.user, module=module, versions=versions)
    if not form.is_valid():
        messages.error(request, "Choose a version and an environment to deploy to.")
        return _render_module(request, module, deploy_form=form, status=400)
    version, env = form.cleaned_data["version"], form.cleaned_data["environment"]
    try:
        result = module_deploy(user=request.user, version=version, environment=env)
    except DomainError as exc:
        _error_message(request, exc)
        return _render_module(request, module, deploy_form=form, status=exc.status)
    messages.success(
        request,
        f"Deployed {result.module.name} v{result.version.number} to "
        f"{env.infrastructure.name} / {env.name}.",
    )
    return redirect("module", result.module.pk)


def _versions_page(request, module):
    """A page of the module's versions, newest first, each with its current deployments."""
    current = (
        Deployment.objects.filter(is_current=True)
        .select_related("environment")
        .order_by("environment_id")
    )
    return paginate(
        request,
        module.versions.order_by("-number")
        .select_related("published_by")
        .prefetch_related(Prefetch("deployments", queryset=current, to_attr="current_deployments")),
    )


def _interface_pages(request, latest):
    """A page of the latest version's exposed elements and one of its references (None
    without a version)."""
    if latest is None:
        return None, None
    return (
        paginate(request, latest.exposes.order_by("name", "id"), param="elements"),
        paginate(request, latest.references.order_by("module_key", "id"), param="refs"),
    )


def _references_of(user, module, references_page) -> list:
    """A page of references, each with the module it names if the user sees it."""
    references = list(references_page.object_list) if references_page else []
    if references:
        referenced = {
            m.key: m
            for m in door.modules_for_user(user).filter(
                infrastructure=module.infrastructure_id,
                key__in=[r.module_key for r in references],
            )
        }
        for ref in references:
            ref.target = referenced.get(ref.module_key)
    return references


def _environments_page(request, module):
    """A page of the infrastructure's environments, each with the module's current
    deployment there (`env.current`, None when not deployed).
    """
    page = paginate(
        request,
        module.infrastructure.environments.order_by("id"),
        param="envs",
        per_page=ENVIRONMENTS_PER_PAGE,
    )
    environments = list(page.object_list)
    deployed = {
        d.environment_id: d
        for d in Deployment.objects.filter(
            module=module, is_current=True, environment__in=environments
        ).select_related("version", "deployed_by")
    }
    for env in environments:
        env.current = deployed.get(env.pk)
    return page, environments


def _module_tabs(user, module, level) -> list:
    tabs = [("overview", "Overview", reverse("module", args=[module.pk]))]
    if door.is_infrastructure_admin(user, module.infrastructure):
        tabs.append(("permissions", "Permissions", reverse("module_permissions", args=[module.pk])))
    if level >= Level.OPEN:
        tabs.append(("copy", "Copy elements", reverse("ipp:copy", args=[module.pk])))
    return tabs


def _render_module(request, module, deploy_form=None, status: int = 200):
    user = request.user
    versions = _versions_page(request, module)
    latest = module.versions.order_by("-number").first()
    exposes_page, references_page = _interface_pages(request, latest)
    references = _references_of(user, module, references_page)
    environments_page, environments = _environments_page(request, module)
    level = module.level
    if deploy_form is None and level >= Level.PUBLISH and latest:
        # The versions the page lists (a page of them), not every version the module has.
        deploy_form = DeployForm(user=user, module=module, versions=versions.object_list)
    infra = module.infrastructure
    context = {
        "module": module,
        "level": level,
        "versions": versions,
        "latest": latest,
        "exposes": list(exposes_page.object_list) if exposes_page else [],
        "exposes_page": exposes_page,
        "references": references,
        "references_page": references_page,
        "environments": environments,
        "environments_page": environments_page,
        "deploy_form": deploy_form,
        "can_open": level >= Level.OPEN,
        "can_publish": level >= Level.PUBLISH,
        "tabs": _module_tabs(user, module, level),
        "active_tab": "overview",
        "breadcrumbs": [
            (reverse("dashboard"), "Dashboard"),
            (reverse("infrastructure", args=[infra.pk]), infra.name),
            (None, module.name),
        ],
    }
    return render(request, "modules/module.html", context, status=status)


# --- source browser and export ------------------------------------------------------------


def _version_for(request, pk, number):
    """The module (404 invisible, 403 below open) and its version `number` (404 unknown)."""
    module = door.module_for_user(request.user, pk, Level.OPEN)
    version = get_object_or_404(ModuleVersion, module=module, number=number)
    return module, version


@login_required
def module_source(request, pk, number, path=None):

    module, version = _version_for(request, pk, number)
    files = source_service.source_files(user=request.user, version=version)
    base = [
        (reverse("dashboard"), "Dashboard"),
        (reverse("infrastructure", args=[module.infrastructure_id]), module.infrastructure.name),
        (reverse("module", args=[module.pk]), module.name),
    ]
    context = {
        "module": module,
        "version": version,
        # The version menu offers the latest few; the module page pages through them all.
        "versions": module.versions.order_by("-number").only("number", "mark", "module_id")[
            :VERSION_MENU
        ],
        "files": files,
        "total_size": sum(size for _path, size in files),
    }
    if path is None:
        context["files_page"] = paginate(request, files, per_page=FILES_PER_PAGE)
        context["breadcrumbs"] = [*base, (None, f"v{version.number} source")]
        return render(request, "modules/source_list.html", context)
    sizes = dict(files)
    if path not in sizes:
        raise Http404("No such file in this version.")
    size = sizes[path]
    if request.GET.get("download"):
        response = StreamingHttpResponse(
            source_service.source_read(user=request.user, version=version, path=path),
            content_type="application/octet-stream",
        )
        response["Content-Disposition"] = content_disposition_header(True, path.rsplit("/", 1)[-1])
        response["Content-Length"] = str(size)
        return response
    text = None
    if size <= INLINE_SOURCE_LIMIT:
        data = b"".join(source_service.source_read(user=request.user, version=version, path=path))
        if b"\x00" not in data:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
    source_url = reverse("module_source", args=[module.pk, version.number])
    context.update(
        {
            "path": path,
            "size": size,
            "text": text,
            "too_large": size > INLINE_SOURCE_LIMIT,
            "breadcrumbs": [*base, (source_url, f"v{version.number} source"), (None, path)],
        }
    )
    return render(request, "modules/source_file.html", context)


@login_required
def module_export(request, pk, number):

    module, version = _version_for(request, pk, number)
    try:
        filename, fileobj = source_service.package_export(user=request.user, version=version)
    except DomainError as exc:
        _error_message(request, exc)
        return redirect("module", module.pk)
    return FileResponse(
        fileobj, as_attachment=True, filename=filename, content_type="application/zip"
    )
