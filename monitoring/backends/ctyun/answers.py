"""Reading CTYun's answers: codes to typed errors, numbers, boxes and areas."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..base import (
    AuthError,
    BackendError,
    BadRequest,
    Box,
    QuotaExhausted,
    ServiceError,
)
from .apis import GATEWAY_ERRORS, CtyunApi

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
