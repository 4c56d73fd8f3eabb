"""API plumbing shared by every endpoint: one error shape, one pagination, one schema class.

Documenting errors (SPEC §10: the schema names every status an operation returns):

- `ippsite.api_schema.ApiSchema` (the DEFAULT_SCHEMA_CLASS) adds to every operation the statuses the
  framework itself answers, each with the `Error` body: 400 where there is a body or a
  query parameter; 401 and 403 where the caller must be signed in (403 also covers a
  session still owing its second factor, or a failed CSRF check); 404 where the path has
  a parameter or the list has pages; 413 and 415 where there is a body.
- Request bodies are `StrictInput` serializers (unknown keys and JSON values of the wrong
  type refused, integers bounded) and query parameters `QueryInput` ones read with
  `query_params()`: the schema drawn from them is then exactly what is accepted.
- Everything else an operation decides itself (403 for a level below what it needs, 409,
  410, 429, a domain code) goes in its `extend_schema(responses=...)` with `errors()`:

      @extend_schema(request=In, responses={201: Out, **errors({403: "support only",
                     409: "name_taken: an infrastructure has that name"})})

  Descriptions given there replace the standard ones of the same status.
"""

import logging
from collections.abc import Mapping

from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError
from ippsite.api_parsers import StrictJSONParser
from registry.crypto import KeyringError, SourceIntegrityError

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with an explicit code, status and detail: {"error": code, "detail": text}."""

    def __init__(self, code: str, detail: str, status_code: int = 400):
        self.status_code = status_code
        self.error_code = code
        super().__init__(detail=detail, code=code)


class ErrorOut(serializers.Serializer):
    """The body of every error answer (SPEC §7)."""

    class Meta:
        ref_name = "Error"

    error = serializers.CharField(help_text="A stable code, e.g. not_found, invalid_package.")
    detail = serializers.CharField(help_text="What went wrong and what to do, in words.")
    reason = serializers.CharField(
        required=False, help_text="For some refusals: which rule refused, as a code."
    )


# What each status means when the operation says nothing more specific.
STANDARD_ERRORS = {
    400: "invalid_request: the body or a query parameter is not valid (detail names it)",
    401: "not_authenticated: no credentials, or a token that is unknown, expired or revoked",
    403: "permission_denied: signed in but not allowed; two_factor_required: the session "
    "still owes its second factor; or the CSRF check of a session failed",
    404: "not_found: no such object, or one you may not see; or no such page of a list",
    409: "conflict: the request clashes with the current state",
    410: "gone: it existed but is expired, revoked or used",
    413: "too_large or invalid_package: the body is larger than allowed",
    415: "unsupported_media_type: a Content-Type this operation does not take",
    429: "too_many_attempts: too many failed sign-ins for this username; wait (Retry-After)",
}


def error_doc(description: str) -> OpenApiResponse:
    """One documented error status: the `Error` body with `description`."""
    return OpenApiResponse(ErrorOut, description=description)


def errors(*items: int | dict[int, str]) -> dict[int, OpenApiResponse]:
    """Documented error statuses for `extend_schema(responses={..., **errors(...)})`.

    Each item is a status (its STANDARD_ERRORS description) or a {status: description}.
    """
    documented: dict[int, OpenApiResponse] = {}
    for item in items:
        pairs = item.items() if isinstance(item, dict) else [(item, STANDARD_ERRORS[item])]
        for code, description in pairs:
            documented[int(code)] = error_doc(description)
    return documented


# The largest id a database row can have (a signed 64-bit integer): an integer field with no
# bound of its own gets this one, so no lookup overflows (500 on SQLite).
BIGINT_MAX = 2**63 - 1


def _bounded(field) -> None:
    """Give an IntegerField (or a list's) with no bounds of its own the 64-bit ones."""
    if isinstance(field, serializers.ListField):
        _bounded(field.child)
    elif isinstance(field, serializers.IntegerField):
        if field.max_value is None:
            field.max_value = BIGINT_MAX
            field.validators.append(MaxValueValidator(BIGINT_MAX))
        if field.min_value is None:
            field.min_value = -BIGINT_MAX - 1
            field.validators.append(MinValueValidator(-BIGINT_MAX - 1))


# Query parameters: validate them with `query_params()`, document them by giving the class
# to `extend_schema(parameters=[...])`. Integers are bounded to 64 bits. (Comments, not a
# docstring: drf-spectacular would give it to every subclass without one as description.)
class QueryInput(serializers.Serializer):
    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            _bounded(field)
        return fields


def query_params(serializer_class: type[serializers.Serializer], request) -> dict:
    """`request`'s query parameters validated by `serializer_class`; 400 when not valid.

    Given as a plain dict: DRF would read `?name=` from a QueryDict as "not given", where
    the schema says an empty value is no integer (or no non-blank string).
    """
    parsed = serializer_class(data=dict(request.query_params.items()))
    parsed.is_valid(raise_exception=True)
    return parsed.validated_data


# A request body held to its schema (which ApiSchema marks additionalProperties false):
# - a key the serializer does not name is refused ("Unknown field.");
# - in JSON, each value must have its field's JSON type: no "5" for an integer, no 0 for a
#   boolean, no number for a string (DRF would coerce them);
# - integers with no bounds of their own get the 64-bit ones.
# Base every request body serializer of the API on it. (Comments, not a docstring: see
# QueryInput.)
class StrictInput(serializers.Serializer):
    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            _bounded(field)
        return fields

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            problems = {key: ["Unknown field."] for key in data if key not in self.fields}
            if not hasattr(data, "getlist"):  # JSON, not form data: check the types
                for name, field in self.fields.items():
                    if name in data and not field.read_only:
                        wrong = _wrong_json_type(field, data[name])
                        if wrong:
                            problems[name] = [wrong]
            if problems:
                raise serializers.ValidationError(problems)
        return super().to_internal_value(data)


def _wrong_json_type(field, value) -> str | None:
    """Why `value` (parsed JSON) is not of `field`'s JSON type, or None when it is."""
    if value is None:
        return None  # allow_null decides
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "Must be an integer."
    if isinstance(field, serializers.ChoiceField) and all(
        isinstance(choice, str) for choice in field.choices
    ):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.CharField):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return "Must be a list."
        for item in value:
            wrong = _wrong_json_type(field.child, item)
            if wrong:
                return f"Each item: {wrong}"
        return None
    return None


class PageQuery(QueryInput):
    """The query parameters of every paginated list (documented by ApiSchema)."""

    page = serializers.IntegerField(required=False, min_value=1, help_text="1 for the first.")
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=500, help_text="Rows per page (default 50)."
    )


class Pagination(PageNumberPagination):
    """Pages of 50 (`page_size` up to 500). A `page` or `page_size` that is not a whole
    number in range is 400 invalid_request, as the schema says; a page past the last 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        query_params(PageQuery, request)
        return super().paginate_queryset(queryset, request, view=view)


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


__all__ = [
    "ApiError",
    "ErrorOut",
    "Pagination",
    "STANDARD_ERRORS",
    "BIGINT_MAX",
    "QueryInput",
    "StrictInput",
    "StrictJSONParser",
    "query_params",
    "error_doc",
    "error_response",
    "errors",
    "exception_handler",
    "status",
]
