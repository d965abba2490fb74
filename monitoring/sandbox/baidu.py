"""The emulated Baidu Body Analysis online API, path for path under ``/sandbox/baidu/``.

- ``/oauth/2.0/token``: the access token of `调用方式一` (GET or POST,
  ``grant_type=client_credentials``; ``refresh_token`` too). Tokens are remembered in
  Django's cache and live ``expires_in`` = 30 days.
- ``/rest/2.0/image-classify/v1/<api>``: every API of `API文档` (and ``fingertip``), plus
  ``/rest/2.0/video-classify/v1/body_danger`` that the official SDK also calls. ``POST``,
  form-urlencoded, authenticated by ``?access_token=`` or by `调用方式二` request signing
  (``authorization: bce-auth-v1/...``, what the official SDK falls back to).

Errors are HTTP 200 with ``{"error_code", "error_msg", "log_id"}`` using the codes and
messages of the seed's `错误码` table. Answers come from the on-box analyzer run on the
image actually sent; what it cannot judge is the seed's `返回示例` for that API, marked
``X-Sandbox-Replay: true``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from monitoring.backends.baidu import BAIDU_APIS
from monitoring.backends.images import BAIDU

from . import limits
from .baidu_calls import (
    _ANSWERS,
    VENDOR,
    _body_danger,
    _Call,
    _form,
    _load_image,
    _refuse,
    _Refused,
    error,
)
from .common import json_response, read_body, sandbox_view

# `调用方式一`: "access_token的有效期为30天".
TOKEN_LIFETIME = 2_592_000
REFRESH_LIFETIME = 315_360_000  # the ten years real refresh tokens carry
# An expired token is still recognised (error 111, not 110) this long after it expires.
EXPIRED_TOKEN_MEMORY = 7 * 24 * 3600
# The seed shows no token answer; the SDK only needs "brain_all_scope" among the scopes
# (otherwise it signs requests instead, `调用方式二`). The others are those a new AI
# application's token carries.
GRANTED_SCOPES = (
    "public brain_all_scope wise_adapt lebo_resource_base lightservice_public "
    "hetu_basic lightcms_map_poi kaidian_kaidian"
)

# A form body is the image (4 MB once encoded, `请求限制`) plus a few short fields.
MAX_FORM_BODY = 2 * BAIDU.max_encoded_bytes
# `调用方式二`: the SDK signs with an expiry of 1800 s; clocks may disagree a little.
BCE_CLOCK_SKEW = 900


def now() -> float:
    """The clock tokens and signatures are checked against (tests move it)."""
    return time.time()


# ---------------------------------------------------------------- the access token


def _token_key(kind: str, value: str) -> str:
    return f"sandbox:baidu:{kind}:{hashlib.sha256(value.encode('utf-8')).hexdigest()}"


def _key_pair() -> tuple[str, str]:
    return settings.SANDBOX["BAIDU_API_KEY"], settings.SANDBOX["BAIDU_SECRET_KEY"]


def _key_pair_id(api_key: str, secret_key: str) -> str:
    """Tokens belong to one key pair: changing either key invalidates them."""
    return hashlib.sha256(f"{api_key}\n{secret_key}".encode()).hexdigest()


def _app_id(api_key: str) -> int:
    return int(hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:8], 16) % 100_000_000


def _oauth_error(status: int, code: str, description: str) -> HttpResponse:
    # The token endpoint speaks OAuth 2.0 (RFC 6749, 5.2), not the `错误码` format.
    return json_response({"error": code, "error_description": description}, status)


def _issue(api_key: str, secret_key: str) -> dict[str, Any]:
    issued = now()
    expires_at = int(issued) + TOKEN_LIFETIME
    app = _app_id(api_key)
    # Shaped like real tokens: "24.<hex>.<expires_in>.<expiry>.<...>-<app id>".
    access = f"24.{secrets.token_hex(16)}.{TOKEN_LIFETIME}.{expires_at}.282335-{app}"
    refresh = (
        f"25.{secrets.token_hex(16)}.{REFRESH_LIFETIME}."
        f"{int(issued) + REFRESH_LIFETIME}.282335-{app}"
    )
    pair = _key_pair_id(api_key, secret_key)
    cache.set(
        _token_key("token", access),
        {"api_key": api_key, "pair": pair, "expires_at": expires_at},
        TOKEN_LIFETIME + EXPIRED_TOKEN_MEMORY,
    )
    cache.set(
        _token_key("refresh", refresh),
        {"api_key": api_key, "pair": pair},
        365 * 24 * 3600,
    )
    return {
        "refresh_token": refresh,
        "expires_in": TOKEN_LIFETIME,
        "session_key": base64.b64encode(secrets.token_bytes(66)).decode("ascii"),
        "access_token": access,
        "scope": GRANTED_SCOPES,
        "session_secret": secrets.token_hex(16),
    }


def _token_params(request: HttpRequest) -> dict[str, str]:
    """Query parameters, and for POST the form fields too (the query wins)."""
    params: dict[str, str] = {}
    if request.method == "POST":
        body = read_body(request, 64 * 1024) or b""
        for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            params.setdefault(name, value)
    for name in request.GET:
        params[name] = request.GET[name]
    return params


@sandbox_view
def token(request: HttpRequest) -> HttpResponse:
    """``/oauth/2.0/token`` (`调用方式一`, "Access Token获取")."""
    if request.method not in ("GET", "POST"):
        return _oauth_error(400, "invalid_request", "GET or POST only")
    params = _token_params(request)
    grant_type = params.get("grant_type", "")
    if not grant_type:
        return _oauth_error(400, "invalid_request", "missing grant_type")
    if grant_type not in ("client_credentials", "refresh_token"):
        return _oauth_error(
            400, "unsupported_grant_type", "The authorization grant type is not supported"
        )
    api_key, secret_key = _key_pair()
    client_id = params.get("client_id", "")
    if not client_id or not hmac.compare_digest(client_id.encode(), api_key.encode()):
        return _oauth_error(401, "invalid_client", "unknown client id")
    client_secret = params.get("client_secret", "")
    if not hmac.compare_digest(client_secret.encode(), secret_key.encode()):
        return _oauth_error(401, "invalid_client", "Client authentication failed")
    if grant_type == "refresh_token":
        refresh = params.get("refresh_token", "")
        record = cache.get(_token_key("refresh", refresh)) if refresh else None
        if not record or record.get("pair") != _key_pair_id(api_key, secret_key):
            return _oauth_error(400, "invalid_grant", "Invalid refresh token")
        cache.delete(_token_key("refresh", refresh))
    return json_response(_issue(api_key, secret_key))


def _check_token(value: str) -> str:
    """The API key a token was issued to; raises 110 (unknown) or 111 (expired)."""
    record = cache.get(_token_key("token", value))
    api_key, secret_key = _key_pair()
    if not isinstance(record, dict) or record.get("pair") != _key_pair_id(api_key, secret_key):
        raise _refuse(110)
    if float(record["expires_at"]) <= now():
        raise _refuse(111)
    return str(record["api_key"])


# ---------------------------------------------------------------- `调用方式二` signing


def _bce_canonical_request(request: HttpRequest, signed_headers: list[str]) -> str | None:
    """Method, URI, query and the signed headers, the way bce-auth-v1 canonicalises them."""
    query = sorted(
        urlencode([(name, value)])
        for name, values in request.GET.lists()
        for value in values
        if name.lower() != "authorization"
    )
    headers = []
    for name in signed_headers:
        value = request.headers.get(name)
        if value is None:
            return None
        headers.append(f"{quote(name.strip(), '').lower()}:{quote(value.strip(), '')}")
    return "\n".join(
        [request.method or "POST", quote(request.path), "&".join(query), "\n".join(sorted(headers))]
    )


def _check_signature(request: HttpRequest, authorization: str) -> str:
    """The API key of a ``bce-auth-v1/{ak}/{timestamp}/{expiry}/{headers}/{signature}``
    request; raises 14 (IAM Certification failed) when it does not verify."""
    parts = authorization.strip().split("/")
    if len(parts) != 6 or parts[0] != "bce-auth-v1":
        raise _refuse(14)
    _, access_key, timestamp, expiry, header_list, signature = parts
    api_key, secret_key = _key_pair()
    if not hmac.compare_digest(access_key.encode(), api_key.encode()):
        raise _refuse(14)
    try:
        signed_at = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        lifetime = int(expiry)
    except ValueError:
        raise _refuse(14) from None
    age = now() - signed_at.timestamp()
    if age > lifetime + BCE_CLOCK_SKEW or age < -BCE_CLOCK_SKEW:
        raise _refuse(14)
    signed_headers = [name for name in header_list.split(";") if name]
    if "host" not in signed_headers:
        raise _refuse(14)
    canonical = _bce_canonical_request(request, signed_headers)
    if canonical is None:
        raise _refuse(14)
    prefix = f"bce-auth-v1/{access_key}/{timestamp}/{expiry}"
    signing_key = hmac.new(secret_key.encode(), prefix.encode(), hashlib.sha256).hexdigest()
    expected = hmac.new(signing_key.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise _refuse(14)
    return api_key


def _authenticate(request: HttpRequest) -> str:
    """The API key the request is made with (`调用方式一` or `调用方式二`)."""
    value = request.GET.get("access_token")
    if value is None:
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("bce-auth-v1/"):
            return _check_signature(request, authorization)
        raise _refuse(100)
    if not value:
        raise _refuse(100)
    return _check_token(value)


def _apply_limits(api_key: str, api: str) -> None:
    """18 QPS, 17 daily and 19 total limits. Every authenticated call counts, failed ones
    too (`产品价格` > `免费测试资源`: "成功调用与失败调用均消耗免费测试量")."""
    if not limits.within_qps(VENDOR, api_key, api):
        raise _refuse(18)
    if not limits.within_daily_quota(VENDOR, api_key, api):
        raise _refuse(17)
    if not limits.take_total_quota(VENDOR, api_key, api):
        raise _refuse(19)


# ``/rest/2.0/<family>/v1/<api>``: the image APIs of `API文档`, and 危险行为识别, which
# `产品价格` names and the official SDK calls (``bodyDangerV1``).
IMAGE_FAMILY = "image-classify"
VIDEO_FAMILY = "video-classify"
VIDEO_APIS = ("body_danger",)


def _known(family: str, api: str) -> bool:
    if family == IMAGE_FAMILY:
        return api in BAIDU_APIS and api in _ANSWERS
    return family == VIDEO_FAMILY and api in VIDEO_APIS


@sandbox_view
def call_api(request: HttpRequest, family: str, api: str) -> HttpResponse:
    """``POST /rest/2.0/<family>/v1/<api>?access_token=...`` with a form body."""
    if request.method != "POST" or not _known(family, api):
        return error(3)
    raw = read_body(request, MAX_FORM_BODY)
    if raw is None:
        return error(216202)
    try:
        credential = _authenticate(request)
        _apply_limits(credential, api)
        call = _Call(api=api, form=_form(raw), raw=raw, credential=credential)
        if family == VIDEO_FAMILY:
            return _body_danger(call)
        _load_image(call)
        return _ANSWERS[api](call)
    except _Refused as refused:
        return refused.response


@sandbox_view
def unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path: "调用的API不存在" (3)."""
    return error(3)
