"""CTYun "Safety Production" (天翼云安全生产) client.

This module owns everything specific to that vendor: EOP request signing
(``eop_authorization``, ``signed_headers``), the table of APIs it offers (``CTYUN_APIS``),
checking a request before it leaves (image counts, request sizes, fence areas), turning
answers into ``AnalysisResult`` and every documented answer code into a typed error.

Rules come from the vendor's manual, cited by its section headings (``4.1.3 状态码``,
``4.1.2 构造请求``, ``4.1.3 认证鉴权``, ``4.1.4 Python 调用示例``, ``4.3 API``, ``5.3 操作类``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx

from .base import (
    PACKAGES,
    AnalysisResult,
    ApiSpec,
    AuthError,
    BackendError,
    BadRequest,
    Box,
    CallHooks,
    CircuitBreaker,
    ClientSettings,
    DetectedObject,
    OpenedByRegistry,
    Person,
    QuotaExhausted,
    RateLimited,
    RequestRecorder,
    ServiceError,
    TransportError,
    Unsupported,
    VendorTraits,
    call_with_retries,
    is_replay,
)
from .images import CTYUN, CTYUN_FACE, ImageLimits, PreparedImage, prepare_image

VENDOR = "ctyun"
DEFAULT_BASE_URL = "https://ai-global.ctapi.ctyun.cn"  # 4.1.1 终端节点

# 4.1.4 Python 调用示例 sends this Content-Type (4.1.2 构造请求 lists "application/json").
CONTENT_TYPE = "application/json;charset=UTF-8"

# The headers the sample signs, already in the alphabetical order 4.1.3 认证鉴权 demands.
SIGNED_HEADERS = "appkey;ctyun-eop-request-id;eop-date"

# eop-date is Beijing wall-clock time followed by a literal "Z". 4.1.4 Python 调用示例 builds
# it with ``time.strftime("%Y%m%dT%H%M%SZ", time.localtime())``, i.e. the local time of the
# caller's machine labelled "Z"; the examples in 4.1.2 构造请求 and 4.3 API
# (20211109T104641Z, 20211221T163014Z) are Beijing office hours, and the vendor's Go SDK does
# the same (``time.Now()``). The gateway derives the signing key from the header value as
# sent, so any value verifies; Beijing time is what the vendor's own samples send from the
# machines they are written for, so it is what a freshness check on their side would expect.
# China keeps no daylight saving time: a fixed offset is exact.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
EOP_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

# 5.3 操作类: "碰到并发错误可以延时一小段时间（如 2-5s）重试请求".
CONCURRENCY_PAUSE = (2.0, 5.0)

# Whole-request limits are quoted in "M"; the smaller (decimal) reading is used.
MEGABYTE = 1000 * 1000


# ---------------------------------------------------------------- signing (4.1.3 认证鉴权)


def sorted_query(query: str) -> str:
    """The query part of the string to sign, built as 4.1.4 Python 调用示例 builds it: the raw
    query (no leading "?") split on "&", the pieces sorted as whole strings, and joined again
    with "&", an empty piece adding nothing."""
    after_query = ""
    for query_param in sorted(query.split("&")):
        if len(after_query) < 1:
            after_query += query_param
        else:
            after_query += "&" + query_param
    return after_query


def string_to_sign(appkey: str, request_id: str, eop_date: str, query: str, body: bytes) -> str:
    """Signed headers as ``name:value\\n`` in name order, then "\\n", the sorted query, "\\n"
    and the lowercase hex SHA-256 of the body bytes exactly as sent."""
    headers = f"appkey:{appkey}\nctyun-eop-request-id:{request_id}\neop-date:{eop_date}\n"
    content_hash = hashlib.sha256(body).hexdigest()
    return headers + "\n" + sorted_query(query) + "\n" + content_hash


def _hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def eop_authorization(
    ak: str, sk: str, appkey: str, request_id: str, eop_date: str, query: str, body: bytes
) -> str:
    """The ``Eop-Authorization`` header value for one request.

    Keys (4.1.3 认证鉴权, 构造动态密钥): ktime = HMAC(sk, eop-date), kak = HMAC(ktime, ak),
    kdate = HMAC(kak, the yyyymmdd part of eop-date); signature = base64(HMAC(kdate, string
    to sign)). ``query`` is the raw query string without "?"; ``body`` the bytes sent.
    """
    k_time = _hmac_sha256(sk.encode("utf-8"), eop_date.encode("utf-8"))
    k_ak = _hmac_sha256(k_time, ak.encode("utf-8"))
    k_date = _hmac_sha256(k_ak, eop_date[:8].encode("utf-8"))
    to_sign = string_to_sign(appkey, request_id, eop_date, query, body)
    signature = base64.b64encode(_hmac_sha256(k_date, to_sign.encode("utf-8"))).decode("ascii")
    return f"{ak} Headers={SIGNED_HEADERS} Signature={signature}"


def format_eop_date(now: datetime | None = None) -> str:
    """``yyyymmddTHHMMSSZ`` in Beijing wall-clock time (see ``BEIJING``). An aware ``now`` is
    converted to Beijing time; a naive one is taken as Beijing wall-clock time already."""
    if now is None:
        now = datetime.now(BEIJING)
    elif now.tzinfo is not None:
        now = now.astimezone(BEIJING)
    return now.strftime(EOP_DATE_FORMAT)


def signed_headers(
    ak: str,
    sk: str,
    appkey: str,
    body: bytes,
    query: str = "",
    *,
    request_id: str | None = None,
    now: datetime | None = None,
    host: str,
) -> dict[str, str]:
    """Every header 4.1.4 Python 调用示例 sends, signed for ``body`` and ``query``.

    A request id is generated when none is given (4.1.2 构造请求: "通过 uuid 生成"; a random
    uuid4 rather than the sample's uuid1, which would carry the host's MAC address).
    """
    request_id = request_id or str(uuid.uuid4())
    eop_date = format_eop_date(now)
    return {
        "Content-Type": CONTENT_TYPE,
        "ctyun-eop-request-id": request_id,
        "appkey": appkey,
        "Eop-Authorization": eop_authorization(ak, sk, appkey, request_id, eop_date, query, body),
        "eop-date": eop_date,
        "host": host,
    }


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """The JSON body as 4.1.4 Python 调用示例 writes it (``json.dumps`` defaults: ", " and ": "
    separators, non-ASCII escaped), as bytes: these are both hashed and sent."""
    return json.dumps(payload).encode("utf-8")


# ---------------------------------------------------------------- the APIs (4.3 API)

# Per-API answer codes, with the seed's messages (used when an answer carries no details).
_HAT_AND_CLOTHES_CODES = {  # 4.3.1 安全帽正确佩戴识别, 4.3.2 工作服识别: 10、错误码说明
    4001: "请求未包含图片",
    4002: "图片文件大小不符合要求",
    4003: "base64 数据处理异常",
    4006: "请求数据格式错误",
}
_FENCE_CODES = {  # 4.3.3 电子围栏: 10、错误码说明
    4002: "请求体数据量超限，最大支持 35M",
    4004: "请求体格式错误，json 内容不能为空",
    4005: "请求参数中缺少关键字，仅支持 image 和 area",
    4006: "请求参数类型错误，image 仅支持 list",
    4007: "请求参数内容错误，list 不能为空或大于 32",
    4009: "请求参数内容错误，图像解析失败",
    4011: "请求参数类型错误，area 仅支持 string",
    4012: "请求参数内容错误，area 字符串不符合要求",
    4013: "请求参数错误，area 范围超出图像区域",
    5000: "服务错误",
    5001: "推理服务异常，请联系管理员",
    5002: "数据库服务异常，请联系管理员",
}
_FACE_QUALITY_CODES = {  # 4.3.4.1 人脸质量检测: 10、错误码说明
    4201: "请求内容错误",
    4202: "请求参数格式错误",
    4203: "图片解码失败",
    4204: "人脸探测异常，请确保为真实人脸！",
    4205: "所上传图片尺寸过大",
    4210: "有图片解码失败",
    4212: "请正对摄像头，请避免逆光环境！（或未检测到人脸）",
    4213: "有图片包含多张人脸",
    5000: "服务内部错误，请联系管理员",
}
_LIVENESS_CODES = {  # 4.3.4.2 动作活体检测: 10、错误码说明
    4201: "请求内容错误",
    4202: "请求参数格式错误",
    4203: "图片解码失败",
    4204: "人脸探测异常，请确保为真实人脸！",
    4205: "所上传图片尺寸过大",
    4207: "请上传至少 3 张图片",
    4208: "上传图片多于 35 张，请减少上传图片数量",
    4209: "请传输第“i”张图片",
    4210: "有图片解码失败",
    4212: "请正对摄像头，请避免逆光环境！",
    4213: "有图片包含多张人脸",
    5000: "服务内部错误，请联系管理员",
}
_ACTION_CODES = {  # 4.3.5 摔倒识别, 4.3.6 打架识别: 10、错误码说明
    4003: "请求体 json 解析错误，请求必须为 json 字典",
    4010: "请求参数缺少 images",
    4012: "请求类型错误，仅支持 list",
    4013: "图片数量不合法，应大于 0 且小于等于 64",
    4015: "图像解析失败",
    5000: "请求异常，请联系管理员",
    5001: "推理接口异常，请联系管理员",
}

# 4.1.3 状态码, 全局请求返回错误码: gateway codes, the same for every API.
GATEWAY_ERRORS: dict[int, tuple[type[BackendError], str]] = {
    10002: (AuthError, "生成签名时官网 ak 信息错误"),
    10020: (AuthError, "签名错误"),
    40002: (AuthError, "缺少 appkey 头"),
    40006: (AuthError, "无效的 appkey"),
    40008: (BadRequest, "不支持的请求类型"),
    40009: (AuthError, "IP 未被 APP 授权"),
    40010: (AuthError, "IP 未被 API 授权"),
    50000: (ServiceError, "服务内部错误"),
    50001: (BadRequest, "服务未注册"),
    50002: (AuthError, "应用未开通"),
    50003: (BadRequest, "API 中无效的 URL 请求"),
    51001: (QuotaExhausted, "购买服务已过期"),
    51002: (QuotaExhausted, "收费 API 未购买"),
    51003: (QuotaExhausted, "API 可用次数已不足"),
}


@dataclass(frozen=True)
class CtyunApi:
    """One API: where it lives, how its body is shaped and what it accepts.

    ``shape`` is one of ``image`` (``{"image": b64}``), ``fence`` (``{"image": [b64...],
    "area": "x1,y1,..."}``), ``image_content`` (``{"imageContent": b64}``), ``numbered``
    (``{"image1Content": b64, ...}``) and ``images`` (``{"images": [b64...]}``).
    """

    name: str
    path: str
    shape: str
    answer: str  # objects, fence, face_quality, liveness, sequence_score
    limits: ImageLimits
    min_images: int = 1
    max_images: int = 1
    max_body_bytes: int | None = None
    codes: Mapping[int, str] = field(default_factory=dict)


def _liveness(name: str, path: str) -> CtyunApi:
    # 4.3.4.2 动作活体检测, 3、接口要求: 3 to 35 images, each at most 960x1280.
    return CtyunApi(name, path, "numbered", "liveness", CTYUN_FACE, 3, 35, codes=_LIVENESS_CODES)


_FACE = "/v1/aiop/api/{}/face-fas-action/person/{}"

CTYUN_APIS: dict[str, CtyunApi] = {
    api.name: api
    for api in (
        # 4.3.1 安全帽正确佩戴识别 / 4.3.2 工作服识别: one image per request
        # ("一次请求仅支持一条数据").
        CtyunApi(
            "helmet",
            "/v1/aiop/api/2f3uquanbrpc/SafeHat/base/hat_detect",
            "image",
            "objects",
            CTYUN,
            codes=_HAT_AND_CLOTHES_CODES,
        ),
        CtyunApi(
            "workwear",
            "/v1/aiop/api/2f3uj46hbd34/UniformIdentity/base/clothes_detect",
            "image",
            "objects",
            CTYUN,
            codes=_HAT_AND_CLOTHES_CODES,
        ),
        # 4.3.3 电子围栏: at most 32 images (4007), the whole request under 35M (4002).
        CtyunApi(
            "fence",
            "/v1/aiop/api/2grpyvxc23uo/ef-http/electron/fence",
            "fence",
            "fence",
            CTYUN,
            1,
            32,
            35 * MEGABYTE,
            codes=_FENCE_CODES,
        ),
        # 4.3.4.1 人脸质量检测: one image, at most 960x1280.
        CtyunApi(
            "face_quality",
            _FACE.format("2gkds6yod62o", "quality_detect_from_base64"),
            "image_content",
            "face_quality",
            CTYUN_FACE,
            codes=_FACE_QUALITY_CODES,
        ),
        _liveness("liveness_shake", _FACE.format("2glatwsypczk", "fas_shake_from_base64")),
        _liveness("liveness_up", _FACE.format("2glajezvpdc", "fas_up_from_base64")),
        _liveness("liveness_down", _FACE.format("2ghyetqcv20w", "fas_down_from_base64")),
        _liveness("liveness_left", _FACE.format("2glbm7cv6br4", "fas_left_from_base64")),
        _liveness("liveness_right", _FACE.format("2glbdqm0vtog", "fas_right_from_base64")),
        # "mouse" is the vendor's own spelling of the open-mouth path.
        _liveness("liveness_mouth", _FACE.format("2glbjq9sjhmo", "fas_mouse_from_base64")),
        _liveness("liveness_blink", _FACE.format("2glbhkc1yuiio", "fas_eye_from_base64")),
        # 4.3.5 摔倒识别 / 4.3.6 打架识别: 1 to 64 images (4013); "请求数据总大小不超过 250M"
        # in 3、接口要求 (the body table says 500M: the smaller limit is kept).
        CtyunApi(
            "fall",
            "/v1/aiop/api/2gm0y369n30g/action/falldown/images",
            "images",
            "sequence_score",
            CTYUN,
            1,
            64,
            250 * MEGABYTE,
            codes=_ACTION_CODES,
        ),
        CtyunApi(
            "fight",
            "/v1/aiop/api/2gm1xzigc2kg/action/fight/images",
            "images",
            "sequence_score",
            CTYUN,
            1,
            64,
            250 * MEGABYTE,
            codes=_ACTION_CODES,
        ),
    )
}


# What each API's answer fills (``CtyunApi.answer``), as ``ApiSpec`` result kinds.
_ANSWER_RESULTS = {
    "objects": frozenset({"objects"}),
    "fence": frozenset({"persons", "person_count", "per_image"}),
    "face_quality": frozenset({"face_quality"}),
    "liveness": frozenset({"liveness"}),
    "sequence_score": frozenset({"sequence_score"}),
}
# 4.3.5 摔倒识别, 3、接口要求: "图片数量不超过 64，建议 16 张以上连续图片"; 4.3.6 打架识别
# likewise ("支持 16 张图像的 base64 编码字符串构成的 list").
_ADVISED_FRAMES = {"fall": 16, "fight": 16}

CTYUN_SPECS: dict[str, ApiSpec] = {
    api.name: ApiSpec(
        api.name,
        min_frames=api.min_images,
        max_frames=api.max_images,
        advised_frames=_ADVISED_FRAMES.get(api.name),
        # Liveness images are one person's action: they cannot be split.
        split=api.shape != "numbered",
        region=api.shape == "fence",
        # 4.3.3 电子围栏, 5、请求参数 area: "大于 2 小于 10" points (4012).
        region_max_points=9 if api.shape == "fence" else None,
        results=_ANSWER_RESULTS[api.answer],
    )
    for api in CTYUN_APIS.values()
}

# 4.1.3 状态码: 51003 "API 可用次数已不足": the bought count is used up.
COUNT_USED_UP = "51003"

# Paid by packages of calls (and a yearly free quota); a request is counted once
# whatever its images (4.3.3 电子围栏, 4.3.5, 4.3.6 take up to 32 or 64).
TRAITS = VendorTraits(
    name=VENDOR,
    billing=PACKAGES,
    request_counts_whatever_frames=True,
    count_used_up_codes=frozenset({COUNT_USED_UP}),
    free_quota="yearly",
    default_base_url=DEFAULT_BASE_URL,
)


# ---------------------------------------------------------------- answers and errors


def parse_code(value: Any) -> int | str | None:
    """The answer's ``code`` as an int when it is one, whether sent as 4003 or "4003"."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        return text or None


