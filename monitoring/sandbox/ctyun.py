"""The emulated CTYun Safety Production API, path for path under ``/sandbox/ctyun/``.

Every API of `4.3 API` answers ``POST`` with a JSON body. The gateway checks come first,
as `4.1.3 状态码` lists them: the ``appkey`` header (40002 missing, 40006 unknown), then
the ``Eop-Authorization`` signature of `4.1.3 认证鉴权` over the exact body received
(10002 unknown ak, 10020 bad or missing signature, ``eop-date`` or request id), then the
limits (HTTP 429 past ``QPS_LIMIT``: no concurrency code is documented; 51003 once
``TOTAL_QUOTA`` successful calls are used). Each API then checks its body with its own
four-digit codes (`10、错误码说明`) and answers ``{"code": 0, "message": ..., "result": ...}``.

The fence is analyzed on the images sent by the on-box analyzer; helmet, workwear, face
quality, liveness, fall and fight answers are the seed's `8、返回值示例`, marked
``X-Sandbox-Replay: true``.
"""

from __future__ import annotations

import hmac
import json
import re
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from PIL import Image

from monitoring.backends.base import BackendError
from monitoring.backends.ctyun import (
    CTYUN_APIS,
    GATEWAY_ERRORS,
    SIGNED_HEADERS,
    CtyunApi,
    eop_authorization,
)
from monitoring.backends.geometry import parse_area
from monitoring.backends.images import CTYUN, CTYUN_FACE

from . import analysis, limits
from .common import b64decode, json_response, open_image, read_body, sandbox_view, upright
from .examples import example

VENDOR = "ctyun"

APIS_BY_PATH: dict[str, CtyunApi] = {api.path: api for api in CTYUN_APIS.values()}

# HTTP status of each gateway refusal (`4.1.3 状态码`, 请求状态码: "4** 客户端错误").
_GATEWAY_STATUS = {
    10002: 401,
    10020: 401,
    40002: 401,
    40006: 401,
    40008: 405,
    50003: 404,
    51003: 403,
}

# `4.1.2 构造请求`: eop-date "形如 yyyymmddTHHMMSSZ". Its value is not compared with the
# clock: `4.1.4 Python 调用示例` sends local time labelled "Z", so any well-formed date goes.
_EOP_DATE = re.compile(r"\d{8}T\d{6}Z")
_AUTHORIZATION = re.compile(r"(?P<ak>\S+) Headers=(?P<headers>\S+) Signature=(?P<signature>\S+)")
_NUMBERED = re.compile(r"image([1-9][0-9]*)Content")

# Whole bodies read at most (the fence's and fall/fight's own limits, `3、接口要求`; enough
# for one 5 MB image or 35 face images elsewhere).
_BODY_CAP = {"image": 16_000_000, "image_content": 16_000_000, "numbered": 64_000_000}

# Formats each API takes (`3、接口要求`), as Pillow names them.
_FORMATS = {
    "image": ("PNG", "JPEG", "BMP", "GIF", "TIFF"),  # png、jpg、jpeg、bmp、gif、tif
    "fence": ("PNG", "JPEG", "BMP"),
    "image_content": ("JPEG", "PNG", "BMP"),
    "numbered": ("JPEG", "PNG", "BMP"),
    "images": ("PNG", "JPEG", "BMP"),
}


class _ApiError(Exception):
    def __init__(self, code: int, details: str | None = None):
        super().__init__(code)
        self.code = code
        self.details = details


def _gateway_error(code: int) -> HttpResponse:
    return json_response(
        {"code": code, "message": "error", "details": GATEWAY_ERRORS[code][1]},
        _GATEWAY_STATUS.get(code, 400),
    )


def _api_error(api: CtyunApi, failure: _ApiError) -> HttpResponse:
    # Face quality and liveness print their failure codes as strings ("4204", "4213").
    code: int | str = failure.code
    if api.shape in ("image_content", "numbered"):
        code = str(failure.code)
    details = failure.details or api.codes.get(failure.code, "")
    return json_response({"code": code, "message": "error", "details": details})


def _too_large(api: CtyunApi) -> HttpResponse:
    if api.shape in ("fence", "image"):
        return _api_error(api, _ApiError(4002))
    return json_response({"message": "Request Entity Too Large"}, 413)


# ---------------------------------------------------------------- gateway


