"""Pages of the ipp app: support toggles, element copy, preflight, troubleshooting."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from audit.models import AuditEntry
from core.errors import IPP_MESSAGE, DomainError
from core.levels import Level
from ipp.rules import EXPLANATIONS, version_verdict
from ipp.toggles import infrastructure_set_flags
from ippsite.ipp_ui.forms import CopyForm, PreflightForm, ToggleForm
from permissions import door
from publishing.copying import module_copy
from publishing.preflight import environment_preflight

IPP_CODES = {"invalid_intellectual_property", "ipp_copy_blocked", "tampered_package"}


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@login_required
@require_POST
def toggle(request, pk):
    """Support flips IPP protection or portal blocking, after the page's confirmation."""
    infra = door.infrastructure_for_user(request.user, pk)
    if not door.is_support(request.user):
        raise PermissionDenied("Only support may change IPP protection or portal blocking.")
    form = ToggleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That switch does not exist.")
        return redirect("infrastructure", infra.pk)
    flag, value = form.cleaned_data["flag"], form.cleaned_data["value"]
    infra = infrastructure_set_flags(actor=request.user, infrastructure=infra, **{flag: value})
    if flag == "ipp_protected":
        text = (
            f"IPP of {infra.name} is now protected: new versions are marked with its activation code."
            if value
            else f"IPP of {infra.name} is now unprotected: new versions are not marked; marked ones keep their mark."
        )
    else:
        text = (
            f"The IPP portal is now blocked for {infra.name}: transfer requests out of it are refused."
            if value
            else f"The IPP portal is open again for {infra.name}."
        )
    messages.success(request, text)
    return redirect("infrastructure", infra.pk)


@login_required
@require_http_methods(["GET", "POST"])
def copy(request, pk):
    """Copy exposed elements of this module into another module (SPEC rule 4).

    Two steps: the form, then a confirmation that names the environment the new version
    will be deployed in (and says when it is protected); only the confirmed post copies.
    """
    source = door.module_for_user(request.user, pk, Level.OPEN)
    version_number = _int(request.POST.get("version") or request.GET.get("version"))
    data = request.POST if request.method == "POST" else None
    form = CopyForm(data, user=request.user, source=source, version_number=version_number)
    status, confirming = 200, False
    if data is not None and not form.is_valid():
        status = 400
    elif data is not None and not request.POST.get("confirmed"):
        confirming = True
    elif data is not None:
        try:
            result = module_copy(user=request.user, source=source, **_copy_args(form))
        except DomainError as exc:
            messages.error(request, exc.detail, extra_tags="ipp" if exc.code in IPP_CODES else "")
            status = exc.status
        else:
            env = result.deployment.environment
            messages.success(
                request,
                f"Copied {', '.join(result.elements)} into {result.module.name} "
                f"v{result.version.number}, deployed in {env.infrastructure.name} / {env.name}.",
            )
            return redirect("module", result.module.pk)
    context = {
        "module": source,
        "form": form,
        "version": form.version,
        "confirming": confirming,
        "breadcrumbs": [
            (reverse("module", args=[source.pk]), source.name),
            (None, "Copy elements"),
        ],
    }
    return render(request, "ipp/copy.html", context, status=status)


def _copy_args(form: CopyForm) -> dict:
    data = form.cleaned_data
    return {
        "version_number": data["version"],
        "elements": data["elements"],
        "target": data["target"],
        "environment": data["environment"],
    }


@login_required
@require_http_methods(["GET", "POST"])
def preflight(request, pk):
    """Would these versions or this package be admitted here? Changes nothing."""
    environment = door.environment_for_user(request.user, pk)
    results = None
    status = 200
    if request.method == "POST":
        form = PreflightForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            upload = form.cleaned_data.get("package")
            try:
                results = environment_preflight(
                    user=request.user,
                    environment=environment,
                    versions=[v.pk for v in form.cleaned_data["versions"]],
                    package=upload.file if upload else None,
                    package_name=upload.name if upload else "package",
                    package_size=upload.size if upload else None,
                )
            finally:
                if upload:
                    upload.close()
        else:
            status = 400
    else:
        form = PreflightForm(user=request.user)
    return render(
        request,
        "ipp/preflight.html",
        {
            "environment": environment,
            "infrastructure": environment.infrastructure,
            "form": form,
            "results": results,
            "ipp_codes": IPP_CODES,
            "breadcrumbs": [
                (reverse("environment", args=[environment.pk]), str(environment)),
                (None, "Preflight"),
            ],
        },
        status=status,
    )


@login_required
def troubleshoot(request):
    """What the IPP error means, why it happened here, and what to do about it."""
    module = environment = None
    if request.GET.get("module"):
        try:
            module = door.module_for_user(request.user, request.GET["module"], Level.REFERENCE)
        except (Http404, PermissionDenied):
            module = None
    if request.GET.get("environment"):
        try:
            environment = door.environment_for_user(request.user, request.GET["environment"])
        except Http404:
            environment = None
    marked_versions = (
        list(module.versions.exclude(marked_code="").order_by("-number")) if module else []
    )
    latest = module.versions.order_by("-number").first() if module else None
    verdict = explanation = None
    if latest is not None and environment is not None:
        decision = version_verdict(latest, environment.infrastructure)
        verdict = "allowed" if decision.allowed else "refused"
        explanation = decision.explanation
    refusals = (
        AuditEntry.objects.filter(
            action__in=["module.publish_refused", "module.copy_refused"], actor=request.user
        )
        .select_related("infrastructure")
        .order_by("-seq")[:5]
    )
    last = refusals[0] if refusals else None
    last_explanation = EXPLANATIONS.get(last.details.get("reason")) if last else None
    return render(
        request,
        "ipp/troubleshoot.html",
        {
            "message": IPP_MESSAGE,
            "module": module,
            "environment": environment,
            "latest": latest,
            "marked_versions": marked_versions,
            "verdict": verdict,
            "explanation": explanation,
            "last_explanation": last_explanation,
            "refusals": refusals,
            "portal_url": reverse("portal:new"),
            "breadcrumbs": [(None, "IPP help")],
        },
    )
