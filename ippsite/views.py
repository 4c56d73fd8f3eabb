"""Site-wide views: health, sign-in, error pages."""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from kombu import Connection

from registry.blobs import get_store

logger = logging.getLogger(__name__)

# When even the page with the site's navigation cannot be rendered (the database is down,
# say), this still gives the reader a way back.
_BARE_500 = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Something went wrong'
    " · IPP Site</title></head><body><main><h1>Something went wrong on our side</h1><p>Nothing"
    ' was changed. Try again in a moment, or go back to <a href="/">the dashboard</a>.</p>'
    "</main></body></html>"
)


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _blob_store() -> None:
    get_store().ping()


def _broker() -> str:
    url = settings.IPP_BROKER_URL
    if not url:
        return "in-process"  # jobs run in the request's process: nothing to reach
    if url.startswith(("redis://", "rediss://", "unix://")):
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
        return "ok"
    with Connection(url, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


CHECKS = {"database": _database, "blob_store": _blob_store, "broker": _broker}


def healthz(request):
    """200 when the database, the blob store and the job broker all answer, else 503; the
    body names each: {"status": "ok"|"error", "checks": {name: "ok"|"in-process"|"error:
    ..."}}. Answered over plain HTTP too (SECURE_REDIRECT_EXEMPT), for load balancers."""
    checks, ok = {}, True
    for name, check in CHECKS.items():
        try:
            checks[name] = check() or "ok"
        except Exception as exc:  # the point is to report any failure of a dependency
            logger.warning("healthz: %s does not answer: %s", name, exc)
            checks[name] = f"error: {type(exc).__name__}"
            ok = False
    return JsonResponse(
        {"status": "ok" if ok else "error", "checks": checks}, status=200 if ok else 503
    )


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
