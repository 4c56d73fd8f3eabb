"""Pages of per-module permissions: catalog, users, a user's Modules tab, a module's
Permissions tab, teams and "why does this user have this level".

Every page goes through the door (404 invisible, 403 visible but not allowed), reads
through selectors in a constant number of queries, and writes through one service.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from core.levels import Level
from ippsite.paging import paginate, paginate_keys, url_maker
from ippsite.permissions_ui.forms import (
    CatalogFilterForm,
    GrantForm,
    MemberForm,
)
from ippsite.permissions_ui.sources import link_sources, source_links, team_urls
from ippsite.permissions_ui.teams import infrastructure_tabs
from permissions import door, selectors, services
from permissions.invitations import invitations_pending
from permissions.members import membership_set

User = get_user_model()


def _url(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _crumbs(*items) -> list:
    crumbs = [(reverse("dashboard"), "Dashboard")]
    for href, label in items:
        crumbs.append((href, label))
    return crumbs


# --- catalog ------------------------------------------------------------------------------


@login_required
def catalog(request):
    """The modules the user can reference, with their level and interface. Never source."""
    infrastructures = list(door.infrastructures_for_user(request.user).only("id", "name"))
    form = CatalogFilterForm(request.GET or None, infrastructures=infrastructures)
    filters = form.cleaned_data if form.is_valid() else {}
    keys = selectors.catalog_page_keys(
        request.user,
        q=filters.get("q", ""),
        infrastructure=filters.get("infrastructure"),
        level=filters.get("level", ""),
    )
    page = paginate_keys(request, keys, lambda pks: selectors.catalog_page_rows(request.user, pks))
    rows = list(page.object_list)
    interfaces = selectors.interfaces_for(rows)
    module_url = url_maker("module")
    for module in rows:
        module["interface"] = interfaces.get(module["pk"], [])
        module["url"] = module_url(module["pk"])
    return render(
        request,
        "permissions/catalog.html",
        {
            "form": form,
            "page": page,
            "modules": rows,
            "filtered": any(filters.values()) if filters else False,
            "breadcrumbs": _crumbs((None, "Catalog")),
        },
    )


# --- infrastructure users -------------------------------------------------------------------


def _visible_infrastructure_for_managers(user, pk):
    """Infrastructure users and teams pages: 404 invisible, 403 for plain members."""
    infrastructure = door.infrastructure_for_user(user, pk)
    is_admin = door.is_infrastructure_admin(user, infrastructure)
    if not (is_admin or door.is_support(user)):
        raise PermissionDenied(
            f"Only administrators of {infrastructure.name} and support see its users."
        )
    return infrastructure, is_admin


@login_required
@require_http_methods(["GET", "POST"])
def infrastructure_users(request, pk):
    infrastructure, is_admin = _visible_infrastructure_for_managers(request.user, pk)
    can_edit = is_admin or door.is_support(request.user)  # membership_set allows both
    q = request.GET.get("q", "").strip()
    members = paginate(request, selectors.infrastructure_members(infrastructure, q=q))
    form = MemberForm() if can_edit else None
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(
                f"Only administrators of {infrastructure.name} manage its members."
            )
        form = MemberForm(request.POST)
        if form.is_valid():
            try:
                membership_set(
                    actor=request.user,
                    infrastructure=infrastructure,
                    user=form.user,
                    role=form.cleaned_data["role"],
                    default_level=form.cleaned_data["default_level"],
                    create_modules=form.cleaned_data["create_modules"],
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
                status = exc.status
            else:
                messages.success(
                    request, f"{form.user.username} is a member of {infrastructure.name}."
                )
                return redirect("infrastructure_users", pk=infrastructure.pk)
        else:
            status = 400
    return render(
        request,
        "permissions/infrastructure_users.html",
        {
            "infrastructure": infrastructure,
            "members": members,
            "q": q,
            "form": form,
            "can_edit": can_edit,
            "invitations": paginate(
                request, invitations_pending(infrastructure), param="invitations", per_page=20
            )
            if can_edit
            else None,
            "is_admin": is_admin,
            "tabs": infrastructure_tabs(infrastructure, "users", is_admin),
            "breadcrumbs": _crumbs(
                (_url("infrastructure", infrastructure.pk), infrastructure.name), (None, "Users")
            ),
        },
        status=status,
    )


# --- a module's Permissions tab ------------------------------------------------------------


def _grant(request, module, form: GrantForm) -> int:
    """Save the posted grant: 302 when done, else the status to render the form with."""
    if not form.is_valid():
        return 400
    user = form.cleaned_data["user"]
    try:
        level = services.grant_set(
            actor=request.user, module=module, user=user, level=form.cleaned_data["level"]
        )
    except DomainError as exc:
        form.add_error(None, exc.detail)
        return exc.status
    if level == Level.NONE:
        messages.success(request, f"{user.username}'s grant on {module.name} is removed.")
    else:
        messages.success(request, f"{user.username} is granted {level.label} on {module.name}.")
    return 302


@login_required
@require_http_methods(["GET", "POST"])
def module_permissions(request, pk):
    module = door.administered_module_for_user(request.user, pk)
    picker = reverse("member_picker", args=[module.infrastructure_id]) + "?others=1"
    form = GrantForm(
        module=module, actor=request.user, picker_url=picker, initial={"level": "reference"}
    )
    status = 200
    if request.method == "POST":
        form = GrantForm(request.POST, module=module, actor=request.user, picker_url=picker)
        status = _grant(request, module, form)
        if status == 302:
            return redirect("module_permissions", pk=module.pk)
    page = paginate_keys(
        request,
        selectors.module_permission_page_keys(module, q=request.GET.get("q", "").strip()),
        lambda pks: selectors.module_permission_rows(module, pks),
    )
    rows = selectors.permission_rows(page.object_list)
    link_sources(rows, module.infrastructure_id)
    explain_url = url_maker("explain", module.pk)
    for row in rows:
        row.explain_url = explain_url(row.user.pk)
    return render(
        request,
        "permissions/module_permissions.html",
        {
            "module": module,
            "rows": rows,
            "page": page,
            "form": form,
            "q": request.GET.get("q", ""),
            "tabs": [
                ("overview", "Overview", _url("module", module.pk), False),
                (
                    "permissions",
                    "Permissions",
                    reverse("module_permissions", args=[module.pk]),
                    True,
                ),
            ],
            "breadcrumbs": _crumbs(
                (_url("infrastructure", module.infrastructure_id), module.infrastructure.name),
                (_url("module", module.pk), module.name),
                (None, "Permissions"),
            ),
        },
        status=status,
    )


@login_required
def explain(request, pk, user_pk):
    """Why does U have L on M? Administrators for anyone; a user for themselves."""
    is_self = str(request.user.pk) == str(user_pk)
    if is_self:
        module = door.module_for_user(request.user, pk, Level.REFERENCE)
        target = request.user
        can_manage = door.is_infrastructure_admin(request.user, module.infrastructure_id)
    else:
        module = door.administered_module_for_user(request.user, pk)
        target = get_object_or_404(
            User, pk=user_pk, memberships__infrastructure_id=module.infrastructure_id
        )
        can_manage = True
    sources = door.explain_level(target, module)
    winner = next((s for s in sources if s.wins), None)  # at the level the door computed
    manages = can_manage and not is_self
    urls = team_urls(module.infrastructure_id, [s.name for s in sources if s.kind == "team"])
    crumbs = [(_url("module", module.pk), module.name)]
    if can_manage:
        crumbs.append((reverse("module_permissions", args=[module.pk]), "Permissions"))
    return render(
        request,
        "permissions/explain.html",
        {
            "module": module,
            "target": target,
            "sources": source_links(sources, urls if can_manage else {}, giving_only=False),
            "level": winner.level if winner else Level.NONE,
            "winner": winner,
            "can_manage": manages,
            "modules_tab": reverse("user_modules", args=[module.infrastructure_id, target.pk])
            if manages
            else None,
            "breadcrumbs": _crumbs(*crumbs, (None, f"Why {target.username}")),
        },
    )
