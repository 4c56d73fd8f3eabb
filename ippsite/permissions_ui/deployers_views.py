"""The environment page's deployers: add, remove, and the member search behind "add".

Only administrators of the environment's infrastructure (404 when the environment is
invisible, 403 when only visible). The list itself is on the environment page.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError, NotAllowed
from permissions import door
from permissions.deployers import (
    deployer_add,
    deployer_candidates,
    deployer_remove,
    require_environment_admin,
)

User = get_user_model()


def _administered_environment(user, pk):
    environment = door.environment_for_user(user, pk)
    try:
        require_environment_admin(user, environment)
    except NotAllowed as exc:
        raise PermissionDenied(exc.detail) from None
    return environment


@login_required
@require_GET
def deployer_search(request, pk):
    """JSON for search-as-you-type: members matching ?q= who are not deployers yet."""
    environment = _administered_environment(request.user, pk)
    members = deployer_candidates(environment, q=request.GET.get("q", "")[:150])
    return JsonResponse(
        {"results": [{"username": m.user.username, "email": m.user.email} for m in members]}
    )


@login_required
@require_POST
def deployer_add_view(request, pk):
    environment = _administered_environment(request.user, pk)
    username = (request.POST.get("username") or "").strip()
    user = User.objects.filter(username=username).first() if username else None
    if user is None:
        messages.error(request, f"There is no user '{username}'." if username else "Name a member.")
        return redirect("environment", environment.pk)
    try:
        _deployer, created = deployer_add(actor=request.user, environment=environment, user=user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request,
            f"{user.username} may now deploy to {environment.name}."
            if created
            else f"{user.username} is already a deployer of {environment.name}.",
        )
    return redirect("environment", environment.pk)


@login_required
@require_POST
def deployer_remove_view(request, pk, username):
    environment = _administered_environment(request.user, pk)
    user = User.objects.filter(username=username).first()
    if user is not None and deployer_remove(actor=request.user, environment=environment, user=user):
        messages.success(request, f"{username} no longer deploys to {environment.name}.")
    else:
        messages.info(request, f"{username} was not a deployer of {environment.name}.")
    return redirect("environment", environment.pk)
