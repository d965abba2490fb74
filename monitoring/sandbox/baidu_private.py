"""The emulated Baidu Body Analysis private deployment, one service per path under
``/sandbox/baidu-private/<service>/GeneralClassifyService/classify``.

On a customer's LAN each service listens on its own port of one host (seed: 私有化部署,
接口调用: "[192.168.0.1]:8124/GeneralClassifyService/classify ... 端口默认为：8124"); here
the services share the product's port and are told apart by the path segment before
``/GeneralClassifyService/classify``, named as the client names them (``body_analysis``,
``body_detection``, ``body_attr``, ``body_num``, ``gesture``, ``hand_analysis``,
``body_seg``, ``driver_behavior``). A ``baidu_private`` vendor account with base URL
``<server>/sandbox/baidu-private`` and no ports calls them there.

Each service speaks as its 接口调用 section says: ``POST`` a JSON body
``{"data": ...}`` where ``data`` is base64 of a JSON object holding ``image`` (base64)
and the service's parameters, or (人像分割) the base64 image itself; the answer is
``{"err_no", "err_msg", "format": "json", "result"}`` with ``result`` as an object
(人体关键点识别, 人像分割), a JSON string (手势识别) or base64 of JSON (the others). Errors
use each service's own 错误码表 (the same number means different things on different
services). There is no token: the deployment checks its licence itself.

Answers come from the on-box analyzer run on the image sent where it can judge:
人体检测 (person boxes) and 人流量统计 (counts, per area). What it cannot judge
(keypoints, attributes, gestures, hands, segmentation, drivers) is the seed's 返回示例
for that service, marked ``X-Sandbox-Replay: true``.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse

from monitoring.backends.base import BackendError, BadRequest, InvalidImage

from . import analysis
from .common import b64decode, json_response, open_image, read_body, sandbox_view, upright
from .examples import example

VENDOR = "baidu_private"
# 人体检测 and 人体属性识别: "image size not between 50 and 4096"; the request holds one
# image of at most that size, base64-encoded twice: 32 MB is far above any real one.
MAX_BODY = 32 * 1024 * 1024
MAX_SIDE = 4096
# 人流量统计, 请求参数 area: "最多支持10个区域".
MAX_AREAS = 10


@dataclass(frozen=True)
class ServiceErrors:
    """A service's codes (its 错误码表) for what the sandbox checks, with its messages.
    ``key`` is the name its answer gives the code (``err_no`` or ``err_code``)."""

    prefix: str
    no_input: tuple[int, str]  # body not JSON / no data
    no_image: tuple[int, str]  # no "image" field
    bad_base64: tuple[int, str]
    empty: tuple[int, str]
    size: tuple[int, str]
    bad_type: tuple[int, str] | None = None
    key: str = "err_no"
    success: str = "succeed"


_216 = {
    "no_input": (216100, "Failed to parse input json"),
    "no_image": (216101, "Invalid image string in input json"),
    "bad_base64": (216201, "Failed to load the image"),
    "empty": (216200, "Image empty"),
    "size": (216202, "Image size is too small"),
}
# 人体属性识别（单人版）, 错误码表; 驾驶行为分析 prints the same table.
_ATTRIBUTE = {
    "no_input": (4, "GeneralClassify [status:parse input format error]"),
    "no_image": (4, "GeneralClassify [status:parse input format error]"),
    "bad_base64": (5, "fg_human_attribute [status:input parsing failed]"),
    "empty": (6, "fg_human_attribute [status:image empty]"),
    "size": (7, "fg_human_attribute [status:image size not between 50 and 4096]"),
    "bad_type": (8, "fg_human_attribute [status:attrib type parsing failed]"),
}

ERRORS: dict[str, ServiceErrors] = {
    # 人体关键点识别, 错误返回值: err_code / err_msg.
    "body_analysis": ServiceErrors(
        prefix="", key="err_code", success="fg_human_service[status:succeed]", **_216
    ),
    # 人体检测, 错误码表.
    "body_detection": ServiceErrors(
        prefix="",
        no_input=(216101, "GeneralClassify [status:parse input format error]"),
        no_image=(216101, "GeneralClassify [status:parse input format error]"),
        bad_base64=(216401, "pedestrian-detection-service [status:input parsing failed]"),
        empty=(216200, "pedestrian-detection-service [status:image empty]"),
        size=(216202, "pedestrian-detection-service [status:image size not between 50 and 4096]"),
        success="GeneralClassify [status: human detect succeed]",
    ),
    "body_attr": ServiceErrors(
        prefix="", success="GeneralClassify [status: human attrib succeed]", **_ATTRIBUTE
    ),
    # 人流量统计, 错误码表.
    "body_num": ServiceErrors(
        prefix="",
        no_input=(2, "fg-crowd-counting [status:input parsing failed]"),
        no_image=(1, "fg-crowd-counting [status:input format illegal]"),
        bad_base64=(2, "fg-crowd-counting [status:input parsing failed]"),
        empty=(3, "fg-crowd-counting [status:image empty]"),
        size=(4, "fg-crowd-counting [status:image size < 50]"),
        success="fg-crowd-counting [status:succeed]",
    ),
    # 手势识别, 错误码表 (messages prefixed "gestureservice").
    "gesture": ServiceErrors(
        prefix="gestureservice ", success="DetectionSsd[status:succeed]", **_216
    ),
    # 手部关键点识别, 错误码表.
    "hand_analysis": ServiceErrors(
        prefix="",
        key="err_code",
        success="Succeed! Congrats, May the force be with you ...",
        **_216,
    ),
    # 人像分割, 错误码表: 216100 参数无效, 216200 无效图片, 216201 图片格式错误.
    "body_seg": ServiceErrors(
        prefix="",
        no_input=(216100, "parameter invalid"),
        no_image=(216100, "parameter invalid"),
        bad_base64=(216201, "image format error"),
        empty=(216200, "image invalid"),
        size=(216200, "image invalid"),
        success="ParseService[status:succeed]",
    ),
    "driver_behavior": ServiceErrors(
        prefix="", success="GeneralClassify [status: human attrib succeed]", **_ATTRIBUTE
    ),
}

# The smallest side each service takes: 50 px where its page says "50 and 4096" or
# "size < 50"; 10 px where it says "less than 10 pixels".
MIN_SIDE = {
    "body_analysis": 10,
    "body_detection": 50,
    "body_attr": 50,
    "body_num": 50,
    "gesture": 10,
    "hand_analysis": 10,
    "body_seg": 10,
    "driver_behavior": 50,
}
# 人像分割 takes the base64 image as ``data`` itself; every other service an inner JSON.
IMAGE_ENVELOPE = frozenset({"body_seg"})


class _Refused(Exception):
    def __init__(self, response: HttpResponse):
        super().__init__()
        self.response = response


@dataclass
class _Call:
    service: str
    params: dict[str, Any] = field(default_factory=dict)
    image_bytes: bytes = b""
    image: Any = None


def _log_id() -> int:
    return secrets.randbits(62)


def _error(service: str, which: str) -> HttpResponse:
    errors = ERRORS[service]
    code, message = getattr(errors, which)
    return json_response(
        {errors.key: code, "err_msg": errors.prefix + message, "format": "json"}, status=200
    )


def _refuse(service: str, which: str) -> _Refused:
    return _Refused(_error(service, which))


def _b64_json(value: Any) -> str:
    return base64.b64encode(json.dumps(value, ensure_ascii=False).encode("utf-8")).decode()


def _answer(service: str, result: Any, *, replay: bool = False) -> HttpResponse:
    """The envelope of 返回格式 with ``result`` as the service sends it."""
    errors = ERRORS[service]
    body = {
        errors.key: 0,
        "err_msg": errors.success,
        "format": "json",
        "result": _b64_json(result),
        "log_id": _log_id(),
    }
    return json_response(body, replay=replay, analyzed=not replay)


def _replay(service: str, *, decoded: bool) -> HttpResponse:
    """The seed's 返回示例: ``decoded`` ones print ``result`` after base64 decoding and
    are enveloped again; the others print the whole answer."""
    if decoded:
        return _answer(service, example(VENDOR, service), replay=True)
    return json_response(example(VENDOR, service), replay=True)


# ---------------------------------------------------------------- reading a request


def _read(request: HttpRequest, service: str) -> _Call:
    raw = read_body(request, MAX_BODY)
    if raw is None:
        raise _refuse(service, "size")
    try:
        body = json.loads(raw)
    except ValueError:
        raise _refuse(service, "no_input") from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, str):
        raise _refuse(service, "no_input")
    call = _Call(service=service)
    if service in IMAGE_ENVELOPE:
        encoded_image: Any = data
    else:
        inner_bytes = b64decode(data)
        if inner_bytes is None:
            raise _refuse(service, "no_input")
        try:
            inner = json.loads(inner_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _refuse(service, "no_input") from None
        if not isinstance(inner, dict):
            raise _refuse(service, "no_input")
        if "image" not in inner:
            raise _refuse(service, "no_image")
        encoded_image = inner.pop("image")
        call.params = inner
    if not isinstance(encoded_image, str):
        raise _refuse(service, "no_image")
    if not encoded_image:
        raise _refuse(service, "empty")
    image_bytes = b64decode(encoded_image)
    if image_bytes is None:
        raise _refuse(service, "bad_base64")
    if not image_bytes:
        raise _refuse(service, "empty")
    image = open_image(image_bytes)
    if image is None:
        raise _refuse(service, "bad_base64")
    image = upright(image)
    width, height = image.size
    if min(width, height) < MIN_SIDE[service] or max(width, height) > MAX_SIDE:
        raise _refuse(service, "size")
    call.image_bytes = image_bytes
    call.image = image
    return call


def _areas(call: _Call) -> list[list[tuple[float, float]]] | None:
    """人流量统计, 请求参数 area: ``[[x1,y1,x2,y2,...], ...]``, at most 10 polygons, points
    inside the image from 1 ("area取值范围为1~1079、1~719" for 1080 x 720). An area the
    service cannot use counts the whole image (the seed: "缺省时为全图统计")."""
    value = call.params.get("area")
    if value in (None, "", []):
        return None
    width, height = call.image.size
    polygons = []
    try:
        for polygon in list(value)[:MAX_AREAS]:
            numbers = [float(v) for v in polygon]
            if len(numbers) % 2 or len(numbers) < 6:
                return None
            points = list(zip(numbers[0::2], numbers[1::2], strict=True))
            if not all(
                math.isfinite(x) and math.isfinite(y) and 1 <= x < width and 1 <= y < height
                for x, y in points
            ):
                return None
            polygons.append(points)
    except (TypeError, ValueError):
        return None
    return polygons or None


def _show(call: _Call) -> bool:
    try:
        return int(call.params.get("show", 0) or 0) > 0
    except (TypeError, ValueError):
        return False


def _run(call: _Call, capability: str, params: dict[str, Any] | None = None):
    try:
        return analysis.run(capability, [call.image_bytes], params)
    except (InvalidImage, BadRequest):
        raise _refuse(call.service, "bad_base64") from None
    except BackendError:
        return None


# ---------------------------------------------------------------- answers


def _answer_detection(call: _Call) -> HttpResponse:
    """人体检测: det_res with each person's box and probability."""
    result = _run(call, "persons") if analysis.can("persons") else None
    if result is None:
        return _replay("body_detection", decoded=True)
    boxes = analysis.person_boxes(result)
    det_res = [
        {
            "classname": "person",
            "crop": "",
            **analysis.location(box),
            "probability": round(score, 4),
            "label": 1,
        }
        for box, score in boxes
    ]
    return _answer("body_detection", {"person_num": len(det_res), "det_res": det_res})


