"""Pages of an infrastructure's teams: the list, and one team's settings, members and
modules. Every list is a page of 50 filtered in SQL; members are added by typing (a
search of the infrastructure's members), modules by ticking them in a searchable list.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from core.levels import Level
from ippsite.paging import paginate
from ippsite.permissions_ui.forms import (
    TeamForm,
    TeamMemberForm,
    TeamMemberRemoveForm,
    TeamModulesForm,
)
from permissions import door, selectors, services
from permissions.models import Team

User = get_user_model()


def _crumbs(infrastructure, *items) -> list:
    return [
        (reverse("dashboard"), "Dashboard"),
        (reverse("infrastructure", args=[infrastructure.pk]), infrastructure.name),
        *items,
    ]


def infrastructure_tabs(infrastructure, active: str, is_admin: bool) -> list:
    """The tabs of an infrastructure's pages, only those the reader may open."""
    tabs = [
        ("overview", "Overview", reverse("infrastructure", args=[infrastructure.pk])),
        ("users", "Users", reverse("infrastructure_users", args=[infrastructure.pk])),
    ]
    if is_admin:
        tabs.append(("teams", "Teams", reverse("teams", args=[infrastructure.pk])))
    return [(key, label, href, key == active) for key, label, href in tabs]


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
    q = request.GET.get("q", "").strip()
    return render(
        request,
        "permissions/teams.html",
        {
            "infrastructure": infrastructure,
            "teams": paginate(request, selectors.infrastructure_teams(infrastructure, q=q)),
            "q": q,
            "form": form,
            "tabs": infrastructure_tabs(infrastructure, "teams", True),
            "breadcrumbs": _crumbs(infrastructure, (None, "Teams")),
        },
        status=status,
    )


def _members_with_teams(team):
    """The team's members by name, each with `other_teams`: their other teams in the same
    infrastructure (one prefetch query a page)."""
    others = Team.objects.filter(infrastructure_id=team.infrastructure_id).exclude(pk=team.pk)
    return team.members.order_by("username").prefetch_related(
        Prefetch("ipp_teams", queryset=others.order_by("name"), to_attr="other_teams")
    )


def _team_lists(request, team) -> dict:
    """The three lists of a team page, each its own page: members, modules, modules to add."""
    q = request.GET.get("q", "").strip()
    add_q = request.GET.get("add_q", "").strip()
    addable = selectors.modules_addable_to_team(team, q=add_q)
    return {
        "members": paginate(request, _members_with_teams(team), param="members"),
        "modules": paginate(request, selectors.team_modules(team, q=q)),
        "addable": paginate(request, addable, param="add", per_page=20),
        "q": q,
        "add_q": add_q,
    }


def _team_action(request, team, infrastructure) -> tuple:
    """Apply the posted action; (the bound form that failed or None, status, message)."""
    action = request.POST.get("action", "settings")
    if action == "settings":
        form = TeamForm(request.POST, submit="Save")
        if not form.is_valid():
            return {"settings_form": form}, 400, None
        services.team_update(
            actor=request.user,
            team=team,
            name=form.cleaned_data["name"].strip(),
            level=form.cleaned_data["level"],
        )
        return None, 200, f"Team {team.name} saved."
    if action == "add_member":
        form = TeamMemberForm(request.POST, infrastructure=infrastructure)
        if not form.is_valid():
            return {"member_form": form}, 400, None
        user = form.cleaned_data["user"]
        services.team_change(actor=request.user, team=team, add_members=[user])
        return None, 200, f"{user.username} is in team {team.name}."
    if action == "empty":
        services.team_empty(actor=request.user, team=team)
        return None, 200, f"Team {team.name} has no members and no modules now."
    if action == "remove_member":
        form = TeamMemberRemoveForm(request.POST)
        if form.is_valid():
            services.team_change(
                actor=request.user, team=team, remove_members=[form.cleaned_data["user"]]
            )
        return None, 200, f"Team {team.name} has one member fewer."
    form = TeamModulesForm(request.POST, infrastructure=infrastructure)
    if action not in ("add_modules", "remove_modules") or not form.is_valid():
        return {"modules_form": form}, 400, None
    chosen = list(form.cleaned_data["modules"])
    if action == "add_modules":
        services.team_change(actor=request.user, team=team, add_modules=chosen)
        return None, 200, f"{len(chosen)} module(s) added to team {team.name}."
    services.team_change(actor=request.user, team=team, remove_modules=chosen)
    return None, 200, f"{len(chosen)} module(s) removed from team {team.name}."


@login_required
@require_http_methods(["GET", "POST"])
def team(request, pk, team_pk):
    infrastructure = door.administered_infrastructure_for_user(request.user, pk)
    team = get_object_or_404(Team, pk=team_pk, infrastructure=infrastructure)
    picker = reverse("member_picker", args=[infrastructure.pk]) + f"?team={team.pk}"
    forms = {}
    status = 200
    if request.method == "POST":
        try:
            forms, status, done = _team_action(request, team, infrastructure)
        except DomainError as exc:
            forms, status, done = {}, exc.status, None
            messages.error(request, exc.detail)
        if done:
            messages.success(request, done)
            url = reverse("team", args=[infrastructure.pk, team.pk])
            query = request.GET.urlencode()
            return redirect(f"{url}?{query}" if query else url)
    context = {
        "infrastructure": infrastructure,
        "team": team,
        "settings_form": TeamForm(
            initial={"name": team.name, "level": Level(team.level).label}, submit="Save"
        ),
        "member_form": TeamMemberForm(infrastructure=infrastructure),
        "modules_form": None,
        **_team_lists(request, team),
        "breadcrumbs": _crumbs(
            infrastructure, (reverse("teams", args=[infrastructure.pk]), "Teams"), (None, team.name)
        ),
    }
    context.update(forms or {})
    context["member_form"].fields["user"].widget.url = picker
    return render(request, "permissions/team.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def team_delete(request, pk, team_pk):
    """GET: a confirmation page; POST: delete the team."""
    infrastructure = door.administered_infrastructure_for_user(request.user, pk)
    team = get_object_or_404(Team, pk=team_pk, infrastructure=infrastructure)
    if request.method == "POST":
        services.team_delete(actor=request.user, team=team)
        messages.success(request, f"Team {team.name} is deleted.")
        return redirect("teams", pk=infrastructure.pk)
    return render(
        request,
        "permissions/team_delete.html",
        {
            "infrastructure": infrastructure,
            "team": team,
            "member_count": team.members.count(),
            "module_count": team.modules.count(),
            "breadcrumbs": _crumbs(
                infrastructure,
                (reverse("teams", args=[infrastructure.pk]), "Teams"),
                (reverse("team", args=[infrastructure.pk, team.pk]), team.name),
                (None, "Delete"),
            ),
        },
    )
