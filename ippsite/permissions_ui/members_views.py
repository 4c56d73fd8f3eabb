"""Pages of one member and of invitations (SPEC §3, §8): edit a member (the member is fixed
by the address), remove one (a confirmation page, then POST), invite by e-mail (the link is
shown once), revoke an invitation, and the invitee's accept page.

Managing: support and the infrastructure's administrators (404 when the infrastructure is
invisible, 403 for its plain members). Every write is one service of permissions/.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError
from core.levels import Level
from ippsite.permissions_ui.forms import AcceptInvitationForm, InvitationForm, MemberEditForm
from ippsite.permissions_ui.invitation_mail import invitation_mail, invitation_url
from permissions import door
from permissions.invitations import (
    invitation_accept,
    invitation_by_secret,
    invitation_create,
    invitation_revoke,
)
from permissions.members import may_manage_members, membership_remove, membership_set
from permissions.models import Invitation


def _managed(user, pk):
    """The infrastructure whose members `user` manages: 404 invisible, 403 plain member."""
    infrastructure = door.infrastructure_for_user(user, pk)
    if not may_manage_members(user, infrastructure):
        raise PermissionDenied(f"Only administrators of {infrastructure.name} manage its members.")
    return infrastructure


def _member(infrastructure, user_pk):
    membership = infrastructure.memberships.select_related("user").filter(user_id=user_pk).first()
    if membership is None:
        raise Http404("No such member.")
    return membership


def _back(request, infrastructure):
    """Back to the Users page, or, for one who just demoted or removed themselves, to a
    page they may still open (no redirect into a 403)."""
    if may_manage_members(request.user, infrastructure):
        return redirect("infrastructure_users", pk=infrastructure.pk)
    if door.membership_for(request.user, infrastructure) is not None:
        return redirect("infrastructure", pk=infrastructure.pk)
    return redirect("dashboard")


def _crumbs(infrastructure, label: str) -> list:
    return [
        (reverse("dashboard"), "Dashboard"),
        (reverse("infrastructure", args=[infrastructure.pk]), infrastructure.name),
        (reverse("infrastructure_users", args=[infrastructure.pk]), "Users"),
        (None, label),
    ]


@login_required
@require_http_methods(["GET", "POST"])
def member_edit(request, pk, user_pk):
    infrastructure = _managed(request.user, pk)
    membership = _member(infrastructure, user_pk)
    initial = {
        "role": membership.role,
        "default_level": membership.default_level,
        "create_modules": membership.create_modules,
    }
    form = MemberEditForm(initial=initial)
    status = 200
    if request.method == "POST":
        form = MemberEditForm(request.POST, initial=initial)
        status = 400
        if form.is_valid():
            try:
                membership_set(
                    actor=request.user,
                    infrastructure=infrastructure,
                    user=membership.user,
                    **{name: form.cleaned_data[name] for name in form.changed_data},
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
                status = exc.status
            else:
                messages.success(request, f"{membership.user.username}'s membership is saved.")
                return _back(request, infrastructure)
    return render(
        request,
        "permissions/member_edit.html",
        {
            "infrastructure": infrastructure,
            "membership": membership,
            "form": form,
            "breadcrumbs": _crumbs(infrastructure, f"Edit {membership.user.username}"),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def member_remove(request, pk, user_pk):
    """GET: what removing takes away, and a confirm button. POST: remove."""
    infrastructure = _managed(request.user, pk)
    membership = _member(infrastructure, user_pk)
    error, status = None, 200
    if request.method == "POST":
        try:
            removed = membership_remove(
                actor=request.user, infrastructure=infrastructure, user=membership.user
            )
        except DomainError as exc:
            error, status = exc.detail, exc.status
        else:
            messages.success(
                request,
                f"{membership.user.username} is no longer a member of {infrastructure.name} "
                f"({removed['grants']} grant(s) and {len(removed['teams'])} team place(s) "
                f"removed).",
            )
            return _back(request, infrastructure)
    return render(
        request,
        "permissions/member_remove.html",
        {
            "infrastructure": infrastructure,
            "membership": membership,
            "error": error,
            "breadcrumbs": _crumbs(infrastructure, f"Remove {membership.user.username}"),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def invite(request, pk):
    """The invitation form; once sent, the link is shown here once (it is also mailed)."""
    infrastructure = _managed(request.user, pk)
    form = InvitationForm()
    status, sent = 200, None
    if request.method == "POST":
        form = InvitationForm(request.POST)
        status = 400
        if form.is_valid():
            values = form.cleaned_data
            try:
                invitation, raw = invitation_create(
                    actor=request.user,
                    infrastructure=infrastructure,
                    email=values["email"],
                    role=values["role"],
                    default_level=Level(values["default_level"]),
                    create_modules=values["create_modules"],
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
                status = exc.status
            else:
                url = invitation_url(request, raw)
                invitation_mail(invitation, url, request.user.username)
                sent = {"invitation": invitation, "url": url}
                form, status = InvitationForm(), 201
    return render(
        request,
        "permissions/invite.html",
        {
            "infrastructure": infrastructure,
            "form": form,
            "sent": sent,
            "breadcrumbs": _crumbs(infrastructure, "Invite"),
        },
        status=status,
    )


@login_required
@require_POST
def invitation_revoke_view(request, pk, invitation_pk):
    infrastructure = _managed(request.user, pk)
    invitation = Invitation.objects.filter(pk=invitation_pk, infrastructure=infrastructure).first()
    if invitation is None:
        raise Http404("No such invitation.")
    try:
        invitation_revoke(actor=request.user, invitation=invitation)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"The invitation of {invitation.email} is revoked.")
    return redirect("infrastructure_users", pk=infrastructure.pk)


@require_http_methods(["GET", "POST"])
def invitation_accept_view(request, token):
    """The invitee's page: a new person chooses a username and password; a signed-in
    user just joins. 410 when the link was used, revoked or has expired; 404 when no
    invitation has that secret."""
    invitation = invitation_by_secret(token)
    if invitation is None or invitation.state != "pending":
        return render(
            request,
            "permissions/invitation_gone.html",
            {"state": invitation.state if invitation else "invalid"},
            status=410 if invitation else 404,
        )
    signed_in = request.user.is_authenticated
    form = None if signed_in else AcceptInvitationForm()
    status, error = 200, None
    if request.method == "POST":
        if not signed_in:
            form = AcceptInvitationForm(request.POST)
        if signed_in or form.is_valid():
            try:
                membership = invitation_accept(
                    raw=token,
                    user=request.user if signed_in else None,
                    username="" if signed_in else form.cleaned_data["username"],
                    password="" if signed_in else form.cleaned_data["password1"],
                )
            except DomainError as exc:
                if form is not None:
                    form.add_error(None, exc.detail)
                error, status = exc.detail, exc.status
            else:
                if not signed_in:
                    login(
                        request,
                        membership.user,
                        backend="django.contrib.auth.backends.ModelBackend",
                    )
                messages.success(
                    request, f"Welcome to {membership.infrastructure.name}, {membership.user}."
                )
                return redirect("infrastructure", pk=membership.infrastructure_id)
        else:
            status = 400
    return render(
        request,
        "permissions/invitation_accept.html",
        {
            "invitation": invitation,
            "form": form,
            "error": error if form is None else None,
            "login_url": f"{reverse('login')}?next={request.path}",
        },
        status=status,
    )
