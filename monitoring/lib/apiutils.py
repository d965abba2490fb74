"""Small helpers every REST API module shares: reading an id from the query string, the
409 answer for a change the current state does not allow, and the JSON parser of every
endpoint (a body nested too deeply to parse is a 400, like any other bad JSON)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser as DrfJSONParser

# The largest id a database key holds (a signed 64-bit integer).
MAX_ID = 2**63 - 1


def parse_id(text: str | None) -> int | None:
    """A positive id written in ASCII digits and small enough for the database, or None."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def id_filter(request, name: str) -> int | None:
    """The id given as query parameter ``name``; None when absent; 400 when malformed."""
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    number = parse_id(value)
    if number is None:
        raise serializers.ValidationError(
            {name: [_("Give the id of a %(name)s, a whole number.") % {"name": name}]}
        )
    return number


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("The current state does not allow this change.")
    default_code = "conflict"


def too_deep_message() -> str:
    return _("The JSON is nested too deeply.")


class JSONParser(DrfJSONParser):
    """DRF's JSON parser, answering 400 instead of 500 to JSON nested deeper than Python's
    recursion limit (thousands of ``[``), which the standard parser raises
    ``RecursionError`` for."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(too_deep_message()) from None