def _check_gateway(request: HttpRequest, body: bytes) -> int | None:
    """The gateway code refusing the request, or None. Returns after the first failure."""
    sandbox = settings.SANDBOX
    appkey = request.headers.get("appkey")
    if not appkey:
        return 40002
    if not hmac.compare_digest(appkey.encode(), sandbox["CTYUN_APPKEY"].encode()):
        return 40006
    authorization = (request.headers.get("Eop-Authorization") or "").strip()
    match = _AUTHORIZATION.fullmatch(authorization)
    if match is None:
        return 10020
    if not hmac.compare_digest(match["ak"].encode(), sandbox["CTYUN_AK"].encode()):
        return 10002
    # The sandbox verifies the header set of `4.1.4 Python 调用示例`.
    if match["headers"] != SIGNED_HEADERS:
        return 10020
    request_id = request.headers.get("ctyun-eop-request-id") or ""
    eop_date = request.headers.get("eop-date") or ""
    if not request_id or not _EOP_DATE.fullmatch(eop_date):
        return 10020
    try:
        datetime.strptime(eop_date, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return 10020
    expected = eop_authorization(
        sandbox["CTYUN_AK"],
        sandbox["CTYUN_SK"],
        appkey,
        request_id,
        eop_date,
        request.META.get("QUERY_STRING", ""),
        body,
    )
    if not hmac.compare_digest(expected.encode(), authorization.encode()):
        return 10020
    return None


# ---------------------------------------------------------------- bodies


def _decode(text: Any, formats: tuple[str, ...]) -> Image.Image | None:
    if not isinstance(text, str) or not text:
        return None
    data = b64decode(text, urlsafe_too=True)
    if data is None:
        return None
    image = open_image(data)
    if image is None or image.format not in formats:
        return None
    return image


def _decoded_bytes(text: str) -> bytes:
    return b64decode(text, urlsafe_too=True) or b""


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested too deeply too
        return None


def _check_single_image(api: CtyunApi, payload: Any) -> None:
    """`4.3.1 安全帽正确佩戴识别` / `4.3.2 工作服识别`: ``{"image": b64}``."""
    if not isinstance(payload, dict):
        raise _ApiError(4006)
    text = payload.get("image")
    if not isinstance(text, str) or not text:
        raise _ApiError(4001)
    if len(text) > CTYUN.max_encoded_bytes:  # "base64 编码后图片大小不超过 5 MB"
        raise _ApiError(4002)
    if _decode(text, _FORMATS["image"]) is None:
        raise _ApiError(4003)


def _check_fence(api: CtyunApi, payload: Any) -> tuple[list[bytes], str]:
    """`4.3.3 电子围栏`: ``{"image": [b64, ...], "area": "x1,y1,...,xn,yn"}`` (a body over
    35M never gets here: ``call_api`` answers 4002 for it)."""
    if not isinstance(payload, dict) or not payload:
        raise _ApiError(4004)
    if set(payload) != {"image", "area"}:
        raise _ApiError(4005)
    images, area = payload["image"], payload["area"]
    if not isinstance(images, list):
        raise _ApiError(4006)
    if not api.min_images <= len(images) <= api.max_images:
        raise _ApiError(4007)
    if not isinstance(area, str):
        raise _ApiError(4011)
    try:
        polygons = parse_area(area)
    except ValueError:
        raise _ApiError(4012) from None
    # "坐标点数量大于 2 小于 10": one polygon of 3 to 9 points.
    if len(polygons) != 1 or not 3 <= len(polygons[0]) <= 9 or ";" in area:
        raise _ApiError(4012)
    decoded = []
    for text in images:
        if isinstance(text, str) and len(text) > CTYUN.max_encoded_bytes:
            raise _ApiError(4002)
        data = _decoded_bytes(text) if isinstance(text, str) else b""
        image = open_image(data) if data else None
        if image is None:
            raise _ApiError(4009)
        if image.format not in _FORMATS["fence"]:
            raise _ApiError(4013)  # "或不支持的图片格式"
        width, height = upright(image).size  # the frame the analyzer looks at
        if any(not (0 <= x <= width and 0 <= y <= height) for x, y in polygons[0]):
            raise _ApiError(4013)
        decoded.append(data)
    return decoded, area


def _check_face_size(image: Image.Image) -> None:
    # `4.3.4 动作活体识别`, 3、接口要求: "宽度不大于 960px，高度不大于 1280px".
    width, height = image.size
    if CTYUN_FACE.max_width is not None and width > CTYUN_FACE.max_width:
        raise _ApiError(4205)
    if CTYUN_FACE.max_height is not None and height > CTYUN_FACE.max_height:
        raise _ApiError(4205)


def _check_face_quality(api: CtyunApi, payload: Any) -> None:
    """`4.3.4.1 人脸质量检测`: ``{"imageContent": b64}``."""
    if not isinstance(payload, dict):
        raise _ApiError(4202)
    if set(payload) != {"imageContent"}:
        raise _ApiError(4201)
    text = payload["imageContent"]
    if not isinstance(text, str):
        raise _ApiError(4202)
    image = _decode(text, _FORMATS["image_content"])
    if image is None:
        raise _ApiError(4203)
    _check_face_size(image)


def _check_liveness(api: CtyunApi, payload: Any) -> None:
    """`4.3.4.2 动作活体检测`: ``image1Content`` .. ``imageNContent``, 3 to 35, no gaps."""
    if not isinstance(payload, dict):
        raise _ApiError(4202)
    numbers = {}
    for name, value in payload.items():
        match = _NUMBERED.fullmatch(name)
        if match is None:
            raise _ApiError(4201)
        numbers[int(match.group(1))] = value
    if not numbers:
        raise _ApiError(4201)
    if len(numbers) < api.min_images:
        raise _ApiError(4207)
    if len(numbers) > api.max_images:
        raise _ApiError(4208)
    for number in range(1, len(numbers) + 1):
        if number not in numbers:
            raise _ApiError(4209, f"请传输第{number}张图片")
    for number in sorted(numbers):
        text = numbers[number]
        if not isinstance(text, str):
            raise _ApiError(4202)
        image = _decode(text, _FORMATS["numbered"])
        if image is None:
            raise _ApiError(4210)
        _check_face_size(image)


def _check_sequence(api: CtyunApi, payload: Any) -> None:
    """`4.3.5 摔倒识别` / `4.3.6 打架识别`: ``{"images": [b64, ...]}``, 1 to 64."""
    if not isinstance(payload, dict):
        raise _ApiError(4003)
    if "images" not in payload:
        raise _ApiError(4010)
    images = payload["images"]
    if not isinstance(images, list):
        raise _ApiError(4012)
    if not api.min_images <= len(images) <= api.max_images:
        raise _ApiError(4013)
    for text in images:
        if _decode(text, _FORMATS["images"]) is None:
            raise _ApiError(4015)


# ---------------------------------------------------------------- answers


def _replay(api: CtyunApi) -> HttpResponse:
    name = "liveness" if api.shape == "numbered" else api.name
    return json_response(example(VENDOR, name), replay=True)


def _answer_fence(api: CtyunApi, images: list[bytes], area: str) -> HttpResponse:
    """Per image, the persons the analyzer finds with their feet in the area (表 result:
    ``target_num`` and ``location`` left/top/width/height)."""
    if not analysis.can("fence"):
        return _replay(api)
    try:
        result = analysis.run("fence", images, {"area": area})
    except BackendError:
        raise _ApiError(5001) from None
    if result is None:
        return _replay(api)
    per_image = list(result.per_image) or [result]
    found = []
    for item in per_image[: len(images)]:
        locations = [analysis.location(box) for box, _ in analysis.person_boxes(item)]
        found.append({"target_num": len(locations), "location": locations})
    return json_response(
        {"code": 0, "message": {"success": len(found), "fail": 0}, "result": found},
        analyzed=True,
    )


def _handle(api: CtyunApi, body: bytes) -> HttpResponse:
    payload = _parse(body)
    if api.shape == "fence":
        images, area = _check_fence(api, payload)
        return _answer_fence(api, images, area)
    if api.shape == "image":
        _check_single_image(api, payload)
    elif api.shape == "image_content":
        _check_face_quality(api, payload)
    elif api.shape == "numbered":
        _check_liveness(api, payload)
    else:
        _check_sequence(api, payload)
    return _replay(api)


@sandbox_view
def call_api(request: HttpRequest, api_path: str) -> HttpResponse:
    """``POST /<api path>`` with a signed JSON body."""
    if request.method != "POST":
        return _gateway_error(40008)
    api = APIS_BY_PATH.get("/" + api_path)
    if api is None:
        return _gateway_error(50003)
    cap = api.max_body_bytes or _BODY_CAP.get(api.shape, 16_000_000)
    body = read_body(request, cap)
    if body is None:
        return _too_large(api)
    refusal = _check_gateway(request, body)
    if refusal is not None:
        return _gateway_error(refusal)
    credential = settings.SANDBOX["CTYUN_APPKEY"]
    if not limits.within_qps(VENDOR, credential, api.name):
        # `5.3 操作类`: concurrency errors exist but no code is documented for them.
        return json_response({"message": "Too Many Requests"}, 429, headers={"Retry-After": "2"})
    # `5.1 计费类`: "成功调用算入计费次数": a call is taken from the quota, and given back
    # when it fails.
    if not limits.take_total_quota(VENDOR, credential, api.name):
        return _gateway_error(51003)
    try:
        return _handle(api, body)
    except _ApiError as failure:
        limits.give_back_total_quota(VENDOR, credential, api.name)
        return _api_error(api, failure)
