"""The demo scene: a synthetic construction site rendered on this machine.

Each scene is deterministic: its look, its workers and their paths follow from a seed,
and what it shows at a moment follows from the time ``t`` in seconds alone, so any two
processes render the same picture for the same ``t``. Workers are people-shaped figures
(head, helmet or hair, hi-vis vest over a shirt, arms, legs, boots, shading, a shadow)
sized in perspective so that a person detector working on a frame of about 800 pixels
sees them at its working scale. Some workers cross a fenced no-entry area, some wear no
helmet, one of the ``scaffold`` scene falls and lies on the ground for a while, and now
and then a crowd forms.

``scene.ground_truth(t)`` says where every person is (box in pixels, helmet or not,
foot inside the fence polygon or not, fallen or not). It is computed beside the frame
for evaluating an analyzer and never given to one.

Scenes: ``get_scene("demo://site-gate")`` or ``get_scene("scaffold")``; ``SCENES``
lists them, each with its ``fence`` polygon in pixels of ``size``.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from monitoring.lib.geometry import point_in_polygon

from . import Source, SourceError, SourceSettings

WIDTH, HEIGHT = 1280, 720
SUPERSAMPLE = 3  # figures are drawn this much larger, then scaled down (smooth edges)
Point = tuple[float, float]
RGB = tuple[int, int, int]

HELMET_COLOURS: list[RGB] = [(250, 204, 21), (245, 245, 240), (220, 38, 38), (37, 99, 235)]
VEST_COLOURS: list[RGB] = [(255, 122, 0), (205, 255, 50), (255, 160, 30), (180, 240, 40)]
SHIRT_COLOURS: list[RGB] = [(40, 70, 140), (60, 60, 70), (110, 90, 70), (30, 90, 80)]
TROUSER_COLOURS: list[RGB] = [(30, 40, 70), (50, 50, 55), (70, 60, 45), (25, 30, 45)]
SKIN_COLOURS: list[RGB] = [(224, 172, 135), (198, 134, 96), (160, 110, 75), (236, 192, 160)]
REFLECTIVE: RGB = (228, 230, 232)
HAIR_COLOURS: list[RGB] = [(25, 20, 18), (45, 35, 28), (70, 55, 40)]


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


@dataclass(frozen=True)
class GroundTruth:
    scene: str
    t: float
    width: int
    height: int
    fence: list[Point]
    crowd: bool  # a crowd is gathered (or gathering) at this moment
    persons: list[PersonTruth] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=1)


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class Look:
    helmet: RGB | None
    vest: RGB
    shirt: RGB
    trousers: RGB
    skin: RGB
    hair: RGB


@dataclass(frozen=True)
class Shape:
    """A part of a figure in figure units (height 1, foot centre at 0, 0, y up)."""

    kind: str  # "poly", "ellipse" or "limb"
    points: tuple[Point, ...]
    colour: RGB
    width: float = 0.0  # limb thickness

    def extent(self) -> tuple[float, float, float, float]:
        xs = [x for x, _y in self.points]
        ys = [y for _x, y in self.points]
        pad = self.width / 2
        return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad


def _limb(start: Point, angle: float, length: float) -> Point:
    """The end of a segment hanging from ``start``, ``angle`` radians from straight down
    (positive swings forward, towards +x)."""
    return (start[0] + length * math.sin(angle), start[1] - length * math.cos(angle))


def _mix(a: RGB, b: RGB, weight: float) -> RGB:
    return tuple(round(x * (1 - weight) + y * weight) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _shade(colour: RGB, factor: float) -> RGB:
    return tuple(max(0, min(255, round(channel * factor))) for channel in colour)  # type: ignore[return-value]


def figure_shapes(look: Look, phase: float, stride: float) -> list[Shape]:
    """The parts of a worker in mid-walk, back to front, seen three-quarters from the
    front. ``phase`` is the gait cycle in radians, ``stride`` 0 (standing) to 1 (full
    walking swing). Facing +x."""
    swing = 0.36 * stride * math.sin(phase)
    hip_y, shoulder_y = 0.52, 0.79
    thigh, shin = 0.245, 0.235
    upper_arm, forearm = 0.17, 0.15
    shapes: list[Shape] = []

    def leg(hip: Point, angle: float, near: bool) -> None:
        # The knee bends most while the leg swings forward.
        bend = max(0.0, math.sin(angle / 0.36 * math.pi / 2 + 0.5)) * 0.4 * stride
        knee = _limb(hip, angle, thigh)
        ankle = _limb(knee, angle - bend, shin)
        trouser = look.trousers if near else _shade(look.trousers, 0.82)
        shapes.append(Shape("limb", (hip, knee), trouser, 0.088))
        shapes.append(Shape("limb", (knee, ankle), trouser, 0.072))
        boot = (34, 30, 27) if near else (24, 22, 20)
        shapes.append(
            Shape(
                "poly",
                (
                    (ankle[0] - 0.035, ankle[1] + 0.035),
                    (ankle[0] + 0.06, ankle[1] + 0.02),
                    (ankle[0] + 0.068, ankle[1] - 0.025),
                    (ankle[0] - 0.038, ankle[1] - 0.025),
                ),
                boot,
            )
        )

    def arm(shoulder: Point, angle: float, near: bool) -> None:
        elbow = _limb(shoulder, angle, upper_arm)
        wrist = _limb(elbow, angle + 0.2 + 0.4 * max(0.0, angle), forearm)
        sleeve = look.shirt if near else _shade(look.shirt, 0.8)
        shapes.append(Shape("limb", (shoulder, elbow), sleeve, 0.066))
        shapes.append(Shape("limb", (elbow, wrist), sleeve, 0.056))
        hand = look.skin if near else _shade(look.skin, 0.82)
        shapes.append(
            Shape(
                "ellipse", ((wrist[0] - 0.03, wrist[1] - 0.036), (wrist[0] + 0.03, wrist[1])), hand
            )
        )

    # Legs apart at the hips, swinging in opposite directions; arms swing against them.
    leg((-0.05, hip_y), -swing - 0.04, near=False)
    leg((0.05, hip_y), swing + 0.04, near=True)
    arm((-0.122, shoulder_y), -0.1 - swing * 0.7, near=False)
    # Torso: shirt, the vest over it with two reflective bands, a belt.
    shapes.append(
        Shape(
            "poly",
            (
                (-0.102, hip_y - 0.01),
                (0.102, hip_y - 0.01),
                (0.098, 0.62),
                (0.138, shoulder_y - 0.015),
                (0.105, shoulder_y + 0.03),
                (0.035, shoulder_y + 0.045),
                (-0.035, shoulder_y + 0.045),
                (-0.105, shoulder_y + 0.03),
                (-0.138, shoulder_y - 0.015),
                (-0.098, 0.62),
            ),
            look.shirt,
        )
    )
    shapes.append(
        Shape(
            "poly",
            (
                (-0.1, hip_y + 0.025),
                (0.1, hip_y + 0.025),
                (0.098, 0.62),
                (0.12, shoulder_y - 0.02),
                (0.085, shoulder_y + 0.03),
                (0.03, shoulder_y + 0.02),
                (0.0, 0.66),
                (-0.03, shoulder_y + 0.02),
                (-0.085, shoulder_y + 0.03),
                (-0.12, shoulder_y - 0.02),
                (-0.098, 0.62),
            ),
            look.vest,
        )
    )
    # One reflective band at the waist. (A second one across the chest reads as a
    # shoulder line and hides the head and shoulders from a people detector.)
    band = 0.585
    shapes.append(
        Shape(
            "poly",
            ((-0.1, band), (0.1, band), (0.101, band + 0.024), (-0.101, band + 0.024)),
            _mix(look.vest, REFLECTIVE, 0.6),
        )
    )
    shapes.append(
        Shape(
            "poly",
            (
                (-0.104, hip_y - 0.012),
                (0.104, hip_y - 0.012),
                (0.104, hip_y + 0.025),
                (-0.104, hip_y + 0.025),
            ),
            (35, 30, 28),
        )
    )
    arm((0.122, shoulder_y), 0.1 + swing * 0.7, near=True)
    # Neck and head, then a helmet with its brim, or hair; eyes towards the facing side.
    shapes.append(
        Shape("poly", ((-0.03, 0.8), (0.03, 0.8), (0.027, 0.87), (-0.027, 0.87)), look.skin)
    )
    centre = (0.004, 0.925)
    shapes.append(
        Shape(
            "ellipse",
            ((centre[0] - 0.056, centre[1] - 0.068), (centre[0] + 0.056, centre[1] + 0.068)),
            look.skin,
        )
    )
    if look.helmet is not None:
        shapes.append(
            Shape("ellipse", ((centre[0] - 0.066, 0.918), (centre[0] + 0.066, 1.0)), look.helmet)
        )
        shapes.append(
            Shape(
                "poly",
                ((-0.072, 0.932), (0.088, 0.932), (0.088, 0.95), (-0.072, 0.95)),
                _shade(look.helmet, 0.8),
            )
        )
    else:
        shapes.append(
            Shape("ellipse", ((centre[0] - 0.06, 0.935), (centre[0] + 0.058, 0.996)), look.hair)
        )
    for eye_x in (0.0, 0.032):
        shapes.append(Shape("ellipse", ((eye_x, 0.918), (eye_x + 0.012, 0.93)), (40, 30, 25)))
    return shapes


def shapes_extent(shapes: Sequence[Shape]) -> tuple[float, float, float, float]:
    """Left, bottom, right, top of the figure in figure units (y up)."""
    extents = [shape.extent() for shape in shapes]
    return (
        min(e[0] for e in extents),
        min(e[1] for e in extents),
        max(e[2] for e in extents),
        max(e[3] for e in extents),
    )


def render_figure(shapes: Sequence[Shape], height_px: float, facing: int) -> Image.Image:
    """An RGBA picture of the figure ``height_px`` tall, shaded (light from the upper
    left), mirrored when facing -x. Its bottom-left corner is the extent's corner."""
    left, bottom, right, top = shapes_extent(shapes)
    scale = height_px * SUPERSAMPLE
    size = (max(1, math.ceil((right - left) * scale)), max(1, math.ceil((top - bottom) * scale)))
    patch = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(patch)

    def px(point: Point) -> tuple[float, float]:
        return ((point[0] - left) * scale, (top - point[1]) * scale)

    for shape in shapes:
        colour = (*shape.colour, 255)
        if shape.kind == "poly":
            draw.polygon([px(p) for p in shape.points], fill=colour)
        elif shape.kind == "ellipse":
            (x0, y1), (x1, y0) = px(shape.points[0]), px(shape.points[1])
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            width = max(1, round(shape.width * scale))
            a, b = px(shape.points[0]), px(shape.points[1])
            draw.line([a, b], fill=colour, width=width)
            radius = width / 2
            for cx, cy in (a, b):
                draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
    pixels = np.asarray(patch).astype(np.float32)
    # Light from the upper left: a horizontal and a slight vertical ramp.
    ramp_x = np.linspace(1.12, 0.72, size[0], dtype=np.float32)[None, :, None]
    ramp_y = np.linspace(1.05, 0.9, size[1], dtype=np.float32)[:, None, None]
    pixels[..., :3] = np.clip(pixels[..., :3] * ramp_x * ramp_y, 0, 255)
    shaded = Image.fromarray(pixels.astype(np.uint8), "RGBA")
    if facing < 0:
        shaded = shaded.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    final = (max(1, round(size[0] / SUPERSAMPLE)), max(1, round(size[1] / SUPERSAMPLE)))
    return shaded.resize(final, Image.Resampling.LANCZOS)


