"""The demo scene's people: a worker's look, the shapes of a figure in mid-walk (head,
helmet or hair, hi-vis vest over a shirt, arms, legs, boots) and their rendering into a
shaded, supersampled sprite. Figure units: height 1, foot centre at (0, 0), y up."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

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
    part: str = ""  # "hand" for the hands: the ground truth says where they are

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


def figure_shapes(look: Look, phase: float, stride: float, reach: bool = False) -> list[Shape]:
    """The parts of a worker in mid-walk, back to front, seen three-quarters from the
    front. ``phase`` is the gait cycle in radians, ``stride`` 0 (standing) to 1 (full
    walking swing); ``reach``: the near arm stretched straight forward. Facing +x."""
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

    def arm(shoulder: Point, angle: float, near: bool, straight: bool = False) -> None:
        elbow = _limb(shoulder, angle, upper_arm)
        bend = 0.0 if straight else 0.2 + 0.4 * max(0.0, angle)
        wrist = _limb(elbow, angle + bend, forearm)
        sleeve = look.shirt if near else _shade(look.shirt, 0.8)
        shapes.append(Shape("limb", (shoulder, elbow), sleeve, 0.066))
        shapes.append(Shape("limb", (elbow, wrist), sleeve, 0.056))
        hand = look.skin if near else _shade(look.skin, 0.82)
        shapes.append(
            Shape(
                "ellipse",
                ((wrist[0] - 0.03, wrist[1] - 0.036), (wrist[0] + 0.03, wrist[1])),
                hand,
                part="hand",
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
    if reach:
        arm((0.122, shoulder_y), 1.5, near=True, straight=True)
    else:
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
