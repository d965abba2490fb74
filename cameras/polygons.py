"""Region polygons: whether one may be saved, and moving them to a new frame size.

Pure checks on plain data (``parse_points``, ``polygon_error``, ``rescale``; the
geometry itself, ``segments_intersect``, ``is_simple`` and the rescaling, is
``monitoring.lib.geometry``'s) and the checks that need a camera's analyses
(``limits_for_camera``, ``region_errors``, ``analysis_region_error``), plus
``rescale_camera_regions``, which the capture service calls when a camera's resolution
changes.

Coordinates are pixels of a stated frame ``width`` x ``height``: a point is inside the
frame when ``0 <= x <= width - 1`` and ``0 <= y <= height - 1``, the centres of the first
and last pixel columns and rows. So a point rounded to whole pixels always names a real
pixel, and rescaling maps ``0..width-1`` onto ``0..new_width-1``.

Vendor limits apply only where a region feeds a vendor API on its camera:

* a ``fence`` region on a camera running CTYun's ``fence``: 3 to 9 points
  (``4.3.3 电子围栏``);
* ``crowd`` regions on a camera running ``body_num``: at most 10 per camera, points from
  pixel 1 ("area区域坐标需要从 (1, 1) 开始，(0, 0) 属于图片边界之外");
* ``flow`` regions on a camera running ``body_tracking``: one polygon of at least 4 points,
  strictly inside the image (touching no edge).

Every refusal is one sentence for a person, translated; checks stop at the first problem of
each field, so each field gets one reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from monitoring.lib.geometry import rescale_points, shape_problem

Point = tuple[float, float]

MIN_POINTS = 3
# More points than anyone draws by hand; it bounds the quadratic self-intersection test.
MAX_POINTS = 100
MAX_FRAME_SIDE = 20_000

BODY_NUM_MAX_AREAS = 10
BODY_TRACKING_MIN_POINTS = 4
BODY_TRACKING_MAX_AREAS = 1

# How close to the frame's edge a point may lie.
EDGE_FRAME = "frame"  # 0 <= x <= width - 1
EDGE_FROM_ONE = "from_one"  # 1 <= x <= width - 1
EDGE_STRICT = "strict"  # 0 < x < width - 1

KIND_COLOURS = {
    "fence": "#c62828",
    "helmet": "#f5b700",
    "workwear": "#0b63ce",
    "crowd": "#7b1fa2",
    "flow": "#00897b",
    "zone": "#5d6778",
    "danger": "#ef6c00",
}


class PolygonError(ValueError):
    """A polygon that cannot be saved; ``str()`` is the reason, for a person."""


# --------------------------------------------------------------------------- plain checks


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_points(value: Any) -> list[Point]:
    """``[[x, y], ...]`` (lists or tuples of numbers) as a list of ``(x, y)``.

    Raises ``PolygonError`` for anything else: not a list, a pair that is not two
    numbers, a number that is not finite, fewer than 3 or more than ``MAX_POINTS`` points.
    """
    if not isinstance(value, list | tuple):
        raise PolygonError(_("Give the points as a list of [x, y] pairs in pixels."))
    points: list[Point] = []
    for index, pair in enumerate(value, start=1):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise PolygonError(_("Point %(index)d is not an [x, y] pair.") % {"index": index})
        x, y = _number(pair[0]), _number(pair[1])
        if x is None or y is None:
            raise PolygonError(_("Point %(index)d must be two finite numbers.") % {"index": index})
        points.append((x, y))
    if len(points) < MIN_POINTS:
        raise PolygonError(
            _("A region needs at least %(minimum)d points; this one has %(count)d.")
            % {"minimum": MIN_POINTS, "count": len(points)}
        )
    if len(points) > MAX_POINTS:
        raise PolygonError(
            _("A region may have at most %(maximum)d points; this one has %(count)d.")
            % {"maximum": MAX_POINTS, "count": len(points)}
        )
    return points


def frame_side_error(side: Any) -> str | None:
    """Why ``side`` is not a frame width or height, or None."""
    if isinstance(side, bool) or not isinstance(side, int):
        return _("The frame size must be a whole number of pixels.")
    if not 1 <= side <= MAX_FRAME_SIDE:
        return _("The frame size must be between 1 and %(maximum)d pixels a side.") % {
            "maximum": MAX_FRAME_SIDE
        }
    return None


def frame_size_error(width: Any, height: Any) -> str | None:
    """Why ``width`` x ``height`` is not a frame size, or None."""
    return frame_side_error(width) or frame_side_error(height)


def _inside(value: float, side: int, edge: str) -> bool:
    last = side - 1
    if edge == EDGE_STRICT:
        return 0 < value < last
    if edge == EDGE_FROM_ONE:
        return 1 <= value <= last
    return 0 <= value <= last


def edge_error(points: Sequence[Point], width: int, height: int, edge: str = EDGE_FRAME):
    """Why a point lies outside the allowed part of the frame, or None."""
    for index, (x, y) in enumerate(points, start=1):
        if _inside(x, width, edge) and _inside(y, height, edge):
            continue
        values = {
            "index": index,
            "x": f"{x:g}",
            "y": f"{y:g}",
            "width": width,
            "height": height,
            "last_x": width - 1,
            "last_y": height - 1,
        }
        if edge == EDGE_STRICT:
            return (
                _(
                    "Point %(index)d (%(x)s, %(y)s) touches or crosses the edge of the "
                    "%(width)d×%(height)d picture; this region must lie strictly inside it."
                )
                % values
            )
        if edge == EDGE_FROM_ONE:
            return (
                _(
                    "Point %(index)d (%(x)s, %(y)s) is outside 1..%(last_x)d × 1..%(last_y)d: "
                    "crowd counting measures the %(width)d×%(height)d picture from pixel 1."
                )
                % values
            )
        return (
            _(
                "Point %(index)d (%(x)s, %(y)s) is outside the %(width)d×%(height)d picture "
                "(x from 0 to %(last_x)d, y from 0 to %(last_y)d)."
            )
            % values
        )
    return None


def _shape_error(points: Sequence[Point]) -> str | None:
    """``geometry.shape_problem`` as one sentence for a person, or None."""
    problem = shape_problem(points)
    if problem is None:
        return None
    code, numbers = problem
    if code == "repeated":
        return _("Points %(first)d and %(second)d are the same point.") % {
            "first": numbers[0],
            "second": numbers[1],
        }
    if code == "turns_back":
        return _("The outline turns back on itself at point %(index)d.") % {"index": numbers[0]}
    if code == "crosses":
        return _(
            "The outline crosses itself: the edge from point %(a)d to %(b)d "
            "meets the edge from point %(c)d to %(d)d."
        ) % dict(zip("abcd", numbers, strict=True))
    return _("The region has no area.")


def polygon_error(points: Any, width: Any, height: Any) -> str | None:
    """Why ``points`` cannot be a region on a ``width`` x ``height`` frame, or None.

    Checks, in this order: the frame size, the list of points, every point inside the
    frame, no repeated point, some area, no self-intersection.
    """
    size_problem = frame_size_error(width, height)
    if size_problem:
        return size_problem
    try:
        parsed = parse_points(points)
    except PolygonError as error:
        return str(error)
    return edge_error(parsed, width, height) or _shape_error(parsed)


# --------------------------------------------------------------------------- rescaling


# ``rescale(points, from_size, to_size)``: a region's points on another frame size.
rescale = rescale_points


# --------------------------------------------------------------------------- vendor limits


@dataclass(frozen=True)
class KindLimits:
    """What a region of one kind must satisfy on one camera, and why."""

    min_points: int = MIN_POINTS
    max_points: int = MAX_POINTS
    max_regions: int | None = None
    edge: str = EDGE_FRAME
    rules: tuple[str, ...] = field(default=())
    # The vendor API the limits come from: "ctyun_fence", "body_num", "body_tracking".
    source: str | None = None
    # What to say of a region with more than ``max_points`` (``%(count)d``), if not the
    # generic message.
    too_many: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_points": self.min_points,
            "max_points": self.max_points,
            "max_regions": self.max_regions,
            "edge": self.edge,
            "rules": [str(rule) for rule in self.rules],
            "source": self.source,
        }


_FENCE_RULE = gettext_lazy("CTYun's electronic fence takes 3 to 9 points.")
_FENCE_TOO_MANY = gettext_lazy(
    "CTYun's electronic fence takes 3 to 9 points; this region has %(count)d."
)
_CROWD_RULE = gettext_lazy(
    "Baidu crowd counting (body_num) takes at most 10 areas per camera, measured from pixel 1."
)
_FLOW_RULE = gettext_lazy(
    "Baidu flow tracking (body_tracking) takes one area of at least 4 points, strictly "
    "inside the picture."
)


def _analysis_pairs(camera) -> list[tuple[str, str]]:
    """(api, vendor) of every analysis of ``camera``, enabled or not: a paused analysis
    can be switched back on without its regions being checked again."""
    if camera is None or camera.pk is None:
        return []
    return list(camera.analyses.values_list("api", "account__vendor"))


def _region_points(vendor: str, api: str) -> int | None:
    """The most points a region of ``api`` on ``vendor`` may have, when its spec says."""
    from cameras import catalog

    return catalog.current().region_max_points(vendor, api)


def limits_for_analyses(pairs: Iterable[tuple[str, str]]) -> dict[str, KindLimits]:
    """The limits of every region kind, given the (api, vendor) pairs a camera runs."""
    from cameras.models import RegionKind

    pairs = list(pairs)
    apis = {api for api, _vendor in pairs}
    limits = {kind.value: KindLimits() for kind in RegionKind}
    # A fence whose vendor draws a line on its points (the API's spec: CTYun 4.3.3 电子围栏,
    # "大于 2 小于 10" points).
    fence_points = [
        points
        for api, vendor in pairs
        if api == "fence" and (points := _region_points(vendor, api)) is not None
    ]
    if fence_points:
        limits["fence"] = KindLimits(
            max_points=min(fence_points),
            rules=(_FENCE_RULE,),
            source="ctyun_fence",
            too_many=_FENCE_TOO_MANY,
        )
    if "body_num" in apis:
        limits["crowd"] = KindLimits(
            max_regions=BODY_NUM_MAX_AREAS,
            edge=EDGE_FROM_ONE,
            rules=(_CROWD_RULE,),
            source="body_num",
        )
    if "body_tracking" in apis:
        limits["flow"] = KindLimits(
            min_points=BODY_TRACKING_MIN_POINTS,
            max_regions=BODY_TRACKING_MAX_AREAS,
            edge=EDGE_STRICT,
            rules=(_FLOW_RULE,),
            source="body_tracking",
        )
    return limits


def limits_for_camera(camera) -> dict[str, KindLimits]:
    """The limits of every region kind on ``camera``, from the analyses it runs."""
    return limits_for_analyses(_analysis_pairs(camera))


def _limit_error(points: Sequence[Point], width: int, height: int, limits: KindLimits):
    count = len(points)
    if count > limits.max_points:
        if limits.too_many is not None:
            return str(limits.too_many) % {"count": count}
        return _("This region may have at most %(maximum)d points; it has %(count)d.") % {
            "maximum": limits.max_points,
            "count": count,
        }
    if count < limits.min_points:
        if limits.source == "body_tracking":
            return _(
                "Flow tracking (body_tracking) needs an area of at least 4 points; this "
                "region has %(count)d."
            ) % {"count": count}
        return _("This region needs at least %(minimum)d points; it has %(count)d.") % {
            "minimum": limits.min_points,
            "count": count,
        }
    return edge_error(points, width, height, limits.edge)


def _count_error(others: int, limits: KindLimits) -> str | None:
    if limits.max_regions is None or others < limits.max_regions:
        return None
    if limits.source == "body_num":
        return _(
            "This camera already has %(count)d crowd areas, the most Baidu crowd counting "
            "(body_num) takes."
        ) % {"count": others}
    if limits.source == "body_tracking":
        return _(
            "This camera already has a flow area: Baidu flow tracking (body_tracking) takes "
            "only one."
        )
    return _("This camera already has %(count)d regions of this kind, the most allowed.") % {
        "count": others
    }


NON_FIELD = "non_field_errors"


def region_errors(
    camera,
    *,
    kind: str,
    points: Any,
    width: Any,
    height: Any,
    region_id: int | None = None,
) -> dict[str, str]:
    """Why a region (new, or ``region_id`` changed) cannot be saved on ``camera``: at most
    one reason per field, under ``points``, ``frame_width`` or ``non_field_errors``
    (too many regions of its kind on the camera). Empty when it can."""
    size_errors = {
        name: problem
        for name, problem in (
            ("frame_width", frame_side_error(width)),
            ("frame_height", frame_side_error(height)),
        )
        if problem
    }
    if size_errors:
        return size_errors
    problem = polygon_error(points, width, height)
    if problem:
        return {"points": problem}
    limits = limits_for_camera(camera).get(kind, KindLimits())
    errors: dict[str, str] = {}
    limit_problem = _limit_error(parse_points(points), width, height, limits)
    if limit_problem:
        errors["points"] = limit_problem
    if limits.max_regions is not None and camera is not None and camera.pk is not None:
        others = camera.regions.filter(kind=kind).exclude(pk=region_id).count()
        count_problem = _count_error(others, limits)
        if count_problem:
            errors[NON_FIELD] = count_problem
    return errors


def analysis_region_error(camera, api: str, vendor: str, analysis_id: int | None = None):
    """Why ``camera``'s regions would break the limits of running ``api`` of ``vendor``
    (replacing analysis ``analysis_id`` if given), or None."""
    from cameras.models import RegionKind

    if camera is None or camera.pk is None:
        return None
    pairs = list(camera.analyses.exclude(pk=analysis_id).values_list("api", "account__vendor"))
    limits = limits_for_analyses([*pairs, (api, vendor)])
    by_kind: dict[str, int] = {}
    for region in camera.regions.all():
        kind_limits = limits.get(region.kind, KindLimits())
        by_kind[region.kind] = by_kind.get(region.kind, 0) + 1
        try:
            points = parse_points(region.points)
        except PolygonError as error:
            return _("Region “%(name)s”: %(reason)s") % {"name": region.name, "reason": error}
        problem = _limit_error(points, region.frame_width, region.frame_height, kind_limits)
        if problem:
            return _("Region “%(name)s”: %(reason)s") % {"name": region.name, "reason": problem}
    for kind, count in by_kind.items():
        maximum = limits.get(kind, KindLimits()).max_regions
        if maximum is not None and count > maximum:
            return _(
                "This camera has %(count)d regions of the kind “%(kind)s”; with this analysis "
                "it may have at most %(maximum)d."
            ) % {"count": count, "kind": RegionKind(kind).label, "maximum": maximum}
    return None


# --------------------------------------------------------------------------- resolution


@dataclass
class RescaleReport:
    """What ``rescale_camera_regions`` did: the regions moved to the new frame size, and
    those that now break a vendor limit (by id, with the reason) and need redrawing."""

    rescaled: list[int] = field(default_factory=list)
    problems: dict[int, str] = field(default_factory=dict)


def rescale_camera_regions(camera, new_width: int, new_height: int) -> RescaleReport:
    """Record ``camera``'s new resolution and move every region drawn on another frame
    size onto ``new_width`` x ``new_height``, each move written to the change history
    (no user: the capture service did it). Returns what changed and what needs a look."""
    from cameras.history import record_change, snapshot

    problem = frame_size_error(new_width, new_height)
    if problem:
        raise PolygonError(problem)
    report = RescaleReport()
    with transaction.atomic():
        type(camera).objects.filter(pk=camera.pk).update(width=new_width, height=new_height)
        camera.width, camera.height = new_width, new_height
        limits = limits_for_camera(camera)
        for region in camera.regions.select_for_update().order_by("pk"):
            if (region.frame_width, region.frame_height) == (new_width, new_height):
                continue
            before = snapshot(region)
            region.points = rescale(
                region.points,
                (region.frame_width, region.frame_height),
                (new_width, new_height),
            )
            region.frame_width, region.frame_height = new_width, new_height
            region.save(update_fields=["points", "frame_width", "frame_height", "updated_at"])
            record_change(None, region, "update", before, snapshot(region))
            report.rescaled.append(region.pk)
            parsed = [(float(x), float(y)) for x, y in region.points]
            reason = _shape_error(parsed) or _limit_error(
                parsed, new_width, new_height, limits.get(region.kind, KindLimits())
            )
            if reason:
                report.problems[region.pk] = reason
    return report
