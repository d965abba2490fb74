"""Credentials kept out of the logs: the values of query and form parameters that carry
vendor secrets (Baidu's token request sends ``client_id`` and ``client_secret`` in the
query string, every Baidu call its ``access_token``) are replaced by ``[redacted]``.

``RedactSecretsFilter`` does it for every log record (Django's ``django.server`` request
lines, tracebacks quoting a URL); ``RedactingAccessLog`` for Daphne's access log, which
is written outside the logging system (``python -m monitoring.serve`` runs Daphne with it).
"""

from __future__ import annotations

import logging
import re

from daphne.access import AccessLogGenerator

SECRET_PARAMETERS = (
    "client_id",
    "client_secret",
    "access_token",
    "refresh_token",
    "api_key",
    "secret_key",
    "app_key",
    "appkey",
    "password",
)
_PARAMETER = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(" + "|".join(SECRET_PARAMETERS) + r")(=|%3D)([^&\s\"'#]*)"
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _PARAMETER.sub(lambda match: f"{match[1]}{match[2]}{REDACTED}", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactingAccessLog(AccessLogGenerator):
    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None):
        super().write_entry(host, date, redact(request), status, length, ident, user)
