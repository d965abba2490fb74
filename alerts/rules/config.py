"""What a rule is and decides: its kinds, ``RuleConfig``, ``Finding``, ``Decision``,
active hours and cooldown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from monitoring.backends.base import (
    Box,
)

RULE_KINDS = (
    "fence_intrusion",
    "no_helmet",
    "workwear_colour",
    "crowd",
    "occupancy",
    "flow",
    "fall",
    "fight",
    "smoking",
    "phone",
    "no_mask",
    "driver_behaviour",
    "loitering",
    # alerts.body_rules
    "hand_in_danger",
    "help_gesture",
    "person_down",
)
SEVERITIES = ("info", "warning", "critical")
NO_DATA = "no data"

# Baidu body_attr attribute values (`人体检测和属性识别` > `返回参数`), as the client keeps them.
SAFETY_HELMET = "安全帽"
HEADWEAR_LABELS = {"无帽": "no hat", "普通帽": "ordinary hat"}
SMOKING_VALUES = frozenset({"吸烟"})
PHONE_VALUES = frozenset({"看手机", "打电话"})
NO_MASK_VALUES = frozenset({"无口罩"})

# Baidu driver_behavior behaviour names (`驾驶行为分析` > `请求参数` type).
DRIVER_BEHAVIOURS = (
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

# CTYun helmet answers name the helmet's colour (blue_hat, white_hat, yellow_hat, red_hat,
# other): every class of theirs is a helmet. Detectors that also box bare heads use
# labels like these; a rule may name its own in ``params["no_helmet_classes"]``.
DEFAULT_NO_HELMET_CLASSES = frozenset({"no_hat", "no_helmet", "head"})

# Colour names, so that ``allowed_colours`` can be written once for every vendor:
# Baidu upper_color values and CTYun workwear classes both map to these English names.
COLOUR_NAMES = {
    "红": "red",
    "橙": "orange",
    "黄": "yellow",
    "绿": "green",
    "蓝": "blue",
    "紫": "purple",
    "粉": "pink",
    "黑": "black",
    "白": "white",
    "灰": "grey",
    "棕": "brown",
    "gray": "grey",
}

# Analyses whose persons are not located people of the frame (the fence answer holds only
# the persons the vendor found inside its own area).
_NOT_PERSON_SOURCES = frozenset({"fence"})
_ATTRIBUTE_APIS = frozenset({"body_attr", "body_detection"})

_REQUIRED_PARAMS = {
    "workwear_colour": ("allowed_colours",),
    "crowd": ("limit",),
    "occupancy": ("capacity",),
    "flow": ("limit_per_window", "window_seconds"),
    "loitering": ("dwell_seconds",),
}

Point = tuple[float, float]


# ---------------------------------------------------------------- the interface


@dataclass(frozen=True)
class RuleConfig:
    """One rule on one region, as plain values. Raises ``ValueError`` when inconsistent."""

    kind: str
    min_confidence: float = 0.5
    consecutive_frames: int = 1  # the condition must hold this many analysed frames in a row
    active_days: frozenset[int] = frozenset(range(7))  # Monday = 0
    active_start: time | None = None  # local time of day; None = all day
    active_end: time | None = None
    severity: str = "warning"
    cooldown_seconds: float = 0  # after a resolve, no new firing for this long
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise ValueError(f"unknown rule kind {self.kind!r}; one of {', '.join(RULE_KINDS)}")
        if not 0 <= self.min_confidence <= 1:
            raise ValueError(f"min_confidence must lie in 0..1, not {self.min_confidence}")
        if self.consecutive_frames < 1:
            raise ValueError("consecutive_frames must be at least 1")
        days = frozenset(self.active_days)
        if not days <= frozenset(range(7)):
            raise ValueError(f"active_days are 0 (Monday) to 6 (Sunday), not {sorted(days)}")
        object.__setattr__(self, "active_days", days)
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
        if self.cooldown_seconds < 0:
            raise ValueError("cooldown_seconds cannot be negative")
        missing = [name for name in _REQUIRED_PARAMS.get(self.kind, ()) if name not in self.params]
        if missing:
            raise ValueError(f"rule {self.kind} needs params: {', '.join(missing)}")


@dataclass(frozen=True)
class Finding:
    """Evidence for the overlay: what was seen, how sure, where."""

    label: str
    score: float
    box: Box | None = None
    track_id: int | None = None
    points: tuple[tuple[float, float], ...] = ()  # keypoints behind it (hands), frame pixels


@dataclass(frozen=True)
class Decision:
    active: bool  # the rule is within its active hours and days now
    holds: bool  # the condition holds on this frame (after min_confidence)
    fire: bool  # held for consecutive_frames analysed frames in a row, and active
    findings: tuple[Finding, ...]
    score: float  # best score behind the decision
    summary: str  # English, short, for logs and titles
    count: int | None = None  # persons counted (fence, crowd, occupancy, flow)
    severity: str = "warning"  # the rule's, passed through


def initial_state() -> dict:
    """The state of a (rule, camera, region) that has seen no frame yet."""
    return {"consecutive": 0}


def in_cooldown(rule: RuleConfig, last_resolved_at: datetime | None, now: datetime) -> bool:
    """Whether a new alert of ``rule`` must wait: it was resolved less than
    ``cooldown_seconds`` ago."""
    if last_resolved_at is None or rule.cooldown_seconds <= 0:
        return False
    return (now - last_resolved_at).total_seconds() < rule.cooldown_seconds


def is_active(rule: RuleConfig, now: datetime) -> bool:
    """Whether ``now`` falls in the rule's active days and hours (see the module notes)."""
    zone = rule.params.get("timezone")
    if zone and now.tzinfo is not None:
        now = now.astimezone(ZoneInfo(str(zone)))
    day, moment = now.weekday(), now.time().replace(tzinfo=None)
    start, end = rule.active_start, rule.active_end
    if start is None and end is None:
        return day in rule.active_days
    start = start or time(0)
    if end is None:
        return moment >= start and day in rule.active_days
    if start == end:
        return day in rule.active_days
    if start < end:
        return start <= moment < end and day in rule.active_days
    if moment >= start:
        return day in rule.active_days
    return moment < end and (day - 1) % 7 in rule.active_days
