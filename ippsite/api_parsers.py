"""The API's JSON parser (DEFAULT_PARSER_CLASSES).

Apart from ippsite/api.py because DRF's APIView reads DEFAULT_PARSER_CLASSES when
rest_framework.views is imported, which ippsite/api.py does.
"""

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSON whose every string can be stored: a NUL (PostgreSQL text cannot hold one) or a
    lone surrogate (not UTF-8) anywhere, keys included, is 400 before any view sees it."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if not _storable(data):
            raise exceptions.ParseError(
                "JSON parse error - a string holds a NUL or is not valid Unicode text."
            )
        return data


def _storable(value) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True