def _answer_crowd(call: _Call) -> HttpResponse:
    """人流量统计: person_num (in the union of the areas when given), area_counts per
    area, image when ``show`` asks for it."""
    if not analysis.can("body_num"):
        return _replay_crowd()
    polygons = _areas(call)
    params = None
    if polygons:
        params = {
            "area": ";".join(",".join(f"{c:g}" for point in p for c in point) for p in polygons)
        }
    result = _run(call, "body_num", params)
    if result is None:
        return _replay_crowd()
    answer: dict[str, Any] = {"person_num": analysis.person_count(result)}
    if polygons:
        counts = [int(count) for count in result.area_counts]
        answer["area_counts"] = (counts + [0] * len(polygons))[: len(polygons)]
    if _show(call):
        boxes = [(box, "") for box, _score in analysis.person_boxes(result)]
        answer["image"] = analysis.render(
            call.image, boxes, polygons or (), f"person_num: {answer['person_num']}"
        )
    return _answer("body_num", answer)


def _replay_crowd() -> HttpResponse:
    # 人流量统计, 返回示例: {"person_num": 86}.
    return _answer("body_num", {"person_num": 86}, replay=True)


def _answer_attributes(call: _Call) -> HttpResponse:
    """人体属性识别（单人版）: the analyzer judges no attribute; the seed's example, with
    only the attributes ``type`` asks for."""
    answer = example(VENDOR, "body_attr")
    wanted = [name for name in str(call.params.get("type") or "").split(",") if name]
    if wanted:
        for person in answer.get("person_info", []):
            attributes = person.get("attributes", {})
            chosen = {k: v for k, v in attributes.items() if k in wanted}
            if not chosen:
                raise _refuse(call.service, "bad_type")
            person["attributes"] = chosen
    return _answer("body_attr", answer, replay=True)


