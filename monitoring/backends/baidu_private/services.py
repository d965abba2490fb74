"""The private deployment's services: limits, error tables, normalizers, parameters,
the service table and traits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from monitoring.backends.baidu import normalize_answer as normalize_online_answer
from monitoring.backends.base import (
    LICENCE,
    AnalysisResult,
    ApiSpec,
    AuthError,
    BackendError,
    BadRequest,
    Box,
    ClientSettings,
    Person,
    ServiceError,
    VendorTraits,
)
from monitoring.backends.geometry import read_area
from monitoring.backends.images import ImageLimits, PreparedImage

VENDOR = "baidu_private"
CLASSIFY_PATH = "/GeneralClassifyService/classify"

# What the services accept (seed: 接口调用说明): sides between 50 and 4096 px (人体检测 and
# 人体属性识别 error 216202/7 "image size not between 50 and 4096"), aspect ratio within
# 0.1-10 (人体关键点识别, 请求参数 image), JPG/PNG/BMP (驾驶行为分析). The seed names no
# size limit for the private services: the online API's 4 MB is kept.
PRIVATE_LIMITS = ImageLimits(
    name="baidu_private",
    max_encoded_bytes=4_000_000,
    min_side=50,
    max_side=4096,
    max_aspect=10.0,
    formats=("JPEG", "PNG", "BMP"),
)

# The attribute service refuses images whose width or height is below 50 px
# (seed: 人体属性识别（单人版）, 请求参数 image): smaller persons are not sent to it.
MIN_ATTRIBUTE_SIDE = 50

# 人流量统计, 请求参数 area: "最多支持10个区域".
MAX_AREAS = 10

# Attribute service codes that refuse one crop's pixels (base64 unreadable, image
# empty, size out of range): that person keeps no attributes, the call goes on.
CROP_REFUSALS = frozenset({5, 6, 7})

# ---------------------------------------------------------------- error tables
#
# Per service, vendor code -> (error class, meaning). Input problems are permanent,
# failures inside the service are retried (bounded), licence problems go to an admin.

_IMAGE_ERRORS_216: dict[int, tuple[type[BackendError], str]] = {
    216100: (BadRequest, "input json could not be parsed"),
    216101: (BadRequest, "no image in the input"),
    216200: (BadRequest, "image empty"),
    216201: (BadRequest, "image could not be loaded"),
    216202: (BadRequest, "image size or ratio out of range"),
    216203: (BadRequest, "image could not be processed"),
}

# 人体关键点识别, 错误码表
_KEYPOINT_ERRORS = dict(_IMAGE_ERRORS_216)

# 人体检测, 错误码表: 216401 is shared by configuration, prediction, encoding, input
# parsing and authorization failures; the message tells them apart (see
# ``_DETECTION_216401``).
_DETECTION_ERRORS: dict[int, tuple[type[BackendError], str]] = {
    216101: (BadRequest, "no image in the input"),
    216200: (BadRequest, "image empty"),
    216202: (BadRequest, "image size not between 50 and 4096"),
    216401: (ServiceError, "detection failed inside the service"),
}
_DETECTION_216401: tuple[tuple[str, type[BackendError], str], ...] = (
    ("auth verify", AuthError, "licence check failed"),
    ("input parsing", BadRequest, "base64 image could not be read"),
)

# 人体属性识别（单人版）, 错误码表; 驾驶行为分析 documents the same table.
_ATTRIBUTE_ERRORS: dict[int, tuple[type[BackendError], str]] = {
    1: (ServiceError, "service configuration could not be read"),
    2: (ServiceError, "box prediction failed"),
    3: (ServiceError, "attribute prediction failed"),
    4: (BadRequest, "no image in the input"),
    5: (BadRequest, "base64 image could not be read"),
    6: (BadRequest, "image empty"),
    7: (BadRequest, "image size not between 50 and 4096"),
    8: (BadRequest, "type parameter holds no known attribute"),
}

# 人流量统计, 错误码表
_CROWD_ERRORS: dict[int, tuple[type[BackendError], str]] = {
    1: (BadRequest, "no image in the input"),
    2: (BadRequest, "input could not be parsed"),
    3: (BadRequest, "image empty"),
    4: (BadRequest, "image smaller than 50 px"),
    5: (ServiceError, "heatmap prediction failed"),
    6: (AuthError, "licence check failed"),
    7: (ServiceError, "detection prediction failed"),
}

# 手势识别, 错误码表
_GESTURE_ERRORS = {**_IMAGE_ERRORS_216, 216204: (AuthError, "not authenticated")}

# 手部关键点识别, 错误码表
_HAND_ERRORS = {**_IMAGE_ERRORS_216, 216401: (AuthError, "not authenticated")}

# 人像分割, 错误码表
_SEGMENTATION_ERRORS: dict[int, tuple[type[BackendError], str]] = {
    216100: (BadRequest, "parameter invalid"),
    216200: (BadRequest, "image invalid"),
    216201: (BadRequest, "image format wrong"),
    216401: (ServiceError, "prediction failed"),
}


# ---------------------------------------------------------------- normalizers
#
# Where a private service answers in the online API's shape (once ``result`` is
# decoded), the online normalization is reused; the client then stamps vendor, api,
# frame size, request id and the raw answer.

Normalizer = Callable[[Mapping[str, Any]], AnalysisResult]


def _online(api: str) -> Normalizer:
    def normalize(result: Mapping[str, Any]) -> AnalysisResult:
        return normalize_online_answer(api, result)

    return normalize


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def normalize_detection(result: Mapping[str, Any]) -> AnalysisResult:
    """人体检测 (no online twin): det_res[] with left/top/width/height and probability."""
    out = AnalysisResult(vendor=VENDOR, api="body_detection")
    for det in result.get("det_res") or []:
        if isinstance(det, Mapping):
            box = Box(
                left=_num(det.get("left")),
                top=_num(det.get("top")),
                width=_num(det.get("width")),
                height=_num(det.get("height")),
            )
            out.persons.append(Person(box=box, score=_num(det.get("probability"))))
    try:
        out.person_count = int(result.get("person_num", len(out.persons)))
    except (TypeError, ValueError):
        out.person_count = len(out.persons)
    return out


def normalize_gesture(result: Mapping[str, Any]) -> AnalysisResult:
    """手势识别: the boxes are under ``object`` where the online API has ``result``."""
    return normalize_online_answer("gesture", {"result": result.get("object") or []})


def normalize_driver(result: Mapping[str, Any]) -> AnalysisResult:
    """驾驶行为分析: the online shape, {behaviour: {score, threshold}}.

    The private page's table repeats the attribute service's {name, score}; such an
    entry has no threshold, is not a behaviour and stays in ``raw`` only.
    """
    entries = []
    for info in result.get("person_info") or []:
        if isinstance(info, Mapping) and isinstance(info.get("attributes"), Mapping):
            behaviours = {
                name: item
                for name, item in info["attributes"].items()
                if isinstance(item, Mapping) and "threshold" in item
            }
            info = {**info, "attributes": behaviours}
        entries.append(info)
    return normalize_online_answer("driver_behavior", {**result, "person_info": entries})


# ---------------------------------------------------------------- parameters


def _area_in_sent_frame(
    polygons: list[list[tuple[float, float]]], prepared: PreparedImage
) -> list[list[int]]:
    """Seed 人流量统计, 请求参数 area: at most 10 polygons; coordinates below the image's
    size, from 1 ("area取值范围为1~1079、1~719" for 1080 x 720); one bad coordinate and
    the service silently counts the whole image. Such an area is refused here; a good
    one is written in pixels of the frame sent."""
    if not polygons:
        raise ValueError("area holds no polygon")
    if len(polygons) > MAX_AREAS:
        raise ValueError(f"area holds {len(polygons)} polygons; at most {MAX_AREAS}")
    width, height = prepared.original_width, prepared.original_height
    flat = []
    for index, polygon in enumerate(polygons, start=1):
        numbers: list[int] = []
        for x, y in polygon:
            if not (1 <= x < width and 1 <= y < height):
                raise ValueError(
                    f"area polygon {index}: point ({x:g}, {y:g}) is outside "
                    f"1..{width - 1} x 1..{height - 1} of the {width}x{height} image"
                )
            sent_x, sent_y = prepared.to_sent(x, y)
            numbers.append(min(max(round(sent_x), 1), prepared.width - 1))
            numbers.append(min(max(round(sent_y), 1), prepared.height - 1))
        flat.append(numbers)
    return flat


def _show_level(value: Any) -> int:
    """``show`` is 0..3 on the private service (0 = no rendered image); the online
    ``true``/``false`` reads as 1/0 (seed: 人流量统计, 请求参数 show)."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return 1 if value.lower() == "true" else 0
    return max(0, min(3, int(value)))


