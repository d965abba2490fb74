"""The vendors' area strings, read and written at the clients' boundary: the rest of the
code hands polygons around as point lists (the geometry itself is
``monitoring.lib.geometry``).

Area strings: Baidu ``body_num`` takes ``"x1,y1,x2,y2,...;x1,y1,..."`` (several
polygons separated by ``;``); Baidu ``body_tracking`` and CTYun's fence take a single
``"x1,y1,...,xn,yn"``. A polygon is closed implicitly (last point joins the first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from monitoring.lib.geometry import Point, Polygon, is_point


def parse_area(text: str) -> list[Polygon]:
    """Polygons from an area string; an empty or blank string gives no polygon.

    Raises ``ValueError`` for a non-number, an odd count of coordinates or a polygon
    with fewer than 3 points.
    """
    polygons: list[Polygon] = []
    if not text or not text.strip():
        return polygons
    for index, part in enumerate(text.split(";"), start=1):
        part = part.strip()
        if not part:
            continue
        try:
            numbers = [float(item) for item in part.split(",")]
        except ValueError:
            raise ValueError(f"area polygon {index}: not a list of numbers: {part!r}") from None
        if not all(math.isfinite(number) for number in numbers):
            raise ValueError(f"area polygon {index}: coordinates must be finite: {part!r}")
        if len(numbers) % 2:
            raise ValueError(f"area polygon {index}: x and y must come in pairs ({part!r})")
        points = list(zip(numbers[0::2], numbers[1::2], strict=True))
        if len(points) < 3:
            raise ValueError(f"area polygon {index}: needs at least 3 points, has {len(points)}")
        polygons.append(points)
    return polygons


def format_area(polygons: Sequence[Sequence[Point]]) -> str:
    """The area string for ``polygons``, coordinates rounded to whole pixels."""
    return ";".join(",".join(f"{round(x)},{round(y)}" for x, y in polygon) for polygon in polygons)


def read_area(value: Any) -> list[Polygon]:
    """The polygons of an ``area`` parameter, given as the vendors' text (``parse_area``)
    or as data: one polygon of ``(x, y)`` points, several, or polygons written as flat
    ``[x1, y1, x2, y2, ...]`` lists (the private Baidu service's form). ``None`` or blank
    text gives no polygon.

    Raises ``ValueError`` for anything else, a coordinate that is not finite or a polygon
    of fewer than 3 points.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return parse_area(value)
    try:
        items = list(value)
    except TypeError:
        raise ValueError("area must be text 'x1,y1,x2,y2,...' or a list of (x, y) points") from None
    if items and is_point(items[0]):
        items = [items]
    polygons: list[Polygon] = []
    for index, polygon in enumerate(items, start=1):
        try:
            polygon = list(polygon)
            if polygon and is_point(polygon[0]):
                points = [(float(x), float(y)) for x, y in polygon]
            else:
                numbers = [float(v) for v in polygon]
                if len(numbers) % 2:
                    raise ValueError(f"area polygon {index}: x and y must come in pairs")
                points = list(zip(numbers[0::2], numbers[1::2], strict=True))
        except TypeError:
            raise ValueError(
                "area must be text 'x1,y1,x2,y2,...' or a list of (x, y) points"
            ) from None
        if not all(math.isfinite(c) for point in points for c in point):
            raise ValueError(f"area polygon {index}: coordinates must be finite")
        if len(points) < 3:
            raise ValueError(f"area polygon {index}: needs at least 3 points, has {len(points)}")
        polygons.append(points)
    return polygons
