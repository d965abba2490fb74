"""Baidu's ``错误码`` tables mapped to typed errors, from an answer or an HTTP status."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from ..base import (
    AuthError,
    BackendError,
    BadRequest,
    QuotaExhausted,
    RateLimited,
    ServiceError,
    TokenExpired,
    TransportError,
    Unsupported,
)
from .apis import VENDOR

# ---------------------------------------------------------------- errors

# Every code of the `错误码` tables (the online `API文档` one and `服务端返回的错误码`).
ERROR_CLASSES: dict[int, type[BackendError]] = {
    1: ServiceError,  # Unknown error: "服务器内部错误，请再次请求"
    2: ServiceError,  # Service temporarily unavailable
    3: Unsupported,  # Unsupported openapi method: the API does not exist
    4: RateLimited,  # Open api request limit reached: cluster limit, "请再次请求"
    6: AuthError,  # No permission to access data: API not ticked for the app
    13: AuthError,  # Get service token failed
    14: AuthError,  # IAM Certification failed
    15: AuthError,  # app not exists or create failed
    17: QuotaExhausted,  # Open api daily request limit reached
    18: RateLimited,  # Open api qps request limit reached
    19: QuotaExhausted,  # Open api total request limit reached
    100: TokenExpired,  # Invalid parameter (access_token)
    110: TokenExpired,  # Access token invalid or no longer valid
    111: TokenExpired,  # Access token expired
    216100: BadRequest,  # invalid param
    216101: BadRequest,  # not enough param
    216102: Unsupported,  # service not support
    216103: BadRequest,  # param too long
    216110: AuthError,  # appid not exist
    216200: BadRequest,  # empty image
    216201: BadRequest,  # image format error
    216202: BadRequest,  # image size error
    216203: BadRequest,  # image base64 error
    216630: ServiceError,  # recognize error: "请再次请求"
    216634: ServiceError,  # detect error: "请再次请求"
    282000: ServiceError,  # internal error: "请再次请求"
    282003: BadRequest,  # missing parameters
    282004: BadRequest,  # invalid parameter(s)
    282005: BadRequest,  # batch processing error
    282006: BadRequest,  # batch task limit reached
    282114: BadRequest,  # url size error
    282808: BadRequest,  # request id not exist
    282809: BadRequest,  # result type error
    282810: ServiceError,  # image recognize error: "请再次请求"
    283300: BadRequest,  # Invalid argument
}

# What an admin should do, for the codes that need one.
_ERROR_HINTS: dict[int, str] = {
    6: "tick this API for the application in the Baidu console",
    14: "check the API key and secret key",
    15: "the application does not exist",
    17: "daily limit reached: no more calls to this API until tomorrow",
    19: "total limit reached: buy more or ask Baidu to raise the limit",
    216110: "the application id does not exist",
}

# China has one time zone and no daylight saving: the daily limit resets at midnight.
_BEIJING = timezone(timedelta(hours=8))


def _seconds_to_next_day(now: float) -> float:
    local = datetime.fromtimestamp(now, _BEIJING)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1.0, (midnight - local).total_seconds())


def error_from_answer(
    answer: Mapping[str, Any],
    *,
    api: str = "",
    http_status: int | None = None,
    now: float | None = None,
) -> BackendError:
    """The typed error for an answer carrying ``error_code``/``error_msg``.

    Codes not in the seed's table give a permanent ``BackendError``."""
    raw_code = answer.get("error_code")
    try:
        code: int | str = int(raw_code)
    except (TypeError, ValueError):
        code = str(raw_code)
    vendor_message = str(answer.get("error_msg", "")).strip() or "no message"
    error_class = ERROR_CLASSES.get(code, BackendError) if isinstance(code, int) else BackendError
    message = f"Baidu error {code}: {vendor_message}"
    hint = _ERROR_HINTS.get(code) if isinstance(code, int) else None
    if hint:
        message = f"{message} ({hint})"
    elif error_class is BackendError:
        message = f"{message} (not in the documented error table)"
    retry_after = None
    if code == 17:
        retry_after = _seconds_to_next_day(time.time() if now is None else now)
    return error_class(
        message,
        vendor=VENDOR,
        api=api,
        code=code,
        http_status=http_status,
        retry_after=retry_after,
        raw=dict(answer),
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_from_http(response: httpx.Response, api: str, answer: Any) -> BackendError:
    """An answer that is not a JSON object carrying ``error_code``, or not HTTP 200."""
    status = response.status_code
    detail = f"HTTP {status} from Baidu"
    kwargs: dict[str, Any] = {
        "vendor": VENDOR,
        "api": api,
        "http_status": status,
        "raw": answer if answer is not None else response.text[:500],
    }
    if status == 429:
        return RateLimited(detail, retry_after=_retry_after(response), **kwargs)
    if status >= 500:
        return ServiceError(detail, retry_after=_retry_after(response), **kwargs)
    if status in (401, 403):
        return AuthError(detail, **kwargs)
    if status >= 400:
        return BadRequest(detail, **kwargs)
    return TransportError(f"{detail}: the answer is not a JSON object", **kwargs)
