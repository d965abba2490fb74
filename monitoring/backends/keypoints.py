"""Body and hand keypoints read the same way whatever found them (Baidu ``body_analysis``,
``hand_analysis`` and ``fingertip``, the on-box MoveNet detector): which points count as
seen, a body's posture from its torso, and where its hands are.

Pure: keypoints and boxes in, names and points out. The on-box detector tags each person's
``posture`` with ``posture()``; the alert rules read postures and hand points through it.

Point names: Baidu's 21 body points (`人体关键点识别` > `返回参数` body_parts) and MoveNet's
17 COCO points share the names used here (left_shoulder, right_hip, left_wrist...).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .base import Box, Keypoint

# A keypoint below this score is not used (MoveNet's own demos draw from 0.2-0.3; Baidu's
# points of a visible body score 0.6-0.9 in the seed's examples).
KEYPOINT_MIN_SCORE = 0.25
# The body points that stand for the hands: both vendors' wrists.
WRISTS = ("left_wrist", "right_wrist")
DOWN = "down"
UPRIGHT = "upright"
UNKNOWN = "unknown"


def seen(keypoints: Sequence[Keypoint], names: Sequence[str] | None = None) -> list[Keypoint]:
    """The points scored at least ``KEYPOINT_MIN_SCORE`` (of ``names`` when given)."""
    return [
        point
        for point in keypoints
        if point.score >= KEYPOINT_MIN_SCORE and (names is None or point.name in names)
    ]


def posture(keypoints: Sequence[Keypoint], box: Box) -> str:
    """``down`` when the body lies rather than stands, ``upright`` when it stands or
    sits, ``unknown`` when too few points are seen.

    The torso (shoulder midpoint to hip midpoint) of a standing or sitting person points
    within ~45 degrees of vertical; a fallen one lies closer to horizontal. When the hips
    are hidden, a box much wider than tall with the head at about hip height (the head
    not above the lowest seen point by a fifth of the box) counts as down.
    """
    found = {point.name: point for point in seen(keypoints)}

    def middle(a: str, b: str) -> tuple[float, float] | None:
        pair = [found[name] for name in (a, b) if name in found]
        if not pair:
            return None
        return (
            sum(point.x for point in pair) / len(pair),
            sum(point.y for point in pair) / len(pair),
        )

    shoulders = middle("left_shoulder", "right_shoulder")
    hips = middle("left_hip", "right_hip")
    if shoulders and hips:
        dx, dy = hips[0] - shoulders[0], hips[1] - shoulders[1]
        if math.hypot(dx, dy) < 1:
            return UNKNOWN
        angle = math.degrees(math.atan2(abs(dx), abs(dy)))  # 0 = vertical
        lying = angle > 60 or (angle > 45 and dy < 0)
        return DOWN if lying else UPRIGHT
    head = middle("left_ear", "right_ear") or middle("left_eye", "right_eye")
    if head and len(found) >= 5 and box.width > 1.5 * box.height:
        lowest = max(point.y for point in found.values())
        return DOWN if lowest - head[1] < 0.2 * box.height else UPRIGHT
    return UNKNOWN
