"""Request parameters checked before anything leaves and written as Baidu's form:
flags, choices, ``case_id``, and areas given as polygons (original-frame pixels)
written as the vendor's text in pixels of the frame sent."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from monitoring.lib.geometry import Polygon

from ..base import (
    BadRequest,
)
from ..geometry import read_area
from ..images import PreparedImage
from .apis import (
    BODY_ATTR_TYPES,
    BODY_SEG_TYPES,
    CASE_ID_MAX,
    DRIVER_BEHAVIOUR_TYPES,
    MAX_AREAS,
    MIN_TRACKING_POINTS,
    VENDOR,
    BaiduApi,
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
