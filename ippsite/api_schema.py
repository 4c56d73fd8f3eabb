"""The schema class of the API (DEFAULT_SCHEMA_CLASS): see ippsite/api.py's docstring.

Apart from ippsite/api.py because drf-spectacular's AutoSchema reads DRF's settings when
imported, and those settings name ippsite.api's Pagination and exception handler.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from ippsite.api import STANDARD_ERRORS, PageQuery, StrictInput, error_doc

PAGE_FIELDS = {"count", "next", "previous", "results"}
# What DRF's CharField accepts, as a pattern: never a NUL (ProhibitNullCharactersValidator),
# and, unless blank is allowed, something besides white space (it trims, then refuses "").
ANY_TEXT = r"^[^\x00]*$"
SOME_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"


class ApiSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus what every operation of this API shares:
    the page parameters of paginated lists and the error statuses the framework answers
    (see the module docstring). An operation's own `responses` take precedence."""

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and not {"pattern", "format", "enum"} & set(schema)
        ):
            schema["pattern"] = ANY_TEXT if field.allow_blank else SOME_TEXT
        return schema

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictInput):
            schema["additionalProperties"] = False  # StrictInput refuses unknown keys
        return schema

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self._is_page():
            parameters = [PageQuery, *parameters]
        return parameters

    def _is_page(self) -> bool:
        if self.method != "GET":
            return False
        response = self.get_response_serializers()
        if isinstance(response, dict):
            response = response.get(200, response.get("200"))
        if isinstance(response, OpenApiResponse):
            response = response.response
        try:
            fields = force_instance(response).fields
        except AttributeError:
            return False
        return PAGE_FIELDS <= set(fields)

    def _requires_sign_in(self) -> bool:
        return any(not isinstance(p, AllowAny) for p in self.view.get_permissions())

    def implied_errors(self, operation: dict) -> list[int]:
        """The statuses the framework may answer for this operation, whatever its view does."""
        where = {parameter["in"] for parameter in operation.get("parameters", [])}
        body = "requestBody" in operation
        implied = []
        if body or "query" in where:
            implied.append(400)
        if self._requires_sign_in():
            implied += [401, 403]
        if "path" in where or self._is_page():
            implied.append(404)
        if body:
            implied += [413, 415]
        return implied

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self.implied_errors(operation):
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    error_doc(STANDARD_ERRORS[code]), str(code)
                )
        operation["responses"] = dict(sorted(responses.items()))
        return operation
