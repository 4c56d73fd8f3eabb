"""Pages of the IPP portal: request form, my requests, approvals inbox, request detail."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError, NotAllowed
from ippsite.paging import paginate
from ippsite.portal_ui.forms import PublishForm, RejectForm, TransferRequestForm
from portal import selectors, services
from portal.services import PORTAL_BLOCKED

_IPP_CODES = {"invalid_intellectual_property", "tampered_package"}


def _help_url(error: DomainError | None) -> str | None:
    """Where an error's "what does this mean" link goes: the troubleshooting page, at its
    section on portal blocking for ipp_portal_blocked."""
    if error is None:
        return None
    if error.code == PORTAL_BLOCKED:
        return reverse("ipp:troubleshoot") + "#portal-blocked"
    return reverse("ipp:troubleshoot") if error.code in _IPP_CODES else None


def _breadcrumbs(*trail) -> list:
    return [(reverse("portal:requests"), "IPP portal"), *trail]


@login_required
@require_GET
def my_requests(request):
    return render(
        request,
        "portal/requests.html",
        {
            "transfers": paginate(request, selectors.requests_of_user(request.user)),
            "others": paginate(request, selectors.others_for_user(request.user), param="others"),
            "pending_approvals": selectors.approvals_for_user(request.user).count(),
            "breadcrumbs": [(None, "IPP portal")],
        },
    )


@login_required
@require_GET
def inbox(request):
    return render(
        request,
        "portal/inbox.html",
        {
            "transfers": paginate(request, selectors.approvals_for_user(request.user)),
            "breadcrumbs": _breadcrumbs((None, "Approvals")),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def new_request(request):
    q = request.GET.get("q", "").strip()
    form = TransferRequestForm(request.POST or None, request.FILES or None, user=request.user, q=q)
    status = 200
    error = None
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            transfer = services.transfer_request(
                user=request.user,
                modules=list(values["modules"]) or None,
                package=values.get("package"),
                target_activation_code=values["target_activation_code"],
                note=values.get("note", ""),
            )
        except DomainError as exc:
            # Shown once, above the form (with its help link), not again as a form error.
            error, status = exc, exc.status
        else:
            if transfer.status == transfer.Status.APPROVED:
                messages.success(
                    request,
                    f"Transfer #{transfer.pk} approved at once (you administer "
                    f"{transfer.source.name}): its packages are ready.",
                )
            else:
                messages.success(
                    request,
                    f"Transfer #{transfer.pk} requested: an administrator of "
                    f"{transfer.source.name} has been asked to approve it.",
                )
            return redirect("portal:detail", pk=transfer.pk)
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "portal/new.html",
        {
            "form": form,
            "q": q,
            "error": error,
            "error_help_url": _help_url(error),
            "breadcrumbs": _breadcrumbs((None, "New request")),
        },
        status=status,
    )


def _detail(request, pk, *, error: DomainError | None = None, status: int = 200):
    transfer = selectors.transfer_for_user(request.user, pk)
    roles = selectors.transfer_roles(request.user, transfer)
    items_page = paginate(
        request,
        transfer.items.select_related("module", "version").order_by("id"),
        param="items",
    )
    items = list(items_page.object_list)  # the publish form offers the modules of this page
    destinations = selectors.publish_destinations(request.user, transfer)
    publish_form = (
        PublishForm(items=items, environments=destinations, prefix="publish")
        if destinations
        else None
    )
    return render(
        request,
        "portal/detail.html",
        {
            "transfer": transfer,
            "items": items,
            "items_page": items_page,
            "events": list(transfer.events.select_related("actor")),
            "roles": roles,
            "error": error,
            "error_help_url": _help_url(error),
            "blocked_help_url": reverse("ipp:troubleshoot") + "#portal-blocked",
            "publish_form": publish_form,
            "reject_form": RejectForm(),
            "breadcrumbs": _breadcrumbs((None, f"Request #{transfer.pk}")),
        },
        status=status,
    )


@login_required
@require_GET
def detail(request, pk: int):
    return _detail(request, pk)


def _act(request, pk: int, action: str):
    try:
        if action == "approve":
            transfer = services.transfer_approve(user=request.user, transfer=pk)
            messages.success(request, f"Transfer #{transfer.pk} approved: new marks issued.")
        elif action == "reject":
            form = RejectForm(request.POST)
            reason = form.cleaned_data["reason"] if form.is_valid() else ""
            transfer = services.transfer_reject(user=request.user, transfer=pk, reason=reason)
            messages.success(request, f"Transfer #{transfer.pk} rejected.")
        else:
            transfer = services.transfer_cancel(user=request.user, transfer=pk)
            messages.success(request, f"Transfer #{transfer.pk} cancelled.")
    except NotAllowed as exc:
        raise PermissionDenied(exc.detail) from None
    except DomainError as exc:
        return _detail(request, pk, error=exc, status=exc.status)
    if request.POST.get("next") == "inbox":
        return redirect("portal:inbox")
    return redirect("portal:detail", pk=pk)


@login_required
@require_POST
def approve(request, pk: int):
    return _act(request, pk, "approve")


@login_required
@require_POST
def reject(request, pk: int):
    return _act(request, pk, "reject")


@login_required
@require_POST
def cancel(request, pk: int):
    return _act(request, pk, "cancel")


@login_required
@require_GET
def package(request, pk: int, module: int):
    try:
        issued = services.transfer_package(user=request.user, transfer=pk, module=module)
    except NotAllowed as exc:
        raise PermissionDenied(exc.detail) from None
    except DomainError as exc:
        return _detail(request, pk, error=exc, status=exc.status)
    response = FileResponse(
        issued.file, as_attachment=True, filename=issued.filename, content_type="application/zip"
    )
    response["Content-Length"] = str(issued.size)
    return response


@login_required
@require_POST
def publish(request, pk: int):
    """Publish one module of an approved request into a destination environment."""
    module = _int(request.POST.get("publish-module"))
    environment = _int(request.POST.get("publish-environment"))
    if module is None or environment is None:
        messages.error(request, "Choose a module and an environment to publish into.")
        return redirect("portal:detail", pk=pk)
    try:
        result = services.transfer_publish(
            user=request.user, transfer=pk, module=module, environment=environment
        )
    except DomainError as exc:
        return _detail(request, pk, error=exc, status=exc.status)
    env = result.deployment.environment
    messages.success(
        request,
        f"Published {result.module.name} v{result.version.number} in "
        f"{env.infrastructure.name} / {env.name}, marked for {env.infrastructure.name}.",
    )
    return redirect("portal:detail", pk=pk)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
