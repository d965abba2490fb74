"""Privacy masks: people hidden in the pictures of a camera that leave the server.

A camera's ``privacy_mask`` (off, blur, fill) applies to every picture of it served to
people: the camera frame API (the live wall's images), an alert's evidence frame and its
drawn evidence picture. Stored frames stay as taken, because the analyses (vendor calls,
the on-box detector) must see the real pixels; the mask is applied on the way out, and
evidence is drawn on the masked frame.

Where people are, on one frame, from the best source at hand:

1. Baidu ``body_seg``'s label map of that frame (``人像分割`` > ``返回参数``: ``labelmap``,
   a single-channel PNG, person pixels non-zero, scaled to the frame with nearest
   neighbours as the seed's own example does), when the camera runs body_seg and its
   answer for the frame decodes;
2. otherwise, and in addition, the person boxes (and keypoints) of every analysis result
   of that frame, and the boxes the on-box detector finds (``monitoring.prefilter``),
   each grown by ``MARGIN`` of its size on every side.

When no source can tell (no analysis answered for the frame and the on-box model is not
installed) the whole picture is masked: a frame is never served unmasked by default.

Users with ``cameras.view_unmasked_evidence`` can see an alert's evidence unmasked; the
alerts app records each such view in the alert's history.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from cameras.models import Frame, PrivacyMask
from cameras.roles import VIEW_UNMASKED
from cameras.storage import read_file
from monitoring.analysis_models import FrameAnalysis, FrameAnalysisStatus
from monitoring.backends.images import InvalidImage, load_rgb

logger = logging.getLogger(__name__)

MARGIN = 0.1  # of a box's width/height, added on every side
FILL_COLOUR = (96, 96, 96)
JPEG_QUALITY = 90
# Pictures in answers that show people as taken, never served from a masked camera:
# body_seg's cut-outs (人像分割: foreground, scoremap) and body_num's rendered frame
# (人流量统计: image, normalized as images["rendered"]).
PERSON_IMAGES = ("foreground", "scoremap", "image", "rendered")


@dataclass
class PersonAreas:
    """Where people are on a frame, in its pixels: rectangles (left, top, right,
    bottom) and label maps (mode "L", frame size, non-zero = person). ``known`` is
    False when no source could tell: the whole frame is then masked."""

    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    label_maps: list[Image.Image] = field(default_factory=list)
    known: bool = True


# ---------------------------------------------------------------- pixels (pure)


def grown(box: tuple[float, float, float, float], size: tuple[int, int]):
    """``box`` grown by ``MARGIN`` on each side, kept inside a frame of ``size``."""
    left, top, right, bottom = box
    dx, dy = (right - left) * MARGIN, (bottom - top) * MARGIN
    return (
        max(0.0, left - dx),
        max(0.0, top - dy),
        min(size[0] - 1.0, right + dx),
        min(size[1] - 1.0, bottom + dy),
    )


def area_mask(areas: PersonAreas, size: tuple[int, int]) -> Image.Image:
    """One mode "L" picture of ``size``: 255 where a person is (or everywhere when the
    areas are not known), 0 elsewhere."""
    if not areas.known:
        return Image.new("L", size, 255)
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for box in areas.boxes:
        left, top, right, bottom = grown(box, size)
        if right > left and bottom > top:
            draw.rectangle((left, top, right, bottom), fill=255)
    for label_map in areas.label_maps:
        people = label_map.resize(size, Image.Resampling.NEAREST).point(lambda v: 255 if v else 0)
        mask = ImageChops.lighter(mask, people)
    return mask


def mask_picture(picture: Image.Image, mode: str, areas: PersonAreas) -> Image.Image:
    """``picture`` (RGB) with the people of ``areas`` blurred or filled; unchanged when
    ``mode`` is off."""
    if mode not in (PrivacyMask.BLUR, PrivacyMask.FILL):
        return picture
    mask = area_mask(areas, picture.size)
    if mask.getbbox() is None:
        return picture
    if mode == PrivacyMask.FILL:
        cover = Image.new("RGB", picture.size, FILL_COLOUR)
    else:
        radius = max(8, min(picture.size) // 25)
        # Shrunk and blown up again before the blur: no face stays readable.
        small = picture.resize(
            (max(1, picture.width // 16), max(1, picture.height // 16)), Image.Resampling.BILINEAR
        )
        cover = small.resize(picture.size, Image.Resampling.NEAREST).filter(
            ImageFilter.GaussianBlur(radius)
        )
    return Image.composite(cover, picture, mask)


def mask_jpeg(data: bytes, mode: str, areas: PersonAreas) -> bytes:
    """JPEG ``data`` with people masked as ``mode`` says; ``data`` itself when off."""
    if mode not in (PrivacyMask.BLUR, PrivacyMask.FILL):
        return data
    try:
        picture = load_rgb(data)
    except InvalidImage:
        # A picture that cannot be read cannot be masked: serve nothing of it.
        picture = Image.new("RGB", (16, 16), FILL_COLOUR)
        areas = PersonAreas(known=False)
    out = io.BytesIO()
    # Full-resolution colour: what is not masked stays as close to the frame as JPEG allows.
    mask_picture(picture, mode, areas).save(out, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    return out.getvalue()


def label_map(encoded: str) -> Image.Image | None:
    """body_seg's ``labelmap`` (base64 PNG) as a mode "L" picture, or None when it does
    not decode."""
    try:
        picture = Image.open(io.BytesIO(base64.b64decode(encoded, validate=False)))
        picture.load()
    except (binascii.Error, OSError, ValueError):
        return None
    return picture.convert("L")


def areas_from_results(results: Iterable[Mapping[str, Any]], size: tuple[int, int]) -> PersonAreas:
    """The person areas in stored results (``AnalysisResult.as_dict()``) of one frame,
    scaled from each result's frame size to ``size``."""
    areas = PersonAreas()
    for result in results:
        width, height = result.get("frame_width"), result.get("frame_height")
        sx = size[0] / width if width else 1.0
        sy = size[1] / height if height else 1.0
        encoded = (result.get("images") or {}).get("labelmap")
        decoded = label_map(encoded) if encoded else None
        if decoded is not None:
            areas.label_maps.append(decoded)
        for person in result.get("persons") or []:
            box = person.get("box") or {}
            try:
                left, top = float(box["left"]) * sx, float(box["top"]) * sy
                right = left + float(box["width"]) * sx
                bottom = top + float(box["height"]) * sy
            except (KeyError, TypeError, ValueError):
                pass
            else:
                areas.boxes.append((left, top, right, bottom))
            points = [
                (float(point["x"]) * sx, float(point["y"]) * sy)
                for point in person.get("keypoints") or []
                if isinstance(point, Mapping) and "x" in point and "y" in point
            ]
            if len(points) >= 2:
                xs, ys = [x for x, _y in points], [y for _x, y in points]
                areas.boxes.append((min(xs), min(ys), max(xs), max(ys)))
    return areas


