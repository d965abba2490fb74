"""Client for Baidu Body Analysis, online API (``aip.baidubce.com``).

This module owns, for the online API only (the private deployment is ``baidu_private``):

- ``BAIDU_APIS``: every API of the seed's ``API文档``, its path and the parameters it
  takes besides ``image``;
- ``TokenManager``: the access token of ``调用方式一``, fetched from ``/oauth/2.0/token``,
  cached in a shared ``Store`` so that every process with the same store reuses one
  token, refreshed before it runs out, dropped on demand;
- ``BaiduClient``: one request per attempt (``POST .../<api>?access_token=...`` with a
  form-urlencoded body), parameters checked before anything leaves, fence areas scaled
  from the original frame into the frame sent, the seed's ``错误码`` table mapped to typed
  errors, retries, breaker and per-attempt hooks from ``base``, and the per-camera case
  state of ``body_tracking`` (``BaiduClient.track``);
- ``normalize_answer``: a vendor answer turned into an ``AnalysisResult``.

Seed: ``seeds/baidu-body-analysis.txt``; comments quote its section headings.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from monitoring.lib.geometry import Polygon

from .base import (
    PER_CALL,
    AnalysisResult,
    ApiSpec,
    Attribute,
    AuthError,
    BackendError,
    BadRequest,
    Box,
    CallHooks,
    CircuitBreaker,
    ClientSettings,
    DetectedObject,
    Driver,
    DriverBehaviour,
    InvalidImage,
    Keypoint,
    MemoryStore,
    Person,
    QuotaExhausted,
    RateLimited,
    RequestRecorder,
    ServiceError,
    Store,
    TokenExpired,
    TransportError,
    Unsupported,
    VendorTraits,
    call_with_retries,
    is_replay,
)
from .geometry import read_area
from .images import BAIDU, PreparedImage, prepare_image

__all__ = [
    "BAIDU_APIS",
    "BODY_ATTR_TYPES",
    "BODY_KEYPOINTS",
    "BODY_SEG_TYPES",
    "DRIVER_BEHAVIOUR_TYPES",
    "ERROR_CLASSES",
    "FINGERTIP_KEYPOINTS",
    "VENDOR",
    "AccessToken",
    "BaiduApi",
    "BaiduClient",
    "TokenManager",
    "error_from_answer",
    "is_valid_body",
    "normalize_answer",
    "tracking_case_id",
]

logger = logging.getLogger(__name__)

VENDOR = "baidu"
TOKEN_PATH = "/oauth/2.0/token"  # noqa: S105 (a path, not a secret)
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

# ---------------------------------------------------------------- the APIs


@dataclass(frozen=True)
class BaiduApi:
    """One online API: its name in ``call``, its path, the seed's heading for it and
    the parameters it takes besides ``image``."""

    name: str
    path: str
    title: str
    params: frozenset[str] = frozenset()


def _api(name: str, title: str, *params: str) -> BaiduApi:
    return BaiduApi(name, f"/rest/2.0/image-classify/v1/{name}", title, frozenset(params))


# Paths from each API's `请求说明` ("请求URL"); parameters from its `请求参数` table.
BAIDU_APIS: dict[str, BaiduApi] = {
    api.name: api
    for api in (
        _api("body_analysis", "人体关键点识别"),
        _api("body_attr", "人体检测和属性识别", "type"),
        _api("body_num", "人流量统计", "area", "show"),
        _api(
            "body_tracking", "人流量统计-动态版", "dynamic", "case_id", "case_init", "area", "show"
        ),
        _api("gesture", "手势识别"),
        _api("body_seg", "人像分割", "type"),
        _api("driver_behavior", "驾驶行为分析", "type", "wheel_location"),
        _api("hand_analysis", "手部关键点识别"),
        _api("fingertip", "指尖检测（邀测）"),
    )
}

# What each API needs and gives (one image per request everywhere; `请求参数` image).
BAIDU_SPECS: dict[str, ApiSpec] = {
    spec.name: spec
    for spec in (
        ApiSpec("body_analysis", results=frozenset({"persons", "person_count"})),
        ApiSpec("body_attr", results=frozenset({"persons", "person_count"})),
        ApiSpec(
            "body_num", region=True, results=frozenset({"person_count", "area_counts", "images"})
        ),
        ApiSpec(
            "body_tracking",
            region=True,
            results=frozenset({"persons", "person_count", "flow_in", "flow_out"}),
        ),
        ApiSpec("gesture", results=frozenset({"objects"})),
        ApiSpec("body_seg", results=frozenset({"images"})),
        ApiSpec("driver_behavior", results=frozenset({"drivers"})),
        ApiSpec("hand_analysis", results=frozenset({"objects"})),
        ApiSpec("fingertip", results=frozenset({"objects"})),
    )
}
assert set(BAIDU_SPECS) == set(BAIDU_APIS)

# Paid per successful call in graduated tiers, after a free trial quota per API.
TRAITS = VendorTraits(
    name=VENDOR,
    billing=PER_CALL,
    free_quota="trial",
    sells_qps=True,
    default_base_url="https://aip.baidubce.com",
)

# `人体关键点识别` > `接口描述`: "头顶、左耳、右耳、左眼、右眼、鼻子、左嘴角、右嘴角、脖子、左肩、
# 右肩、左手肘、右手肘、左手腕、右手腕、左髋部、右髋部、左膝、右膝、左脚踝、右脚踝", with the
# field names of `返回参数` (body_parts). More may come ("正在持续扩展更多关键点"): parts
# not listed here are kept after these, by name.
BODY_KEYPOINTS: tuple[str, ...] = (
    "top_head",
    "left_ear",
    "right_ear",
    "left_eye",
    "right_eye",
    "nose",
    "left_mouth_corner",
    "right_mouth_corner",
    "neck",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

# `人体检测和属性识别` > `请求参数` type: the values of its "可选值范围" column plus
# side_cut, which only its "可选值说明" names.
BODY_ATTR_TYPES: frozenset[str] = frozenset(
    {
        "gender",
        "age",
        "lower_wear",
        "upper_wear",
        "headwear",
        "face_mask",
        "glasses",
        "upper_color",
        "lower_color",
        "cellphone",
        "upper_wear_fg",
        "upper_wear_texture",
        "lower_wear_texture",
        "orientation",
        "umbrella",
        "bag",
        "smoke",
        "vehicle",
        "carrying_item",
        "upper_cut",
        "lower_cut",
        "side_cut",
        "occlusion",
        "is_human",
    }
)

# `人像分割` > `请求参数` type.
BODY_SEG_TYPES: tuple[str, ...] = ("labelmap", "scoremap", "foreground")

# `驾驶行为分析` > `请求参数` type.
DRIVER_BEHAVIOUR_TYPES: tuple[str, ...] = (
    "smoke",
    "cellphone",
    "not_buckling_up",
    "both_hands_leaving_wheel",
    "not_facing_front",
    "no_face_mask",
    "yawning",
    "eyes_closed",
    "head_lowered",
)

# `指尖检测（邀测）` > `返回参数` hand_parts: 0 食指指尖, 1 食指中间关节, 2 食指指根,
# 3 中指中间关节, 4 中指指根.
FINGERTIP_KEYPOINTS: tuple[str, ...] = (
    "index_tip",
    "index_middle_joint",
    "index_base",
    "middle_middle_joint",
    "middle_base",
)

# `body_num` > `请求参数` area: "最多支持10个区域".
MAX_AREAS = 10
# `人流量统计-动态版` > `请求参数` area: "大于3个顶点", "只支持单个多边形区域".
MIN_TRACKING_POINTS = 4
CASE_ID_MAX = 2**31 - 1  # case_id is an int32

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


# ---------------------------------------------------------------- the access token


@dataclass(frozen=True)
class AccessToken:
    """A token and the wall-clock times (``time.time()``) that govern its use."""

    value: str
    expires_at: float
    refresh_at: float
    scope: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.value,
            "expires_at": self.expires_at,
            "refresh_at": self.refresh_at,
            "scope": self.scope,
        }

    @classmethod
    def from_dict(cls, value: Any) -> AccessToken | None:
        if not isinstance(value, Mapping):
            return None
        try:
            return cls(
                value=str(value["access_token"]),
                expires_at=float(value["expires_at"]),
                refresh_at=float(value["refresh_at"]),
                scope=str(value.get("scope", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _hashed(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


class TokenManager:
    """The access token for one API key (seed: `调用方式一`, "Access Token获取").

    ``GET {base_url}/oauth/2.0/token?grant_type=client_credentials&client_id=AK&
    client_secret=SK``, as the seed's example and the official SDK do. The token is kept
    in ``store`` under a key hashed from the token endpoint and the API key, so every
    process sharing the store (Django's cache) shares one token. It is refreshed when
    less than ``min(1 day, 10% of expires_in)`` of its life remains ("access_token的有效期为
    30天，切记需要每30天进行定期更换"); if the refresh fails for a reason that may pass,
    the old token is used while it lasts.

    Each process keeps a copy for ``local_ttl`` seconds so that the store is not read on
    every call; ``invalidate`` drops both. A refused key pair (HTTP 401
    ``invalid_client``, or any ``error`` in the answer) raises ``AuthError``.
    """

    REFRESH_MARGIN = 86_400.0  # at most one day before expiry
    REFRESH_FRACTION = 0.1  # or 10% of the lifetime, whichever is shorter
    DEFAULT_EXPIRES_IN = 2_592_000  # 30 days
    RETRY_PAUSE = 30.0  # after a failed refresh, while the old token still works

    def __init__(
        self,
        settings: ClientSettings,
        *,
        http: httpx.Client | None = None,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
        local_ttl: float = 60.0,
    ):
        self.settings = settings
        self.url = settings.base_url.rstrip("/") + TOKEN_PATH
        self.store: Store = store if store is not None else MemoryStore()
        self.clock = clock
        self.local_ttl = local_ttl
        self.key = f"baidu:token:{_hashed(self.url, settings.api_key)}"
        self._own_http = http is None
        self._http = http or httpx.Client(timeout=_timeout(settings))
        self._timeout = _timeout(settings)
        self._lock = threading.Lock()
        self._local: tuple[str, float] | None = None  # (token, use it until)

    def token(self) -> str:
        """A token that is valid now: the process's copy, the store's, or a new one."""
        local = self._local
        if local is not None and self.clock() < local[1]:
            return local[0]
        with self._lock:
            local = self._local
            now = self.clock()
            if local is not None and now < local[1]:
                return local[0]
            cached = AccessToken.from_dict(self.store.get(self.key))
            if cached is not None and now < cached.refresh_at:
                return self._adopt(cached, now)
            try:
                fresh = self.fetch()
            except BackendError as error:
                if error.retryable and cached is not None and now < cached.expires_at:
                    logger.warning("Baidu token refresh failed, still using the old one: %s", error)
                    use_until = min(cached.expires_at, now + self.RETRY_PAUSE)
                    self._local = (cached.value, use_until)
                    return cached.value
                raise
            self.store.set(self.key, fresh.as_dict(), timeout=max(1.0, fresh.expires_at - now))
            return self._adopt(fresh, now)

    def _adopt(self, token: AccessToken, now: float) -> str:
        self._local = (token.value, min(token.refresh_at, now + self.local_ttl))
        return token.value

    def invalidate(self, token: str | None = None) -> None:
        """Drop the cached token. With ``token``, drop it only if it is still the one
        cached, so that a token another process already renewed is kept."""
        with self._lock:
            self._local = None
            if token is not None:
                cached = AccessToken.from_dict(self.store.get(self.key))
                if cached is not None and cached.value != token:
                    return
            self.store.delete(self.key)

    def fetch(self) -> AccessToken:
        """Ask Baidu for a new token (not cached: ``token()`` does that)."""
        params = {
            "grant_type": "client_credentials",
            "client_id": self.settings.api_key,
            "client_secret": self.settings.secret_key,
        }
        started = self.clock()
        try:
            response = self._http.get(self.url, params=params, timeout=self._timeout)
        except httpx.TimeoutException as error:
            raise TransportError(
                f"token request timed out: {type(error).__name__}", vendor=VENDOR, api="token"
            ) from None
        except httpx.HTTPError as error:
            raise TransportError(
                f"token request failed: {type(error).__name__}: {error}", vendor=VENDOR, api="token"
            ) from None
        try:
            answer = json.loads(response.content)
        except ValueError:
            answer = None
        status = response.status_code
        if isinstance(answer, dict) and "error" in answer and status < 500:
            description = answer.get("error_description", "")
            raise AuthError(
                f"Baidu refused the API key and secret key: {answer['error']}"
                + (f" ({description})" if description else ""),
                vendor=VENDOR,
                api="token",
                code=str(answer["error"]),
                http_status=status,
                raw=answer,
            )
        if isinstance(answer, dict) and answer.get("error_code") not in (None, 0):
            error = error_from_answer(answer, api="token", http_status=status)
            if isinstance(error, TokenExpired):
                error = AuthError(error.message, vendor=VENDOR, api="token", code=error.code)
            raise error
        if status != 200 or not isinstance(answer, dict):
            raise _error_from_http(response, "token", answer)
        value = answer.get("access_token")
        if not value:
            raise ServiceError(
                "token answer without access_token", vendor=VENDOR, api="token", raw=answer
            )
        try:
            expires_in = float(answer.get("expires_in", self.DEFAULT_EXPIRES_IN))
        except (TypeError, ValueError):
            expires_in = self.DEFAULT_EXPIRES_IN
        if not math.isfinite(expires_in) or expires_in <= 0:
            expires_in = self.DEFAULT_EXPIRES_IN
        scope = str(answer.get("scope", ""))
        if "brain_all_scope" not in scope.split():
            # The official SDK then signs requests instead (`调用方式二`); the token may
            # still be refused with error 6 if the application lacks the API.
            logger.warning("Baidu token scope lacks brain_all_scope: %r", scope)
        margin = min(self.REFRESH_MARGIN, expires_in * self.REFRESH_FRACTION)
        return AccessToken(
            value=str(value),
            expires_at=started + expires_in,
            refresh_at=started + expires_in - margin,
            scope=scope,
        )

    def close(self) -> None:
        if self._own_http:
            self._http.close()


def _timeout(settings: ClientSettings) -> httpx.Timeout:
    return httpx.Timeout(
        connect=settings.timeouts.connect,
        read=settings.timeouts.read,
        write=settings.timeouts.read,
        pool=settings.timeouts.read,
    )


# ---------------------------------------------------------------- parameters


def _bool_text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower()
    raise BadRequest(f"{name} must be true or false, not {value!r}", vendor=VENDOR)


def _choices_text(name: str, value: Any, allowed: Iterable[str]) -> str:
    """A comma-separated list of allowed values, from a string or a sequence."""
    allowed = tuple(allowed)
    items = value.split(",") if isinstance(value, str) else value
    try:
        items = [str(item).strip() for item in items]
    except TypeError:
        raise BadRequest(f"{name} must be a list or comma-separated text", vendor=VENDOR) from None
    unknown = [item for item in items if item not in allowed]
    if not items or unknown:
        raise BadRequest(
            f"{name}: unknown value(s) {unknown or items!r}; allowed: {', '.join(sorted(allowed))}",
            vendor=VENDOR,
        )
    return ",".join(dict.fromkeys(items))


def _wheel_location_text(value: Any) -> str:
    # `驾驶行为分析` > `请求参数` wheel_location: "1" left-hand drive (default), "0" right.
    if not isinstance(value, bool) and str(value).strip() in ("0", "1"):
        return str(value).strip()
    raise BadRequest(f"wheel_location must be 0 or 1, not {value!r}", vendor=VENDOR)


def _case_id_text(value: Any) -> str:
    # `人流量统计-动态版` > `请求参数` case_id: int32, chosen by the caller per stream.
    if isinstance(value, bool):
        raise BadRequest("case_id must be an integer", vendor=VENDOR)
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"case_id must be an integer, not {value!r}", vendor=VENDOR) from None
    if isinstance(value, float) and value != number:
        raise BadRequest(f"case_id must be an integer, not {value!r}", vendor=VENDOR)
    if not 0 <= number <= CASE_ID_MAX:
        raise BadRequest(f"case_id must be between 0 and {CASE_ID_MAX}", vendor=VENDOR)
    return str(number)


def _polygons(value: Any) -> list[Polygon]:
    """Polygons from an area string or from point lists (``geometry.read_area``)."""
    try:
        return read_area(value)
    except ValueError as error:
        raise BadRequest(f"area: {error}", vendor=VENDOR) from None


def _area_text(
    polygons: list[Polygon], prepared: PreparedImage, *, lowest: float, label: str
) -> str:
    """Check original-frame coordinates against ``lowest <= c < side`` and write them in
    pixels of the frame sent, kept within 1..side-1 (``(0, 0)`` is outside the image)."""
    width, height = prepared.original_width, prepared.original_height
    texts = []
    for index, polygon in enumerate(polygons, start=1):
        points = []
        for x, y in polygon:
            if not (lowest <= x < width and lowest <= y < height):
                raise BadRequest(
                    f"{label} polygon {index}: point ({x:g}, {y:g}) is outside "
                    f"{lowest:g}..{width - 1} x {lowest:g}..{height - 1} of the "
                    f"{width}x{height} image",
                    vendor=VENDOR,
                )
            sent_x, sent_y = prepared.to_sent(x, y)
            sent_x = min(max(round(sent_x), 1), prepared.width - 1)
            sent_y = min(max(round(sent_y), 1), prepared.height - 1)
            points.append(f"{sent_x},{sent_y}")
        texts.append(",".join(points))
    return ";".join(texts)


def _body_num_area(value: Any, prepared: PreparedImage) -> str:
    # `人流量统计` > `请求参数` area: up to 10 polygons; "area区域坐标需要从 (1, 1) 开始，
    # (0, 0) 属于图片边界之外"; a coordinate ">= 原图大小" makes the whole area invalid and
    # the service silently counts the whole image instead: refused here.
    polygons = _polygons(value)
    if not polygons:
        raise BadRequest("area holds no polygon", vendor=VENDOR)
    if len(polygons) > MAX_AREAS:
        raise BadRequest(f"area holds {len(polygons)} polygons; at most {MAX_AREAS}", vendor=VENDOR)
    return _area_text(polygons, prepared, lowest=1, label="area")


def _tracking_area(value: Any, prepared: PreparedImage) -> str:
    # `人流量统计-动态版` > `请求参数` area: one polygon of more than 3 points, "坐标取值不能
    # 超过图像宽度和高度，比如1280的宽度，坐标值最小建议从1开始，最大到1279".
    polygons = _polygons(value)
    if len(polygons) != 1:
        raise BadRequest(
            f"body_tracking area must be one polygon, not {len(polygons)}", vendor=VENDOR
        )
    if len(polygons[0]) < MIN_TRACKING_POINTS:
        raise BadRequest(
            f"body_tracking area needs at least {MIN_TRACKING_POINTS} points, "
            f"has {len(polygons[0])}",
            vendor=VENDOR,
        )
    return _area_text(polygons, prepared, lowest=0, label="area")


def _form_fields(api: BaiduApi, prepared: PreparedImage, params: Mapping[str, Any]) -> list:
    """The form fields besides ``image``, checked, in a stable order."""
    unknown = sorted(set(params) - api.params)
    if unknown:
        allowed = ", ".join(sorted(api.params)) or "none"
        raise BadRequest(
            f"{api.name} does not take {', '.join(unknown)} (takes: {allowed})",
            vendor=VENDOR,
            api=api.name,
        )
    fields: dict[str, str] = {}
    given = {name: value for name, value in params.items() if value is not None}
    try:
        if api.name == "body_attr" and "type" in given:
            fields["type"] = _choices_text("type", given["type"], BODY_ATTR_TYPES)
        elif api.name == "body_seg" and "type" in given:
            fields["type"] = _choices_text("type", given["type"], BODY_SEG_TYPES)
        elif api.name == "driver_behavior":
            if "type" in given:
                fields["type"] = _choices_text("type", given["type"], DRIVER_BEHAVIOUR_TYPES)
            if "wheel_location" in given:
                fields["wheel_location"] = _wheel_location_text(given["wheel_location"])
        elif api.name == "body_num":
            if "area" in given:
                fields["area"] = _body_num_area(given["area"], prepared)
            if "show" in given:
                fields["show"] = _bool_text("show", given["show"])
        elif api.name == "body_tracking":
            fields.update(_tracking_fields(given, prepared))
    except BadRequest as error:
        error.api = api.name
        raise
    return list(fields.items())


def _tracking_fields(given: Mapping[str, Any], prepared: PreparedImage) -> dict[str, str]:
    # `人流量统计-动态版` > `请求参数`: dynamic is required (sent as false when not given);
    # case_id, case_init and area are required when dynamic is true.
    fields = {"dynamic": _bool_text("dynamic", given.get("dynamic", False))}
    if fields["dynamic"] == "true":
        missing = [name for name in ("case_id", "case_init", "area") if name not in given]
        if missing:
            raise BadRequest(
                f"body_tracking with dynamic=true needs {', '.join(missing)}", vendor=VENDOR
            )
    if "case_id" in given:
        fields["case_id"] = _case_id_text(given["case_id"])
    if "case_init" in given:
        fields["case_init"] = _bool_text("case_init", given["case_init"])
    if "area" in given:
        fields["area"] = _tracking_area(given["area"], prepared)
    if "show" in given:
        fields["show"] = _bool_text("show", given["show"])
    return fields


def _form_body(fields: list[tuple[str, str]], image: bytes) -> bytes:
    """``urlencode(fields + [("image", base64(image))])``, the image part done in C.

    Standard base64 uses only letters, digits, ``+``, ``/`` and ``=``; form encoding
    (``quote_plus``) turns exactly those three into ``%2B``, ``%2F``, ``%3D``."""
    encoded = base64.b64encode(image)
    encoded = encoded.replace(b"+", b"%2B").replace(b"/", b"%2F").replace(b"=", b"%3D")
    head = urlencode(fields).encode("ascii")
    return (head + b"&image=" if head else b"image=") + encoded


# ---------------------------------------------------------------- normalization


def _num(value: Any, default: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _box(location: Any) -> Box:
    location = location if isinstance(location, Mapping) else {}
    return Box(
        left=_num(location.get("left")),
        top=_num(location.get("top")),
        width=_num(location.get("width")),
        height=_num(location.get("height")),
    )


def _keypoints(
    parts: Any, order: Sequence[str] = (), names: Mapping[str, str] | None = None
) -> list[Keypoint]:
    """Keypoints in ``order`` first, then any others by name (numerically if numbers)."""
    if not isinstance(parts, Mapping):
        return []
    rest = sorted(
        (name for name in parts if name not in order),
        key=lambda name: (0, int(name), "") if str(name).isdigit() else (1, 0, str(name)),
    )
    points = []
    for name in [*(name for name in order if name in parts), *rest]:
        part = parts[name]
        if not isinstance(part, Mapping):
            continue
        points.append(
            Keypoint(
                name=(names or {}).get(str(name), str(name)),
                x=_num(part.get("x")),
                y=_num(part.get("y")),
                score=_num(part.get("score")),
            )
        )
    return points


def _entries(answer: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = answer.get(key)
    return (
        [entry for entry in value if isinstance(entry, Mapping)] if isinstance(value, list) else []
    )


def _joined(entries: list[Mapping[str, Any]], content_key: str) -> list[Mapping[str, Any]]:
    """The `返回示例` of `驾驶行为分析` and `指尖检测（邀测）` put an entry's content and its
    location in two consecutive entries (the SDK documents keep them in one): join a
    content-only entry with a location-only entry right after it."""
    joined: list[Mapping[str, Any]] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        following = entries[index + 1] if index + 1 < len(entries) else None
        if (
            following is not None
            and content_key in entry
            and "location" not in entry
            and "location" in following
            and content_key not in following
        ):
            joined.append({**entry, **following})
            index += 2
        else:
            joined.append(entry)
            index += 1
    return joined


def _persons_with_keypoints(answer: Mapping[str, Any], result: AnalysisResult) -> None:
    # `人体关键点识别` > `返回参数`
    for info in _entries(answer, "person_info"):
        location = info.get("location") or {}
        result.persons.append(
            Person(
                box=_box(location),
                score=_num(location.get("score")),
                keypoints=_keypoints(info.get("body_parts"), BODY_KEYPOINTS),
            )
        )
    result.person_count = _int(answer.get("person_num"), len(result.persons))


def _persons_with_attributes(answer: Mapping[str, Any], result: AnalysisResult) -> None:
    # `人体检测和属性识别` > `返回参数`: attributes{<name>: {name, score}}
    for info in _entries(answer, "person_info"):
        location = info.get("location") or {}
        attributes = info.get("attributes")
        result.persons.append(
            Person(
                box=_box(location),
                score=_num(location.get("score")),
                attributes={
                    str(name): Attribute(
                        value=str(item.get("name", "")), score=_num(item.get("score"))
                    )
                    for name, item in (
                        attributes.items() if isinstance(attributes, Mapping) else ()
                    )
                    if isinstance(item, Mapping)
                },
            )
        )
    result.person_count = _int(answer.get("person_num"), len(result.persons))


def _crowd_count(answer: Mapping[str, Any], result: AnalysisResult) -> None:
    # `人流量统计` > `返回参数`: person_num, area_counts (only with a valid area), image
    result.person_count = _int(answer.get("person_num"), 0)
    counts = answer.get("area_counts")
    if isinstance(counts, list):
        result.area_counts = [_int(count, 0) or 0 for count in counts]
    if answer.get("image"):
        result.images["rendered"] = str(answer["image"])


def _tracks(answer: Mapping[str, Any], result: AnalysisResult) -> None:
    # `人流量统计-动态版` > `返回参数`: person_info[]{ID, location} (no score: a tracked
    # box counts as certain), person_count{in, out} for this frame only.
    for info in _entries(answer, "person_info"):
        location = info.get("location") or {}
        result.persons.append(
            Person(
                box=_box(location),
                score=_num(location.get("score"), 1.0),
                track_id=_int(info.get("ID")),
            )
        )
    result.person_count = _int(answer.get("person_num"), len(result.persons))
    flow = answer.get("person_count")
    if isinstance(flow, Mapping):
        result.flow_in = _int(flow.get("in"), 0)
        result.flow_out = _int(flow.get("out"), 0)
    if answer.get("image"):
        result.images["rendered"] = str(answer["image"])


def _gestures(answer: Mapping[str, Any], result: AnalysisResult) -> None:
    # `手势识别` > `返回参数`: result[]{classname, left, top, width, height, probability};
    # classname is one of the 24 gestures, "other" or "Face".
    for item in _entries(answer, "result"):
        result.objects.append(
            DetectedObject(
                label=str(item.get("classname", "")),
                box=_box(item),
                score=_num(item.get("probability")),
            )
        )


def _segmentation(answer: Mapping[str, Any], result: AnalysisResult) -> None:
    # `人像分割` > `返回参数`: labelmap/scoremap/foreground (base64 PNG), person_info[]
    # with the box fields directly in each entry.
    for name in BODY_SEG_TYPES:
        if answer.get(name):
            result.images[name] = str(answer[name])
    for info in _entries(answer, "person_info"):
        result.persons.append(Person(box=_box(info), score=_num(info.get("score"))))
    result.person_count = _int(answer.get("person_num"), len(result.persons))


def _drivers(answer: Mapping[str, Any], result: AnalysisResult) -> None:
    # `驾驶行为分析` > `返回参数`: person_info[]{location, attributes{<behaviour>:
    # {score, threshold}}}; "threshold" is the suggested one.
    for info in _joined(_entries(answer, "person_info"), "attributes"):
        location = info.get("location") or {}
        attributes = info.get("attributes")
        result.drivers.append(
            Driver(
                box=_box(location),
                score=_num(location.get("score")),
                behaviours=[
                    DriverBehaviour(
                        name=str(name),
                        score=_num(item.get("score")),
                        threshold=_num(item.get("threshold")),
                    )
                    for name, item in (
                        attributes.items() if isinstance(attributes, Mapping) else ()
                    )
                    if isinstance(item, Mapping)
                ],
            )
        )
    result.person_count = _int(answer.get("person_num"), len(result.drivers))


def _hands(answer: Mapping[str, Any], result: AnalysisResult, *, fingertip: bool) -> None:
    # `手部关键点识别` > `返回参数` location.score: "当前取值范围0-21，应用时可除以21进行归一化
    # 处理"; `指尖检测（邀测）` gives it as "取值范围0-1" and names its five points.
    for info in _joined(_entries(answer, "hand_info"), "hand_parts"):
        location = info.get("location") or {}
        score = _num(location.get("score"))
        if not fingertip:
            score = min(1.0, score / 21.0)
        names = (
            dict(zip(map(str, range(5)), FINGERTIP_KEYPOINTS, strict=True)) if fingertip else None
        )
        result.objects.append(
            DetectedObject(
                label="hand",
                box=_box(location),
                score=score,
                keypoints=_keypoints(info.get("hand_parts"), (), names),
            )
        )


_NORMALIZERS: dict[str, Callable[[Mapping[str, Any], AnalysisResult], None]] = {
    "body_analysis": _persons_with_keypoints,
    "body_attr": _persons_with_attributes,
    "body_num": _crowd_count,
    "body_tracking": _tracks,
    "gesture": _gestures,
    "body_seg": _segmentation,
    "driver_behavior": _drivers,
    "hand_analysis": lambda answer, result: _hands(answer, result, fingertip=False),
    "fingertip": lambda answer, result: _hands(answer, result, fingertip=True),
}


def normalize_answer(
    api: str,
    answer: Mapping[str, Any],
    *,
    frame_width: int | None = None,
    frame_height: int | None = None,
) -> AnalysisResult:
    """The ``AnalysisResult`` for a successful answer of ``api``. Boxes and keypoints
    stay in pixels of the frame that was sent; ``request_id`` is the answer's log_id."""
    if api not in _NORMALIZERS:
        raise Unsupported(f"unknown Baidu API {api!r}", vendor=VENDOR, api=api)
    log_id = answer.get("log_id")
    result = AnalysisResult(
        vendor=VENDOR,
        api=api,
        frame_width=frame_width,
        frame_height=frame_height,
        request_id="" if log_id is None else str(log_id),
        raw=answer,
    )
    _NORMALIZERS[api](answer, result)
    return result


def is_valid_body(person: Person, *, keypoint_score: float = 0.2, box_score: float = 0.03) -> bool:
    """The filter `人体关键点识别` > `返回说明` advises: "当关键点得分大于0.2的个数大于3，
    且人体框的得分大于0.03时，才认为是有效人体"."""
    confident = sum(1 for point in person.keypoints if point.score > keypoint_score)
    return confident > 3 and person.score > box_score


# ---------------------------------------------------------------- the client


def tracking_case_id(account: str, camera_key: str) -> int:
    """A stable int32 case_id for one camera's stream, the same in every process."""
    return int(_hashed(account, camera_key)[:12], 16) % CASE_ID_MAX + 1


@dataclass
class _CallState:
    attempts: int = 0
    token_renewed: bool = False
    replay: bool = False


class BaiduClient:
    """Calls the online Body Analysis APIs; thread-safe, one connection pool.

    ``call(api, image, **params)`` prepares the image (``images.BAIDU``), checks the
    parameters (``BadRequest`` before anything is sent), and returns the normalized
    result or raises a typed error. Areas (``body_num``, ``body_tracking``) are given in
    pixels of the original image, as text ``"x1,y1,...;x1,y1,..."`` or point lists.

    ``track(image, camera_key, area)`` is ``body_tracking`` for one camera's stream:
    see there. ``tracking_store`` (default: the token store) holds each camera's case
    state, so workers sharing a cache continue one case.
    """

    vendor = VENDOR
    traits = TRAITS
    api_specs = BAIDU_SPECS

    def __init__(
        self,
        settings: ClientSettings,
        *,
        hooks: CallHooks | None = None,
        token_store: Store | None = None,
        breaker: CircuitBreaker | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        tracking_store: Store | None = None,
        tracking_idle: float = 30.0,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.hooks = hooks or CallHooks()
        self.breaker = breaker
        self.sleep = sleep
        self._timeout = _timeout(settings)
        self._own_http = http is None
        self.http = http or httpx.Client(
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )
        self.tokens = TokenManager(settings, http=self.http, store=token_store, clock=clock)
        self.tracking_store: Store = (
            tracking_store if tracking_store is not None else self.tokens.store
        )
        self.tracking_idle = tracking_idle
        self._urls = {name: self.base_url + api.path for name, api in BAIDU_APIS.items()}
        self._headers = {"Content-Type": FORM_CONTENT_TYPE, "Accept": "application/json"}

    @classmethod
    def open(
        cls,
        settings: ClientSettings,
        *,
        hooks: CallHooks | None = None,
        store: Store | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> BaiduClient:
        """The registry's way to open a client (``store`` keeps tokens and cases)."""
        return cls(settings, hooks=hooks, token_store=store, breaker=breaker)

    # -- public

    def analyze(
        self, api: str, images: list[bytes], params: dict[str, Any] | None = None
    ) -> AnalysisResult:
        """``call`` in the registry's shape: one image per request."""
        return self.call(api, _only_image(api, images), **(params or {}))

    def call(self, api: str, image: bytes, **params: Any) -> AnalysisResult:
        """Analyse ``image`` with ``api`` (a key of ``BAIDU_APIS``) and its ``params``.

        Raises ``Unsupported`` for an unknown API, ``InvalidImage``/``BadRequest`` for
        input that cannot be sent (nothing leaves), or the typed error of the answer."""
        spec = BAIDU_APIS.get(api)
        if spec is None:
            raise Unsupported(
                f"unknown Baidu API {api!r}; known: {', '.join(BAIDU_APIS)}", vendor=VENDOR, api=api
            )
        try:
            prepared = prepare_image(image, BAIDU)
        except InvalidImage as error:
            error.vendor, error.api = VENDOR, api
            raise
        body = _form_body(_form_fields(spec, prepared, params), prepared.data)
        state = _CallState()
        answer = call_with_retries(
            lambda _number: self._attempt(api, body, state),
            self.settings.retry,
            sleep=self.sleep,
            breaker=self.breaker,
            account=self.settings.account,
            api=api,
        )
        result = normalize_answer(
            api, answer, frame_width=prepared.width, frame_height=prepared.height
        )
        result.replay = state.replay
        return result

    def track(
        self,
        image: bytes,
        camera_key: str,
        area: Any,
        *,
        show: bool = False,
        reset: bool = False,
    ) -> AnalysisResult:
        """One frame of camera ``camera_key`` to ``body_tracking`` with dynamic=true.

        ``case_id`` is ``tracking_case_id(account, camera_key)``. ``case_init`` is true on
        the first frame of a case, after ``reset=True`` or ``reset_tracking``, and after
        ``tracking_idle`` seconds without a successful frame (the seed asks for more than
        2 frames per second, so an old case would only mislead); a failed first frame is
        retried as a first frame. Track ids restart from 1 with every new case; in/out
        counts are per frame (sum them for totals)."""
        key = self._tracking_key(camera_key)
        if reset:
            self.tracking_store.delete(key)
        case_id = tracking_case_id(self.settings.account, camera_key)
        first_frame = self.tracking_store.get(key) is None
        result = self.call(
            "body_tracking",
            image,
            dynamic=True,
            case_id=case_id,
            case_init=first_frame,
            area=area,
            show=show,
        )
        self.tracking_store.set(key, {"case_id": case_id}, timeout=self.tracking_idle)
        return result

    def reset_tracking(self, camera_key: str) -> None:
        """Start a new case with the next frame of ``camera_key``."""
        self.tracking_store.delete(self._tracking_key(camera_key))

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> BaiduClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one attempt

    def _tracking_key(self, camera_key: str) -> str:
        return f"baidu:tracking:{_hashed(self.base_url, self.settings.account, camera_key)}"

    def _attempt(self, api: str, body: bytes, state: _CallState) -> dict[str, Any]:
        """One attempt of ``call_with_retries``: a request, and on a token error (100,
        110, 111) a new token and one more request; a second token error is permanent."""
        token = self.tokens.token()
        try:
            return self._send(api, body, token, state)
        except TokenExpired as error:
            if state.token_renewed:
                raise _token_refused(error) from None
            state.token_renewed = True
            self.tokens.invalidate(token)
        token = self.tokens.token()
        try:
            return self._send(api, body, token, state)
        except TokenExpired as error:
            raise _token_refused(error) from None

    def _send(self, api: str, body: bytes, token: str, state: _CallState) -> dict[str, Any]:
        """One HTTP request, reported to the hooks through one ``RequestRecorder``."""
        state.attempts += 1
        request = RequestRecorder(self.hooks, vendor=VENDOR, api=api, attempt=state.attempts)
        request.before()
        url = f"{self._urls[api]}?access_token={quote(token, safe='')}"
        response = request.post(
            self.http, url, content=body, headers=self._headers, timeout=self._timeout
        )
        answer, error = _read_answer(response, api)
        state.replay = is_replay(response)
        if error is not None:
            raise request.failed(error)
        request.succeeded()
        return answer


def _only_image(api: str, images: list[bytes]) -> bytes:
    if len(images) != 1:
        raise BadRequest(f"{api} takes one image, got {len(images)}", vendor=VENDOR, api=api)
    return images[0]


def _read_answer(response: httpx.Response, api: str) -> tuple[Any, BackendError | None]:
    """Errors come as HTTP 200 with error_code/error_msg (`错误码` > `错误返回格式`)."""
    try:
        answer = json.loads(response.content)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("error_code") not in (None, 0, "0"):
        return None, error_from_answer(answer, api=api, http_status=response.status_code)
    if response.status_code == 200 and isinstance(answer, dict):
        return answer, None
    return None, _error_from_http(response, api, answer)


def _token_refused(error: TokenExpired) -> AuthError:
    return AuthError(
        f"{error.message}, again with a new token",
        vendor=VENDOR,
        api=error.api,
        code=error.code,
        http_status=error.http_status,
        raw=error.raw,
    )