def _flag(value: Any) -> int:
    if isinstance(value, str):
        return 1 if value.lower() in ("1", "true") else 0
    return 1 if value else 0


# ---------------------------------------------------------------- services


@dataclass(frozen=True)
class PrivateService:
    """One privately deployed service: where it listens and how it speaks."""

    name: str
    port: int
    normalize: Normalizer
    errors: Mapping[int, tuple[type[BackendError], str]]
    # parameter name -> converter to the value the service expects
    params: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    path: str = CLASSIFY_PATH
    # "json": data = base64(json({"image": base64(img), ...params}));
    # "image": data = base64(img) (人像分割 documents no inner JSON)
    envelope: str = "json"


PRIVATE_SERVICES: dict[str, PrivateService] = {
    # 人体关键点识别: port 8124; the answer carries result as an object.
    "body_analysis": PrivateService(
        name="body_analysis", port=8124, normalize=_online("body_analysis"), errors=_KEYPOINT_ERRORS
    ),
    # 人体检测: port 8125; result is base64-encoded JSON.
    "body_detection": PrivateService(
        name="body_detection",
        port=8125,
        normalize=normalize_detection,
        errors=_DETECTION_ERRORS,
        params={"return_crop": _flag},
    ),
    # 人体属性识别（单人版）: port 8126; result is base64-encoded JSON.
    "body_attr": PrivateService(
        name="body_attr",
        port=8126,
        normalize=_online("body_attr"),
        errors=_ATTRIBUTE_ERRORS,
        params={"type": str},
    ),
    # 人流量统计: port 8122; result is base64-encoded JSON.
    "body_num": PrivateService(
        name="body_num",
        port=8122,
        normalize=_online("body_num"),
        errors=_CROWD_ERRORS,
        params={"area": read_area, "show": _show_level},
    ),
    # 手势识别: port 8120; result is a JSON string.
    "gesture": PrivateService(
        name="gesture", port=8120, normalize=normalize_gesture, errors=_GESTURE_ERRORS
    ),
    # 手部关键点识别: port 8128; result is base64-encoded JSON.
    "hand_analysis": PrivateService(
        name="hand_analysis", port=8128, normalize=_online("hand_analysis"), errors=_HAND_ERRORS
    ),
    # 人像分割: port 8127; the request's data is the base64 image itself, result an object.
    "body_seg": PrivateService(
        name="body_seg",
        port=8127,
        normalize=_online("body_seg"),
        errors=_SEGMENTATION_ERRORS,
        envelope="image",
    ),
    # 驾驶行为分析: port 8132; result is base64-encoded JSON.
    "driver_behavior": PrivateService(
        name="driver_behavior",
        port=8132,
        normalize=normalize_driver,
        errors=_ATTRIBUTE_ERRORS,
        params={"type": str, "wheel_location": lambda v: str(int(v))},
    ),
}


