"""The on-box analyzer of the embedded default: person detection on the CPU.

The detector is MoveNet MultiPose (``onbox/``: persons with boxes, scores, 17 keypoints
and a posture), when the install step fetched and converted its model; otherwise, as the
last fallback, what ships inside opencv-python-headless 4.x. Fallback cues:
- ``hog``: OpenCV's default HOG + linear SVM people detector (upright, mostly whole
  bodies at least ~100 px tall in the working image), multi-scale, with non-maximum
  suppression.
- ``face``: the frontal-face Haar cascade; a face implies a person whose box is
  extrapolated from head-to-body proportions (catches close-ups HOG cannot see).
- ``motion`` (``body_tracking`` only): MOG2 background subtraction per tracked case;
  moving blobs that no other cue explains become person candidates.

APIs, shaped like the vendors' so rules and the pipeline treat every backend alike:
``persons``; ``body_num`` (Baidu crowd count with ``area`` polygons); ``fence`` (CTYun
electronic fence over a list of images); ``body_tracking`` (Baidu dynamic in/out flow,
one centroid tracker per ``case_id``, kept in this process); ``fall`` (CTYun's fall
window, scored from the posture of the detected people, MoveNet only). Boxes are in pixels of the
image given, EXIF orientation applied.

Modules: ``detection`` (people in one frame), ``tracking`` (across frames) and
``analyzer`` (``LocalAnalyzer``, the APIs).
"""

from __future__ import annotations

from .analyzer import (
    BODY_NUM_MAX_AREAS,
    FALL_ADVISED_IMAGES,
    FALL_MAX_IMAGES,
    FENCE_MAX_IMAGES,
    LOCAL_SPECS,
    TRACKING_MIN_POINTS,
    TRAITS,
    VENDOR,
    LocalAnalyzer,
)
from .detection import (
    Detection,
    Detector,
    PersonDetector,
    default_detector,
    suppress,
)
from .tracking import (
    CaseStore,
    CentroidTracker,
    MotionDetector,
    Track,
)

__all__ = [
    "BODY_NUM_MAX_AREAS",
    "FALL_ADVISED_IMAGES",
    "FALL_MAX_IMAGES",
    "FENCE_MAX_IMAGES",
    "LOCAL_SPECS",
    "TRACKING_MIN_POINTS",
    "TRAITS",
    "VENDOR",
    "CaseStore",
    "CentroidTracker",
    "Detection",
    "Detector",
    "LocalAnalyzer",
    "MotionDetector",
    "PersonDetector",
    "Track",
    "default_detector",
    "suppress",
]