# ---------------------------------------------------------------- workers


@dataclass(frozen=True)
class Worker:
    """A worker walking a closed path of foot points at ``speed`` pixels per second
    (at the bottom of the frame; slower further away), pausing ``dwell`` seconds at
    each waypoint. ``crowd`` workers join the crowd when it forms; a ``falls`` worker
    falls at ``fall_at`` seconds of every ``fall_period`` and lies for ``fall_for``."""

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
    ):
        self.name = name
        self.title = title
        self.seed = seed
        self.fence: list[Point] = [(float(x), float(y)) for x, y in fence]
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

    def ground_truth(self, t: float) -> GroundTruth:
        width, height = self.size
        persons = []
        for pose in self._poses(t):
            worker: Worker = pose["worker"]
            shapes = figure_shapes(worker.look, pose["phase"], pose["stride"])
            left, top, box_width, box_height = self._box(pose, shapes)
            right, bottom = min(width, left + box_width), min(height, top + box_height)
            left, top = max(0.0, left), max(0.0, top)
            if right <= left or bottom <= top:
                continue
            foot = pose["foot"]
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
            shapes = figure_shapes(worker.look, pose["phase"], pose["stride"])
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


def _noise(rng: random.Random, size: tuple[int, int], scale: int, amount: float) -> np.ndarray:
    """Smooth value noise in [-amount, amount], height x width."""
    generator = np.random.default_rng(rng.randrange(2**32))
    small = generator.standard_normal((size[1] // scale + 2, size[0] // scale + 2)).astype(
        np.float32
    )
    picture = Image.fromarray(small, "F").resize(
        (size[0] + 2 * scale, size[1] + 2 * scale), Image.Resampling.BICUBIC
    )
    grid = np.asarray(picture)[scale : scale + size[1], scale : scale + size[0]]
    return np.clip(grid, -2.5, 2.5) / 2.5 * amount


def _sky_and_ground(scene: DemoScene, rng: random.Random, ground: RGB, sky: RGB) -> Image.Image:
    width, height = scene.size
    rows = np.arange(height, dtype=np.float32)[:, None]
    horizon = scene.horizon
    pixels = np.zeros((height, width, 3), dtype=np.float32)
    sky_top = np.array([sky[0] * 0.75, sky[1] * 0.82, sky[2] * 0.95], dtype=np.float32)
    sky_low = np.array([min(255, c * 1.12) for c in sky], dtype=np.float32)
    share = np.clip(rows / max(1.0, horizon), 0, 1)[..., None]
    pixels[:] = sky_top * (1 - share) + sky_low * share
    below = (rows >= horizon)[..., 0]
    ground_colour = np.array(ground, dtype=np.float32)
    depth = np.clip((rows - horizon) / (height - horizon), 0, 1)
    ground_shade = (0.85 + 0.2 * depth)[..., None]
    ground_pixels = ground_colour * ground_shade
    grain = (
        _noise(rng, (width, height), 6, 14.0)[..., None]
        + _noise(rng, (width, height), 40, 16.0)[..., None]
    )
    pixels = np.where(below[:, None, None], ground_pixels + grain, pixels)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _fence_on_ground(scene: DemoScene, draw: ImageDraw.ImageDraw) -> None:
    """Orange-and-white barrier posts joined by a chain along the fence polygon, with
    a hatched warning border on the ground."""
    points = scene.fence
    draw.polygon(points, outline=(230, 190, 40), width=5)
    edges = list(zip(points, points[1:] + points[:1], strict=True))
    for a, b in edges:
        length = math.dist(a, b)
        steps = max(1, int(length / 110))
        posts = [_lerp(a, b, i / steps) for i in range(steps + 1)]
        tops = []
        for x, y in posts:
            tall = 0.24 * scene.person_height(y)
            thick = max(3, round(0.025 * scene.person_height(y)))
            for k in range(4):
                y0 = y - tall * (k + 1) / 4
                y1 = y - tall * k / 4
                colour = (240, 110, 20) if k % 2 == 0 else (240, 240, 235)
                draw.rectangle((x - thick / 2, y0, x + thick / 2, y1), fill=colour)
            tops.append((x, y - tall))
        for (x0, y0), (x1, y1) in itertools.pairwise(tops):
            sag = 6
            middle = ((x0 + x1) / 2, (y0 + y1) / 2 + sag)
            draw.line([(x0, y0), middle, (x1, y1)], fill=(200, 60, 20), width=3)


def _paint_site_gate(scene: DemoScene, rng: random.Random) -> Image.Image:
    width, height = scene.size
    picture = _sky_and_ground(scene, rng, ground=(150, 142, 128), sky=(150, 185, 220))
    draw = ImageDraw.Draw(picture)
    horizon = scene.horizon
    # Distant tree line and hills.
    for x in range(0, width, 14):
        top = horizon - 40 - 18 * math.sin(x / 90) - rng.uniform(0, 14)
        draw.ellipse((x - 16, top, x + 22, horizon + 6), fill=(70 + rng.randrange(20), 100, 70))
    # A tower crane.
    mast_x = 980
    for y in range(40, int(horizon), 24):
        draw.line([(mast_x, y), (mast_x + 18, y + 24)], fill=(200, 160, 30), width=2)
        draw.line([(mast_x + 18, y), (mast_x, y + 24)], fill=(200, 160, 30), width=2)
    draw.line([(mast_x, 40), (mast_x, horizon)], fill=(210, 170, 30), width=3)
    draw.line([(mast_x + 18, 40), (mast_x + 18, horizon)], fill=(210, 170, 30), width=3)
    draw.line([(560, 46), (1240, 46)], fill=(210, 170, 30), width=5)
    draw.line([(560, 60), (1240, 60)], fill=(210, 170, 30), width=2)
    draw.line([(1120, 60), (1120, 150)], fill=(60, 60, 60), width=1)
    # Site office: a two-storey blue prefab with windows and stairs.
    draw.rectangle((90, horizon - 150, 470, horizon + 20), fill=(70, 110, 170))
    draw.rectangle((90, horizon - 150, 470, horizon - 140), fill=(230, 230, 230))
    draw.rectangle((90, horizon - 68, 470, horizon - 62), fill=(230, 230, 230))
    for x in range(110, 460, 60):
        for y in (horizon - 128, horizon - 50):
            draw.rectangle((x, y, x + 34, y + 30), fill=(180, 210, 230), outline=(240, 240, 240))
    draw.line([(470, horizon - 62), (540, horizon + 20)], fill=(90, 90, 90), width=4)
    # The gate: two pillars and a sliding fence panel, left open.
    for x in (600, 760):
        draw.rectangle((x, horizon - 90, x + 26, horizon + 40), fill=(180, 175, 165))
        draw.rectangle((x - 4, horizon - 96, x + 30, horizon - 88), fill=(150, 145, 140))
    draw.rectangle((500, horizon - 60, 600, horizon + 30), outline=(110, 110, 120), width=3)
    for x in range(505, 600, 9):
        draw.line([(x, horizon - 58), (x, horizon + 28)], fill=(120, 120, 130), width=1)
    # Stacked materials: a pallet of bricks and a pile of pipes.
    draw.rectangle((1120, horizon + 20, 1240, horizon + 70), fill=(150, 70, 50))
    for y in range(int(horizon) + 22, int(horizon) + 70, 10):
        draw.line([(1120, y), (1240, y)], fill=(120, 55, 40), width=1)
    for i in range(5):
        for j in range(3 - i // 2):
            cx, cy = 60 + i * 16 + j * 8, horizon + 60 - j * 14
            draw.ellipse(
                (cx - 8, cy - 8, cx + 8, cy + 8), fill=(140, 140, 150), outline=(90, 90, 95)
            )
    # Tyre tracks through the gate.
    for offset in (-40, 40):
        draw.line(
            [(680 + offset, horizon + 40), (560 + offset * 3, height)],
            fill=(125, 118, 106),
            width=14,
        )
    _fence_on_ground(scene, draw)
    return picture.filter(ImageFilter.GaussianBlur(0.6))


def _paint_scaffold(scene: DemoScene, rng: random.Random) -> Image.Image:
    picture = _sky_and_ground(scene, rng, ground=(140, 112, 84), sky=(165, 190, 215))
    draw = ImageDraw.Draw(picture)
    horizon = scene.horizon
    # A concrete frame building under construction, floors and columns.
    left, right, top = 60, 760, 40
    draw.rectangle((left, top, right, horizon + 10), fill=(170, 168, 160))
    for y in range(top, int(horizon), 58):
        draw.rectangle((left, y, right, y + 10), fill=(195, 192, 185))
        for x in range(left + 20, right - 40, 110):
            draw.rectangle((x, y + 14, x + 70, y + 50), fill=(80, 82, 88))
    # Scaffolding in front: standards, ledgers, braces, toe boards, a green net on part.
    for x in range(40, 800, 70):
        draw.line([(x, top - 20), (x, horizon + 30)], fill=(120, 124, 130), width=4)
    for y in range(top, int(horizon) + 30, 58):
        draw.line([(40, y), (790, y)], fill=(130, 134, 140), width=3)
        draw.rectangle((40, y + 48, 790, y + 54), fill=(150, 110, 60))
    for x in range(40, 740, 140):
        draw.line([(x, horizon + 30), (x + 140, top)], fill=(110, 114, 120), width=2)
    net = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    ImageDraw.Draw(net).rectangle((460, top - 20, 800, horizon - 60), fill=(40, 140, 70, 150))
    picture.paste(net, (0, 0), net)
    draw = ImageDraw.Draw(picture)
    # A site hut and a concrete mixer on the right.
    draw.rectangle((930, horizon - 90, 1210, horizon + 15), fill=(220, 220, 215))
    draw.rectangle((930, horizon - 98, 1210, horizon - 90), fill=(60, 100, 160))
    for x in (960, 1050, 1140):
        draw.rectangle((x, horizon - 70, x + 48, horizon - 30), fill=(150, 190, 215))
    draw.ellipse((840, horizon - 20, 910, horizon + 40), fill=(230, 120, 30))
    draw.rectangle((830, horizon + 30, 920, horizon + 46), fill=(60, 60, 60))
    # Heaps of sand and gravel.
    draw.pieslice((1000, horizon + 10, 1250, horizon + 120), 180, 360, fill=(196, 170, 120))
    draw.pieslice((880, horizon + 30, 1040, horizon + 110), 180, 360, fill=(130, 128, 122))
    _fence_on_ground(scene, draw)
    return picture.filter(ImageFilter.GaussianBlur(0.6))


# ---------------------------------------------------------------- the two scenes


def _look(rng: random.Random, helmet: bool) -> Look:
    return Look(
        helmet=rng.choice(HELMET_COLOURS) if helmet else None,
        vest=rng.choice(VEST_COLOURS),
        shirt=rng.choice(SHIRT_COLOURS),
        trousers=rng.choice(TROUSER_COLOURS),
        skin=rng.choice(SKIN_COLOURS),
        hair=rng.choice(HAIR_COLOURS),
    )


def _workers(seed: int, plans: Sequence[dict]) -> list[Worker]:
    rng = random.Random(seed)  # noqa: S311 - reproducible looks, not secrets
    workers = []
    for index, plan in enumerate(plans):
        jitter = [(x + rng.uniform(-12, 12), y + rng.uniform(-6, 6)) for x, y in plan["path"]]
        workers.append(
            Worker(
                name=plan.get("name", f"worker-{index + 1}"),
                path=tuple(jitter),
                speed=plan.get("speed", rng.uniform(70, 105)),
                start=rng.uniform(0, 200),
                look=_look(rng, plan.get("helmet", True)),
                dwell=plan.get("dwell", rng.choice([0.0, 2.0, 4.0])),
                crowd=plan.get("crowd", False),
                crowd_slot=plan.get("slot", (0.0, 0.0)),
                falls=plan.get("falls", False),
            )
        )
    return workers


def _site_gate() -> DemoScene:
    seed = 20240611
    plans = [
        # Walks through the gate and down to the front.
        {"path": [(690, 560), (560, 700), (260, 690), (420, 585)], "crowd": True, "slot": (-95, 0)},
        # Crosses the fenced area on the right.
        {
            "path": [(700, 600), (1010, 640), (1180, 700), (900, 700)],
            "crowd": True,
            "slot": (0, 14),
        },
        # No helmet: back and forth along the front.
        {"path": [(140, 640), (640, 680)], "helmet": False, "crowd": True, "slot": (95, 4)},
        {
            "path": [(380, 575), (880, 590), (1100, 600), (560, 625)],
            "crowd": True,
            "slot": (45, -22),
        },
        {"path": [(1230, 590), (940, 575), (300, 600), (620, 610)], "helmet": False, "dwell": 5.0},
    ]
    return DemoScene(
        name="site-gate",
        title="Site gate",
        seed=seed,
        fence=[(860, 560), (1240, 560), (1272, 712), (800, 712)],
        horizon=255.0,
        workers=_workers(seed, plans),
        crowd=Crowd(centre=(470, 640), period=120.0, at=50.0, duration=32.0),
        paint_background=_paint_site_gate,
    )


def _scaffold() -> DemoScene:
    seed = 20240612
    plans = [
        # Walks in under the scaffolding, inside the fenced area.
        {"path": [(600, 580), (300, 630), (110, 690), (700, 700)], "crowd": True, "slot": (-90, 0)},
        {
            "path": [(1180, 600), (820, 680), (520, 620)],
            "helmet": False,
            "crowd": True,
            "slot": (90, 6),
        },
        # Falls every now and then.
        {"path": [(880, 590), (1200, 690), (980, 700)], "falls": True, "dwell": 3.0},
        {"path": [(420, 700), (1000, 640)], "crowd": True, "slot": (0, 20)},
        {
            "path": [(660, 575), (1050, 585), (760, 640)],
            "helmet": False,
            "crowd": True,
            "slot": (40, -28),
        },
    ]
    return DemoScene(
        name="scaffold",
        title="Scaffold",
        seed=seed,
        fence=[(30, 572), (470, 572), (420, 712), (8, 712)],
        horizon=245.0,
        workers=_workers(seed, plans),
        crowd=Crowd(centre=(760, 650), period=150.0, at=90.0, duration=35.0),
        paint_background=_paint_scaffold,
    )


SCENES: dict[str, DemoScene] = {scene.name: scene for scene in (_site_gate(), _scaffold())}


def get_scene(name: str) -> DemoScene:
    """The scene for ``demo://NAME`` or ``NAME``; ``KeyError`` names the known ones."""
    key = name.strip()
    if key.startswith("demo://"):
        key = key[len("demo://") :]
    key = key.strip("/")
    try:
        return SCENES[key]
    except KeyError:
        raise KeyError(f"no demo scene {name!r}; there are {', '.join(sorted(SCENES))}") from None


# ---------------------------------------------------------------- as a camera


class DemoSource(Source):
    """A camera showing a demo scene: each grab renders the scene at the wall-clock
    time, so every process shows the same moment. ``last_truth`` is the ground truth
    of the latest frame, for evaluation only."""

    kind = "demo"

    def __init__(self, settings: SourceSettings, clock: Callable[[], float] | None = None):
        try:
            self.scene = get_scene(settings.url)
        except KeyError as error:
            raise SourceError(str(error.args[0])) from None
        self._clock = clock or time.time
        self.last_truth: GroundTruth | None = None

    def grab(self) -> bytes:
        t = self._clock()
        data = self.scene.jpeg(t)
        self.last_truth = self.scene.ground_truth(t)
        return data
