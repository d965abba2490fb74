"""Polygon helpers shared by vendor clients, the local analyzer and the alert rules:
parsing and writing the vendors' area strings, and point-in-polygon.

Area strings: Baidu ``body_num`` takes ``"x1,y1,x2,y2,...;x1,y1,..."`` (several
polygons separated by ``;``); Baidu ``body_tracking`` and CTYun's fence take a single
``"x1,y1,...,xn,yn"``. A polygon is closed implicitly (last point joins the first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]
Polygon = list[Point]


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


def _on_segment(point: Point, start: Point, end: Point) -> bool:
    (x, y), (ax, ay), (bx, by) = point, start, end
    cross = (bx - ax) * (y - ay) - (x - ax) * (by - ay)
    return cross == 0 and min(ax, bx) <= x <= max(ax, bx) and min(ay, by) <= y <= max(ay, by)


def point_in_polygon(pt: Point, poly: Sequence[Point]) -> bool:
    """Whether ``pt`` lies inside ``poly`` or on its edge (even-odd rule).

    Uses only products and comparisons, so integer coordinates give exact answers.
    """
    if len(poly) < 3:
        return False
    x, y = pt
    inside = False
    previous = poly[-1]
    for current in poly:
        if _on_segment(pt, previous, current):
            return True
        (ax, ay), (bx, by) = previous, current
        if (ay <= y) != (by <= y):
            cross = (bx - ax) * (y - ay) - (x - ax) * (by - ay)
            if (cross > 0) == (by > ay):
                inside = not inside
        previous = current
    return inside


def is_point(item: object) -> bool:
    """An ``(x, y)`` pair of plain numbers (not text, not booleans)."""
    return (
        isinstance(item, Sequence)
        and not isinstance(item, str)
        and len(item) == 2
        and all(isinstance(c, int | float) and not isinstance(c, bool) for c in item)
    )
