"""The Baidu sandbox's answers once a call is let in (``monitoring.sandbox.baidu`` checks
the token or signature and the limits first): the request's form parameters, checked as
`API文档` says for each API, the answer of each API, and the `错误码` errors."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from django.http import HttpResponse
from PIL import Image

from monitoring.backends.baidu import (
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

from . import analysis
from .common import b64decode, json_response, open_image, upright
from .examples import example

VENDOR = "baidu"

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


def _body_danger(call: _Call) -> HttpResponse:
    # Takes a video in ``data``. The seed documents no answer for it: the sandbox answers
    # an answer that claims nothing (its log id), marked as a replay.
    if "data" not in call.form:
        raise _refuse(216101)
    if not call.form["data"] or b64decode(call.form["data"]) is None:
        raise _refuse(216100)
    return json_response({"log_id": log_id()}, replay=True)
