"""``LocalAnalyzer``: the on-box analyzer's APIs on top of detection and tracking."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from monitoring.lib import geometry
from monitoring.lib.geometry import Polygon, point_in_polygon

from ..base import (
    ON_BOX,
    AnalysisResult,
    ApiSpec,
    Attribute,
    BadRequest,
    Box,
    InvalidImage,
    Person,
    Unsupported,
    VendorTraits,
)
from ..geometry import read_area
from ..images import load_rgb
from .detection import Detection, Detector, default_detector, suppress
from .tracking import CaseStore

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