def error_class_for_code(code: int | str) -> type[BackendError]:
    """Which typed error a vendor code means.

    Four-digit codes are per API (4.3 API, 10、错误码说明: "4 开头为业务错误码，5 开头为服务
    错误码"): 4xxx the request is wrong, 5xxx the service failed. Five-digit codes are the
    gateway's (4.1.3 状态码); undocumented ones are classed by their leading digits.
    """
    if not isinstance(code, int):
        return ServiceError
    if code in GATEWAY_ERRORS:
        return GATEWAY_ERRORS[code][0]
    if 4000 <= code <= 4999:
        return BadRequest
    if 5000 <= code <= 5999:
        return ServiceError
    if 10000 <= code <= 19999:
        return AuthError
    if 40000 <= code <= 49999:
        return BadRequest
    if 51000 <= code <= 51999:
        return QuotaExhausted
    return ServiceError


def describe_code(code: int | str, api: CtyunApi | None = None) -> str:
    """The seed's own wording for a code, or "" when it documents none."""
    if isinstance(code, int):
        if api is not None and code in api.codes:
            return api.codes[code]
        if code in GATEWAY_ERRORS:
            return GATEWAY_ERRORS[code][1]
    return ""


def _is_concurrency_status(status: int) -> bool:
    # No concurrency code is documented: HTTP 429 and 5xx are read as the concurrency limit.
    return status == 429 or status >= 500


