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
from ippsite.paging import paginate_keys, url_maker
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
    """The page's modules, each with the sources of its level (teams linked) and its
    links (reversed once for the page)."""
    rows = list(page.object_list)
    module_url = url_maker("module")
    explain_url = url_maker("explain", after=[membership.user_id])
    for module in rows:
        module.url = module_url(module.pk)
        module.explain_url = explain_url(module.pk)
        module.sources = selectors.row_sources(
            membership=membership,
            level=module.level,
            team_level=module.team_level,
            team_name=module.team_name,
            grant_level=module.grant_level,
        )
    link_sources(rows, membership.infrastructure_id)
    return rows


def _posted(request, page_ids):
    """The bound form of the posted change: one row's Save, or the bulk form."""
    if "row" in request.POST:
        return RowLevelForm(request.POST, module_ids=page_ids)
    return BulkLevelForm(request.POST, module_ids=page_ids)


def _apply(request, form, *, infrastructure, target, filters) -> str:
    """Make the valid form's change; the success message. One row and the ticked rows are
    set module by module; "all N matching" in a few statements, whatever N is."""
    data = form.cleaned_data
    if isinstance(form, RowLevelForm):
        level, modules = data["level"], [data["row"]]
    else:
        level, modules = Level.parse(data["level"]), data["modules"]
    if isinstance(form, BulkLevelForm) and data["all_matching"]:
        cleaned = filters.cleaned_data if filters.is_valid() else {}
        count = services.grants_set_matching(
            actor=request.user,
            user=target,
            infrastructure=infrastructure,
            level=level,
            q=cleaned.get("q", ""),
            current=cleaned.get("level", ""),
        )
        return (
            f"{target.username}'s grant is now {level.label} on every module matching the "
            f"filter ({count} changed)."
        )
    changed = services.grants_set(
        actor=request.user,
        user=target,
        infrastructure=infrastructure,
        changes={pk: level for pk in modules},
    )
    count = len(modules)
    return (
        f"{target.username}'s grant is now {level.label} on {count} "
        f"module{'s' if count != 1 else ''} ({len(changed)} changed)."
    )


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
        form = _posted(request, [m.pk for m in rows])
        status = 400
        if form.is_valid():
            try:
                messages.success(
                    request,
                    _apply(
                        request, form, infrastructure=infrastructure, target=target, filters=filters
                    ),
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
