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
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from monitoring.lib import geometry
from monitoring.lib.geometry import Polygon, point_in_polygon

from .base import (
    ON_BOX,
    AnalysisResult,
    ApiSpec,
    Attribute,
    BadRequest,
    Box,
    InvalidImage,
    Keypoint,
    Person,
    Unsupported,
    VendorTraits,
)
from .geometry import read_area
from .images import load_rgb

VENDOR = "local"

# Baidu body_num, seed `人流量统计` > `请求参数` (area): "最多支持10个区域，如输入超过10个区域，
# 截取前10个区域进行识别"; an area it cannot use ("area参数设置错误") falls back to the
# whole image and no area_counts.
BODY_NUM_MAX_AREAS = 10
# CTYun fence, seed `4.3.3 电子围栏` > `5、请求参数` and `10、错误码说明` (4007, 4012):
# image list of 1..32, area of "大于 2 小于 10" points.
FENCE_MAX_IMAGES = 32
FENCE_MIN_POINTS, FENCE_MAX_POINTS = 3, 9
# Baidu body_tracking, seed `人流量统计-动态版` > `请求参数` (area): one polygon, "大于3个顶点".
TRACKING_MIN_POINTS = 4


# ---------------------------------------------------------------- detection


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


def _clip(box: Box, width: float, height: float) -> Box:
    left, top = max(0.0, box.left), max(0.0, box.top)
    right, bottom = min(float(width), box.right), min(float(height), box.bottom)
    return Box.from_corners(left, top, max(left, right), max(top, bottom))


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


def default_detector() -> Detector:
    """The process-wide detector, built on first use: MoveNet when its model is
    installed, else this module's HOG + face detector."""
    from .onbox.detector import best_detector

    return best_detector()


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


# ---------------------------------------------------------------- the analyzer


def _foot(box: Box, width: int, height: int) -> tuple[float, float]:
    """Where a person stands, kept on the last pixel row and column: a body cut off by
    the frame's edge stands on that edge, where an area drawn to the edge still counts it."""
    x, y = box.foot
    return (min(max(x, 0.0), width - 1.0), min(max(y, 0.0), height - 1.0))


_UP = Attribute("upright", 0.0)


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _polygon_in_frame(polygon: Polygon, width: int, height: int, origin: float) -> bool:
    return all(origin <= x <= width and origin <= y <= height for x, y in polygon)


# What each on-box analysis needs and gives; nothing is counted by anyone.
FALL_MAX_IMAGES = 64
FALL_ADVISED_IMAGES = 16

LOCAL_SPECS: dict[str, ApiSpec] = {
    spec.name: spec
    for spec in (
        ApiSpec("persons", metered=False, results=frozenset({"persons", "person_count"})),
        ApiSpec(
            "body_num",
            region=True,
            metered=False,
            results=frozenset({"persons", "person_count", "area_counts"}),
        ),
        ApiSpec(
            "fence",
            max_frames=FENCE_MAX_IMAGES,
            region=True,
            metered=False,
            results=frozenset({"persons", "person_count", "per_image"}),
        ),
        ApiSpec(
            "body_tracking",
            region=True,
            metered=False,
            results=frozenset({"persons", "person_count", "flow_in", "flow_out"}),
        ),
        # Like CTYun's fall (4.3.5 摔倒识别: at most 64 images, 16 or more advised), from
        # posture: the share of the window's frames with someone lying down.
        ApiSpec(
            "fall",
            max_frames=FALL_MAX_IMAGES,
            advised_frames=FALL_ADVISED_IMAGES,
            metered=False,
            results=frozenset({"persons", "sequence_score", "per_image"}),
        ),
    )
}

# Runs inside this server's own processes: no HTTP, no base URL, no charge.
TRAITS = VendorTraits(name=VENDOR, billing=ON_BOX, in_process=True, base_url="none")


