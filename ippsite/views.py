"""Site-wide views: health, sign-in, error pages."""

import logging

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)

# When even the page with the site's navigation cannot be rendered (the database is down,
# say), this still gives the reader a way back.
_BARE_500 = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Something went wrong'
    " · IPP Site</title></head><body><main><h1>Something went wrong on our side</h1><p>Nothing"
    ' was changed. Try again in a moment, or go back to <a href="/">the dashboard</a>.</p>'
    "</main></body></html>"
)


def healthz(request):
    """200 when the site and its database answer."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # the point is to report any database failure
        return JsonResponse({"status": "error", "detail": str(exc)}, status=503)
    return JsonResponse({"status": "ok"})


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"error": "not_found", "detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def forbidden(request, exception=None):
    detail = str(exception) if exception else "You do not have permission to do this."
    if _wants_json(request):
        return JsonResponse({"error": "permission_denied", "detail": detail}, status=403)
    return render(request, "403.html", {"detail": detail}, status=403)


def bad_request(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"error": "bad_request", "detail": "Bad request."}, status=400)
    return render(request, "400.html", status=400)


def server_error(request):
    if _wants_json(request):
        return JsonResponse(
            {"error": "server_error", "detail": "Something went wrong on our side."}, status=500
        )
    try:
        return render(request, "500.html", status=500)
    except Exception:  # the page itself failed: fall back to one that needs nothing
        logger.exception("the 500 page could not be rendered")
        return HttpResponse(_BARE_500, status=500)
