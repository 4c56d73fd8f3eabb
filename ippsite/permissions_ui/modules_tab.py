"""A member's Modules tab (Service Center's espaces tab): every module of the
infrastructure with the member's level and why, a page at a time; the grant changed on
one row, on the ticked rows, or on every module matching the filter ("select all N").
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from core.levels import Level
from ippsite.paging import paginate_keys
from ippsite.permissions_ui.forms import BulkLevelForm, ModuleFilterForm, RowLevelForm
from ippsite.permissions_ui.sources import link_sources
from permissions import door, selectors, services
from registry.models import Membership


def _target_membership(infrastructure, user_pk) -> Membership:
    membership = (
        Membership.objects.filter(infrastructure=infrastructure, user_id=user_pk)
        .select_related("user", "infrastructure")
        .first()
    )
    if membership is None:
        raise Http404("No such member.")
    return membership


def _matching(request, membership):
    """The filter form and the member's modules it selects (a queryset, not loaded)."""
    filters = ModuleFilterForm(request.GET or None)
    cleaned = filters.cleaned_data if filters.is_valid() else {}
    return filters, selectors.user_module_keys(
        membership, q=cleaned.get("q", ""), level=cleaned.get("level", "")
    )


def _rows(page, membership) -> list:
    """The page's modules, each with the sources of its level (teams linked)."""
    rows = list(page.object_list)
    for module in rows:
        module.sources = selectors.row_sources(
            membership=membership,
            level=module.level,
            team_level=module.team_level,
            team_name=module.team_name,
            grant_level=module.grant_level,
        )
    link_sources(rows, membership.infrastructure_id)
    return rows


def _changes(request, matching, page_ids) -> tuple:
    """The posted change as ({module id: level}, the bound form): one row's select, the
    ticked rows, or every module matching the filter. ({}, form) when it is not valid.
    """
    if "row" in request.POST:
        form = RowLevelForm(request.POST, module_ids=page_ids)
        if not form.is_valid():
            return {}, form
        return {form.cleaned_data["row"]: form.cleaned_data["level"]}, form
    form = BulkLevelForm(request.POST, module_ids=page_ids)
    if not form.is_valid():
        return {}, form
    level = Level.parse(form.cleaned_data["level"])
    if form.cleaned_data["all_matching"]:
        ids = matching.order_by().values_list("pk", flat=True)
    else:
        ids = form.cleaned_data["modules"]
    return {pk: level for pk in ids}, form


def _apply(request, *, infrastructure, target, changes) -> str:
    """Set the grants; the success message."""
    changed = services.grants_set(
        actor=request.user, user=target, infrastructure=infrastructure, changes=changes
    )
    levels = set(changes.values())
    count = len(changes)
    if len(levels) == 1:
        (level,) = levels
        what = f"{target.username}'s grant is now {Level(level).label}"
    else:
        what = f"{target.username}'s grants are set"
    return f"{what} on {count} module{'s' if count != 1 else ''} ({len(changed)} changed)."


@login_required
@require_http_methods(["GET", "POST"])
def user_modules(request, pk, user_pk):
    """Every module of the infrastructure with the member's level and its source."""
    infrastructure = door.administered_infrastructure_for_user(request.user, pk)
    membership = _target_membership(infrastructure, user_pk)
    target = membership.user
    filters, matching = _matching(request, membership)
    page = paginate_keys(request, matching, lambda pks: selectors.user_module_rows(membership, pks))
    rows = _rows(page, membership)
    bulk, status = BulkLevelForm(module_ids=[m.pk for m in rows]), 200
    if request.method == "POST":
        changes, form = _changes(request, matching, [m.pk for m in rows])
        status = 400
        if changes:
            try:
                messages.success(
                    request,
                    _apply(request, infrastructure=infrastructure, target=target, changes=changes),
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
                status = exc.status
            else:
                url = reverse("user_modules", args=[infrastructure.pk, target.pk])
                query = request.GET.urlencode()
                return redirect(f"{url}?{query}" if query else url)
        bulk = form
    return render(
        request,
        "permissions/user_modules.html",
        {
            "infrastructure": infrastructure,
            "membership": membership,
            "target": target,
            "filters": filters,
            "bulk": bulk,
            "is_self": target.pk == request.user.pk,
            "page": page,
            "modules": rows,
            "level_choices": [(int(level), level.label) for level in Level],
            "breadcrumbs": [
                (reverse("dashboard"), "Dashboard"),
                (reverse("infrastructure", args=[infrastructure.pk]), infrastructure.name),
                (reverse("infrastructure_users", args=[infrastructure.pk]), "Users"),
                (None, f"{target.username} · Modules"),
            ],
        },
        status=status,
    )
