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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from PIL import Image

from monitoring.backends.baidu import (
    BAIDU_APIS,
    BODY_ATTR_TYPES,
    BODY_SEG_TYPES,
    DRIVER_BEHAVIOUR_TYPES,
    MAX_AREAS,
    MIN_TRACKING_POINTS,
)
from monitoring.backends.base import BackendError, BadRequest, InvalidImage
from monitoring.backends.geometry import parse_area
from monitoring.backends.images import BAIDU
from monitoring.lib.geometry import Polygon

from . import analysis, limits
from .common import b64decode, json_response, open_image, read_body, sandbox_view, upright
from .examples import example

VENDOR = "baidu"

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

# `错误码` > `错误码信息`: the messages the service sends.
ERROR_MESSAGES: dict[int, str] = {
    3: "Unsupported openapi method",
    14: "IAM Certification failed",
    17: "Open api daily request limit reached",
    18: "Open api qps request limit reached",
    19: "Open api total request limit reached",
    100: "Invalid parameter",
    110: "Access token invalid or no longer valid",
    111: "Access token expired",
    216100: "invalid param",
    216101: "not enough param",
    216200: "empty image",
    216201: "image format error",
    216202: "image size error",
    216203: "image size error",  # the table's own wording; the description: base64 is bad
    216630: "recognize error",
}


def now() -> float:
    """The clock tokens and signatures are checked against (tests move it)."""
    return time.time()


def log_id() -> int:
    return secrets.randbits(62)


def error(code: int, status: int = 200) -> HttpResponse:
    return json_response(
        {"error_code": code, "error_msg": ERROR_MESSAGES[code], "log_id": log_id()}, status
    )


class _Refused(Exception):
    """Stop handling the request and send ``response``."""

    def __init__(self, response: HttpResponse):
        super().__init__()
        self.response = response


def _refuse(code: int) -> _Refused:
    return _Refused(error(code))


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


# ---------------------------------------------------------------- request parameters


@dataclass
class _Call:
    api: str
    form: dict[str, str]
    raw: bytes
    credential: str
    image: Image.Image | None = None
    image_bytes: bytes = b""


