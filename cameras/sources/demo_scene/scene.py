"""A demo scene and what it shows at a moment: its workers walking their paths (and
falling, and gathering in a crowd), their poses and boxes, the rendered frame and the
ground truth beside it. Everything follows from the scene's seed and the time ``t``."""

from __future__ import annotations

import io
import json
import math
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from monitoring.lib.geometry import point_in_polygon

from .figures import (
    HEIGHT,
    WIDTH,
    Look,
    Point,
    Shape,
    figure_shapes,
    render_figure,
    shapes_extent,
)

# ---------------------------------------------------------------- ground truth


@dataclass(frozen=True)
class PersonTruth:
    """One person in a frame. ``box`` is left, top, width, height in pixels, clipped to
    the frame; ``foot`` is where the person touches the ground."""

    worker: str
    box: tuple[float, float, float, float]
    foot: Point
    helmet: bool
    in_fence: bool
    fallen: bool
    hands: tuple[Point, ...] = ()  # centres of the hands (none drawn for a fallen person)
    hand_in_danger: bool = False  # a hand inside the scene's danger polygon


@dataclass(frozen=True)
class GroundTruth:
    scene: str
    t: float
    width: int
    height: int
    fence: list[Point]
    crowd: bool  # a crowd is gathered (or gathering) at this moment
    persons: list[PersonTruth] = field(default_factory=list)
    danger: list[Point] = field(default_factory=list)  # the press's feed opening

    def as_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1)


@dataclass(frozen=True)
class Worker:
    """A worker walking a closed path of foot points at ``speed`` pixels per second
    (at the bottom of the frame; slower further away), pausing ``dwell`` seconds at
    each waypoint. ``crowd`` workers join the crowd when it forms; a ``falls`` worker
    falls at ``fall_at`` seconds of every ``fall_period`` and lies for ``fall_for``; a
    ``reaches`` worker stands at the first point of its path, facing +x, and stretches
    an arm forward at ``reach_at`` seconds of every ``reach_period`` for ``reach_for``."""

    name: str
    path: tuple[Point, ...]
    speed: float
    start: float
    look: Look
    dwell: float = 0.0
    crowd: bool = False
    crowd_slot: Point = (0.0, 0.0)
    falls: bool = False
    fall_period: float = 90.0
    fall_at: float = 30.0
    fall_for: float = 12.0
    reaches: bool = False
    reach_period: float = 60.0
    reach_at: float = 20.0
    reach_for: float = 10.0

    def reaching(self, t: float) -> bool:
        return self.reaches and (t - self.reach_at) % self.reach_period < self.reach_for

    def _legs(self) -> list[tuple[Point, Point, float]]:
        points = list(self.path)
        return [
            (a, b, math.dist(a, b)) for a, b in zip(points, points[1:] + points[:1], strict=True)
        ]

    def walk(self, t: float, depth: Callable[[float], float]) -> tuple[Point, float]:
        """Foot position on the path at ``t`` and the walking speed there (px/s)."""
        legs = self._legs()
        # Time to walk each leg grows with depth: far away, a step covers fewer pixels.
        durations = [
            length / max(1e-6, self.speed * depth((a[1] + b[1]) / 2)) for a, b, length in legs
        ]
        cycle = sum(durations) + self.dwell * len(legs)
        moment = (t + self.start) % cycle
        for (a, b, _length), duration in zip(legs, durations, strict=True):
            if moment < self.dwell:
                return a, 0.0
            moment -= self.dwell
            if moment < duration:
                share = moment / duration
                point = (a[0] + (b[0] - a[0]) * share, a[1] + (b[1] - a[1]) * share)
                return point, self.speed * depth(point[1])
            moment -= duration
        return legs[0][0], 0.0


@dataclass(frozen=True)
class Crowd:
    """A gathering at ``centre`` for ``duration`` seconds of every ``period``,
    starting at ``at``; members walk in over ``ramp`` seconds and walk away after."""

    centre: Point
    period: float = 120.0
    at: float = 60.0
    duration: float = 30.0
    ramp: float = 6.0

    def weight(self, t: float) -> float:
        moment = (t - self.at) % self.period
        if moment > self.duration:
            return 0.0
        rise = min(1.0, moment / self.ramp)
        fall = min(1.0, (self.duration - moment) / self.ramp)
        return max(0.0, min(rise, fall))


