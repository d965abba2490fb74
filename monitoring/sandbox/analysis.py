"""The on-box analyzer as the sandbox uses it: one shared ``LocalAnalyzer``, asked only
for what it says it can do, plus drawing the rendered images some APIs return.

An API the analyzer cannot answer is replayed from the seed's example instead (see
``examples``); that choice is made by the vendor modules, which call ``can`` first.
"""

from __future__ import annotations

import base64
import io
import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from PIL import Image, ImageDraw

from monitoring.backends.base import AnalysisResult, Box, Unsupported
from monitoring.lib.fonts import drawing_font

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_analyzer: Any = None
_loaded = False


def analyzer() -> Any:
    """The process's ``LocalAnalyzer`` (built once), or None when it cannot be built."""
    global _analyzer, _loaded
    if _loaded:
        return _analyzer
    with _lock:
        if not _loaded:
            try:
                from monitoring.backends.local import LocalAnalyzer

                _analyzer = LocalAnalyzer()
            except Exception:  # no analyzer means every answer is a replay, not a crash
                logger.exception("the on-box analyzer is unavailable; the sandbox replays")
                _analyzer = None
            _loaded = True
    return _analyzer


def can(capability: str) -> bool:
    local = analyzer()
    if local is None:
        return False
    return capability in set(getattr(local, "capabilities", ()) or ())


def run(capability: str, images: list[bytes], params: dict[str, Any] | None = None):
    """The analyzer's answer, or None when it declines (``Unsupported``)."""
    local = analyzer()
    if local is None:
        return None
    try:
        return local.analyze(capability, images, params)
    except Unsupported:
        return None


def person_boxes(result: AnalysisResult) -> list[tuple[Box, float]]:
    """(box, score) of every person the analyzer found."""
    return [(person.box, float(person.score)) for person in result.persons]


def person_count(result: AnalysisResult) -> int:
    return len(result.persons) if result.person_count is None else int(result.person_count)


def _rounded(value: float) -> int:
    return round(float(value))


def location(box: Box, score: float | None = None) -> dict[str, Any]:
    """A vendor ``location`` object: whole pixels, ``score`` when the API has one."""
    spot: dict[str, Any] = {
        "left": _rounded(box.left),
        "top": _rounded(box.top),
        "width": _rounded(box.width),
        "height": _rounded(box.height),
    }
    if score is not None:
        spot["score"] = round(float(score), 6)
    return spot


def render(
    image: Image.Image,
    boxes: Iterable[tuple[Box, str]],
    polygons: Sequence[Sequence[tuple[float, float]]] = (),
    caption: str = "",
) -> str:
    """The rendered picture some answers carry (``show=true``): the image with each box
    (and its label), each area polygon and a caption, as base64 JPEG."""
    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas)
    line = max(2, round(min(canvas.size) / 300))
    font = drawing_font(max(12, round(min(canvas.size) / 40)))
    for polygon in polygons:
        if len(polygon) >= 2:
            draw.line([*polygon, polygon[0]], fill=(0, 160, 255), width=line)
    for box, label in boxes:
        draw.rectangle(
            [box.left, box.top, box.left + box.width, box.top + box.height],
            outline=(255, 40, 40),
            width=line,
        )
        if label:
            draw.text(
                (box.left + line, max(0, box.top - font.size - line)),
                label,
                fill=(255, 40, 40),
                font=font,
            )
    if caption:
        draw.text((8, 8), caption, fill=(255, 255, 0), font=font)
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=85)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