class _MalformedAnswer(Exception):
    pass


def _number(value: Any) -> float:
    number = float(value)  # "1e-3" and 0.001 alike: scores may come in scientific notation
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    return number


def _box_from_top_left_bottom_right(box: Any) -> Box:
    # 4.3.1 / 4.3.2, 表 result: "4 个值分别对应 top/left/bottom/right".
    if not isinstance(box, list | tuple) or len(box) != 4:
        raise _MalformedAnswer(f"box is not four numbers: {box!r}")
    top, left, bottom, right = (_number(value) for value in box)
    return Box.from_corners(left=left, top=top, right=right, bottom=bottom)


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int):
        return bool(value)
    raise _MalformedAnswer(f"not a boolean: {value!r}")


# ---------------------------------------------------------------- the client


@dataclass
class _Request:
    api: CtyunApi
    body: bytes
    prepared: list[PreparedImage]


class CtyunClient(OpenedByRegistry):
    """Calls one CTYun account's Safety Production APIs.

    One ``httpx.Client`` (connection reuse, explicit connect/read timeouts) per instance.
    Every attempt gets a fresh request id and signature, is announced to ``hooks.before``
    and reported once to ``hooks.after``; retries follow ``settings.retry`` and, when given,
    the breaker keyed by (``settings.account``, api).
    """

    vendor = VENDOR
    traits = TRAITS
    api_specs = CTYUN_SPECS

    def __init__(
        self,
        settings: ClientSettings,
        *,
        hooks: CallHooks | None = None,
        breaker: CircuitBreaker | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ):
        self.settings = settings
        self.hooks = hooks or CallHooks()
        self.breaker = breaker
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 (retry jitter, not a secret)
        self._base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._host = urlsplit(self._base_url).netloc
        self._owns_http = http is None
        self._http = http or httpx.Client(
            timeout=httpx.Timeout(settings.timeouts.read, connect=settings.timeouts.connect),
            follow_redirects=False,
        )

    # -- lifecycle

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> CtyunClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- calling

    def analyze(
        self, api: str, images: list[bytes], params: dict[str, Any] | None = None
    ) -> AnalysisResult:
        """``call`` in the registry's shape."""
        return self.call(api, list(images), **(params or {}))

    def call(self, api: str, images: list[bytes], **params: Any) -> AnalysisResult:
        """Send ``images`` to ``api`` (a key of ``CTYUN_APIS``) and return the normalized
        answer. ``fence`` takes ``area``: 3 to 9 points in pixels of the original image, as
        "x1,y1,x2,y2,..." or a sequence of (x, y) pairs. Bad input raises ``BadRequest``
        before anything is sent."""
        request = self._build(api, images, params)
        return call_with_retries(
            lambda number: self._attempt(request, number),
            self.settings.retry,
            sleep=self._sleep,
            breaker=self.breaker,
            account=self.settings.account,
            api=api,
        )

    def _bad(self, api: str, message: str) -> BadRequest:
        return BadRequest(message, vendor=VENDOR, api=api)

    def _build(self, name: str, images: list[bytes], params: dict[str, Any]) -> _Request:
        api = CTYUN_APIS.get(name)
        if api is None:
            raise Unsupported(f"CTYun offers no API named {name!r}", vendor=VENDOR, api=name)
        allowed = {"area"} if api.shape == "fence" else set()
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise self._bad(name, f"unexpected parameters for {name}: {', '.join(unknown)}")
        if not isinstance(images, list | tuple) or not (
            api.min_images <= len(images) <= api.max_images
        ):
            count = len(images) if isinstance(images, list | tuple) else "no list of"
            span = (
                f"exactly {api.min_images}"
                if api.min_images == api.max_images
                else f"{api.min_images} to {api.max_images}"
            )
            raise self._bad(name, f"{name} takes {span} images, got {count}")

        prepared = []
        for image in images:
            try:
                prepared.append(prepare_image(image, api.limits))
            except BackendError as error:
                error.vendor = error.vendor or VENDOR
                error.api = error.api or name
                raise
        # 4.3 API, 11、base64 编码规则: "使用常规的 safe base64 编码方式", urlsafe_b64encode.
        encoded = [image.b64_urlsafe() for image in prepared]

        payload: dict[str, Any]
        if api.shape == "image":
            payload = {"image": encoded[0]}
        elif api.shape == "image_content":
            payload = {"imageContent": encoded[0]}
        elif api.shape == "numbered":
            # 4.3.4.2 动作活体检测: image1Content..imageNContent, numbered without gaps (4209).
            payload = {f"image{n}Content": data for n, data in enumerate(encoded, start=1)}
        elif api.shape == "images":
            payload = {"images": encoded}
        else:  # fence
            if "area" not in params:
                raise self._bad(name, "fence needs an area")
            payload = {"image": encoded, "area": self._fence_area(name, params["area"], prepared)}

        body = encode_body(payload)
        if api.max_body_bytes is not None and len(body) > api.max_body_bytes:
            raise self._bad(
                name,
                f"request of {len(body)} bytes is over {name}'s limit of "
                f"{api.max_body_bytes // MEGABYTE} MB",
            )
        return _Request(api=api, body=body, prepared=prepared)

    def _fence_area(self, name: str, area: Any, prepared: list[PreparedImage]) -> str:
        """The area string 4.3.3 电子围栏 asks for: "x1,y1,...,xn,yn" (a string: 4011), more than
        2 and fewer than 10 points (4012), inside the image (4013), in pixels of the image
        sent. ``area`` is in pixels of the original image."""
        points = _parse_points(area)
        if points is None:
            raise self._bad(name, f"area is not a list of x,y points: {area!r}")
        if not 3 <= len(points) <= 9:
            raise self._bad(name, f"area needs 3 to 9 points, got {len(points)}")
        first = prepared[0]
        for image in prepared[1:]:
            # One area string serves every image: they must share one size.
            if (image.original_width, image.original_height, image.width, image.height) != (
                first.original_width,
                first.original_height,
                first.width,
                first.height,
            ):
                raise self._bad(name, "fence images must all have the same size")
        for x, y in points:
            if not (0 <= x <= first.original_width and 0 <= y <= first.original_height):
                raise self._bad(
                    name,
                    f"area point ({x:g}, {y:g}) is outside the "
                    f"{first.original_width}x{first.original_height} image",
                )
        coordinates: list[str] = []
        for x, y in points:
            sent_x, sent_y = first.to_sent(x, y)
            coordinates.append(str(min(max(round(sent_x), 0), first.width)))
            coordinates.append(str(min(max(round(sent_y), 0), first.height)))
        return ",".join(coordinates)

    def _attempt(self, request: _Request, number: int) -> AnalysisResult:
        api = request.api
        recorder = RequestRecorder(
            self.hooks,
            vendor=VENDOR,
            api=api.name,
            attempt=number,
            images=len(request.prepared),
            request_id=str(uuid.uuid4()),
            clock=self._clock,
            timer=self._clock,
        )
        recorder.before()
        headers = signed_headers(
            self.settings.api_key,
            self.settings.secret_key,
            self.settings.app_key,
            request.body,
            request_id=recorder.request_id,
            now=datetime.fromtimestamp(self._clock(), tz=BEIJING),
            host=self._host,
        )
        response = recorder.post(
            self._http, self._base_url + api.path, content=request.body, headers=headers
        )
        try:
            result = self._interpret(api, response, request, recorder.request_id)
        except BackendError as error:
            if error.code is None and error.http_status is None:
                error.http_status = response.status_code
            recorder.failed(error)
            raise
        recorder.succeeded()
        result.replay = is_replay(response)
        return result

    def _concurrency_pause(self) -> float:
        return self._rng.uniform(*CONCURRENCY_PAUSE)

    def _interpret(
        self, api: CtyunApi, response: httpx.Response, request: _Request, request_id: str
    ) -> AnalysisResult:
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            snippet = response.text[:200]
            self._raise_for_status(api, status, f"answer is not a JSON object: {snippet!r}")
            raise TransportError(
                f"HTTP {status}, answer is not a JSON object: {snippet!r}",
                vendor=VENDOR,
                api=api.name,
                http_status=status,
                raw=response.text,
            )

        code = parse_code(answer.get("code"))
        if code is None:
            for key in ("errorCode", "error_code", "statusCode"):
                code = parse_code(answer.get(key))
                if code is not None:
                    break
        if code == 0:
            try:
                return self._normalize(api, answer, request, request_id)
            except (_MalformedAnswer, KeyError, TypeError, ValueError, AttributeError) as error:
                raise ServiceError(
                    f"malformed answer: {error}",
                    vendor=VENDOR,
                    api=api.name,
                    code="malformed_answer",
                    http_status=status,
                    raw=answer,
                ) from error
        if code is None:
            self._raise_for_status(api, status, f"answer without a code: {answer!r}"[:300], answer)
            raise ServiceError(
                f"answer without a code: {answer!r}"[:300],
                vendor=VENDOR,
                api=api.name,
                http_status=status,
                raw=answer,
            )

        error_class = error_class_for_code(code)
        message = answer.get("message")
        details = answer.get("details") or answer.get("error") or describe_code(code, api)
        parts = [str(code)]
        if isinstance(message, str) and message:
            parts.append(message)
        text = " ".join(parts) + (f": {details}" if details else "")
        retry_after = None
        if error_class.permanent is False and _is_concurrency_status(status):
            retry_after = self._concurrency_pause()
        raise error_class(
            text,
            vendor=VENDOR,
            api=api.name,
            code=code,
            http_status=status,
            retry_after=retry_after,
            raw=answer,
        )

    def _raise_for_status(self, api: CtyunApi, status: int, text: str, raw: Any = None) -> None:
        """Errors told by the HTTP status alone (4.1.3 状态码, 请求状态码)."""
        if _is_concurrency_status(status):
            raise RateLimited(
                f"HTTP {status} (concurrency limit): {text}",
                vendor=VENDOR,
                api=api.name,
                http_status=status,
                retry_after=self._concurrency_pause(),
                raw=raw,
            )
        if status in (401, 403):
            raise AuthError(
                f"HTTP {status}: {text}", vendor=VENDOR, api=api.name, http_status=status, raw=raw
            )
        if 400 <= status < 500:
            raise BadRequest(
                f"HTTP {status}: {text}", vendor=VENDOR, api=api.name, http_status=status, raw=raw
            )

    def _normalize(
        self, api: CtyunApi, answer: dict[str, Any], request: _Request, request_id: str
    ) -> AnalysisResult:
        sent = request.prepared[0]
        result = AnalysisResult(
            vendor=VENDOR,
            api=api.name,
            frame_width=sent.width,
            frame_height=sent.height,
            request_id=request_id,
            raw=answer,
        )
        found = answer.get("result")
        if api.answer == "objects":
            # Helmet classnames: blue_hat/white_hat/yellow_hat/red_hat/other...; workwear:
            # colours. Neither answer carries person boxes.
            result.objects = [
                DetectedObject(
                    label=str(item["classname"]),
                    box=_box_from_top_left_bottom_right(item["box"]),
                    score=_number(item["score"]),
                )
                for item in _as_list(found)
            ]
        elif api.answer == "fence":
            for index, item in enumerate(_as_list(found)):
                sent_image = request.prepared[min(index, len(request.prepared) - 1)]
                persons = [
                    # The fence answer gives no score: a reported target is taken as certain.
                    Person(
                        box=Box(
                            left=_number(spot["left"]),
                            top=_number(spot["top"]),
                            width=_number(spot["width"]),
                            height=_number(spot["height"]),
                        ),
                        score=1.0,
                    )
                    for spot in _as_list(item.get("location"))
                ]
                count = item.get("target_num")  # optional in 表 result
                result.per_image.append(
                    AnalysisResult(
                        vendor=VENDOR,
                        api=api.name,
                        frame_width=sent_image.width,
                        frame_height=sent_image.height,
                        persons=persons,
                        person_count=len(persons) if count is None else int(count),
                        request_id=request_id,
                    )
                )
            result.person_count = sum(item.person_count or 0 for item in result.per_image)
            if len(result.per_image) == 1:
                result.persons = list(result.per_image[0].persons)
        elif api.answer == "face_quality":
            result.face_quality = str(found["face_quality"])
        elif api.answer == "liveness":
            result.liveness = _as_bool(found["action_detected"])
        else:  # sequence_score
            result.sequence_score = _number(found["score"])
        return result


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _MalformedAnswer(f"expected a list, got {value!r}")
    return value


def _parse_points(area: Any) -> list[tuple[float, float]] | None:
    """Points from a string "x1,y1,x2,y2,...", pairs [(x1, y1), ...] or a flat list
    [x1, y1, x2, y2, ...]; None when ``area`` is none of those."""
    try:
        if isinstance(area, str):
            numbers = [float(part) for part in area.replace(";", ",").split(",") if part.strip()]
        elif isinstance(area, Sequence) and all(
            isinstance(point, Sequence) and not isinstance(point, str) for point in area
        ):
            if any(len(point) != 2 for point in area):
                return None
            numbers = [float(value) for point in area for value in point]
        elif isinstance(area, Sequence):
            numbers = [float(value) for value in area]
        else:
            return None
    except (TypeError, ValueError):
        return None
    if len(numbers) % 2 or not all(math.isfinite(number) for number in numbers):
        return None
    return list(zip(numbers[0::2], numbers[1::2], strict=True))
