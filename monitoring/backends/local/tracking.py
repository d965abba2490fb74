"""Motion and tracks across frames: moving blobs, centroid tracks, per-camera cases."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..base import (
    Box,
)
from .detection import Detection, _clip

# ---------------------------------------------------------------- tracking


class MotionDetector:
    """Moving blobs from MOG2 background subtraction, one model per camera sequence."""

    def __init__(self, working_side: int = 480, min_area_ratio: float = 0.002):
        self.working_side = working_side
        self.min_area_ratio = min_area_ratio
        self.subtractor = cv2.createBackgroundSubtractorMOG2(
            history=200, varThreshold=16, detectShadows=False
        )
        self.frames = 0
        self.size: tuple[int, int] | None = None

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        if self.size != (width, height):  # a new camera resolution: start learning again
            self.subtractor = cv2.createBackgroundSubtractorMOG2(
                history=200, varThreshold=16, detectShadows=False
            )
            self.frames = 0
            self.size = (width, height)
        scale = min(1.0, self.working_side / max(width, height))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        work = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        work = cv2.GaussianBlur(work, (5, 5), 0)
        mask = self.subtractor.apply(work)
        self.frames += 1
        if self.frames < 2:  # the first frame is all "foreground"
            return []
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        frame_area = size[0] * size[1]
        blobs = []
        for contour in contours:
            area = cv2.contourArea(contour)
            if area < self.min_area_ratio * frame_area:
                continue
            x, y, w, h = (float(value) for value in cv2.boundingRect(contour))
            box = Box(x / scale, y / scale, w / scale, h / scale)
            fill = float(area) / frame_area
            blobs.append(Detection(_clip(box, width, height), 0.3, "motion", fill))
        return blobs


@dataclass
class Track:
    id: int
    box: Box
    inside: bool | None = None
    missed: int = 0
    hits: int = 1


@dataclass
class CentroidTracker:
    """Greedy nearest-centroid matching between frames. A detection continues a track
    when its centre moved less than ``max_jump`` times the taller box's height; a track
    unseen for more than ``max_missed`` frames ends. IDs start at 1 per tracker."""

    max_jump: float = 1.0
    max_missed: int = 5
    tracks: dict[int, Track] = field(default_factory=dict)
    next_id: int = 1

    def update(self, boxes: Sequence[Box]) -> list[Track]:
        """The track of each box, in the order given."""
        pairs = []
        for track_id, track in self.tracks.items():
            for index, box in enumerate(boxes):
                reach = self.max_jump * max(track.box.height, box.height, 1.0)
                distance = _centre_distance(track.box, box)
                if distance <= reach:
                    pairs.append((distance / reach, track_id, index))
        assigned: dict[int, Track] = {}
        matched: set[int] = set()
        for _, track_id, index in sorted(pairs):
            if track_id in matched or index in assigned:
                continue
            track = self.tracks[track_id]
            track.box, track.missed = boxes[index], 0
            track.hits += 1
            assigned[index] = track
            matched.add(track_id)
        for track_id in list(self.tracks):
            if track_id not in matched:
                self.tracks[track_id].missed += 1
                if self.tracks[track_id].missed > self.max_missed:
                    del self.tracks[track_id]
        for index, box in enumerate(boxes):
            if index not in assigned:
                track = Track(id=self.next_id, box=box)
                self.next_id += 1
                self.tracks[track.id] = track
                assigned[index] = track
        return [assigned[index] for index in range(len(boxes))]


def _centre_distance(a: Box, b: Box) -> float:
    ax, ay = a.left + a.width / 2, a.top + a.height / 2
    bx, by = b.left + b.width / 2, b.top + b.height / 2
    return math.hypot(ax - bx, ay - by)


@dataclass
class _Case:
    tracker: CentroidTracker = field(default_factory=CentroidTracker)
    motion: MotionDetector = field(default_factory=MotionDetector)
    lock: threading.Lock = field(default_factory=threading.Lock)


class CaseStore:
    """Tracking state per ``case_id`` (one camera sequence), least recently used
    cases forgotten beyond ``max_cases``. Process-local: a camera's frames must reach
    the same worker process, in order."""

    def __init__(self, max_cases: int = 256):
        self.max_cases = max_cases
        self._cases: OrderedDict[str, _Case] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, case_id: str, reset: bool) -> _Case:
        with self._lock:
            case = None if reset else self._cases.get(case_id)
            if case is None:
                case = _Case()
                self._cases[case_id] = case
            self._cases.move_to_end(case_id)
            while len(self._cases) > self.max_cases:
                self._cases.popitem(last=False)
            return case
