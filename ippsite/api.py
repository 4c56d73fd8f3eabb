"""API plumbing shared by every endpoint: one error shape, one pagination."""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError
from registry.crypto import KeyringError, SourceIntegrityError

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with an explicit code, status and detail: {"error": code, "detail": text}."""

    def __init__(self, code: str, detail: str, status_code: int = 400):
        self.status_code = status_code
        self.error_code = code
        super().__init__(detail=detail, code=code)


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


_CODES = {
    400: "invalid_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
}


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        parts = []
        for key, value in detail.items():
            text = _flatten(value)
            parts.append(text if key == "non_field_errors" else f"{key}: {text}")
        return "; ".join(parts)
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


def exception_handler(exc, context):
    """Answer every error as {"error": "<code>", "detail": "<text>"}."""

    if isinstance(exc, DomainError):
        body = {"error": exc.code, "detail": exc.detail}
        if getattr(exc, "reason", None):
            body["reason"] = exc.reason
        return Response(body, status=exc.status)
    if isinstance(exc, SourceIntegrityError):
        logger.error("stored source failed its integrity check: %s", exc)
        return Response(
            {
                "error": "source_integrity",
                "detail": "The stored source failed its integrity check and was not served. "
                "Tell support: the blob storage may have been altered.",
            },
            status=500,
        )
    if isinstance(exc, KeyringError):
        logger.error("master keyring problem: %s", exc)
        return Response(
            {
                "error": "key_unavailable",
                "detail": "The key needed to decrypt this source is not available. Tell support.",
            },
            status=500,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        code = exc.error_code
    elif isinstance(exc, exceptions.ValidationError):
        code = "invalid_request"
    else:
        code = _CODES.get(response.status_code, "error")
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            # Token auth answers 401; session-only clients get 403 from DRF.
            code = "not_authenticated"
    response.data = {"error": code, "detail": _flatten(getattr(exc, "detail", str(exc)))}
    return response


def error_response(code: str, detail: str, status_code: int) -> Response:
    return Response({"error": code, "detail": detail}, status=status_code)


__all__ = ["ApiError", "Pagination", "exception_handler", "error_response", "status"]