# What each service needs and gives: one image per request (the attribute service's
# detect-then-describe makes one request per person, each recorded on its own).
_SERVICE_RESULTS = {
    "body_analysis": frozenset({"persons", "person_count"}),
    "body_detection": frozenset({"persons", "person_count"}),
    "body_attr": frozenset({"persons", "person_count"}),
    "body_num": frozenset({"person_count", "area_counts", "images"}),
    "gesture": frozenset({"objects"}),
    "hand_analysis": frozenset({"objects"}),
    "body_seg": frozenset({"images"}),
    "driver_behavior": frozenset({"drivers"}),
}
PRIVATE_SPECS: dict[str, ApiSpec] = {
    name: ApiSpec(
        name,
        region="area" in service.params,
        # Licensed per server (seed: 私有化部署, 申请私有化部署包): no request is counted.
        metered=False,
        results=_SERVICE_RESULTS[name],
    )
    for name, service in PRIVATE_SERVICES.items()
}

# Runs on the customer's own servers under a licence; the address of its host is needed
# and each service listens on its own port (seed: 接口调用).
TRAITS = VendorTraits(name=VENDOR, billing=LICENCE, base_url="required", service_ports=True)


def routes_by_path(settings: ClientSettings) -> bool:
    """Whether the services are told apart by path under ``base_url`` (see
    ``BaiduPrivateClient.url_for``) rather than by port."""
    if settings.ports:
        return False
    base = settings.base_url if "://" in settings.base_url else f"http://{settings.base_url}"
    return httpx.URL(base).path.rstrip("/") != ""