class LocalAnalyzer:
    """Person analyses on the local CPU, answering like the vendors' APIs."""

    vendor = VENDOR
    traits = TRAITS
    api_specs = LOCAL_SPECS
    capabilities: frozenset[str] = frozenset(LOCAL_SPECS)

    def __init__(self, detector: Detector | None = None, cases: CaseStore | None = None):
        self._detector = detector
        self.cases = cases or CaseStore()

    @classmethod
    def open(cls, settings: Any = None, **_ignored: Any) -> LocalAnalyzer:
        """The registry's way to open it: no settings, hooks or stores are used (the
        metered path reports its one attempt per request)."""
        return cls()

    @property
    def detector(self) -> Detector:
        return self._detector if self._detector is not None else default_detector()

    def analyze(self, api: str, images: list[bytes], params: dict | None = None) -> AnalysisResult:
        if api not in self.capabilities:
            raise Unsupported(
                f"the local analyzer does not offer {api!r}; it offers "
                f"{', '.join(sorted(self.capabilities))}",
                vendor=VENDOR,
                api=api,
            )
        params = dict(params or {})
        if isinstance(images, bytes | bytearray | memoryview):
            images = [bytes(images)]
        if not images:
            raise BadRequest("no image given", vendor=VENDOR, api=api)
        if api == "fence":
            return self._fence(images, params)
        if api == "fall":
            return self._fall(images)
        if len(images) != 1:
            raise BadRequest(f"{api} takes one image, got {len(images)}", vendor=VENDOR, api=api)
        if api == "persons":
            return self._persons(images[0])
        if api == "body_num":
            return self._body_num(images[0], params)
        return self._body_tracking(images[0], params)

    # ------------------------------------------------------------ helpers

    def _decode(self, data: bytes, api: str) -> np.ndarray:
        try:
            return np.asarray(load_rgb(data))
        except InvalidImage as error:
            raise InvalidImage(error.message, vendor=VENDOR, api=api) from None

    def _detect(self, rgb: np.ndarray) -> list[Detection]:
        return list(self.detector.detect(rgb))

    @property
    def method(self) -> str:
        return str(getattr(self.detector, "method", type(self.detector).__name__))

    def _raw(self, detections: Sequence[Detection], **extra: Any) -> dict[str, Any]:
        return {
            "method": self.method,
            "cues": sorted({detection.cue for detection in detections}),
            "detections": [detection.as_dict() for detection in detections],
            **extra,
        }

    @staticmethod
    def _person(detection: Detection, track_id: int | None = None) -> Person:
        attributes = {}
        if detection.posture is not None:
            attributes["posture"] = Attribute(detection.posture, detection.score)
        return Person(
            box=detection.box,
            score=detection.score,
            keypoints=list(detection.keypoints),
            attributes=attributes,
            track_id=track_id,
        )

    # ------------------------------------------------------------ APIs

    def _persons(self, data: bytes, api: str = "persons") -> AnalysisResult:
        """Everyone found on one image (also a ``fall`` window's per-image answer)."""
        rgb = self._decode(data, api)
        found = self._detect(rgb)
        return AnalysisResult(
            vendor=VENDOR,
            api=api,
            frame_width=rgb.shape[1],
            frame_height=rgb.shape[0],
            persons=[self._person(detection) for detection in found],
            person_count=len(found),
            raw=self._raw(found),
        )

    def _body_num(self, data: bytes, params: dict) -> AnalysisResult:
        rgb = self._decode(data, "body_num")
        height, width = rgb.shape[:2]
        found = self._detect(rgb)
        areas, area_error = self._body_num_areas(params.get("area"), width, height)
        if areas:
            counts = [
                sum(1 for d in found if point_in_polygon(_foot(d.box, width, height), polygon))
                for polygon in areas
            ]
            in_any = [
                d
                for d in found
                if any(point_in_polygon(_foot(d.box, width, height), p) for p in areas)
            ]
        else:
            counts, in_any = [], found
        extra: dict[str, Any] = {"person_num": len(in_any)}
        if areas:
            extra["area_counts"] = counts
        if area_error:
            extra["area_error"] = area_error
        return AnalysisResult(
            vendor=VENDOR,
            api="body_num",
            frame_width=width,
            frame_height=height,
            persons=[self._person(detection) for detection in found],
            person_count=len(in_any),
            area_counts=counts,
            raw=self._raw(found, **extra),
        )

    @staticmethod
    def _body_num_areas(text: Any, width: int, height: int) -> tuple[list[Polygon], str | None]:
        # Seed `人流量统计` > `请求参数`: coordinates start at (1, 1) and stay below the
        # image size; any wrong coordinate voids the whole area parameter.
        if text is None or not str(text).strip():
            return [], None
        try:
            polygons = read_area(text)[:BODY_NUM_MAX_AREAS]
        except ValueError as error:
            return [], f"area ignored, whole image counted: {error}"
        for index, polygon in enumerate(polygons, start=1):
            if not all(1 <= x < width and 1 <= y < height for x, y in polygon):
                return [], (
                    f"area ignored, whole image counted: polygon {index} leaves the "
                    f"{width}x{height} image (coordinates run from 1 to size - 1)"
                )
        return polygons, None

    def _fence(self, images: list[bytes], params: dict) -> AnalysisResult:
        if len(images) > FENCE_MAX_IMAGES:
            raise BadRequest(
                f"fence takes 1 to {FENCE_MAX_IMAGES} images, got {len(images)}",
                vendor=VENDOR,
                api="fence",
            )
        text = params.get("area")
        if text is None or (isinstance(text, str) and not text.strip()):
            raise BadRequest("fence needs an area 'x1,y1,...,xn,yn'", vendor=VENDOR, api="fence")
        try:
            polygons = read_area(text)
        except ValueError as error:
            raise BadRequest(f"fence area: {error}", vendor=VENDOR, api="fence") from None
        if len(polygons) != 1 or not (FENCE_MIN_POINTS <= len(polygons[0]) <= FENCE_MAX_POINTS):
            raise BadRequest(
                f"fence area must be one polygon of {FENCE_MIN_POINTS} to "
                f"{FENCE_MAX_POINTS} points",
                vendor=VENDOR,
                api="fence",
            )
        polygon = polygons[0]
        results: list[AnalysisResult] = []
        failures = 0
        for data in images:
            try:
                rgb = self._decode(data, "fence")
            except InvalidImage as error:
                failures += 1
                results.append(
                    AnalysisResult(vendor=VENDOR, api="fence", raw={"error": str(error)})
                )
                continue
            height, width = rgb.shape[:2]
            # Seed `4.3.3 电子围栏` > `10、错误码说明` 4013: the area must lie in the image.
            if not _polygon_in_frame(polygon, width, height, origin=0):
                raise BadRequest(
                    f"fence area leaves the {width}x{height} image", vendor=VENDOR, api="fence"
                )
            found = self._detect(rgb)
            inside = [d for d in found if point_in_polygon(_foot(d.box, width, height), polygon)]
            results.append(
                AnalysisResult(
                    vendor=VENDOR,
                    api="fence",
                    frame_width=width,
                    frame_height=height,
                    persons=[self._person(detection) for detection in inside],
                    person_count=len(inside),
                    raw=self._raw(found, target_num=len(inside)),
                )
            )
        if failures == len(images):
            raise InvalidImage(
                "; ".join(str(result.raw["error"]) for result in results),
                vendor=VENDOR,
                api="fence",
            )
        counts = [result.person_count for result in results if result.person_count is not None]
        single = results[0] if len(results) == 1 else None
        return AnalysisResult(
            vendor=VENDOR,
            api="fence",
            frame_width=single.frame_width if single else None,
            frame_height=single.frame_height if single else None,
            persons=list(single.persons) if single else [],
            person_count=max(counts),
            per_image=results,
            raw={
                "method": self.method,
                "message": {"success": len(images) - failures, "fail": failures},
                "area": polygon,
            },
        )

    def _fall(self, images: list[bytes]) -> AnalysisResult:
        """CTYun's fall window answered from posture: the sequence score is the share of
        the window's frames with a person down (weighted by the pose score), so a body
        lying for the whole window scores near 1 and one frame's odd pose scores little."""
        if self.method.startswith("opencv"):
            raise Unsupported(
                "the on-box fall check needs the MoveNet model (see docs/onbox.md)",
                vendor=VENDOR,
                api="fall",
            )
        frames = [self._persons(data, "fall") for data in images]
        down_scores = [
            max(
                (
                    p.score
                    for p in frame.persons
                    if p.attributes.get("posture", _UP).value == "down"
                ),
                default=0.0,
            )
            for frame in frames
        ]
        last = frames[-1]
        score = sum(down_scores) / len(down_scores)
        return AnalysisResult(
            vendor=VENDOR,
            api="fall",
            frame_width=last.frame_width,
            frame_height=last.frame_height,
            persons=list(last.persons),
            person_count=last.person_count,
            sequence_score=round(score, 4),
            per_image=frames if len(frames) > 1 else [],
            raw={"method": self.method, "down_scores": [round(v, 4) for v in down_scores]},
        )

    def _body_tracking(self, data: bytes, params: dict) -> AnalysisResult:
        api = "body_tracking"
        dynamic = _truthy(params.get("dynamic", "false"))
        text = params.get("area")
        polygon: Polygon | None = None
        if text is not None and str(text).strip():
            try:
                polygons = read_area(text)
            except ValueError as error:
                raise BadRequest(f"area: {error}", vendor=VENDOR, api=api) from None
            if len(polygons) != 1:
                raise BadRequest("area must be a single polygon", vendor=VENDOR, api=api)
            polygon = polygons[0]
        if dynamic:
            if polygon is None or len(polygon) < TRACKING_MIN_POINTS:
                raise BadRequest(
                    f"dynamic tracking needs an area of at least {TRACKING_MIN_POINTS} points",
                    vendor=VENDOR,
                    api=api,
                )
            if params.get("case_id") in (None, ""):
                raise BadRequest("dynamic tracking needs a case_id", vendor=VENDOR, api=api)
        rgb = self._decode(data, api)
        height, width = rgb.shape[:2]
        if polygon is not None and not _polygon_in_frame(polygon, width, height, origin=0):
            raise BadRequest(f"area leaves the {width}x{height} image", vendor=VENDOR, api=api)
        found = self._detect(rgb)
        if not dynamic:
            counted = [
                d
                for d in found
                if polygon is None or point_in_polygon(_foot(d.box, width, height), polygon)
            ]
            return AnalysisResult(
                vendor=VENDOR,
                api=api,
                frame_width=width,
                frame_height=height,
                persons=[self._person(detection) for detection in counted],
                person_count=len(counted),
                raw=self._raw(found, dynamic=False),
            )
        assert polygon is not None
        case = self.cases.get(str(params["case_id"]), reset=_truthy(params.get("case_init")))
        with case.lock:
            moving = case.motion.detect(rgb)
            unexplained = [
                blob
                for blob in moving
                if not any(
                    geometry.intersection(blob.box.corners, d.box.corners) > 0 for d in found
                )
            ]
            candidates = suppress(found + unexplained)
            tracks = case.tracker.update([d.box for d in candidates])
            entered = left = 0
            for track in tracks:
                inside = point_in_polygon(_foot(track.box, width, height), polygon)
                if track.inside is False and inside:
                    entered += 1
                elif track.inside is True and not inside:
                    left += 1
                track.inside = inside
            persons = [
                self._person(detection, track.id)
                for detection, track in zip(candidates, tracks, strict=True)
            ]
        return AnalysisResult(
            vendor=VENDOR,
            api=api,
            frame_width=width,
            frame_height=height,
            persons=persons,
            person_count=len(persons),
            flow_in=entered,
            flow_out=left,
            raw=self._raw(
                candidates,
                dynamic=True,
                case_id=str(params["case_id"]),
                person_count={"in": entered, "out": left},
                track_ids=[track.id for track in tracks],
            ),
        )
