"""Pages of per-module permissions: catalog, users, a user's Modules tab, a module's
Permissions tab, teams and "why does this user have this level".

Every page goes through the door (404 invisible, 403 visible but not allowed), reads
through selectors in a constant number of queries, and writes through one service.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from core.levels import Level
from ippsite.permissions_ui.forms import (
    BulkLevelForm,
    CatalogFilterForm,
    GrantForm,
    MemberForm,
    ModuleFilterForm,
    TeamEditForm,
    TeamForm,
)
from permissions import door, selectors, services
from permissions.models import Team
from publishing.services import membership_set
from registry.models import Membership

User = get_user_model()
PAGE_SIZE = 50


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


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _querystring(request, **overrides) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    for key, value in overrides.items():
        params[key] = value
    return params.urlencode()


# --- catalog ------------------------------------------------------------------------------


@login_required
def catalog(request):
    """The modules the user can reference, with their level and interface. Never source."""
    infrastructures = list(door.infrastructures_for_user(request.user).only("id", "name"))
    form = CatalogFilterForm(request.GET or None, infrastructures=infrastructures)
    filters = form.cleaned_data if form.is_valid() else {}
    modules = selectors.catalog_modules(
        request.user,
        q=filters.get("q", ""),
        infrastructure=filters.get("infrastructure"),
        level=filters.get("level", ""),
    )
    page = _page(request, modules)
    rows = list(page.object_list)
    interfaces = selectors.interfaces_for(rows)
    for module in rows:
        module.interface = interfaces.get(module.pk, [])
        module.url = _url("module", module.pk)
    return render(
        request,
        "permissions/catalog.html",
        {
            "form": form,
            "page": page,
            "modules": rows,
            "filtered": any(filters.values()) if filters else False,
            "querystring": _querystring(request),
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
    members = list(selectors.infrastructure_members(infrastructure))
    initial = {}
    edit = request.GET.get("edit")
    if edit:
        for m in members:
            if str(m.user_id) == edit:
                initial = {
                    "username": m.user.username,
                    "role": m.role,
                    "default_level": m.default_level,
                    "create_modules": m.create_modules,
                }
    form = MemberForm(initial=initial) if can_edit else None
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
            "form": form,
            "editing": bool(initial),
            "is_admin": is_admin,
            "tabs": _infrastructure_tabs(infrastructure, "users", is_admin),
            "breadcrumbs": _crumbs(
                (_url("infrastructure", infrastructure.pk), infrastructure.name), (None, "Users")
            ),
        },
        status=status,
    )


def _infrastructure_tabs(infrastructure, active: str, is_admin: bool) -> list:
    tabs = [("overview", "Overview", _url("infrastructure", infrastructure.pk))]
    tabs.append(("users", "Users", reverse("infrastructure_users", args=[infrastructure.pk])))
    if is_admin:
        tabs.append(("teams", "Teams", reverse("teams", args=[infrastructure.pk])))
    return [(key, label, href, key == active) for key, label, href in tabs if href]


# --- a user's Modules tab ----------------------------------------------------------------


def _target_membership(infrastructure, user_pk) -> Membership:
    membership = (
        Membership.objects.filter(infrastructure=infrastructure, user_id=user_pk)
        .select_related("user", "infrastructure")
        .first()
    )
    if membership is None:
        raise Http404("No such member.")
    return membership


def _member_module_rows(request, membership) -> tuple:
    """The filter form, the page of the member's modules and its rows, each with the
    sources of its level and its URL.
    """
    filters = ModuleFilterForm(request.GET or None)
    cleaned = filters.cleaned_data if filters.is_valid() else {}
    page = _page(
        request,
        selectors.user_modules(membership, q=cleaned.get("q", ""), level=cleaned.get("level", "")),
    )
    rows = list(page.object_list)
    for module in rows:
        module.sources = selectors.row_sources(
            membership=membership,
            level=module.level,
            team_level=module.team_level,
            team_name=module.team_name,
            grant_level=module.grant_level,
        )
        module.url = _url("module", module.pk)
    return filters, page, rows


def _bulk_level_change(request, *, infrastructure, target, module_ids) -> tuple:
    """Apply a posted bulk level change: (the bound form, its status, a redirect on success
    or None).
    """
    bulk = BulkLevelForm(request.POST, module_ids=module_ids)
    if not bulk.is_valid():
        return bulk, 400, None
    level = Level.parse(bulk.cleaned_data["level"])
    try:
        changed = services.grants_set(
            actor=request.user,
            user=target,
            infrastructure=infrastructure,
            changes={module_id: level for module_id in bulk.cleaned_data["modules"]},
        )
    except DomainError as exc:
        bulk.add_error(None, exc.detail)
        return bulk, exc.status, None
    count = len(bulk.cleaned_data["modules"])
    messages.success(
        request,
        f"{target.username}'s grant is now {level.label} on {count} module{'s' if count != 1 else ''}"
        f" ({len(changed)} changed).",
    )
    url = reverse("user_modules", args=[infrastructure.pk, target.pk])
    query = request.GET.urlencode()
    return bulk, 200, redirect(f"{url}?{query}" if query else url)


@login_required
@require_http_methods(["GET", "POST"])
def user_modules(request, pk, user_pk):
    """Every module of the infrastructure with the member's level and its source; bulk change."""
    infrastructure = door.administered_infrastructure_for_user(request.user, pk)
    membership = _target_membership(infrastructure, user_pk)
    target = membership.user
    filters, page, rows = _member_module_rows(request, membership)
    is_self = target.pk == request.user.pk
    bulk = BulkLevelForm(module_ids=[m.pk for m in rows])
    status = 200
    if request.method == "POST":
        bulk, status, done = _bulk_level_change(
            request, infrastructure=infrastructure, target=target, module_ids=[m.pk for m in rows]
        )
        if done is not None:
            return done
    return render(
        request,
        "permissions/user_modules.html",
        {
            "infrastructure": infrastructure,
            "membership": membership,
            "target": target,
            "filters": filters,
            "bulk": bulk,
            "is_self": is_self,
            "page": page,
            "modules": rows,
            "querystring": _querystring(request),
            "breadcrumbs": _crumbs(
                (_url("infrastructure", infrastructure.pk), infrastructure.name),
                (reverse("infrastructure_users", args=[infrastructure.pk]), "Users"),
                (None, f"{target.username} · Modules"),
            ),
        },
        status=status,
    )