def _replayed(service: str, *, decoded: bool) -> Callable[[_Call], HttpResponse]:
    def answer(call: _Call) -> HttpResponse:
        return _replay(service, decoded=decoded)

    return answer


_ANSWERS: dict[str, Callable[[_Call], HttpResponse]] = {
    # 人体关键点识别 and 人像分割 print the whole answer, result as an object; 手势识别 the
    # whole answer, result as a JSON string; the others print the decoded result.
    "body_analysis": _replayed("body_analysis", decoded=False),
    "body_detection": _answer_detection,
    "body_attr": _answer_attributes,
    "body_num": _answer_crowd,
    "gesture": _replayed("gesture", decoded=False),
    "hand_analysis": _replayed("hand_analysis", decoded=True),
    "body_seg": _replayed("body_seg", decoded=False),
    "driver_behavior": _replayed("driver_behavior", decoded=True),
}
assert set(_ANSWERS) == set(ERRORS) == set(MIN_SIDE)
SERVICES = tuple(_ANSWERS)


@sandbox_view
def classify(request: HttpRequest, service: str) -> HttpResponse:
    """``POST /sandbox/baidu-private/<service>/GeneralClassifyService/classify``."""
    if service not in _ANSWERS:
        return json_response({"error": f"no service {service!r} on this host"}, status=404)
    if request.method != "POST":
        return json_response({"error": "POST only"}, status=405)
    try:
        return _ANSWERS[service](_read(request, service))
    except _Refused as refused:
        return refused.response
