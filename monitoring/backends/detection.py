"""What a person detector finds: ``Detection`` (a candidate in pixels of the image
analysed, with the cue that found it) and ``clip_box``. Shared by the local analyzer's
cues (``monitoring.backends.local``) and the on-box MoveNet detector (``onbox.detector``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base import Box, Keypoint


@dataclass(frozen=True)
class Detection:
    """One person candidate in pixels of the image analysed."""

    box: Box
    score: float
    cue: str  # "movenet", "hog", "face" or "motion"
    strength: float  # the cue's own measure: SVM margin, cascade neighbours, blob area
    face: Box | None = None  # the face a "face" person was inferred from
    keypoints: tuple[Keypoint, ...] = ()  # "movenet": 17 COCO body points
    posture: str | None = None  # "movenet": "upright", "down" or "unknown"

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "box": {key: round(value, 1) for key, value in self.box.as_dict().items()},
            "score": round(self.score, 4),
            "cue": self.cue,
            "strength": round(self.strength, 4),
        }
        if self.face is not None:
            found["face"] = {key: round(value, 1) for key, value in self.face.as_dict().items()}
        if self.posture is not None:
            found["posture"] = self.posture
        return found


def clip_box(box: Box, width: float, height: float) -> Box:
    left, top = max(0.0, box.left), max(0.0, box.top)
    right, bottom = min(float(width), box.right), min(float(height), box.bottom)
    return Box.from_corners(left, top, max(left, right), max(top, bottom))