def _form(raw: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(name, value)
    return fields


def _encoded_length(raw: bytes, name: str) -> int:
    """Length of the field's value as sent, still urlencoded (`请求限制`: "base64编码和
    urlencode后大小不超过4M")."""
    prefix = name.encode("ascii") + b"="
    for part in raw.split(b"&"):
        if part.startswith(prefix):
            return len(part) - len(prefix)
    return 0


def _load_image(call: _Call) -> None:
    """The ``image`` field, checked as `请求限制` and `错误码` say."""
    if "image" not in call.form:
        raise _refuse(216101)
    text = call.form["image"]
    if not text:
        raise _refuse(216200)
    if _encoded_length(call.raw, "image") > BAIDU.max_encoded_bytes:
        raise _refuse(216202)
    data = b64decode(text)
    if data is None:
        raise _refuse(216203)
    image = open_image(data)
    if image is None or image.format not in BAIDU.formats:  # PNG、JPG、BMP only
        raise _refuse(216201)
    if min(image.size) < BAIDU.min_side or max(image.size) > BAIDU.max_side:
        raise _refuse(216202)
    call.image, call.image_bytes = upright(image), data


def _choices(call: _Call, name: str, allowed: frozenset[str] | tuple[str, ...]) -> list[str]:
    """A comma list of allowed values; [] when absent. Unknown values: 216100."""
    text = call.form.get(name, "").strip()
    if not text:
        return []
    values = [value.strip() for value in text.split(",") if value.strip()]
    if any(value not in allowed for value in values):
        raise _refuse(216100)
    return values


def _flag(call: _Call, name: str) -> bool:
    """``show``-style switches: "选true时返回...，其它无效值或为空则默认false"."""
    return call.form.get(name, "").strip().lower() == "true"


def _strict_bool(call: _Call, name: str) -> bool:
    value = call.form.get(name)
    if value is None:
        raise _refuse(216101)
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise _refuse(216100)
    return lowered == "true"


def _body_num_polygons(call: _Call) -> list[Polygon] | None:
    """`人流量统计` area: up to 10 polygons (more are cut to the first 10), coordinates from
    (1, 1) and below the image size. Empty, absent or wrong: None, and the whole image
    is counted ("此参数为空或无此参数、或area参数设置错误时，默认识别整个图片的人数")."""
    text = call.form.get("area", "")
    try:
        polygons = parse_area(text)[:MAX_AREAS]
    except ValueError:
        return None
    if not polygons or call.image is None:
        return None
    width, height = call.image.size
    for polygon in polygons:
        for x, y in polygon:
            if not (1 <= x < width and 1 <= y < height):
                return None
    return polygons


def _area_text(polygons: list[Polygon]) -> str:
    """Polygons written back as an area string, coordinates unrounded."""
    return ";".join(",".join(f"{x:.10g},{y:.10g}" for x, y in polygon) for polygon in polygons)


def _tracking_polygon(call: _Call, required: bool) -> Polygon | None:
    """`人流量统计-动态版` area: one polygon of more than 3 points, inside the image."""
    text = call.form.get("area", "")
    if not text.strip():
        if required:
            raise _refuse(216101)
        return None
    try:
        polygons = parse_area(text)
    except ValueError:
        raise _refuse(216100) from None
    if len(polygons) != 1 or len(polygons[0]) < MIN_TRACKING_POINTS or call.image is None:
        raise _refuse(216100)
    width, height = call.image.size
    if any(not (0 <= x < width and 0 <= y < height) for x, y in polygons[0]):
        raise _refuse(216100)
    return polygons[0]


# ---------------------------------------------------------------- answers


def _run(capability: str, call: _Call, params: dict[str, Any] | None = None):
    """The analyzer's answer for the image sent (None: it declines, replay instead)."""
    try:
        return analysis.run(capability, [call.image_bytes], params)
    except InvalidImage:
        raise _refuse(216201) from None
    except BadRequest:
        raise _refuse(216100) from None
    except BackendError:  # it failed on an image the checks let through: "识别错误"
        raise _refuse(216630) from None


def _replay(api: str) -> HttpResponse:
    answer = example(VENDOR, api)
    answer["log_id"] = log_id()
    return json_response(answer, replay=True)


def _analyzed(answer: dict[str, Any]) -> HttpResponse:
    return json_response({"log_id": log_id(), **answer}, analyzed=True)


def _answer_body_num(call: _Call) -> HttpResponse:
    polygons = _body_num_polygons(call)
    show = _flag(call, "show")
    if not analysis.can("body_num"):
        return _replay("body_num")
    params = {"area": _area_text(polygons)} if polygons else None
    result = _run("body_num", call, params)
    if result is None:
        return _replay("body_num")
    answer: dict[str, Any] = {"person_num": analysis.person_count(result)}
    if polygons:
        counts = [int(count) for count in result.area_counts]
        answer["area_counts"] = (counts + [0] * len(polygons))[: len(polygons)]
    if show and call.image is not None:
        boxes = [(box, "") for box, _ in analysis.person_boxes(result)]
        answer["image"] = analysis.render(
            call.image, boxes, polygons or (), f"person_num: {answer['person_num']}"
        )
    return _analyzed(answer)


def _answer_body_attr(call: _Call) -> HttpResponse:
    wanted = _choices(call, "type", BODY_ATTR_TYPES)
    result = _run("persons", call) if analysis.can("persons") else None
    if result is None:
        answer = example(VENDOR, "body_attr")
        if wanted:
            for person in answer.get("person_info", []):
                attributes = person.get("attributes", {})
                person["attributes"] = {k: v for k, v in attributes.items() if k in wanted}
        answer["log_id"] = log_id()
        return json_response(answer, replay=True)
    # Person boxes come from the image sent. The analyzer judges no attribute, and
    # ``attributes`` is optional in `返回参数` ("是否必选: 否"): it is left out.
    persons = [
        {"location": analysis.location(box, score)} for box, score in analysis.person_boxes(result)
    ]
    return _analyzed({"person_num": len(persons), "person_info": persons})


def _answer_body_seg(call: _Call) -> HttpResponse:
    wanted = _choices(call, "type", BODY_SEG_TYPES) or list(BODY_SEG_TYPES)
    answer = example(VENDOR, "body_seg")
    for name in BODY_SEG_TYPES:
        if name not in wanted:
            answer.pop(name, None)
    answer["log_id"] = log_id()
    return json_response(answer, replay=True)


def _answer_driver_behavior(call: _Call) -> HttpResponse:
    wanted = _choices(call, "type", DRIVER_BEHAVIOUR_TYPES)
    answer = example(VENDOR, "driver_behavior")
    if wanted:
        for person in answer.get("person_info", []):
            if "attributes" in person:
                person["attributes"] = {
                    k: v for k, v in person["attributes"].items() if k in wanted
                }
    answer["log_id"] = log_id()
    return json_response(answer, replay=True)


def _answer_body_tracking(call: _Call) -> HttpResponse:
    dynamic = _strict_bool(call, "dynamic")
    params: dict[str, Any] = {"dynamic": "true" if dynamic else "false"}
    if dynamic:
        case_id = call.form.get("case_id")
        if case_id is None or "case_init" not in call.form:
            raise _refuse(216101)
        try:
            number = int(case_id.strip())
        except ValueError:
            raise _refuse(216100) from None
        if not -(2**31) <= number < 2**31:  # an int32
            raise _refuse(216100)
        # Cases are per application: two key pairs may both use case 1.
        owner = hashlib.sha256(call.credential.encode("utf-8")).hexdigest()[:12]
        params["case_id"] = f"sandbox-{owner}-{number}"
        params["case_init"] = "true" if _strict_bool(call, "case_init") else "false"
    area = _tracking_polygon(call, required=dynamic)
    if area is not None:
        params["area"] = _area_text([area])
    if not analysis.can("body_tracking"):
        return _replay("body_tracking")
    result = _run("body_tracking", call, params)
    if result is None:
        return _replay("body_tracking")
    if dynamic:
        persons = [
            {"ID": person.track_id, "location": analysis.location(person.box)}
            for person in result.persons
        ]
        flow = {"in": int(result.flow_in or 0), "out": int(result.flow_out or 0)}
        labelled = [(person.box, str(person.track_id)) for person in result.persons]
    else:
        # Static counting ("只统计区域内的人，缺省时为全图统计"): a count, no tracks, no flow,
        # as the seed's example "检测到2个人，无轨迹，无人进出区域" answers.
        persons, flow = [], {"in": 0, "out": 0}
        labelled = [(person.box, "") for person in result.persons]
    answer: dict[str, Any] = {
        "person_num": analysis.person_count(result),
        "person_info": persons,
        "person_count": flow,
    }
    if _flag(call, "show") and call.image is not None:
        answer["image"] = analysis.render(
            call.image,
            labelled,
            [area] if area is not None else (),
            f"in: {flow['in']} out: {flow['out']}",
        )
    return _analyzed(answer)


def _answer_replay(api: str) -> Callable[[_Call], HttpResponse]:
    def answer(call: _Call) -> HttpResponse:
        return _replay(api)

    return answer


# Which answer each API gets. ``body_analysis`` needs 21 keypoints per person, required in
# its `返回参数`, which the on-box analyzer cannot give: it is a replay, as are the APIs
# about gestures, hands, segmentation and drivers.
_ANSWERS: dict[str, Callable[[_Call], HttpResponse]] = {
    "body_analysis": _answer_replay("body_analysis"),
    "body_attr": _answer_body_attr,
    "body_num": _answer_body_num,
    "body_tracking": _answer_body_tracking,
    "gesture": _answer_replay("gesture"),
    "body_seg": _answer_body_seg,
    "driver_behavior": _answer_driver_behavior,
    "hand_analysis": _answer_replay("hand_analysis"),
    "fingertip": _answer_replay("fingertip"),
}

# ``/rest/2.0/<family>/v1/<api>``: the image APIs of `API文档`, and 危险行为识别, which
# `产品价格` names and the official SDK calls (``bodyDangerV1``).
IMAGE_FAMILY = "image-classify"
VIDEO_FAMILY = "video-classify"
VIDEO_APIS = ("body_danger",)


def _body_danger(call: _Call) -> HttpResponse:
    # Takes a video in ``data``. The seed documents no answer for it: the sandbox answers
    # an answer that claims nothing (its log id), marked as a replay.
    if "data" not in call.form:
        raise _refuse(216101)
    if not call.form["data"] or b64decode(call.form["data"]) is None:
        raise _refuse(216100)
    return json_response({"log_id": log_id()}, replay=True)


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