def without_person_images(value: Any) -> Any:
    """``value`` (stored results or vendor answers) without the pictures of people in
    them (``PERSON_IMAGES``), at any depth; the rest as it was."""
    if isinstance(value, Mapping):
        return {
            key: (
                ""
                if key in PERSON_IMAGES and isinstance(item, str) and item
                else without_person_images(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [without_person_images(item) for item in value]
    return value


# ---------------------------------------------------------------- frames (database)


def frame_results(frame: Frame) -> list[dict[str, Any]]:
    """The stored results of the analyses that answered for ``frame``: its own answer
    out of a window of frames."""
    results = []
    rows = FrameAnalysis.objects.filter(
        frame_id=frame.pk, status=FrameAnalysisStatus.DONE, result__isnull=False
    ).only("result", "window")
    for row in rows:
        result = dict(row.result or {})
        per_image = result.get("per_image") or []
        if per_image:
            window = list(row.window or [])
            index = window.index(frame.pk) if frame.pk in window else len(per_image) - 1
            result = dict(per_image[min(index, len(per_image) - 1)])
        results.append(result)
    return results


def person_areas(frame: Frame) -> PersonAreas:
    """Where people are on ``frame``: body_seg's label map, analysis persons and the
    on-box detector's boxes together; not ``known`` when none of them could tell."""
    from monitoring.prefilter import people_on

    size = (frame.width, frame.height)
    results = frame_results(frame)
    areas = areas_from_results(results, size)
    detected = people_on(frame)
    if detected:
        areas.boxes.extend(detected)
    areas.known = bool(results) or detected is not None
    return areas


def read_frame(frame: Frame) -> bytes:
    """The stored JPEG of ``frame`` as taken (``FileNotFoundError`` when missing)."""
    return read_file(frame.image.name, frame.image.storage)


def served_frame(frame: Frame, *, unmasked: bool = False) -> bytes:
    """The JPEG of ``frame`` as people may see it: masked as its camera says, unless
    ``unmasked`` (the caller checked the permission and recorded the view)."""
    data = read_frame(frame)
    mode = frame.camera.privacy_mask
    if unmasked or mode == PrivacyMask.OFF:
        return data
    return mask_jpeg(data, mode, person_areas(frame))


def masks_people(camera) -> bool:
    return camera.privacy_mask != PrivacyMask.OFF


def may_see_unmasked(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(VIEW_UNMASKED))
