"""The painted backgrounds of the demo scenes: sky and ground with value noise, the
site gate and the scaffold, and the no-entry fence marked on the ground."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .figures import RGB
from .scene import DemoScene, _lerp


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


# The site-gate press: its body, and its feed opening where the operator's hand reaches.
PRESS_BODY = (262, 300, 400, 566)
PRESS_OPENING = [(268, 372), (340, 372), (340, 428), (268, 428)]


def _press(scene: DemoScene, draw: ImageDraw.ImageDraw) -> None:
    """A grey press with a dark feed opening framed in yellow and black hazard stripes."""
    left, top, right, bottom = PRESS_BODY
    draw.rectangle(PRESS_BODY, fill=(112, 118, 124), outline=(70, 74, 80), width=3)
    draw.rectangle((left - 6, top - 16, right + 6, top), fill=(90, 96, 104))
    draw.rectangle((left + 10, bottom - 60, right - 10, bottom - 20), fill=(95, 100, 108))
    xs = [x for x, _y in scene.danger]
    ys = [y for _x, y in scene.danger]
    frame = (min(xs) - 8, min(ys) - 8, max(xs) + 8, max(ys) + 8)
    draw.rectangle(frame, fill=(240, 200, 20))
    for x in range(int(frame[0]) - 20, int(frame[2]), 14):
        draw.line([(x, frame[3]), (x + 20, frame[1])], fill=(30, 30, 30), width=5)
    draw.polygon(scene.danger, fill=(38, 36, 34))


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
    _press(scene, draw)
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
