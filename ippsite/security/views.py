"""Pages of sign-in security: support's locked usernames; a user's API tokens and 2FA."""

from base64 import b32encode

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from ippsite import tokens
from ippsite.models import ApiToken
from ippsite.security import lockout, twofactor
from permissions import door


class UnlockForm(forms.Form):
    username = forms.CharField(max_length=255)


@login_required
def lockouts(request):
    """Support: the usernames locked out of sign-in right now, each with an Unlock button."""
    if not door.is_support(request.user):
        raise PermissionDenied("Only support may see and lift sign-in locks.")
    if request.method == "POST":
        form = UnlockForm(request.POST)
        if form.is_valid():
            username = form.cleaned_data["username"]
            lockout.lockout_lift(actor=request.user, username=username)
            messages.success(request, f"{username} may sign in again.")
        else:
            messages.error(request, "Say which username to unlock.")
        return redirect("support-lockouts")
    page = Paginator(lockout.locked_usernames(), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "registration/lockouts.html",
        {
            "page": page,
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "cool_off_minutes": int(lockout.cool_off().total_seconds() // 60),
            "breadcrumbs": [("/", "Dashboard"), (None, "Locked sign-ins")],
        },
    )


@login_required
def api_tokens(request):
    """The signed-in user's live API tokens: prefix, issued, last used, expiry; revoke one."""
    return render(
        request,
        "registration/tokens.html",
        {
            "tokens": tokens.tokens_for_owner(request.user),
            "limit": tokens.TOKENS_PER_USER,
            "days": settings.IPP_TOKEN_DAYS,
            "breadcrumbs": [("/", "Dashboard"), (None, "API tokens")],
        },
    )


@login_required
@require_POST
def api_token_revoke(request, pk):
    """Revoke one of your own tokens (anyone else's answers 404)."""
    token = get_object_or_404(ApiToken.objects.filter(user=request.user).alive(), pk=pk)
    tokens.token_revoke(token=token)
    messages.success(request, f"Token {token.prefix}… is revoked: it no longer signs in.")
    return redirect("api-tokens")


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=20,
        label="Code",
        help_text="The 6 digits your authenticator app shows, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@login_required
def two_factor_verify(request):
    """Second step of sign-in for a user with a second factor (see twofactor.py)."""
    if request.session.get(twofactor.SESSION_KEY) != twofactor.VERIFY:
        return redirect(_next_url(request))
    user = request.user
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        logout(request)
        return lockout.lockout_response(request, None, credentials)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        if twofactor.verify(user, form.cleaned_data["code"]) is not None:
            twofactor.session_cleared(request)
            request.session.cycle_key()
            return redirect(_next_url(request))
        # A wrong code is a failed sign-in: it counts towards the username's lockout.
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        if getattr(request, "axes_locked_out", False):
            logout(request)
            return lockout.lockout_response(request, None, credentials)
        form.add_error("code", "That code did not work. Try the next one your app shows.")
    return render(
        request,
        "registration/two_factor_verify.html",
        {"form": form, "next": _next_url(request)},
    )


@login_required
def two_factor(request):
    """Set up an authenticator app (secret shown as text and otpauth URI), recovery codes."""
    user = request.user
    form = CodeForm(request.POST or None)
    codes = None
    if form.is_valid():
        code = form.cleaned_data["code"]
        if twofactor.is_enrolled(user):
            if twofactor.verify(user, code) is not None:
                codes = twofactor.recovery_codes_issue(user=user)
            else:
                form.add_error("code", "That code did not work.")
        else:
            codes = twofactor.totp_confirm(user=user, token=code)
            if codes is None:
                form.add_error("code", "That code did not work: check the clock of your device.")
            else:
                twofactor.session_cleared(request)
                messages.success(request, "Two-factor sign-in is on.")
        if codes is not None:
            form = CodeForm()
    enrolled = twofactor.is_enrolled(user)
    pending = None if enrolled else twofactor.totp_pending(user)
    return render(
        request,
        "registration/two_factor.html",
        {
            "form": form,
            "enrolled": enrolled,
            "required": request.session.get(twofactor.SESSION_KEY) == twofactor.ENROL,
            "secret": b32encode(pending.bin_key).decode() if pending else "",
            "otpauth_uri": pending.config_url if pending else "",
            "codes": codes,
            "codes_left": twofactor.recovery_codes_left(user) if enrolled else 0,
            "breadcrumbs": [("/", "Dashboard"), (None, "Two-factor sign-in")],
        },
    )
