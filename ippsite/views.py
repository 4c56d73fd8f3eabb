"""Site-wide views: health, sign-in, error pages."""

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render


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
