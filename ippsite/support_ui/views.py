"""Support's console (SPEC §8): users (list, search, create, deactivate, reactivate),
infrastructures and environments (create). Support only: anyone else gets 403, and the
navigation offers these pages to support alone.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError
from ippsite.paging import paginate
from ippsite.support_ui.accounts import user_set_active
from ippsite.support_ui.forms import (
    EnvironmentCreateForm,
    InfrastructureCreateForm,
    UserCreateForm,
)
from permissions import door
from publishing.services import environment_create, infrastructure_create, user_create
from registry.models import Infrastructure

User = get_user_model()


def _require_support(user) -> None:
    if not door.is_support(user):
        raise PermissionDenied("Only support opens the support console.")


def _crumbs(label: str) -> list:
    return [(reverse("dashboard"), "Dashboard"), (None, label)]


def _tabs(active: str) -> list:
    return [
        ("users", "Users", reverse("support_users"), active == "users"),
        (
            "infrastructures",
            "Infrastructures",
            reverse("support_infrastructures"),
            active == "infrastructures",
        ),
    ]


@login_required
@require_http_methods(["GET", "POST"])
def users(request):
    _require_support(request.user)
    form = UserCreateForm()
    status = 200
    if request.method == "POST":
        form = UserCreateForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                user = user_create(
                    actor=request.user,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                    email=form.cleaned_data["email"],
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
                status = exc.status
            else:
                messages.success(
                    request,
                    f"User {user.username} created: add them to an infrastructure from its "
                    "Users page.",
                )
                return redirect(f"{reverse('support_users')}?q={user.username}")
    q = request.GET.get("q", "").strip()
    rows = User.objects.annotate(membership_count=Count("memberships")).order_by("username")
    if q:
        rows = rows.filter(username__icontains=q) | rows.filter(email__icontains=q)
    return render(
        request,
        "support/users.html",
        {
            "users": paginate(request, rows),
            "q": q,
            "form": form,
            "tabs": _tabs("users"),
            "breadcrumbs": _crumbs("Support: users"),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def user_deactivate(request, user_pk):
    """GET: what deactivating does, and a confirm button. POST: deactivate."""
    _require_support(request.user)
    target = get_object_or_404(User, pk=user_pk)
    error, status = None, 200
    if request.method == "POST":
        try:
            user_set_active(actor=request.user, user=target, is_active=False)
        except DomainError as exc:
            error, status = exc.detail, exc.status
        else:
            messages.success(
                request, f"{target.username} is deactivated: their sessions and tokens ended."
            )
            return redirect(f"{reverse('support_users')}?q={target.username}")
    return render(
        request,
        "support/user_deactivate.html",
        {"target": target, "error": error, "breadcrumbs": _crumbs("Deactivate a user")},
        status=status,
    )


@login_required
@require_POST
def user_reactivate(request, user_pk):
    _require_support(request.user)
    target = get_object_or_404(User, pk=user_pk)
    user_set_active(actor=request.user, user=target, is_active=True)
    messages.success(
        request, f"{target.username} is active again: they sign in and ask for new tokens."
    )
    return redirect(f"{reverse('support_users')}?q={target.username}")


def _create_infrastructure(request, form) -> int:
    if not form.is_valid():
        return 400
    try:
        infra = infrastructure_create(actor=request.user, **form.cleaned_data)
    except DomainError as exc:
        form.add_error(None, exc.detail)
        return exc.status
    messages.success(request, f"Infrastructure {infra.name} created: add its administrator.")
    return 302


def _create_environment(request, form) -> int:
    if not form.is_valid():
        return 400
    try:
        env = environment_create(actor=request.user, **form.cleaned_data)
    except DomainError as exc:
        form.add_error(None, exc.detail)
        return exc.status
    messages.success(request, f"Environment {env.name} added to {env.infrastructure.name}.")
    return 302


@login_required
@require_http_methods(["GET", "POST"])
def infrastructures(request):
    _require_support(request.user)
    infra_form, env_form = InfrastructureCreateForm(), EnvironmentCreateForm()
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "environment":
            env_form = EnvironmentCreateForm(request.POST)
            status = _create_environment(request, env_form)
        else:
            infra_form = InfrastructureCreateForm(request.POST)
            status = _create_infrastructure(request, infra_form)
        if status == 302:
            return redirect("support_infrastructures")
    rows = Infrastructure.objects.annotate(
        environment_count=Count("environments", distinct=True),
        member_count=Count("memberships", distinct=True),
    ).order_by("name")
    return render(
        request,
        "support/infrastructures.html",
        {
            "infrastructures": paginate(request, rows),
            "infra_form": infra_form,
            "env_form": env_form,
            "tabs": _tabs("infrastructures"),
            "breadcrumbs": _crumbs("Support: infrastructures"),
        },
        status=status,
    )
