"""Sign-in lockout (SPEC §7): 10 failures for one username within 15 minutes lock it.

django-axes counts the failures (AXES_* settings) and refuses the locked username in
`authenticate()`, so the page and `POST /api/v1/auth/token` share one rule. This module
adds what the site needs around it: the backend that also guards callers without a
request, the locked answer for pages and the API, the list of locked usernames, and
support's service to lift a lock.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max, Sum
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from audit.services import audit_record
from permissions import door

logger = logging.getLogger(__name__)

TOO_MANY_ATTEMPTS = "too_many_attempts"


class LockoutBackend(AxesStandaloneBackend):
    """Axes' lockout check, also for `authenticate()` calls made without a request.

    Axes refuses those outright (the test client's `login()`, a shell). The lockout is
    per username only, so an empty request is enough to check it: a locked username
    stays locked whichever way it is tried.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        return super().authenticate(
            request if request is not None else HttpRequest(),
            username=username,
            password=password,
            **kwargs,
        )


def cool_off() -> timedelta:
    return settings.AXES_COOLOFF_TIME


def lockout_message() -> str:
    minutes = int(cool_off().total_seconds() // 60)
    return (
        f"Too many failed sign-ins for this username: sign-in is paused for {minutes} "
        "minutes. Try again later, or ask support to lift the lock."
    )


def seconds_left(username: str | None) -> int:
    """Seconds until `username` may try again (the cool-off when unknown)."""
    last = None
    if username:
        last = AccessAttempt.objects.filter(username=username).aggregate(t=Max("attempt_time"))["t"]
    if last is None:
        return int(cool_off().total_seconds())
    return max(1, int((last + cool_off() - timezone.now()).total_seconds()))


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: 429 in the API's error shape, or the sign-in page saying why."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    retry_after = str(seconds_left(username))
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"error": TOO_MANY_ATTEMPTS, "detail": lockout_message()}, status=429
        )
    else:
        form = AuthenticationForm(request, initial={"username": username})
        response = render(
            request,
            "registration/login.html",
            {
                "form": form,
                "locked_out": True,
                "lockout_message": lockout_message(),
                "next": request.POST.get("next", ""),
            },
            status=429,
        )
    response["Retry-After"] = retry_after
    return response


@dataclass(frozen=True)
class LockedUsername:
    username: str
    failures: int
    last_failure: datetime
    locked_until: datetime


def locked_usernames() -> list[LockedUsername]:
    """Usernames locked right now, the most recently locked first (one query)."""
    rows = (
        AccessAttempt.objects.filter(
            attempt_time__gte=timezone.now() - cool_off(), username__isnull=False
        )
        .values("username")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
        .order_by("-last", "username")
    )
    return [
        LockedUsername(
            username=row["username"],
            failures=row["failures"],
            last_failure=row["last"],
            locked_until=row["last"] + cool_off(),
        )
        for row in rows
    ]


def lockout_lift(*, actor, username: str) -> int:
    """Support lets `username` sign in again at once; returns how many records were cleared."""
    if not door.is_support(actor):
        raise PermissionDenied("Only support may lift a sign-in lock.")
    with transaction.atomic():
        cleared = AxesProxyHandler.reset_attempts(username=username)
        audit_record(
            actor=actor,
            action="user.signin_unlocked",
            details={"username": username, "cleared": cleared},
        )
    logger.warning("%s lifted the sign-in lock of %r (%d records)", actor, username, cleared)
    return cleared