# ---------------------------------------------------------------- the scene


class DemoScene:
    """A rendered site: a painted background, workers, a fence polygon (no-entry area)
    and a crowd point. ``render(t)`` and ``ground_truth(t)`` depend on ``t`` only."""

    def __init__(
        self,
        name: str,
        title: str,
        seed: int,
        fence: Sequence[Point],
        horizon: float,
        workers: Sequence[Worker],
        crowd: Crowd,
        paint_background: Callable[[DemoScene, random.Random], Image.Image],
        size: tuple[int, int] = (WIDTH, HEIGHT),
        danger: Sequence[Point] = (),
    ):
        self.name = name
        self.title = title
        self.seed = seed
        self.fence: list[Point] = [(float(x), float(y)) for x, y in fence]
        self.danger: list[Point] = [(float(x), float(y)) for x, y in danger]
        self.horizon = horizon
        self.workers = list(workers)
        self.crowd = crowd
        self.size = size
        self._paint_background = paint_background
        self._background: Image.Image | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"demo://{self.name}"

    # Perspective: a standing person's height in pixels grows linearly with how far
    # below the horizon the feet are.
    def person_height(self, foot_y: float) -> float:
        return (foot_y - self.horizon) * (self.size[1] * 0.46) / (self.size[1] - self.horizon)

    def depth(self, foot_y: float) -> float:
        """How large things are at ``foot_y`` compared with the bottom of the frame."""
        return self.person_height(foot_y) / self.person_height(self.size[1])

    def background(self) -> Image.Image:
        with self._lock:
            if self._background is None:
                # Pictures, not secrets: a seeded generator keeps the scene reproducible.
                rng = random.Random(self.seed)  # noqa: S311
                self._background = self._paint_background(self, rng)
            return self._background

    # ------------------------------------------------------------ who is where

    def _poses(self, t: float) -> list[dict]:
        poses = []
        crowd_weight = self.crowd.weight(t)
        for index, worker in enumerate(self.workers):
            foot, speed = worker.walk(t, self.depth)
            previous, _ = worker.walk(t - 0.2, self.depth)
            if worker.crowd and crowd_weight > 0:
                slot = (
                    self.crowd.centre[0] + worker.crowd_slot[0],
                    self.crowd.centre[1] + worker.crowd_slot[1],
                )
                foot = _lerp(foot, slot, crowd_weight)
                previous_weight = self.crowd.weight(t - 0.2)
                previous = _lerp(previous, slot, previous_weight)
                speed = math.dist(foot, previous) / 0.2
            dx = foot[0] - previous[0]
            facing = 1 if dx > 0.01 else -1 if dx < -0.01 else (1 if index % 2 else -1)
            nominal = worker.speed * self.depth(foot[1])
            stride = min(1.0, speed / nominal) if nominal > 0 else 0.0
            fallen = False
            if worker.falls:
                moment = (t - worker.fall_at) % worker.fall_period
                if moment < worker.fall_for:
                    fallen = True
                    foot, _ = worker.walk(t - moment, self.depth)
                    stride = 0.0
            if worker.reaches:
                foot, facing, stride = worker.path[0], 1, 0.0
            height = self.person_height(foot[1])
            phase = 2 * math.pi * ((t + worker.start) * 0.95)
            poses.append(
                {
                    "worker": worker,
                    "foot": foot,
                    "height": height,
                    "facing": facing,
                    "stride": stride,
                    "phase": phase,
                    "fallen": fallen,
                    "reach": worker.reaching(t),
                }
            )
        # Far ones first, so nearer workers are drawn over them.
        poses.sort(key=lambda pose: pose["foot"][1])
        return poses

    def _box(self, pose: dict, shapes: Sequence[Shape]) -> tuple[float, float, float, float]:
        left, bottom, right, top = shapes_extent(shapes)
        height = pose["height"]
        fx, fy = pose["foot"]
        if pose["facing"] < 0:
            left, right = -right, -left
        if pose["fallen"]:
            # Lying along the ground, head towards where the worker was facing.
            length, thickness = (top - bottom) * height, (right - left) * height
            x0 = fx + bottom * height if pose["facing"] > 0 else fx - bottom * height - length
            return (x0, fy - thickness, length, thickness)
        return (
            fx + left * height,
            fy - top * height,
            (right - left) * height,
            (top - bottom) * height,
        )

    def _hands(self, pose: dict, shapes: Sequence[Shape]) -> tuple[Point, ...]:
        """Centres of the hands of a standing pose, in pixels of the frame."""
        fx, fy = pose["foot"]
        height, facing = pose["height"], pose["facing"]
        centres = []
        for shape in shapes:
            if shape.part == "hand":
                x = (shape.points[0][0] + shape.points[1][0]) / 2
                y = (shape.points[0][1] + shape.points[1][1]) / 2
                centres.append((round(fx + facing * x * height, 1), round(fy - y * height, 1)))
        return tuple(centres)

    def ground_truth(self, t: float) -> GroundTruth:
        width, height = self.size
        persons = []
        for pose in self._poses(t):
            worker: Worker = pose["worker"]
            shapes = figure_shapes(worker.look, pose["phase"], pose["stride"], pose["reach"])
            left, top, box_width, box_height = self._box(pose, shapes)
            right, bottom = min(width, left + box_width), min(height, top + box_height)
            left, top = max(0.0, left), max(0.0, top)
            if right <= left or bottom <= top:
                continue
            foot = pose["foot"]
            hands = () if pose["fallen"] else self._hands(pose, shapes)
            persons.append(
                PersonTruth(
                    worker=worker.name,
                    box=(
                        round(left, 1),
                        round(top, 1),
                        round(right - left, 1),
                        round(bottom - top, 1),
                    ),
                    foot=(round(foot[0], 1), round(foot[1], 1)),
                    helmet=worker.look.helmet is not None,
                    in_fence=point_in_polygon(foot, self.fence),
                    fallen=pose["fallen"],
                    hands=hands,
                    hand_in_danger=len(self.danger) >= 3
                    and any(point_in_polygon(hand, self.danger) for hand in hands),
                )
            )
        return GroundTruth(
            scene=self.name,
            t=t,
            width=width,
            height=height,
            fence=list(self.fence),
            crowd=self.crowd.weight(t) > 0,
            persons=persons,
            danger=list(self.danger),
        )

    # ------------------------------------------------------------ pictures

    def render(self, t: float) -> Image.Image:
        """The frame at ``t`` (RGB)."""
        frame = self.background().copy()
        shadows = Image.new("L", self.size, 0)
        shadow_draw = ImageDraw.Draw(shadows)
        figures = []
        for pose in self._poses(t):
            worker: Worker = pose["worker"]
            shapes = figure_shapes(worker.look, pose["phase"], pose["stride"], pose["reach"])
            left, top, box_width, box_height = self._box(pose, shapes)
            fx, fy = pose["foot"]
            reach = (box_width if pose["fallen"] else box_height * 0.45) * 0.6
            shadow_draw.ellipse(
                (fx - reach * 0.5, fy - reach * 0.1, fx + reach * 1.1, fy + reach * 0.12), fill=110
            )
            picture = render_figure(shapes, pose["height"], pose["facing"])
            if pose["fallen"]:
                picture = picture.rotate(-90 if pose["facing"] > 0 else 90, expand=True)
            figures.append((picture, (round(left), round(top))))
        shadows = shadows.filter(ImageFilter.GaussianBlur(6))
        frame.paste((20, 18, 15), (0, 0), Image.eval(shadows, lambda v: v * 3 // 5))
        for picture, corner in figures:
            frame.paste(picture, corner, picture)
        return frame

    def jpeg(self, t: float, quality: int = 85) -> bytes:
        buffer = io.BytesIO()
        self.render(t).save(buffer, format="JPEG", quality=quality)
        return buffer.getvalue()

    def write_sample(self, t: float, folder: Path, quality: int = 85) -> tuple[Path, Path]:
        """Write the frame at ``t`` (``NAME-T.jpg``) and its ground truth beside it
        (``NAME-T.json``); returns both paths."""
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{self.name}-{t:012.2f}"
        image_path, truth_path = folder / f"{stem}.jpg", folder / f"{stem}.json"
        image_path.write_bytes(self.jpeg(t, quality))
        truth_path.write_text(self.ground_truth(t).to_json())
        return image_path, truth_path


def _lerp(a: Point, b: Point, weight: float) -> Point:
    return (a[0] + (b[0] - a[0]) * weight, a[1] + (b[1] - a[1]) * weight)


# ---------------------------------------------------------------- backgrounds
