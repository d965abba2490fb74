"""Normalized results: what every vendor's answer becomes (``AnalysisResult`` with its
persons, objects, drivers and boxes), whatever the vendor. ``base`` re-exports them.

Boxes and keypoints are in pixels of the image a client sent until the pipeline scales
the result to the stored frame (``AnalysisResult.scaled_to``), right after the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from monitoring.lib.geometry import Corners, size_factors


@dataclass(frozen=True)
class Box:
    """A rectangle in pixels: of the frame sent while a client reads the vendor's answer,
    of the stored frame once the pipeline has the result (``AnalysisResult.scaled_to``)."""

    left: float
    top: float
    width: float
    height: float

    @classmethod
    def from_corners(cls, left: float, top: float, right: float, bottom: float) -> Box:
        return cls(left=left, top=top, width=right - left, height=bottom - top)

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def foot(self) -> tuple[float, float]:
        """Bottom centre: where a standing person touches the ground."""
        return (self.left + self.width / 2, self.bottom)

    @property
    def corners(self) -> Corners:
        """``(left, top, right, bottom)``, what ``monitoring.lib.geometry`` measures."""
        return (self.left, self.top, self.left + self.width, self.top + self.height)

    def scaled(self, sx: float, sy: float) -> Box:
        return Box(self.left * sx, self.top * sy, self.width * sx, self.height * sy)

    def as_dict(self) -> dict[str, float]:
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class Keypoint:
    name: str
    x: float
    y: float
    score: float


@dataclass(frozen=True)
class Attribute:
    """One labelled attribute, e.g. headwear = "安全帽" (safety helmet) with its score."""

    value: str
    score: float


@dataclass
class Person:
    box: Box
    score: float
    keypoints: list[Keypoint] = field(default_factory=list)
    # Vendor attribute name -> value (Baidu body_attr names: headwear, upper_color, smoke...)
    attributes: dict[str, Attribute] = field(default_factory=dict)
    track_id: int | None = None


@dataclass
class DetectedObject:
    """A box that is not a whole person: helmet, clothes, gesture, hand, face..."""

    label: str
    box: Box
    score: float
    keypoints: list[Keypoint] = field(default_factory=list)


@dataclass(frozen=True)
class DriverBehaviour:
    name: str
    score: float
    threshold: float

    @property
    def present(self) -> bool:
        return self.score >= self.threshold


@dataclass
class Driver:
    box: Box
    score: float
    behaviours: list[DriverBehaviour] = field(default_factory=list)


@dataclass
class AnalysisResult:
    """The normalized answer of one vendor request, whatever the vendor.

    Only the fields the API fills are set; ``raw`` is the vendor's answer as received.
    For APIs that take several images, per-image findings are in ``per_image``.
    """

    vendor: str
    api: str
    frame_width: int | None = None
    frame_height: int | None = None
    persons: list[Person] = field(default_factory=list)
    objects: list[DetectedObject] = field(default_factory=list)
    drivers: list[Driver] = field(default_factory=list)
    person_count: int | None = None
    area_counts: list[int] = field(default_factory=list)
    flow_in: int | None = None
    flow_out: int | None = None
    sequence_score: float | None = None  # fall, fight
    face_quality: str | None = None
    liveness: bool | None = None
    per_image: list[AnalysisResult] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)  # body_seg maps, rendered images
    request_id: str = ""
    replay: bool = False  # the answer is a recorded example, not an analysis of this image
    raw: Any = None

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    def scaled_to(self, frame_size: tuple[int, int] | None) -> AnalysisResult:
        """This result with every box and keypoint in pixels of ``frame_size`` (width,
        height), ``per_image`` included: a copy, or this very result when it was analysed
        at that size or does not say at which."""
        per_image = [item.scaled_to(frame_size) for item in self.per_image]
        factors = size_factors((self.frame_width or 0, self.frame_height or 0), frame_size)
        if factors is None:
            if all(new is old for new, old in zip(per_image, self.per_image, strict=True)):
                return self
            return replace(self, per_image=per_image)
        sx, sy = factors

        def points(values: list[Keypoint]) -> list[Keypoint]:
            return [replace(point, x=point.x * sx, y=point.y * sy) for point in values]

        return replace(
            self,
            frame_width=int(frame_size[0]),
            frame_height=int(frame_size[1]),
            persons=[
                replace(
                    p,
                    box=p.box.scaled(sx, sy),
                    keypoints=points(p.keypoints),
                    attributes=dict(p.attributes),
                )
                for p in self.persons
            ],
            objects=[
                replace(o, box=o.box.scaled(sx, sy), keypoints=points(o.keypoints))
                for o in self.objects
            ],
            drivers=[
                replace(d, box=d.box.scaled(sx, sy), behaviours=list(d.behaviours))
                for d in self.drivers
            ],
            per_image=per_image,
        )
