"""Site middleware of SPEC §10: the upload guard and the second-factor gate.

UploadGuardMiddleware is placed before CsrfViewMiddleware, which would otherwise parse
a multipart body (and spool its file to disk) just to look for a CSRF token, whoever
sent it.
"""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.functional import cached_property

from ippsite.security import twofactor
from ippsite.tokens import TokenRefused, token_check

# Room for the form fields that travel with a package (multipart envelope, note, ids).
FORM_FIELDS_ALLOWANCE = 64 * 1024
# Anything an anonymous caller may legitimately send (a sign-in, a token request).
ANONYMOUS_BODY_LIMIT = 64 * 1024


class UploadGuardMiddleware:
    """Refuse, from the headers alone:

    - a path holding a NUL: 404 (no object is named so, and PostgreSQL text cannot hold
      one, so looking it up would fail);
    - a body longer than IPP_MAX_PACKAGE_MB plus FORM_FIELDS_ALLOWANCE: 413;
    - a chunked body without Content-Length: 411, since its size cannot be known;
    - at the sign-in page and POST /api/v1/auth/token (anonymous by nature): any
      multipart body (415) and any body over ANONYMOUS_BODY_LIMIT (413);
    - elsewhere, from a caller with no valid session and no valid token: a multipart
      body (403 on pages, 401 on the API) and any body over ANONYMOUS_BODY_LIMIT (413).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.refusal(request) or self.get_response(request)

    @cached_property
    def anonymous_entry_points(self) -> set[str]:
        paths = {reverse("login"), reverse("api-token")}
        return paths | {p.rstrip("/") for p in paths} | {p.rstrip("/") + "/" for p in paths}

    def refusal(self, request):
        if "\x00" in request.path_info:
            return _refuse(request, 404, "not_found", "Not found.")
        raw_length = request.META.get("CONTENT_LENGTH") or ""
        if not raw_length:
            if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
                return _refuse(
                    request, 411, "length_required", "Send the body with a Content-Length."
                )
            return None
        try:
            length = int(raw_length)
        except ValueError:
            return _refuse(request, 400, "invalid_request", "Content-Length is not a number.")
        limit_mb = settings.IPP_MAX_PACKAGE_MB
        if length > limit_mb * 1024 * 1024 + FORM_FIELDS_ALLOWANCE:
            return _refuse(
                request,
                413,
                "invalid_package",
                f"The request body is larger than IPP_MAX_PACKAGE_MB ({limit_mb} MB) allows.",
            )
        multipart = request.META.get("CONTENT_TYPE", "").lower().startswith("multipart/")
        if not multipart and length <= ANONYMOUS_BODY_LIMIT:
            return None
        if request.path_info in self.anonymous_entry_points:
            if multipart:
                return _refuse(
                    request, 415, "unsupported_media_type", "Send the sign-in without multipart."
                )
            return _refuse(request, 413, "too_large", "The sign-in request is too large.")
        if _caller_is_signed_in(request):
            return None
        if multipart:
            if _is_api(request):
                response = _refuse(
                    request, 401, "not_authenticated", "Sign in before uploading a file."
                )
                response["WWW-Authenticate"] = "Token"
                return response
            return redirect_to_login(request.get_full_path())
        return _refuse(request, 413, "too_large", "Sign in before sending a body this large.")


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def _caller_is_signed_in(request) -> bool:
    """A valid session (AuthenticationMiddleware runs first) or a live API token."""
    if getattr(request, "_force_auth_user", None) is not None:
        # DRF's test client (force_authenticate) marks the request so; no HTTP client can.
        return True
    header = request.META.get("HTTP_AUTHORIZATION", "")
    keyword, _space, raw = header.partition(" ")
    if keyword == "Token" and raw.strip():
        try:
            token_check(raw.strip())
        except TokenRefused:
            return False
        return True
    return request.user.is_authenticated


def _refuse(request, status: int, code: str, detail: str) -> HttpResponse:
    if _is_api(request):
        response = JsonResponse({"error": code, "detail": detail}, status=status)
    else:
        response = HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")
    return response


class TwoFactorMiddleware:
    """Holds a session that still owes its second factor to the one page that takes it.

    `twofactor.mark_session` marks a fresh session "verify" (the user has a second factor:
    enter a code) or "enrol" (IPP_REQUIRE_2FA: set one up). Until the mark is cleared,
    every other page redirects there and the API answers 403 two_factor_required.
    Token-authenticated API calls carry no session and pass: POST /auth/token asks for
    the code itself.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        state = request.session.get(twofactor.SESSION_KEY)
        if state and request.user.is_authenticated:
            target = reverse("two-factor-verify" if state == twofactor.VERIFY else "two-factor")
            if request.path_info not in (target, reverse("logout")):
                if _is_api(request):
                    return JsonResponse(
                        {
                            "error": "two_factor_required",
                            "detail": "Finish signing in with your second factor on the site.",
                        },
                        status=403,
                    )
                return redirect_to_login(request.get_full_path(), target)
        return self.get_response(request)
