"""Finding people in a frame: HOG person detection, non-maximum suppression, faces."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np

from monitoring.lib import geometry

from ..base import (
    Box,
)
from ..detection import Detection
from ..detection import clip_box as _clip

# ---------------------------------------------------------------- detection


class Detector(Protocol):
    """Finds person candidates in an RGB frame (height x width x 3, uint8)."""

    def detect(self, rgb: np.ndarray) -> list[Detection]: ...


def suppress(
    detections: Sequence[Detection], iou: float = 0.4, containment: float = 0.8
) -> list[Detection]:
    """Greedy non-maximum suppression, best score first. A box is also dropped when most
    of it (``containment``) lies inside a better one: HOG nests boxes around one body."""
    kept: list[Detection] = []
    for candidate in sorted(detections, key=lambda item: item.score, reverse=True):
        box = candidate.box.corners
        if any(
            geometry.iou(box, other.box.corners) > iou
            or geometry.covered(box, other.box.corners) > containment
            for other in kept
        ):
            continue
        kept.append(candidate)
    return kept


class PersonDetector:
    """HOG people detector plus face-implied persons, each on a working copy of the
    frame scaled so its longest side is ``working_side`` (HOG) or ``face_side`` (faces),
    upscaling at most ``max_upscale``: a 640x480 camera frame is looked at in 800x600,
    where a person 80 px tall in the frame fills HOG's 64x128 window.

    Build one per process (``default_detector``): the HOG descriptor and cascade are
    loaded once, lazily.
    """

    HOG_WINDOW = (64, 128)
    # OpenCV's peopledetect sample: the person fills the window minus these margins.
    HOG_MARGIN_X, HOG_MARGIN_Y = 0.15, 0.05
    # Adult proportions: a body is about 7.5 heads tall and 2.5-3 heads wide; a Haar
    # face box spans brows to mouth, about 0.8 of the head's height.
    HEAD_PER_FACE = 1.25
    BODY_HEADS_TALL = 7.5
    BODY_FACES_WIDE = 3.0

    def __init__(
        self,
        working_side: int = 800,
        face_side: int = 640,
        max_upscale: float = 2.0,
        min_margin: float = 0.5,
        win_stride: int = 8,
        pyramid_scale: float = 1.05,
        face_min_neighbours: int = 5,
        cues: Sequence[str] = ("hog", "face"),
    ):
        self.working_side = working_side
        self.face_side = face_side
        self.max_upscale = max_upscale
        self.min_margin = min_margin
        self.win_stride = win_stride
        self.pyramid_scale = pyramid_scale
        self.face_min_neighbours = face_min_neighbours
        self.cues = tuple(cues)
        self.method = "opencv " + " + ".join(
            {"hog": "hog people detector", "face": "haar frontal face"}[cue] for cue in self.cues
        )
        self._hog: cv2.HOGDescriptor | None = None
        self._face: cv2.CascadeClassifier | None = None
        self._lock = threading.Lock()
        self._face_lock = threading.Lock()  # a cascade is not safe to share across threads

    def _models(self) -> tuple[cv2.HOGDescriptor, cv2.CascadeClassifier]:
        with self._lock:
            if self._hog is None:
                hog = cv2.HOGDescriptor()
                hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
                self._hog = hog
            if self._face is None:
                path = cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml"
                face = cv2.CascadeClassifier(path)
                if face.empty():
                    raise RuntimeError(f"OpenCV face cascade missing: {path}")
                self._face = face
            return self._hog, self._face

    def _working_copy(self, rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
        height, width = rgb.shape[:2]
        scale = min(side / max(width, height), self.max_upscale)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        if size == (width, height):
            return rgb, 1.0
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        return cv2.resize(rgb, size, interpolation=interpolation), scale

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        hog, face = self._models()
        bodies: list[Detection] = []
        if "hog" in self.cues:
            work, scale = self._working_copy(rgb, self.working_side)
            bodies = [
                _rescale(detection, 1 / scale, width, height)
                for detection in self._hog_people(hog, work)
            ]
        faces: list[Detection] = []
        if "face" in self.cues:
            work, scale = self._working_copy(rgb, self.face_side)
            faces = [
                _rescale(detection, 1 / scale, width, height)
                for detection in self._face_people(face, work)
            ]
            # A face in the upper half of a body already found is that same person.
            faces = [
                candidate
                for candidate in faces
                if not any(_in_upper_half(_face_centre(candidate), body.box) for body in bodies)
            ]
        return suppress(bodies + faces)

    def _hog_people(self, hog: cv2.HOGDescriptor, work: np.ndarray) -> list[Detection]:
        height, width = work.shape[:2]
        if width < self.HOG_WINDOW[0] or height < self.HOG_WINDOW[1]:
            return []
        bgr = cv2.cvtColor(work, cv2.COLOR_RGB2BGR)
        rects, margins = hog.detectMultiScale(
            bgr,
            hitThreshold=0,
            winStride=(self.win_stride, self.win_stride),
            padding=(16, 16),
            scale=self.pyramid_scale,
        )
        people = []
        for rect, margin in zip(rects, np.ravel(margins), strict=True):
            x, y, w, h = (float(value) for value in rect)
            if margin < self.min_margin:
                continue
            dx, dy = self.HOG_MARGIN_X * w, self.HOG_MARGIN_Y * h
            box = _clip(Box(x + dx, y + dy, w - 2 * dx, h - 2 * dy), width, height)
            if box.width <= 0 or box.height <= 0:
                continue
            # Margin 0 is the SVM's decision boundary; the score grows towards 1 with it.
            people.append(Detection(box, 1 - math.exp(-float(margin)), "hog", float(margin)))
        return suppress(people)

    def _face_people(self, face: cv2.CascadeClassifier, work: np.ndarray) -> list[Detection]:
        height, width = work.shape[:2]
        grey = cv2.equalizeHist(cv2.cvtColor(work, cv2.COLOR_RGB2GRAY))
        with self._face_lock:
            faces, neighbours = face.detectMultiScale2(
                grey, scaleFactor=1.1, minNeighbors=self.face_min_neighbours, minSize=(20, 20)
            )
        people = []
        for rect, count in zip(faces, np.ravel(neighbours), strict=True):
            x, y, w, h = (float(value) for value in rect)
            centre = (x + w / 2, y + h / 2)
            head = h * self.HEAD_PER_FACE
            top = y - (head - h) * 0.7  # most of the head above the face box is skull
            body_width = w * self.BODY_FACES_WIDE
            box = _clip(
                Box(centre[0] - body_width / 2, top, body_width, head * self.BODY_HEADS_TALL),
                width,
                height,
            )
            score = float(count) / (float(count) + self.face_min_neighbours)
            people.append(Detection(box, score, "face", float(count), face=Box(x, y, w, h)))
        return people


def _face_centre(detection: Detection) -> tuple[float, float]:
    face = detection.face or detection.box
    return (face.left + face.width / 2, face.top + face.height / 2)


def _in_upper_half(point: tuple[float, float], box: Box) -> bool:
    x, y = point
    return box.left <= x <= box.right and box.top <= y <= box.top + box.height / 2


def _rescale(detection: Detection, factor: float, width: int, height: int) -> Detection:
    def scaled(box: Box) -> Box:
        return Box(box.left * factor, box.top * factor, box.width * factor, box.height * factor)

    face = scaled(detection.face) if detection.face is not None else None
    return Detection(
        _clip(scaled(detection.box), width, height),
        detection.score,
        detection.cue,
        detection.strength,
        face=face,
    )


_hog: PersonDetector | None = None
_hog_lock = threading.Lock()


def default_detector() -> Detector:
    """The process-wide detector, built on first use: MoveNet when its model is
    installed (``onbox.detector.best_detector``), else this module's HOG + face detector."""
    from ..onbox.detector import best_detector

    global _hog
    movenet = best_detector()
    if movenet is not None:
        return movenet
    with _hog_lock:
        if _hog is None:
            _hog = PersonDetector()
        return _hog
