"""Small helpers every REST API module shares: reading an id from the query string, and
the 409 answer for a change the current state does not allow."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers, status
from rest_framework.exceptions import APIException

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