# --- a module's Permissions tab ------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def module_permissions(request, pk):
    module = door.administered_module_for_user(request.user, pk)
    form = GrantForm(module=module, actor=request.user, initial={"level": "reference"})
    status = 200
    if request.method == "POST":
        form = GrantForm(request.POST, module=module, actor=request.user)
        if form.is_valid():
            user = form.cleaned_data["user"]
            try:
                level = services.grant_set(
                    actor=request.user, module=module, user=user, level=form.cleaned_data["level"]
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
                status = exc.status
            else:
                if level == Level.NONE:
                    messages.success(
                        request, f"{user.username}'s grant on {module.name} is removed."
                    )
                else:
                    messages.success(
                        request, f"{user.username} is granted {level.label} on {module.name}."
                    )
                return redirect("module_permissions", pk=module.pk)
        else:
            status = 400
    page = _page(
        request, selectors.module_permission_memberships(module, q=request.GET.get("q", "").strip())
    )
    rows = selectors.permission_rows(page.object_list)
    return render(
        request,
        "permissions/module_permissions.html",
        {
            "module": module,
            "rows": rows,
            "page": page,
            "querystring": _querystring(request),
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
    return render(
        request,
        "permissions/explain.html",
        {
            "module": module,
            "target": target,
            "sources": sources,
            "level": winner.level if winner else Level.NONE,
            "winner": winner,
            "can_manage": can_manage and not is_self,
            "modules_tab": reverse("user_modules", args=[module.infrastructure_id, target.pk])
            if can_manage and not is_self
            else None,
            "breadcrumbs": _crumbs(
                (_url("module", module.pk), module.name),
                (
                    reverse("module_permissions", args=[module.pk]) if can_manage else None,
                    "Permissions",
                ),
                (None, f"Why {target.username}"),
            ),
        },
    )


# --- teams ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def teams(request, pk):
    infrastructure = door.administered_infrastructure_for_user(request.user, pk)
    form = TeamForm()
    status = 200
    if request.method == "POST":
        form = TeamForm(request.POST)
        if form.is_valid():
            try:
                team = services.team_create(
                    actor=request.user,
                    infrastructure=infrastructure,
                    name=form.cleaned_data["name"].strip(),
                    level=form.cleaned_data["level"],
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
                status = exc.status
            else:
                messages.success(
                    request, f"Team {team.name} created: now add its members and modules."
                )
                return redirect("team", pk=infrastructure.pk, team_pk=team.pk)
        else:
            status = 400
    return render(
        request,
        "permissions/teams.html",
        {
            "infrastructure": infrastructure,
            "teams": selectors.infrastructure_teams(infrastructure),
            "form": form,
            "tabs": _infrastructure_tabs(infrastructure, "teams", True),
            "breadcrumbs": _crumbs(
                (_url("infrastructure", infrastructure.pk), infrastructure.name), (None, "Teams")
            ),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def team(request, pk, team_pk):
    infrastructure = door.administered_infrastructure_for_user(request.user, pk)
    team = get_object_or_404(Team, pk=team_pk, infrastructure=infrastructure)
    initial = {
        "name": team.name,
        "level": Level(team.level).label,
        "members": list(team.members.values_list("pk", flat=True)),
        "modules": list(team.modules.values_list("pk", flat=True)),
    }
    form = TeamEditForm(initial=initial, infrastructure=infrastructure)
    status = 200
    if request.method == "POST":
        form = TeamEditForm(request.POST, infrastructure=infrastructure)
        if form.is_valid():
            try:
                services.team_update(
                    actor=request.user,
                    team=team,
                    name=form.cleaned_data["name"].strip(),
                    level=form.cleaned_data["level"],
                    members=form.cleaned_data["members"],
                    modules=form.cleaned_data["modules"],
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
                status = exc.status
            else:
                messages.success(request, f"Team {team.name} saved.")
                return redirect("team", pk=infrastructure.pk, team_pk=team.pk)
        else:
            status = 400
    return render(
        request,
        "permissions/team.html",
        {
            "infrastructure": infrastructure,
            "team": team,
            "form": form,
            "breadcrumbs": _crumbs(
                (_url("infrastructure", infrastructure.pk), infrastructure.name),
                (reverse("teams", args=[infrastructure.pk]), "Teams"),
                (None, team.name),
            ),
        },
        status=status,
    )
