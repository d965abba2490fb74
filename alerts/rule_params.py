"""The parameters of each rule kind: what ``Rule.params`` may hold, how each value is
checked (``params_errors``, used by the model, the REST API and the rule form alike), and
which are required. What a rule does with them lives in ``alerts.rules``."""

from __future__ import annotations

import math

from alerts.body_rules import GESTURE_CLASSES
from alerts.rules import DRIVER_BEHAVIOURS

# Bounds of the numbers a parameter is set with: what a site can mean, far inside what the
# rule code (seconds into timedeltas, counts into integers) handles.
MAX_PARAM_SECONDS = 86_400
MAX_PARAM_COUNT = 1_000_000


def _number(
    low: float | None = None,
    high: float | None = MAX_PARAM_SECONDS,
    *,
    above: float | None = None,
):
    def check(value) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        if not math.isfinite(value):
            return "must be a finite number"
        if low is not None and value < low:
            return f"must be at least {low:g}"
        if high is not None and value > high:
            return f"must be at most {high:g}"
        if above is not None and value <= above:
            return f"must be more than {above:g}"
        return None

    return check


def _whole(low: int = 0, high: int = MAX_PARAM_COUNT):
    def check(value) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number"
        if value > high:
            return f"must be at most {high}"
        return f"must be at least {low}" if value < low else None

    return check


def _names(allowed: tuple[str, ...] | None = None, *, required: bool = False):
    def check(value) -> str | None:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or any(not isinstance(item, str) for item in value):
            return "must be a list of names"
        if required and not value:
            return "must name at least one"
        if allowed is not None and (unknown := sorted(set(value) - set(allowed))):
            return f"unknown: {', '.join(unknown)}; known: {', '.join(allowed)}"
        return None

    return check


def _text(value) -> str | None:
    return None if isinstance(value, str) else "must be text"


def _timezone(value) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, str):
        return "must be a time zone name like Asia/Shanghai"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return "must be a time zone name like Asia/Shanghai"
    return None


def _one_of(*choices: str):
    def check(value) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


_SHARE = _number(0.0, 1.0)
COMMON_PARAMS = {"region_name": _text, "timezone": _timezone}
# What each rule kind reads from ``params`` (see ``alerts.rules``): name -> check.
KIND_PARAMS: dict[str, dict] = {
    "fence_intrusion": {},
    "no_helmet": {
        "head_fraction": _number(above=0.0, high=1.0),
        "head_overlap": _SHARE,
        "no_helmet_classes": _names(),
    },
    "workwear_colour": {"allowed_colours": _names(required=True), "garment_overlap": _SHARE},
    "crowd": {"limit": _whole(0), "area_index": _whole(0)},
    "occupancy": {"capacity": _whole(0), "initial": _whole(0)},
    "flow": {
        "limit_per_window": _whole(0),
        "window_seconds": _number(above=0.0),
        "direction": _one_of("both", "in", "out"),
    },
    "fall": {"threshold": _SHARE},
    "fight": {"threshold": _SHARE},
    "smoking": {"threshold": _SHARE},
    "phone": {"threshold": _SHARE},
    "no_mask": {"threshold": _SHARE},
    "driver_behaviour": {"behaviours": _names(DRIVER_BEHAVIOURS), "threshold": _SHARE},
    "loitering": {
        "dwell_seconds": _number(above=0.0),
        "iou": _number(above=0.0, high=1.0),
        "forget_after_seconds": _number(above=0.0),
    },
    "hand_in_danger": {},
    "help_gesture": {"gestures": _names(GESTURE_CLASSES)},
    "person_down": {},
}
REQUIRED_PARAMS = {
    "workwear_colour": ("allowed_colours",),
    "crowd": ("limit",),
    "occupancy": ("capacity",),
    "flow": ("limit_per_window", "window_seconds"),
    "loitering": ("dwell_seconds",),
}


def params_errors(kind: str, params) -> dict[str, str]:
    """What is wrong with ``params`` for a rule of ``kind``: parameter name -> reason."""
    if not isinstance(params, dict):
        return {"params": "must be an object of parameter names and values"}
    known = {**COMMON_PARAMS, **KIND_PARAMS.get(kind, {})}
    errors = {}
    for name in REQUIRED_PARAMS.get(kind, ()):
        if name not in params:
            errors[name] = "is required for this kind of rule"
    for name, value in params.items():
        check = known.get(name)
        if check is None:
            errors[name] = f"is not a parameter of {kind}; known: {', '.join(sorted(known))}"
        elif reason := check(value):
            errors[name] = reason
    return errors
