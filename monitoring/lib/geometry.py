"""Plane geometry on plain numbers, for every room: boxes and polygons in pixels.

Pure functions with no Django, no vendor and no model behind them, so cameras, the
vendor clients, the pipeline, the rules and the evidence drawing all use this one copy.

Boxes are corner tuples ``(left, top, right, bottom)`` (``monitoring.backends.base.Box``
gives its own as ``box.corners``): ``box_area``, ``intersection``, ``iou``, ``covered``,
``scale_corners``. Polygons are sequences of ``(x, y)`` points, closed implicitly (the
last point joins the first): ``point_in_polygon``, ``segments_intersect``,
``shape_problem`` / ``is_simple``, ``rescale_points`` (from one frame size to another)
and ``clamp_points`` (whole pixels kept inside a frame).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction

Point = tuple[float, float]
Polygon = list[Point]
Corners = tuple[float, float, float, float]

# Rescaled coordinates keep two decimals: a hundredth of a pixel.
RESCALE_DECIMALS = 2


# ---------------------------------------------------------------- boxes


def box_area(box: Corners) -> float:
    """The area of ``box``; an inverted box has none."""
    left, top, right, bottom = box
    return max(right - left, 0.0) * max(bottom - top, 0.0)


def intersection(a: Corners, b: Corners) -> float:
    """The area ``a`` and ``b`` share."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def iou(a: Corners, b: Corners) -> float:
    """Intersection over union of ``a`` and ``b`` (0 when neither has an area)."""
    shared = intersection(a, b)
    union = box_area(a) + box_area(b) - shared
    return shared / union if union > 0 else 0.0


def covered(part: Corners, whole: Corners) -> float:
    """The share of ``part``'s area that lies inside ``whole``."""
    area = box_area(part)
    return intersection(part, whole) / area if area > 0 else 0.0


def scale_corners(box: Corners, sx: float, sy: float) -> Corners:
    """``box`` with x multiplied by ``sx`` and y by ``sy``."""
    left, top, right, bottom = box
    return (left * sx, top * sy, right * sx, bottom * sy)


def size_factors(
    from_size: tuple[float, float] | None, to_size: tuple[float, float] | None
) -> tuple[float, float] | None:
    """``(sx, sy)`` taking pixels of a ``from_size`` picture to pixels of a ``to_size``
    one (both ``(width, height)``), or None when either is unknown or they are equal."""
    if not from_size or not to_size or not all(from_size) or not all(to_size):
        return None
    if tuple(from_size) == tuple(to_size):
        return None
    return (to_size[0] / from_size[0], to_size[1] / from_size[1])


# ---------------------------------------------------------------- polygons


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


def _exact(points: Iterable[Point]) -> list[tuple[Fraction, Fraction]]:
    return [(Fraction(x), Fraction(y)) for x, y in points]


def _cross(origin, a, b) -> Fraction:
    return (a[0] - origin[0]) * (b[1] - origin[1]) - (a[1] - origin[1]) * (b[0] - origin[0])


def _sign(value: Fraction) -> int:
    return (value > 0) - (value < 0)


def _within_box(a, b, point) -> bool:
    return min(a[0], b[0]) <= point[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= point[1] <= max(
        a[1], b[1]
    )


def segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """Whether the closed segments p1-p2 and q1-q2 share at least one point (crossing,
    touching at an end, or overlapping when collinear). Exact for any float input."""
    p1, p2, q1, q2 = _exact((p1, p2, q1, q2))
    return _segments_intersect(p1, p2, q1, q2)


def _segments_intersect(p1, p2, q1, q2) -> bool:
    d1 = _sign(_cross(q1, q2, p1))
    d2 = _sign(_cross(q1, q2, p2))
    d3 = _sign(_cross(p1, p2, q1))
    d4 = _sign(_cross(p1, p2, q2))
    if d1 * d2 < 0 and d3 * d4 < 0:
        return True
    return (
        (d1 == 0 and _within_box(q1, q2, p1))
        or (d2 == 0 and _within_box(q1, q2, p2))
        or (d3 == 0 and _within_box(p1, p2, q1))
        or (d4 == 0 and _within_box(p1, p2, q2))
    )


def shape_problem(points: Sequence[Point]) -> tuple[str, tuple[int, ...]] | None:
    """What keeps the closed outline through ``points`` from being a simple polygon, or
    None; exact for any float input. The problem is a code and 1-based point numbers:

    * ``("repeated", (first, second))``: two points are the same;
    * ``("turns_back", (index,))``: the path turns straight back at a point;
    * ``("crosses", (a, b, c, d))``: the edge a-b meets the edge c-d;
    * ``("no_area", ())``: the outline encloses nothing.
    """
    exact = _exact(points)
    seen: dict[tuple[Fraction, Fraction], int] = {}
    for index, point in enumerate(exact, start=1):
        if point in seen:
            return ("repeated", (seen[point], index))
        seen[point] = index
    count = len(exact)
    edges = [(exact[i], exact[(i + 1) % count]) for i in range(count)]
    for i in range(count):
        a, b = edges[i]
        c = edges[(i + 1) % count][1]
        # Consecutive edges share b; they overlap when the path turns straight back.
        if (
            _cross(a, b, c) == 0
            and (a[0] - b[0]) * (c[0] - b[0]) + (a[1] - b[1]) * (c[1] - b[1]) > 0
        ):
            return ("turns_back", ((i + 1) % count + 1,))
        for j in range(i + 2, count):
            if i == 0 and j == count - 1:
                continue  # the closing edge shares point 1 with the first edge
            if _segments_intersect(a, b, *edges[j]):
                return ("crosses", (i + 1, i + 2, j + 1, (j + 1) % count + 1))
    twice_area = sum(
        (a[0] * b[1] - b[0] * a[1] for a, b in zip(exact, exact[1:] + exact[:1], strict=True)),
        Fraction(0),
    )
    if twice_area == 0:
        return ("no_area", ())
    return None


def is_simple(points: Sequence[Point]) -> bool:
    """Whether the closed outline through ``points`` has an area and never meets itself
    except where consecutive edges share their point."""
    return len(points) >= 3 and shape_problem(points) is None


def _scale(value: float, from_side: int, to_side: int) -> float:
    if from_side <= 1:
        return 0.0
    scaled = value * (to_side - 1) / (from_side - 1)
    return min(max(round(scaled, RESCALE_DECIMALS), 0.0), float(to_side - 1))


def rescale_points(
    points: Iterable[Sequence[float]], from_size: tuple[int, int], to_size: tuple[int, int]
) -> list[list[float]]:
    """``points`` drawn on a ``from_size`` (width, height) frame, in pixels of a
    ``to_size`` frame: ``0..w-1`` maps linearly onto ``0..w'-1`` on each axis (a change
    of aspect ratio stretches the polygon with the picture). Results keep two decimals
    and stay inside the new frame."""
    (from_width, from_height), (to_width, to_height) = from_size, to_size
    return [[_scale(x, from_width, to_width), _scale(y, from_height, to_height)] for x, y in points]


def clamp_points(
    points: Iterable[Sequence[float]], size: tuple[int, int], lowest: int = 0
) -> list[tuple[int, int]]:
    """``points`` rounded to whole pixels and kept within ``lowest..side-1`` of a frame of
    ``size`` (width, height)."""
    width, height = size
    return [
        (min(max(round(x), lowest), width - 1), min(max(round(y), lowest), height - 1))
        for x, y in points
    ]
