"""Evidence pictures: a frame with what the analysis saw drawn on it.

Region polygons in their kind's colour, person and object boxes with label and score,
the boxes that broke the rule in red, the keypoints behind a finding (a hand in a danger
zone) as red dots, with a caption saying what is wrong. Plain
Pillow, JPEG out; nothing here touches the database except ``render_for_frame`` reading
the stored frame (and where its people are, for the camera's privacy mask).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from cameras.polygons import KIND_COLOURS
from monitoring.lib.fonts import drawing_font
from monitoring.lib.geometry import iou, scale_corners, size_factors
from monitoring.privacy import served_frame

BOX_COLOUR = "#2e7d32"
OFFENDING_COLOUR = "#e00000"
CAPTION_BACKGROUND = (0, 0, 0, 170)
REGION_FILL_ALPHA = 48
# A finding is drawn on a detected box when they overlap this much (or share a track).
SAME_BOX_IOU = 0.8


@dataclass(frozen=True)
class OverlayBox:
    left: float
    top: float
    width: float
    height: float
    label: str
    score: float | None = None
    offending: bool = False

    @property
    def corners(self) -> tuple[float, float, float, float]:
        return (self.left, self.top, self.left + self.width, self.top + self.height)


@dataclass(frozen=True)
class OverlayRegion:
    points: Sequence[Sequence[float]]
    kind: str
    name: str = ""


def _hex(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return (int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16))


def _label(box: OverlayBox) -> str:
    return f"{box.label} {box.score:.2f}" if box.score is not None else box.label


def render_overlay(
    image: bytes | Image.Image,
    *,
    regions: Iterable[OverlayRegion] = (),
    boxes: Iterable[OverlayBox] = (),
    dots: Iterable[Sequence[float]] = (),
    caption: str = "",
    quality: int = 85,
) -> bytes:
    """``image`` (JPEG/PNG bytes or a Pillow image) with regions, boxes, dots (keypoints)
    and caption drawn on it, as JPEG bytes of the same size. Coordinates are pixels of
    ``image``."""
    if isinstance(image, bytes | bytearray):
        picture = Image.open(io.BytesIO(image))
        picture.load()
    else:
        picture = image
    picture = picture.convert("RGBA")
    width, height = picture.size
    line = max(2, round(min(width, height) / 300))
    font = drawing_font(max(12, height // 40))

    shapes = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    fill = ImageDraw.Draw(shapes)
    region_list = list(regions)
    for region in region_list:
        points = [(float(x), float(y)) for x, y in region.points]
        if len(points) >= 3:
            fill.polygon(points, fill=(*_hex(_region_colour(region.kind)), REGION_FILL_ALPHA))
    picture = Image.alpha_composite(picture, shapes)

    draw = ImageDraw.Draw(picture)
    for region in region_list:
        points = [(float(x), float(y)) for x, y in region.points]
        colour = _hex(_region_colour(region.kind))
        if len(points) >= 2:
            draw.line([*points, points[0]], fill=colour, width=line, joint="curve")
        if region.name and points:
            draw.text(
                (points[0][0] + line, points[0][1] + line), region.name, fill=colour, font=font
            )

    # Offending boxes last, so that red is on top.
    for box in sorted(boxes, key=lambda item: item.offending):
        colour = _hex(OFFENDING_COLOUR if box.offending else BOX_COLOUR)
        left, top, right, bottom = box.corners
        draw.rectangle((left, top, right, bottom), outline=colour, width=line)
        text = _label(box)
        if text:
            text_box = draw.textbbox((0, 0), text, font=font)
            text_height = text_box[3] - text_box[1] + 2 * line
            text_top = top - text_height if top - text_height >= 0 else top
            draw.rectangle(
                (left, text_top, left + text_box[2] + 2 * line, text_top + text_height),
                fill=colour,
            )
            draw.text((left + line, text_top + line - text_box[1]), text, fill="white", font=font)

    radius = 2 * line
    for x, y in dots:
        x, y = float(x), float(y)
        draw.ellipse(
            (x - radius, y - radius, x + radius, y + radius),
            fill=_hex(OFFENDING_COLOUR),
            outline="white",
            width=max(1, line // 2),
        )

    if caption:
        text_box = draw.textbbox((0, 0), caption, font=font)
        banner = Image.new("RGBA", picture.size, (0, 0, 0, 0))
        ImageDraw.Draw(banner).rectangle(
            (0, 0, text_box[2] + 4 * line, text_box[3] - text_box[1] + 4 * line),
            fill=CAPTION_BACKGROUND,
        )
        picture = Image.alpha_composite(picture, banner)
        ImageDraw.Draw(picture).text(
            (2 * line, 2 * line - text_box[1]), caption, fill="white", font=font
        )

    out = io.BytesIO()
    picture.convert("RGB").save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _region_colour(kind: str) -> str:
    return KIND_COLOURS.get(kind, KIND_COLOURS.get("zone", "#5d6778"))


# ---------------------------------------------------------------- from analysis results


def _value(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def _corners(box: Any) -> tuple[float, float, float, float]:
    left, top = float(_value(box, "left")), float(_value(box, "top"))
    return (left, top, left + float(_value(box, "width")), top + float(_value(box, "height")))


def overlay_boxes(
    results: Iterable[Any], findings: Iterable[Any], frame_size: tuple[int, int] | None = None
) -> list[OverlayBox]:
    """Boxes to draw: every person and object of ``results`` (scaled to ``frame_size``
    when a result was analysed at another size), those matching a finding in red with
    the finding's label; findings that match no detected box are drawn on their own."""
    detected: list[tuple[tuple[float, float, float, float], str, float, Any]] = []
    for result in results:
        result_size = (_value(result, "frame_width") or 0, _value(result, "frame_height") or 0)
        sx, sy = size_factors(result_size, frame_size) or (1.0, 1.0)
        for person in _value(result, "persons", []) or []:
            corners = scale_corners(_corners(_value(person, "box")), sx, sy)
            detected.append(
                (corners, "person", float(_value(person, "score", 0)), _value(person, "track_id"))
            )
        for obj in _value(result, "objects", []) or []:
            corners = scale_corners(_corners(_value(obj, "box")), sx, sy)
            detected.append(
                (corners, str(_value(obj, "label", "")), float(_value(obj, "score", 0)), None)
            )

    offending: dict[int, tuple[str, float]] = {}
    extra: list[OverlayBox] = []
    for finding in findings:
        box = _value(finding, "box")
        if box is None:
            continue
        corners = _corners(box)
        track = _value(finding, "track_id")
        match = None
        for index, (seen, _label_text, _score, seen_track) in enumerate(detected):
            if (track is not None and track == seen_track) or iou(corners, seen) >= SAME_BOX_IOU:
                match = index
                break
        label, score = str(_value(finding, "label", "")), float(_value(finding, "score", 0))
        if match is None:
            left, top, right, bottom = corners
            extra.append(OverlayBox(left, top, right - left, bottom - top, label, score, True))
        else:
            offending[match] = (label, score)

    boxes = []
    for index, (corners, label, score, _track) in enumerate(detected):
        left, top, right, bottom = corners
        if index in offending:
            label, score = offending[index]
        boxes.append(
            OverlayBox(left, top, right - left, bottom - top, label, score, index in offending)
        )
    return boxes + extra


