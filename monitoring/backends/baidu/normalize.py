"""Baidu answers turned into an ``AnalysisResult`` (``normalize_answer``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..base import (
    AnalysisResult,
    Attribute,
    Box,
    DetectedObject,
    Driver,
    DriverBehaviour,
    Keypoint,
    Person,
    Unsupported,
)
from .apis import BODY_KEYPOINTS, BODY_SEG_TYPES, FINGERTIP_KEYPOINTS, VENDOR

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