def overlay_points(findings: Iterable[Any]) -> list[tuple[float, float]]:
    """The keypoints behind the findings (``Finding.points`` or their JSON form)."""
    return [
        (float(x), float(y))
        for finding in findings
        for x, y in (_value(finding, "points", ()) or ())
    ]


def overlay_regions(regions: Iterable[Any], frame_size: tuple[int, int]) -> list[OverlayRegion]:
    """Regions (``cameras.Region``) with their points in pixels of ``frame_size``."""
    return [
        OverlayRegion(
            points=region.points_on(frame_size),
            kind=region.kind,
            name=region.name,
        )
        for region in regions
    ]


def render_for_frame(
    frame,
    *,
    results: Iterable[Any],
    findings: Iterable[Any],
    regions: Iterable[Any],
    caption="",
    unmasked: bool = False,
) -> bytes:
    """The evidence picture of a stored frame (``cameras.Frame``), drawn on the frame
    with people masked as its camera says (``monitoring.privacy``) unless ``unmasked``."""
    size = (frame.width, frame.height)
    data = served_frame(frame, unmasked=unmasked)
    findings = list(findings)
    return render_overlay(
        data,
        regions=overlay_regions(regions, size),
        boxes=overlay_boxes(results, findings, size),
        dots=overlay_points(findings),
        caption=caption,
    )
